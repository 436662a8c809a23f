// SPDX-License-Identifier: GPL-2.0
/*
 * test_msr_fidelity.c - what standard test kernels expect of the CPU and
 * found missing, on both vendors:
 *
 *   tsc        WRMSR IA32_TSC makes RDTSC read from the written value on
 *              (SDM Vol. 3B 18.17), forwards and backwards; IA32_TSC_ADJUST
 *              follows the write and moves the TSC when written itself
 *              (18.17.3), when the guest's CPUID offers it.
 *   k7_perf    the legacy AMD performance MSRs C001_0000h-C001_0007h read 0
 *              and take writes without #GP, as under KVM without a PMU.
 *   rf         the #GP hvlab injects for an MSR it does not know pushes
 *              RFLAGS with RF set (SDM Vol. 3B 18.3.1.1: every fault but
 *              an instruction breakpoint does); the emulated CPU's own #GP
 *              is logged beside it.
 *
 * The TSC bounds are in TSC ticks, not host time: a write that is ignored
 * leaves the TSC 2^48 (or more) ticks away from the value checked, while
 * everything between a write and the next RDTSC is a few exits, far below
 * the 2^36 ticks allowed (tens of seconds even at 3.5 GHz).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include "kselftest_harness.h"
#include "guest.h"

#define MSR_TSC		0x10u
#define MSR_TSC_ADJUST	0x3bu
#define MSR_K7_EVNTSEL0	0xc0010000u
#define MSR_UNKNOWN	0x12345678u	/* in no vendor's list, nor hvlab's */
#define SLACK		(1ull << 36)
#define FAR		(1ull << 48)
#define RFLAGS_RF	(1ull << 16)

GUEST_INLINE uint64_t guest_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return lo | (uint64_t)hi << 32;
}

/* ---------------------------------------------------------------------------
 * tsc
 */

GUEST_CODE static void guest_tsc(uint64_t unused0, uint64_t unused1)
{
	uint32_t a, b, c, d;
	uint64_t before, t, x, adj;
	bool has_adjust;

	(void)unused0;
	(void)unused1;
	guest_cpuid(7, 0, &a, &b, &c, &d);
	has_adjust = b & (1u << 1);

	/* Forward, far beyond where the TSC is. */
	before = guest_rdtsc();
	x = before + FAR;
	GUEST_ASSERT_EQ(0, guest_wrmsr_safe(MSR_TSC, x));
	t = guest_rdtsc();
	GUEST_ASSERT(t >= x);
	GUEST_ASSERT(t - x < SLACK);
	t = guest_rdmsr(MSR_TSC);
	GUEST_ASSERT(t >= x && t - x < SLACK);
	if (has_adjust) {
		/* TSC_ADJUST moved by what the write added: x minus the TSC then. */
		adj = guest_rdmsr(MSR_TSC_ADJUST);
		GUEST_ASSERT(adj <= x - before);
		GUEST_ASSERT(x - before - adj < SLACK);
	}

	/* Backwards, to a small value. */
	GUEST_ASSERT_EQ(0, guest_wrmsr_safe(MSR_TSC, 0x1000));
	t = guest_rdtsc();
	GUEST_ASSERT(t >= 0x1000 && t - 0x1000 < SLACK);

	if (has_adjust) {
		/* Writing TSC_ADJUST moves the TSC by the difference. */
		adj = guest_rdmsr(MSR_TSC_ADJUST);
		before = guest_rdtsc();
		GUEST_ASSERT_EQ(0, guest_wrmsr_safe(MSR_TSC_ADJUST, adj + FAR));
		t = guest_rdtsc();
		GUEST_ASSERT(t - before >= FAR && t - before - FAR < SLACK);
		GUEST_ASSERT_EQ(adj + FAR, guest_rdmsr(MSR_TSC_ADJUST));
		/* And back to 0: the TSC loses the whole adjustment again. */
		before = guest_rdtsc();
		GUEST_ASSERT_EQ(0, guest_wrmsr_safe(MSR_TSC_ADJUST, 0));
		t = guest_rdtsc();
		GUEST_ASSERT(before - t <= adj + FAR && adj + FAR - (before - t) < SLACK);
	}
	GUEST_SYNC(has_adjust);
}

FIXTURE(msr) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_SETUP(msr)
{
	HVT_SETUP_VM_VCPU(0);
}

FIXTURE_TEARDOWN(msr)
{
	hvt_vm_free(self->vm);
}

TEST_F(msr, tsc)
{
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, (void *)guest_tsc, 0, 0));
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	TH_LOG("IA32_TSC_ADJUST %s", uc.args[0] ? "offered by CPUID and checked"
						: "not offered by CPUID: TSC writes only");
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* ---------------------------------------------------------------------------
 * k7_perf
 */

GUEST_CODE static void guest_k7_perf(uint64_t unused0, uint64_t unused1)
{
	uint64_t v;
	uint32_t i;

	(void)unused0;
	(void)unused1;
	for (i = 0; i < 8; i++) {
		v = ~0ull;
		GUEST_ASSERT_EQ(0, guest_rdmsr_safe(MSR_K7_EVNTSEL0 + i, &v));
		GUEST_ASSERT_EQ(0, v);
		GUEST_ASSERT_EQ(0, guest_wrmsr_safe(MSR_K7_EVNTSEL0 + i, 0));
		/* KVM 6.1 without a PMU drops nonzero writes too; still reads 0. */
		GUEST_ASSERT_EQ(0, guest_wrmsr_safe(MSR_K7_EVNTSEL0 + i, 0x12345));
		GUEST_ASSERT_EQ(0, guest_rdmsr_safe(MSR_K7_EVNTSEL0 + i, &v));
		GUEST_ASSERT_EQ(0, v);
	}
	/* One past the range is still unknown: #GP. */
	GUEST_ASSERT_EQ(GP_VECTOR, guest_rdmsr_safe(MSR_K7_EVNTSEL0 + 8, &v));
	GUEST_DONE();
}

TEST_F(msr, k7_perf)
{
	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, (void *)guest_k7_perf, 0, 0));
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* ---------------------------------------------------------------------------
 * rf
 */

/* What the #GP handler saw: pushed RFLAGS, one slot per fault. */
static uint64_t guest_gp_rflags[2];
static unsigned int guest_gp_count;

GUEST_CODE static void guest_gp_handler(struct guest_ex_regs *regs)
{
	if (guest_gp_count < 2)
		guest_gp_rflags[guest_gp_count] = regs->rflags;
	guest_gp_count++;
	regs->rip += regs->r10;		/* the faulting instruction's length */
}

GUEST_CODE static void guest_rf(uint64_t unused0, uint64_t unused1)
{
	(void)unused0;
	(void)unused1;
	/* #GP raised by the CPU itself: a load from a non-canonical address... */
	asm volatile("mov $3, %%r10\n\t"
		     "mov (%%rax), %%rax\n\t"	/* 48 8b 00 */
		     : : "a"(0x8000000000000000ull) : "r10", "memory");
	/* ...and the one hvlab injects: RDMSR of an MSR nobody has. */
	asm volatile("mov $2, %%r10\n\t"
		     "rdmsr\n\t"
		     : : "c"(MSR_UNKNOWN) : "rax", "rdx", "r10", "memory");
	GUEST_SYNC_ARGS(guest_gp_count, guest_gp_rflags[0], guest_gp_rflags[1], 0);
}

TEST_F(msr, rf)
{
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, hvt_vm_install_handler(self->vm, GP_VECTOR, guest_gp_handler));
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, (void *)guest_rf, 0, 0));
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(2, uc.args[0]);
	/*
	 * The emulated CPU's own #GP, for comparison only: QEMU 7.2's TCG
	 * pushes RF=0 for faults (it does not implement RF there), Bochs
	 * sets it as the SDM says.
	 */
	TH_LOG("the CPU's own #GP pushed RFLAGS %#llx (RF %s)", (unsigned long long)uc.args[1],
	       uc.args[1] & RFLAGS_RF ? "set" : "clear: the emulator's deviation");
	EXPECT_TRUE(uc.args[2] & RFLAGS_RF)
		TH_LOG("hvlab's injected #GP pushed RFLAGS %#llx without RF",
		       (unsigned long long)uc.args[2]);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_HARNESS_MAIN
