/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tele_hot.h - the per-exit half of the exit telemetry (module/stats.c
 * has the rest), inline in the exit paths that include it: svm/exit.c,
 * vmx/exit.c, module/msr.c.  Every exit passes here twice (count, then
 * close at the next entry), so this is written for few instructions:
 * no calls, no atomics (only the vCPU's own thread writes its
 * telemetry), one timestamp at the exit and one at the next entry, the
 * histogram's exit count left to the dump (the sum of its buckets), and
 * the journal entry filled in place.
 */
#ifndef HVLAB_TELE_HOT_H
#define HVLAB_TELE_HOT_H

#include <linux/bits.h>
#include <linux/bitops.h>

#include "hv.h"
#include "hv_trace.h"

/* The exits that end a guest: the journal keeps them for the post-mortem. */
#define HV_JOURNAL_FREEZE	(BIT_ULL(HVLAB_STAT_SHUTDOWN) | BIT_ULL(HVLAB_STAT_ENTRY_FAILURE))

/*
 * The exit's journal entry, written where userspace reads it.  seq is
 * 0 while the entry is rewritten (hv_exit_info() set it), so a reader
 * copying it then sees "empty"; the entry and then the head are
 * published with seq last.
 */
static __always_inline void hv_journal_add(struct hv_vcpu *vcpu, struct hv_tele *t,
					   unsigned int stat)
{
	struct hvlab_journal_entry *e = t->jnext;
	const struct hvlab_regs *r = &vcpu->regs;
	u64 seq;

	/* seq is 0 and the raw reason in already: hv_exit_info(). */
	e->tsc = t->exit_tsc;
	e->rip = r->rip;
	e->rsp = r->rsp;
	e->rflags = r->rflags;
	e->rax = r->rax;
	e->rbx = r->rbx;
	e->rcx = r->rcx;
	e->rdx = r->rdx;
	e->rsi = r->rsi;
	e->rdi = r->rdi;
	e->stat = stat;
	t->jlast = e;
	/* Frozen (the scratch entry), or this exit freezes it: out of line. */
	if (unlikely(e == &t->jscratch || (BIT_ULL(stat) & HV_JOURNAL_FREEZE))) {
		hv_journal_end(t, stat);
		return;
	}
	seq = ++t->jseq;
	smp_wmb();
	WRITE_ONCE(e->seq, seq);
	WRITE_ONCE(t->journal->head, seq);
	t->jnext = seq % HVLAB_JOURNAL_ENTRIES ? e + 1 : t->jent;
}

/* The neutral reason of this exit is known: count it, journal it, trace it. */
static __always_inline void hv_count_exit(struct hv_vcpu *vcpu, unsigned int stat)
{
	struct hv_tele *t = vcpu->tele;
	struct hv_stat_tele *st;

	vcpu->exits++;
	vcpu->stat[stat]++;
	trace_hvlab_exit(vcpu, stat);
	if (!READ_ONCE(hv_telemetry))
		return;
	/*
	 * An exit still open was never followed by a world switch, so this
	 * one had none either (an entry failure found in software): its
	 * time starts now.  hv_tele_run_begin() stamps a RUN that starts
	 * with nothing open.
	 */
	st = &t->stat[stat];
	if (unlikely(t->open))
		t->exit_tsc = rdtsc();
	t->open = &st->h[HV_HIST_KERNEL];
	t->cur_stat = stat;
	st->vendor_reason = t->jnext->vendor_reason;
	hv_journal_add(vcpu, t, stat);
}

/* The exit is over: into its histogram, and maybe an event for the stream. */
static __always_inline void hv_tele_close(struct hv_tele *t, struct hv_hist *h, u64 now)
{
	u64 d = now - t->exit_tsc;

	t->open = NULL;
	h->cycles += d;
	h->slot[fls64(d)]++;
	if (unlikely(t->stream))
		hv_tele_event(t, h, d);
}

/* Right before the world switch; interrupts are off: nothing may sleep. */
static __always_inline void hv_tele_entry(struct hv_vcpu *vcpu)
{
	struct hv_tele *t = vcpu->tele;
	struct hv_hist *h;

	trace_hvlab_entry(vcpu);
	if (unlikely(READ_ONCE(t->reset_pending)))
		hv_tele_do_reset(vcpu);
	h = t->open;
	if (h)
		hv_tele_close(t, h, rdtsc());
}

#endif /* HVLAB_TELE_HOT_H */
