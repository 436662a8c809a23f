// SPDX-License-Identifier: GPL-2.0
/*
 * lapic.c - the in-kernel local APIC of a vCPU (VMs created with HVLAB_VM_LAPIC).
 *
 * One xAPIC/x2APIC per vCPU, as Intel SDM Vol. 3A chapter 11 describes
 * it: the register page at IA32_APIC_BASE (seen only where no memory slot
 * maps that address: RAM wins, as in KVM without APICv), the x2APIC MSRs
 * 800h-8FFh, interrupt acceptance by priority, IPIs between the vCPUs of
 * one VM, INIT/SIPI, and the timer on an hrtimer.  The I/O APIC and the
 * 8259 stay in userspace (KVM's "split irqchip"): they reach the APICs
 * through HVLAB_SIGNAL_MSI and HVLAB_INJECT (ExtINT through LINT0).
 *
 * Where KVM's arch/x86/kvm/lapic.c does the same thing, the function is
 * named; the code is hvlab's own, written from the SDM.
 *
 * Locking: each APIC's registers are under its lock (an irqsave
 * spinlock: the timer fires in hard-irq context).  Only the vCPU's own
 * thread starts or cancels its timer, and never under the lock
 * (hrtimer_cancel waits for a callback that may be spinning on it).
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/hrtimer.h>
#include <linux/version.h>
#include <linux/math64.h>
#include <linux/moduleparam.h>
#include <linux/nospec.h>
#include <linux/sched/signal.h>
#include <linux/smp.h>
#include <asm/apic.h>
#include <asm/apicdef.h>
#include <asm/irq_vectors.h>
#include <asm/msr-index.h>
#include <asm/tsc.h>

#include "hv.h"
#include "lapic.h"

unsigned int hv_halt_poll_ns;
module_param_named(halt_poll_ns, hv_halt_poll_ns, uint, 0644);
MODULE_PARM_DESC(halt_poll_ns,
		 "APIC VMs: a halted vCPU polls this long for a wake-up before it sleeps (default 0)");

/* IA32_APIC_BASE (SDM Vol. 3A 11.4.4, 11.12.1). */
#define HV_APIC_BSP		BIT_ULL(8)
#define HV_APIC_EXTD		BIT_ULL(10)
#define HV_APIC_EN		BIT_ULL(11)

/*
 * Version register (11.4.8): version 14h (an integrated APIC), max LVT
 * entry 5 (timer, thermal, PMC, LINT0, LINT1, error; no CMCI), no EOI
 * broadcast suppression.  KVM reports the same without CMCI.
 */
#define HV_APIC_VERSION		(0x14 | (5 << 16))

/* ESR bits (11.5.3, Figure 11-9). */
#define HV_ESR_SEND_ILLEGAL	BIT(5)
#define HV_ESR_RECV_ILLEGAL	BIT(6)

/* Writable bits (11.5.1 Figure 11-8, 11.6.1 Figure 11-12, 11.9 Figure 11-23). */
#define HV_LVTT_MASK		0x700ffu	/* vector, mask, timer mode */
#define HV_LVT_DM_MASK		0x107ffu	/* vector, delivery mode, mask */
#define HV_LVT_LINT_MASK	0x1a7ffu	/* + polarity, trigger mode */
#define HV_LVTERR_MASK		0x100ffu	/* vector, mask */
#define HV_SVR_MASK		0x3ffu		/* vector, APIC enable, focus (11.9) */
#define HV_ICR_LOW_MASK		0xccfffu	/* vector..dest mode, level, trigger, shorthand */
#define HV_TDCR_MASK		0xbu
#define HV_LVT_TIMER_MODE	(3u << 17)
/* x2APIC ICR (11.12.9): reserved bits 13, 17:16, 31:20 of the low half; #GP. */
#define HV_X2_ICR_RESERVED	(GENMASK_ULL(31, 20) | GENMASK_ULL(17, 16) | BIT_ULL(13))

/* The timer's clock: 1 GHz before the divider (KVM's APIC_BUS_CYCLE_NS = 1). */
#define HV_APIC_BUS_NS		1
/* Shortest periodic period: no host interrupt storm (KVM's min_timer_period_us is 200). */
#define HV_APIC_MIN_PERIOD_NS	200000ULL

/* hv_apic_write(): the EOI must be reported to userspace (run->eoi filled). */
#define HV_APIC_EOI_EXIT	1

static inline u32 hv_reg(const struct hv_lapic *a, u32 off)
{
	return a->regs[off >> 2];
}

static inline void hv_reg_set(struct hv_lapic *a, u32 off, u32 val)
{
	a->regs[off >> 2] = val;
}

static inline bool hv_apic_hw_enabled(const struct hv_vcpu *vcpu)
{
	return vcpu->sregs.apic_base & HV_APIC_EN;
}

static inline bool hv_apic_x2(const struct hv_vcpu *vcpu)
{
	return vcpu->sregs.apic_base & HV_APIC_EXTD;
}

static inline bool hv_apic_sw_enabled(const struct hv_lapic *a)
{
	return hv_reg(a, APIC_SPIV) & APIC_SPIV_APIC_ENABLED;
}

/* ISR, TMR, IRR: 256 bits in eight registers 10h apart (11.8.4). */
static inline bool hv_vec_test(const struct hv_lapic *a, u32 base, u8 v)
{
	return hv_reg(a, base + (v >> 5) * 0x10) & BIT(v & 31);
}

static inline void hv_vec_set(struct hv_lapic *a, u32 base, u8 v)
{
	a->regs[(base + (v >> 5) * 0x10) >> 2] |= BIT(v & 31);
}

static inline void hv_vec_clear(struct hv_lapic *a, u32 base, u8 v)
{
	a->regs[(base + (v >> 5) * 0x10) >> 2] &= ~BIT(v & 31);
}

/* The highest vector set in ISR/TMR/IRR, -1 for none (KVM: apic_find_highest_irr/isr). */
static int hv_vec_highest(const struct hv_lapic *a, u32 base)
{
	int i;

	for (i = 7; i >= 0; i--) {
		u32 w = hv_reg(a, base + i * 0x10);

		if (w)
			return i * 32 + fls(w) - 1;
	}
	return -1;
}

/* Any bit set in IRR, read without the lock (see hv_lapic_has_irq). */
static inline bool hv_irr_any(const struct hv_lapic *a)
{
	u32 any = 0;
	int i;

	for (i = 0; i < 8; i++)
		any |= READ_ONCE(a->regs[(APIC_IRR + i * 0x10) >> 2]);
	return any;
}

/*
 * PPR (11.8.3.1): TPR if its class is at least the highest in-service
 * class, else that class with subclass 0 (KVM: apic_update_ppr).
 */
static u32 hv_apic_ppr(const struct hv_lapic *a)
{
	u32 tpr = hv_reg(a, APIC_TASKPRI) & 0xff;
	int isrv = hv_vec_highest(a, APIC_ISR);
	u32 isr_class = isrv < 0 ? 0 : isrv & 0xf0;

	return (tpr & 0xf0) >= isr_class ? tpr : isr_class;
}

/*
 * APR (11.6.2.4, Figure 11-15): TPR if its class is at least the highest
 * of the in-service and requested classes, else that class.
 */
static u32 hv_apic_apr(const struct hv_lapic *a)
{
	u32 tpr = hv_reg(a, APIC_TASKPRI) & 0xff;
	int isrv = hv_vec_highest(a, APIC_ISR), irrv = hv_vec_highest(a, APIC_IRR);
	u32 top = max(isrv < 0 ? 0 : isrv & 0xf0, irrv < 0 ? 0 : irrv & 0xf0);

	return (tpr & 0xf0) >= top ? tpr : top;
}

/* The vector the CPU would take now: IRR's highest, above PPR's class (11.8.3). */
static int hv_apic_deliverable(const struct hv_lapic *a)
{
	int irrv = hv_vec_highest(a, APIC_IRR);

	if (irrv < 0 || (irrv & 0xf0) <= (hv_apic_ppr(a) & 0xf0))
		return -1;
	return irrv;
}

/*
 * Make @vcpu notice new work: wake it if it sleeps (halt, wait-for-SIPI:
 * only its own thread ever waits, so an rcuwait, as KVM's
 * kvm_vcpu_wake_up(), is a pointer and wake_up_process(), where a wait
 * queue took its lock and walked its list at every wake-up and sleep),
 * interrupt its CPU if it is in guest mode there (KVM: kvm_vcpu_kick,
 * which sends the same reschedule IPI through smp_send_reschedule; that
 * wrapper's tracepoint is not exported to modules on 6.12, so the IPI
 * goes out as spec.c sends its own, through the APIC driver).
 * The full barrier orders the caller's IRR store before the guest_mode
 * load (rcuwait_wake_up() has one too, but says so only in its body);
 * hv_guest_mode_enter() orders the other way round before the
 * backend looks at the APIC, so one of the two sees the other.
 */
static void hv_apic_kick(struct hv_vcpu *vcpu)
{
	int cpu;

	rcuwait_wake_up(&vcpu->lapic->wait);
	smp_mb();
	if (smp_load_acquire(&vcpu->guest_mode)) {
		cpu = READ_ONCE(vcpu->cpu);
		if (cpu != raw_smp_processor_id())
			apic->send_IPI(cpu, RESCHEDULE_VECTOR);
	}
}

static bool hv_apic_accept_locked(struct hv_lapic *a, u32 mode, u8 vector, bool level,
				  bool assert);

/* An error (11.5.3): latched, and the LVT error entry's interrupt if unmasked. */
static void hv_apic_error_locked(struct hv_lapic *a, u32 esr)
{
	u32 lvt = hv_reg(a, APIC_LVTERR);

	a->esr_pending |= esr;
	if (!(lvt & APIC_LVT_MASKED) && (lvt & 0xff) >= 16)
		hv_apic_accept_locked(a, APIC_DM_FIXED, lvt & 0xff, false, true);
}

/*
 * Accept one interrupt message (KVM: __apic_accept_irq), lock held.
 * Fixed and lowest priority go into IRR, with TMR set for level (11.8.4);
 * a software-disabled APIC drops them (KVM does the same; 11.4.7.2 leaves
 * it undefined).  SMI is ignored (no SMM).  INIT level de-assert only
 * synchronised arbitration IDs on old CPUs (11.6.1): ignored.  SIPI is
 * latched and taken only by a vCPU waiting for one.  Returns whether the
 * APIC took it.
 */
static bool hv_apic_accept_locked(struct hv_lapic *a, u32 mode, u8 vector, bool level,
				  bool assert)
{
	switch (mode) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		if (!hv_apic_sw_enabled(a))
			return false;
		if (vector < 16) {
			hv_apic_error_locked(a, HV_ESR_RECV_ILLEGAL);
			return false;
		}
		hv_vec_set(a, APIC_IRR, vector);
		if (level)
			hv_vec_set(a, APIC_TMR, vector);
		else
			hv_vec_clear(a, APIC_TMR, vector);
		return true;
	case APIC_DM_NMI:
		WRITE_ONCE(a->vcpu->events.nmi_pending, true);
		return true;
	case APIC_DM_INIT:
		if (level && !assert)
			return false;
		a->init_pending = true;
		return true;
	case APIC_DM_STARTUP:
		/* The first of several SIPIs wins (the AP starts on it). */
		if (!a->sipi_pending) {
			a->sipi_vector = vector;
			a->sipi_pending = true;
		}
		return true;
	default:	/* SMI, ExtINT and the reserved modes */
		return false;
	}
}

static bool hv_apic_accept(struct hv_vcpu *vcpu, u32 mode, u8 vector, bool level, bool assert)
{
	struct hv_lapic *a = vcpu->lapic;
	unsigned long flags;
	bool ok;

	spin_lock_irqsave(&a->lock, flags);
	ok = hv_apic_accept_locked(a, mode, vector, level, assert);
	if (ok)
		WRITE_ONCE(a->accepted, a->accepted + 1);
	spin_unlock_irqrestore(&a->lock, flags);
	if (ok)
		hv_apic_kick(vcpu);
	return ok;
}

/* The x2APIC ID and its logical ID (11.12.10.2): cluster in 31:16, one bit in 15:0. */
static u32 hv_x2apic_ldr(u32 id)
{
	return ((id >> 4) << 16) | BIT(id & 0xf);
}

/*
 * Does @t's APIC take a message for @dest (KVM: kvm_apic_match_dest)?
 * Physical (11.6.2.1): the APIC ID, or all-ones for broadcast (FFh from
 * an xAPIC or an MSI, FFFFFFFFh from an x2APIC).  Logical (11.6.2.2):
 * xAPIC flat model ANDs the 8-bit MDA with LDR[31:24], cluster model
 * compares the cluster nibble and ANDs the other; x2APIC compares the
 * cluster half and ANDs the other (11.12.10.2).
 */
static bool hv_apic_match(struct hv_vcpu *t, u32 dest, bool logical, bool x2_src)
{
	struct hv_lapic *a = t->lapic;
	u32 bcast = x2_src ? 0xffffffff : 0xff;

	if (!hv_apic_hw_enabled(t))
		return false;
	if (dest == bcast)
		return true;
	if (hv_apic_x2(t)) {
		u32 ldr = hv_reg(a, APIC_LDR);

		if (!logical)
			return dest == t->id;
		return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff);
	}
	dest &= 0xff;
	if (!logical)
		return dest == hv_reg(a, APIC_ID) >> 24;
	{
		u32 ldr = hv_reg(a, APIC_LDR) >> 24;

		if ((hv_reg(a, APIC_DFR) >> 28) == 0xf)
			return ldr & dest;
		return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf);
	}
}

struct hv_apic_irq {
	u32 mode;		/* APIC_DM_* */
	u8 vector;
	bool level, assert;
	bool logical;
	u32 dest;
	u32 shorthand;		/* APIC_DEST_SELF/ALLINC/ALLBUT, 0: none */
	bool x2_src;
};

/*
 * Deliver one message to the APICs it names (KVM:
 * kvm_irq_delivery_to_apic).  Lowest priority goes to one of them: the
 * one with the lowest TPR, the lowest APIC ID on a tie (11.6.2.4 leaves
 * the choice to the platform; KVM picks by arbitration priority or
 * round robin).  Returns how many APICs took it.
 */
static int hv_apic_deliver(struct hv_vm *vm, struct hv_vcpu *src, const struct hv_apic_irq *irq)
{
	struct hv_vcpu *best = NULL;
	u32 best_tpr = ~0u;
	unsigned int i;
	int n = 0;

	for (i = 0; i < hv_max_vcpus; i++) {
		struct hv_vcpu *t = smp_load_acquire(&vm->vcpus[i]);
		bool match;

		if (!t || !t->lapic)
			continue;
		switch (irq->shorthand) {
		case APIC_DEST_SELF:
			match = t == src;
			break;
		case APIC_DEST_ALLINC:
			match = hv_apic_hw_enabled(t);
			break;
		case APIC_DEST_ALLBUT:
			match = t != src && hv_apic_hw_enabled(t);
			break;
		default:
			match = hv_apic_match(t, irq->dest, irq->logical, irq->x2_src);
		}
		if (!match)
			continue;
		if (irq->mode == APIC_DM_LOWEST) {
			u32 tpr = READ_ONCE(t->lapic->regs[APIC_TASKPRI >> 2]) & 0xff;

			if (hv_apic_sw_enabled(t->lapic) && tpr < best_tpr) {
				best = t;
				best_tpr = tpr;
			}
			continue;
		}
		n += hv_apic_accept(t, irq->mode, irq->vector, irq->level, irq->assert);
	}
	if (best)
		n += hv_apic_accept(best, irq->mode, irq->vector, irq->level, irq->assert);
	return n;
}

/*
 * An ICR write sends an IPI (11.6.1).  Combinations 11.6.1's table of
 * valid ICR combinations for the Pentium 4 and Intel Xeon processors does
 * not list: the self
 * shorthand and "all including self" only with fixed delivery; reserved
 * delivery modes 011b and 111b.  hvlab drops those messages.  A fixed or
 * lowest-priority vector below 16 is "send illegal vector" (11.5.3).
 * Delivery status (bit 12) always reads idle: the send is done when the
 * write returns.  KVM: kvm_apic_send_ipi.
 */
static void hv_apic_send_ipi(struct hv_vcpu *vcpu, u32 low, u32 high)
{
	struct hv_lapic *a = vcpu->lapic;
	struct hv_apic_irq irq = {
		.mode = low & APIC_DM_FIXED_MASK,
		.vector = low & 0xff,
		.level = low & APIC_INT_LEVELTRIG,
		.assert = low & APIC_INT_ASSERT,
		.logical = low & APIC_DEST_LOGICAL,
		.shorthand = low & APIC_DEST_ALLBUT,
		.x2_src = hv_apic_x2(vcpu),
	};
	unsigned long flags;

	irq.dest = irq.x2_src ? high : high >> 24;
	if (irq.mode == APIC_DM_REMRD || irq.mode == APIC_DM_EXTINT)
		return;
	if ((irq.shorthand == APIC_DEST_SELF || irq.shorthand == APIC_DEST_ALLINC) &&
	    irq.mode != APIC_DM_FIXED)
		return;
	if ((irq.mode == APIC_DM_FIXED || irq.mode == APIC_DM_LOWEST) && irq.vector < 16) {
		spin_lock_irqsave(&a->lock, flags);
		hv_apic_error_locked(a, HV_ESR_SEND_ILLEGAL);
		spin_unlock_irqrestore(&a->lock, flags);
		return;
	}
	/* Only INIT keeps the level/assert bits' meaning; the others are edge. */
	if (irq.mode != APIC_DM_INIT)
		irq.level = false;
	hv_apic_deliver(vcpu->vm, vcpu, &irq);
}

/* ---------------------------------------------------------------------
 * Timer (11.5.4)
 */

/* TDCR bits 3, 1:0 (Figure 11-10): 000b divides by 2 ... 110b by 128, 111b by 1. */
static u32 hv_timer_div(const struct hv_lapic *a)
{
	u32 v = hv_reg(a, APIC_TDCR);

	v = (v & 3) | ((v & 8) >> 1);
	return v == 7 ? 1 : 2u << v;
}

static u32 hv_timer_mode(const struct hv_lapic *a)
{
	return hv_reg(a, APIC_LVTT) & HV_LVT_TIMER_MODE;
}

/* Current count (11.5.4): what is left of the running count-down. */
static u32 hv_timer_ccr(const struct hv_lapic *a)
{
	s64 left;

	if (!a->timer_running || hv_timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE)
		return 0;
	left = ktime_to_ns(ktime_sub(a->expires, ktime_get()));
	if (left <= 0)
		return 0;
	return min_t(u64, div_u64(left, HV_APIC_BUS_NS * hv_timer_div(a)), hv_reg(a, APIC_TMICT));
}

/* Start a count-down of @count ticks (lock held; the hrtimer is not armed). */
static void hv_timer_load(struct hv_lapic *a, u64 count)
{
	u64 div = (u64)HV_APIC_BUS_NS * hv_timer_div(a);

	a->period_ns = hv_reg(a, APIC_TMICT) * div;
	if (hv_timer_mode(a) == APIC_LVT_TIMER_PERIODIC)
		a->period_ns = max(a->period_ns, HV_APIC_MIN_PERIOD_NS);
	a->expires = ktime_add_ns(ktime_get(), count * div);
	a->timer_running = true;
}

/* Guest TSC ticks from now to @deadline, in ns (tsc_khz: the host's, which the guest's TSC runs at). */
static void hv_timer_load_deadline(struct hv_lapic *a, u64 guest_tsc)
{
	u64 ns = 0;

	if (a->tsc_deadline > guest_tsc)
		ns = mul_u64_u32_div(a->tsc_deadline - guest_tsc, 1000000, tsc_khz) + 1;
	a->expires = ktime_add_ns(ktime_get(), ns);
	a->timer_running = true;
}

static void hv_timer_arm(struct hv_lapic *a)
{
	if (a->timer_running)
		hrtimer_start(&a->timer, a->expires, HRTIMER_MODE_ABS_HARD);
}

/*
 * The timer ran out, in any mode (lock held): the LVT timer's interrupt
 * unless masked (SDM Vol. 3A 11.5.4: masked, the count still runs out,
 * only the interrupt is suppressed), counted in a->accepted as
 * hv_apic_accept() counts the others.  KVM: kvm_apic_local_deliver() for
 * APIC_LVTT.  Returns whether the APIC took it: the caller kicks the vCPU.
 */
static bool hv_timer_raise_locked(struct hv_lapic *a)
{
	u32 lvt = hv_reg(a, APIC_LVTT);
	bool fired = false;

	if (!(lvt & APIC_LVT_MASKED))
		fired = hv_apic_accept_locked(a, APIC_DM_FIXED, lvt & 0xff, false, true);
	if (fired)
		WRITE_ONCE(a->accepted, a->accepted + 1);
	return fired;
}

/*
 * A one-shot count or a TSC deadline ran out (lock held): the interrupt
 * (hv_timer_raise_locked()), the timer stops, and a deadline reads 0
 * afterwards (11.5.4.1).  Returns whether the APIC took the interrupt:
 * the caller kicks the vCPU if that is not its own thread.
 */
static bool hv_timer_expired_locked(struct hv_lapic *a)
{
	bool fired = hv_timer_raise_locked(a);

	a->timer_running = false;
	if (hv_timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE)
		a->tsc_deadline = 0;
	return fired;
}

/* The count reached zero / the deadline passed (hard irq). */
static enum hrtimer_restart hv_timer_fire(struct hrtimer *t)
{
	struct hv_lapic *a = container_of(t, struct hv_lapic, timer);
	enum hrtimer_restart ret = HRTIMER_NORESTART;
	unsigned long flags;
	bool fired = false;
	ktime_t now;

	spin_lock_irqsave(&a->lock, flags);
	if (!a->timer_running)
		goto out;
	if (hv_timer_mode(a) != APIC_LVT_TIMER_PERIODIC || !a->period_ns) {
		fired = hv_timer_expired_locked(a);
		goto out;
	}
	/* The period restarts whether or not the interrupt was masked (11.5.4). */
	fired = hv_timer_raise_locked(a);
	now = ktime_get();
	a->expires = ktime_add_ns(a->expires, a->period_ns);
	if (ktime_before(a->expires, now))	/* missed periods are lost, not queued */
		a->expires = ktime_add_ns(now, a->period_ns);
	hrtimer_set_expires(t, a->expires);
	ret = HRTIMER_RESTART;
out:
	spin_unlock_irqrestore(&a->lock, flags);
	if (fired)
		hv_apic_kick(a->vcpu);
	return ret;
}

/* ---------------------------------------------------------------------
 * Registers
 */

/*
 * Power-up and INIT state (11.4.7.1, 11.4.7.3): IRR, ISR, TMR, ICR, LDR,
 * TPR, timer counts and divide 0, DFR all ones, every LVT masked, SVR
 * FFh (software disabled).  INIT keeps the APIC ID and the mode (an
 * x2APIC stays one, 11.12.5.1).  vCPU 0 (the BSP) gets LINT0 as ExtINT,
 * unmasked, as KVM's kvm_lapic_reset does for its BSP, so a guest that
 * leaves its APIC alone still receives the 8259's interrupts (virtual
 * wire mode, which firmware sets up on real machines).  Lock held or
 * the APIC unreachable; the timer is stopped by the caller.
 */
static void hv_apic_reset_regs(struct hv_vcpu *vcpu)
{
	struct hv_lapic *a = vcpu->lapic;
	u32 id = hv_apic_x2(vcpu) ? vcpu->id : vcpu->id << 24;

	memset(a->regs, 0, sizeof(a->regs));
	hv_reg_set(a, APIC_ID, id);
	hv_reg_set(a, APIC_LVR, HV_APIC_VERSION);
	hv_reg_set(a, APIC_DFR, 0xffffffff);
	hv_reg_set(a, APIC_SPIV, 0xff);
	hv_reg_set(a, APIC_LVTT, APIC_LVT_MASKED);
	hv_reg_set(a, APIC_LVTTHMR, APIC_LVT_MASKED);
	hv_reg_set(a, APIC_LVTPC, APIC_LVT_MASKED);
	hv_reg_set(a, APIC_LVT0, APIC_LVT_MASKED);
	hv_reg_set(a, APIC_LVT1, APIC_LVT_MASKED);
	hv_reg_set(a, APIC_LVTERR, APIC_LVT_MASKED);
	if (hv_apic_x2(vcpu))
		hv_reg_set(a, APIC_LDR, hv_x2apic_ldr(vcpu->id));
	if (vcpu->sregs.apic_base & HV_APIC_BSP)
		hv_reg_set(a, APIC_LVT0, APIC_DM_EXTINT);
	a->esr_pending = 0;
	a->timer_running = false;
	a->tsc_deadline = 0;
	a->deadline_arm = false;
}

void hv_lapic_reset(struct hv_vcpu *vcpu, bool init)
{
	struct hv_lapic *a = vcpu->lapic;
	unsigned long flags;

	hrtimer_cancel(&a->timer);
	spin_lock_irqsave(&a->lock, flags);
	hv_apic_reset_regs(vcpu);
	vcpu->events.nmi_pending = false;
	if (!init) {
		/* APs wait for their SIPI (SDM Vol. 3A 9.4.1); KVM: kvm_vcpu_reset. */
		a->mp_state = (vcpu->sregs.apic_base & HV_APIC_BSP) ? HVLAB_MP_RUNNABLE :
								       HVLAB_MP_WAIT_SIPI;
		a->init_pending = false;
		a->sipi_pending = false;
	}
	spin_unlock_irqrestore(&a->lock, flags);
}

/* Register @off as the guest reads it, lock held.  @x2: through an MSR. */
static u32 hv_apic_read_locked(struct hv_vcpu *vcpu, u32 off)
{
	struct hv_lapic *a = vcpu->lapic;

	switch (off) {
	case APIC_ARBPRI:
		return hv_apic_apr(a);
	case APIC_PROCPRI:
		return hv_apic_ppr(a);
	case APIC_TMCCT:
		return hv_timer_ccr(a);
	case APIC_EOI:
	case APIC_RRR:
	case APIC_SELF_IPI:
		return 0;
	case APIC_ICR:
		return hv_reg(a, APIC_ICR) & ~APIC_ICR_BUSY;
	default:
		/*
		 * @off is the guest's (page offset or x2APIC MSR), checked by
		 * hv_apic_reg_exists() before it gets here: clamp it under
		 * speculation too (Spectre v1), like hvlab's other
		 * guest-chosen indexes.
		 */
		return a->regs[array_index_nospec(off >> 2, ARRAY_SIZE(a->regs))];
	}
}

/* Offsets with a register behind them (Table 11-1). */
static bool hv_apic_reg_exists(u32 off)
{
	switch (off) {
	case APIC_ID: case APIC_LVR: case APIC_TASKPRI: case APIC_ARBPRI:
	case APIC_PROCPRI: case APIC_EOI: case APIC_RRR: case APIC_LDR:
	case APIC_DFR: case APIC_SPIV: case APIC_ESR: case APIC_ICR:
	case APIC_ICR2: case APIC_LVTT: case APIC_LVTTHMR: case APIC_LVTPC:
	case APIC_LVT0: case APIC_LVT1: case APIC_LVTERR: case APIC_TMICT:
	case APIC_TMCCT: case APIC_TDCR:
		return true;
	default:
		return off >= APIC_ISR && off < APIC_ESR;	/* ISR, TMR, IRR */
	}
}

/*
 * EOI (11.8.5): the highest in-service vector retires.  A level-triggered
 * one (TMR set) would be broadcast to the I/O APICs: when userspace's
 * I/O APIC asked for it (HVLAB_SET_EOI_EXITS), that is an exit (KVM:
 * apic_set_eoi -> kvm_ioapic_send_eoi with a split irqchip).  Lock held.
 */
static int hv_apic_eoi_locked(struct hv_vcpu *vcpu)
{
	struct hv_lapic *a = vcpu->lapic;
	int v = hv_vec_highest(a, APIC_ISR);

	if (v < 0)
		return 0;
	hv_vec_clear(a, APIC_ISR, v);
	if (hv_vec_test(a, APIC_TMR, v) &&
	    (READ_ONCE(vcpu->vm->eoi_exits[v / 64]) & BIT_ULL(v % 64))) {
		vcpu->run->exit_reason = HVLAB_EXIT_EOI;
		memset(&vcpu->run->eoi, 0, sizeof(vcpu->run->eoi));
		vcpu->run->eoi.vector = v;
		return HV_APIC_EOI_EXIT;
	}
	return 0;
}

/* LVT entries: what each may hold, and the timer's mode changes (11.5.1). */
static u32 hv_lvt_mask(u32 off)
{
	switch (off) {
	case APIC_LVTT:		return HV_LVTT_MASK;
	case APIC_LVT0:
	case APIC_LVT1:		return HV_LVT_LINT_MASK;
	case APIC_LVTERR:	return HV_LVTERR_MASK;
	default:		return HV_LVT_DM_MASK;	/* thermal, PMC */
	}
}

/* The timer registers: their writes restart or stop the timer. */
static bool hv_apic_timer_reg(u32 off)
{
	return off == APIC_LVTT || off == APIC_TMICT || off == APIC_TDCR;
}

/*
 * A guest write of @val to register @off (an xAPIC store of 4 bytes, or
 * an x2APIC WRMSR's low half; @x2 says which, for the #GP rules of
 * 11.12.1.2: a read-only register, a reserved bit).  Returns 0,
 * HV_APIC_EOI_EXIT, or -EINVAL for #GP.  Runs on the vCPU's thread;
 * the timer is stopped before the lock is taken, and re-armed after.
 */
static int hv_apic_write(struct hv_vcpu *vcpu, u32 off, u32 val, bool x2)
{
	struct hv_lapic *a = vcpu->lapic;
	bool timer = hv_apic_timer_reg(off);
	u32 icr_low = 0, icr_high = 0, old, mask;
	bool send = false;
	unsigned long flags;
	int ret = 0;

	if (timer)
		hrtimer_cancel(&a->timer);
	spin_lock_irqsave(&a->lock, flags);
	switch (off) {
	case APIC_ID:
		if (x2)
			goto gp;
		hv_reg_set(a, off, val & 0xff000000);	/* read/write on xAPICs (11.4.6) */
		break;
	case APIC_TASKPRI:
		if (x2 && (val & ~0xffu))
			goto gp;
		hv_reg_set(a, off, val & 0xff);
		break;
	case APIC_EOI:
		if (x2 && val)
			goto gp;
		ret = hv_apic_eoi_locked(vcpu);
		break;
	case APIC_LDR:
		if (x2)
			goto gp;
		hv_reg_set(a, off, val & 0xff000000);
		break;
	case APIC_DFR:
		if (x2)
			goto gp;
		hv_reg_set(a, off, val | 0x0fffffff);
		break;
	case APIC_SPIV:
		if (x2 && (val & ~HV_SVR_MASK))
			goto gp;
		hv_reg_set(a, off, val & HV_SVR_MASK);
		/* Software disable masks every LVT entry (11.4.7.2). */
		if (!(val & APIC_SPIV_APIC_ENABLED)) {
			u32 lvt;

			for (lvt = APIC_LVTT; lvt <= APIC_LVTERR; lvt += 0x10)
				a->regs[lvt >> 2] |= APIC_LVT_MASKED;
		}
		break;
	case APIC_ESR:
		if (x2 && val)
			goto gp;
		/* A write latches the errors since the last one (11.5.3). */
		hv_reg_set(a, off, a->esr_pending);
		a->esr_pending = 0;
		break;
	case APIC_ICR:
		if (x2)
			goto gp;	/* the 64-bit MSR write is hv_lapic_wrmsr's */
		hv_reg_set(a, off, val & HV_ICR_LOW_MASK);
		icr_low = val & HV_ICR_LOW_MASK;
		icr_high = hv_reg(a, APIC_ICR2);
		send = true;
		break;
	case APIC_ICR2:
		if (x2)
			goto gp;
		hv_reg_set(a, off, val & 0xff000000);
		break;
	case APIC_LVTT:
		if ((val & HV_LVT_TIMER_MODE) == HV_LVT_TIMER_MODE) {
			/* Mode 11b is reserved (Figure 11-8): #GP, or dropped on an xAPIC. */
			if (x2)
				goto gp;
			break;
		}
		fallthrough;
	case APIC_LVTTHMR:
	case APIC_LVTPC:
	case APIC_LVT0:
	case APIC_LVT1:
	case APIC_LVTERR:
		old = hv_reg(a, off);
		mask = hv_lvt_mask(off);
		if (x2 && (val & ~mask))
			goto gp;
		val &= mask;
		if (!hv_apic_sw_enabled(a))
			val |= APIC_LVT_MASKED;
		hv_reg_set(a, off, val);
		/*
		 * A mode change disarms the timer (11.5.4.1): count and
		 * deadline go, as in KVM's apic_update_lvtt.
		 */
		if (off == APIC_LVTT && ((old ^ val) & HV_LVT_TIMER_MODE)) {
			a->timer_running = false;
			a->tsc_deadline = 0;
			hv_reg_set(a, APIC_TMICT, 0);
		}
		break;
	case APIC_TMICT:
		if (hv_timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE)
			break;		/* ignored in TSC-deadline mode (11.5.4.1) */
		hv_reg_set(a, off, val);
		a->timer_running = false;
		if (val)
			hv_timer_load(a, val);
		break;
	case APIC_TDCR: {
		u32 left = hv_timer_ccr(a);
		bool running = a->timer_running && hv_timer_mode(a) != APIC_LVT_TIMER_TSCDEADLINE;

		if (x2 && (val & ~HV_TDCR_MASK))
			goto gp;
		hv_reg_set(a, off, val & HV_TDCR_MASK);
		/* What is left of the count runs down at the new rate. */
		if (running)
			hv_timer_load(a, left);
		break;
	}
	case APIC_SELF_IPI:
		if (!x2 || (val & ~0xffu))
			goto gp;
		icr_low = (val & 0xff) | APIC_DEST_SELF;
		send = true;
		break;
	default:
		/* Read-only or no register: #GP through an MSR, ignored in the page. */
		if (x2)
			goto gp;
		break;
	}
	spin_unlock_irqrestore(&a->lock, flags);
	if (timer)
		hv_timer_arm(a);
	if (send)
		hv_apic_send_ipi(vcpu, icr_low, icr_high);
	return ret;
gp:
	spin_unlock_irqrestore(&a->lock, flags);
	if (timer)
		hv_timer_arm(a);
	return -EINVAL;
}

/* ---------------------------------------------------------------------
 * Guest accesses
 */

bool hv_lapic_mmio_hit(struct hv_vcpu *vcpu, u64 gpa)
{
	u64 base = vcpu->sregs.apic_base;

	return vcpu->lapic && (base & HV_APIC_EN) && !(base & HV_APIC_EXTD) &&
	       (gpa & PAGE_MASK) == (base & PAGE_MASK);
}

static void hv_apic_count(struct hv_lapic *a, u32 off, bool write)
{
	if (write)
		a->writes[(off >> 4) & 63]++;
	else
		a->reads[(off >> 4) & 63]++;
}

/*
 * One access to the xAPIC page (11.4.1): registers are 32 bits wide,
 * 16-byte aligned.  A load of 1, 2 or 4 bytes inside one register reads
 * those bytes; stores other than 4 aligned bytes are dropped, as KVM's
 * apic_mmio_write drops them (the SDM leaves them undefined).  Returns
 * 1 when the run page holds an EOI exit, else 0.
 */
int hv_lapic_mmio(struct hv_vcpu *vcpu, u64 gpa, bool write, void *data, unsigned int len)
{
	struct hv_lapic *a = vcpu->lapic;
	u32 off = gpa & (PAGE_SIZE - 1), reg = off & ~0xfu;
	unsigned long flags;
	u32 val = 0;

	hv_apic_count(a, reg, write);
	if (write) {
		if (len != 4 || (off & 0xf) || reg >= 0x400)
			return 0;
		memcpy(&val, data, 4);
		return hv_apic_write(vcpu, reg, val, false) == HV_APIC_EOI_EXIT;
	}
	memset(data, 0, len);
	if ((off & 0xf) + len > 4 || reg >= 0x400 || !hv_apic_reg_exists(reg))
		return 0;
	spin_lock_irqsave(&a->lock, flags);
	val = hv_apic_read_locked(vcpu, reg);
	spin_unlock_irqrestore(&a->lock, flags);
	val >>= 8 * (off & 3);
	memcpy(data, &val, len);
	return 0;
}

/* The telemetry reason of an xAPIC page access (hvlab.h, HVLAB_STAT_APIC_*). */
static unsigned int hv_apic_stat(u32 reg, bool write)
{
	if (!write)
		return HVLAB_STAT_APIC_ACCESS;
	switch (reg) {
	case APIC_ICR:
	case APIC_SELF_IPI:
		return HVLAB_STAT_APIC_ICR;
	case APIC_EOI:
		return HVLAB_STAT_APIC_EOI;
	case APIC_LVTT:
	case APIC_TMICT:
	case APIC_TDCR:
		return HVLAB_STAT_APIC_TIMER;
	default:
		return HVLAB_STAT_APIC_ACCESS;
	}
}

unsigned int hv_lapic_mmio_stat(struct hv_vcpu *vcpu, u64 gpa, bool write)
{
	if (!hv_lapic_mmio_hit(vcpu, gpa))
		return HVLAB_STAT_MMIO;
	return hv_apic_stat(gpa & (PAGE_SIZE - 1) & ~0xfu, write);
}

static bool hv_is_x2apic_msr(u32 index)
{
	return index >= APIC_BASE_MSR && index <= APIC_BASE_MSR + 0xff;
}

unsigned int hv_lapic_msr_stat(struct hv_vcpu *vcpu, u32 index, bool write)
{
	if (vcpu->lapic) {
		if (index == MSR_IA32_TSC_DEADLINE)
			return write ? HVLAB_STAT_APIC_TIMER : HVLAB_STAT_APIC_ACCESS;
		if (hv_is_x2apic_msr(index))
			return hv_apic_stat((index - APIC_BASE_MSR) << 4, write);
	}
	return write ? HVLAB_STAT_MSR_WRITE : HVLAB_STAT_MSR_READ;
}

/*
 * RDMSR of an APIC MSR: 0, -EINVAL (#GP), -ENOENT (not an APIC MSR).
 * x2APIC MSRs exist only in x2APIC mode (11.12.1.2: #GP otherwise);
 * APR, RRD, DFR, ICR's high half and the write-only EOI and SELF IPI
 * have no MSR (Table 11-6).  IA32_TSC_DEADLINE reads 0 outside
 * TSC-deadline mode (11.5.4.1).
 */
int hv_lapic_rdmsr(struct hv_vcpu *vcpu, u32 index, u64 *val)
{
	struct hv_lapic *a = vcpu->lapic;
	unsigned long flags;
	u32 off;

	if (!a)
		return -ENOENT;
	if (index == MSR_IA32_TSC_DEADLINE) {
		hv_apic_count(a, HVLAB_APIC_STAT_TSC_DEADLINE << 4, false);
		spin_lock_irqsave(&a->lock, flags);
		*val = hv_timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE ? a->tsc_deadline : 0;
		spin_unlock_irqrestore(&a->lock, flags);
		return 0;
	}
	if (!hv_is_x2apic_msr(index))
		return -ENOENT;
	off = (index - APIC_BASE_MSR) << 4;
	if (!hv_apic_x2(vcpu) || !hv_apic_reg_exists(off))
		return -EINVAL;
	switch (off) {
	case APIC_ARBPRI: case APIC_RRR: case APIC_DFR: case APIC_ICR2: case APIC_EOI:
		return -EINVAL;
	}
	hv_apic_count(a, off, false);
	spin_lock_irqsave(&a->lock, flags);
	*val = hv_apic_read_locked(vcpu, off);
	if (off == APIC_ICR)
		*val |= (u64)hv_reg(a, APIC_ICR2) << 32;
	spin_unlock_irqrestore(&a->lock, flags);
	return 0;
}

/*
 * WRMSR of an APIC MSR: 0, 1 (EOI exit: run page filled), -EINVAL
 * (#GP), -ENOENT.  Bits 63:32 are reserved except in ICR (11.12.1.2).
 * IA32_TSC_DEADLINE arms the timer in TSC-deadline mode (0 disarms) and
 * is ignored in the others (11.5.4.1); a deadline already passed fires
 * at once.
 */
int hv_lapic_wrmsr(struct hv_vcpu *vcpu, u32 index, u64 val)
{
	struct hv_lapic *a = vcpu->lapic;
	unsigned long flags;
	u32 off;

	if (!a)
		return -ENOENT;
	if (index == MSR_IA32_APICBASE)
		return hv_lapic_set_base(vcpu, val, false);
	if (index == MSR_IA32_TSC_DEADLINE) {
		u64 now = hv_ops->get_msr(vcpu, MSR_IA32_TSC);

		hv_apic_count(a, HVLAB_APIC_STAT_TSC_DEADLINE << 4, true);
		hrtimer_cancel(&a->timer);
		spin_lock_irqsave(&a->lock, flags);
		if (hv_timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE) {
			a->tsc_deadline = val;
			a->timer_running = false;
			/*
			 * "An interrupt is generated when the TSC equals or
			 * exceeds the target" (SDM Vol. 3A 11.5.4.1): a deadline
			 * already reached fires here, on the vCPU's own thread,
			 * and the next entry delivers it - no hrtimer, no host
			 * timer interrupt, no halt and wake-up in between (KVM:
			 * start_sw_tscdeadline -> apic_timer_expired, the same).
			 */
			if (val && val <= now)
				hv_timer_expired_locked(a);
			else if (val)
				hv_timer_load_deadline(a, now);
		}
		spin_unlock_irqrestore(&a->lock, flags);
		hv_timer_arm(a);
		return 0;
	}
	if (!hv_is_x2apic_msr(index))
		return -ENOENT;
	off = (index - APIC_BASE_MSR) << 4;
	if (!hv_apic_x2(vcpu))
		return -EINVAL;
	hv_apic_count(a, off, true);
	if (off == APIC_ICR) {
		if (val & HV_X2_ICR_RESERVED)
			return -EINVAL;
		spin_lock_irqsave(&a->lock, flags);
		hv_reg_set(a, APIC_ICR, (u32)val & ~APIC_ICR_BUSY);
		hv_reg_set(a, APIC_ICR2, val >> 32);
		spin_unlock_irqrestore(&a->lock, flags);
		hv_apic_send_ipi(vcpu, (u32)val, val >> 32);
		return 0;
	}
	/*
	 * EOI, the most frequent write: straight to the ISR, without
	 * hv_apic_write's timer and register dispatch.  A non-zero value
	 * is #GP in x2APIC mode (SDM Vol. 3A 11.12.1.2).
	 */
	if (off == APIC_EOI) {
		int ret;

		if (val)
			return -EINVAL;
		spin_lock_irqsave(&a->lock, flags);
		ret = hv_apic_eoi_locked(vcpu);
		spin_unlock_irqrestore(&a->lock, flags);
		return ret;
	}
	if (val >> 32)
		return -EINVAL;
	return hv_apic_write(vcpu, off, val, true);
}

/*
 * IA32_APIC_BASE (11.4.4, 11.12.5 Figure 11-27).  The guest may go
 * xAPIC -> x2APIC, x2APIC -> disabled, disabled -> xAPIC, and change the
 * base and BSP bits; x2APIC -> xAPIC, disabled -> x2APIC and EXTD without
 * EN (the invalid state) are #GP, as are reserved bits and EXTD without
 * x2APIC in CPUID (KVM: kvm_set_apic_base).  Userspace (@host) may set
 * any state hv_check_sregs accepted.  Going to x2APIC sets the x2APIC ID
 * and LDR (11.12.5.1); disabling resets the APIC to its power-up state,
 * which is what it comes back in.
 */
int hv_lapic_set_base(struct hv_vcpu *vcpu, u64 val, bool host)
{
	struct hv_lapic *a = vcpu->lapic;
	u64 old = vcpu->sregs.apic_base;
	bool was_en = old & HV_APIC_EN, was_x2 = old & HV_APIC_EXTD;
	bool en = val & HV_APIC_EN, x2 = val & HV_APIC_EXTD;
	unsigned long flags;

	if (!host) {
		u32 eax, ebx, ecx, edx;

		hv_cpuid(vcpu, 1, 0, &eax, &ebx, &ecx, &edx);
		if ((val & (GENMASK_ULL(7, 0) | BIT_ULL(9))) || (val >> hv_gpa_bits))
			return -EINVAL;
		if (x2 && !(ecx & BIT(21)))
			return -EINVAL;
		if (x2 && !en)
			return -EINVAL;
		if (was_x2 && en && !x2)
			return -EINVAL;
		if (!was_en && x2)
			return -EINVAL;
	}
	if (!en && was_en)
		hrtimer_cancel(&a->timer);
	spin_lock_irqsave(&a->lock, flags);
	vcpu->sregs.apic_base = val;
	if (!en && was_en) {
		hv_apic_reset_regs(vcpu);
	} else if (x2 && !was_x2) {
		hv_reg_set(a, APIC_ID, vcpu->id);
		hv_reg_set(a, APIC_LDR, hv_x2apic_ldr(vcpu->id));
	} else if (!x2 && was_x2) {
		hv_reg_set(a, APIC_ID, vcpu->id << 24);
		hv_reg_set(a, APIC_LDR, 0);
	}
	spin_unlock_irqrestore(&a->lock, flags);
	return 0;
}

/* CR8 is TPR[7:4]; a write clears TPR[3:0] (SDM Vol. 3A 11.8.6.1; KVM: kvm_lapic_set_tpr). */
void hv_lapic_set_cr8(struct hv_vcpu *vcpu, u64 cr8)
{
	struct hv_lapic *a = vcpu->lapic;
	unsigned long flags;

	spin_lock_irqsave(&a->lock, flags);
	hv_reg_set(a, APIC_TASKPRI, (cr8 & 0xf) << 4);
	spin_unlock_irqrestore(&a->lock, flags);
}

u64 hv_lapic_get_cr8(struct hv_vcpu *vcpu)
{
	return (READ_ONCE(vcpu->lapic->regs[APIC_TASKPRI >> 2]) >> 4) & 0xf;
}

/* ---------------------------------------------------------------------
 * Delivery to the guest (backends, interrupts off, before entry)
 */

/* Is there an APIC interrupt the guest would take if RFLAGS.IF allowed? */
bool hv_lapic_has_irq(struct hv_vcpu *vcpu)
{
	struct hv_lapic *a = vcpu->lapic;
	unsigned long flags;
	int v;

	if (!hv_apic_hw_enabled(vcpu))
		return false;
	/*
	 * Most entries find IRR empty: say so without the lock and the ISR
	 * scan (KVM keeps apic->irr_pending for the same shortcut).  The
	 * answer is as fresh as the locked one, which is also stale once
	 * the lock is dropped: a sender sets IRR under the lock and then
	 * kicks (hv_apic_kick).  SVM reads IRR only after
	 * hv_guest_mode_enter(), so either this read sees the bit or the
	 * sender sees guest mode and interrupts the guest; VMX reads it
	 * before and compares a->accepted (bumped under the lock after the
	 * bit is set) once guest mode is on (vmx_vcpu_enter).
	 */
	if (!hv_irr_any(a))
		return false;
	spin_lock_irqsave(&a->lock, flags);
	v = hv_apic_deliverable(a);
	spin_unlock_irqrestore(&a->lock, flags);
	return v >= 0;
}

/*
 * The CPU acknowledges the interrupt it takes (11.8.4): IRR -> ISR, and
 * PPR rises with it.  Returns the vector, -1 if none is deliverable.
 * KVM: kvm_get_apic_interrupt -> apic_set_isr/apic_clear_irr.
 */
int hv_lapic_ack_irq(struct hv_vcpu *vcpu)
{
	struct hv_lapic *a = vcpu->lapic;
	unsigned long flags;
	int v = -1;

	if (!hv_apic_hw_enabled(vcpu))
		return -1;
	spin_lock_irqsave(&a->lock, flags);
	v = hv_apic_deliverable(a);
	if (v >= 0) {
		hv_vec_clear(a, APIC_IRR, v);
		hv_vec_set(a, APIC_ISR, v);
	}
	spin_unlock_irqrestore(&a->lock, flags);
	return v;
}

/* The entry that was to deliver @vector did not happen: back to IRR. */
void hv_lapic_unack_irq(struct hv_vcpu *vcpu, u8 vector)
{
	struct hv_lapic *a = vcpu->lapic;
	unsigned long flags;

	spin_lock_irqsave(&a->lock, flags);
	hv_vec_clear(a, APIC_ISR, vector);
	hv_vec_set(a, APIC_IRR, vector);
	spin_unlock_irqrestore(&a->lock, flags);
}

/*
 * Does the 8259's INTR line reach the CPU?  Through LINT0 in ExtINT mode,
 * unmasked (11.5.1), or directly with the APIC disabled in
 * IA32_APIC_BASE (11.4.3).  KVM: kvm_apic_accept_pic_intr.
 */
bool hv_lapic_accepts_extint(struct hv_vcpu *vcpu)
{
	u32 lvt0 = READ_ONCE(vcpu->lapic->regs[APIC_LVT0 >> 2]);

	if (!hv_apic_hw_enabled(vcpu))
		return true;
	return !(lvt0 & APIC_LVT_MASKED) && (lvt0 & APIC_DM_FIXED_MASK) == APIC_DM_EXTINT;
}

/* Before entry, interrupts off, VMCS/VMCB in reach: a deadline userspace set. */
void hv_lapic_pre_enter(struct hv_vcpu *vcpu)
{
	struct hv_lapic *a = vcpu->lapic;
	unsigned long flags;

	if (likely(!a->deadline_arm))
		return;
	spin_lock_irqsave(&a->lock, flags);
	a->deadline_arm = false;
	if (a->tsc_deadline && hv_timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE)
		hv_timer_load_deadline(a, hv_ops->get_msr(vcpu, MSR_IA32_TSC));
	spin_unlock_irqrestore(&a->lock, flags);
	hv_timer_arm(a);
}

/* ---------------------------------------------------------------------
 * INIT, SIPI, HLT: the vCPU's own thread, in the RUN loop
 */

/*
 * INIT (SDM Vol. 3A 10.1, Table 10-1 "Following INIT"): the registers as
 * after RESET, except that CR0.CD/NW, EFER is cleared (Table 10-1), the
 * x87/SSE state, the MSRs (IA32_APIC_BASE among them), the TSC and the
 * debug registers DR0-3 keep their values; the APIC resets keeping its
 * ID and mode (11.4.7.3).  The BSP then runs from the reset vector, an
 * AP waits for SIPI (KVM: kvm_apic_accept_events, kvm_vcpu_reset with
 * init_event).  DR7 is not reset here: the backends keep it where only
 * an exit handler reaches it.
 */
static int hv_lapic_do_init(struct hv_vcpu *vcpu)
{
	struct hv_lapic *a = vcpu->lapic;
	u64 base, cd_nw;
	unsigned long flags;
	int err;

	err = hv_sync_sregs(vcpu);
	if (err)
		return err;
	base = vcpu->sregs.apic_base;
	cd_nw = vcpu->sregs.cr0 & (X86_CR0_CD | X86_CR0_NW);
	hv_vcpu_reset(vcpu);
	vcpu->sregs.apic_base = base;
	vcpu->sregs.cr0 = (vcpu->sregs.cr0 & ~(X86_CR0_CD | X86_CR0_NW)) | cd_nw;
	vcpu->events.exc_pending = false;
	vcpu->events.nmi_masked = false;
	vcpu->pending.kind = 0;
	hv_lapic_reset(vcpu, true);
	spin_lock_irqsave(&a->lock, flags);
	a->mp_state = (base & HV_APIC_BSP) ? HVLAB_MP_RUNNABLE : HVLAB_MP_WAIT_SIPI;
	spin_unlock_irqrestore(&a->lock, flags);
	return 0;
}

/* SIPI (SDM Vol. 3A 9.4.4, 11.6.1): real mode at CS = vector << 8, IP = 0. */
static void hv_lapic_do_sipi(struct hv_vcpu *vcpu, u8 vector)
{
	struct hvlab_segment *cs = &vcpu->sregs.cs;

	cs->selector = vector << 8;
	cs->base = (u64)vector << 12;
	vcpu->regs.rip = 0;
	vcpu->insn_rip = 0;
	vcpu->state_dirty = true;
}

/* Would a halted vCPU wake up (SDM Vol. 3A 9.4, HLT in Vol. 2A)?  Lock held. */
static bool hv_lapic_wakeable_locked(struct hv_vcpu *vcpu)
{
	struct hv_lapic *a = vcpu->lapic;

	if (a->init_pending)
		return true;
	if (a->mp_state == HVLAB_MP_WAIT_SIPI)
		return a->sipi_pending;
	if (a->mp_state != HVLAB_MP_HALTED)
		return true;
	if (vcpu->events.nmi_pending)
		return true;
	if (!(vcpu->regs.rflags & X86_EFLAGS_IF))
		return false;
	return (hv_apic_hw_enabled(vcpu) && hv_apic_deliverable(a) >= 0) ||
	       (vcpu->events.irq_pending && hv_lapic_accepts_extint(vcpu));
}

static bool hv_lapic_wakeable(struct hv_vcpu *vcpu)
{
	unsigned long flags;
	bool ret;

	spin_lock_irqsave(&vcpu->lapic->lock, flags);
	ret = hv_lapic_wakeable_locked(vcpu);
	spin_unlock_irqrestore(&vcpu->lapic->lock, flags);
	return ret;
}

/*
 * Sleep until something wakes the vCPU, first polling for up to
 * halt_poll_ns (KVM: kvm_vcpu_halt's halt polling, without its adaptive
 * window).  A signal ends the sleep: RUN returns -EINTR.
 */
static int hv_lapic_block(struct hv_vcpu *vcpu)
{
	unsigned int poll = READ_ONCE(hv_halt_poll_ns);

	if (poll) {
		u64 end = ktime_get_ns() + poll;

		while (ktime_get_ns() < end) {
			if (hv_lapic_wakeable(vcpu))
				return 0;
			if (signal_pending(current) || need_resched())
				break;
			cpu_relax();
		}
	}
	if (rcuwait_wait_event(&vcpu->lapic->wait, hv_lapic_wakeable(vcpu), TASK_INTERRUPTIBLE))
		return -EINTR;
	return 0;
}

/*
 * Before each entry of an APIC VM's vCPU: INIT and SIPI take effect,
 * and a halted or waiting vCPU sleeps until it may run.  0 to enter,
 * -EINTR for a signal, or an error of hv_sync_sregs.
 */
int hv_lapic_run_events(struct hv_vcpu *vcpu)
{
	struct hv_lapic *a = vcpu->lapic;
	unsigned long flags;
	u8 state, vector;
	int err;

	/*
	 * Nearly every entry finds a running vCPU with no INIT or SIPI
	 * waiting: say so without the lock (an IPI round trip enters about
	 * ten times).  The locked look is no fresher: a message accepted
	 * after it, and before guest mode is on, is also taken only at the
	 * next exit; the sender's kick (hv_apic_kick) makes that one come
	 * soon.  mp_state changes only on this thread or under vcpu->lock.
	 */
	if (likely(READ_ONCE(a->mp_state) == HVLAB_MP_RUNNABLE && !READ_ONCE(a->init_pending) &&
		   !READ_ONCE(a->sipi_pending)))
		return 0;

	for (;;) {
		spin_lock_irqsave(&a->lock, flags);
		if (a->init_pending) {
			/* A SIPI that came with it is for after it (KVM does the same). */
			a->init_pending = false;
			spin_unlock_irqrestore(&a->lock, flags);
			err = hv_lapic_do_init(vcpu);
			if (err)
				return err;
			continue;
		}
		if (a->sipi_pending) {
			/* Only a vCPU in wait-for-SIPI takes it; others ignore it (9.4.4). */
			a->sipi_pending = false;
			vector = a->sipi_vector;
			if (a->mp_state == HVLAB_MP_WAIT_SIPI) {
				a->mp_state = HVLAB_MP_RUNNABLE;
				spin_unlock_irqrestore(&a->lock, flags);
				hv_lapic_do_sipi(vcpu, vector);
				continue;
			}
		}
		if (a->mp_state == HVLAB_MP_HALTED && hv_lapic_wakeable_locked(vcpu))
			a->mp_state = HVLAB_MP_RUNNABLE;
		state = a->mp_state;
		spin_unlock_irqrestore(&a->lock, flags);
		if (state == HVLAB_MP_RUNNABLE)
			return 0;
		err = hv_lapic_block(vcpu);
		if (err)
			return err;
	}
}

/* HLT in an APIC VM: the vCPU halts here; hv_lapic_run_events wakes it. */
int hv_lapic_hlt(struct hv_vcpu *vcpu)
{
	struct hv_lapic *a = vcpu->lapic;
	unsigned long flags;

	spin_lock_irqsave(&a->lock, flags);
	if (a->mp_state == HVLAB_MP_RUNNABLE)
		a->mp_state = HVLAB_MP_HALTED;
	spin_unlock_irqrestore(&a->lock, flags);
	return 1;
}

/* ---------------------------------------------------------------------
 * MSI (VM fd)
 */

/*
 * A message-signalled interrupt (SDM Vol. 3A 11.11.1, 11.11.2): address
 * FEEx_xxxxh with destination ID 19:12, RH 3, DM 2; data with vector 7:0,
 * delivery mode 10:8, level 14, trigger mode 15.  As in KVM
 * (kvm_set_msi_irq), DM selects logical destinations and RH asks for
 * lowest priority.  Delivery modes 011b, 110b and 111b (ExtINT: the 8259
 * is userspace's, HVLAB_INJECT) are refused.
 */
long hv_vm_signal_msi(struct hv_vm *vm, const void __user *argp)
{
	struct hvlab_msi msi;
	struct hv_apic_irq irq = { };

	if (!vm->lapic)
		return -ENXIO;
	if (copy_from_user(&msi, argp, sizeof(msi)))
		return -EFAULT;
	if (msi.flags || msi.reserved)
		return hv_reject(-EINVAL, "MSI flags/reserved must be zero");
	if ((msi.address >> 20) != 0xfee)
		return hv_reject(-EINVAL, "MSI address %#llx: not FEExxxxxh", msi.address);
	irq.mode = msi.data & APIC_DM_FIXED_MASK;
	if (irq.mode == APIC_DM_REMRD || irq.mode == APIC_DM_STARTUP || irq.mode == APIC_DM_EXTINT)
		return hv_reject(-EINVAL, "MSI data %#x: delivery mode %u not supported",
				 msi.data, irq.mode >> 8);
	irq.vector = msi.data & 0xff;
	irq.level = msi.data & APIC_INT_LEVELTRIG;
	irq.assert = msi.data & APIC_INT_ASSERT;
	irq.dest = (msi.address >> 12) & 0xff;
	irq.logical = msi.address & BIT(2);
	if ((msi.address & BIT(3)) && irq.mode == APIC_DM_FIXED)
		irq.mode = APIC_DM_LOWEST;
	if (irq.mode != APIC_DM_INIT && irq.mode != APIC_DM_FIXED && irq.mode != APIC_DM_LOWEST)
		irq.level = false;
	return hv_apic_deliver(vm, NULL, &irq);
}

long hv_vm_set_eoi_exits(struct hv_vm *vm, const void __user *argp)
{
	struct hvlab_eoi_exits e;
	unsigned int i;

	if (!vm->lapic)
		return -ENXIO;
	if (copy_from_user(&e, argp, sizeof(e)))
		return -EFAULT;
	for (i = 0; i < ARRAY_SIZE(e.bitmap); i++)
		WRITE_ONCE(vm->eoi_exits[i], e.bitmap[i]);
	return 0;
}

/* ---------------------------------------------------------------------
 * vCPU ioctls (vcpu->lock held)
 */

long hv_lapic_get_state(struct hv_vcpu *vcpu, void __user *argp)
{
	struct hv_lapic *a = vcpu->lapic;
	struct hvlab_lapic_state *s;
	unsigned long flags;
	long ret = 0;

	if (!a)
		return -ENXIO;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	spin_lock_irqsave(&a->lock, flags);
	memcpy(s->regs, a->regs, sizeof(s->regs));
	((u32 *)s->regs)[APIC_ARBPRI >> 2] = hv_apic_apr(a);
	((u32 *)s->regs)[APIC_PROCPRI >> 2] = hv_apic_ppr(a);
	((u32 *)s->regs)[APIC_TMCCT >> 2] = hv_timer_ccr(a);
	s->tsc_deadline = hv_timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE ? a->tsc_deadline : 0;
	spin_unlock_irqrestore(&a->lock, flags);
	if (copy_to_user(argp, s, sizeof(*s)))
		ret = -EFAULT;
	kfree(s);
	return ret;
}

/*
 * SET_LAPIC: the registers through the same masks as guest writes (the
 * x2APIC ones, so reserved bits are refused), ISR/TMR/IRR as given, the
 * timer restarted from its initial count, a deadline armed at the next
 * entry.  The mode is IA32_APIC_BASE's (SET_SREGS first).
 */
long hv_lapic_set_state(struct hv_vcpu *vcpu, const void __user *argp)
{
	static const u32 lvts[] = { APIC_LVTT, APIC_LVTTHMR, APIC_LVTPC, APIC_LVT0, APIC_LVT1,
				    APIC_LVTERR };
	struct hv_lapic *a = vcpu->lapic;
	struct hvlab_lapic_state *s;
	unsigned long flags;
	const u32 *r;
	unsigned int i;
	long ret = 0;
	u32 id;

	if (!a)
		return -ENXIO;
	s = memdup_user(argp, sizeof(*s));
	if (IS_ERR(s))
		return PTR_ERR(s);
	r = (const u32 *)s->regs;
	for (i = 0; i < ARRAY_SIZE(s->reserved); i++)
		if (s->reserved[i])
			ret = hv_reject(-EINVAL, "reserved fields must be zero");
	id = r[APIC_ID >> 2];
	if (!ret && (hv_apic_x2(vcpu) ? id != vcpu->id : (id & 0x00ffffff)))
		ret = hv_reject(-EINVAL, "APIC ID %#x: x2APIC IDs are the vCPU id, xAPIC bits 23:0 are zero",
				id);
	if (!ret && ((r[APIC_TASKPRI >> 2] & ~0xffu) || (r[APIC_SPIV >> 2] & ~HV_SVR_MASK) ||
		     (r[APIC_TDCR >> 2] & ~HV_TDCR_MASK) ||
		     (r[APIC_ICR >> 2] & ~HV_ICR_LOW_MASK) ||
		     (!hv_apic_x2(vcpu) && ((r[APIC_LDR >> 2] | r[APIC_ICR2 >> 2]) & 0x00ffffff))))
		ret = hv_reject(-EINVAL, "TPR, SVR, TDCR, ICR, LDR or ICR2: reserved bits set");
	for (i = 0; !ret && i < ARRAY_SIZE(lvts); i++) {
		u32 v = r[lvts[i] >> 2];

		if ((v & ~hv_lvt_mask(lvts[i])) ||
		    (lvts[i] == APIC_LVTT && (v & HV_LVT_TIMER_MODE) == HV_LVT_TIMER_MODE))
			ret = hv_reject(-EINVAL, "LVT %#x = %#x: reserved bits set", lvts[i], v);
	}
	if (ret)
		goto out;

	hrtimer_cancel(&a->timer);
	spin_lock_irqsave(&a->lock, flags);
	hv_reg_set(a, APIC_ID, id);
	hv_reg_set(a, APIC_TASKPRI, r[APIC_TASKPRI >> 2]);
	hv_reg_set(a, APIC_LDR, hv_apic_x2(vcpu) ? hv_x2apic_ldr(vcpu->id) : r[APIC_LDR >> 2]);
	hv_reg_set(a, APIC_DFR, r[APIC_DFR >> 2] | 0x0fffffff);
	hv_reg_set(a, APIC_SPIV, r[APIC_SPIV >> 2]);
	for (i = 0; i < 8; i++) {
		hv_reg_set(a, APIC_ISR + i * 0x10, r[(APIC_ISR + i * 0x10) >> 2]);
		hv_reg_set(a, APIC_TMR + i * 0x10, r[(APIC_TMR + i * 0x10) >> 2]);
		hv_reg_set(a, APIC_IRR + i * 0x10, r[(APIC_IRR + i * 0x10) >> 2]);
	}
	hv_reg_set(a, APIC_ESR, r[APIC_ESR >> 2]);
	hv_reg_set(a, APIC_ICR, r[APIC_ICR >> 2]);
	hv_reg_set(a, APIC_ICR2, r[APIC_ICR2 >> 2]);
	for (i = 0; i < ARRAY_SIZE(lvts); i++)
		hv_reg_set(a, lvts[i], r[lvts[i] >> 2]);
	hv_reg_set(a, APIC_TDCR, r[APIC_TDCR >> 2]);
	hv_reg_set(a, APIC_TMICT, r[APIC_TMICT >> 2]);
	a->timer_running = false;
	a->tsc_deadline = 0;
	if (hv_timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE) {
		a->tsc_deadline = s->tsc_deadline;
		a->deadline_arm = s->tsc_deadline != 0;
	} else if (r[APIC_TMICT >> 2]) {
		hv_timer_load(a, r[APIC_TMICT >> 2]);
	}
	spin_unlock_irqrestore(&a->lock, flags);
	hv_timer_arm(a);
	hv_apic_kick(vcpu);
out:
	kfree(s);
	return ret;
}

long hv_lapic_get_mp_state(struct hv_vcpu *vcpu, void __user *argp)
{
	struct hvlab_mp_state mp = { };

	if (!vcpu->lapic)
		return -ENXIO;
	mp.mp_state = READ_ONCE(vcpu->lapic->mp_state);
	return copy_to_user(argp, &mp, sizeof(mp)) ? -EFAULT : 0;
}

long hv_lapic_set_mp_state(struct hv_vcpu *vcpu, const void __user *argp)
{
	struct hv_lapic *a = vcpu->lapic;
	struct hvlab_mp_state mp;
	unsigned long flags;

	if (!a)
		return -ENXIO;
	if (copy_from_user(&mp, argp, sizeof(mp)))
		return -EFAULT;
	if (mp.padding || mp.mp_state > HVLAB_MP_HALTED)
		return hv_reject(-EINVAL, "mp_state %u: 0-2, padding zero", mp.mp_state);
	spin_lock_irqsave(&a->lock, flags);
	a->mp_state = mp.mp_state;
	spin_unlock_irqrestore(&a->lock, flags);
	return 0;
}

long hv_lapic_get_stats(struct hv_vcpu *vcpu, void __user *argp)
{
	struct hv_lapic *a = vcpu->lapic;

	BUILD_BUG_ON(sizeof(a->reads) != sizeof(((struct hvlab_apic_stats *)0)->reads));
	if (!a)
		return -ENXIO;
	if (copy_to_user(argp, a->reads, sizeof(a->reads)) ||
	    copy_to_user((u8 __user *)argp + sizeof(a->reads), a->writes, sizeof(a->writes)))
		return -EFAULT;
	return 0;
}

void hv_lapic_reset_stats(struct hv_vcpu *vcpu)
{
	if (vcpu->lapic) {
		memset(vcpu->lapic->reads, 0, sizeof(vcpu->lapic->reads));
		memset(vcpu->lapic->writes, 0, sizeof(vcpu->lapic->writes));
	}
}

/* ---------------------------------------------------------------------
 * Life
 */

int hv_lapic_create(struct hv_vcpu *vcpu)
{
	struct hv_lapic *a = kzalloc(sizeof(*a), GFP_KERNEL_ACCOUNT);

	if (!a)
		return -ENOMEM;
	a->vcpu = vcpu;
	spin_lock_init(&a->lock);
	rcuwait_init(&a->wait);
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
	/* hrtimer_setup() took over from hrtimer_init() in 6.13; 7.x has only it. */
	hrtimer_setup(&a->timer, hv_timer_fire, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
#else
	hrtimer_init(&a->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
	a->timer.function = hv_timer_fire;
#endif
	vcpu->lapic = a;
	return 0;
}

void hv_lapic_free(struct hv_vcpu *vcpu)
{
	if (!vcpu->lapic)
		return;
	hrtimer_cancel(&vcpu->lapic->timer);
	kfree(vcpu->lapic);
	vcpu->lapic = NULL;
}
