// SPDX-License-Identifier: GPL-2.0
/*
 * svm.c - the AMD SVM backend: detection, EFER.SVME per CPU, vCPUs.
 *
 * Section numbers refer to the AMD64 Architecture Programmer's Manual,
 * Vol. 2, chapter 15 "Secure Virtual Machine".
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/dmi.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/percpu.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <asm/msr.h>
#include <asm/svm.h>

#include "svm.h"

/*
 * Per host CPU: the VM_HSAVE_PA page VMRUN saves host state to (15.30.4),
 * a page for VMSAVE of the host's FS/GS/TR/LDTR/syscall MSRs, and the
 * ASID allocator (15.16): ASIDs are handed out per CPU and a new generation
 * (with a flush of every ASID) starts when they run out.
 */
DEFINE_PER_CPU(struct svm_cpu, svm_cpus);

u32 svm_max_asid;
bool svm_has_nrips;
bool svm_tcg_evtinj_quirk;
/*
 * A guest can read IA32_TSC_AUX without an exit: RDPID (no intercept
 * exists), or RDTSCP under QEMU TCG, which ignores its intercept.  Then
 * the guest's TSC_AUX is switched around VMRUN (svm_tsc_aux_in()).
 */
bool svm_switch_tsc_aux;
bool svm_tcg_dr7_quirk;
/*
 * Which of the QEMU TCG workarounds above are on, under QEMU TCG only
 * (hardware never gets one): -1 (default) the ones the running QEMU
 * needs (svm_tcg_needs()), else exactly this mask of SVM_TCG_WA_*.  For
 * the rig, to check whether a given QEMU still needs each one
 * (selftests/vm/run --module-args tcg_workarounds=N); a user has no
 * reason to set it.  Once loaded it reads the mask in force (0 on
 * hardware), as KVM's module parameters read what hardware_setup() left
 * of them.
 */
#define SVM_TCG_WA_EVTINJ	BIT(0)	/* svm_fence_evtinj() */
#define SVM_TCG_WA_DR7		BIT(1)	/* svm_vcpu_enter()'s DR7 writes */
static int svm_tcg_workarounds = -1;
module_param_named(tcg_workarounds, svm_tcg_workarounds, int, 0444);
MODULE_PARM_DESC(tcg_workarounds, "under QEMU TCG only: -1 the workarounds this QEMU needs (default), else a mask: 1 EVENTINJ fence, 2 DR7 arming; reads the mask in force");
/* QEMU TCG refuses or hangs on VMCBs that hardware runs: see svm_check_vmcb(). */
bool svm_tcg_vmrun_quirks;
/* All-ones permission maps: every port and every MSR access exits (15.10, 15.11). */
struct page *svm_iopm, *svm_msrpm;

/* CPUID Fn8000_0001 ECX[2] SVM; Fn8000_000A EDX[0] nested paging (15.4, 15.25). */
#define SVM_CPUID_SVM		BIT(2)
#define SVM_CPUID_NPT		BIT(0)
/* VM_CR MSR (15.30.1): SVMDIS set by firmware forbids EFER.SVME. */
#define SVM_VM_CR_LOCK		BIT_ULL(3)
#define SVM_VM_CR_SVMDIS	BIT_ULL(4)

/* QEMU's TCG answers CPUID 4000_0000h with "TCGTCGTCGTCG" (hypervisor bit set). */
static bool svm_under_qemu_tcg(void)
{
	u32 sig[3];

	if (!boot_cpu_has(X86_FEATURE_HYPERVISOR))
		return false;
	sig[0] = cpuid_ebx(0x40000000);
	sig[1] = cpuid_ecx(0x40000000);
	sig[2] = cpuid_edx(0x40000000);
	return !memcmp(sig, "TCGTCGTCGTCG", 12);
}

/*
 * The QEMU version as major * 100 + minor, from the SMBIOS system version
 * QEMU fills in with its machine type ("pc-i440fx-10.0", "pc-q35-7.2");
 * 0 if there is none.  A machine type is never newer than the QEMU that
 * runs it (an older one can be asked for with -M), so this is a lower
 * bound of the emulator's version: good enough to switch off a workaround
 * for a bug that a newer QEMU no longer has, never to switch one on.
 */
static unsigned int svm_qemu_version(void)
{
	const char *v = dmi_get_system_info(DMI_PRODUCT_VERSION);
	const char *vendor = dmi_get_system_info(DMI_SYS_VENDOR);
	unsigned int major, minor;

	if (!v || !vendor || strcmp(vendor, "QEMU") || strncmp(v, "pc-", 3))
		return 0;
	v = strrchr(v, '-');
	if (!v || sscanf(v + 1, "%u.%u", &major, &minor) != 2 || minor > 99)
		return 0;
	return major * 100 + minor;
}

/*
 * SVM_TCG_WA_* that QEMU's TCG at machine version @ver (svm_qemu_version())
 * needs.  Every workaround stays on for a QEMU whose version is unknown.
 * - EVENTINJ fence: every QEMU up to 10.0 at least.  Its VMRUN (helper_vmrun
 *   in target/i386/tcg/.../svm_helper.c) delivers an EVENTINJ interrupt in
 *   place and still leaves the vector as the CPU's pending exception, the
 *   same code in 7.2 and 10.0; on QEMU 10.0.2 a Linux guest under
 *   hvlab-run hung with IF=0 in one of three boots without the fence
 *   (tcg_workarounds=0 or 2, 2026-12-06), as on 7.2 about one in ten.
 * - DR7 arming: QEMU before 10.0.  7.2's VMRUN copies the VMCB's DR7
 *   without arming its breakpoints; 10.0's goes through
 *   cpu_x86_update_dr7(), and test_debug passes there without the
 *   workaround.  (No QEMU between the two was tried: 10.0 is the first
 *   version known good.)
 */
#define SVM_QEMU_DR7_ARMED	1000	/* 10.0 */
static unsigned int svm_tcg_needs(unsigned int ver)
{
	unsigned int need = SVM_TCG_WA_EVTINJ;

	/* ver 0 (unknown) is below every version: the workaround stays on. */
	if (ver < SVM_QEMU_DR7_ARMED)
		need |= SVM_TCG_WA_DR7;
	return need;
}

static int svm_detect(void)
{
	u64 vm_cr;
	bool tcg;

	if (cpuid_eax(0x80000000) < 0x8000000a ||
	    !(cpuid_ecx(0x80000001) & SVM_CPUID_SVM)) {
		pr_err("this AMD CPU has no AMD-V (CPUID 8000_0001h:ECX.SVM = 0); not loading\n");
		return -ENODEV;
	}
	if (rdmsrq_safe(MSR_VM_CR, &vm_cr) || (vm_cr & SVM_VM_CR_SVMDIS)) {
		pr_err("AMD-V is disabled by firmware (VM_CR = %#llx: SVMDIS=1%s); enable SVM in the BIOS setup\n",
		       vm_cr, vm_cr & SVM_VM_CR_LOCK ? ", locked" : "");
		return -ENODEV;
	}
	if (!(cpuid_edx(0x8000000a) & SVM_CPUID_NPT)) {
		pr_err("AMD-V without nested paging (CPUID 8000_000Ah:EDX.NP = 0); hvlab needs NPT\n");
		return -ENODEV;
	}
	/* CPUID 8000_000Ah: EBX = number of ASIDs, EDX[3] = NRIP save. */
	svm_max_asid = cpuid_ebx(0x8000000a) - 1;
	svm_has_nrips = cpuid_edx(0x8000000a) & BIT(3);
	tcg = svm_under_qemu_tcg();
	svm_switch_tsc_aux = boot_cpu_has(X86_FEATURE_RDPID) ||
			     (boot_cpu_has(X86_FEATURE_RDTSCP) && tcg);
	if (tcg) {
		unsigned int ver = svm_qemu_version();
		unsigned int wa = svm_tcg_workarounds == -1 ? svm_tcg_needs(ver) :
				  (unsigned int)svm_tcg_workarounds;
		char ver_s[16] = "unknown";

		if (ver)
			snprintf(ver_s, sizeof(ver_s), "%u.%u", ver / 100, ver % 100);
		svm_tcg_evtinj_quirk = wa & SVM_TCG_WA_EVTINJ;	/* see svm_fence_evtinj() */
		svm_tcg_dr7_quirk = wa & SVM_TCG_WA_DR7;	/* see svm_vcpu_enter() */
		pr_info("QEMU TCG, machine version %s: workarounds: EVENTINJ fence %s, DR7 arming %s%s\n",
			ver_s, svm_tcg_evtinj_quirk ? "on" : "off", svm_tcg_dr7_quirk ? "on" : "off",
			svm_tcg_workarounds == -1 ? "" : " (set by tcg_workarounds)");
		svm_tcg_workarounds = wa & (SVM_TCG_WA_EVTINJ | SVM_TCG_WA_DR7);
	} else {
		svm_tcg_workarounds = 0;
	}
	svm_tcg_vmrun_quirks = tcg;
	if (svm_max_asid < 1) {
		pr_err("AMD-V reports no guest ASIDs\n");
		return -ENODEV;
	}
	return 0;
}

static void svm_hardware_unsetup(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		struct svm_cpu *sc = per_cpu_ptr(&svm_cpus, cpu);

		if (sc->hsave)
			__free_page(sc->hsave);
		if (sc->host_save)
			__free_page(sc->host_save);
		sc->hsave = sc->host_save = NULL;
	}
	if (svm_iopm)
		__free_pages(svm_iopm, SVM_IOPM_ORDER);
	if (svm_msrpm)
		__free_pages(svm_msrpm, SVM_MSRPM_ORDER);
	svm_iopm = svm_msrpm = NULL;
}

static int svm_hardware_setup(void)
{
	unsigned int cpu;
	int err;

	err = svm_detect();
	if (err)
		return err;
	for_each_possible_cpu(cpu) {
		struct svm_cpu *sc = per_cpu_ptr(&svm_cpus, cpu);
		gfp_t gfp = GFP_KERNEL | __GFP_ZERO;

		sc->hsave = alloc_pages_node(cpu_to_node(cpu), gfp, 0);
		sc->host_save = alloc_pages_node(cpu_to_node(cpu), gfp, 0);
		if (!sc->hsave || !sc->host_save)
			goto err_free;
	}
	svm_iopm = alloc_pages(GFP_KERNEL, SVM_IOPM_ORDER);
	svm_msrpm = alloc_pages(GFP_KERNEL, SVM_MSRPM_ORDER);
	if (!svm_iopm || !svm_msrpm)
		goto err_free;
	memset(page_address(svm_iopm), 0xff, PAGE_SIZE << SVM_IOPM_ORDER);
	memset(page_address(svm_msrpm), 0xff, PAGE_SIZE << SVM_MSRPM_ORDER);
	return 0;

err_free:
	svm_hardware_unsetup();
	return -ENOMEM;
}

/* EFER.SVME set by someone else: another hypervisor owns SVM on this CPU. */
static bool svm_cpu_in_use(void)
{
	u64 efer;

	rdmsrq(MSR_EFER, efer);
	return efer & EFER_SVME;
}

/*
 * EFER.SVME on (15.4 "Enabling SVM"), and VM_HSAVE_PA pointing at the page
 * where VMRUN saves host state (15.30.4).  Both are lost when the CPU is
 * reset, as on resume from S3: module/hw.c calls this again then.
 */
static int svm_cpu_enable(void)
{
	struct svm_cpu *sc = this_cpu_ptr(&svm_cpus);
	u64 efer;

	rdmsrq(MSR_EFER, efer);
	if (efer & EFER_SVME)
		return -EBUSY;
	wrmsrq(MSR_EFER, efer | EFER_SVME);
	wrmsrq(MSR_VM_HSAVE_PA, page_to_phys(sc->hsave));
	/* The value svm_vcpu_enter() puts back after each VMRUN (svm_tsc_aux_in). */
	if (svm_switch_tsc_aux)
		rdmsrq(MSR_TSC_AUX, sc->host_tsc_aux);
	/*
	 * Another hypervisor may have left TLB entries tagged with any ASID:
	 * the first vCPU entry on this CPU starts a new generation, which
	 * flushes them all.
	 */
	sc->next_asid = svm_max_asid + 1;
	return 0;
}

/*
 * Set GIF before clearing SVME: with GIF=0 the CPU would keep INIT and
 * NMIs blocked (15.17); STGI is legal only while SVME=1.  No locks and
 * no per-vCPU state: this is also the crash/emergency-reboot callback
 * (maybe in NMI context), as KVM's svm_emergency_disable_virtualization_cpu
 * (6.12) is.  A vCPU needs nothing from this CPU afterwards: its next
 * entry picks a new ASID (svm_cpu_enable starts a new generation).
 */
static void svm_cpu_disable(void)
{
	u64 efer;

	wrmsrq(MSR_VM_HSAVE_PA, 0);
	rdmsrq(MSR_EFER, efer);
	if (efer & EFER_SVME) {
		stgi();
		wrmsrq(MSR_EFER, efer & ~EFER_SVME);
	}
}


const struct hv_backend_ops hv_svm_ops = {
	.name			= "AMD-V",
	.vendor			= HVLAB_VENDOR_AMD,
	.hardware_setup		= svm_hardware_setup,
	.hardware_unsetup	= svm_hardware_unsetup,
	.cpu_enable		= svm_cpu_enable,
	.cpu_disable		= svm_cpu_disable,
	.cpu_in_use		= svm_cpu_in_use,
	.cpu_emergency_disable	= svm_cpu_disable,
	.vcpu_create		= svm_vcpu_create,
	.vcpu_free		= svm_vcpu_free,
	.mmu_format		= &hv_npt_format,
	.vcpu_load_state	= svm_load_state,
	.vcpu_save_state	= svm_save_state,
	.vcpu_save_int_shadow	= svm_save_int_shadow,
	.vcpu_enter		= svm_vcpu_enter,
	.get_msr		= svm_get_msr,
	.set_msr		= svm_set_msr,
	.get_cr0		= svm_get_cr0,
	.get_dr			= svm_get_dr,
	.set_dr			= svm_set_dr,
	.vcpu_capture		= true,
};
