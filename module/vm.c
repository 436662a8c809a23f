// SPDX-License-Identifier: GPL-2.0
/*
 * vm.c - the VM object and its fd: memory slots and vCPU creation.
 *
 * A VM lives as long as its fd or any of its vCPU fds is open (hv_vm.ref).
 * While at least one VM exists, VT-x/SVM is on (hw.c).
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/sched/mm.h>

#include "hv.h"
#include "spec.h"

static atomic_t hv_nr_vms = ATOMIC_INIT(0);

void hv_vm_get(struct hv_vm *vm)
{
	kref_get(&vm->ref);
}

static void hv_vm_free(struct kref *ref)
{
	struct hv_vm *vm = container_of(ref, struct hv_vm, ref);
	unsigned int i;

	/* Out of telemetry's sight first: dumps walk the VM list. */
	hv_tele_vm_del(vm);
	/* vCPUs live until their VM goes: nothing can reach them now. */
	for (i = 0; i < hv_max_vcpus; i++)
		if (vm->vcpus[i])
			hv_vcpu_destroy(vm->vcpus[i]);
	/* Backends free their per-vCPU hardware state before VMX/SVM goes off. */
	hv_mmu_destroy(&vm->mmu);
	hv_hw_put();
	atomic_dec(&hv_nr_vms);
	mmdrop(vm->mm);
	kfree(vm->vcpus);
	kfree(vm->slots);
	kfree(vm);
}

void hv_vm_put(struct hv_vm *vm)
{
	kref_put(&vm->ref, hv_vm_free);
}

static bool hv_ranges_overlap(u64 a, u64 a_size, u64 b, u64 b_size)
{
	return a < b + b_size && b < a + a_size;
}

/*
 * Add, move or delete one slot; see struct hvlab_memory_region for the
 * rules.  Every check happens before anything changes, so a refused call
 * leaves the VM as it was.  Caller holds vm->lock.
 */
static int hv_vm_set_region(struct hv_vm *vm, const struct hvlab_memory_region *r)
{
	struct hv_slot *cur;
	unsigned int i;

	if (r->slot >= hv_max_slots)
		return hv_reject(-EINVAL, "slot %u >= max_slots %u", r->slot, hv_max_slots);
	if (r->flags & ~HVLAB_MEM_FLAGS_ALL)
		return hv_reject(-EINVAL, "unknown flags %#x", r->flags);
	if (r->reserved[0] || r->reserved[1])
		return hv_reject(-EINVAL, "reserved fields must be zero");
	if ((r->guest_phys_addr | r->memory_size | r->userspace_addr) & ~PAGE_MASK)
		return hv_reject(-EINVAL, "address or size not page aligned");

	cur = &vm->slots[r->slot];
	if (r->memory_size == 0) {
		if (!cur->size)
			return hv_reject(-ENOENT, "slot %u is not in use", r->slot);
		memset(cur, 0, sizeof(*cur));
		hv_vm_zap_mmu(vm);	/* its pages must leave the guest now */
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
		cur->gpa = r->guest_phys_addr;
		hv_vm_zap_mmu(vm);
		return 0;
	}
	cur->gpa = r->guest_phys_addr;
	cur->size = r->memory_size;
	cur->uaddr = r->userspace_addr;
	cur->flags = r->flags;
	return 0;
}

static long hv_vm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct hv_vm *vm = file->private_data;
	void __user *argp = (void __user *)arg;
	long ret;

	switch (cmd) {
	case HVLAB_SET_MEMORY_REGION: {
		struct hvlab_memory_region r;

		if (copy_from_user(&r, argp, sizeof(r)))
			return -EFAULT;
		mutex_lock(&vm->lock);
		ret = hv_vm_set_region(vm, &r);
		mutex_unlock(&vm->lock);
		return ret;
	}
	case HVLAB_CREATE_VCPU:
		return hv_vcpu_create(vm, arg);
	case HVLAB_GET_VM_ID:
		if (arg)
			return hv_reject(-EINVAL, "GET_VM_ID takes no argument");
		return vm->id;
	default:
		return -ENOTTY;
	}
}

static int hv_vm_release(struct inode *inode, struct file *file)
{
	hv_vm_put(file->private_data);
	return 0;
}

static const struct file_operations hv_vm_fops = {
	.owner		= THIS_MODULE,
	.release	= hv_vm_release,
	.unlocked_ioctl	= hv_vm_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

int hv_vm_create(void)
{
	struct hv_vm *vm;
	int err, fd;

	err = hv_spec_vm_allowed();	/* a CPU bug hvlab cannot mitigate (spec.c) */
	if (err)
		return err;
	if (atomic_inc_return(&hv_nr_vms) > hv_max_vms) {
		err = hv_reject(-ENOSPC, "max_vms (%u) VMs exist already", hv_max_vms);
		goto err_count;
	}

	err = -ENOMEM;
	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		goto err_count;
	vm->slots = kcalloc(hv_max_slots, sizeof(*vm->slots), GFP_KERNEL_ACCOUNT);
	if (!vm->slots)
		goto err_vm;
	vm->vcpus = kcalloc(hv_max_vcpus, sizeof(*vm->vcpus), GFP_KERNEL_ACCOUNT);
	if (!vm->vcpus)
		goto err_slots;
	kref_init(&vm->ref);
	vm->spec_id = hv_spec_vm_id();
	mutex_init(&vm->lock);
	mutex_init(&vm->mmu_lock);
	if (hv_ops->mmu_format) {
		err = hv_mmu_init(&vm->mmu, hv_ops->mmu_format);
		if (err)
			goto err_vcpus;
	}

	err = hv_hw_get();
	if (err)
		goto err_mmu;
	vm->mm = current->mm;
	mmgrab(vm->mm);

	hv_tele_vm_add(vm);

	fd = anon_inode_getfd("hvlab-vm", &hv_vm_fops, vm, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = fd;
		goto err_tele;
	}
	return fd;

err_tele:
	hv_tele_vm_del(vm);
	mmdrop(vm->mm);
	hv_hw_put();
err_mmu:
	hv_mmu_destroy(&vm->mmu);
err_vcpus:
	kfree(vm->vcpus);
err_slots:
	kfree(vm->slots);
err_vm:
	kfree(vm);
err_count:
	atomic_dec(&hv_nr_vms);
	return err;
}
