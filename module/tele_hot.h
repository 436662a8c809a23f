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
 * The exit's TSC (for its histogram, hv_tele_entry()) and the guest's
 * registers at the exit, before a handler changes them, into its journal
 * entry.  The registers are read before anything is stored: @e could
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
		/*
		 * The entry may still hold an old published exit: empty it
		 * before any of it changes, as hv_exit_info() does.
		 */
		WRITE_ONCE(e->seq, 0);
		smp_wmb();
		e->tsc = rdtsc();
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
	struct hvlab_journal_entry *e = vcpu->th.jcur;

	if (READ_ONCE(hv_telemetry)) {
		/* Emptied first: see hv_journal_fill(). */
		WRITE_ONCE(e->seq, 0);
		smp_wmb();
		e->tsc = rdtsc();
	}
}

static __always_inline void hv_tele_exit_regs(struct hv_vcpu *vcpu)
{
	if (READ_ONCE(hv_telemetry))
		hv_journal_fill(vcpu, vcpu->th.jcur, false);
}

/*
 * An entry failure found in software, before the entry that would have
 * closed the open exit: no raw reason, and its time (and journal entry)
 * start now.  The open exit (the RUN's last exit to userspace, or an
 * exit handled in the kernel just before) had no entry: it keeps its
 * journal entry, but no histogram (hv_tele_drop_open()).
 */
static inline void hv_exit_info_soft(struct hv_vcpu *vcpu)
{
	struct hvlab_journal_entry *e;

	if (unlikely(READ_ONCE(vcpu->th.jcur->seq)))
		hv_tele_drop_open(vcpu);
	e = vcpu->th.jcur;
	WRITE_ONCE(e->seq, 0);
	smp_wmb();
	e->vendor_reason = 0;
	e->qual = 0;
	e->qual2 = 0;
	if (READ_ONCE(hv_telemetry))
		hv_journal_fill(vcpu, e, true);
}

/*
 * The neutral reason of this exit is known: count it, trace it, and
 * publish its journal entry (stamp, registers and raw reason are in
 * already), which opens it.  seq is published last, after the entry, and
 * the head after it: a reader that copies an entry checks its seq.
 */
static __always_inline void hv_count_exit(struct hv_vcpu *vcpu, unsigned int stat)
{
	struct hv_tele_hot *th = &vcpu->th;
	struct hvlab_journal_entry *e;
	u64 *head, seq;

	vcpu->exits++;
	vcpu->stat[stat]++;
	trace_hvlab_exit(vcpu, stat);
	if (!READ_ONCE(hv_telemetry))
		return;
	e = th->jcur;
	e->stat = stat;
	/* Frozen: all of this goes to the scratch entry and head (tele.h). */
	head = th->jhead;
	seq = *head + 1;
	smp_wmb();
	WRITE_ONCE(e->seq, seq);
	WRITE_ONCE(*head, seq);
	if (__builtin_constant_p(stat) && (BIT_ULL(stat) & HV_JOURNAL_FREEZE))
		hv_journal_freeze(vcpu, stat);
}

/*
 * Right before the world switch; interrupts are off: nothing may sleep.
 * The open exit, handled in the kernel, is over: into its histogram, from
 * the TSC and reason in its journal entry.  Everything rarer takes the
 * out-of-line path (module/stats.c).
 */
static __always_inline void hv_tele_entry(struct hv_vcpu *vcpu)
{
	struct hv_tele_hot *th = &vcpu->th;
	struct hvlab_journal_entry *e;
	struct hv_stat_tele *st;
	struct hv_hist *h;
	u64 seq, d;

	trace_hvlab_entry(vcpu);
	if (unlikely(READ_ONCE(th->slow))) {
		hv_tele_entry_slow(vcpu);
		return;
	}
	e = th->jcur;
	seq = e->seq;
	if (!seq)
		return;
	d = rdtsc() - e->tsc;
	/* e->stat is hv_count_exit()'s: userspace maps the journal read-only. */
	st = &th->stat[e->stat];
	st->vendor_reason = e->vendor_reason;
	h = &st->h[HV_HIST_KERNEL];
	h->cycles += d;
	h->slot[hv_hist_slot(d)]++;
	hv_journal_next(th, e, seq);
}

#endif /* HVLAB_TELE_HOT_H */
