// SPDX-License-Identifier: GPL-2.0
/*
 * svm.c - the AMD SVM backend: detection, EFER.SVME per CPU, vCPUs.
 *
 * Section numbers refer to the AMD64 Architecture Programmer's Manual,
 * Vol. 2, chapter 15 "Secure Virtual Machine".
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/percpu.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <asm/msr.h>
#include <asm/svm.h>

#include "svm.h"

static DEFINE_PER_CPU(struct page *, svm_hsave_page);

/* CPUID Fn8000_0001 ECX[2] SVM; Fn8000_000A EDX[0] nested paging (15.4, 15.25). */
#define SVM_CPUID_SVM		BIT(2)
#define SVM_CPUID_NPT		BIT(0)
/* VM_CR MSR (15.30.1): SVMDIS set by firmware forbids EFER.SVME. */
#define SVM_VM_CR_LOCK		BIT_ULL(3)
#define SVM_VM_CR_SVMDIS	BIT_ULL(4)

static int svm_detect(void)
{
	u64 vm_cr;

	if (cpuid_eax(0x80000000) < 0x8000000a ||
	    !(cpuid_ecx(0x80000001) & SVM_CPUID_SVM)) {
		pr_err("this AMD CPU has no AMD-V (CPUID 8000_0001h:ECX.SVM = 0); not loading\n");
		return -ENODEV;
	}
	if (rdmsrl_safe(MSR_VM_CR, &vm_cr) || (vm_cr & SVM_VM_CR_SVMDIS)) {
		pr_err("AMD-V is disabled by firmware (VM_CR = %#llx: SVMDIS=1%s); enable SVM in the BIOS setup\n",
		       vm_cr, vm_cr & SVM_VM_CR_LOCK ? ", locked" : "");
		return -ENODEV;
	}
	if (!(cpuid_edx(0x8000000a) & SVM_CPUID_NPT)) {
		pr_err("AMD-V without nested paging (CPUID 8000_000Ah:EDX.NP = 0); hvlab needs NPT\n");
		return -ENODEV;
	}
	return 0;
}

static void svm_free_hsave_pages(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		if (per_cpu(svm_hsave_page, cpu))
			__free_page(per_cpu(svm_hsave_page, cpu));
		per_cpu(svm_hsave_page, cpu) = NULL;
	}
}

static int svm_hardware_setup(void)
{
	unsigned int cpu;
	int err;

	err = svm_detect();
	if (err)
		return err;
	for_each_possible_cpu(cpu) {
		struct page *page = alloc_pages_node(cpu_to_node(cpu),
						     GFP_KERNEL | __GFP_ZERO, 0);

		if (!page) {
			svm_free_hsave_pages();
			return -ENOMEM;
		}
		per_cpu(svm_hsave_page, cpu) = page;
	}
	return 0;
}

/*
 * EFER.SVME on (15.4 "Enabling SVM"), and VM_HSAVE_PA pointing at the page
 * where VMRUN saves host state (15.30.4).  EFER.SVME already set means
 * another hypervisor owns SVM on this CPU.
 */
static int svm_cpu_enable(void)
{
	u64 efer;

	rdmsrl(MSR_EFER, efer);
	if (efer & EFER_SVME)
		return -EBUSY;
	wrmsrl(MSR_EFER, efer | EFER_SVME);
	wrmsrl(MSR_VM_HSAVE_PA, page_to_phys(__this_cpu_read(svm_hsave_page)));
	return 0;
}

/*
 * Set GIF before clearing SVME: with GIF=0 the CPU would keep INIT and
 * NMIs blocked (15.17); STGI is legal only while SVME=1.
 */
static void svm_cpu_disable(void)
{
	u64 efer;

	wrmsrl(MSR_VM_HSAVE_PA, 0);
	rdmsrl(MSR_EFER, efer);
	if (efer & EFER_SVME) {
		asm volatile("stgi" ::: "memory");
		wrmsrl(MSR_EFER, efer & ~EFER_SVME);
	}
}

static struct hv_vcpu *svm_vcpu_create(struct hv_vm *vm, unsigned int id)
{
	struct svm_vcpu *svm = kzalloc(sizeof(*svm), GFP_KERNEL_ACCOUNT);

	if (!svm)
		return ERR_PTR(-ENOMEM);
	return &svm->vcpu;
}

static void svm_vcpu_free(struct hv_vcpu *vcpu)
{
	kfree(to_svm(vcpu));
}

const struct hv_backend_ops hv_svm_ops = {
	.name			= "AMD-V",
	.vendor			= HVLAB_VENDOR_AMD,
	.hardware_setup		= svm_hardware_setup,
	.hardware_unsetup	= svm_free_hsave_pages,
	.cpu_enable		= svm_cpu_enable,
	.cpu_disable		= svm_cpu_disable,
	.cpu_emergency_disable	= svm_cpu_disable,
	.vcpu_create		= svm_vcpu_create,
	.vcpu_free		= svm_vcpu_free,
};
