// SPDX-License-Identifier: GPL-2.0
/*
 * slots.c - a VM's memory slots: which guest-physical range is backed by
 * which range of the VMM's address space (HVLAB_SET_MEMORY_REGION), and
 * the lookup from a guest-physical address to its slot.
 *
 * Slots change under vm->lock and, for the fields the MMU notifier reads,
 * also under vm->mmu_lock (see struct hv_vm in hv.h).
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/nospec.h>
#include <linux/mm.h>
#include <linux/fs.h>
#include <linux/hugetlb.h>
#include <linux/magic.h>
#include <linux/uaccess.h>

#include "hv.h"

/* Caller holds vm->lock or vm->mmu_lock. */
struct hv_slot *hv_gpa_to_slot(struct hv_vm *vm, u64 gpa)
{
	unsigned int i;

	for (i = 0; i < hv_max_slots; i++) {
		struct hv_slot *s = &vm->slots[i];

		if (s->size && gpa >= s->gpa && gpa - s->gpa < s->size)
			return s;
	}
	return NULL;
}

static bool hv_ranges_overlap(u64 a, u64 a_size, u64 b, u64 b_size)
{
	return a < b + b_size && b < a + a_size;
}

/*
 * Guest memory may be anonymous memory, shmem (memfd, tmpfs, SysV shm)
 * or hugetlbfs.  Those are what the fault path and the MMU notifier are
 * tested with, and their pages have no writeback to a filesystem that a
 * guest write through a nested leaf could upset.  A file on a disk
 * filesystem (ext4...) is refused, and so are VM_IO/VM_PFNMAP/
 * VM_MIXEDMAP mappings (device memory, often without struct page).
 * shmem is known by its filesystem's magic: shmem_mapping()/
 * vma_is_shmem() are not exported to modules by 6.1.  Parts of the range
 * with no mapping at all are allowed (as before, a fault there is an
 * internal error); whatever is mapped there later is faulted in through
 * get_user_pages and followed by the notifier like everything else.
 */
static int hv_slot_check_backing(const struct hvlab_memory_region *r)
{
	struct mm_struct *mm = current->mm;
	unsigned long addr = r->userspace_addr, end = addr + r->memory_size;
	struct vm_area_struct *vma;
	int err = 0;

	mmap_read_lock(mm);
	for (vma = find_vma(mm, addr); vma && vma->vm_start < end; vma = find_vma(mm, vma->vm_end)) {
		const struct file *f = vma->vm_file;

		if (vma->vm_flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP)) {
			err = hv_reject(-EOPNOTSUPP, "slot %u: %#lx is device memory (VM_IO/VM_PFNMAP)",
					r->slot, max(addr, vma->vm_start));
			break;
		}
		if (vma_is_anonymous(vma) || is_vm_hugetlb_page(vma) ||
		    (f && file_inode(f)->i_sb->s_magic == TMPFS_MAGIC))
			continue;
		err = hv_reject(-EOPNOTSUPP,
				"slot %u: %#lx is backed by a %s file, not anonymous, shmem or hugetlbfs memory",
				r->slot, max(addr, vma->vm_start),
				f ? file_inode(f)->i_sb->s_type->name : "special");
		break;
	}
	mmap_read_unlock(mm);
	return err;
}

/*
 * Add, move or delete one slot; see struct hvlab_memory_region for the
 * rules.  Every check happens before anything changes, so a refused call
 * leaves the VM as it was.  A move or delete empties the nested tables
 * (a slot's old guest range must leave the guest at once); an add needs
 * nothing there, since no slot mapped that range.  Caller holds vm->lock.
 */
int hv_vm_set_region(struct hv_vm *vm, const struct hvlab_memory_region *r)
{
	LIST_HEAD(detached);
	struct hv_slot *cur;
	unsigned int i;
	int err;

	if (r->slot >= hv_max_slots)
		return hv_reject(-EINVAL, "slot %u >= max_slots %u", r->slot, hv_max_slots);
	if (r->flags & ~HVLAB_MEM_FLAGS_ALL)
		return hv_reject(-EINVAL, "unknown flags %#x", r->flags);
	if (r->reserved[0] || r->reserved[1])
		return hv_reject(-EINVAL, "reserved fields must be zero");
	if ((r->guest_phys_addr | r->memory_size | r->userspace_addr) & ~PAGE_MASK)
		return hv_reject(-EINVAL, "address or size not page aligned");

	cur = &vm->slots[array_index_nospec(r->slot, hv_max_slots)];
	if (r->memory_size == 0) {
		if (!cur->size)
			return hv_reject(-ENOENT, "slot %u is not in use", r->slot);
		spin_lock(&vm->mmu_lock);
		memset(cur, 0, sizeof(*cur));
		hv_vm_zap_all_locked(vm, &detached);
		spin_unlock(&vm->mmu_lock);
		hv_mmu_free_detached(&vm->mmu, &detached);
		return 0;
	}

	if (r->guest_phys_addr + r->memory_size < r->guest_phys_addr ||
	    r->guest_phys_addr + r->memory_size > (1ULL << hv_gpa_bits))
		return hv_reject(-EINVAL, "guest range %#llx+%#llx beyond %u address bits",
				 r->guest_phys_addr, r->memory_size, hv_gpa_bits);
	if (r->userspace_addr + r->memory_size < r->userspace_addr ||
	    !access_ok((void __user *)(unsigned long)r->userspace_addr, r->memory_size))
		return hv_reject(-EFAULT, "userspace range %#llx+%#llx is not user memory",
				 r->userspace_addr, r->memory_size);
	if (cur->size && (cur->size != r->memory_size ||
			  cur->uaddr != r->userspace_addr || cur->flags != r->flags))
		return hv_reject(-EINVAL, "slot %u in use: only its guest address can change",
				 r->slot);

	for (i = 0; i < hv_max_slots; i++) {
		struct hv_slot *s = &vm->slots[i];

		if (i != r->slot && s->size &&
		    hv_ranges_overlap(r->guest_phys_addr, r->memory_size, s->gpa, s->size))
			return hv_reject(-EEXIST, "slot %u overlaps slot %u", r->slot, i);
	}

	if (cur->size) {
		/* A move: nothing may stay mapped at the old place. */
		spin_lock(&vm->mmu_lock);
		cur->gpa = r->guest_phys_addr;
		hv_vm_zap_all_locked(vm, &detached);
		spin_unlock(&vm->mmu_lock);
		hv_mmu_free_detached(&vm->mmu, &detached);
		return 0;
	}

	err = hv_slot_check_backing(r);
	if (err)
		return err;
	spin_lock(&vm->mmu_lock);
	cur->gpa = r->guest_phys_addr;
	cur->size = r->memory_size;
	cur->uaddr = r->userspace_addr;
	cur->flags = r->flags;
	spin_unlock(&vm->mmu_lock);
	return 0;
}
