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
#include <linux/idr.h>
#include <linux/delay.h>
#include <linux/sched/signal.h>
#include <linux/smp.h>
#include <asm/msr.h>
#include <asm/tlbflush.h>
#include <asm/special_insns.h>
#include <asm/asm.h>
#include <asm/vmx.h>

#include "../module/hv.h"
#include "vmx.h"

struct vmx_caps vmx_caps;
static DEFINE_PER_CPU(struct page *, vmx_vmxon_page);
DEFINE_PER_CPU(struct vmx_cpu, vmx_cpus);
/* All ones: every RDMSR/WRMSR exits (SDM Vol. 3C 25.6.9). */
struct page *vmx_msr_bitmap;
/* This CPU is in VMX operation (VMXON done, VMXOFF not yet). */
static DEFINE_PER_CPU(bool, vmx_on);
/* VPIDs 1..65535, one per vCPU for its lifetime (SDM Vol. 3C 29.1). */
static DEFINE_IDA(vmx_vpid_ida);

/* IA32_VMX_BASIC (SDM Vol. 3C A.1); named here so 6.1 and 6.12 agree. */
#define VMX_BASIC_REVISION(b)	((u32)(b) & 0x7fffffff)
#define VMX_BASIC_REGION_SIZE(b) (((b) >> 32) & 0x1fff)
#define VMX_BASIC_PHYS32	BIT_ULL(48)
#define VMX_BASIC_MEMTYPE(b)	(((b) >> 50) & 0xf)
#define VMX_MEMTYPE_WB		6
/* Bit 55: the TRUE_*_CTLS MSRs exist and report the real allowed-0 bits (A.2). */
#define VMX_BASIC_TRUE_CTLS_BIT	BIT_ULL(55)

/* IA32_VMX_EPT_VPID_CAP (SDM Vol. 3C A.10). */
#define VMX_CAP_EPT_WALK4	BIT_ULL(6)
#define VMX_CAP_EPT_WB		BIT_ULL(14)
#define VMX_CAP_EPT_2M		BIT_ULL(16)
#define VMX_CAP_INVEPT		BIT_ULL(20)
#define VMX_CAP_INVEPT_SINGLE	BIT_ULL(25)
#define VMX_CAP_INVEPT_GLOBAL	BIT_ULL(26)
#define VMX_CAP_INVVPID		BIT_ULL(32)
#define VMX_CAP_INVVPID_SINGLE	BIT_ULL(41)

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
	if (rdmsrq_safe(MSR_IA32_FEAT_CTL, &feat) ||
	    !(feat & FEAT_CTL_LOCKED) || !(feat & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX)) {
		pr_err("VT-x is disabled by firmware (IA32_FEATURE_CONTROL = %#llx: lock=%d, vmx-outside-smx=%d); enable it in the BIOS setup\n",
		       feat, !!(feat & FEAT_CTL_LOCKED),
		       !!(feat & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX));
		return -ENODEV;
	}

	rdmsrq(MSR_IA32_VMX_BASIC, basic);
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
	rdmsrq(MSR_IA32_VMX_PROCBASED_CTLS, procbased);
	procbased2 = 0;
	if ((procbased >> 32) & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)
		rdmsrq(MSR_IA32_VMX_PROCBASED_CTLS2, procbased2);
	if (!((procbased2 >> 32) & SECONDARY_EXEC_ENABLE_EPT) ||
	    !((procbased2 >> 32) & SECONDARY_EXEC_UNRESTRICTED_GUEST)) {
		pr_err("VT-x without EPT or unrestricted guest (IA32_VMX_PROCBASED_CTLS2 = %#llx); hvlab needs both\n",
		       procbased2);
		return -ENODEV;
	}
	return 0;
}

/*
 * One control word from its capability MSR (SDM Vol. 3C A.3-A.5): the low
 * 32 bits are the allowed-0 settings (a 1 there means "must be 1"), the
 * high 32 bits the allowed-1 settings.  @want must all be allowed, @opt
 * are taken when allowed, every other bit is 0 unless it must be 1.
 */
static int vmx_adjust_ctl(u32 msr, u32 want, u32 opt, u32 *out, const char *name)
{
	u64 cap;
	u32 must1, may1;

	rdmsrq(msr, cap);
	must1 = (u32)cap;
	may1 = cap >> 32;
	if (want & ~may1) {
		pr_err("VT-x lacks %s controls %#x (MSR %#x = %#llx)\n",
		       name, want & ~may1, msr, cap);
		return -ENODEV;
	}
	*out = want | (opt & may1) | must1;
	return 0;
}

/*
 * The controls hvlab runs every guest with, decided once (SDM Vol. 3C 25.6
 * execution, 25.7 exit, 25.8 entry controls; 24.x in older editions).
 * With VMX_BASIC bit 55 the TRUE_* MSRs are the ones to read: they let the
 * "default1" bits we do not want (CR3-load/store exiting, INVLPG exiting...)
 * be cleared (A.2).
 */
static int vmx_setup_controls(void)
{
	bool true_ctls = vmx_caps.basic & VMX_BASIC_TRUE_CTLS_BIT;
	u64 ept = 0;
	int err;

	/*
	 * Host interrupts and NMIs always exit; virtual NMIs when offered
	 * (25.6.1).  The preemption timer, when offered, bounds every stay
	 * in the guest (see vmx_caps.slice): Bochs takes no external-interrupt
	 * exit while a guest spins with RFLAGS.IF = 0, so without it a signal
	 * could wait forever.
	 */
	err = vmx_adjust_ctl(true_ctls ? MSR_IA32_VMX_TRUE_PINBASED_CTLS : MSR_IA32_VMX_PINBASED_CTLS,
			     PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING,
			     PIN_BASED_VIRTUAL_NMIS | PIN_BASED_VMX_PREEMPTION_TIMER,
			     &vmx_caps.pin, "pin-based");
	/*
	 * Primary (25.6.2): HLT, all port I/O (unconditional I/O exiting),
	 * all MSRs (an all-ones MSR bitmap), MONITOR/MWAIT, and CR8 both
	 * ways: without a TPR shadow a 64-bit guest's MOV CR8 would reach
	 * the host's own APIC TPR (25.6.2, 26.3).  MOV DR: DR0-3 are not in
	 * the VMCS, so the guest would read the host's (module/debugreg.c).
	 * RDPMC: it would read the host's counters (the guest may set
	 * CR4.PCE, and runs at CPL 0 anyway); hvlab offers no PMU (CPUID
	 * leaf 0Ah is zero), so it raises #GP.  TSC offsetting: RDTSC reads
	 * the host's TSC plus TSC_OFFSET, what a guest WRMSR to IA32_TSC sets
	 * (module/msr.c); every VT-x CPU has it (allowed-1, A.3.2).
	 */
	err = err ?: vmx_adjust_ctl(true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS : MSR_IA32_VMX_PROCBASED_CTLS,
			     CPU_BASED_HLT_EXITING | CPU_BASED_UNCOND_IO_EXITING |
			     CPU_BASED_USE_MSR_BITMAPS | CPU_BASED_MONITOR_EXITING |
			     CPU_BASED_MOV_DR_EXITING | CPU_BASED_RDPMC_EXITING |
			     CPU_BASED_MWAIT_EXITING | CPU_BASED_CR8_LOAD_EXITING |
			     CPU_BASED_CR8_STORE_EXITING | CPU_BASED_ACTIVATE_SECONDARY_CONTROLS |
			     CPU_BASED_INTR_WINDOW_EXITING |
			     CPU_BASED_USE_TSC_OFFSETTING,
			     0, &vmx_caps.proc, "primary processor-based");
	if (err)
		return err;
	/* Interrupt-window exiting must be available; it is set per entry, when wanted. */
	vmx_caps.proc &= ~CPU_BASED_INTR_WINDOW_EXITING;

	rdmsrq(MSR_IA32_VMX_EPT_VPID_CAP, ept);
	vmx_caps.ept_vpid = ept;
	if (!(ept & VMX_CAP_EPT_WALK4) || !(ept & VMX_CAP_EPT_WB) || !(ept & VMX_CAP_EPT_2M) ||
	    !(ept & VMX_CAP_INVEPT) || !(ept & (VMX_CAP_INVEPT_SINGLE | VMX_CAP_INVEPT_GLOBAL))) {
		pr_err("EPT without 4-level walks, write-back tables, 2 MiB pages or INVEPT (IA32_VMX_EPT_VPID_CAP = %#llx)\n",
		       ept);
		return -ENODEV;
	}
	vmx_caps.invept_single = ept & VMX_CAP_INVEPT_SINGLE;
	vmx_caps.vpid = (ept & VMX_CAP_INVVPID) && (ept & VMX_CAP_INVVPID_SINGLE);

	/*
	 * Secondary (25.6.2): EPT and unrestricted guest; VPIDs if INVVPID
	 * can flush one.  WBINVD exiting: a guest's WBINVD/WBNOINVD would
	 * flush the host CPU's caches (exit.c, vmx_exit_wbinvd); CPUs with
	 * unrestricted guest have the control, so it is required.
	 */
	err = vmx_adjust_ctl(MSR_IA32_VMX_PROCBASED_CTLS2,
			     SECONDARY_EXEC_ENABLE_EPT | SECONDARY_EXEC_UNRESTRICTED_GUEST |
			     SECONDARY_EXEC_WBINVD_EXITING,
			     vmx_caps.vpid ? SECONDARY_EXEC_ENABLE_VPID : 0,
			     &vmx_caps.proc2, "secondary processor-based");
	if (err)
		return err;
	vmx_caps.vpid = vmx_caps.proc2 & SECONDARY_EXEC_ENABLE_VPID;

	/*
	 * Exit (25.7.1): 64-bit host, EFER and PAT saved and loaded, the
	 * guest's DR7 and IA32_DEBUGCTL saved ("save debug controls"; the
	 * exit then sets DR7 to 400h and clears DEBUGCTL, 28.5.1).  No
	 * "acknowledge interrupt on exit": the host interrupt stays pending
	 * in the APIC and the host takes it when the C code sets IF again.
	 */
	err = vmx_adjust_ctl(true_ctls ? MSR_IA32_VMX_TRUE_EXIT_CTLS : MSR_IA32_VMX_EXIT_CTLS,
			     VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_SAVE_IA32_EFER |
			     VM_EXIT_LOAD_IA32_EFER | VM_EXIT_SAVE_IA32_PAT | VM_EXIT_LOAD_IA32_PAT |
			     VM_EXIT_SAVE_DEBUG_CONTROLS,
			     0, &vmx_caps.exit, "VM-exit");
	/*
	 * Entry (25.8.1): EFER and PAT loaded, and the guest's DR7 and
	 * DEBUGCTL from GUEST_DR7 / GUEST_IA32_DEBUGCTL ("load debug
	 * controls", 27.3.2.1); IA-32e mode guest set per entry.  TRUE_*
	 * lets both debug controls be 0, and then the guest would run with
	 * the host's DR7 and DEBUGCTL and lose its own at every exit.  The
	 * first VMX processors had only the 1-setting (27.3.1.1), so every
	 * CPU offers them.
	 */
	err = err ?: vmx_adjust_ctl(true_ctls ? MSR_IA32_VMX_TRUE_ENTRY_CTLS : MSR_IA32_VMX_ENTRY_CTLS,
			     VM_ENTRY_LOAD_IA32_EFER | VM_ENTRY_LOAD_IA32_PAT |
			     VM_ENTRY_LOAD_DEBUG_CONTROLS,
			     VM_ENTRY_IA32E_MODE, &vmx_caps.entry, "VM-entry");
	if (err)
		return err;
	vmx_caps.entry &= ~VM_ENTRY_IA32E_MODE;

	rdmsrq(MSR_IA32_VMX_MISC, vmx_caps.misc);
	/*
	 * The preemption timer counts down once every 2^(IA32_VMX_MISC[4:0])
	 * TSC ticks (26.5.1): a slice of VMX_SLICE_MS, at least 1 (0 would
	 * exit before the guest runs an instruction) and at most 2^32 - 1.
	 * Without a calibrated TSC (tsc_khz 0) assume VMX_SLICE_TSC_KHZ: the
	 * slice is then only roughly VMX_SLICE_MS, but the timer still bounds
	 * every stay in the guest, so RUN stays interruptible.
	 */
	if (vmx_caps.pin & PIN_BASED_VMX_PREEMPTION_TIMER) {
		u64 khz = tsc_khz;

		if (!khz) {
			khz = VMX_SLICE_TSC_KHZ;
			pr_info("TSC frequency unknown: VMX preemption timer slice assumes %llu kHz\n",
				khz);
		}
		vmx_caps.slice = clamp_t(u64, (khz * VMX_SLICE_MS) >>
					 vmx_misc_preemption_timer_rate(vmx_caps.misc), 1, U32_MAX);
	}
	rdmsrq(MSR_IA32_VMX_CR0_FIXED0, vmx_caps.cr0_fixed0);
	rdmsrq(MSR_IA32_VMX_CR0_FIXED1, vmx_caps.cr0_fixed1);
	rdmsrq(MSR_IA32_VMX_CR4_FIXED0, vmx_caps.cr4_fixed0);
	rdmsrq(MSR_IA32_VMX_CR4_FIXED1, vmx_caps.cr4_fixed1);
	vmx_caps.vmcs_size = VMX_BASIC_REGION_SIZE(vmx_caps.basic);
	vmx_dump_setup();
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
	if (!err)
		err = vmx_setup_controls();
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
		INIT_LIST_HEAD(&per_cpu(vmx_cpus, cpu).loaded);
		per_cpu(vmx_cpus, cpu).current_vmcs = NULL;
	}
	vmx_msr_bitmap = alloc_page(gfp);
	if (!vmx_msr_bitmap) {
		vmx_free_vmxon_pages();
		return -ENOMEM;
	}
	memset(page_address(vmx_msr_bitmap), 0xff, PAGE_SIZE);
	/* The scheduler calls preempt notifiers only while someone counts on them. */
	preempt_notifier_inc();
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

	rdmsrq(fixed0_msr, fixed0);
	rdmsrq(fixed1_msr, fixed1);
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

/*
 * CR4.VMXE set by someone else means another hypervisor (KVM, VirtualBox)
 * is in VMX operation on this CPU: leave it alone.
 */
static bool vmx_cpu_in_use(void)
{
	return cr4_read_shadow() & X86_CR4_VMXE;
}

/*
 * VMXON on this CPU.  A CPU reset (resume from S3) leaves VMX operation
 * and clears CR4.VMXE (SDM Vol. 3C 24.7 "Enabling and Entering VMX
 * Operation"): module/hw.c calls this again on resume, after suspend
 * turned VMX off through vmx_cpu_disable.
 */
static int vmx_cpu_enable(void)
{
	struct page *page = __this_cpu_read(vmx_vmxon_page);
	u64 feat;

	if (vmx_cpu_in_use())
		return -EBUSY;

	rdmsrq(MSR_IA32_FEAT_CTL, feat);
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
	this_cpu_ptr(&vmx_cpus)->current_vmcs = NULL;
	__this_cpu_write(vmx_on, true);
	return 0;
}

/*
 * VMCLEAR every VMCS active on this CPU before VMXOFF: the CPU may keep
 * VMCS data cached, and only VMCLEAR writes it back to memory and makes
 * the VMCS loadable elsewhere (SDM Vol. 3C 25.11.1 / 24.11.1).
 * Interrupts are off.  Used for CPU hotplug, the last VM going away,
 * suspend (the boot CPU; the others go through hotplug) and reboot.
 * Each VMCS is left "clear" and unowned (cpu -1, launched false), so the
 * next vmx_vcpu_load() does VMPTRLD again and the next entry is a
 * VMLAUNCH: after a suspend the VMCS that was current before is not
 * (VMXON starts with no current VMCS, 31.3 "VMXON").
 */
static void vmx_cpu_disable(void)
{
	struct vmx_cpu *vc = this_cpu_ptr(&vmx_cpus);
	struct vmx_vcpu *vmx, *tmp;

	if (__this_cpu_read(vmx_on)) {
		list_for_each_entry_safe(vmx, tmp, &vc->loaded, loaded_link) {
			vmcs_clear(vmx->vmcs_pa);
			list_del(&vmx->loaded_link);
			vmx->launched = false;
			smp_wmb();
			WRITE_ONCE(vmx->cpu, -1);
		}
		vc->current_vmcs = NULL;
	}
	__this_cpu_write(vmx_on, false);
	vmx_vmxoff();
}

/* VMCLEAR that never warns: for the emergency path below. */
static void vmx_vmclear_quiet(u64 pa)
{
	asm volatile("1: vmclear %[pa]\n"
		     "2:\n"
		     _ASM_EXTABLE(1b, 2b)
		     : : [pa] "m" (pa) : "cc", "memory");
}

/*
 * Crash kexec and emergency reboot, maybe in NMI context: no locks, no
 * printing.  VMCLEAR the VMCSs active here first, so their data is in
 * memory for a crash dump, then VMXOFF (what KVM's vmx_emergency_disable
 * does with its loaded_vmcss_on_cpu list).  Walking the list unlocked is
 * safe: it is only changed on this CPU with interrupts off, by list_add()
 * and list_del(), and a forward walk interrupted between their stores
 * still sees a well-formed list (the new entry is linked in last, a
 * removed one is unlinked first), the way KVM relies on it.
 */
static void vmx_cpu_emergency_disable(void)
{
	struct vmx_cpu *vc = this_cpu_ptr(&vmx_cpus);
	struct vmx_vcpu *vmx;

	if (__this_cpu_read(vmx_on)) {
		list_for_each_entry(vmx, &vc->loaded, loaded_link)
			vmx_vmclear_quiet(vmx->vmcs_pa);
	}
	__this_cpu_write(vmx_on, false);
	vmx_vmxoff();
}

/* IPI on the CPU where @vmx's VMCS is active: VMCLEAR it there (25.11.1). */
static void vmx_clear_here(void *arg)
{
	struct vmx_vcpu *vmx = arg;
	struct vmx_cpu *vc = this_cpu_ptr(&vmx_cpus);

	/* CPU hotplug may have cleared it already (vmx_cpu_disable). */
	if (READ_ONCE(vmx->cpu) != smp_processor_id())
		return;
	vmcs_clear(vmx->vmcs_pa);
	if (vc->current_vmcs == vmx)
		vc->current_vmcs = NULL;
	list_del(&vmx->loaded_link);
	vmx->launched = false;
	smp_wmb();
	WRITE_ONCE(vmx->cpu, -1);
}

/*
 * Make @vmx's VMCS the current one on this CPU, and keep it so until
 * vmx_vcpu_put(): preemption stays off in between.  A VMCS last active on
 * another CPU is VMCLEARed there first (an IPI, so interrupts must be on
 * here), because a VMCS may be active on one CPU only (SDM Vol. 3C
 * 25.11.1); the next entry is then a VMLAUNCH.  A CPU that is going
 * offline has already left VMX operation: wait to be migrated off it,
 * but give up with -EINTR (preemption on again, nothing loaded) when a
 * signal comes first, so the task can always be killed.  0 when loaded.
 */
int vmx_vcpu_load(struct vmx_vcpu *vmx)
{
	struct vmx_cpu *vc;
	int cpu, old;

	cpu = get_cpu();
	while (unlikely(!__this_cpu_read(vmx_on))) {
		put_cpu();
		if (signal_pending(current))
			return -EINTR;
		msleep_interruptible(1);
		cpu = get_cpu();
	}
	vc = this_cpu_ptr(&vmx_cpus);
	old = READ_ONCE(vmx->cpu);
	if (old != cpu) {
		if (old >= 0)
			smp_call_function_single(old, vmx_clear_here, vmx, 1);
		smp_rmb();
		WARN_ON_ONCE(READ_ONCE(vmx->cpu) >= 0);
		local_irq_disable();
		list_add(&vmx->loaded_link, &vc->loaded);
		vmx->cpu = cpu;
		vmcs_load(vmx->vmcs_pa);
		vc->current_vmcs = vmx;
		local_irq_enable();
		/* Per-CPU host state (TR, GDT, IDT, SYSENTER_ESP, GS base) and TLB tags. */
		vmx_write_host_cpu_state(vmx);
		vmx->mmu_gen = ~0ULL;	/* INVEPT/INVVPID before the next entry */
	} else if (vc->current_vmcs != vmx) {
		vmcs_load(vmx->vmcs_pa);
		vc->current_vmcs = vmx;
	}
	return 0;
}

void vmx_vcpu_put(struct vmx_vcpu *vmx)
{
	put_cpu();
}

/*
 * INVEPT / INVVPID (SDM Vol. 3C 31.3; 29.4.3 "Invalidating Cached
 * Translation Information"): a 128-bit descriptor in memory, the type in a
 * register.
 */
static void vmx_invept(u64 eptp)
{
	struct { u64 eptp, rsvd; } desc = { eptp, 0 };
	unsigned long type = vmx_caps.invept_single ? VMX_EPT_EXTENT_CONTEXT : VMX_EPT_EXTENT_GLOBAL;
	bool fail;

	asm volatile("invept %[d], %[t]" : "=@ccbe" (fail) : [d] "m" (desc), [t] "r" (type) : "memory");
	WARN_ONCE(fail, "hvlab: INVEPT failed\n");
}

static void vmx_invvpid(u16 vpid)
{
	struct { u64 vpid, gva; } desc = { vpid, 0 };
	unsigned long type = VMX_VPID_EXTENT_SINGLE_CONTEXT;
	bool fail;

	asm volatile("invvpid %[d], %[t]" : "=@ccbe" (fail) : [d] "m" (desc), [t] "r" (type) : "memory");
	WARN_ONCE(fail, "hvlab: INVVPID failed\n");
}

/*
 * Before an entry, with the VMCS loaded: drop cached translations that may
 * be stale.  Guest-physical and combined mappings are tagged with the EPTP
 * (29.4.1): after the core zapped the EPT tables (mmu_gen moved), or on a
 * CPU this vCPU did not run on last (an older VM may have had the same
 * EPT root there).  Linear mappings are tagged with the VPID: flushed on a
 * CPU move, since the guest may have changed its page tables meanwhile.
 */
void vmx_flush(struct vmx_vcpu *vmx)
{
	u64 gen;

	smp_rmb();
	gen = READ_ONCE(vmx->vcpu.vm->mmu_gen);
	if (vmx->mmu_gen == gen)
		return;
	if (vmx->mmu_gen == ~0ULL && vmx->vpid)
		vmx_invvpid(vmx->vpid);
	vmx_invept(vmx->eptp);
	vmx->mmu_gen = gen;
}

static struct hv_vcpu *vmx_vcpu_create(struct hv_vm *vm, unsigned int id)
{
	struct vmx_vcpu *vmx = kzalloc(sizeof(*vmx), GFP_KERNEL_ACCOUNT);
	gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO;
	struct page *page;
	int vpid = 0, err = -ENOMEM;

	if (!vmx)
		return ERR_PTR(-ENOMEM);
	if (vmx_caps.basic & VMX_BASIC_PHYS32)
		gfp |= __GFP_DMA32;
	page = alloc_page(gfp);
	if (!page)
		goto err_vmx;
	if (vmx_caps.vpid) {
		vpid = ida_alloc_range(&vmx_vpid_ida, 1, 0xffff, GFP_KERNEL);
		if (vpid < 0)
			goto err_page;
	}
	vmx->vpid = vpid;
	/* A VMCS region starts with the revision identifier (25.2 / 24.2). */
	vmx->vmcs = page_address(page);
	*(u32 *)vmx->vmcs = vmx_caps.revision;
	vmx->vmcs_pa = page_to_phys(page);
	vmx->cpu = -1;
	INIT_LIST_HEAD(&vmx->loaded_link);
	vmx->vcpu.vm = vm;

	/* VMCLEAR before the first VMPTRLD: launch state "clear" (25.11.3). */
	preempt_disable();
	vmcs_clear(vmx->vmcs_pa);
	preempt_enable();
	err = vmx_vcpu_load(vmx);
	if (err)
		goto err_vpid;
	vmx_vmcs_init(vmx);
	vmx_vcpu_put(vmx);
	return &vmx->vcpu;

err_vpid:
	if (vpid)
		ida_free(&vmx_vpid_ida, vpid);
err_page:
	__free_page(page);
err_vmx:
	kfree(vmx);
	return ERR_PTR(err);
}

static void vmx_vcpu_free(struct hv_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	int cpu = READ_ONCE(vmx->cpu);

	if (cpu >= 0)
		smp_call_function_single(cpu, vmx_clear_here, vmx, 1);
	if (vmx->vpid)
		ida_free(&vmx_vpid_ida, vmx->vpid);
	free_page((unsigned long)vmx->vmcs);
	kfree(vmx);
}
static void vmx_hardware_unsetup(void)
{
	preempt_notifier_dec();
	vmx_free_vmxon_pages();
	if (vmx_msr_bitmap)
		__free_page(vmx_msr_bitmap);
	vmx_msr_bitmap = NULL;
}

const struct hv_backend_ops hv_vmx_ops = {
	.name			= "VT-x",
	.vendor			= HVLAB_VENDOR_INTEL,
	.hardware_setup		= vmx_hardware_setup,
	.hardware_unsetup	= vmx_hardware_unsetup,
	.cpu_enable		= vmx_cpu_enable,
	.cpu_disable		= vmx_cpu_disable,
	.cpu_in_use		= vmx_cpu_in_use,
	.cpu_emergency_disable	= vmx_cpu_emergency_disable,
	.vcpu_create		= vmx_vcpu_create,
	.vcpu_free		= vmx_vcpu_free,
	.mmu_format		= &hv_ept_format,
	.vcpu_load_state	= vmx_load_state,
	.vcpu_save_state	= vmx_save_state,
	.vcpu_save_int_shadow	= vmx_save_int_shadow,
	.vcpu_enter		= vmx_vcpu_enter,
	.vcpu_run_begin		= vmx_run_begin,
	.vcpu_run_end		= vmx_run_end,
	.get_msr		= vmx_get_msr,
	.set_msr		= vmx_set_msr,
	.get_cr0		= vmx_get_cr0,
	.get_dr			= vmx_get_dr,
	.set_dr			= vmx_set_dr,
	.vcpu_capture		= true,
};
