// SPDX-License-Identifier: GPL-2.0
/*
 * vmx.c - the Intel VT-x backend: detection, VMXON/VMXOFF per CPU, vCPUs.
 *
 * Section numbers refer to the Intel SDM, Vol. 3C, chapter "Introduction
 * to Virtual Machine Extensions" (24.x in the 2023+ editions, 23.x before)
 * and appendix A "VMX Capability Reporting Facility".
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/percpu.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <asm/msr.h>
#include <asm/tlbflush.h>
#include <asm/special_insns.h>
#include <asm/asm.h>
#include <asm/vmx.h>

#include "../module/hv.h"
#include "vmx.h"

struct vmx_caps vmx_caps;
static DEFINE_PER_CPU(struct page *, vmx_vmxon_page);

/* IA32_VMX_BASIC (SDM Vol. 3C A.1); named here so 6.1 and 6.12 agree. */
#define VMX_BASIC_REVISION(b)	((u32)(b) & 0x7fffffff)
#define VMX_BASIC_REGION_SIZE(b) (((b) >> 32) & 0x1fff)
#define VMX_BASIC_PHYS32	BIT_ULL(48)
#define VMX_BASIC_MEMTYPE(b)	(((b) >> 50) & 0xf)
#define VMX_MEMTYPE_WB		6

/*
 * Is VMX there, and did firmware let us use it?  CPUID.1:ECX.VMX[bit 5]
 * says the CPU has it; IA32_FEATURE_CONTROL must be locked with "VMXON
 * outside SMX" set, or VMXON raises #GP (SDM Vol. 3C 24.7).
 */
static int vmx_detect(void)
{
	u64 feat, basic, procbased, procbased2;

	if (!(cpuid_ecx(1) & BIT(5))) {
		pr_err("this Intel CPU has no VT-x (CPUID.1:ECX.VMX = 0); not loading\n");
		return -ENODEV;
	}
	if (rdmsrl_safe(MSR_IA32_FEAT_CTL, &feat) ||
	    !(feat & FEAT_CTL_LOCKED) || !(feat & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX)) {
		pr_err("VT-x is disabled by firmware (IA32_FEATURE_CONTROL = %#llx: lock=%d, vmx-outside-smx=%d); enable it in the BIOS setup\n",
		       feat, !!(feat & FEAT_CTL_LOCKED),
		       !!(feat & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX));
		return -ENODEV;
	}

	rdmsrl(MSR_IA32_VMX_BASIC, basic);
	if (VMX_BASIC_MEMTYPE(basic) != VMX_MEMTYPE_WB ||
	    VMX_BASIC_REGION_SIZE(basic) > PAGE_SIZE) {
		pr_err("unsupported IA32_VMX_BASIC %#llx (VMCS memory type must be write-back, size <= 4 KiB)\n",
		       basic);
		return -ENODEV;
	}
	vmx_caps.basic = basic;
	vmx_caps.revision = VMX_BASIC_REVISION(basic);

	/*
	 * hvlab runs real-mode guests without emulation and translates guest
	 * memory only with EPT: both secondary controls are required.  The
	 * allowed-1 settings are the high 32 bits of each capability MSR
	 * (SDM Vol. 3C A.3.2, A.3.3).
	 */
	rdmsrl(MSR_IA32_VMX_PROCBASED_CTLS, procbased);
	procbased2 = 0;
	if ((procbased >> 32) & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)
		rdmsrl(MSR_IA32_VMX_PROCBASED_CTLS2, procbased2);
	if (!((procbased2 >> 32) & SECONDARY_EXEC_ENABLE_EPT) ||
	    !((procbased2 >> 32) & SECONDARY_EXEC_UNRESTRICTED_GUEST)) {
		pr_err("VT-x without EPT or unrestricted guest (IA32_VMX_PROCBASED_CTLS2 = %#llx); hvlab needs both\n",
		       procbased2);
		return -ENODEV;
	}
	return 0;
}

static void vmx_free_vmxon_pages(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		if (per_cpu(vmx_vmxon_page, cpu))
			__free_page(per_cpu(vmx_vmxon_page, cpu));
		per_cpu(vmx_vmxon_page, cpu) = NULL;
	}
}

static int vmx_hardware_setup(void)
{
	gfp_t gfp = GFP_KERNEL | __GFP_ZERO;
	unsigned int cpu;
	int err;

	err = vmx_detect();
	if (err)
		return err;
	/* Bit 48: VMXON/VMCS regions must lie below 4 GiB (SDM Vol. 3C A.1). */
	if (vmx_caps.basic & VMX_BASIC_PHYS32)
		gfp |= __GFP_DMA32;

	for_each_possible_cpu(cpu) {
		struct page *page = alloc_pages_node(cpu_to_node(cpu), gfp, 0);

		if (!page) {
			vmx_free_vmxon_pages();
			return -ENOMEM;
		}
		per_cpu(vmx_vmxon_page, cpu) = page;
	}
	return 0;
}

/*
 * CR0 and CR4 must satisfy the fixed-bit MSRs while in VMX operation
 * (SDM Vol. 3C 24.8, A.7, A.8): bits set in FIXED0 must be 1, bits clear
 * in FIXED1 must be 0.
 */
static bool vmx_cr_fixed_ok(unsigned long val, u32 fixed0_msr, u32 fixed1_msr)
{
	u64 fixed0, fixed1;

	rdmsrl(fixed0_msr, fixed0);
	rdmsrl(fixed1_msr, fixed1);
	return (val & fixed0) == fixed0 && (val & ~fixed1) == 0;
}

/*
 * VMXON with the per-CPU region (SDM Vol. 3C 24.7, 24.11.5): the region's
 * first 31 bits hold the VMCS revision identifier.  VMXON reports failure
 * through CF (VMfailInvalid) or ZF (VMfailValid): "jbe" catches both.
 */
static int vmx_vmxon(u64 pa)
{
	asm goto("1: vmxon %[pa]\n\t"
		 "jbe %l[fail]\n\t"
		 _ASM_EXTABLE(1b, %l[fail])
		 : : [pa] "m" (pa) : "cc", "memory" : fail);
	return 0;
fail:
	return -EIO;
}

/* VMXOFF faults (#UD) outside VMX operation: that is not an error here. */
static void vmx_vmxoff(void)
{
	asm goto("1: vmxoff\n\t"
		 _ASM_EXTABLE(1b, %l[fault])
		 : : : "cc", "memory" : fault);
fault:
	cr4_clear_bits_irqsoff(X86_CR4_VMXE);
}

static int vmx_cpu_enable(void)
{
	struct page *page = __this_cpu_read(vmx_vmxon_page);
	u64 feat;

	/*
	 * CR4.VMXE set by someone else means another hypervisor (KVM,
	 * VirtualBox) is in VMX operation on this CPU: leave it alone.
	 */
	if (cr4_read_shadow() & X86_CR4_VMXE)
		return -EBUSY;

	rdmsrl(MSR_IA32_FEAT_CTL, feat);
	if (!(feat & FEAT_CTL_LOCKED) || !(feat & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX)) {
		pr_err("CPU %d: VT-x disabled in IA32_FEATURE_CONTROL (%#llx)\n",
		       smp_processor_id(), feat);
		return -EIO;
	}
	if (!vmx_cr_fixed_ok(read_cr0(), MSR_IA32_VMX_CR0_FIXED0, MSR_IA32_VMX_CR0_FIXED1)) {
		pr_err("CPU %d: CR0 %#lx violates IA32_VMX_CR0_FIXED0/1\n",
		       smp_processor_id(), read_cr0());
		return -EIO;
	}

	*(u32 *)page_address(page) = vmx_caps.revision;
	cr4_set_bits_irqsoff(X86_CR4_VMXE);
	if (!vmx_cr_fixed_ok(__read_cr4(), MSR_IA32_VMX_CR4_FIXED0, MSR_IA32_VMX_CR4_FIXED1)) {
		pr_err("CPU %d: CR4 %#lx violates IA32_VMX_CR4_FIXED0/1\n",
		       smp_processor_id(), __read_cr4());
		cr4_clear_bits_irqsoff(X86_CR4_VMXE);
		return -EIO;
	}
	if (vmx_vmxon(page_to_phys(page))) {
		pr_err("CPU %d: VMXON failed\n", smp_processor_id());
		cr4_clear_bits_irqsoff(X86_CR4_VMXE);
		return -EIO;
	}
	return 0;
}

static void vmx_cpu_disable(void)
{
	vmx_vmxoff();
}

static struct hv_vcpu *vmx_vcpu_create(struct hv_vm *vm, unsigned int id)
{
	struct vmx_vcpu *vmx = kzalloc(sizeof(*vmx), GFP_KERNEL_ACCOUNT);

	if (!vmx)
		return ERR_PTR(-ENOMEM);
	return &vmx->vcpu;
}

static void vmx_vcpu_free(struct hv_vcpu *vcpu)
{
	kfree(to_vmx(vcpu));
}

static void vmx_hardware_unsetup(void)
{
	vmx_free_vmxon_pages();
}

const struct hv_backend_ops hv_vmx_ops = {
	.name			= "VT-x",
	.vendor			= HVLAB_VENDOR_INTEL,
	.hardware_setup		= vmx_hardware_setup,
	.hardware_unsetup	= vmx_hardware_unsetup,
	.cpu_enable		= vmx_cpu_enable,
	.cpu_disable		= vmx_cpu_disable,
	.cpu_emergency_disable	= vmx_cpu_disable,
	.vcpu_create		= vmx_vcpu_create,
	.vcpu_free		= vmx_vcpu_free,
};
