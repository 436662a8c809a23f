// SPDX-License-Identifier: GPL-2.0
/*
 * test_task_switch.c - hardware task switches of 32-bit protected mode
 * (SDM Vol. 3A 7.3 "Task Switching", 7.4 "Task Linking") behave the same
 * on both vendors: on AMD the CPU does them (hvlab does not intercept
 * them), on Intel every one exits and module/taskswitch.c does it.
 * In each 32-bit mode of the harness (paging off, and on: then each task
 * has its own CR3):
 *
 *   jmp         task A far-JMPs to TSS B and B far-JMPs back: A's state is
 *               saved in its TSS, B's loaded from its own, busy bits move,
 *               no back link, NT clear; A resumes with its registers.
 *   call_iret   A CALLs a task gate in the GDT, B sees NT set and the back
 *               link to A, both busy; B's IRET returns to A (B no longer
 *               busy, its saved EFLAGS without NT).
 *   exc_gate    a #GP with error code 0x1230 delivered through a task gate
 *               in the IDT: task C starts with the error code pushed on
 *               its stack, A's saved EIP at the faulting instruction; C
 *               fixes A's saved EAX and IRETs, A retries and goes on.
 *   refused_*   a JMP to a TSS too small (#TS) or busy (#GP), an IRET with
 *               NT to a TSS that is not busy (#TS): faults of the old task
 *               at the instruction, nothing saved or switched.
 *   df_gate     a #DF (error code 0) injected by the VMM (HVLAB_INJECT)
 *               between two instructions of A goes through the IDT's task
 *               gate to task C, the way Linux/i386 takes double faults; C
 *               IRETs and A goes on after the instruction.  (A #DF made by
 *               the CPU, #NP on top of #GP, SDM Vol. 3A 6.15 Table 6-5,
 *               would be more natural, but QEMU 7.2 delivers the #NP
 *               instead of a #DF.)
 *
 * Layout (guest-physical = linear): the harness's GDT gets 0x38 TSS B,
 * 0x40 TSS C, 0x48 a task gate to B; TSS B at 0x300000, TSS C at 0x300100,
 * their stacks below 0x301000 and 0x302000, and in the paging mode a copy
 * of the harness's page directory at 0x303000 for B and C.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include "kselftest_harness.h"
#include "guest.h"

#define SEL_TSS_A	0x28	/* the harness's TSS (TR at entry) */
#define SEL_TSS_B	0x38
#define SEL_TSS_C	0x40
#define SEL_GATE_B	0x48
#define GDT_LIMIT	(10 * 8 - 1)
#define SEL_CODE32	0x18
#define SEL_DATA	0x10

#define TSS_B		0x300000ull
#define TSS_C		0x300100ull
#define STACK_B		0x301000ull
#define STACK_C		0x302000ull
#define PD_COPY		0x303000ull

#define EFLAGS_NT	(1ull << 14)
#define CR0_TS		(1ull << 3)

/* 32-bit TSS offsets (SDM Vol. 3A 7.2.1 Figure 7-2). */
#define TSS_LINK	0
#define TSS_CR3		28
#define TSS_EIP		32
#define TSS_EFLAGS	36
#define TSS_EAX		40
#define TSS_ECX		44
#define TSS_EDX		48
#define TSS_EBX		52
#define TSS_ESP		56
#define TSS_EBP		60
#define TSS_ESI		64
#define TSS_EDI		68
#define TSS_ES		72
#define TSS_CS		76
#define TSS_SS		80
#define TSS_DS		84
#define TSS_FS		88
#define TSS_GS		92
#define TSS_LDT		96
#define TSS_IOMAP	102

/*
 * Task A first touches the pages the switches will use (TSSes and B's
 * stack, C's stack, B's page directory), so that none of them takes its
 * first nested page fault in the middle of a switch: QEMU 7.2 does not
 * undo a half-done task switch when a nested page fault interrupts the
 * event delivery, so the event, delivered again, finds the new task
 * already busy (a #DF, or worse).  Then its registers (EAX's low byte is
 * the ucall's).
 */
#define A_REGS								\
	"movl %eax, 0x300ffc\n\t"					\
	"movl %eax, 0x301ffc\n\t"					\
	"movl 0x303000, %eax\n\t"					\
	"mov $0xa0a0a000, %eax\n\t"					\
	"mov $0xa1a1a1a1, %ebx\n\t"					\
	"mov $0xa2a2a2a2, %ecx\n\t"					\
	"mov $0xa3a3a3a3, %edx\n\t"					\
	"mov $0xa4a4a4a4, %esi\n\t"					\
	"mov $0xa5a5a5a5, %edi\n\t"					\
	"mov $0xa6a6a6a6, %ebp\n\t"

/* jmp: A -> B by far JMP to the TSS, B -> A the same way. */
HVT_ASM(asm_jmp, 32,
	A_REGS
	"ljmp $0x38, $0\n\t"
	HVT_ASM_LABEL(asm_jmp, back)
	HVT_ASM_UCALL(UCALL_SYNC)
	HVT_ASM_UCALL(UCALL_DONE)
	"1: hlt\n\tjmp 1b\n\t"
	HVT_ASM_LABEL(asm_jmp, task_b)
	HVT_ASM_UCALL(UCALL_SYNC)
	"ljmp $0x28, $0\n\t"
	"2: hlt\n\tjmp 2b\n\t");
extern const char asm_jmp_back[], asm_jmp_task_b[];

/* call_iret: A -> B by far CALL through the task gate, B -> A by IRET. */
HVT_ASM(asm_call, 32,
	A_REGS
	"lcall $0x48, $0\n\t"
	HVT_ASM_LABEL(asm_call, back)
	HVT_ASM_UCALL(UCALL_SYNC)
	HVT_ASM_UCALL(UCALL_DONE)
	"1: hlt\n\tjmp 1b\n\t"
	HVT_ASM_LABEL(asm_call, task_b)
	HVT_ASM_UCALL(UCALL_SYNC)
	"iret\n\t"
	"2: hlt\n\tjmp 2b\n\t");
extern const char asm_call_back[], asm_call_task_b[];

/*
 * exc_gate, df_gate: A loads DS with a selector beyond the GDT's limit
 * (#GP(0x1230)); task C (EBX = task A's TSS) reports, puts a good
 * selector in A's saved EAX, drops the error code and IRETs.
 */
HVT_ASM(asm_exc, 32,
	A_REGS
	"mov $0x1230, %eax\n\t"
	HVT_ASM_LABEL(asm_exc, fault)
	"mov %ax, %ds\n\t"
	HVT_ASM_UCALL(UCALL_SYNC)
	HVT_ASM_UCALL(UCALL_DONE)
	"1: hlt\n\tjmp 1b\n\t"
	HVT_ASM_LABEL(asm_exc, task_c)
	HVT_ASM_UCALL(UCALL_SYNC)
	"movl $0x10, 40(%ebx)\n\t"
	"add $4, %esp\n\t"
	"iret\n\t"
	"2: hlt\n\tjmp 2b\n\t");
extern const char asm_exc_fault[], asm_exc_task_c[];

/* df_gate: the VMM injects a #DF at A's second ucall. */
HVT_ASM(asm_df, 32,
	A_REGS
	HVT_ASM_UCALL(UCALL_SYNC)
	HVT_ASM_LABEL(asm_df, after)
	HVT_ASM_UCALL(UCALL_SYNC)
	HVT_ASM_UCALL(UCALL_DONE)
	"1: hlt\n\tjmp 1b\n\t"
	HVT_ASM_LABEL(asm_df, task_c)
	HVT_ASM_UCALL(UCALL_SYNC)
	"add $4, %esp\n\t"
	"iret\n\t"
	"2: hlt\n\tjmp 2b\n\t");
extern const char asm_df_after[], asm_df_task_c[];

/* refused: A's far JMP to B, or (at @iret) an IRET with NT set, to A's back link. */
HVT_ASM(asm_bad, 32,
	A_REGS
	HVT_ASM_LABEL(asm_bad, jmp)
	"ljmp $0x38, $0\n\t"
	"1: hlt\n\tjmp 1b\n\t"
	HVT_ASM_LABEL(asm_bad, nt)
	"pushf\n\t"
	"orl $0x4000, (%esp)\n\t"
	"popf\n\t"
	HVT_ASM_LABEL(asm_bad, iret)
	"iret\n\t"
	"2: hlt\n\tjmp 2b\n\t");
extern const char asm_bad_jmp[], asm_bad_nt[], asm_bad_iret[];

static const struct hvt_code asm_df_code = { asm_df, asm_df_end };
static const struct hvt_code asm_bad_code = { asm_bad, asm_bad_end };
static const struct hvt_code asm_jmp_code = { asm_jmp, asm_jmp_end };
static const struct hvt_code asm_call_code = { asm_call, asm_call_end };
static const struct hvt_code asm_exc_code = { asm_exc, asm_exc_end };

FIXTURE(ts) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
	uint64_t cr3_b;		/* what B and C run with (paging mode) */
};

FIXTURE_VARIANT(ts) {
	enum hvt_mode mode;
};
FIXTURE_VARIANT_ADD(ts, prot32) { .mode = HVT_MODE_PROT32 };
FIXTURE_VARIANT_ADD(ts, prot32_paging) { .mode = HVT_MODE_PROT32_PAGING };

FIXTURE_SETUP(ts)
{
	HVT_SETUP_VM_VCPU(0);
	TH_LOG("%s", hvt_mode_name(variant->mode));
}

FIXTURE_TEARDOWN(ts)
{
	hvt_vm_free(self->vm);
}

static uint8_t *gpa(struct hvt_vm *vm, uint64_t a)
{
	return vm->mem + a;
}

static uint32_t rd32(struct hvt_vm *vm, uint64_t a)
{
	uint32_t v;

	memcpy(&v, gpa(vm, a), 4);
	return v;
}

static void wr32(struct hvt_vm *vm, uint64_t a, uint32_t v)
{
	memcpy(gpa(vm, a), &v, 4);
}

/* The type field of the GDT descriptor @sel (9: available 32-bit TSS, 0xb: busy). */
static unsigned int gdt_type(struct hvt_vm *vm, uint16_t sel)
{
	return gpa(vm, vm->gdt + sel + 5)[0] & 0xf;
}

static uint64_t gdt_desc(uint32_t base, uint32_t limit, uint8_t access)
{
	return (limit & 0xffffull) | (uint64_t)(base & 0xffffff) << 16 |
	       (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
	       (uint64_t)(base >> 24) << 56;
}

/* A task gate (SDM Vol. 3A 7.2.5 Figure 7-6): P, DPL 0, type 5, the TSS selector. */
static uint64_t task_gate(uint16_t tss_sel)
{
	return (uint64_t)tss_sel << 16 | 0x85ull << 40;
}

/* A fresh 32-bit TSS at @at: flat segments, the given EIP, ESP and EBX, CR3. */
static void make_tss(struct hvt_vm *vm, uint64_t at, uint32_t eip, uint32_t esp,
		     uint32_t ebx, uint32_t cr3)
{
	memset(gpa(vm, at), 0, 104);
	wr32(vm, at + TSS_CR3, cr3);
	wr32(vm, at + TSS_EIP, eip);
	wr32(vm, at + TSS_EFLAGS, 0x2);
	wr32(vm, at + TSS_EAX, 0xb0b0b000);
	wr32(vm, at + TSS_ECX, 0xb2b2b2b2);
	wr32(vm, at + TSS_EDX, 0xb3b3b3b3);
	wr32(vm, at + TSS_EBX, ebx);
	wr32(vm, at + TSS_ESP, esp);
	wr32(vm, at + TSS_EBP, 0xb6b6b6b6);
	wr32(vm, at + TSS_ESI, 0xb4b4b4b4);
	wr32(vm, at + TSS_EDI, 0xb5b5b5b5);
	wr32(vm, at + TSS_ES, SEL_DATA);
	wr32(vm, at + TSS_CS, SEL_CODE32);
	wr32(vm, at + TSS_SS, SEL_DATA);
	wr32(vm, at + TSS_DS, SEL_DATA);
	wr32(vm, at + TSS_FS, SEL_DATA);
	wr32(vm, at + TSS_GS, SEL_DATA);
	*(uint16_t *)gpa(vm, at + TSS_IOMAP) = 104;
}

/*
 * Enter @code as task A and lay out B (EIP @b_eip) and C (EIP @c_eip),
 * the descriptors, and the per-task CR3s.
 */
static void ts_prepare(struct __test_metadata *_metadata, FIXTURE_DATA(ts) *self,
		       enum hvt_mode mode, const struct hvt_code *code,
		       const char *b_label, const char *c_label)
{
	struct hvt_vm *vm = self->vm;
	uint64_t *gdt = (uint64_t *)gpa(vm, vm->gdt);
	struct hvlab_sregs sr;
	uint32_t cr3_b = 0;

	ASSERT_EQ(0, hvt_vcpu_enter_raw(self->vcpu, mode, code));
	if (mode == HVT_MODE_PROT32_PAGING) {
		/* B and C get their own page directory (same mappings): CR3 must switch. */
		memcpy(gpa(vm, PD_COPY), gpa(vm, vm->pd32), 4096);
		cr3_b = PD_COPY;
		/* CR3 is not saved by a switch: A's TSS must hold A's for the way back. */
		wr32(vm, vm->tss + TSS_CR3, vm->pd32);
	}
	self->cr3_b = cr3_b;
	make_tss(vm, TSS_B, b_label ? hvt_raw_gpa(code, b_label) : 0, STACK_B, 0xb1b1b1b1, cr3_b);
	make_tss(vm, TSS_C, c_label ? hvt_raw_gpa(code, c_label) : 0, STACK_C, vm->tss, cr3_b);
	gdt[SEL_TSS_B / 8] = gdt_desc(TSS_B, 103, 0x89);	/* P, DPL 0, available 32-bit TSS */
	gdt[SEL_TSS_C / 8] = gdt_desc(TSS_C, 103, 0x89);
	gdt[SEL_GATE_B / 8] = task_gate(SEL_TSS_B);
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	sr.gdt.limit = GDT_LIMIT;
	ASSERT_EQ(0, hvlab_set_sregs(self->vcpu->fd, &sr));
	/* The harness's TSS is busy (TR's); as a GDT entry for the way back, it says so too. */
	ASSERT_EQ(0xb, gdt_type(vm, SEL_TSS_A));
}

/* Task A resumed with what it had: registers, segments, TR. */
static void expect_task_a(struct __test_metadata *_metadata, FIXTURE_DATA(ts) *self,
			  enum hvt_mode mode)
{
	struct hvlab_regs r;
	struct hvlab_sregs sr;

	ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &r));
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	EXPECT_EQ(0xa1a1a1a1, r.rbx);
	EXPECT_EQ(0xa2a2a2a2, r.rcx);
	EXPECT_EQ(0xa3a3a3a3, r.rdx);
	EXPECT_EQ(0xa4a4a4a4, r.rsi);
	EXPECT_EQ(0xa5a5a5a5, r.rdi);
	EXPECT_EQ(0xa6a6a6a6, r.rbp);
	EXPECT_EQ(self->vcpu->stack_top, r.rsp);
	EXPECT_EQ(0, r.rflags & EFLAGS_NT);
	EXPECT_EQ(SEL_TSS_A, sr.tr.selector);
	EXPECT_EQ(0x9, sr.tr.type & ~2);	/* QEMU caches TR without the busy bit */
	EXPECT_EQ(self->vm->tss, sr.tr.base);
	EXPECT_EQ(SEL_CODE32, sr.cs.selector);
	EXPECT_EQ(SEL_DATA, sr.ss.selector);
	EXPECT_EQ(SEL_DATA, sr.ds.selector);
	EXPECT_EQ(SEL_DATA, sr.es.selector);
	EXPECT_TRUE(sr.cr0 & CR0_TS);	/* set by every task switch */
	if (mode == HVT_MODE_PROT32_PAGING)
		EXPECT_EQ(self->vm->pd32, sr.cr3);
	EXPECT_EQ(0xb, gdt_type(self->vm, SEL_TSS_A));
}

/* Task B or C running with its TSS's state: @sel in TR, @esp its stack pointer. */
static void expect_new_task(struct __test_metadata *_metadata, FIXTURE_DATA(ts) *self,
			    uint16_t sel, uint64_t esp, uint32_t ebx, bool nested)
{
	struct hvlab_regs r;
	struct hvlab_sregs sr;

	ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &r));
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	EXPECT_EQ(0xb0b0b0, r.rax >> 8);
	EXPECT_EQ(ebx, r.rbx);
	EXPECT_EQ(0xb2b2b2b2, r.rcx);
	EXPECT_EQ(0xb3b3b3b3, r.rdx);
	EXPECT_EQ(0xb4b4b4b4, r.rsi);
	EXPECT_EQ(0xb5b5b5b5, r.rdi);
	EXPECT_EQ(0xb6b6b6b6, r.rbp);
	EXPECT_EQ(esp, r.rsp);
	EXPECT_EQ(nested, !!(r.rflags & EFLAGS_NT));
	EXPECT_EQ(sel, sr.tr.selector);
	EXPECT_EQ(0x9, sr.tr.type & ~2);	/* busy on hardware; QEMU caches 9 */
	EXPECT_EQ(sel == SEL_TSS_B ? TSS_B : TSS_C, sr.tr.base);
	EXPECT_EQ(103, sr.tr.limit);
	EXPECT_EQ(SEL_CODE32, sr.cs.selector);
	EXPECT_EQ(1, sr.cs.db);
	EXPECT_EQ(SEL_DATA, sr.ss.selector);
	EXPECT_EQ(SEL_DATA, sr.fs.selector);
	EXPECT_EQ(0xffffffff, sr.ds.limit);
	EXPECT_TRUE(sr.cr0 & CR0_TS);
	EXPECT_EQ(self->cr3_b ? self->cr3_b : sr.cr3, sr.cr3);
	EXPECT_EQ(0xb, gdt_type(self->vm, sel));
	EXPECT_EQ(nested ? SEL_TSS_A : 0, rd32(self->vm, (sel == SEL_TSS_B ? TSS_B : TSS_C) + TSS_LINK));
}

/* What A's TSS holds after A left: EIP @eip, its registers and selectors. */
static void expect_saved_a(struct __test_metadata *_metadata, FIXTURE_DATA(ts) *self,
			   uint32_t eip, uint32_t eax)
{
	struct hvt_vm *vm = self->vm;

	EXPECT_EQ(eip, rd32(vm, vm->tss + TSS_EIP));
	EXPECT_EQ(eax, rd32(vm, vm->tss + TSS_EAX));
	EXPECT_EQ(0xa1a1a1a1, rd32(vm, vm->tss + TSS_EBX));
	EXPECT_EQ(0xa2a2a2a2, rd32(vm, vm->tss + TSS_ECX));
	EXPECT_EQ(0xa3a3a3a3, rd32(vm, vm->tss + TSS_EDX));
	EXPECT_EQ(0xa4a4a4a4, rd32(vm, vm->tss + TSS_ESI));
	EXPECT_EQ(0xa5a5a5a5, rd32(vm, vm->tss + TSS_EDI));
	EXPECT_EQ(0xa6a6a6a6, rd32(vm, vm->tss + TSS_EBP));
	EXPECT_EQ(self->vcpu->stack_top, rd32(vm, vm->tss + TSS_ESP));
	EXPECT_EQ(0, rd32(vm, vm->tss + TSS_EFLAGS) & EFLAGS_NT);
	EXPECT_EQ(SEL_CODE32, rd32(vm, vm->tss + TSS_CS) & 0xffff);
	EXPECT_EQ(SEL_DATA, rd32(vm, vm->tss + TSS_SS) & 0xffff);
	EXPECT_EQ(SEL_DATA, rd32(vm, vm->tss + TSS_DS) & 0xffff);
}

TEST_F(ts, jmp)
{
	const struct hvt_code *code = &asm_jmp_code;

	HVT_SKIPPED_IN_SETUP();
	ts_prepare(_metadata, self, variant->mode, code, asm_jmp_task_b, NULL);

	/* In B: loaded from TSS B, no link, NT clear; A saved and no longer busy. */
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xb1b1b1b1);
	expect_new_task(_metadata, self, SEL_TSS_B, STACK_B, 0xb1b1b1b1, false);
	expect_saved_a(_metadata, self, hvt_raw_gpa(code, asm_jmp_back), 0xa0a0a000);
	EXPECT_EQ(0x9, gdt_type(self->vm, SEL_TSS_A));

	/* Back in A: all of it as it was; B saved (EIP past its JMP) and free. */
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xa1a1a1a1);
	expect_task_a(_metadata, self, variant->mode);
	EXPECT_EQ(0x9, gdt_type(self->vm, SEL_TSS_B));
	EXPECT_EQ(hvt_raw_gpa(code, asm_jmp_task_b) + 4 + 7, rd32(self->vm, TSS_B + TSS_EIP));
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_F(ts, call_iret)
{
	const struct hvt_code *code = &asm_call_code;

	HVT_SKIPPED_IN_SETUP();
	ts_prepare(_metadata, self, variant->mode, code, asm_call_task_b, NULL);

	/* In B through the gate: NT, link to A, both busy. */
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xb1b1b1b1);
	expect_new_task(_metadata, self, SEL_TSS_B, STACK_B, 0xb1b1b1b1, true);
	expect_saved_a(_metadata, self, hvt_raw_gpa(code, asm_call_back), 0xa0a0a000);
	EXPECT_EQ(0xb, gdt_type(self->vm, SEL_TSS_A));

	/* IRET with NT: back to A; B free, its saved EFLAGS without NT. */
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xa1a1a1a1);
	expect_task_a(_metadata, self, variant->mode);
	EXPECT_EQ(0x9, gdt_type(self->vm, SEL_TSS_B));
	EXPECT_EQ(0, rd32(self->vm, TSS_B + TSS_EFLAGS) & EFLAGS_NT);
	EXPECT_EQ(hvt_raw_gpa(code, asm_call_task_b) + 4 + 1, rd32(self->vm, TSS_B + TSS_EIP));
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* In C after an exception through the IDT's task gate: error code on C's stack, A saved. */
static void expect_in_c(struct __test_metadata *_metadata, FIXTURE_DATA(ts) *self,
			uint32_t want_err, uint32_t a_eip, uint32_t a_eax)
{
	HVT_RUN_EXPECT_SYNC(self->vcpu, self->vm->tss);
	expect_new_task(_metadata, self, SEL_TSS_C, STACK_C - 4, self->vm->tss, true);
	EXPECT_EQ(want_err, rd32(self->vm, STACK_C - 4));
	expect_saved_a(_metadata, self, a_eip, a_eax);
	EXPECT_EQ(0xb, gdt_type(self->vm, SEL_TSS_A));
}

/* Back in A after C's IRET: A's state, C free again. */
static void expect_back_from_c(struct __test_metadata *_metadata, FIXTURE_DATA(ts) *self,
			       uint64_t want_rax)
{
	struct hvlab_regs r;
	struct hvlab_sregs sr;

	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xa1a1a1a1);
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &r));
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	EXPECT_EQ(SEL_DATA, sr.ds.selector);
	EXPECT_EQ(want_rax, r.rax);
	EXPECT_EQ(0xa2a2a2a2, r.rcx);
	EXPECT_EQ(0xa6a6a6a6, r.rbp);
	EXPECT_EQ(SEL_TSS_A, sr.tr.selector);
	EXPECT_EQ(0, r.rflags & EFLAGS_NT);
	EXPECT_EQ(self->vcpu->stack_top, r.rsp);
	EXPECT_EQ(0x9, gdt_type(self->vm, SEL_TSS_C));
	EXPECT_EQ(0xb, gdt_type(self->vm, SEL_TSS_A));
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* A #GP(0x1230) made by the CPU, through the task gate of vector 13. */
TEST_F(ts, exc_gate)
{
	const struct hvt_code *code = &asm_exc_code;
	uint64_t *idt;

	HVT_SKIPPED_IN_SETUP();
	ts_prepare(_metadata, self, variant->mode, code, NULL, asm_exc_task_c);
	idt = (uint64_t *)gpa(self->vm, self->vm->idt32);
	idt[GP_VECTOR] = task_gate(SEL_TSS_C);
	/* C starts with the error code pushed, A saved at the faulting MOV. */
	expect_in_c(_metadata, self, 0x1230, hvt_raw_gpa(code, asm_exc_fault), 0x1230);
	/* C's IRET: A retries its MOV to DS with the selector C left it. */
	expect_back_from_c(_metadata, self, 0x1);	/* 0x10, then the ucall's AL */
}

/* A #DF(0) injected by the VMM, through the task gate of vector 8. */
TEST_F(ts, df_gate)
{
	const struct hvt_code *code = &asm_df_code;
	struct hvlab_event ev = {
		.type = HVLAB_EVENT_EXCEPTION, .vector = 8, .has_error_code = 1, .error_code = 0,
	};
	uint64_t *idt;

	HVT_SKIPPED_IN_SETUP();
	ts_prepare(_metadata, self, variant->mode, code, NULL, asm_df_task_c);
	idt = (uint64_t *)gpa(self->vm, self->vm->idt32);
	idt[8] = task_gate(SEL_TSS_C);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xa1a1a1a1);
	ASSERT_EQ(0, hvlab_inject(self->vcpu->fd, &ev));
	/* Delivered before A's next instruction: that is where A resumes. */
	expect_in_c(_metadata, self, 0, hvt_raw_gpa(code, asm_df_after), 0xa0a0a001);
	expect_back_from_c(_metadata, self, 0xa0a0a001);
}

/*
 * Switches refused before anything changes (SDM Vol. 3A 7.3 steps 2-4,
 * Table 6-6): a JMP to a TSS whose limit is below 67h (#TS), a JMP to a
 * busy TSS (#GP), an IRET with NT set whose back link names a TSS that
 * is not busy (#TS).  Each fault is A's, at the instruction, and A's
 * TSS and busy bit stay as they were.
 */
static void refused(struct __test_metadata *_metadata, FIXTURE_DATA(ts) *self,
		    enum hvt_mode mode, unsigned int which)
{
	const struct hvt_code *code = &asm_bad_code;
	uint64_t *gdt = (uint64_t *)gpa(self->vm, self->vm->gdt);
	const char *at = which == 2 ? asm_bad_iret : asm_bad_jmp;
	unsigned int vector = which == 1 ? GP_VECTOR : 10;
	struct hvlab_regs r;
	struct ucall uc;

	ts_prepare(_metadata, self, mode, code, asm_bad_jmp, NULL);
	if (which == 0)
		gdt[SEL_TSS_B / 8] = gdt_desc(TSS_B, 0x50, 0x89);	/* too small */
	else if (which == 1)
		gdt[SEL_TSS_B / 8] = gdt_desc(TSS_B, 103, 0x8b);	/* busy */
	if (which == 2) {
		wr32(self->vm, self->vm->tss + TSS_LINK, SEL_TSS_B);	/* B: available */
		ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &r));
		r.rip = hvt_raw_gpa(code, asm_bad_nt);
		ASSERT_EQ(0, hvlab_set_regs(self->vcpu->fd, &r));
	}
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_EXCEPTION, &uc);
	EXPECT_EQ(vector, uc.args[0]);
	EXPECT_EQ(SEL_TSS_B, uc.args[1]);
	EXPECT_EQ(hvt_raw_gpa(code, at), uc.args[2]);
	EXPECT_EQ(0xb, gdt_type(self->vm, SEL_TSS_A));
	EXPECT_EQ(which == 1 ? 0xb : 0x9, gdt_type(self->vm, SEL_TSS_B));
	EXPECT_EQ(0, rd32(self->vm, self->vm->tss + TSS_EIP));	/* nothing saved */
}

TEST_F(ts, refused_small_tss)
{
	HVT_SKIPPED_IN_SETUP();
	refused(_metadata, self, variant->mode, 0);
}

TEST_F(ts, refused_busy_tss)
{
	HVT_SKIPPED_IN_SETUP();
	refused(_metadata, self, variant->mode, 1);
}

TEST_F(ts, refused_iret_to_idle_tss)
{
	HVT_SKIPPED_IN_SETUP();
	refused(_metadata, self, variant->mode, 2);
}

TEST_HARNESS_MAIN
