// SPDX-License-Identifier: GPL-2.0
/*
 * stats.c - exit telemetry: for every exit, how long from the VM exit to
 * the next VM entry, where it was handled (kernel or userspace), a log2
 * histogram per neutral reason, an exit journal for post-mortems, the
 * hvlab_exit/hvlab_entry tracepoints, and samples for the netlink
 * multicast group (module/genl.c sends them).
 *
 * The life of one exit, as telemetry sees it:
 *   hv_tele_exit()       world switch returned: stamp the TSC
 *   hv_count_exit()      the backend knows the neutral reason: count it,
 *                        journal it, trace it
 *   hv_tele_run_end()    RUN returns with the exit still open: it is
 *                        handled in userspace; stamp the TSC again
 *   hv_tele_run_begin()  RUN is called again: the userspace round trip
 *   hv_tele_entry()      the next world switch: the exit is over
 * All of it runs in the vCPU's own thread, so the per-vCPU state needs no
 * lock; none of it allocates or sleeps (hv_tele_entry runs with
 * interrupts off).  The module parameter "telemetry" turns everything but
 * the counts and the tracepoints off (for measuring what it costs).
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

/* Everything counted so far goes; run by the vCPU's thread or under its lock. */
static void hv_tele_do_reset(struct hv_vcpu *vcpu)
{
	struct hv_tele *t = vcpu->tele;

	vcpu->exits = 0;
	memset(vcpu->stat, 0, sizeof(vcpu->stat));
	memset(t->stat, 0, sizeof(t->stat));
	hv_lapic_reset_stats(vcpu);
	/* The exit in flight is forgotten too, or it would land in a histogram uncounted. */
	t->open = false;
	t->stamped = false;
	t->user = false;
	WRITE_ONCE(t->reset_pending, false);
}

/*
 * Netlink RESET: at once if the vCPU is idle, else its own thread does
 * it before its next entry (nothing else may write its counters).
 */
void hv_tele_reset(struct hv_vcpu *vcpu)
{
	WRITE_ONCE(vcpu->tele->reset_pending, true);
	if (mutex_trylock(&vcpu->lock)) {
		hv_tele_do_reset(vcpu);
		mutex_unlock(&vcpu->lock);
	}
}

/* Bucket b: 2^(b-1) <= d < 2^b; the last one is open-ended. */
static unsigned int hv_hist_bucket(u64 d)
{
	return min_t(unsigned int, fls64(d), HVLAB_HIST_BUCKETS - 1);
}

static void hv_hist_add(struct hv_stat_tele *st, enum hv_hist_kind kind, u64 d)
{
	st->n[kind]++;
	st->cycles[kind] += d;
	st->hist[kind][hv_hist_bucket(d)]++;
}

static void hv_journal_add(struct hv_vcpu *vcpu, unsigned int stat)
{
	struct hv_tele *t = vcpu->tele;
	struct hvlab_journal *j = t->journal;
	struct hvlab_journal_entry *e;
	const struct hvlab_regs *r = &vcpu->regs;
	u64 head = j->head;

	if (j->frozen)
		return;
	e = (void *)j + HVLAB_JOURNAL_ENTRIES_OFFSET;
	e += head % HVLAB_JOURNAL_ENTRIES;
	/* seq 0 while it is rewritten: a reader copying it then sees "empty". */
	WRITE_ONCE(e->seq, 0);
	smp_wmb();
	e->tsc = t->exit_tsc;
	e->vendor_reason = t->vendor_reason;
	e->qual = t->qual;
	e->qual2 = t->qual2;
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
	smp_wmb();
	WRITE_ONCE(e->seq, head + 1);
	WRITE_ONCE(j->head, head + 1);
	/* The exits that led to the end of the guest stay for the post-mortem. */
	if (stat == HVLAB_STAT_SHUTDOWN || stat == HVLAB_STAT_ENTRY_FAILURE) {
		j->frozen_stat = stat;
		WRITE_ONCE(j->frozen, 1);
	}
}

void hv_tele_count(struct hv_vcpu *vcpu, unsigned int stat)
{
	struct hv_tele *t = vcpu->tele;

	trace_hvlab_exit(vcpu, stat);
	if (!READ_ONCE(hv_telemetry))
		return;
	/* Entry failures found before any world switch have no stamp yet. */
	if (!t->stamped)
		t->exit_tsc = rdtsc();
	t->stamped = false;
	t->open = true;
	t->user = false;
	t->cur_stat = stat;
	t->rip = vcpu->regs.rip;
	t->stat[stat].vendor_reason = t->vendor_reason;
	hv_journal_add(vcpu, stat);
}

/* The exit is over: histogram, and maybe an event for the multicast group. */
static void hv_tele_close(struct hv_vcpu *vcpu, u64 now)
{
	struct hv_tele *t = vcpu->tele;
	u64 d = now - t->exit_tsc;
	u32 sample = READ_ONCE(vcpu->vm->event_sample);

	t->open = false;
	hv_hist_add(&t->stat[t->cur_stat], t->user ? HV_HIST_USER : HV_HIST_KERNEL, d);
	if (sample && ++t->sample_ctr >= sample) {
		u32 head = t->ev_head;

		t->sample_ctr = 0;
		if (head - smp_load_acquire(&t->ev_tail) >= HV_EVENT_RING) {
			t->ev_dropped++;
		} else {
			struct hv_exit_event *ev = &t->ev[head & (HV_EVENT_RING - 1)];

			ev->tsc = t->exit_tsc;
			ev->vendor_reason = t->vendor_reason;
			ev->rip = t->rip;
			ev->qual = t->qual;
			ev->cycles = d;
			ev->stat = t->cur_stat;
			ev->where = t->user ? HVLAB_WHERE_USER : HVLAB_WHERE_KERNEL;
			smp_store_release(&t->ev_head, head + 1);
			/* A quarter full: let the worker send (queue_work is irq-safe). */
			if (((head + 1) & (HV_EVENT_RING / 4 - 1)) == 0)
				queue_work(system_unbound_wq, &t->work);
		}
	}
	t->user = false;
}

/* Interrupts are off: nothing here may sleep or allocate. */
void hv_tele_entry(struct hv_vcpu *vcpu)
{
	struct hv_tele *t = vcpu->tele;

	trace_hvlab_entry(vcpu);
	if (unlikely(READ_ONCE(t->reset_pending)))
		hv_tele_do_reset(vcpu);
	if (t->open)
		hv_tele_close(vcpu, rdtsc());
}

void hv_tele_run_begin(struct hv_vcpu *vcpu)
{
	struct hv_tele *t = vcpu->tele;

	if (unlikely(READ_ONCE(t->reset_pending)))
		hv_tele_do_reset(vcpu);
	/* user_tsc 0: a RUN that returned early already took the round trip. */
	if (t->open && t->user && t->user_tsc) {
		hv_hist_add(&t->stat[t->cur_stat], HV_HIST_RTT, rdtsc() - t->user_tsc);
		t->user_tsc = 0;
	}
}

/* RUN returns: an exit still open is userspace's to handle. */
void hv_tele_run_end(struct hv_vcpu *vcpu)
{
	struct hv_tele *t = vcpu->tele;

	if (t->open) {
		t->user = true;
		t->user_tsc = rdtsc();
	}
	if (READ_ONCE(t->ev_head) != READ_ONCE(t->ev_tail))
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

void hv_journal_thaw(struct hv_vcpu *vcpu)
{
	WRITE_ONCE(vcpu->tele->journal->frozen, 0);
}
