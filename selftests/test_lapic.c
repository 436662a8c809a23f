// SPDX-License-Identifier: GPL-2.0
/*
 * test_lapic.c - the in-kernel local APIC (HVLAB_VM_LAPIC, issue 15), on
 * both vendors: registers and their reserved bits, priorities (TPR, PPR,
 * ISR), IPIs between vCPUs with every destination mode and shorthand,
 * INIT/SIPI bring-up, the timer in its three modes with expiry checked
 * against the guest's TSC, x2APIC and the IA32_APIC_BASE switch rules
 * (Intel SDM Vol. 3A chapter 11), HLT waiting in the kernel, MSIs and
 * level-triggered EOI exits, and bad input with a defined result.
 *
 * Guest time is measured with the guest's TSC.  To turn the timer's
 * nanoseconds (1 GHz before the divider, lapic.c) into TSC ticks the test
 * measures the TSC rate once against CLOCK_MONOTONIC on the host (the
 * guest's TSC runs at the host's rate); that rate is a unit, not a bound:
 * every bound is "not before" in guest TSC ticks, or a loop count.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "guest.h"

/* xAPIC registers (SDM Vol. 3A Table 11-1). */
#define XAPIC		0xfee00000ull
#define R_ID		0x20
#define R_LVR		0x30
#define R_TPR		0x80
#define R_APR		0x90
#define R_PPR		0xa0
#define R_EOI		0xb0
#define R_LDR		0xd0
#define R_DFR		0xe0
#define R_SVR		0xf0
#define R_ISR		0x100
#define R_TMR		0x180
#define R_IRR		0x200
#define R_ESR		0x280
#define R_ICR		0x300
#define R_ICR2		0x310
#define R_LVTT		0x320
#define R_LVT0		0x350
#define R_LVT1		0x360
#define R_LVTERR	0x370
#define R_TMICT		0x380
#define R_TMCCT		0x390
#define R_TDCR		0x3e0

#define MSR_APIC_BASE	0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define X2(off)		(0x800 + ((off) >> 4))
#define BASE_BSP	(1u << 8)
#define BASE_EXTD	(1u << 10)
#define BASE_EN		(1u << 11)

#define ICR_FIXED	0x000
#define ICR_LOWEST	0x100
#define ICR_NMI		0x400
#define ICR_INIT	0x500
#define ICR_SIPI	0x600
#define ICR_LOGICAL	0x800
#define ICR_ASSERT	0x4000
#define ICR_LEVEL	0x8000
#define ICR_SELF	0x40000
#define ICR_ALLINC	0x80000
#define ICR_ALLBUT	0xc0000

#define LVT_MASKED	0x10000
#define TIMER_PERIODIC	(1u << 17)
#define TIMER_DEADLINE	(2u << 17)

#define WAIT_LOOPS	200000000ull	/* pause iterations before a wait gives up */

/* ---------------------------------------------------------------------
 * Guest side
 */

GUEST_INLINE uint32_t ar(uint32_t off)
{
	return *(volatile uint32_t *)(XAPIC + off);
}

GUEST_INLINE void aw(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(XAPIC + off) = v;
}

GUEST_INLINE uint64_t g_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | (uint64_t)hi << 32;
}

GUEST_INLINE void g_sti(void) { asm volatile("sti; nop" ::: "memory"); }
GUEST_INLINE void g_cli(void) { asm volatile("cli" ::: "memory"); }
GUEST_INLINE void g_pause(void) { asm volatile("pause" ::: "memory"); }

/* Per APIC ID (0 or 1): interrupts seen by vector, and when. */
static volatile uint64_t g_cnt[2][256];
static volatile uint64_t g_tsc[256];
static volatile uint32_t g_order[32];
static volatile uint32_t g_n;
static volatile uint32_t g_ppr_in;	/* PPR inside the last handler */
static volatile uint32_t g_isr_in;	/* ISR word of the vector, inside */
static volatile int g_x2;		/* EOI and ID through MSRs */
static volatile int g_no_eoi;		/* the handler leaves EOI to the test */
static volatile uint64_t g_flag, g_stop;
static volatile uint64_t g_tsc_per_ms;	/* set by the host */
static uint8_t g_page[4096] __attribute__((aligned(4096)));

GUEST_CODE static void guest_irq(struct guest_ex_regs *r)
{
	uint8_t v = r->vector;
	uint32_t id = g_x2 ? (uint32_t)guest_rdmsr(X2(R_ID)) : ar(R_ID) >> 24;

	g_tsc[v] = g_rdtsc();
	g_cnt[id & 1][v]++;
	if (g_n < 32)
		g_order[g_n++] = v;
	if (v >= 32) {
		g_ppr_in = g_x2 ? (uint32_t)guest_rdmsr(X2(R_PPR)) : ar(R_PPR);
		g_isr_in = g_x2 ? (uint32_t)guest_rdmsr(X2(R_ISR) + v / 32) :
				  ar(R_ISR + (v / 32) * 0x10);
		if (!g_no_eoi) {
			if (g_x2)
				guest_wrmsr(X2(R_EOI), 0);
			else
				aw(R_EOI, 0);
		}
	}
}

/* Interrupts on until @cnt reaches @want (or the loop bound): 1 if it did. */
GUEST_CODE static int guest_wait(volatile uint64_t *cnt, uint64_t want)
{
	uint64_t i;

	g_sti();
	for (i = 0; i < WAIT_LOOPS && *cnt < want; i++)
		g_pause();
	g_cli();
	return *cnt >= want;
}

/* Interrupts on for @ticks of guest TSC, or until @cnt reaches @want: 1 if it did. */
GUEST_CODE static int guest_wait_tsc(volatile uint64_t *cnt, uint64_t want, uint64_t ticks)
{
	uint64_t t0 = g_rdtsc();

	g_sti();
	while (*cnt < want && g_rdtsc() - t0 < ticks)
		g_pause();
	g_cli();
	return *cnt >= want;
}

/* A few hundred instructions with interrupts on: what is deliverable arrives. */
GUEST_CODE static void guest_window(void)
{
	int i;

	g_sti();
	for (i = 0; i < 100; i++)
		g_pause();
	g_cli();
}

GUEST_CODE static void guest_send(uint32_t dest, uint32_t low)
{
	aw(R_ICR2, dest << 24);
	aw(R_ICR, low);
}

/* ---------------------------------------------------------------------
 * Host side
 */

static uint64_t tsc_per_ms(void)
{
	struct timespec a, b;
	uint64_t t0, t1, ns;
	uint32_t lo, hi;

	clock_gettime(CLOCK_MONOTONIC, &a);
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	t0 = lo | (uint64_t)hi << 32;
	usleep(50000);
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	t1 = lo | (uint64_t)hi << 32;
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = (b.tv_sec - a.tv_sec) * 1000000000ull + b.tv_nsec - a.tv_nsec;
	return (t1 - t0) * 1000000ull / ns;
}

FIXTURE(lapic) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_SETUP(lapic)
{
	int sys, cap, r;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	HVT_REQUIRE_RUN();
	sys = hvlab_open();
	ASSERT_LE(0, sys);
	cap = hvlab_check_cap(sys, HVLAB_CAP_LAPIC);
	close(sys);
	ASSERT_EQ(1, cap) TH_LOG("HVLAB_CAP_LAPIC");
	r = hvt_vm_create(0, HVT_VM_LAPIC, &self->vm);
	ASSERT_EQ(0, r) TH_LOG("VM: %s", strerror(-r));
	r = hvt_vcpu_add(self->vm, 0, &self->vcpu);
	ASSERT_EQ(0, r) TH_LOG("vCPU: %s", strerror(-r));
	for (r = 2; r < 256; r++)
		if (r != 8 && r != 13 && r != 14)
			hvt_vm_install_handler(self->vm, r, guest_irq);
	*hvt_guest_ptr(self->vm, &g_tsc_per_ms) = tsc_per_ms();
}

FIXTURE_TEARDOWN(lapic)
{
	hvt_vm_free(self->vm);
}

/* Run @vcpu to GUEST_DONE, reporting a guest assertion the usual way. */
#define RUN_DONE(vcpu) HVT_RUN_EXPECT_DONE(vcpu)

/* ---------------------------------------------------------------------
 * CPUID and a VM without the APIC
 */

GUEST_CODE static void guest_cpuid_apic(void)
{
	uint32_t a, b, c, d;

	guest_cpuid(1, 0, &a, &b, &c, &d);
	GUEST_ASSERT(d & (1u << 9));		/* APIC */
	GUEST_ASSERT(c & (1u << 21));		/* x2APIC */
	GUEST_ASSERT(c & (1u << 24));		/* TSC-deadline */
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_APIC_BASE), XAPIC | BASE_EN | BASE_BSP);
	/* APIC globally disabled: CPUID.1:EDX.APIC follows (SDM Vol. 3A 11.4.3). */
	guest_wrmsr(MSR_APIC_BASE, XAPIC | BASE_BSP);
	guest_cpuid(1, 0, &a, &b, &c, &d);
	GUEST_ASSERT(!(d & (1u << 9)));
	GUEST_DONE();
}

TEST_F(lapic, cpuid_shows_apic)
{
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_cpuid_apic, 0, 0));
	RUN_DONE(self->vcpu);
}

GUEST_CODE static void guest_cpuid_noapic(void)
{
	uint32_t a, b, c, d;

	guest_cpuid(1, 0, &a, &b, &c, &d);
	GUEST_ASSERT(!(c & (1u << 21)));	/* today's default: no x2APIC, */
	GUEST_ASSERT(!(c & (1u << 24)));	/* no TSC-deadline */
	guest_hlt();
	GUEST_DONE();
}

/* Without HVLAB_VM_LAPIC nothing changes: no x2APIC in CPUID, HLT exits, -ENXIO. */
TEST(no_apic_vm_unchanged)
{
	struct hvlab_lapic_state st;
	struct hvlab_mp_state mp;
	struct hvlab_msi msi = { .address = XAPIC, .data = 0x40 };
	struct hvt_vcpu *vcpu;
	struct hvt_vm *vm;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	HVT_REQUIRE_RUN();
	ASSERT_EQ(0, hvt_vm_create(0, 0, &vm));
	ASSERT_EQ(0, hvt_vcpu_add(vm, 0, &vcpu));
	EXPECT_EQ(-1, ioctl(vcpu->fd, HVLAB_GET_LAPIC, &st));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, ioctl(vcpu->fd, HVLAB_GET_MP_STATE, &mp));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, ioctl(vm->fd, HVLAB_SIGNAL_MSI, &msi));
	EXPECT_EQ(ENXIO, errno);
	ASSERT_EQ(0, hvt_vcpu_enter_c(vcpu, guest_cpuid_noapic, 0, 0));
	HVT_RUN_EXPECT_EXIT(vcpu, HVLAB_EXIT_HLT);
	HVT_RUN_EXPECT_DONE(vcpu);
	hvt_vm_free(vm);
}

/* ---------------------------------------------------------------------
 * Registers (SDM Vol. 3A 11.4-11.9)
 */

GUEST_CODE static void guest_xapic_regs(void)
{
	GUEST_ASSERT_EQ(ar(R_ID), 0);
	GUEST_ASSERT_EQ(ar(R_LVR), 0x50014);
	/* Power-up (11.4.7.1): DFR all ones, SVR FFh, LVTs masked; BSP LINT0 ExtINT. */
	GUEST_ASSERT_EQ(ar(R_DFR), 0xffffffff);
	GUEST_ASSERT_EQ(ar(R_SVR), 0xff);
	GUEST_ASSERT_EQ(ar(R_LVTT), LVT_MASKED);
	GUEST_ASSERT_EQ(ar(R_LVT1), LVT_MASKED);
	GUEST_ASSERT_EQ(ar(R_LVT0), 0x700);
	GUEST_ASSERT_EQ(ar(R_TPR), 0);
	GUEST_ASSERT_EQ(ar(R_TMICT), 0);
	GUEST_ASSERT_EQ(ar(R_TMCCT), 0);
	/* Software disabled: an LVT stays masked (11.4.7.2). */
	aw(R_LVTT, 0x20);
	GUEST_ASSERT_EQ(ar(R_LVTT), LVT_MASKED | 0x20);
	aw(R_SVR, 0xffffffff);
	GUEST_ASSERT_EQ(ar(R_SVR), 0x3ff);
	aw(R_SVR, 0x1ff);
	aw(R_LVTT, 0x20);
	GUEST_ASSERT_EQ(ar(R_LVTT), 0x20);
	/* Reserved bits read back as 0. */
	aw(R_TPR, 0xffffffff);
	GUEST_ASSERT_EQ(ar(R_TPR), 0xff);
	GUEST_ASSERT_EQ(ar(R_PPR), 0xff);	/* PPR = TPR with ISR empty (11.8.3.1) */
	aw(R_TPR, 0x35);
	GUEST_ASSERT_EQ(ar(R_PPR), 0x35);
	GUEST_ASSERT_EQ(ar(R_APR), 0x35);
	aw(R_TPR, 0);
	aw(R_LDR, 0xffffffff);
	GUEST_ASSERT_EQ(ar(R_LDR), 0xff000000);
	aw(R_DFR, 0);
	GUEST_ASSERT_EQ(ar(R_DFR), 0x0fffffff);
	aw(R_ICR2, 0xffffffff);
	GUEST_ASSERT_EQ(ar(R_ICR2), 0xff000000);
	aw(R_LVTERR, 0xffffffff);
	GUEST_ASSERT_EQ(ar(R_LVTERR), 0x100ff);
	aw(R_LVT1, 0xffffffff);
	GUEST_ASSERT_EQ(ar(R_LVT1), 0x1a7ff);	/* delivery status, remote IRR: read-only */
	aw(R_LVTT, 0xffffffff);			/* timer mode 11b is reserved: dropped */
	GUEST_ASSERT_EQ(ar(R_LVTT), 0x20);
	aw(R_TDCR, 0xffffffff);
	GUEST_ASSERT_EQ(ar(R_TDCR), 0xb);
	/* Read-only and write-only registers. */
	aw(R_LVR, 0);
	GUEST_ASSERT_EQ(ar(R_LVR), 0x50014);
	GUEST_ASSERT_EQ(ar(R_EOI), 0);
	/* Stores other than 4 aligned bytes are dropped. */
	*(volatile uint16_t *)(XAPIC + R_TPR) = 0x44;
	*(volatile uint32_t *)(XAPIC + R_TPR + 4) = 0x44;
	GUEST_ASSERT_EQ(ar(R_TPR), 0);
	/* A byte load inside a register reads those bytes. */
	GUEST_ASSERT_EQ(*(volatile uint8_t *)(XAPIC + R_LVR + 2), 5);
	/* ESR (11.5.3): a send of vector 3 is an error; a write latches it. */
	aw(R_ESR, 0);
	GUEST_ASSERT_EQ(ar(R_ESR), 0);
	guest_send(0, ICR_SELF | ICR_FIXED | 3);
	GUEST_ASSERT_EQ(ar(R_ESR), 0);
	aw(R_ESR, 0);
	GUEST_ASSERT_EQ(ar(R_ESR), 0x20);	/* send illegal vector */
	aw(R_ESR, 0);
	GUEST_ASSERT_EQ(ar(R_ESR), 0);
	GUEST_ASSERT_EQ(ar(R_ICR) & 0x1000, 0);	/* delivery status idle */
	GUEST_DONE();
}

TEST_F(lapic, xapic_registers)
{
	struct hvlab_lapic_state st;
	struct hvlab_apic_stats as;

	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_xapic_regs, 0, 0));
	RUN_DONE(self->vcpu);
	ASSERT_EQ(0, ioctl(self->vcpu->fd, HVLAB_GET_LAPIC, &st));
	EXPECT_EQ(0x1ffu, *(uint32_t *)&st.regs[R_SVR]);
	EXPECT_EQ(0x0fffffffu, *(uint32_t *)&st.regs[R_DFR]);
	ASSERT_EQ(0, ioctl(self->vcpu->fd, HVLAB_GET_APIC_STATS, &as));
	EXPECT_LE(5u, as.writes[R_TPR >> 4]);
	EXPECT_LE(2u, as.reads[R_LVR >> 4]);
}

/* ---------------------------------------------------------------------
 * Priorities: TPR, PPR, ISR (SDM Vol. 3A 11.8.3-11.8.5)
 */

GUEST_CODE static void guest_priority(void)
{
	g_no_eoi = 1;
	aw(R_SVR, 0x1ff);
	g_cli();
	guest_send(0, ICR_SELF | 0x40);
	guest_send(0, ICR_SELF | 0x80);
	GUEST_ASSERT_EQ(ar(R_IRR + 0x20), 1u);		/* 0x40 */
	GUEST_ASSERT_EQ(ar(R_IRR + 0x40), 1u);		/* 0x80 */
	/* TPR class 9 blocks both (class 8 and 4). */
	aw(R_TPR, 0x90);
	guest_window();
	GUEST_ASSERT_EQ(g_n, 0);
	GUEST_ASSERT_EQ(ar(R_APR), 0x90);
	/* TPR 50h: 80h comes; while it is in service (no EOI), 40h does not. */
	aw(R_TPR, 0x50);
	guest_window();
	GUEST_ASSERT_EQ(g_n, 1);
	GUEST_ASSERT_EQ(g_order[0], 0x80);
	GUEST_ASSERT_EQ(g_ppr_in, 0x80);
	GUEST_ASSERT_EQ(g_isr_in, 1u);
	GUEST_ASSERT_EQ(ar(R_ISR + 0x40), 1u);
	GUEST_ASSERT_EQ(ar(R_PPR), 0x80);
	GUEST_ASSERT_EQ(ar(R_IRR + 0x40), 0);
	aw(R_EOI, 0);
	GUEST_ASSERT_EQ(ar(R_ISR + 0x40), 0);
	GUEST_ASSERT_EQ(ar(R_PPR), 0x50);
	guest_window();				/* TPR 50h still blocks 40h */
	GUEST_ASSERT_EQ(g_n, 1);
	/* CR8 is TPR[7:4] (11.8.6): lowering it lets 40h in. */
	asm volatile("mov %0, %%cr8" : : "r"(0ull));
	GUEST_ASSERT_EQ(ar(R_TPR), 0);
	guest_window();
	GUEST_ASSERT_EQ(g_n, 2);
	GUEST_ASSERT_EQ(g_order[1], 0x40);
	aw(R_EOI, 0);
	GUEST_ASSERT_EQ(ar(R_ISR + 0x20), 0);
	aw(R_TPR, 0xa0);
	{
		uint64_t cr8;

		asm volatile("mov %%cr8, %0" : "=r"(cr8));
		GUEST_ASSERT_EQ(cr8, 0xa);
	}
	GUEST_DONE();
}

TEST_F(lapic, priority_tpr_ppr_isr)
{
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_priority, 0, 0));
	RUN_DONE(self->vcpu);
}

/* ---------------------------------------------------------------------
 * Timer (SDM Vol. 3A 11.5.4)
 */

/* One-shot of @count at divide @tdcr: TSC ticks to the interrupt. */
GUEST_CODE static uint64_t guest_oneshot(uint32_t count, uint32_t tdcr)
{
	uint64_t t0, before = g_cnt[0][0x50];
	uint32_t c1, c2;

	aw(R_TDCR, tdcr);
	aw(R_LVTT, 0x50);
	t0 = g_rdtsc();
	aw(R_TMICT, count);
	c1 = ar(R_TMCCT);
	c2 = ar(R_TMCCT);
	GUEST_ASSERT(c1 <= count && c2 <= c1);	/* counts down */
	GUEST_ASSERT(guest_wait(&g_cnt[0][0x50], before + 1));
	GUEST_ASSERT_EQ(ar(R_TMCCT), 0);		/* one-shot: stays at 0 */
	return g_tsc[0x50] - t0;
}

GUEST_CODE static void guest_timer_oneshot(void)
{
	uint64_t ms = g_tsc_per_ms, d1, d16;

	aw(R_SVR, 0x1ff);
	d1 = guest_oneshot(2000000, 0xb);		/* 2 ms at divide 1 */
	d16 = guest_oneshot(250000, 0x3);		/* 250000 * 16 = 4 ms */
	/* Never early: at least the programmed time in guest TSC ticks. */
	GUEST_ASSERT(d1 >= 2 * ms * 99 / 100);
	GUEST_ASSERT(d16 >= 4 * ms * 99 / 100);
	GUEST_SYNC_ARGS(d1, d16, ms, 0);
	GUEST_DONE();
}

TEST_F(lapic, timer_oneshot_divide)
{
	struct ucall uc;

	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_timer_oneshot, 0, 0));
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	TH_LOG("one-shot 2 ms: %lu TSC, 4 ms (divide 16): %lu TSC, %lu TSC/ms",
	       uc.args[0], uc.args[1], uc.args[2]);
	RUN_DONE(self->vcpu);
}

GUEST_CODE static void guest_timer_periodic(void)
{
	uint64_t ms = g_tsc_per_ms, t0, i, prev;

	aw(R_SVR, 0x1ff);
	aw(R_TDCR, 0xb);
	aw(R_LVTT, TIMER_PERIODIC | 0x51);
	t0 = g_rdtsc();
	aw(R_TMICT, 1000000);				/* 1 ms */
	for (i = 1; i <= 4; i++) {
		/* The i-th period ends no earlier than t0 + i ms (late ones are not queued). */
		GUEST_ASSERT(guest_wait(&g_cnt[0][0x51], i));
		GUEST_ASSERT(g_tsc[0x51] - t0 >= i * ms * 99 / 100);
		/* Periodic: the count reloads, it does not stay at 0. */
		GUEST_ASSERT(ar(R_TMCCT) <= 1000000);
	}
	aw(R_TMICT, 0);					/* stops it */
	prev = g_cnt[0][0x51];
	guest_wait_tsc(&g_cnt[0][0x51], prev + 2, 5 * ms);	/* 5 periods */
	GUEST_ASSERT(g_cnt[0][0x51] <= prev + 1);	/* one may have been on its way */
	/* Masked: the count runs out, no interrupt (11.5.4). */
	aw(R_LVTT, LVT_MASKED | 0x52);
	aw(R_TMICT, 1000);
	for (i = 0; i < WAIT_LOOPS && ar(R_TMCCT); i++)
		g_pause();
	guest_window();
	GUEST_ASSERT_EQ(g_cnt[0][0x52], 0);
	GUEST_DONE();
}

TEST_F(lapic, timer_periodic_and_masked)
{
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_timer_periodic, 0, 0));
	RUN_DONE(self->vcpu);
}

/*
 * Arm a TSC deadline 20 ms out and disarm it at once, by writing 0 to the
 * MSR (@how 0) or by leaving TSC-deadline mode and coming back (@how 1,
 * 11.5.4.1); then watch 25 ms for an interrupt that must not come.  The
 * guest's TSC follows the host's clock, so a host that stalls this vCPU
 * past the deadline between the two steps makes a fire legitimate: such
 * an attempt proves nothing and is made again, after an interrupt window
 * lets what it may have fired arrive.
 */
GUEST_CODE static void guest_deadline_disarms(int how)
{
	uint64_t ms = g_tsc_per_ms, t, n;
	int i;

	for (i = 0; i < 8; i++) {
		guest_window();
		n = g_cnt[0][0x53];
		t = g_rdtsc();
		guest_wrmsr(MSR_TSC_DEADLINE, t + 20 * ms);
		if (how) {
			aw(R_LVTT, 0x53);
			aw(R_LVTT, TIMER_DEADLINE | 0x53);
			GUEST_ASSERT_EQ(guest_rdmsr(MSR_TSC_DEADLINE), 0);
		} else {
			guest_wrmsr(MSR_TSC_DEADLINE, 0);
		}
		if (g_rdtsc() - t < 20 * ms)
			break;
	}
	GUEST_ASSERT(i < 8);
	guest_wait_tsc(&g_cnt[0][0x53], n + 1, 25 * ms);
	GUEST_ASSERT_EQ(g_cnt[0][0x53], n);
}

GUEST_CODE static void guest_timer_deadline(void)
{
	uint64_t ms = g_tsc_per_ms, dl, v;

	aw(R_SVR, 0x1ff);
	/* Outside TSC-deadline mode the MSR reads 0 and ignores writes (11.5.4.1). */
	guest_wrmsr(MSR_TSC_DEADLINE, g_rdtsc() + ms);
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_TSC_DEADLINE), 0);
	aw(R_LVTT, TIMER_DEADLINE | 0x53);
	aw(R_TMICT, 12345);				/* ignored in this mode */
	GUEST_ASSERT_EQ(ar(R_TMICT), 0);
	dl = g_rdtsc() + 3 * ms;
	guest_wrmsr(MSR_TSC_DEADLINE, dl);
	v = guest_rdmsr(MSR_TSC_DEADLINE);
	GUEST_ASSERT(v == dl || (v == 0 && g_rdtsc() >= dl));	/* a stalled vCPU's fired */
	GUEST_ASSERT(guest_wait(&g_cnt[0][0x53], 1));
	GUEST_ASSERT(g_tsc[0x53] >= dl);		/* never before the deadline */
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_TSC_DEADLINE), 0);	/* disarmed once fired */
	guest_wait_tsc(&g_cnt[0][0x53], 2, 5 * ms);
	GUEST_ASSERT_EQ(g_cnt[0][0x53], 1);
	/* A deadline in the past fires at once; 0 disarms. */
	guest_wrmsr(MSR_TSC_DEADLINE, 1);
	GUEST_ASSERT(guest_wait(&g_cnt[0][0x53], 2));
	guest_wait_tsc(&g_cnt[0][0x53], 3, 5 * ms);
	GUEST_ASSERT_EQ(g_cnt[0][0x53], 2);
	guest_deadline_disarms(0);
	/* A mode change disarms too. */
	guest_deadline_disarms(1);
	GUEST_SYNC_ARGS(g_tsc[0x53] - dl, ms, 0, 0);
	GUEST_DONE();
}

TEST_F(lapic, timer_tsc_deadline)
{
	struct ucall uc;

	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_timer_deadline, 0, 0));
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	TH_LOG("TSC-deadline interrupt %lu TSC after the deadline (%lu TSC/ms)",
	       uc.args[0], uc.args[1]);
	RUN_DONE(self->vcpu);
}

/* HLT waits in the kernel until the timer's interrupt (no HLT exit to userspace). */
GUEST_CODE static void guest_hlt_timer(void)
{
	uint64_t t0;

	aw(R_SVR, 0x1ff);
	aw(R_TDCR, 0xb);
	aw(R_LVTT, 0x54);
	t0 = g_rdtsc();
	aw(R_TMICT, 2000000);
	asm volatile("sti; hlt; cli" ::: "memory");
	GUEST_ASSERT_EQ(g_cnt[0][0x54], 1);
	GUEST_ASSERT(g_tsc[0x54] - t0 >= 2 * g_tsc_per_ms * 99 / 100);
	GUEST_DONE();
}

TEST_F(lapic, hlt_wakes_on_timer)
{
	struct hvlab_exit_stats st;

	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_hlt_timer, 0, 0));
	RUN_DONE(self->vcpu);
	ASSERT_EQ(0, ioctl(self->vcpu->fd, HVLAB_GET_EXIT_STATS, &st));
	EXPECT_EQ(1u, st.count[HVLAB_STAT_HLT]);
	EXPECT_LE(3u, st.count[HVLAB_STAT_APIC_TIMER]);
}

/* ---------------------------------------------------------------------
 * x2APIC and IA32_APIC_BASE (SDM Vol. 3A 11.12)
 */

GUEST_CODE static void guest_x2apic(void)
{
	uint64_t v;

	/* x2APIC MSRs #GP in xAPIC mode (11.12.1.2). */
	GUEST_ASSERT_EQ(guest_rdmsr_safe(X2(R_ID), &v), GP_VECTOR);
	guest_wrmsr(MSR_APIC_BASE, XAPIC | BASE_EN | BASE_BSP | BASE_EXTD);
	g_x2 = 1;
	GUEST_ASSERT_EQ(guest_rdmsr(X2(R_ID)), 0);
	GUEST_ASSERT_EQ(guest_rdmsr(X2(R_LVR)), 0x50014);
	GUEST_ASSERT_EQ(guest_rdmsr(X2(R_LDR)), 1);	/* cluster 0, bit 0 (11.12.10.2) */
	/* No APR, DFR, ICR high half; EOI write-only; ID, LDR read-only. */
	GUEST_ASSERT_EQ(guest_rdmsr_safe(X2(R_APR), &v), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_rdmsr_safe(X2(R_DFR), &v), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_rdmsr_safe(X2(R_ICR2), &v), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_rdmsr_safe(X2(R_EOI), &v), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(X2(R_ID), 1), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(X2(R_LDR), 1), GP_VECTOR);
	/* Reserved bits #GP. */
	GUEST_ASSERT_EQ(guest_wrmsr_safe(X2(R_TPR), 0x100), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(X2(R_TPR), 1ull << 32), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(X2(R_EOI), 1), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(X2(R_ESR), 1), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(X2(R_ICR), 1u << 13 | 0x40), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(X2(R_LVTT), 3u << 17), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(0x83f, 0x100), GP_VECTOR);
	guest_wrmsr(X2(R_TPR), 0x30);
	GUEST_ASSERT_EQ(guest_rdmsr(X2(R_TPR)), 0x30);
	GUEST_ASSERT_EQ(guest_rdmsr(X2(R_PPR)), 0x30);
	guest_wrmsr(X2(R_TPR), 0);
	/* SELF IPI and the 64-bit ICR deliver; EOI by MSR. */
	guest_wrmsr(X2(R_SVR), 0x1ff);
	guest_wrmsr(0x83f, 0x61);
	GUEST_ASSERT(guest_wait(&g_cnt[0][0x61], 1));
	guest_wrmsr(X2(R_ICR), 0ull << 32 | 0x62);	/* physical, x2APIC ID 0 */
	GUEST_ASSERT(guest_wait(&g_cnt[0][0x62], 1));
	GUEST_ASSERT_EQ(guest_rdmsr(X2(R_ICR)), 0x62);
	/* The MMIO page is no APIC in x2APIC mode: this load exits to userspace. */
	GUEST_ASSERT_EQ(ar(R_LVR), 0xabcd);
	/* Switch rules (Figure 11-27): x2APIC -> xAPIC #GP, -> disabled ok. */
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_APIC_BASE, XAPIC | BASE_EN | BASE_BSP), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_APIC_BASE, XAPIC | BASE_BSP | BASE_EXTD), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_APIC_BASE, XAPIC | BASE_BSP), 0);
	g_x2 = 0;
	GUEST_ASSERT_EQ(guest_rdmsr_safe(X2(R_ID), &v), GP_VECTOR);
	/* disabled -> x2APIC #GP; -> xAPIC ok, in its power-up state. */
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_APIC_BASE, XAPIC | BASE_EN | BASE_BSP | BASE_EXTD),
			GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_APIC_BASE, XAPIC | BASE_EN | BASE_BSP), 0);
	GUEST_ASSERT_EQ(ar(R_ID), 0);
	GUEST_ASSERT_EQ(ar(R_SVR), 0xff);
	GUEST_ASSERT_EQ(ar(R_TPR), 0);
	/* Reserved bits of IA32_APIC_BASE. */
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_APIC_BASE, XAPIC | BASE_EN | BASE_BSP | 1), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_APIC_BASE, XAPIC | BASE_EN | BASE_BSP | 0x200),
			GP_VECTOR);
	GUEST_DONE();
}

TEST_F(lapic, x2apic_msrs_and_switch_rules)
{
	struct hvlab_run *run = self->vcpu->run;

	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_x2apic, 0, 0));
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_MMIO);
	EXPECT_EQ(XAPIC + R_LVR, run->mmio.phys_addr);
	EXPECT_EQ(0, run->mmio.is_write);
	*(uint32_t *)run->mmio.data = 0xabcd;
	RUN_DONE(self->vcpu);
}

/* ---------------------------------------------------------------------
 * Bad input with a defined result
 */

/*
 * APIC base over RAM: RAM wins (as in KVM without APICv), the APIC keeps
 * its registers.  SIPI to a running vCPU: ignored (SDM Vol. 3A 9.4.4).
 * Self and all-including-self shorthands with other than fixed delivery,
 * and reserved delivery modes: dropped.
 */
GUEST_CODE static void guest_bad_input(void)
{
	uint64_t page = (uint64_t)g_page;

	aw(R_SVR, 0x1ff);
	aw(R_TPR, 0x20);
	guest_wrmsr(MSR_APIC_BASE, page | BASE_EN | BASE_BSP);
	*(volatile uint32_t *)(page + R_TPR) = 0x77;
	GUEST_ASSERT_EQ(*(volatile uint32_t *)(page + R_TPR), 0x77);
	GUEST_ASSERT_EQ(*(volatile uint32_t *)(page + R_LVR), 0);
	guest_wrmsr(MSR_APIC_BASE, XAPIC | BASE_EN | BASE_BSP);
	GUEST_ASSERT_EQ(ar(R_TPR), 0x20);
	aw(R_TPR, 0);
	/* SIPI to itself (no shorthand: the BSP runs) changes nothing. */
	guest_send(0, ICR_SIPI | 0x08);
	/* Invalid ICR combinations send nothing. */
	guest_send(0, ICR_SELF | ICR_NMI);
	guest_send(0, ICR_ALLINC | ICR_LOWEST | 0x40);
	guest_send(0, 0x300 | 0x41);			/* reserved mode 011b */
	guest_send(0, 0x700 | 0x42);			/* reserved mode 111b */
	guest_send(0, ICR_SELF | 0x200);		/* SMI: ignored */
	guest_window();
	GUEST_ASSERT_EQ(g_n, 0);
	GUEST_SYNC(1);
	GUEST_DONE();
}

TEST_F(lapic, bad_input_defined)
{
	struct hvlab_mp_state mp;
	struct hvlab_regs regs;

	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_bad_input, 0, 0));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);
	/* The store went to RAM. */
	EXPECT_EQ(0x77u, *(uint32_t *)hvt_gpa2hva(self->vm, (uintptr_t)g_page + R_TPR, 4));
	ASSERT_EQ(0, ioctl(self->vcpu->fd, HVLAB_GET_MP_STATE, &mp));
	EXPECT_EQ(HVLAB_MP_RUNNABLE, mp.mp_state);
	ASSERT_EQ(0, ioctl(self->vcpu->fd, HVLAB_GET_REGS, &regs));
	EXPECT_NE(0u, regs.rip);
	RUN_DONE(self->vcpu);
	/* Bad MP states and reserved LAPIC fields from userspace: -EINVAL. */
	mp.mp_state = 3;
	EXPECT_EQ(-1, ioctl(self->vcpu->fd, HVLAB_SET_MP_STATE, &mp));
	EXPECT_EQ(EINVAL, errno);
	{
		struct hvlab_lapic_state st;

		ASSERT_EQ(0, ioctl(self->vcpu->fd, HVLAB_GET_LAPIC, &st));
		EXPECT_EQ(0, ioctl(self->vcpu->fd, HVLAB_SET_LAPIC, &st));
		*(uint32_t *)&st.regs[R_TPR] = 0x100;
		EXPECT_EQ(-1, ioctl(self->vcpu->fd, HVLAB_SET_LAPIC, &st));
		EXPECT_EQ(EINVAL, errno);
		*(uint32_t *)&st.regs[R_TPR] = 0;
		*(uint32_t *)&st.regs[R_LVTT] = 3u << 17;
		EXPECT_EQ(-1, ioctl(self->vcpu->fd, HVLAB_SET_LAPIC, &st));
		EXPECT_EQ(EINVAL, errno);
	}
}

/* ---------------------------------------------------------------------
 * MSI from userspace, level-triggered EOI exits (SDM Vol. 3A 11.11)
 */

GUEST_CODE static void guest_msi(void)
{
	aw(R_SVR, 0x1ff);
	GUEST_SYNC(1);				/* host: edge MSI 0x60 */
	GUEST_ASSERT(guest_wait(&g_cnt[0][0x60], 1));
	GUEST_SYNC(2);				/* host: level MSI 0x70 (in the bitmap) */
	GUEST_ASSERT(guest_wait(&g_cnt[0][0x70], 1));	/* its EOI exits first */
	GUEST_ASSERT_EQ(ar(R_TMR + 0x30), 1u << 16);	/* 0x70: level */
	GUEST_SYNC(3);				/* host: edge 0x70, level 0x71 (not in it) */
	GUEST_ASSERT(guest_wait(&g_cnt[0][0x70], 2));
	GUEST_ASSERT(guest_wait(&g_cnt[0][0x71], 1));
	GUEST_DONE();
}

static int msi(int vm_fd, uint64_t addr, uint32_t data)
{
	struct hvlab_msi m = { .address = addr, .data = data };

	int r = ioctl(vm_fd, HVLAB_SIGNAL_MSI, &m);

	return r < 0 ? -errno : r;
}

TEST_F(lapic, msi_and_level_eoi_exit)
{
	struct hvlab_eoi_exits eoi = { .bitmap = { 0, 1ull << (0x70 - 64), 0, 0 } };
	struct hvlab_msi m = { .address = XAPIC, .data = 0x60 };
	struct hvlab_run *run = self->vcpu->run;
	int vm = self->vm->fd;

	ASSERT_EQ(0, ioctl(vm, HVLAB_SET_EOI_EXITS, &eoi));
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_msi, 0, 0));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);
	EXPECT_EQ(1, ioctl(vm, HVLAB_SIGNAL_MSI, &m));
	/* Refused: not FEExxxxxh, reserved modes, SIPI, ExtINT, flags. */
	m.address = 0xfed00000;
	EXPECT_EQ(-EINVAL, msi(vm, m.address, 0x60));
	EXPECT_EQ(-EINVAL, msi(vm, XAPIC, 0x300 | 0x60));
	EXPECT_EQ(-EINVAL, msi(vm, XAPIC, 0x600 | 0x60));
	EXPECT_EQ(-EINVAL, msi(vm, XAPIC, 0x700 | 0x60));
	/* No APIC with ID 5: delivered to nobody. */
	m.address = XAPIC | 5 << 12;
	m.data = 0x65;
	EXPECT_EQ(0, ioctl(vm, HVLAB_SIGNAL_MSI, &m));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 2);
	m.address = XAPIC;
	m.data = 0x70 | 0x8000 | 0x4000;		/* level, assert */
	EXPECT_EQ(1, ioctl(vm, HVLAB_SIGNAL_MSI, &m));
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_EOI);
	EXPECT_EQ(0x70, run->eoi.vector);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 3);
	m.data = 0x70;					/* edge: no EOI exit */
	EXPECT_EQ(1, ioctl(vm, HVLAB_SIGNAL_MSI, &m));
	m.data = 0x71 | 0x8000 | 0x4000;		/* level, not in the bitmap */
	EXPECT_EQ(1, ioctl(vm, HVLAB_SIGNAL_MSI, &m));
	RUN_DONE(self->vcpu);
}

/* ---------------------------------------------------------------------
 * Two vCPUs: IPIs, HLT wake-up by IPI, INIT/SIPI
 */

struct runner {
	struct hvt_vcpu *vcpu;
	int ret;		/* RUN's -errno, or the ucall */
	struct ucall uc;
	int done;		/* set (atomically) once ret is */
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;

	r->ret = hvt_vcpu_run_ucall(r->vcpu, &r->uc);
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void sig_nop(int sig)
{
	(void)sig;
}

/* vCPU 1: its APIC on, logical ID 2 (flat), then halt until told to stop. */
GUEST_CODE static void guest_ap_halter(void)
{
	aw(R_SVR, 0x1ff);
	aw(R_LDR, 0x02000000);
	g_flag = 1;
	while (!g_stop)
		asm volatile("sti; hlt; cli" ::: "memory");
	GUEST_DONE();
}

/* vCPU 0: every destination mode and shorthand (SDM Vol. 3A 11.6.1, 11.6.2). */
GUEST_CODE static void guest_bsp_sender(void)
{
	uint64_t i;

	aw(R_SVR, 0x1ff);
	for (i = 0; i < WAIT_LOOPS && !g_flag; i++)
		g_pause();
	GUEST_ASSERT(g_flag);
	/* Physical, to APIC ID 1: wakes it from HLT. */
	guest_send(1, 0x41);
	GUEST_ASSERT(guest_wait(&g_cnt[1][0x41], 1));
	/* Logical flat: MDA 02h matches LDR 02h; 04h matches nobody. */
	guest_send(0x02, ICR_LOGICAL | 0x42);
	guest_send(0x04, ICR_LOGICAL | 0x43);
	GUEST_ASSERT(guest_wait(&g_cnt[1][0x42], 1));
	/* Shorthands: all but self, all including self, self. */
	guest_send(0, ICR_ALLBUT | 0x44);
	GUEST_ASSERT(guest_wait(&g_cnt[1][0x44], 1));
	guest_send(0, ICR_ALLINC | 0x45);
	GUEST_ASSERT(guest_wait(&g_cnt[1][0x45], 1));
	GUEST_ASSERT(guest_wait(&g_cnt[0][0x45], 1));
	guest_send(0, ICR_SELF | 0x46);
	GUEST_ASSERT(guest_wait(&g_cnt[0][0x46], 1));
	/* Physical broadcast FFh. */
	guest_send(0xff, 0x47);
	GUEST_ASSERT(guest_wait(&g_cnt[1][0x47], 1));
	GUEST_ASSERT(guest_wait(&g_cnt[0][0x47], 1));
	/* Lowest priority among both: vCPU 0's TPR is higher, vCPU 1 gets it. */
	aw(R_TPR, 0x20);
	guest_send(0xff, ICR_LOWEST | 0x48);
	GUEST_ASSERT(guest_wait(&g_cnt[1][0x48], 1));
	aw(R_TPR, 0);
	/* NMI (vector 2 through the IDT, whatever the ICR's vector field). */
	guest_send(1, ICR_NMI);
	GUEST_ASSERT(guest_wait(&g_cnt[1][2], 1));
	/* Nothing went where it should not. */
	GUEST_ASSERT_EQ(g_cnt[1][0x43], 0);
	GUEST_ASSERT_EQ(g_cnt[0][0x44], 0);
	GUEST_ASSERT_EQ(g_cnt[1][0x46], 0);
	GUEST_ASSERT_EQ(g_cnt[0][0x48], 0);
	GUEST_ASSERT_EQ(g_cnt[0][0x41] + g_cnt[0][0x42], 0);
	g_stop = 1;
	guest_send(1, 0x49);
	GUEST_DONE();
}

TEST_F(lapic, ipi_modes_between_vcpus)
{
	struct hvlab_mp_state mp = { .mp_state = HVLAB_MP_RUNNABLE };
	struct hvt_vcpu *ap;
	struct runner r;
	pthread_t t;

	ASSERT_EQ(0, hvt_vcpu_add(self->vm, 1, &ap));
	ASSERT_EQ(0, ioctl(ap->fd, HVLAB_GET_MP_STATE, &mp));
	EXPECT_EQ(HVLAB_MP_WAIT_SIPI, mp.mp_state);
	mp.mp_state = HVLAB_MP_RUNNABLE;
	ASSERT_EQ(0, ioctl(ap->fd, HVLAB_SET_MP_STATE, &mp));
	ASSERT_EQ(0, hvt_vcpu_enter_c(ap, guest_ap_halter, 0, 0));
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_bsp_sender, 0, 0));
	r.vcpu = ap;
	ASSERT_EQ(0, pthread_create(&t, NULL, run_thread, &r));
	HVT_RUN_EXPECT_DONE(self->vcpu);
	pthread_join(t, NULL);
	EXPECT_EQ(UCALL_DONE, r.ret);
}

/* ---------------------------------------------------------------------
 * NMI blocking
 */

static volatile uint64_t g_nmi_depth, g_nmi_max, g_nmi_n;

/*
 * The first NMI sends itself a second one and then makes exits (APIC
 * register reads, handled in the kernel), each an entry where the
 * hypervisor could inject it.  It must not come before this handler's
 * IRET (SDM Vol. 3A 6.7.1; APM Vol. 2 8.2.3), so the depth stays 1.
 */
GUEST_CODE static void guest_nmi_nest(struct guest_ex_regs *r)
{
	uint64_t d = ++g_nmi_depth;
	int i;

	(void)r;
	if (d > g_nmi_max)
		g_nmi_max = d;
	if (g_nmi_n++ == 0) {
		guest_send(0, ICR_NMI);
		for (i = 0; i < 20; i++)
			(void)ar(R_LVR);
	}
	g_nmi_depth--;
}

GUEST_CODE static void guest_nmi_blocking(void)
{
	uint64_t i;

	aw(R_SVR, 0x1ff);
	guest_send(0, ICR_NMI);
	/* After the IRET, the second NMI comes at one of the next entries. */
	for (i = 0; i < 100000 && g_nmi_n < 2; i++)
		(void)ar(R_LVR);
	GUEST_SYNC_ARGS(g_nmi_n, g_nmi_max, i, 0);
	GUEST_DONE();
}

TEST_F(lapic, nmi_blocked_until_iret)
{
	struct ucall uc;

	ASSERT_EQ(0, hvt_vm_install_handler(self->vm, 2, guest_nmi_nest));
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_nmi_blocking, 0, 0));
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	TH_LOG("NMIs %llu, deepest nesting %llu, %llu exits after the first",
	       (unsigned long long)uc.args[0], (unsigned long long)uc.args[1],
	       (unsigned long long)uc.args[2]);
	EXPECT_EQ(2, uc.args[0]);	/* both came */
	EXPECT_EQ(1, uc.args[1]);	/* the second not inside the first */
	RUN_DONE(self->vcpu);
}

/* The AP's first code, in real mode at 0x8000 (SIPI vector 08h). */
HVT_ASM(ap_trampoline, 16,
	"mov %cs, %bx\n\t"
	"call 1f\n"
	"1:	pop %cx\n\t"
	HVT_ASM_UCALL(UCALL_SYNC)
	"cli\n"
	"2:	hlt\n\t"
	"jmp 2b\n");

GUEST_CODE static void guest_init_sipi(void)
{
	guest_send(1, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	guest_send(1, ICR_INIT | ICR_LEVEL);		/* de-assert: ignored */
	guest_send(1, ICR_SIPI | 0x08);
	guest_send(1, ICR_SIPI | 0x09);			/* second SIPI: ignored, it runs */
	GUEST_DONE();
}

TEST_F(lapic, init_sipi_starts_ap)
{
	struct hvlab_mp_state mp;
	struct hvlab_sregs sr;
	struct sigaction sa = { .sa_handler = sig_nop };
	struct hvt_vcpu *ap;
	struct runner r;
	pthread_t t;

	ASSERT_EQ(0, hvt_vcpu_add(self->vm, 1, &ap));
	memcpy(hvt_gpa2hva(self->vm, HVT_RAW_CODE_GPA, 64), ap_trampoline,
	       ap_trampoline_end - ap_trampoline);
	/* RUN of a vCPU waiting for SIPI sleeps; a signal ends it with -EINTR. */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	r = (struct runner){ .vcpu = ap };
	ASSERT_EQ(0, pthread_create(&t, NULL, run_thread, &r));
	usleep(100000);
	EXPECT_EQ(0, __atomic_load_n(&r.done, __ATOMIC_ACQUIRE)) TH_LOG("RUN returned %d by itself", r.ret);
	/*
	 * Signalled until RUN returns, not once after a fixed sleep: on a
	 * busy host the thread may not be inside RUN yet after 100 ms, and a
	 * signal taken before RUN would leave it asleep for good.
	 */
	while (!__atomic_load_n(&r.done, __ATOMIC_ACQUIRE)) {
		pthread_kill(t, SIGUSR1);
		usleep(1000);
	}
	pthread_join(t, NULL);
	EXPECT_EQ(-EINTR, r.ret);
	ASSERT_EQ(0, ioctl(ap->fd, HVLAB_GET_MP_STATE, &mp));
	EXPECT_EQ(HVLAB_MP_WAIT_SIPI, mp.mp_state);

	ASSERT_EQ(0, pthread_create(&t, NULL, run_thread, &r));
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_init_sipi, 0, 0));
	HVT_RUN_EXPECT_DONE(self->vcpu);
	pthread_join(t, NULL);
	ASSERT_EQ(UCALL_SYNC, r.ret);
	EXPECT_EQ(0x0800u, r.uc.args[0]);		/* CS = vector << 8 */
	EXPECT_EQ(0x0005u, r.uc.args[1] & 0xffff);	/* IP 0, MOV (2) and CALL (3) */
	ASSERT_EQ(0, ioctl(ap->fd, HVLAB_GET_SREGS, &sr));
	EXPECT_EQ(0x8000u, sr.cs.base);
	EXPECT_EQ(0u, sr.cr0 & 1);			/* real mode */
	ASSERT_EQ(0, ioctl(ap->fd, HVLAB_GET_MP_STATE, &mp));
	EXPECT_EQ(HVLAB_MP_RUNNABLE, mp.mp_state);
}

TEST_HARNESS_MAIN
