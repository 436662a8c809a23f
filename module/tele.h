/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tele.h - exit telemetry state of one vCPU (module/stats.c, module/genl.c):
 * the exit in flight, histograms by neutral reason, the event ring for the
 * netlink multicast group, the exit journal.
 *
 * Everything here is written by the vCPU's own thread only (the RUN loop),
 * without locks; readers (netlink dumps) read it racily, as counters.
 */
#ifndef HVLAB_TELE_H
#define HVLAB_TELE_H

#include <linux/bitops.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/workqueue.h>

#include "hvlab.h"

struct hv_vcpu;

/* Histogram kinds, in the order of the HIST_* netlink attributes. */
enum hv_hist_kind { HV_HIST_KERNEL, HV_HIST_USER, HV_HIST_RTT, HV_HIST_NR };

/*
 * One histogram.  The hot path indexes it by fls64() of the duration
 * with no clamp (slots 0..64); dumps fold slots HVLAB_HIST_BUCKETS-1 and
 * up into the ABI's open-ended last bucket (hv_hist_fold()), and the
 * number of exits is the sum of the slots, so no separate count is kept.
 */
#define HV_HIST_SLOTS	65

struct hv_hist {
	u64 cycles;			/* sum of the durations */
	u64 slot[HV_HIST_SLOTS];
};

/*
 * The log2 bucket of a duration: fls64(), with a duration of 0 (which
 * two TSC reads around a world switch never give) counted as 1, so that
 * __fls() is defined and no sign extension is needed.
 */
static __always_inline unsigned long hv_hist_slot(u64 d)
{
	return __fls(d | 1) + 1;
}

/* Per neutral reason. */
struct hv_stat_tele {
	struct hv_hist h[HV_HIST_NR];
	u64 vendor_reason;		/* the last raw reason counted here */
};

/* One exit for the multicast group, filled when the exit is over. */
struct hv_exit_event {
	u64 tsc, vendor_reason, rip, qual, qual2, rcx, cycles;
	u8 stat, where;
};

#define HV_EVENT_RING	256		/* power of two */

/*
 * The per-exit half of the telemetry state, embedded in struct hv_vcpu
 * (vcpu->th) so that the exit path reaches it from the vCPU pointer it
 * holds anyway, without loading vcpu->tele first (module/tele_hot.h).
 *
 * The journal entry at @jcur is the exit's whole record while it is in
 * flight: hv_exit_info() empties it (seq 0) and writes the raw reason,
 * hv_tele_exit() the TSC and registers, hv_count_exit() the neutral
 * reason and publishes it (seq, head).  A published entry at @jcur is
 * the open exit: the next entry closes it (histogram from its TSC and
 * reason) and moves @jcur on.  With telemetry off nothing is published,
 * so nothing is ever open and @jcur stays.
 */
struct hv_tele_hot {
	struct hvlab_journal_entry *jcur;
	/*
	 * The head hv_count_exit() counts and publishes (it is the next seq
	 * too), and how @jcur moves on: &journal->head,
	 * the first entry and HVLAB_JOURNAL_ENTRIES - 1; while the journal is
	 * frozen, the scratch head and entry and 0, so that every exit lands
	 * in the scratch entry and nothing shared changes, without a test.
	 */
	u64 *jhead;
	struct hvlab_journal_entry *jent;
	u32 jmask;
	/*
	 * Anything that takes the next entry off the fast path, tested as
	 * one word there (hv_tele_entry_slow()): a netlink RESET waiting for
	 * this thread (written by other threads while it runs), events
	 * wanted for this RUN (sampling on and someone listens: see
	 * hv_tele_run_begin()), the open exit handled in userspace, the open
	 * exit to be forgotten (a RESET came after it), and an entry at
	 * @jcur that is not an exit of this vCPU's (a thawed journal).
	 */
	union {
		struct {
			u8 reset_pending;
			u8 stream;
			u8 user;
			u8 forget;
			u8 stale;
			u8 unused[3];	/* zero: part of @slow */
		};
		u64 slow;
	};
	bool frozen;			/* the journal keeps a post-mortem */
	struct hv_stat_tele *stat;	/* vcpu->tele->stat */
};

/* The open exit at @e is over: the journal moves on to the next entry. */
static __always_inline void hv_journal_next(struct hv_tele_hot *th, struct hvlab_journal_entry *e,
					    u64 seq)
{
	th->jcur = seq & th->jmask ? e + 1 : th->jent;
}

struct hv_tele {
	u32 sample_ctr;
	u64 user_tsc;			/* RUN returned to userspace */

	struct hv_stat_tele stat[HVLAB_STAT_NR];

	struct hv_vcpu *vcpu;

	/* Single producer (the vCPU thread), single consumer (@work). */
	struct work_struct work;
	u32 ev_head, ev_tail;
	u64 ev_dropped;
	struct hv_exit_event ev[HV_EVENT_RING];

	/* vmalloc_user(HVLAB_JOURNAL_SIZE), mmap()ed read-only by userspace. */
	struct hvlab_journal *journal;
	/* Frozen journal: exits still get an entry (events read it), not kept. */
	struct hvlab_journal_entry jscratch;
	u64 jscratch_head;
};

/* The ABI's buckets of @h, and the number of exits in it. */
static inline u64 hv_hist_fold(const struct hv_hist *h, u64 out[HVLAB_HIST_BUCKETS])
{
	u64 n = 0;
	unsigned int i;

	for (i = 0; i < HV_HIST_SLOTS; i++) {
		u64 v = READ_ONCE(h->slot[i]);

		if (i < HVLAB_HIST_BUCKETS)
			out[i] = v;
		else
			out[HVLAB_HIST_BUCKETS - 1] += v;
		n += v;
	}
	return n;
}

#endif /* HVLAB_TELE_H */
