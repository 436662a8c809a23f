/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tele_hot.h - the per-exit half of the exit telemetry (module/stats.c
 * has the rest), inline in the exit paths that include it: svm/exit.c,
 * vmx/exit.c, module/msr.c.  Every exit passes here three times (stamp
 * and registers right after the world switch, count once the neutral
 * reason is known, close at the next entry), so this is written for few
 * instructions: no calls, no atomics (only the vCPU's own thread writes
 * its telemetry), the state it touches in the vCPU itself (vcpu->th),
 * one timestamp at the exit and one at the next entry, the histogram's
 * exit count left to the dump (the sum of its buckets), the journal
 * entry filled in place, and everything rare (a frozen journal, events,
 * a netlink RESET) behind one test each.
 */
#ifndef HVLAB_TELE_HOT_H
#define HVLAB_TELE_HOT_H

#include <linux/bits.h>
#include <linux/bitops.h>

#include "hv.h"
#include "hv_trace.h"

/*
 * The exits that end a guest: the journal keeps them for the post-mortem.
 * hv_count_exit() must be given these as constants (the exit tables have
 * them counted by their handlers), so that the test for them costs the
 * other exits nothing.
 */
#define HV_JOURNAL_FREEZE	(BIT_ULL(HVLAB_STAT_SHUTDOWN) | BIT_ULL(HVLAB_STAT_ENTRY_FAILURE))

/*
 * The exit's TSC (for its histogram, hv_tele_entry(), and its journal
 * entry) and the guest's registers at the exit, before a handler changes
 * them.  The registers are read before anything is stored: @e could
 * alias vcpu->regs as far as the compiler knows, and reading first lets
 * it store the values the caller has just loaded instead of loading them
 * again.
 */
static __always_inline void hv_journal_fill(struct hv_vcpu *vcpu, struct hvlab_journal_entry *e,
					    bool stamp)
{
	const struct hvlab_regs *r = &vcpu->regs;
	u64 rip = r->rip, rsp = r->rsp, rflags = r->rflags;
	u64 rax = r->rax, rbx = r->rbx, rcx = r->rcx, rdx = r->rdx, rsi = r->rsi, rdi = r->rdi;

	if (stamp) {
		u64 now = rdtsc();

		vcpu->th.exit_tsc = now;
		e->tsc = now;
	}
	e->rip = rip;
	e->rsp = rsp;
	e->rflags = rflags;
	e->rax = rax;
	e->rbx = rbx;
	e->rcx = rcx;
	e->rdx = rdx;
	e->rsi = rsi;
	e->rdi = rdi;
}

/* Only the TSC: VMX, right after the switch (the registers come with VMREAD). */
static __always_inline void hv_tele_stamp(struct hv_vcpu *vcpu, struct hvlab_journal_entry *e)
{
	u64 now = rdtsc();

	vcpu->th.exit_tsc = now;
	e->tsc = now;
}

/*
 * Right after the world switch, once vcpu->regs holds the guest's
 * registers at the exit (SVM copies RAX, RSP, RIP and RFLAGS from the
 * VMCB first, so the compiler stores the values it already holds).
 */
static __always_inline void hv_tele_exit(struct hv_vcpu *vcpu)
{
	struct hvlab_journal_entry *e = vcpu->th.jcur;

	if (READ_ONCE(hv_telemetry))
		hv_journal_fill(vcpu, e, true);
}

/* VMX: the stamp right after the switch, the registers once VMREAD has them. */
static __always_inline void hv_tele_exit_stamp(struct hv_vcpu *vcpu)
{
	if (READ_ONCE(hv_telemetry))
		hv_tele_stamp(vcpu, vcpu->th.jcur);
}

static __always_inline void hv_tele_exit_regs(struct hv_vcpu *vcpu)
{
	if (READ_ONCE(hv_telemetry))
		hv_journal_fill(vcpu, vcpu->th.jcur, false);
}

/*
 * An entry failure found in software, with no world switch: no raw
 * reason, and its time (and journal entry) start now.  An exit still
 * open (a RUN's last exit to userspace) is never closed: it had no
 * entry.
 */
static inline void hv_exit_info_soft(struct hv_vcpu *vcpu)
{
	struct hvlab_journal_entry *e = vcpu->th.jcur;

	WRITE_ONCE(e->seq, 0);
	smp_wmb();
	e->vendor_reason = 0;
	e->qual = 0;
	e->qual2 = 0;
	if (READ_ONCE(hv_telemetry))
		hv_journal_fill(vcpu, e, true);
}

/*
 * The neutral reason of this exit is known: count it, trace it, open
 * its histogram, and publish its journal entry (stamp, registers and raw
 * reason are in already).  seq is published last, after the entry, and
 * the head after it: a reader that copies an entry checks its seq.
 */
static __always_inline void hv_count_exit(struct hv_vcpu *vcpu, unsigned int stat)
{
	struct hv_tele_hot *th = &vcpu->th;
	struct hvlab_journal_entry *e;
	struct hv_stat_tele *st;
	u64 seq;

	vcpu->exits++;
	vcpu->stat[stat]++;
	trace_hvlab_exit(vcpu, stat);
	if (!READ_ONCE(hv_telemetry))
		return;
	if (__builtin_constant_p(stat) && (BIT_ULL(stat) & HV_JOURNAL_FREEZE)) {
		hv_count_freeze(vcpu, stat);
		return;
	}
	st = &th->stat[stat];
	e = th->jcur;
	th->open = &st->h[HV_HIST_KERNEL];
	st->vendor_reason = e->vendor_reason;
	e->stat = stat;
	/* Frozen: all of this goes to the scratch entry and head (tele.h). */
	seq = ++th->jseq;
	smp_wmb();
	WRITE_ONCE(e->seq, seq);
	WRITE_ONCE(*th->jhead, seq);
	th->jcur = seq & th->jmask ? e + 1 : th->jent;
}

/*
 * Right before the world switch; interrupts are off: nothing may sleep.
 * The exit in flight is over: into its histogram.  Events and a pending
 * RESET take the out-of-line path (module/stats.c).
 */
static __always_inline void hv_tele_entry(struct hv_vcpu *vcpu)
{
	struct hv_tele_hot *th = &vcpu->th;
	struct hv_hist *h;
	u64 d;

	trace_hvlab_entry(vcpu);
	if (unlikely(READ_ONCE(th->slow))) {
		hv_tele_entry_slow(vcpu);
		return;
	}
	h = th->open;
	if (h) {
		d = rdtsc() - th->exit_tsc;
		th->open = NULL;
		h->cycles += d;
		h->slot[hv_hist_slot(d)]++;
	}
}

#endif /* HVLAB_TELE_HOT_H */
