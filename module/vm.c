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
	/* No notifier call after this: it reads slots[] and vcpus[]. */
	hv_gmem_destroy(vm);
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
	case HVLAB_SIGNAL_MSI:
		return hv_vm_signal_msi(vm, argp);
	case HVLAB_SET_EOI_EXITS:
		return hv_vm_set_eoi_exits(vm, argp);
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

int hv_vm_create(unsigned long flags)
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
	vm->lapic = flags & HVLAB_VM_LAPIC;
	vm->spec_id = hv_spec_vm_id();
	mutex_init(&vm->lock);
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
	err = hv_gmem_init(vm);
	if (err)
		goto err_mm;

	hv_tele_vm_add(vm);

	fd = anon_inode_getfd("hvlab-vm", &hv_vm_fops, vm, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = fd;
		goto err_tele;
	}
	return fd;

err_tele:
	hv_tele_vm_del(vm);
	hv_gmem_destroy(vm);
err_mm:
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
