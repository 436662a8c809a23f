// SPDX-License-Identifier: GPL-2.0
/*
 * test_debug.c - #AC and #DB reach the guest, single-step traps after
 * instructions hvlab finishes for the guest, and SET_REGS leaves debug
 * and interrupt state alone; on both vendors.
 *
 *   ac      a CPL 3 misaligned load with CR0.AM and EFLAGS.AC: the guest's
 *           #AC handler runs with error code 0 (SDM Vol. 3A 6.15, APM
 *           Vol. 2 8.2.18), through an exit that HVLAB_GET_EXIT_STATS
 *           counts; and an #AC whose own delivery raises #AC again
 *           (CVE-2015-5307) loops through exits, so RUN stays killable.
 *   db      a data breakpoint (DR0 + DR7), ICEBP (F1h) and TF over a
 *           native instruction reach the guest's #DB handler with the
 *           DR6 the CPU gives (SDM Vol. 3B 18.2.3, 18.3.1), counted as
 *           exception exits (on AMD only since #DB is intercepted).
 *   step    RFLAGS.TF over each kind of instruction hvlab skips or
 *           emulates (CPUID, IN/OUT, RDMSR/WRMSR, MOV DR, MOV CR8,
 *           VMCALL/VMMCALL, HLT, MMIO load/store): one #DB, DR6.BS,
 *           RIP after the instruction, as the CPU would (module/debugreg.c
 *           hv_step_done).  Every userspace exit on the way does a
 *           GET_REGS/SET_REGS round trip, which must not lose the trap.
 *   setregs SET_REGS alone keeps the STI shadow (the instruction after
 *           STI exits to userspace unfinished, and still runs before the
 *           waiting interrupt after a GET_REGS/SET_REGS) and the guest's
 *           breakpoints.
 *
 * Under QEMU's TCG (the AMD PC) three of them skip, each saying why: it
 * raises no #AC (it ignores EFLAGS.AC), has no ICEBP (F1h is #UD), and
 * saves no STI shadow in the VMCB at a nested page fault.  The same
 * tests run on the Intel PC (Bochs), which has all three.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>

#include "kselftest_harness.h"
#include "guest.h"

#define DR6_RESET	0xffff0ff0ull
#define DR6_BS		(1ull << 14)
#define DR7_RESET	0x400ull
#define TF		(1ull << 8)
#define IF		(1ull << 9)
#define IOPL3		(3ull << 12)
#define EFLAGS_AC	(1ull << 18)
#define CR0_AM		(1ull << 18)
#define AC_VECTOR	17
#define DB_VECTOR	1

#define GUEST_GET_DR(n) ({ uint64_t __v; asm volatile("mov %%dr" #n ", %0" : "=r"(__v)); __v; })
#define GUEST_SET_DR(n, v) asm volatile("mov %0, %%dr" #n : : "r"((uint64_t)(v)) : "memory")

static uint64_t exception_exits(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu)
{
	struct hvlab_exit_stats st;

	int ret = hvlab_get_exit_stats(vcpu->fd, &st);

	EXPECT_EQ(0, ret) TH_LOG("GET_EXIT_STATS: %s", strerror(-ret));
	return ret ? 0 : st.count[HVLAB_STAT_EXCEPTION];
}

/* QEMU's TCG, whose quirks below are skipped, answers CPUID 4000_0000h so. */
static bool under_qemu_tcg(void)
{
	uint32_t a, sig[3];

	hvt_cpuid(0x40000000, 0, &a, &sig[0], &sig[1], &sig[2]);
	return !memcmp(sig, "TCGTCGTCGTCG", 12);
}

/* A GET_REGS/SET_REGS round trip, as a VMM that syncs registers does. */
static void regs_round_trip(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu)
{
	struct hvlab_regs r;

	ASSERT_EQ(0, hvlab_get_regs(vcpu->fd, &r));
	ASSERT_EQ(0, hvlab_set_regs(vcpu->fd, &r));
}

FIXTURE(dbg) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_SETUP(dbg)
{
	HVT_SETUP_VM_VCPU(HVT_VM_PC_HOLE);
}

FIXTURE_TEARDOWN(dbg)
{
	hvt_vm_free(self->vm);
}

/* ---------------------------------------------------------------------------
 * ac: 32-bit protected mode, paging off, the code running at CPL 3
 */

/* A misaligned 4-byte load; the ucall after it means no #AC came. */
#define AC_BODY						\
	"mov $0x7001, %ebx\n"				\
	"ac_load:\n"					\
	"mov (%ebx), %eax\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"hlt\n"
HVT_ASM(ac_code, 32, AC_BODY);
extern const char ac_load[];

/*
 * Enter @code at CPL 3 with CR0.AM, EFLAGS.AC and IOPL 3 (so the ucall's
 * OUT works there).  The descriptors in the GDT stay DPL 0: only the
 * segment caches say CPL 3, and an exception delivered to the library's
 * 32-bit stubs (a DPL 0 code segment) switches to SS0:ESP0 of the TSS.
 */
static void enter_cpl3(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu,
		       const struct hvt_code *code, uint64_t rsp)
{
	struct hvt_vm *vm = vcpu->vm;
	struct hvlab_sregs sr;
	struct hvlab_regs r;

	ASSERT_EQ(0, hvt_vcpu_enter_raw(vcpu, HVT_MODE_PROT32, code));
	/* 32-bit TSS: ESP0 at 4, SS0 at 8 (SDM Vol. 3A 8.2.1). */
	*(uint32_t *)(vm->mem + vm->tss + 4) = vcpu->stack_top;
	*(uint32_t *)(vm->mem + vm->tss + 8) = 0x10;
	ASSERT_EQ(0, hvlab_get_sregs(vcpu->fd, &sr));
	sr.cr0 |= CR0_AM;
	sr.cs.selector |= 3;
	sr.cs.dpl = 3;
	sr.ss.selector |= 3;
	sr.ss.dpl = 3;
	sr.ds = sr.es = sr.fs = sr.gs = sr.ss;
	ASSERT_EQ(0, hvlab_set_sregs(vcpu->fd, &sr));
	ASSERT_EQ(0, hvlab_get_regs(vcpu->fd, &r));
	r.rflags |= EFLAGS_AC | IOPL3;
	r.rsp = rsp;
	ASSERT_EQ(0, hvlab_set_regs(vcpu->fd, &r));
}

static const struct hvt_code ac_prog = { ac_code, ac_code_end };

TEST_F(dbg, ac_cpl3)
{
	uint64_t at = hvt_raw_gpa(&ac_prog, ac_load), before;
	struct ucall uc;
	int cmd;

	HVT_SKIPPED_IN_SETUP();
	enter_cpl3(_metadata, self->vcpu, &ac_prog, HVT_RAW_DATA_GPA + 0x800);
	before = exception_exits(_metadata, self->vcpu);
	ASSERT_EQ(0, hvt_vcpu_run(self->vcpu));
	cmd = hvt_get_ucall(self->vcpu, &uc);
	if (cmd == UCALL_SYNC && under_qemu_tcg())
		SKIP(return, "the misaligned CPL 3 load completed: QEMU's TCG raises no #AC (it ignores EFLAGS.AC)");
	ASSERT_EQ(UCALL_EXCEPTION, cmd);
	EXPECT_EQ(AC_VECTOR, uc.args[0]) TH_LOG("vector %s", hvt_vector_name(uc.args[0]));
	EXPECT_EQ(0, uc.args[1]) TH_LOG("#AC error code %#llx, not 0",
					(unsigned long long)uc.args[1]);
	EXPECT_EQ(at, uc.args[2]) TH_LOG("#AC at %#llx, not at the load %#llx",
					 (unsigned long long)uc.args[2], (unsigned long long)at);
	EXPECT_LT(before, exception_exits(_metadata, self->vcpu))
		TH_LOG("the #AC did not exit: no exception intercept counted");
}

/*
 * CVE-2015-5307: vector 17 goes to a CPL 3 handler (a DPL 3 code segment,
 * so no stack switch) and ESP is misaligned, so delivering the #AC
 * pushes its frame misaligned at CPL 3 and raises #AC again.  Without the
 * intercept the CPU loops in microcode and the host CPU is gone; with it
 * every round is an exit and a signal ends RUN.  The timer only ends the
 * loop; nothing here is timed.
 */
static void on_alarm(int sig)
{
	(void)sig;
}

TEST_F(dbg, ac_during_ac_delivery)
{
	uint64_t *gdt = (uint64_t *)(self->vm->mem + self->vm->gdt);
	uint8_t *gate = self->vm->mem + self->vm->idt32 + 8 * AC_VECTOR;
	struct itimerval it = { .it_interval = { 0, 50000 }, .it_value = { 0, 300000 } };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval off = { 0 };
	struct hvlab_sregs sr;
	uint64_t before, after;
	struct ucall uc;
	int ret;

	HVT_SKIPPED_IN_SETUP();
	/* First: does this CPU raise #AC at all? */
	enter_cpl3(_metadata, self->vcpu, &ac_prog, HVT_RAW_DATA_GPA + 0x800);
	ASSERT_EQ(0, hvt_vcpu_run(self->vcpu));
	if (hvt_get_ucall(self->vcpu, &uc) == UCALL_SYNC && under_qemu_tcg())
		SKIP(return, "QEMU's TCG raises no #AC (it ignores EFLAGS.AC)");

	/* GDT entry 7 (0x38): flat 32-bit code, DPL 3; the gate to it DPL 3. */
	gdt[7] = 0x00cffb000000ffffull;
	gate[2] = 0x3b;
	gate[3] = 0;
	gate[5] = 0xee;		/* P, DPL 3, 32-bit interrupt gate */
	enter_cpl3(_metadata, self->vcpu, &ac_prog, HVT_RAW_DATA_GPA + 0x801);
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	sr.gdt.limit = 8 * 8 - 1;
	ASSERT_EQ(0, hvlab_set_sregs(self->vcpu->fd, &sr));

	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	before = exception_exits(_metadata, self->vcpu);
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	ret = hvlab_run(self->vcpu->fd);
	setitimer(ITIMER_REAL, &off, NULL);
	after = exception_exits(_metadata, self->vcpu);
	EXPECT_EQ(-EINTR, ret) TH_LOG("RUN: %d, exit %u", ret, self->vcpu->run->exit_reason);
	EXPECT_LE(before + 2, after) TH_LOG("%llu #AC exits: the loop did not go through exits",
					    (unsigned long long)(after - before));
	TH_LOG("%llu #AC exits until the signal", (unsigned long long)(after - before));
}

/* ---------------------------------------------------------------------------
 * db and step: 64-bit C guests with a #DB handler
 */

static volatile uint64_t db_count, db_dr6, db_rip;
static volatile uint32_t watched;

GUEST_CODE static void guest_db_handler(struct guest_ex_regs *regs)
{
	db_count++;
	db_dr6 = GUEST_GET_DR(6);
	db_rip = regs->rip;
	regs->rflags &= ~TF;
	GUEST_SET_DR(6, DR6_RESET);
}

enum step_kind {
	STEP_NATIVE,		/* a NOP: the CPU's own trap */
	STEP_ICEBP,		/* no step: INT1's own #DB */
	STEP_CPUID,
	STEP_IN,		/* finished after userspace answered */
	STEP_OUT,
	STEP_RDMSR,
	STEP_WRMSR,
	STEP_MOV_DR,
	STEP_MOV_CR8,		/* exits on VMX (CR8-load exiting); native on SVM */
	STEP_HYPERCALL,		/* VMCALL or VMMCALL */
	STEP_HLT,		/* IF=0: to userspace, which just runs it again */
	STEP_MMIO_LOAD,		/* finished after userspace answered */
	STEP_MMIO_STORE,
};

#define STEP_PORT	0x80
#define STEP_MMIO	HVT_PC_HOLE_START
/* TF on with POPF: the trap comes after the instruction that follows. */
#define TF_ON	"lea 1f(%%rip), %[l]\n\tpushfq\n\torq $0x100, (%%rsp)\n\tpopfq\n\t"
#define TF_END	"\n1:\n\t"

GUEST_CODE static void guest_step(uint64_t kind, uint64_t amd)
{
	uint64_t l = 0, a = 0, c = 0x174, d = 0, b = 0;	/* 0x174: SYSENTER_CS */

	GUEST_SET_DR(6, DR6_RESET);
	db_count = 0;
	switch (kind) {
	case STEP_NATIVE:
		asm volatile(TF_ON "nop" TF_END : [l] "=&r"(l) : : "memory");
		break;
	case STEP_ICEBP:
		asm volatile("lea 1f(%%rip), %[l]\n\t.byte 0xf1" TF_END : [l] "=&r"(l) : : "memory");
		break;
	case STEP_CPUID:
		asm volatile(TF_ON "cpuid" TF_END
			     : [l] "=&r"(l), "+a"(a), "+c"(c), "=b"(b), "=d"(d) : : "memory");
		break;
	case STEP_IN:
		asm volatile(TF_ON "inb $" __hvt_str(STEP_PORT) ", %%al" TF_END
			     : [l] "=&r"(l), "+a"(a) : : "memory");
		break;
	case STEP_OUT:
		asm volatile(TF_ON "outb %%al, $" __hvt_str(STEP_PORT) TF_END
			     : [l] "=&r"(l) : "a"(a) : "memory");
		break;
	case STEP_RDMSR:
		asm volatile(TF_ON "rdmsr" TF_END
			     : [l] "=&r"(l), "=a"(a), "=d"(d) : "c"(c) : "memory");
		break;
	case STEP_WRMSR:
		a = guest_rdmsr(c);
		asm volatile(TF_ON "wrmsr" TF_END
			     : [l] "=&r"(l) : "a"(a), "d"(0), "c"(c) : "memory");
		break;
	case STEP_MOV_DR:
		asm volatile(TF_ON "mov %%dr7, %[v]" TF_END
			     : [l] "=&r"(l), [v] "=r"(a) : : "memory");
		break;
	case STEP_MOV_CR8:
		asm volatile(TF_ON "mov %[v], %%cr8" TF_END
			     : [l] "=&r"(l) : [v] "r"(0ull) : "memory");
		break;
	case STEP_HYPERCALL:
		if (amd)
			asm volatile(TF_ON "vmmcall" TF_END : [l] "=&r"(l), "+a"(a) : : "memory");
		else
			asm volatile(TF_ON "vmcall" TF_END : [l] "=&r"(l), "+a"(a) : : "memory");
		break;
	case STEP_HLT:
		asm volatile(TF_ON "hlt" TF_END : [l] "=&r"(l) : : "memory");
		break;
	case STEP_MMIO_LOAD:
		asm volatile(TF_ON "movl (%[p]), %%eax" TF_END
			     : [l] "=&r"(l), "=a"(a) : [p] "r"(STEP_MMIO) : "memory");
		break;
	case STEP_MMIO_STORE:
		asm volatile(TF_ON "movl %%eax, (%[p])" TF_END
			     : [l] "=&r"(l) : [p] "r"(STEP_MMIO), "a"(0x5a5a5a5a) : "memory");
		break;
	}
	GUEST_SYNC_ARGS(db_count, db_dr6, db_rip, l);
}

/*
 * Run until the guest's ucall; answer port and MMIO accesses and HLT on
 * the way, each with a GET_REGS/SET_REGS round trip first.
 */
static void run_to_ucall(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu,
			 struct ucall *uc)
{
	struct hvlab_run *run = vcpu->run;
	char buf[512];
	int i, cmd;

	for (i = 0; i < 16; i++) {
		ASSERT_EQ(0, hvt_vcpu_run(vcpu));
		cmd = hvt_get_ucall(vcpu, uc);
		if (cmd == UCALL_SYNC)
			return;
		ASSERT_EQ(UCALL_NONE, cmd) TH_LOG("%s", hvt_exit_str(vcpu, buf, sizeof(buf)));
		regs_round_trip(_metadata, vcpu);
		switch (run->exit_reason) {
		case HVLAB_EXIT_IO:
			ASSERT_EQ(STEP_PORT, run->io.port);
			if (run->io.direction == HVLAB_IO_IN)
				hvt_io_set_data(run, 0x5a);
			break;
		case HVLAB_EXIT_MMIO:
			ASSERT_EQ(STEP_MMIO, run->mmio.phys_addr);
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0x5a, sizeof(run->mmio.data));
			break;
		case HVLAB_EXIT_HLT:
			break;
		default:
			ASSERT_TRUE(false) TH_LOG("%s", hvt_exit_str(vcpu, buf, sizeof(buf)));
		}
	}
	ASSERT_TRUE(false) TH_LOG("no ucall after 16 exits");
}

static void run_step(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu,
		     enum step_kind kind, uint64_t want_dr6)
{
	bool amd = hvt_cpu_vendor() == HVLAB_VENDOR_AMD;
	struct ucall uc;

	ASSERT_EQ(0, hvt_vm_install_handler(vcpu->vm, DB_VECTOR, guest_db_handler));
	ASSERT_EQ(0, hvt_vcpu_enter_c(vcpu, (void *)guest_step, kind, amd));
	run_to_ucall(_metadata, vcpu, &uc);
	EXPECT_EQ(1, uc.args[0]) TH_LOG("%llu #DB, not one", (unsigned long long)uc.args[0]);
	EXPECT_EQ(want_dr6, uc.args[1]) TH_LOG("DR6 %#llx, not %#llx",
					       (unsigned long long)uc.args[1],
					       (unsigned long long)want_dr6);
	EXPECT_EQ(uc.args[3], uc.args[2]) TH_LOG("#DB with RIP %#llx, not after the instruction (%#llx)",
						 (unsigned long long)uc.args[2],
						 (unsigned long long)uc.args[3]);
	HVT_RUN_EXPECT_DONE(vcpu);
}

/* TF over a NOP: the CPU's own trap, through the #DB intercept. */
TEST_F(dbg, tf_native)
{
	uint64_t before;

	HVT_SKIPPED_IN_SETUP();
	before = exception_exits(_metadata, self->vcpu);
	run_step(_metadata, self->vcpu, STEP_NATIVE, DR6_RESET | DR6_BS);
	EXPECT_LT(before, exception_exits(_metadata, self->vcpu))
		TH_LOG("the #DB was not an exception exit");
}

/* ICEBP: a trap with RIP after it and no DR6 status bit (SDM Vol. 3B 18.3). */
TEST_F(dbg, icebp)
{
	uint64_t before;
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	/* QEMU 7.2 builds without ICEBP (its WANT_ICEBP): F1h is #UD there. */
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, (void *)guest_step, STEP_ICEBP, 0));
	ASSERT_EQ(0, hvt_vcpu_run(self->vcpu));
	if (hvt_get_ucall(self->vcpu, &uc) == UCALL_EXCEPTION && uc.args[0] == UD_VECTOR &&
	    under_qemu_tcg())
		SKIP(return, "QEMU's TCG has no ICEBP: F1h raises #UD");
	before = exception_exits(_metadata, self->vcpu);
	run_step(_metadata, self->vcpu, STEP_ICEBP, DR6_RESET);
	EXPECT_LT(before, exception_exits(_metadata, self->vcpu))
		TH_LOG("ICEBP's #DB did not exit");
}

FIXTURE(step) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_VARIANT(step) {
	enum step_kind kind;
};

FIXTURE_VARIANT_ADD(step, cpuid) { .kind = STEP_CPUID };
FIXTURE_VARIANT_ADD(step, in) { .kind = STEP_IN };
FIXTURE_VARIANT_ADD(step, out) { .kind = STEP_OUT };
FIXTURE_VARIANT_ADD(step, rdmsr) { .kind = STEP_RDMSR };
FIXTURE_VARIANT_ADD(step, wrmsr) { .kind = STEP_WRMSR };
FIXTURE_VARIANT_ADD(step, mov_dr) { .kind = STEP_MOV_DR };
FIXTURE_VARIANT_ADD(step, mov_cr8) { .kind = STEP_MOV_CR8 };
FIXTURE_VARIANT_ADD(step, hypercall) { .kind = STEP_HYPERCALL };
FIXTURE_VARIANT_ADD(step, hlt) { .kind = STEP_HLT };
FIXTURE_VARIANT_ADD(step, mmio_load) { .kind = STEP_MMIO_LOAD };
FIXTURE_VARIANT_ADD(step, mmio_store) { .kind = STEP_MMIO_STORE };

FIXTURE_SETUP(step)
{
	HVT_SETUP_VM_VCPU(HVT_VM_PC_HOLE);
}

FIXTURE_TEARDOWN(step)
{
	hvt_vm_free(self->vm);
}

/* One #DB with DR6.BS right after the instruction, whoever finished it. */
TEST_F(step, tf)
{
	HVT_SKIPPED_IN_SETUP();
	run_step(_metadata, self->vcpu, variant->kind, DR6_RESET | DR6_BS);
}

/* ---------------------------------------------------------------------------
 * Data breakpoint, with and without a SET_REGS before it fires
 */

/* L0, R/W0 = 01 (writes), LEN0 = 11 (4 bytes) (SDM Vol. 3B 18.2.4). */
#define DR7_WATCH	0x000d0001ull

GUEST_CODE static void guest_watch(void)
{
	uint64_t l, dr7;

	GUEST_SET_DR(6, DR6_RESET);
	db_count = 0;
	GUEST_SET_DR(0, &watched);
	GUEST_SET_DR(7, DR7_WATCH);
	GUEST_SYNC(0);			/* the host may SET_REGS here */
	dr7 = GUEST_GET_DR(7);
	asm volatile("movl $1, %[w]\n1:\n\tlea 1b(%%rip), %[l]"
		     : [w] "=m"(watched), [l] "=r"(l) : : "memory");
	GUEST_SET_DR(7, DR7_RESET);
	GUEST_SYNC_ARGS(db_count, db_dr6, db_rip, l);
	GUEST_SYNC(dr7);
}

static void run_watch(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu, bool set_regs)
{
	uint64_t before;
	struct ucall uc;

	ASSERT_EQ(0, hvt_vm_install_handler(vcpu->vm, DB_VECTOR, guest_db_handler));
	ASSERT_EQ(0, hvt_vcpu_enter_c(vcpu, (void *)guest_watch, 0, 0));
	HVT_RUN_EXPECT_SYNC(vcpu, 0);
	if (set_regs)
		regs_round_trip(_metadata, vcpu);
	before = exception_exits(_metadata, vcpu);
	HVT_RUN_EXPECT_UCALL(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(1, uc.args[0]) TH_LOG("%llu #DB from the breakpoint, not one",
					(unsigned long long)uc.args[0]);
	EXPECT_EQ(DR6_RESET | 1, uc.args[1]) TH_LOG("DR6 %#llx, not B0",
						     (unsigned long long)uc.args[1]);
	EXPECT_EQ(uc.args[3], uc.args[2]) TH_LOG("#DB with RIP %#llx, not after the store (%#llx)",
						 (unsigned long long)uc.args[2],
						 (unsigned long long)uc.args[3]);
	EXPECT_LT(before, exception_exits(_metadata, vcpu)) TH_LOG("the #DB did not exit");
	HVT_RUN_EXPECT_SYNC(vcpu, DR7_WATCH | DR7_RESET);
	HVT_RUN_EXPECT_DONE(vcpu);
}

TEST_F(dbg, data_breakpoint)
{
	HVT_SKIPPED_IN_SETUP();
	run_watch(_metadata, self->vcpu, false);
}

/* The guest's DR7 survives SET_REGS: the breakpoint still fires. */
TEST_F(dbg, breakpoint_survives_set_regs)
{
	HVT_SKIPPED_IN_SETUP();
	run_watch(_metadata, self->vcpu, true);
}

/* ---------------------------------------------------------------------------
 * An STI shadow across a userspace exit and SET_REGS
 *
 * `sti; mull (A)` with an interrupt waiting: the MUL is the one
 * instruction the shadow covers (SDM Vol. 3A 6.8.3, APM Vol. 2 15.21.5),
 * and A has no memory yet.  hvlab decodes no MUL for MMIO, so the guest
 * exits to userspace (HVLAB_EXIT_INTERNAL) before the MUL has done
 * anything, shadow on.  The test maps RAM at A, queues the interrupt and
 * does GET_REGS/SET_REGS, as a VMM that syncs registers at every exit
 * would.  The MUL must run before the interrupt: the handler then sees
 * the return address after it.  Had SET_REGS dropped the shadow, the
 * interrupt would come before the MUL, exactly the race `sti; hlt`
 * relies on the shadow to close (an interrupt before the HLT is a
 * wake-up the HLT then waits for in vain).
 */
#define SHADOW_CODE_GPA	(HVT_PC_HOLE_START - 0x100)
#define HANDLER_GPA	(HVT_PC_HOLE_START - 0x200)
#define SHADOW_VECTOR	0x30

TEST_F(dbg, sti_shadow_set_regs)
{
	/* handler: mov (%esp), %esi; iret */
	static const uint8_t handler[] = { 0x8b, 0x34, 0x24, 0xcf };
	/*
	 * sti; mull 0xa0000; mov %esi, %ebx; mov $UCALL_SYNC, %al;
	 * out %al, $UCALL_PORT; hlt
	 * (ADD, which this used, is emulated on MMIO since MMIO RMW support.)
	 */
	static const uint8_t code[] = {
		0xfb, 0xf7, 0x25, 0x00, 0x00, 0x0a, 0x00, 0x89, 0xf3,
		0xb0, UCALL_SYNC, 0xe6, UCALL_PORT, 0xf4,
	};
	struct hvlab_event ev = { .type = HVLAB_EVENT_INTERRUPT, .vector = SHADOW_VECTOR };
	struct hvt_vcpu *vcpu = self->vcpu;
	struct hvlab_regs r = { 0 };
	char buf[512];
	struct ucall uc;
	uint8_t *page;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_GE(HANDLER_GPA, self->vm->next_page) TH_LOG("the library's tables reach the code");
	memcpy(self->vm->mem + HANDLER_GPA, handler, sizeof(handler));
	memcpy(self->vm->mem + SHADOW_CODE_GPA, code, sizeof(code));
	ASSERT_EQ(0, hvt_vm_set_gate(self->vm, HVT_MODE_PROT32, SHADOW_VECTOR, HANDLER_GPA));
	ASSERT_EQ(0, hvt_vcpu_set_mode(vcpu, HVT_MODE_PROT32));
	r.rip = SHADOW_CODE_GPA;
	r.rsp = vcpu->stack_top;
	r.rflags = 2;			/* IF=0 */
	ASSERT_EQ(0, hvlab_set_regs(vcpu->fd, &r));

	HVT_RUN_EXPECT_EXIT(vcpu, HVLAB_EXIT_INTERNAL);
	ASSERT_EQ(0, hvlab_get_regs(vcpu->fd, &r));
	ASSERT_EQ(SHADOW_CODE_GPA + 1, r.rip) TH_LOG("not stopped at the MUL after STI");
	ASSERT_TRUE(r.rflags & IF);
	/*
	 * Hardware saves the shadow at this exit and VMRUN loads it again
	 * (APM Vol. 2 15.21.5).  QEMU's TCG keeps none across an exit: its
	 * VMRUN does not load int_state, so a guest there starts without a
	 * shadow whatever the VMCB says (svm/svm_run.S says why hvlab does
	 * not make one with its own STI).
	 */
	if (under_qemu_tcg())
		SKIP(return, "QEMU's TCG neither saves the STI shadow at this exit nor loads it at VMRUN (APM 15.21.5)");
	EXPECT_EQ(0, vcpu->run->ready_for_interrupt) TH_LOG("the STI shadow is not reported");

	page = hvt_alloc_guest_mem(0x1000);
	ASSERT_NE(NULL, page);
	ASSERT_EQ(0, hvt_set_region(self->vm->fd, HVT_FIRST_FREE_SLOT, 0, HVT_PC_HOLE_START,
				    0x1000, (uintptr_t)page));
	ASSERT_EQ(0, hvlab_inject(vcpu->fd, &ev));
	regs_round_trip(_metadata, vcpu);

	ASSERT_EQ(0, hvt_vcpu_run(vcpu));
	ASSERT_EQ(UCALL_SYNC, hvt_get_ucall(vcpu, &uc)) TH_LOG("%s", hvt_exit_str(vcpu, buf, sizeof(buf)));
	EXPECT_EQ(SHADOW_CODE_GPA + 7, uc.args[0])
		TH_LOG("interrupt taken at %#llx, not after the MUL (%#llx): the STI shadow was lost",
		       (unsigned long long)uc.args[0], (unsigned long long)SHADOW_CODE_GPA + 7);
	munmap(page, 0x1000);
}

TEST_HARNESS_MAIN
