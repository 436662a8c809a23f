// SPDX-License-Identifier: GPL-2.0
/*
 * test_vendor_state - HVLAB_CAPTURE_STATE / HVLAB_GET_VENDOR_STATE (issue
 * 16), on both vendors: the VMCS fields (Intel) or the VMCB page (AMD) as
 * the hardware left them at an exit, checked field by field against the
 * guest state the test set:
 *   - before capture is on, and for an index beyond 1, the ioctl refuses;
 *   - a 64-bit guest with known RIP, RSP, RFLAGS, RAX, CR0/3/4, EFER, FS
 *     and GS bases, GDTR and IDTR makes a port I/O exit: every one of them
 *     is in the structure, with the exit reason and qualification the
 *     manuals give for OUT imm8 (SDM Vol. 3C 28.2.1 table 28-5; APM Vol.
 *     2 15.10.2), and on VMX only fields uapi/hvlab_vmcs.h lists, each
 *     once;
 *   - index 1 is the exit before (what hvlab-dump --diff compares);
 *   - a triple fault (ud2 with an empty IDT) is captured too: exit reason
 *     2 / SVM_EXIT_SHUTDOWN, the empty IDTR the guest loaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "guest.h"

/* The VMCS encodings of uapi/hvlab_vmcs.h, as an enum (VMCS_<name>). */
enum {
#define HVLAB_VMCS_FIELD(name, enc, need, sdm) VMCS_##name = (enc),
#include "hvlab_vmcs.h"
#undef HVLAB_VMCS_FIELD
};
static const uint32_t vmcs_known[] = {
#define HVLAB_VMCS_FIELD(name, enc, need, sdm) (enc),
#include "hvlab_vmcs.h"
#undef HVLAB_VMCS_FIELD
};

/* The VMCB offsets of uapi/hvlab_vmcb.h (VMCB_<id>). */
#include "hvlab_vmcb.h"
enum {
#define HVLAB_VMCB_FIELD(id, off, size, name) VMCB_##id = (off),
	HVLAB_VMCB_CONTROL_FIELDS
	HVLAB_VMCB_SAVE_FIELDS
#undef HVLAB_VMCB_FIELD
};

#define FS_BASE		0x0000123456789000ull
#define GS_BASE		0xffff800012345000ull
#define RSP_VALUE	0x3ff0ull		/* in the raw data page's neighbourhood, unused */
#define RAX_VALUE	0x1122334455667788ull
#define RFLAGS_VALUE	0x0000000000000ac2ull	/* bit 1, ZF, SF, DF, OF: no TF, no IF */

/* Two OUTs, an empty IDT, #UD: a port exit, another, then shutdown. */
#define VS_BODY							\
	"vs_out1:\n"						\
	"out %al, $0x80\n"					\
	"vs_out2:\n"						\
	"out %al, $0x81\n"					\
	"lidt 0x7000\n"						\
	"vs_ud:\n"						\
	"ud2\n"
HVT_ASM(vs_code, 64, VS_BODY);
extern const char vs_out1[], vs_out2[], vs_ud[];

FIXTURE(vs) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
	struct hvlab_sregs sr;
	int vendor;
};

FIXTURE_SETUP(vs)
{
	HVT_SETUP_VM_VCPU(0);
	self->vendor = hvt_cpu_vendor();
}

FIXTURE_TEARDOWN(vs)
{
	hvt_vm_free(self->vm);
}

/* Enter vs_code in 64-bit mode with the known state above. */
static void enter_known(struct __test_metadata *_metadata, FIXTURE_DATA(vs) *self)
{
	static const struct hvt_code code = { vs_code, vs_code_end };
	struct hvlab_regs r;

	ASSERT_EQ(0, hvt_vcpu_enter_raw(self->vcpu, HVT_MODE_LONG64, &code));
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &r));
	r.rax = RAX_VALUE;
	r.rsp = RSP_VALUE;
	r.rflags = RFLAGS_VALUE;
	ASSERT_EQ(0, hvlab_set_regs(self->vcpu->fd, &r));
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &self->sr));
	self->sr.fs.base = FS_BASE;
	self->sr.gs.base = GS_BASE;
	ASSERT_EQ(0, hvlab_set_sregs(self->vcpu->fd, &self->sr));
	/* The empty IDT the guest loads before ud2. */
	memset(self->vm->mem + HVT_RAW_DATA_GPA, 0, 16);
}

static int vmcs_get(const struct hvlab_vendor_state *st, uint32_t enc, uint64_t *val)
{
	const struct hvlab_vmcs_field *f = (const void *)st->data;
	uint32_t i;

	for (i = 0; i < st->count; i++) {
		if (f[i].encoding == enc) {
			*val = f[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

static uint64_t vmcb_get(const struct hvlab_vendor_state *st, unsigned int off, unsigned int size)
{
	uint64_t v = 0;

	memcpy(&v, st->data + off, size);
	return v;
}

/* Field @enc must be there and equal @want (under @mask). */
#define VMCS_EQ(st, enc, mask, want) do {					\
	uint64_t __v = 0;							\
	ASSERT_EQ(0, vmcs_get((st), (enc), &__v)) TH_LOG("VMCS field %#x missing", (enc)); \
	EXPECT_EQ((uint64_t)(want) & (mask), __v & (mask))			\
		TH_LOG("VMCS field %#x is %#llx", (enc), (unsigned long long)__v); \
} while (0)

#define VMCB_EQ(st, off, size, mask, want) do {					\
	uint64_t __v = vmcb_get((st), (off), (size));				\
	EXPECT_EQ((uint64_t)(want) & (mask), __v & (mask))			\
		TH_LOG("VMCB offset %#x is %#llx", (off), (unsigned long long)__v); \
} while (0)

/*
 * Exits the host causes, not the guest: an external interrupt (VMX basic
 * reason 1, SDM Vol. 3C appendix C) or NMI (reason 0 with an NMI in the
 * exit interruption info; any reason-0 exit here is one), SVM INTR/NMI
 * (0x60/0x61, APM Vol. 2 appendix C).
 */
static bool host_event_exit(int vendor, uint64_t reason)
{
	if (vendor == HVLAB_VENDOR_INTEL)
		return (reason & 0xffff) <= 1;
	return reason == 0x60 || reason == 0x61;
}

static void get_state(struct __test_metadata *_metadata, int fd, unsigned int index,
		      struct hvlab_vendor_state *st)
{
	int ret;

	memset(st, 0xa5, sizeof(*st));
	ret = hvlab_get_vendor_state(fd, index, st);
	ASSERT_EQ(0, ret) TH_LOG("GET_VENDOR_STATE %u: %s", index, strerror(-ret));
	ASSERT_EQ(index, st->index);
}

TEST_F(vs, refusals)
{
	struct hvlab_vendor_state st;

	HVT_SKIPPED_IN_SETUP();
	/* Off by default: nothing captured. */
	EXPECT_EQ(-ENODATA, hvlab_get_vendor_state(self->vcpu->fd, 0, &st));
	EXPECT_EQ(-EINVAL, hvlab_capture_state(self->vcpu->fd, 2));
	ASSERT_EQ(0, hvlab_capture_state(self->vcpu->fd, 1));
	EXPECT_EQ(-ENODATA, hvlab_get_vendor_state(self->vcpu->fd, 0, &st));
	EXPECT_EQ(-EINVAL, hvlab_get_vendor_state(self->vcpu->fd, 2, &st));
	enter_known(_metadata, self);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	EXPECT_EQ(0, hvlab_get_vendor_state(self->vcpu->fd, 0, &st));
	/* Nested page faults may come before the OUT: at least one exit. */
	EXPECT_LE(1u, st.seq);
	/* Off again: the copies go with it, and on again starts afresh. */
	ASSERT_EQ(0, hvlab_capture_state(self->vcpu->fd, 0));
	EXPECT_EQ(-ENODATA, hvlab_get_vendor_state(self->vcpu->fd, 0, &st));
	ASSERT_EQ(0, hvlab_capture_state(self->vcpu->fd, 1));
	EXPECT_EQ(-ENODATA, hvlab_get_vendor_state(self->vcpu->fd, 0, &st));
	EXPECT_EQ(-ENODATA, hvlab_get_vendor_state(self->vcpu->fd, 1, &st));
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	EXPECT_EQ(0, hvlab_get_vendor_state(self->vcpu->fd, 0, &st));
	/*
	 * Index 1 exists only from the second exit after switching on (a
	 * host interrupt may make one before the OUT).
	 */
	EXPECT_LE(1u, st.seq);
	EXPECT_EQ(st.seq == 1 ? -ENODATA : 0, hvlab_get_vendor_state(self->vcpu->fd, 1, &st));
}

TEST_F(vs, port_exit_fields)
{
	static const struct hvt_code code = { vs_code, vs_code_end };
	struct hvlab_vendor_state st, prev;
	uint64_t rip1 = hvt_raw_gpa(&code, vs_out1), rip2 = hvt_raw_gpa(&code, vs_out2);
	const struct hvlab_sregs *sr = &self->sr;
	uint64_t seq1;
	uint32_t i, j;
	bool between;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, hvlab_capture_state(self->vcpu->fd, 1));
	enter_known(_metadata, self);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	get_state(_metadata, self->vcpu->fd, 0, &st);
	EXPECT_EQ((uint32_t)self->vendor, st.vendor);
	EXPECT_EQ(self->vcpu->run->vendor_reason, st.vendor_reason);

	if (self->vendor == HVLAB_VENDOR_INTEL) {
		const struct hvlab_vmcs_field *f = (const void *)st.data;

		/* Only listed fields, each once; at least the ones every CPU has. */
		ASSERT_LE(st.count, sizeof(vmcs_known) / sizeof(vmcs_known[0]));
		EXPECT_LT(100u, st.count);
		for (i = 0; i < st.count; i++) {
			for (j = 0; j < sizeof(vmcs_known) / sizeof(vmcs_known[0]); j++)
				if (vmcs_known[j] == f[i].encoding)
					break;
			EXPECT_GT(sizeof(vmcs_known) / sizeof(vmcs_known[0]), j)
				TH_LOG("field %#x is not in hvlab_vmcs.h", f[i].encoding);
			for (j = 0; j < i; j++)
				EXPECT_NE(f[j].encoding, f[i].encoding);
		}
		/* Exit information: I/O instruction, OUT imm8 of 1 byte to 0x80 (28.2.1). */
		VMCS_EQ(&st, VMCS_VM_EXIT_REASON, 0xffff, 30);
		VMCS_EQ(&st, VMCS_EXIT_QUALIFICATION, ~0ull, 0x80ull << 16 | 1 << 6);
		VMCS_EQ(&st, VMCS_VM_EXIT_INSTRUCTION_LEN, ~0ull, 2);
		/* Guest state as set. */
		VMCS_EQ(&st, VMCS_GUEST_RIP, ~0ull, rip1);
		VMCS_EQ(&st, VMCS_GUEST_RSP, ~0ull, RSP_VALUE);
		VMCS_EQ(&st, VMCS_GUEST_RFLAGS, ~0ull, RFLAGS_VALUE);
		VMCS_EQ(&st, VMCS_GUEST_CR3, ~0ull, sr->cr3);
		/* CR0.NE and CR4.VMXE are fixed to 1 in VMX operation (A.7, A.8). */
		VMCS_EQ(&st, VMCS_GUEST_CR0, ~(uint64_t)(1 << 5), sr->cr0);
		VMCS_EQ(&st, VMCS_GUEST_CR4, ~(uint64_t)(1 << 13), sr->cr4);
		VMCS_EQ(&st, VMCS_GUEST_FS_BASE, ~0ull, FS_BASE);
		VMCS_EQ(&st, VMCS_GUEST_GS_BASE, ~0ull, GS_BASE);
		VMCS_EQ(&st, VMCS_GUEST_CS_SELECTOR, ~0ull, sr->cs.selector);
		VMCS_EQ(&st, VMCS_GUEST_GDTR_BASE, ~0ull, sr->gdt.base);
		VMCS_EQ(&st, VMCS_GUEST_GDTR_LIMIT, ~0ull, sr->gdt.limit);
		VMCS_EQ(&st, VMCS_GUEST_IDTR_BASE, ~0ull, sr->idt.base);
		/* EFER: in the VMCS where the CPU can load it (hvlab's entry control needs it). */
		VMCS_EQ(&st, VMCS_GUEST_IA32_EFER, ~0ull, sr->efer);
		/* Host state and controls are there and plausible. */
		VMCS_EQ(&st, VMCS_HOST_CR0, 1, 1);
		VMCS_EQ(&st, VMCS_HOST_CR4, 1 << 13, 1 << 13);
		VMCS_EQ(&st, VMCS_VMCS_LINK_POINTER, ~0ull, ~0ull);
		VMCS_EQ(&st, VMCS_CPU_BASED_VM_EXEC_CONTROL, 1u << 31, 1u << 31);
		VMCS_EQ(&st, VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 1, 1u << 1);	/* EPT */
	} else {
		EXPECT_EQ(4096u, st.count);
		/* IOIO intercept, OUT of 1 byte to 0x80; EXITINFO2 the next RIP (15.10.2). */
		VMCB_EQ(&st, VMCB_CTL_EXITCODE, 8, ~0ull, 0x7b);
		VMCB_EQ(&st, VMCB_CTL_EXITINFO1, 8, 0xffff0011ull, 0x80ull << 16 | 1 << 4);
		VMCB_EQ(&st, VMCB_CTL_EXITINFO2, 8, ~0ull, rip1 + 2);
		VMCB_EQ(&st, VMCB_SAVE_RIP, 8, ~0ull, rip1);
		VMCB_EQ(&st, VMCB_SAVE_RSP, 8, ~0ull, RSP_VALUE);
		VMCB_EQ(&st, VMCB_SAVE_RAX, 8, ~0ull, RAX_VALUE);
		VMCB_EQ(&st, VMCB_SAVE_RFLAGS, 8, ~0ull, RFLAGS_VALUE);
		VMCB_EQ(&st, VMCB_SAVE_CR0, 8, ~0ull, sr->cr0);
		VMCB_EQ(&st, VMCB_SAVE_CR3, 8, ~0ull, sr->cr3);
		VMCB_EQ(&st, VMCB_SAVE_CR4, 8, ~0ull, sr->cr4);
		/* EFER.SVME must be 1 in the guest's VMCB EFER (APM 15.5.1). */
		VMCB_EQ(&st, VMCB_SAVE_EFER, 8, ~(uint64_t)(1 << 12), sr->efer);
		VMCB_EQ(&st, VMCB_SAVE_EFER, 8, 1 << 12, 1 << 12);
		VMCB_EQ(&st, VMCB_SAVE_FS_BASE, 8, ~0ull, FS_BASE);
		VMCB_EQ(&st, VMCB_SAVE_GS_BASE, 8, ~0ull, GS_BASE);
		VMCB_EQ(&st, VMCB_SAVE_CS_SELECTOR, 2, ~0ull, sr->cs.selector);
		VMCB_EQ(&st, VMCB_SAVE_GDTR_BASE, 8, ~0ull, sr->gdt.base);
		VMCB_EQ(&st, VMCB_SAVE_GDTR_LIMIT, 4, ~0ull, sr->gdt.limit);
		VMCB_EQ(&st, VMCB_SAVE_IDTR_BASE, 8, ~0ull, sr->idt.base);
		VMCB_EQ(&st, VMCB_SAVE_CPL, 1, ~0ull, 0);
		/* Controls: nested paging on, an ASID, IOIO intercepted (vector 3 bit 27). */
		VMCB_EQ(&st, VMCB_CTL_NP_ENABLE, 8, 1, 1);
		EXPECT_NE(0u, vmcb_get(&st, VMCB_CTL_GUEST_ASID, 4));
		VMCB_EQ(&st, VMCB_CTL_INTERCEPT_MISC1, 4, 1u << 27, 1u << 27);
	}

	/*
	 * The next exit: index 0 moves to index 1.  A host interrupt between
	 * the two OUTs makes an in-kernel exit of its own (at rip2, before
	 * the second OUT) that is captured too; then index 1 is that exit.
	 */
	seq1 = st.seq;
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	get_state(_metadata, self->vcpu->fd, 1, &prev);
	get_state(_metadata, self->vcpu->fd, 0, &st);
	EXPECT_EQ(st.seq, prev.seq + 1);
	EXPECT_LE(seq1 + 1, st.seq);
	between = prev.seq != seq1;
	if (between)
		EXPECT_TRUE(host_event_exit(self->vendor, prev.vendor_reason))
			TH_LOG("exit %#llx between the OUTs is not a host interrupt",
			       (unsigned long long)prev.vendor_reason);
	if (self->vendor == HVLAB_VENDOR_INTEL) {
		VMCS_EQ(&prev, VMCS_GUEST_RIP, ~0ull, between ? rip2 : rip1);
		VMCS_EQ(&st, VMCS_GUEST_RIP, ~0ull, rip2);
		VMCS_EQ(&st, VMCS_EXIT_QUALIFICATION, ~0ull, 0x81ull << 16 | 1 << 6);
	} else {
		VMCB_EQ(&prev, VMCB_SAVE_RIP, 8, ~0ull, between ? rip2 : rip1);
		VMCB_EQ(&st, VMCB_SAVE_RIP, 8, ~0ull, rip2);
		VMCB_EQ(&st, VMCB_CTL_EXITINFO1, 8, 0xffff0000ull, 0x81ull << 16);
	}
}

TEST_F(vs, triple_fault)
{
	static const struct hvt_code code = { vs_code, vs_code_end };
	struct hvlab_vendor_state st;
	uint64_t ud = hvt_raw_gpa(&code, vs_ud);

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, hvlab_capture_state(self->vcpu->fd, 1));
	enter_known(_metadata, self);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	/* ud2 with IDTR limit 0: #UD, #GP, #DF, shutdown (SDM Vol. 3A 6.15). */
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_SHUTDOWN);
	get_state(_metadata, self->vcpu->fd, 0, &st);
	if (self->vendor == HVLAB_VENDOR_INTEL) {
		VMCS_EQ(&st, VMCS_VM_EXIT_REASON, ~0ull, 2);	/* triple fault, SDM Vol. 3C C */
		VMCS_EQ(&st, VMCS_GUEST_IDTR_LIMIT, ~0ull, 0);
		VMCS_EQ(&st, VMCS_GUEST_IDTR_BASE, ~0ull, 0);
		VMCS_EQ(&st, VMCS_GUEST_RIP, ~0ull, ud);
		VMCS_EQ(&st, VMCS_GUEST_FS_BASE, ~0ull, FS_BASE);
	} else {
		VMCB_EQ(&st, VMCB_CTL_EXITCODE, 8, ~0ull, 0x7f);	/* SVM_EXIT_SHUTDOWN */
		VMCB_EQ(&st, VMCB_SAVE_IDTR_LIMIT, 4, ~0ull, 0);
		VMCB_EQ(&st, VMCB_SAVE_IDTR_BASE, 8, ~0ull, 0);
		VMCB_EQ(&st, VMCB_SAVE_FS_BASE, 8, ~0ull, FS_BASE);
		/*
		 * The RIP a shutdown intercept saves is not architected
		 * (APM Vol. 2 15.11: the state may be undefined); only
		 * the IDT the guest loaded is checked above.
		 */
	}
}

TEST_HARNESS_MAIN
