// SPDX-License-Identifier: GPL-2.0
/*
 * test_events - what userspace can ask of a running vCPU besides RUN:
 * injecting exceptions and interrupts (with the interrupt window), the
 * CPUID table, the policy for unknown MSRs, the exit counters, and string
 * port I/O (INS/OUTS with REP), with 64-bit C guests; and, in every CPU
 * mode (real mode, 32-bit protected mode with paging off and on, 64-bit
 * mode), string port I/O and injection with the interrupt window, with
 * the same assembler text assembled for 16, 32 and 64 bits.
 *
 * Event delivery: SDM Vol. 3A 6.12 (protected and 64-bit mode frames,
 * 6.14.2 for the 64-bit one), 6.13 (error codes); real mode, where the
 * CPU pushes FLAGS, CS and IP and never an error code: SDM Vol. 3B 20.1.4
 * (APM Vol. 2 8.9.1 for real mode, 8.9.3 for long mode).  INS/OUTS: SDM
 * Vol. 2B.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "libhvlab.h"
#include "hvtest.h"
#include "guest.h"

#define IRQ_VECTOR	0x40
#define MSR_IA32_PAT	0x277
#define MSR_UNKNOWN	0x4b564dff	/* no CPU has it; hvlab does not handle it */
#define PORT_STR	0x3f8
#define PORT_INS	0x60

static volatile int irq_count;
static volatile uint64_t last_error_code;
static volatile int ud_count;

GUEST_CODE static void guest_irq_handler(struct guest_ex_regs *regs __attribute__((unused)))
{
	irq_count++;
}

GUEST_CODE static void guest_gp_handler(struct guest_ex_regs *regs)
{
	last_error_code = regs->error_code;
}

GUEST_CODE static void guest_ud_handler(struct guest_ex_regs *regs __attribute__((unused)))
{
	ud_count++;
}

FIXTURE(ev) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_SETUP(ev)
{
	HVT_SETUP_VM_VCPU(0);
	ASSERT_EQ(0, hvt_vm_install_handler(self->vm, IRQ_VECTOR, guest_irq_handler));
}

FIXTURE_TEARDOWN(ev)
{
	hvt_vm_free(self->vm);
}

#define ENTER_C(fn, a0, a1) do {						\
	int __r = hvt_vcpu_enter_c(self->vcpu, (void *)(fn), (a0), (a1));	\
	ASSERT_EQ(0, __r) TH_LOG("enter: %s", strerror(-__r));			\
} while (0)

static int inject(struct hvt_vcpu *vcpu, uint8_t type, uint8_t vector, int has_err, uint32_t err)
{
	struct hvlab_event ev = { .type = type, .vector = vector,
				  .has_error_code = has_err, .error_code = err };

	return ioctl(vcpu->fd, HVLAB_INJECT, &ev) ? -errno : 0;
}

/* ---- exceptions from userspace */

GUEST_CODE static void guest_wait_for_exceptions(void)
{
	GUEST_SYNC(0);			/* host queues #UD here */
	GUEST_SYNC(ud_count);
	GUEST_SYNC(1);			/* host queues #GP(0x1234) here */
	GUEST_SYNC(last_error_code);
}

TEST_F(ev, inject_exception)
{
	HVT_SKIPPED_IN_SETUP();
	/* Only here: elsewhere #GP must reach the library's "safe" MSR helpers. */
	ASSERT_EQ(0, hvt_vm_install_handler(self->vm, GP_VECTOR, guest_gp_handler));
	ASSERT_EQ(0, hvt_vm_install_handler(self->vm, UD_VECTOR, guest_ud_handler));
	ENTER_C(guest_wait_for_exceptions, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	ASSERT_EQ(0, inject(self->vcpu, HVLAB_EVENT_EXCEPTION, UD_VECTOR, 0, 0));
	/* A second one while the first waits: refused, nothing lost. */
	EXPECT_EQ(-EBUSY, inject(self->vcpu, HVLAB_EVENT_EXCEPTION, UD_VECTOR, 0, 0));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);	/* the handler ran exactly once */
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);
	ASSERT_EQ(0, inject(self->vcpu, HVLAB_EVENT_EXCEPTION, GP_VECTOR, 1, 0x1234));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0x1234);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_F(ev, inject_refusals)
{
	struct hvlab_event ev = { .type = HVLAB_EVENT_INTERRUPT, .vector = 0x30, .padding = 1 };

	HVT_SKIPPED_IN_SETUP();
	EXPECT_EQ(-EINVAL, inject(self->vcpu, HVLAB_EVENT_EXCEPTION, 2, 0, 0)) TH_LOG("NMI vector");
	EXPECT_EQ(-EINVAL, inject(self->vcpu, HVLAB_EVENT_EXCEPTION, 32, 0, 0)) TH_LOG("not an exception");
	EXPECT_EQ(-EINVAL, inject(self->vcpu, HVLAB_EVENT_EXCEPTION, GP_VECTOR, 0, 0))
		TH_LOG("#GP needs an error code");
	EXPECT_EQ(-EINVAL, inject(self->vcpu, HVLAB_EVENT_EXCEPTION, UD_VECTOR, 1, 0))
		TH_LOG("#UD has no error code");
	EXPECT_EQ(-EINVAL, inject(self->vcpu, HVLAB_EVENT_INTERRUPT, 0x30, 1, 5))
		TH_LOG("interrupts have no error code");
	EXPECT_EQ(-EINVAL, inject(self->vcpu, 7, 0x30, 0, 0)) TH_LOG("unknown type");
	EXPECT_EQ(-1, ioctl(self->vcpu->fd, HVLAB_INJECT, &ev));
	EXPECT_EQ(EINVAL, errno) TH_LOG("padding set");
	EXPECT_EQ(-1, ioctl(self->vcpu->fd, HVLAB_INJECT, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, inject(self->vcpu, HVLAB_EVENT_INTERRUPT, 0x30, 0, 0));
	EXPECT_EQ(-EBUSY, inject(self->vcpu, HVLAB_EVENT_INTERRUPT, 0x31, 0, 0));
}

/* ---- external interrupts: held while IF=0, delivered when it opens */

GUEST_CODE static void guest_cli_then_sti(void)
{
	volatile int spin;

	asm volatile("cli");
	GUEST_SYNC(0);				/* host queues the interrupt */
	for (spin = 0; spin < 100000; spin++)
		;
	GUEST_SYNC(irq_count);			/* IF=0: still not delivered */
	asm volatile("sti; nop; cli");		/* window: delivered here */
	GUEST_SYNC(irq_count);
}

TEST_F(ev, interrupt_waits_for_if)
{
	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_cli_then_sti, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	EXPECT_EQ(0, self->vcpu->run->if_flag);
	EXPECT_EQ(0, self->vcpu->run->ready_for_interrupt);
	ASSERT_EQ(0, inject(self->vcpu, HVLAB_EVENT_INTERRUPT, IRQ_VECTOR, 0, 0));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

GUEST_CODE static void guest_halt_until_irq(void)
{
	asm volatile("sti; hlt; cli");
	GUEST_SYNC(irq_count);
}

/* HLT exits to userspace; an interrupt injected then wakes the guest. */
TEST_F(ev, interrupt_wakes_hlt)
{
	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_halt_until_irq, 0, 0);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_HLT);
	EXPECT_EQ(1, self->vcpu->run->if_flag);
	EXPECT_EQ(1, self->vcpu->run->ready_for_interrupt);
	ASSERT_EQ(0, inject(self->vcpu, HVLAB_EVENT_INTERRUPT, IRQ_VECTOR, 0, 0));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

GUEST_CODE static void guest_open_window_later(void)
{
	volatile int spin;

	asm volatile("cli");
	GUEST_SYNC(0);
	for (spin = 0; spin < 100000; spin++)
		;
	asm volatile("sti; nop; nop; cli");
	GUEST_SYNC(irq_count);
}

/* request_interrupt_window: RUN returns as soon as the guest can take one. */
TEST_F(ev, interrupt_window_exit)
{
	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_open_window_later, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	self->vcpu->run->request_interrupt_window = 1;
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IRQ_WINDOW);
	EXPECT_EQ(1, self->vcpu->run->if_flag);
	EXPECT_EQ(1, self->vcpu->run->ready_for_interrupt);
	self->vcpu->run->request_interrupt_window = 0;
	ASSERT_EQ(0, inject(self->vcpu, HVLAB_EVENT_INTERRUPT, IRQ_VECTOR, 0, 0));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* ---- CPUID table */

GUEST_CODE static void guest_cpuid_report(uint64_t leaf)
{
	uint32_t a, b, c, d;

	guest_cpuid(leaf, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(a, b, c, d);
	guest_cpuid(0x12345, 0, &a, &b, &c, &d);	/* not in any table */
	GUEST_SYNC_ARGS(a, b, c, d);
}

/* #UD raised by RDTSCP (0F 01 F9): count it and step over the instruction. */
GUEST_CODE static void guest_ud_skip_rdtscp(struct guest_ex_regs *regs)
{
	const uint8_t *insn = (const uint8_t *)regs->rip;

	ud_count++;
	if (insn[0] == 0x0f && insn[1] == 0x01 && insn[2] == 0xf9)
		regs->rip += 3;
}

GUEST_CODE static void guest_rdtscp(void)
{
	uint32_t a, b, c, d;

	guest_cpuid(0x80000001, 0, &a, &b, &c, &d);
	GUEST_SYNC(d & (1u << 27));
	guest_cpuid(7, 0, &a, &b, &c, &d);
	GUEST_SYNC(c & (1u << 22));
	asm volatile("rdtscp" : "=a"(a), "=d"(d), "=c"(c));
	GUEST_SYNC(ud_count);
}

/*
 * The default CPUID hides RDTSCP (and RDPID on Intel, where TSC_AUX is
 * not switched) and RDTSCP raises #UD (VT-x without "enable RDTSCP"; SVM
 * intercepts it).  Debian's kernel used RDTSCP in read_tsc() because CPUID offered
 * it and oopsed under VT-x.  The #UD is checked on Intel only: QEMU 7.2
 * does not implement the SVM RDTSCP intercept (its RDTSCP checks only the
 * RDTSC one), so on the AMD PC the instruction simply runs.
 */
TEST_F(ev, rdtscp_hidden_and_ud)
{
	uint32_t a, b, c, d, rdpid;
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	/*
	 * RDPID is offered on AMD where the CPU has it (module/cpuid.c: SVM
	 * cannot intercept it, so TSC_AUX is switched): QEMU 10's -cpu max
	 * has it, 7.2's does not.  Never on Intel.
	 */
	hvt_cpuid(7, 0, &a, &b, &c, &d);
	rdpid = hvt_cpu_vendor() == HVLAB_VENDOR_AMD ? c & (1u << 22) : 0;
	ASSERT_EQ(0, hvt_vm_install_handler(self->vm, UD_VECTOR, guest_ud_skip_rdtscp));
	ENTER_C(guest_rdtscp, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);	/* CPUID.80000001H:EDX.RDTSCP */
	HVT_RUN_EXPECT_SYNC(self->vcpu, rdpid);	/* CPUID.7.0:ECX.RDPID */
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	if (hvt_cpu_vendor() == HVLAB_VENDOR_INTEL) {
		EXPECT_EQ(1, uc.args[0]) TH_LOG("RDTSCP must raise #UD once");
	} else {
		TH_LOG("AMD PC: RDTSCP raised #UD %llu times (QEMU ignores the intercept)",
		       (unsigned long long)uc.args[0]);
	}
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_F(ev, cpuid_table)
{
	struct {
		struct hvlab_cpuid hdr;
		struct hvlab_cpuid_entry e[HVLAB_CPUID_MAX_ENTRIES];
	} t;
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	/* The default table: too small a buffer says how big it must be. */
	memset(&t, 0, sizeof(t));
	t.hdr.nent = 1;
	ASSERT_EQ(-1, ioctl(self->vcpu->fd, HVLAB_GET_CPUID, &t));
	ASSERT_EQ(E2BIG, errno);
	ASSERT_LT(1u, t.hdr.nent);
	t.hdr.nent = HVLAB_CPUID_MAX_ENTRIES;
	ASSERT_EQ(0, ioctl(self->vcpu->fd, HVLAB_GET_CPUID, &t));
	EXPECT_EQ(0u, t.e[0].function) TH_LOG("leaf 0 first");

	/* Our own table: exactly one leaf. */
	memset(&t, 0, sizeof(t));
	t.hdr.nent = 1;
	t.e[0].function = 0x40000000;
	t.e[0].eax = 0x40000000;
	t.e[0].ebx = 0x11111111;
	t.e[0].ecx = 0x22222222;
	t.e[0].edx = 0x33333333;
	ASSERT_EQ(0, ioctl(self->vcpu->fd, HVLAB_SET_CPUID, &t));
	ENTER_C(guest_cpuid_report, 0x40000000, 0);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0x40000000u, (uint32_t)uc.args[0]);
	EXPECT_EQ(0x11111111u, (uint32_t)uc.args[1]);
	EXPECT_EQ(0x22222222u, (uint32_t)uc.args[2]);
	EXPECT_EQ(0x33333333u, (uint32_t)uc.args[3]);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0u, uc.args[0] | uc.args[1] | uc.args[2] | uc.args[3]) TH_LOG("unlisted leaf reads 0");
	HVT_RUN_EXPECT_DONE(self->vcpu);

	/* Refusals. */
	t.e[0].flags = 0x80;
	EXPECT_EQ(-1, ioctl(self->vcpu->fd, HVLAB_SET_CPUID, &t));
	EXPECT_EQ(EINVAL, errno) TH_LOG("unknown flag");
	t.e[0].flags = 0;
	t.hdr.nent = HVLAB_CPUID_MAX_ENTRIES + 1;
	EXPECT_EQ(-1, ioctl(self->vcpu->fd, HVLAB_SET_CPUID, &t));
	EXPECT_EQ(E2BIG, errno);
}

/* ---- unknown MSRs go to userspace when asked */

GUEST_CODE static void guest_unknown_msrs(void)
{
	uint64_t v = 0;

	GUEST_SYNC(guest_rdmsr(MSR_UNKNOWN));
	guest_wrmsr(MSR_UNKNOWN, 0x0123456789abcdefull);
	GUEST_SYNC(guest_wrmsr_safe(MSR_UNKNOWN, 5));	/* userspace says: fault */
	GUEST_SYNC(guest_rdmsr_safe(MSR_UNKNOWN, &v));	/* and again */
}

TEST_F(ev, msr_policy_userspace)
{
	struct hvlab_run *run;

	HVT_SKIPPED_IN_SETUP();
	run = self->vcpu->run;
	EXPECT_EQ(-1, ioctl(self->vcpu->fd, HVLAB_SET_MSR_POLICY, 7));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ioctl(self->vcpu->fd, HVLAB_SET_MSR_POLICY, HVLAB_MSR_UNKNOWN_USERSPACE));
	ENTER_C(guest_unknown_msrs, 0, 0);

	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_MSR);
	EXPECT_EQ(MSR_UNKNOWN, run->msr.index);
	EXPECT_EQ(0, run->msr.is_write);
	run->msr.data = 0xfeedfacecafebeefull;
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xfeedfacecafebeefull);

	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_MSR);
	EXPECT_EQ(1, run->msr.is_write);
	EXPECT_EQ(0x0123456789abcdefull, run->msr.data);

	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_MSR);
	EXPECT_EQ(5u, run->msr.data);
	run->msr.error = 1;
	HVT_RUN_EXPECT_SYNC(self->vcpu, GP_VECTOR);

	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_MSR);
	run->msr.error = 1;
	HVT_RUN_EXPECT_SYNC(self->vcpu, GP_VECTOR);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* ---- exit counters */

GUEST_CODE static void guest_known_exits(void)
{
	uint32_t a, b, c, d;
	int i;

	GUEST_SYNC(0);
	for (i = 0; i < 10; i++)
		guest_cpuid(0, 0, &a, &b, &c, &d);
	for (i = 0; i < 7; i++)
		(void)guest_rdmsr(MSR_IA32_PAT);
	for (i = 0; i < 3; i++)
		guest_wrmsr(MSR_IA32_PAT, 0x0007040600070406ull);
	for (i = 0; i < 4; i++)
		guest_outb(0x80, i);
	GUEST_SYNC(1);
}

static void get_stats(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu,
		      struct hvlab_exit_stats *st)
{
	ASSERT_EQ(0, ioctl(vcpu->fd, HVLAB_GET_EXIT_STATS, st)) TH_LOG("%s", strerror(errno));
}

TEST_F(ev, exit_counts)
{
	struct hvlab_exit_stats a, b;
	uint64_t sum = 0;
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_known_exits, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	get_stats(_metadata, self->vcpu, &a);
	for (i = 0; i < 4; i++) {
		HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
		EXPECT_EQ(0x80, self->vcpu->run->io.port);
	}
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);
	get_stats(_metadata, self->vcpu, &b);

	EXPECT_EQ(10u, b.count[HVLAB_STAT_CPUID] - a.count[HVLAB_STAT_CPUID]);
	EXPECT_EQ(7u, b.count[HVLAB_STAT_MSR_READ] - a.count[HVLAB_STAT_MSR_READ]);
	EXPECT_EQ(3u, b.count[HVLAB_STAT_MSR_WRITE] - a.count[HVLAB_STAT_MSR_WRITE]);
	/* 4 OUTs and the closing ucall. */
	EXPECT_EQ(5u, b.count[HVLAB_STAT_IO] - a.count[HVLAB_STAT_IO]);
	for (i = 0; i < HVLAB_STAT_NR; i++)
		sum += b.count[i];
	EXPECT_EQ(b.exits, sum) TH_LOG("every exit is counted under exactly one reason");
	for (i = HVLAB_STAT_NR; i < 32; i++)
		EXPECT_EQ(0u, b.count[i]);
	EXPECT_EQ(-1, ioctl(self->vcpu->fd, HVLAB_GET_EXIT_STATS, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

/* ---- string port I/O */

static uint8_t out_buf[4000];
static uint8_t in_buf[100];

GUEST_CODE static void guest_string_io(void)
{
	uint64_t rcx, i;
	void *p;

	for (i = 0; i < sizeof(out_buf); i++)
		out_buf[i] = (uint8_t)(i * 7 + 1);
	p = out_buf;
	rcx = 300;
	asm volatile("rep outsb" : "+S"(p), "+c"(rcx) : "d"(PORT_STR) : "memory");
	GUEST_ASSERT_EQ(rcx, 0);
	GUEST_ASSERT_EQ((uint64_t)p, (uint64_t)out_buf + 300);

	p = out_buf;
	rcx = 2000;	/* 4000 bytes: more than one run page holds */
	asm volatile("rep outsw" : "+S"(p), "+c"(rcx) : "d"(PORT_STR) : "memory");
	GUEST_ASSERT_EQ(rcx, 0);

	p = in_buf;
	rcx = sizeof(in_buf);
	asm volatile("rep insb" : "+D"(p), "+c"(rcx) : "d"(PORT_INS) : "memory");
	GUEST_ASSERT_EQ(rcx, 0);
	for (i = 0; i < sizeof(in_buf); i++)
		GUEST_ASSERT_EQ(in_buf[i], (uint8_t)(0xa0 ^ i));

	/* DF=1: the string walks down. */
	p = &out_buf[9];
	rcx = 10;
	asm volatile("std; rep outsb; cld" : "+S"(p), "+c"(rcx) : "d"(PORT_STR) : "memory");
	GUEST_ASSERT_EQ((uint64_t)p, (uint64_t)out_buf - 1);
	GUEST_SYNC(1);
}

TEST_F(ev, string_io)
{
	struct hvlab_run *run;
	uint8_t expect[4000];
	unsigned int i, got = 0;
	uint8_t *data;

	HVT_SKIPPED_IN_SETUP();
	run = self->vcpu->run;
	for (i = 0; i < sizeof(expect); i++)
		expect[i] = (uint8_t)(i * 7 + 1);
	ENTER_C(guest_string_io, 0, 0);

	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	data = (uint8_t *)run + run->io.data_offset;
	EXPECT_EQ(HVLAB_IO_OUT, run->io.direction);
	EXPECT_EQ(PORT_STR, run->io.port);
	EXPECT_EQ(1, run->io.size);
	ASSERT_EQ(300u, run->io.count) TH_LOG("one exit for the whole REP OUTSB");
	EXPECT_EQ(0, memcmp(data, expect, 300));

	/* 4000 bytes in words: as many exits as it takes, in order. */
	while (got < sizeof(expect)) {
		HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
		ASSERT_EQ(2, run->io.size);
		ASSERT_LT(0u, run->io.count);
		ASSERT_GE(sizeof(expect) - got, run->io.count * 2u);
		EXPECT_EQ(0, memcmp((uint8_t *)run + run->io.data_offset, expect + got,
				    run->io.count * 2));
		got += run->io.count * 2;
	}

	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	EXPECT_EQ(HVLAB_IO_IN, run->io.direction);
	EXPECT_EQ(PORT_INS, run->io.port);
	ASSERT_EQ(sizeof(in_buf), run->io.count);
	for (i = 0; i < run->io.count; i++)
		((uint8_t *)run + run->io.data_offset)[i] = 0xa0 ^ i;

	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	ASSERT_EQ(10u, run->io.count) TH_LOG("backwards OUTSB");
	for (i = 0; i < 10; i++)
		EXPECT_EQ(expect[9 - i], ((uint8_t *)run + run->io.data_offset)[i]);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* ---------------------------------------------------------------------------
 * The same text in every mode
 */

/* RAM the string I/O reads and writes (the scratch page). */
#define STR_OUT_GPA	0x7000
#define STR_IN_GPA	0x7100
_Static_assert(STR_OUT_GPA == HVT_RAW_DATA_GPA, "the string buffers live in the scratch page");

/*
 * OUTS and INS of each size, with REP and without, forwards, then
 * REP OUTSB backwards (DF=1).  Reported: ESI or EDI after each group.
 * In 16-bit code the address size is 16 bits: SI/DI, which suffices below
 * 64 KiB.
 */
#define STRIO_BODY(p)					\
	"cld\n"						\
	"mov $" __hvt_str(STR_OUT_GPA) ", %esi\n"	\
	"mov $" __hvt_str(PORT_STR) ", %dx\n"		\
	"mov $5, %ecx\n"				\
	"rep outsb\n"					\
	"mov $3, %ecx\n"				\
	"rep outsw\n"					\
	"mov $2, %ecx\n"				\
	"rep outsl\n"					\
	"outsb\n"					\
	"outsw\n"					\
	"outsl\n"					\
	"mov %esi, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"mov $" __hvt_str(STR_IN_GPA) ", %edi\n"	\
	"mov $" __hvt_str(PORT_INS) ", %dx\n"		\
	"mov $4, %ecx\n"				\
	"rep insb\n"					\
	"mov $2, %ecx\n"				\
	"rep insw\n"					\
	"insl\n"					\
	"insb\n"					\
	"mov %edi, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"std\n"						\
	"mov $" __hvt_str(STR_OUT_GPA) " + 3, %esi\n"	\
	"mov $" __hvt_str(PORT_STR) ", %dx\n"		\
	"mov $4, %ecx\n"				\
	"rep outsb\n"					\
	"cld\n"						\
	"mov %esi, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(strio_code, STRIO_BODY);

/*
 * Injection and the interrupt window.  EBP counts interrupts (the handler
 * at irq_handler).  The exception handlers report the stack pointer they
 * start with (ECX) and their vector (EBX), so the host can read the frame
 * the CPU pushed; the #GP handler then drops the error code, which exists
 * in protected and 64-bit mode only.  IRET must be IRETQ in 64-bit mode.
 */
#define INJ_IRET(p)					\
	".ifc " #p ",inj_code_64\n"			\
	"iretq\n"					\
	".else\n"					\
	"iret\n"					\
	".endif\n"
#define INJ_DROP_ERRCODE(p)				\
	".ifc " #p ",inj_code_64\n"			\
	"add $8, %rsp\n"				\
	".endif\n"					\
	".ifc " #p ",inj_code_32\n"			\
	"add $4, %esp\n"				\
	".endif\n"
#define INJ_SPIN					\
	"mov $20000, %ecx\n"				\
	"1: dec %ecx\n"					\
	"jnz 1b\n"
#define INJ_BODY(p)					\
	"xor %ebp, %ebp\n"				\
	"mov $0xa1, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)	/* host: #UD */	\
	HVT_ASM_LABEL(p, after_ud)			\
	"mov $0xa2, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)	/* host: #GP */	\
	HVT_ASM_LABEL(p, after_gp)			\
	"cli\n"						\
	"mov $0xa3, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)	/* host: IRQ */	\
	INJ_SPIN					\
	"mov %ebp, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)	/* IF=0: 0 */	\
	"sti\n"						\
	"nop\n"						\
	"cli\n"						\
	"mov %ebp, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)	/* 1 */		\
	INJ_SPIN					\
	"sti\n"						\
	"nop\n"						\
	"nop\n"						\
	"cli\n"						\
	"mov %ebp, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)	/* 2 */		\
	"sti\n"						\
	"hlt\n"						\
	"cli\n"						\
	"mov %ebp, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)	/* 3 */		\
	HVT_ASM_UCALL(UCALL_DONE)			\
	HVT_ASM_LABEL(p, ud_handler)			\
	"mov %esp, %ecx\n"				\
	"mov $6, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	INJ_IRET(p)					\
	HVT_ASM_LABEL(p, gp_handler)			\
	"mov %esp, %ecx\n"				\
	"mov $13, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	INJ_DROP_ERRCODE(p)				\
	INJ_IRET(p)					\
	HVT_ASM_LABEL(p, irq_handler)			\
	"inc %ebp\n"					\
	INJ_IRET(p)
HVT_ASM_MODES(inj_code, INJ_BODY);
HVT_ASM_MODES_LABEL(inj_code, after_ud);
HVT_ASM_MODES_LABEL(inj_code, after_gp);
HVT_ASM_MODES_LABEL(inj_code, ud_handler);
HVT_ASM_MODES_LABEL(inj_code, gp_handler);
HVT_ASM_MODES_LABEL(inj_code, irq_handler);

HVT_MODE_FIXTURE(evmode, 0);

/* RUN; the exit must be port I/O with these properties. */
static void expect_str_io(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu,
			  uint8_t dir, uint16_t port, uint8_t size, uint32_t count)
{
	struct hvlab_run *run = vcpu->run;

	HVT_RUN_EXPECT_EXIT(vcpu, HVLAB_EXIT_IO);
	EXPECT_EQ(dir, run->io.direction);
	EXPECT_EQ(port, run->io.port);
	EXPECT_EQ(size, run->io.size);
	ASSERT_EQ(count, run->io.count) TH_LOG("%s of %u x %u bytes", dir == HVLAB_IO_IN ? "INS" : "OUTS",
					       count, size);
	EXPECT_EQ(HVLAB_RUN_IO_DATA_OFFSET, run->io.data_offset);
}

TEST_F(evmode, string_io)
{
	/* OUTS: (size, count) in order, over consecutive bytes of RAM. */
	static const struct { uint8_t size; uint32_t count; } outs[] = {
		{ 1, 5 }, { 2, 3 }, { 4, 2 }, { 1, 1 }, { 2, 1 }, { 4, 1 },
	};
	static const struct { uint8_t size; uint32_t count; } ins[] = {
		{ 1, 4 }, { 2, 2 }, { 4, 1 }, { 1, 1 },
	};
	struct hvlab_run *run;
	uint8_t *out, *in, *data;
	unsigned int i, at = 0, n;
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	run = self->vcpu->run;
	out = hvt_gpa2hva(self->vm, STR_OUT_GPA, 0x200);
	ASSERT_NE(NULL, out);
	in = out + (STR_IN_GPA - STR_OUT_GPA);
	for (i = 0; i < 0x100; i++)
		out[i] = (uint8_t)(i * 7 + 1);
	memset(in, 0xcc, 0x100);
	HVT_MODE_ENTER(strio_code);

	for (i = 0; i < ARRAY_SIZE(outs); i++) {
		expect_str_io(_metadata, self->vcpu, HVLAB_IO_OUT, PORT_STR, outs[i].size, outs[i].count);
		n = outs[i].size * outs[i].count;
		data = (uint8_t *)run + run->io.data_offset;
		EXPECT_EQ(0, memcmp(data, out + at, n)) TH_LOG("OUTS #%u: the bytes at %#x", i,
							       STR_OUT_GPA + at);
		at += n;
	}
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(STR_OUT_GPA + at, (uint32_t)uc.args[0]) TH_LOG("ESI after the OUTS");

	at = 0;
	for (i = 0; i < ARRAY_SIZE(ins); i++) {
		unsigned int b;

		expect_str_io(_metadata, self->vcpu, HVLAB_IO_IN, PORT_INS, ins[i].size, ins[i].count);
		n = ins[i].size * ins[i].count;
		data = (uint8_t *)run + run->io.data_offset;
		for (b = 0; b < n; b++)
			data[b] = 0xa0 ^ (at + b);
		at += n;
	}
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(STR_IN_GPA + at, (uint32_t)uc.args[0]) TH_LOG("EDI after the INS");
	for (i = 0; i < at; i++) {
		EXPECT_EQ((uint8_t)(0xa0 ^ i), in[i]) TH_LOG("INS byte %u", i);
	}
	EXPECT_EQ(0xcc, in[at]) TH_LOG("INS wrote a byte too many");

	/* DF=1: from STR_OUT_GPA + 3 down to STR_OUT_GPA. */
	expect_str_io(_metadata, self->vcpu, HVLAB_IO_OUT, PORT_STR, 1, 4);
	data = (uint8_t *)run + run->io.data_offset;
	for (i = 0; i < 4; i++)
		EXPECT_EQ(out[3 - i], data[i]) TH_LOG("backwards OUTSB byte %u", i);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(STR_OUT_GPA - 1u, (uint32_t)uc.args[0] & (variant->mode == HVT_MODE_REAL ? 0xffff : ~0u))
		TH_LOG("ESI after the backwards OUTSB");
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* The guest's stack pointer now (SP, ESP or RSP). */
static uint64_t guest_sp(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu)
{
	struct hvlab_regs regs;

	EXPECT_EQ(0, hvlab_get_regs(vcpu->fd, &regs));
	return regs.rsp;
}

/*
 * The frame the CPU pushed for an exception raised with the guest at
 * @sp0, returning to @rip, that the handler found at @sp: read from guest
 * memory and compared field by field.  @err: the error code, < 0 for none.
 */
static void check_frame(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu,
			enum hvt_mode mode, uint64_t sp0, uint64_t sp, uint64_t rip, int64_t err)
{
	unsigned int w = mode == HVT_MODE_REAL ? 2 : mode == HVT_MODE_LONG64 ? 8 : 4;
	unsigned int nr = (mode == HVT_MODE_LONG64 ? 5 : 3) + (err >= 0 && mode != HVT_MODE_REAL);
	uint64_t top = mode == HVT_MODE_LONG64 ? (sp0 & ~15ull) : sp0;
	uint64_t f[6] = { 0 };
	unsigned int i = 0, k;
	uint8_t *p;

	EXPECT_EQ(top - nr * w, sp) TH_LOG("%s: the handler's SP %#llx, interrupted at %#llx: %u pushes of %u bytes expected",
					   hvt_mode_name(mode), (unsigned long long)sp,
					   (unsigned long long)sp0, nr, w);
	p = hvt_gpa2hva(vcpu->vm, sp, nr * w);
	ASSERT_NE(NULL, p);
	for (k = 0; k < nr; k++)
		memcpy(&f[k], p + k * w, w);
	if (err >= 0 && mode != HVT_MODE_REAL) {
		EXPECT_EQ((uint64_t)err, f[i]) TH_LOG("error code");
		i++;
	}
	EXPECT_EQ(rip, f[i]) TH_LOG("return IP in the frame");
	EXPECT_EQ(mode == HVT_MODE_REAL ? 0u : mode == HVT_MODE_LONG64 ? 0x08u : 0x18u, f[i + 1])
		TH_LOG("CS in the frame");
	EXPECT_EQ(2u, f[i + 2] & 0x2) TH_LOG("FLAGS in the frame: bit 1 is always set");
	if (mode == HVT_MODE_LONG64) {
		EXPECT_EQ(sp0, f[i + 3]) TH_LOG("RSP in the frame");
		EXPECT_EQ(0x10u, f[i + 4]) TH_LOG("SS in the frame");
	}
}

/*
 * Exceptions and an external interrupt injected from userspace, and the
 * interrupt window: held while IF=0, delivered in the STI window, an
 * interrupt-window exit, and a wake from HLT.
 */
TEST_F(evmode, inject_and_window)
{
	struct hvlab_run *run;
	uint64_t sp0;
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	run = self->vcpu->run;
	HVT_MODE_ENTER(inj_code);
	ASSERT_EQ(0, hvt_vm_set_gate(self->vm, variant->mode, UD_VECTOR, HVT_MODE_LABEL(inj_code, ud_handler)));
	ASSERT_EQ(0, hvt_vm_set_gate(self->vm, variant->mode, GP_VECTOR, HVT_MODE_LABEL(inj_code, gp_handler)));
	ASSERT_EQ(0, hvt_vm_set_gate(self->vm, variant->mode, IRQ_VECTOR, HVT_MODE_LABEL(inj_code, irq_handler)));

	/* #UD: no error code in any mode. */
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xa1);
	sp0 = guest_sp(_metadata, self->vcpu);
	ASSERT_EQ(0, inject(self->vcpu, HVLAB_EVENT_EXCEPTION, UD_VECTOR, 0, 0));
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(UD_VECTOR, uc.args[0]) TH_LOG("the #UD handler ran");
	check_frame(_metadata, self->vcpu, variant->mode, sp0, (uint32_t)uc.args[1],
		    HVT_MODE_LABEL(inj_code, after_ud), -1);

	/* #GP(0x1234): the error code is pushed except in real mode. */
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xa2);
	sp0 = guest_sp(_metadata, self->vcpu);
	ASSERT_EQ(0, inject(self->vcpu, HVLAB_EVENT_EXCEPTION, GP_VECTOR, 1, 0x1234));
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(GP_VECTOR, uc.args[0]) TH_LOG("the #GP handler ran");
	check_frame(_metadata, self->vcpu, variant->mode, sp0, (uint32_t)uc.args[1],
		    HVT_MODE_LABEL(inj_code, after_gp), 0x1234);

	/* An interrupt while IF=0 waits for STI. */
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xa3);
	EXPECT_EQ(0, run->if_flag);
	EXPECT_EQ(0, run->ready_for_interrupt);
	ASSERT_EQ(0, inject(self->vcpu, HVLAB_EVENT_INTERRUPT, IRQ_VECTOR, 0, 0));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);

	/* The interrupt-window exit. */
	run->request_interrupt_window = 1;
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IRQ_WINDOW);
	EXPECT_EQ(1, run->if_flag);
	EXPECT_EQ(1, run->ready_for_interrupt);
	run->request_interrupt_window = 0;
	ASSERT_EQ(0, inject(self->vcpu, HVLAB_EVENT_INTERRUPT, IRQ_VECTOR, 0, 0));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 2);

	/* HLT exits; the interrupt injected then wakes it. */
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_HLT);
	EXPECT_EQ(1, run->if_flag);
	ASSERT_EQ(0, inject(self->vcpu, HVLAB_EVENT_INTERRUPT, IRQ_VECTOR, 0, 0));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 3);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_HARNESS_MAIN
