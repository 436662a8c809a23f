// SPDX-License-Identifier: GPL-2.0
/*
 * stats.c - exit telemetry: for every exit, how long from the VM exit to
 * the next VM entry, where it was handled (kernel or userspace), a log2
 * histogram per neutral reason, an exit journal for post-mortems, the
 * hvlab_exit/hvlab_entry tracepoints, and samples for the netlink
 * multicast group (module/genl.c sends them).
 *
 * The life of one exit, as telemetry sees it:
 *   hv_exit_info()       the raw reason, straight into the journal entry
 *   hv_tele_exit()       world switch returned: the TSC and the guest's
 *                        registers, into the same entry (tele_hot.h)
 *   hv_count_exit()      the backend knows the neutral reason: count it,
 *                        publish the journal entry, trace it (tele_hot.h)
 *   hv_tele_run_end()    RUN returns with the exit still open: it is
 *                        handled in userspace; stamp the TSC again
 *   hv_tele_run_begin()  RUN is called again: the userspace round trip;
 *                        whether events go out during this RUN
 *   hv_tele_entry()      the next world switch: the exit is over, into
 *                        its histogram (tele_hot.h)
 * All of it runs in the vCPU's own thread, so the per-vCPU state needs no
 * lock or atomic; none of it allocates or sleeps (hv_tele_entry runs with
 * interrupts off).  The per-exit parts are inline in the exit paths
 * (module/tele_hot.h); this file has their rare cases and the rest.  The
 * module parameter "telemetry" turns everything but the counts and the
 * tracepoints off (for measuring what it costs).
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/version.h>
#include <asm/msr.h>

#include "hv.h"

#define CREATE_TRACE_POINTS
#include "hv_trace.h"

bool hv_telemetry = true;
module_param_named(telemetry, hv_telemetry, bool, 0644);
MODULE_PARM_DESC(telemetry, "exit histograms, journal and events (counts and tracepoints stay)");

/* Every VM, for the netlink dump (module/genl.c), in creation order. */
LIST_HEAD(hv_vms);
DEFINE_MUTEX(hv_vms_lock);
static atomic_t hv_next_vm_id = ATOMIC_INIT(0);

void hv_tele_vm_add(struct hv_vm *vm)
{
	vm->id = atomic_inc_return(&hv_next_vm_id);
	vm->owner = current_euid();
	vm->pid = task_tgid_nr(current);
	mutex_lock(&hv_vms_lock);
	list_add_tail(&vm->node, &hv_vms);
	mutex_unlock(&hv_vms_lock);
}

/* Before the vCPUs go: after it no dump can reach them. */
void hv_tele_vm_del(struct hv_vm *vm)
{
	mutex_lock(&hv_vms_lock);
	list_del(&vm->node);
	mutex_unlock(&hv_vms_lock);
}

int hv_tele_vcpu_init(struct hv_vcpu *vcpu)
{
	struct hv_tele *t;

	BUILD_BUG_ON(sizeof(struct hvlab_journal_entry) * HVLAB_JOURNAL_ENTRIES !=
		     HVLAB_JOURNAL_SIZE - HVLAB_JOURNAL_ENTRIES_OFFSET);
	BUILD_BUG_ON(sizeof(struct hvlab_journal) > HVLAB_JOURNAL_ENTRIES_OFFSET);
	BUILD_BUG_ON(HVLAB_STAT_NR > 255);
	/* th.jmask wraps the journal with an AND. */
	BUILD_BUG_ON(HVLAB_JOURNAL_ENTRIES & (HVLAB_JOURNAL_ENTRIES - 1));

	t = kvzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return -ENOMEM;
	t->journal = vmalloc_user(HVLAB_JOURNAL_SIZE);
	if (!t->journal) {
		kvfree(t);
		return -ENOMEM;
	}
	t->journal->nent = HVLAB_JOURNAL_ENTRIES;
	t->journal->entry_size = sizeof(struct hvlab_journal_entry);
	t->vcpu = vcpu;
	INIT_WORK(&t->work, hv_genl_send_events);
	vcpu->tele = t;
	vcpu->th.jent = (void *)t->journal + HVLAB_JOURNAL_ENTRIES_OFFSET;
	vcpu->th.jcur = vcpu->th.jent;
	vcpu->th.jhead = &t->journal->head;
	vcpu->th.jmask = HVLAB_JOURNAL_ENTRIES - 1;
	vcpu->th.stat = t->stat;
	return 0;
}

void hv_tele_vcpu_free(struct hv_vcpu *vcpu)
{
	struct hv_tele *t = vcpu->tele;

	if (!t)
		return;
	cancel_work_sync(&t->work);
	vfree(t->journal);
	kvfree(t);
	vcpu->tele = NULL;
}

/*
 * The open exit's journal entry, for the netlink dump: NULL if none.
 * Racy against the vCPU's thread, like the counters; while the guest
 * runs, @jcur is the next exit's entry, whatever its seq says.
 */
static const struct hvlab_journal_entry *hv_tele_open_entry(const struct hv_vcpu *vcpu)
{
	const struct hvlab_journal_entry *e = READ_ONCE(vcpu->th.jcur);

	if (READ_ONCE(vcpu->guest_mode) || READ_ONCE(vcpu->th.stale) ||
	    READ_ONCE(vcpu->th.forget) || !READ_ONCE(e->seq))
		return NULL;
	return e;
}

/* Which exit is open, for the netlink dump: HVLAB_STAT_NR if none. */
unsigned int hv_tele_open_stat(const struct hv_vcpu *vcpu)
{
	const struct hvlab_journal_entry *e = hv_tele_open_entry(vcpu);

	return e ? READ_ONCE(e->stat) : HVLAB_STAT_NR;
}

/* Everything counted so far goes; run by the vCPU's thread or under its lock. */
void hv_tele_do_reset(struct hv_vcpu *vcpu)
{
	struct hv_tele *t = vcpu->tele;

	vcpu->exits = 0;
	memset(vcpu->stat, 0, sizeof(vcpu->stat));
	memset(t->stat, 0, sizeof(t->stat));
	hv_lapic_reset_stats(vcpu);
	/*
	 * The exit in flight is forgotten too, or it would land in a
	 * histogram uncounted; its journal entry stays.
	 */
	vcpu->th.user = 0;
	t->user_tsc = 0;
	vcpu->th.forget = 1;
	WRITE_ONCE(vcpu->th.reset_pending, false);
}

/*
 * Netlink RESET: at once if the vCPU is idle, else its own thread does
 * it before its next entry (nothing else may write its counters).
 */
void hv_tele_reset(struct hv_vcpu *vcpu)
{
	WRITE_ONCE(vcpu->th.reset_pending, true);
	if (mutex_trylock(&vcpu->lock)) {
		hv_tele_do_reset(vcpu);
		mutex_unlock(&vcpu->lock);
	}
}

/*
 * After hv_count_exit() published an exit that ends a guest (a triple
 * fault, an entry failure): the journal keeps it and the exits that led
 * to it for the post-mortem.  Later exits go to the scratch entry and
 * head, unpublished, until HVLAB_THAW_JOURNAL; the open exit itself is
 * closed as usual and moves @jcur there.
 */
void hv_journal_freeze(struct hv_vcpu *vcpu, unsigned int stat)
{
	struct hv_tele_hot *th = &vcpu->th;
	struct hv_tele *t = vcpu->tele;

	if (th->frozen)
		return;
	t->journal->frozen_stat = stat;
	WRITE_ONCE(t->journal->frozen, 1);
	th->frozen = true;
	th->jent = &t->jscratch;
	t->jscratch_head = t->journal->head;	/* counting on from there */
	th->jhead = &t->jscratch_head;
	th->jmask = 0;
}

/*
 * An entry failure found in software while an exit is open: that exit
 * never had an entry, so it gets no histogram; the journal moves past
 * its entry.
 */
void hv_tele_drop_open(struct hv_vcpu *vcpu)
{
	struct hv_tele_hot *th = &vcpu->th;
	struct hvlab_journal_entry *e = th->jcur;
	u64 seq = e->seq;

	if (th->stale)
		th->stale = 0;		/* not ours: overwrite it */
	else
		hv_journal_next(th, e, seq);
	th->user = 0;
	th->forget = 0;
	vcpu->tele->user_tsc = 0;
}

/*
 * One event for the multicast group, when the exit at @e is over while
 * vcpu->th.stream is set: sampling is on and someone listens.  The ring
 * is drained by the worker (module/genl.c), woken when it is a quarter
 * full and when RUN returns.
 */
static void hv_tele_event(struct hv_vcpu *vcpu, const struct hvlab_journal_entry *e,
			  unsigned int where, u64 d)
{
	u32 sample = READ_ONCE(vcpu->vm->event_sample);
	struct hv_tele *t = vcpu->tele;
	struct hv_exit_event *ev;
	u32 head = t->ev_head;

	if (!sample || ++t->sample_ctr < sample)
		return;
	t->sample_ctr = 0;
	if (head - smp_load_acquire(&t->ev_tail) >= HV_EVENT_RING) {
		t->ev_dropped++;
		return;
	}
	ev = &t->ev[head & (HV_EVENT_RING - 1)];
	ev->tsc = e->tsc;
	ev->vendor_reason = e->vendor_reason;
	ev->rip = e->rip;
	ev->qual = e->qual;
	ev->qual2 = e->qual2;
	/* RCX at the exit: for RDMSR/WRMSR the MSR index. */
	ev->rcx = e->rcx;
	ev->cycles = d;
	ev->stat = e->stat;
	ev->where = where;
	smp_store_release(&t->ev_head, head + 1);
	/* A quarter full: let the worker send (queue_work is irq-safe). */
	if (((head + 1) & (HV_EVENT_RING / 4 - 1)) == 0)
		queue_work(system_unbound_wq, &t->work);
}

static void hv_hist_add(struct hv_hist *h, u64 d)
{
	h->cycles += d;
	h->slot[hv_hist_slot(d)]++;
}

/*
 * hv_tele_entry() when th->slow is set: a RESET to do first, an open
 * exit handled in userspace, forgotten or not ours, and the exit's event
 * for the stream.  Interrupts are off.
 */
void hv_tele_entry_slow(struct hv_vcpu *vcpu)
{
	struct hv_tele_hot *th = &vcpu->th;
	struct hvlab_journal_entry *e;
	struct hv_stat_tele *st;
	unsigned int where;
	u64 seq, d;

	if (READ_ONCE(th->reset_pending))
		hv_tele_do_reset(vcpu);
	e = th->jcur;
	seq = e->seq;
	if (th->stale || !seq) {
		/* Nothing open (or a thawed journal's old entry): nothing to close. */
		th->stale = th->user = th->forget = 0;
		return;
	}
	where = th->user ? HVLAB_WHERE_USER : HVLAB_WHERE_KERNEL;
	th->user = 0;
	if (th->forget) {
		th->forget = 0;
	} else {
		d = rdtsc() - e->tsc;
		st = &th->stat[e->stat];
		st->vendor_reason = e->vendor_reason;
		hv_hist_add(&st->h[where == HVLAB_WHERE_USER ? HV_HIST_USER : HV_HIST_KERNEL], d);
		if (th->stream)
			hv_tele_event(vcpu, e, where, d);
	}
	hv_journal_next(th, e, seq);
}

/*
 * RUN is called: the userspace round trip of an open exit ends, and
 * whether events go out is decided for this RUN.  Checking for
 * listeners here, once per RUN and only while sampling is on, keeps the
 * per-exit path free of it: with nobody listening the ring is never
 * filled and no worker is ever queued.  A listener that joins while a
 * RUN is in progress gets events from the next RUN on.
 */
void hv_tele_run_begin(struct hv_vcpu *vcpu)
{
	struct hv_tele_hot *th = &vcpu->th;
	struct hv_tele *t = vcpu->tele;

	if (unlikely(READ_ONCE(th->reset_pending)))
		hv_tele_do_reset(vcpu);
	th->stream = READ_ONCE(vcpu->vm->event_sample) && hv_genl_listening();
	/* user_tsc 0: a RUN that returned early already took the round trip. */
	if (th->user && t->user_tsc) {
		hv_hist_add(&th->stat[th->jcur->stat].h[HV_HIST_RTT], rdtsc() - t->user_tsc);
		t->user_tsc = 0;
	}
}

/* RUN returns: an exit still open is userspace's to handle. */
void hv_tele_run_end(struct hv_vcpu *vcpu)
{
	struct hv_tele_hot *th = &vcpu->th;
	struct hv_tele *t = vcpu->tele;

	if (th->jcur->seq && !th->stale && !th->forget) {
		th->user = 1;
		t->user_tsc = rdtsc();
	}
	/* Only when someone listens: the worker costs thousands of instructions. */
	if (th->stream && READ_ONCE(t->ev_head) != READ_ONCE(t->ev_tail))
		queue_work(system_unbound_wq, &t->work);
}

/* The journal, read-only: userspace must not be able to fake a post-mortem. */
int hv_journal_mmap(struct hv_vcpu *vcpu, struct vm_area_struct *vma)
{
	if (vma->vm_end - vma->vm_start > HVLAB_JOURNAL_SIZE)
		return hv_reject(-EINVAL, "the journal is %u bytes", HVLAB_JOURNAL_SIZE);
	if (vma->vm_flags & VM_WRITE)
		return hv_reject(-EACCES, "the journal is read-only");
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
	vma->vm_flags &= ~VM_MAYWRITE;
#else
	vm_flags_clear(vma, VM_MAYWRITE);
#endif
	return remap_vmalloc_range(vma, vcpu->tele->journal, 0);
}

/*
 * Under the vCPU's lock (not running): the next exit goes to the slot at
 * head, whose old entry is no exit in flight (th->stale); an exit that
 * was open goes without a histogram.
 */
void hv_journal_thaw(struct hv_vcpu *vcpu)
{
	struct hv_tele_hot *th = &vcpu->th;
	struct hv_tele *t = vcpu->tele;

	if (!th->frozen)
		return;
	th->jent = (void *)t->journal + HVLAB_JOURNAL_ENTRIES_OFFSET;
	th->jcur = th->jent + t->journal->head % HVLAB_JOURNAL_ENTRIES;
	th->jhead = &t->journal->head;
	th->jmask = HVLAB_JOURNAL_ENTRIES - 1;
	th->frozen = false;
	th->user = 0;
	th->forget = 0;
	th->stale = 1;
	t->user_tsc = 0;
	WRITE_ONCE(t->journal->frozen, 0);
}
