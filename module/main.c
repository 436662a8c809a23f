// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - module load/unload, /dev/hvlab and its system ioctls.
 *
 * A reader's tour starts here: hv_init() picks the vendor backend, checks
 * that firmware left the extension usable, and registers /dev/hvlab last.
 * VMs are created in vm.c, vCPUs in vcpu.c, hardware enable in hw.c; the
 * vendor code lives in vmx/ and svm/.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <asm/processor.h>

#include "hv.h"
#include "spec.h"

unsigned int hv_max_vms = 64;
module_param_named(max_vms, hv_max_vms, uint, 0444);
MODULE_PARM_DESC(max_vms, "VMs that may exist at once (default 64)");

unsigned int hv_max_vcpus = 16;
module_param_named(max_vcpus, hv_max_vcpus, uint, 0444);
MODULE_PARM_DESC(max_vcpus, "vCPUs per VM, ids 0..max_vcpus-1 (default 16, at most 256)");

unsigned int hv_max_slots = 32;
module_param_named(max_slots, hv_max_slots, uint, 0444);
MODULE_PARM_DESC(max_slots, "memory slots per VM (default 32, at most 512)");

static unsigned short hv_dev_mode = 0600;
module_param_named(dev_mode, hv_dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode, "permissions of /dev/hvlab (default 0600; use a udev rule to set a group)");

const struct hv_backend_ops *hv_ops;
unsigned int hv_gpa_bits;

static long hv_check_cap(unsigned long cap)
{
	switch (cap) {
	case HVLAB_CAP_VENDOR:		return hv_ops->vendor;
	case HVLAB_CAP_MAX_VMS:		return hv_max_vms;
	case HVLAB_CAP_MAX_VCPUS:	return hv_max_vcpus;
	case HVLAB_CAP_MAX_MEM_SLOTS:	return hv_max_slots;
	case HVLAB_CAP_READONLY_MEM:	return 1;
	case HVLAB_CAP_UNCACHED_MEM:	return 1;
	case HVLAB_CAP_NESTED_PAGING:	return 1;
	case HVLAB_CAP_MAX_GPA_BITS:	return hv_gpa_bits;
	case HVLAB_CAP_RUN:		return hv_ops->vcpu_enter != NULL;
	case HVLAB_CAP_LAPIC:		return 1;
	default:			return 0;	/* unknown: not supported */
	}
}

static long hv_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case HVLAB_GET_API_VERSION:
		return HVLAB_API_VERSION;
	case HVLAB_CHECK_CAP:
		return hv_check_cap(arg);
	case HVLAB_GET_VCPU_MMAP_SIZE:
		return PAGE_SIZE;
	case HVLAB_CREATE_VM:
		if (arg & ~(unsigned long)HVLAB_VM_FLAGS_ALL)
			return -EINVAL;
		return hv_vm_create(arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations hv_dev_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= hv_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice hv_miscdev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "hvlab",
	.fops	= &hv_dev_fops,
};

static int hv_check_params(void)
{
	if (!hv_max_vms || !hv_max_vcpus || hv_max_vcpus > 256 ||
	    !hv_max_slots || hv_max_slots > 512 || (hv_dev_mode & ~0777)) {
		pr_err("bad module parameter (max_vms >= 1, 1 <= max_vcpus <= 256, 1 <= max_slots <= 512, dev_mode <= 0777)\n");
		return -EINVAL;
	}
	return 0;
}

/*
 * Pick the backend from the CPU vendor.  The backend's hardware_setup
 * decides whether the extension is really there and enabled.
 */
static int hv_pick_backend(void)
{
	switch (boot_cpu_data.x86_vendor) {
	case X86_VENDOR_INTEL:
	case X86_VENDOR_ZHAOXIN:
	case X86_VENDOR_CENTAUR:
#if HV_CORE_VIRT_OFF
		/*
		 * Turning VMX on takes CR4.VMXE, which only the kernel's CR4
		 * helpers may write (they keep the per-CPU CR4 shadow, and
		 * cr4_update_irqsoff/cr4_read_shadow are exported to KVM's
		 * modules only), or x86_virt_get_ref(), KVM's only as well.
		 */
		pr_err("this kernel (7.0 or later) lets only KVM turn VT-x on; hvlab's VT-x backend cannot run here (AMD-V can); not loading\n");
		return -EOPNOTSUPP;
#else
		hv_ops = &hv_vmx_ops;
		return 0;
#endif
	case X86_VENDOR_AMD:
	case X86_VENDOR_HYGON:
		hv_ops = &hv_svm_ops;
		return 0;
	default:
		pr_err("CPU vendor '%s' has neither VT-x nor AMD-V support in hvlab\n",
		       boot_cpu_data.x86_vendor_id);
		return -ENODEV;
	}
}

static int __init hv_init(void)
{
	int err;

	err = hv_check_params();
	if (err)
		return err;
	err = hv_pick_backend();
	if (err)
		return err;
	err = hv_spec_init(hv_ops != &hv_svm_ops);	/* world-switch mitigations (spec.c) */
	if (err)
		return err;

	/*
	 * Guest-physical addresses: what the CPU can address, capped at the
	 * 48 bits that 4-level EPT/NPT tables translate.
	 */
	hv_gpa_bits = min_t(unsigned int, boot_cpu_data.x86_phys_bits, 48);

	err = hv_ops->hardware_setup();
	if (err)
		goto err_spec;
	err = hv_hw_init();
	if (err)
		goto err_unsetup;
	err = hv_genl_init();		/* exit telemetry (genl.c) */
	if (err)
		goto err_hw;

	hv_miscdev.mode = hv_dev_mode;
	err = misc_register(&hv_miscdev);	/* last: now userspace can come */
	if (err)
		goto err_genl;

	pr_info("loaded: %s backend, %u-bit guest-physical addresses\n",
		hv_ops->name, hv_gpa_bits);
	return 0;

err_genl:
	hv_genl_exit();
err_hw:
	hv_hw_exit();
err_unsetup:
	hv_ops->hardware_unsetup();
err_spec:
	hv_spec_exit();
	return err;
}

static void __exit hv_exit(void)
{
	misc_deregister(&hv_miscdev);
	hv_genl_exit();
	hv_hw_exit();
	hv_ops->hardware_unsetup();
	hv_spec_exit();
}

module_init(hv_init);
module_exit(hv_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hvlab: a teaching and measurement hypervisor for VT-x and AMD-V");
