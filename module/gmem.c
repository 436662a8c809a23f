// SPDX-License-Identifier: GPL-2.0
/*
 * gmem.c - guest memory follows the VMM's memory: nested page faults fill
 * the nested tables from the VMM's own page tables, and an MMU notifier
 * empties them whenever the host changes those (munmap, mremap,
 * MADV_DONTNEED, hole punching, swap, compaction, THP splits...).
 *
 * This is KVM's design (kvm_faultin_pfn/hva_to_pfn, the
 * kvm_mmu_notifier_invalidate_range_start/end pair and the
 * mmu_invalidate_seq retry protocol, host_pfn_mapping_level), written for
 * hvlab's one-table, one-lock world:
 *
 *  - A fault takes a short-lived reference on the page (get_user_pages_fast,
 *    FOLL_WRITE for writable slots, so a copy-on-write is broken now), and
 *    drops it right after the leaf is in: the tables hold no reference and
 *    nothing is pinned.  What keeps the leaf correct afterwards is the
 *    notifier: before the host frees, moves or remaps the page it calls
 *    invalidate_range_start, which removes the leaf and flushes the TLBs.
 *  - A fault that raced an invalidation must not install what it got
 *    before the host's change: see the protocol in struct hv_vm (hv.h).
 *  - Locks: vm->lock (mutex) -> mmap_lock (inside GUP) -> vm->mmu_lock
 *    (spinlock).  The notifier takes mmu_lock only, never sleeps under it,
 *    and reschedules between steps of a long zap only when it may block.
 *
 * Not implemented: the notifier's clear_flush_young/clear_young/test_young
 * (left NULL).  Page aging then sees only the VMM's own accesses, so the
 * host may pick guest pages for reclaim that the guest uses often; that
 * costs refaults, never correctness (reclaim unmaps through the notifier).
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
#include <linux/smp.h>

#include <asm/cacheflush.h>

#include "hv.h"
#include "spec.h"

static void hv_kick_nop(void *unused)
{
}

/*
 * After entries were removed, under mmu_lock: a new generation, so every
 * vCPU flushes before its next entry, and the CPUs that run this VM's
 * vCPUs in guest mode right now are interrupted and waited for (their TLB
 * may hold what was removed; the interrupt makes the guest exit, and the
 * next entry sees the new generation).  CPUs that run other VMs, or
 * nothing, are left alone.  smp_call_function_many() spins, it does not
 * sleep, so this is allowed under a spinlock and in a non-blocking
 * notifier call (preemption off; interrupts are on in both).
 */
static void hv_vm_flush_remote(struct hv_vm *vm)
{
	unsigned int i;

	lockdep_assert_held(&vm->mmu_lock);
	WRITE_ONCE(vm->mmu_gen, vm->mmu_gen + 1);
	smp_mb();	/* pairs with hv_guest_mode_enter() */
	cpumask_clear(vm->kick_mask);
	for (i = 0; i < hv_max_vcpus; i++) {
		struct hv_vcpu *v = READ_ONCE(vm->vcpus[i]);

		if (v && smp_load_acquire(&v->guest_mode))
			__cpumask_set_cpu(READ_ONCE(v->cpu), vm->kick_mask);
	}
	if (!cpumask_empty(vm->kick_mask))
		smp_call_function_many(vm->kick_mask, hv_kick_nop, NULL, true);
}

/*
 * Throw every mapping away (a slot moved or went, or the mm is going):
 * under mmu_lock the root is emptied and the CPUs flushed; the caller
 * frees @detached with hv_mmu_free_detached() after dropping the lock,
 * so a large table's teardown can reschedule.
 */
void hv_vm_zap_all_locked(struct hv_vm *vm, struct list_head *detached)
{
	lockdep_assert_held(&vm->mmu_lock);
	if (hv_mmu_detach_all(&vm->mmu, detached))
		hv_vm_flush_remote(vm);
}

static void hv_vm_zap_all(struct hv_vm *vm)
{
	LIST_HEAD(detached);

	spin_lock(&vm->mmu_lock);
	hv_vm_zap_all_locked(vm, &detached);
	spin_unlock(&vm->mmu_lock);
	hv_mmu_free_detached(&vm->mmu, &detached);
}

/*
 * Remove the leaves of every slot part that [@start, @end) of the VMM's
 * address space backs.  Under mmu_lock; if @may_block, the lock is let go
 * between steps when someone waits (each step walks from the root anew,
 * and only a detach frees tables, so nothing held goes stale).  Returns
 * whether anything was removed (then the caller flushes).
 */
static bool hv_vm_zap_hva(struct hv_vm *vm, unsigned long start, unsigned long end,
			  bool may_block)
{
	bool zapped = false;
	unsigned int i;

	for (i = 0; i < hv_max_slots; i++) {
		const struct hv_slot *s = &vm->slots[i];
		u64 lo, hi, gpa, gpa_end;

		if (!s->size || end <= s->uaddr || start >= s->uaddr + s->size)
			continue;
		lo = max_t(u64, start, s->uaddr);
		hi = min_t(u64, end, s->uaddr + s->size);
		gpa = s->gpa + (lo - s->uaddr);
		gpa_end = s->gpa + (hi - s->uaddr);
		while (gpa < gpa_end) {
			gpa = hv_mmu_zap_step(&vm->mmu, gpa, gpa_end, &zapped);
			if (may_block && gpa < gpa_end)
				cond_resched_lock(&vm->mmu_lock);
		}
	}
	return zapped;
}

static struct hv_vm *hv_mn_vm(struct mmu_notifier *mn)
{
	return container_of(mn, struct hv_vm, mn);
}

/*
 * The host is about to change [start, end) of the VMM's page tables.
 * Count the invalidation (faults in the range now retry), remove the
 * leaves and flush before returning: after this the host frees or reuses
 * the pages.  Never fails, so the non-blocking callers (the OOM reaper)
 * get the same service without sleeping.
 */
static int hv_mn_invalidate_range_start(struct mmu_notifier *mn,
					const struct mmu_notifier_range *range)
{
	struct hv_vm *vm = hv_mn_vm(mn);

	spin_lock(&vm->mmu_lock);
	if (!vm->mmu_invalidate_in_progress++) {
		vm->mmu_invalidate_start = range->start;
		vm->mmu_invalidate_end = range->end;
	} else {
		/* Overlapping invalidations: one range covering all (as KVM). */
		vm->mmu_invalidate_start = min(vm->mmu_invalidate_start, range->start);
		vm->mmu_invalidate_end = max(vm->mmu_invalidate_end, range->end);
	}
	if (hv_vm_zap_hva(vm, range->start, range->end, mmu_notifier_range_blockable(range)))
		hv_vm_flush_remote(vm);
	spin_unlock(&vm->mmu_lock);
	return 0;
}

/* The host's change is done: a fault that looked before it must retry. */
static void hv_mn_invalidate_range_end(struct mmu_notifier *mn,
				       const struct mmu_notifier_range *range)
{
	struct hv_vm *vm = hv_mn_vm(mn);

	spin_lock(&vm->mmu_lock);
	vm->mmu_invalidate_seq++;
	if (!WARN_ON_ONCE(!vm->mmu_invalidate_in_progress))
		vm->mmu_invalidate_in_progress--;
	spin_unlock(&vm->mmu_lock);
}

/* The mm is going (exit_mmap) or we unregister: nothing may stay mapped. */
static void hv_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	hv_vm_zap_all(hv_mn_vm(mn));
}

/* The same callbacks, same signatures, in 6.1 and 6.12 <linux/mmu_notifier.h>. */
static const struct mmu_notifier_ops hv_mn_ops = {
	.invalidate_range_start	= hv_mn_invalidate_range_start,
	.invalidate_range_end	= hv_mn_invalidate_range_end,
	.release		= hv_mn_release,
};

/* At VM creation, in the creator's thread: follow current->mm from now on. */
int hv_gmem_init(struct hv_vm *vm)
{
	int err;

	spin_lock_init(&vm->mmu_lock);
	if (!zalloc_cpumask_var(&vm->kick_mask, GFP_KERNEL_ACCOUNT))
		return -ENOMEM;
	vm->mn.ops = &hv_mn_ops;
	err = mmu_notifier_register(&vm->mn, current->mm);
	if (err) {
		free_cpumask_var(vm->kick_mask);
		return err;
	}
	vm->mn_registered = true;
	return 0;
}

/*
 * At VM teardown, before the vCPUs and tables go: after unregistering, no
 * notifier callback runs or will run (mmu_notifier_unregister calls
 * ->release itself if the mm still lives, and waits for callbacks).
 */
void hv_gmem_destroy(struct hv_vm *vm)
{
	if (vm->mn_registered)
		mmu_notifier_unregister(&vm->mn, vm->mm);
	vm->mn_registered = false;
	free_cpumask_var(vm->kick_mask);
}

/* Under mmu_lock: did an invalidation touch [hva, hva_end) since @seq was read? */
static bool hv_mmu_invalidate_retry(struct hv_vm *vm, unsigned long seq,
				    unsigned long hva, unsigned long hva_end)
{
	lockdep_assert_held(&vm->mmu_lock);
	if (vm->mmu_invalidate_in_progress &&
	    hva < vm->mmu_invalidate_end && vm->mmu_invalidate_start < hva_end)
		return true;
	return vm->mmu_invalidate_seq != seq;
}

/*
 * Does the VMM's page table map the 2 MiB around @hva with one leaf (a
 * PMD-mapped transparent huge page or hugetlbfs page, or a 1 GiB hugetlbfs
 * page), and is @pfn, the frame GUP gave for @hva, the one it maps there?
 * A huge folio alone is not enough: after a partial MADV_DONTNEED or
 * mprotect the folio can still be 2 MiB while the host maps it with 4 KiB
 * entries, some of them gone, and a 2 MiB nested leaf would show the
 * guest pages the VMM no longer sees.
 *
 * Read without the page-table locks, as KVM's host_pfn_mapping_level()
 * does: the caller holds mmu_lock with no invalidation in progress over
 * the 2 MiB, so any change of these entries has yet to call
 * invalidate_range_start, which waits for mmu_lock and then removes what
 * we map now.  Interrupts stay off during the walk so that the page-table
 * pages are not freed under it (x86 frees them after a TLB-flush IPI or an
 * RCU-sched grace period, and neither completes here meanwhile; the same
 * rule as GUP-fast).
 */
static bool hv_host_maps_2m(struct mm_struct *mm, unsigned long hva, unsigned long pfn)
{
	unsigned long flags;
	bool ret = false;
	pgd_t pgd;
	p4d_t p4d;
	pud_t pud;
	pmd_t pmd;

	local_irq_save(flags);
	pgd = READ_ONCE(*pgd_offset(mm, hva));
	if (pgd_none(pgd) || !pgd_present(pgd))
		goto out;
	p4d = READ_ONCE(*p4d_offset(&pgd, hva));
	if (p4d_none(p4d) || !p4d_present(p4d))
		goto out;
	pud = READ_ONCE(*pud_offset(&p4d, hva));
	if (pud_none(pud) || !pud_present(pud))
		goto out;
	if (pud_leaf(pud)) {
		ret = pud_pfn(pud) + ((hva & ~PUD_MASK) >> PAGE_SHIFT) == pfn;
		goto out;
	}
	pmd = READ_ONCE(*pmd_offset(&pud, hva));
	if (!pmd_present(pmd) || !pmd_leaf(pmd))
		goto out;
	ret = pmd_pfn(pmd) + ((hva & ~PMD_MASK) >> PAGE_SHIFT) == pfn;
out:
	local_irq_restore(flags);
	return ret;
}

/*
 * The 2 MiB of guest-physical memory around @gpa can be one leaf: the slot
 * covers all of it and maps it from a 2 MiB-aligned VMM range (guest and
 * VMM addresses congruent modulo 2 MiB).  Uncached slots get 4 KiB leaves
 * only, each flushed from the caches as it is mapped (below).
 */
static bool hv_slot_can_map_2m(const struct hv_slot *slot, u64 gpa)
{
	u64 base = gpa & ~(HV_MMU_2M - 1);

	return !(slot->flags & HVLAB_MEM_UNCACHED) &&
	       base >= slot->gpa && base + HV_MMU_2M <= slot->gpa + slot->size &&
	       !((slot->uaddr - slot->gpa) & (HV_MMU_2M - 1));
}

/*
 * A nested page fault at @gpa.  RAM behind it: map the VMM's page there
 * (read-only for read-only slots).  No RAM, or a write to a read-only
 * slot: *is_mmio tells the backend to report an MMIO access.  Runs in
 * the vCPU thread, interrupts on; returns 0 (the guest re-executes the
 * access, also when the fault raced an invalidation and must be retried)
 * or -errno (the VMM's memory is not there: an internal error).
 */
int hv_mmu_fault(struct hv_vcpu *vcpu, u64 gpa, bool write, bool *is_mmio)
{
	struct hv_vm *vm = vcpu->vm;
	unsigned long hva, hva_2m, pfn, seq;
	bool writable, mapped = false;
	struct hv_slot *slot;
	unsigned int prot;
	struct page *page;
	int ret;

	*is_mmio = false;
	mutex_lock(&vm->lock);
	slot = hv_gpa_to_slot(vm, gpa);
	if (!slot || (write && (slot->flags & HVLAB_MEM_READONLY))) {
		mutex_unlock(&vm->lock);
		*is_mmio = true;
		return 0;
	}
	writable = !(slot->flags & HVLAB_MEM_READONLY);
	prot = (writable ? HV_MMU_WRITABLE : 0) |
	       (slot->flags & HVLAB_MEM_UNCACHED ? HV_MMU_UNCACHED : 0);
	hva = slot->uaddr + ((gpa & PAGE_MASK) - slot->gpa);

	ret = hv_mmu_topup(&vm->mmu);
	if (ret)
		goto out_unlock;

	/* The sequence before the page: see struct hv_vm. */
	seq = READ_ONCE(vm->mmu_invalidate_seq);
	smp_rmb();
	/* A writable slot asks for write access: COW broken, page dirtied (below). */
	ret = get_user_pages_fast(hva, 1, writable ? FOLL_WRITE : 0, &page);
	if (ret != 1) {
		ret = ret < 0 ? ret : -EFAULT;
		goto out_unlock;
	}
	ret = 0;
	pfn = page_to_pfn(page);

	/*
	 * An uncached leaf aliases a page the host maps write-back.  Lines
	 * the host left in the caches would be stale or lost under the
	 * guest's UC accesses on a CPU that does not snoop its own caches
	 * for them (SDM Vol. 3A 13.12.4, "Memory type aliasing"; hence the
	 * self-snoop feature): write them back and drop them first.
	 */
	if (prot & HV_MMU_UNCACHED)
		clflush_cache_range(page_address(page), PAGE_SIZE);

	spin_lock(&vm->mmu_lock);
	if (hv_mmu_invalidate_retry(vm, seq, hva, hva + PAGE_SIZE))
		goto out_mmu_unlock;	/* the page may be stale: fault again */

	/*
	 * Only a compound page (THP, hugetlbfs) can be mapped 2 MiB at once,
	 * and not at all on a host with the iTLB-multihit erratum (spec.c).
	 */
	hva_2m = hva & ~(HV_MMU_2M - 1);
	if (PageCompound(page) && hv_spec_large_leaves_ok() &&
	    hv_slot_can_map_2m(slot, gpa) &&
	    !hv_mmu_invalidate_retry(vm, seq, hva_2m, hva_2m + HV_MMU_2M) &&
	    hv_host_maps_2m(vm->mm, hva, pfn) &&
	    !hv_mmu_map_2m(&vm->mmu, gpa & ~(HV_MMU_2M - 1),
			   pfn & ~(HV_MMU_2M_PAGES - 1UL), prot)) {
		mapped = true;
		goto out_mmu_unlock;
	}
	ret = hv_mmu_map(&vm->mmu, gpa & PAGE_MASK, pfn, prot);
	mapped = !ret;
	if (ret == -EEXIST)
		ret = 0;	/* another vCPU mapped it first */
out_mmu_unlock:
	spin_unlock(&vm->mmu_lock);
	/*
	 * The guest may write through a writable leaf from now on without
	 * the host noticing, so the page is dirty now.  Cleaning it for
	 * writeback or swap write-protects or unmaps the VMM's mapping
	 * first, and that invalidation removes our leaf: the next guest
	 * write faults and dirties it again.  Read-only slots' pages are
	 * never dirtied.  The flag alone, as KVM's kvm_set_page_dirty()
	 * does: for the memory slots accept (anonymous, shmem, hugetlbfs)
	 * set_page_dirty() would do no more than set it (no writeback
	 * accounting), and it would cost a page lock per fault.
	 */
	if (mapped && writable && !PageDirty(page))
		SetPageDirty(page);
	put_page(page);
out_unlock:
	mutex_unlock(&vm->lock);
	return ret;
}
