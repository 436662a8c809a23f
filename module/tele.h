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

#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/workqueue.h>

#include "hvlab.h"

struct hv_vcpu;

/* Histogram kinds, in the order of the HIST_* netlink attributes. */
enum hv_hist_kind { HV_HIST_KERNEL, HV_HIST_USER, HV_HIST_RTT, HV_HIST_NR };

struct hv_stat_tele {
	u64 n[HV_HIST_NR];		/* exits per histogram */
	u64 cycles[HV_HIST_NR];		/* their sum */
	u64 hist[HV_HIST_NR][HVLAB_HIST_BUCKETS];
	u64 vendor_reason;		/* the last raw reason counted here */
};

/* One exit for the multicast group, filled when the exit is over. */
struct hv_exit_event {
	u64 tsc, vendor_reason, rip, qual, qual2, rcx, cycles;
	u8 stat, where;
};

#define HV_EVENT_RING	256		/* power of two */

struct hv_tele {
	/* The exit in flight: stamped at the exit, closed at the next entry. */
	u64 exit_tsc;
	u64 user_tsc;			/* RUN returned to userspace */
	u64 vendor_reason, qual, qual2;	/* hv_exit_info() */
	u64 rip;
	u8 cur_stat;			/* its neutral reason */
	bool stamped;			/* exit_tsc taken, not counted yet */
	bool open;			/* counted, waiting for the next entry */
	bool user;			/* RUN returned while it was open */
	bool reset_pending;		/* a netlink RESET waits for this thread */
	u32 sample_ctr;

	struct hv_stat_tele stat[HVLAB_STAT_NR];

	struct hv_vcpu *vcpu;

	/* Single producer (the vCPU thread), single consumer (@work). */
	struct work_struct work;
	u32 ev_head, ev_tail;
	u64 ev_dropped;
	struct hv_exit_event ev[HV_EVENT_RING];

	/* vmalloc_user(HVLAB_JOURNAL_SIZE), mmap()ed read-only by userspace. */
	struct hvlab_journal *journal;
};

#endif /* HVLAB_TELE_H */
