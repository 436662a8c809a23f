// SPDX-License-Identifier: GPL-2.0
/*
 * spec.c - keeping the host safe from speculation across the world switch:
 * what hvlab does around each VM entry and exit, following the host
 * kernel's own mitigation choices.
 *
 * The kernel decides at boot which mitigations this CPU needs
 * (arch/x86/kernel/cpu/bugs.c, reported in
 * /sys/devices/system/cpu/vulnerabilities/) and records each choice as a
 * synthetic X86_FEATURE_* bit or a variable.  hvlab never detects a bug
 * itself: it reads those bits and uses the kernel's primitives, as KVM
 * does.  The work is split like this:
 *
 *  - in the .S files, as alternatives on the kernel's feature bits, what
 *    must happen with no RET or memory access in between: VERW right
 *    before VMLAUNCH/VMRESUME/VMRUN; after the exit, filling the return
 *    stack, rewriting SPEC_CTRL for legacy IBRS and clearing the branch
 *    history (VMX), return untraining and IBPB (SVM), all before the
 *    first RET;
 *  - here, in C, called by both backends with interrupts off: the IBPB
 *    when a CPU runs a vCPU of another VM than last time, the L1D flush
 *    before a VMX entry where the host's l1tf mode asks for it, the AMD divider clear, and marking the CPU for
 *    the IBPB before the VMM's user space runs again (VMSCAPE);
 *  - for nested paging: 4 KiB EPT leaves only where the CPU has iTLB
 *    multihit;
 *  - at VM creation: refusing a CPU whose bug hvlab cannot mitigate on
 *    this kernel, unless the administrator says so.
 *
 * The guest never owns SPEC_CTRL: every MSR access exits (both MSR
 * bitmaps are all ones) and module/msr.c allows neither SPEC_CTRL nor
 * PRED_CMD, so the guest runs under the host's SPEC_CTRL value and the
 * exit has nothing to restore except the IBRS rewrite legacy IBRS needs
 * (KVM: vmx_spec_ctrl_restore_host(); svm/vmenter.S
 * RESTORE_HOST_SPEC_CTRL).  The same holds for SSBD (x86_virt_spec_ctrl()
 * in KVM switches the guest's choice in): the guest runs with the VMM
 * thread's own setting.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/atomic.h>
#include <linux/cpu.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/sched/smt.h>
#include <linux/string.h>
#include <asm/cpufeature.h>
#include <asm/apic.h>
#include <asm/hardirq.h>
#include <asm/nmi.h>
#include <asm/msr.h>
#include <asm/nospec-branch.h>
#include <asm/processor.h>
#include <asm/vmx.h>

#include "hv.h"
#include "spec.h"

static bool hv_allow_unmitigated;
module_param_named(allow_unmitigated, hv_allow_unmitigated, bool, 0644);
MODULE_PARM_DESC(allow_unmitigated,
		 "UNSAFE: create VMs even on a CPU with a bug hvlab cannot mitigate on this kernel (dmesg names it)");

/*
 * For the selftests: a CPU bug (a name as in
 * /sys/devices/system/cpu/vulnerabilities) to treat as present and beyond
 * hvlab's reach, so that the refusal can be tested on the kernels we
 * build for, where hvlab can mitigate everything the CPU has.  Empty: off.
 */
static char hv_test_bug[32];
module_param_string(test_unmitigated, hv_test_bug, sizeof(hv_test_bug), 0644);
MODULE_PARM_DESC(test_unmitigated, "testing: pretend this CPU bug is present and unmitigable (empty: off)");

/* What hvlab does at the world switch on this host; read-only. */
static char hv_spec_report[160];
module_param_string(mitigations, hv_spec_report, sizeof(hv_spec_report), 0444);
MODULE_PARM_DESC(mitigations, "what hvlab does at each VM entry/exit on this host (read-only)");

static bool hv_spec_vmx;
static bool hv_spec_no_large;		/* 4 KiB EPT leaves only (iTLB multihit) */
static bool hv_spec_l1d;		/* flush L1D before VMX entries... */
static bool hv_spec_l1d_always;		/* ...every one, not only after host work */
/* L1D flushes done on this CPU, summed in the l1d_flushes parameter. */
static DEFINE_PER_CPU(unsigned long, hv_spec_l1d_count);
static void *hv_spec_l1d_buf;		/* software flush: read through it */
static atomic64_t hv_spec_vm_seq;
/* The VM whose guest this CPU ran last (hv_spec_vm_id()), 0: none yet. */
static DEFINE_PER_CPU(u64, hv_spec_last_vm);

/* 64 KiB: twice the L1D of every CPU with L1TF, as the replacement is not LRU. */
#define HV_L1D_BUF_ORDER	4
#define HV_L1D_BUF_SIZE		(PAGE_SIZE << HV_L1D_BUF_ORDER)

static int hv_spec_l1d_get(char *buf, const struct kernel_param *kp)
{
	unsigned long n = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		n += per_cpu(hv_spec_l1d_count, cpu);
	return scnprintf(buf, PAGE_SIZE, "%lu\n", n);
}

static const struct kernel_param_ops hv_spec_l1d_ops = {
	.get = hv_spec_l1d_get,
};
module_param_cb(l1d_flushes, &hv_spec_l1d_ops, NULL, 0444);
MODULE_PARM_DESC(l1d_flushes, "L1D flushes done before VM entries so far (L1TF hosts only)");

/*
 * VMX exits (SDM Vol. 3C Appendix C) that hvlab finishes in the kernel
 * touching little more than the vCPU's own state; KVM's "cond" mode does
 * not flush after such exits either (its flag is set only by a new RUN,
 * scheduling in, emulation, writes to guest memory, page faults and
 * interrupts).  Anything else, above all EPT violations (page pinning,
 * allocation), flushes; an exit that went to user space flushes anyway,
 * as the next RUN does.
 */
static bool hv_spec_exit_quiet(u16 reason)
{
	switch (reason) {
	case EXIT_REASON_CPUID:
	case EXIT_REASON_VMCALL:
	case EXIT_REASON_MSR_READ:
	case EXIT_REASON_MSR_WRITE:
	case EXIT_REASON_IO_INSTRUCTION:
	case EXIT_REASON_HLT:
	case EXIT_REASON_EXTERNAL_INTERRUPT:	/* the interrupt marked the CPU */
	case EXIT_REASON_INTERRUPT_WINDOW:
	case EXIT_REASON_PREEMPTION_TIMER:
		return true;
	default:
		return false;
	}
}

/*
 * iTLB multihit (X86_BUG_ITLB_MULTIHIT): on these Intel CPUs a guest that
 * changes the size of a page it executes from, without invalidating it,
 * can raise a machine check, but only where the EPT maps that memory with
 * a large page too: with 4 KiB EPT leaves every translation the TLB holds
 * for the guest is 4 KiB, whatever the guest's own tables say.  KVM maps
 * large pages non-executable and splits one when the guest executes from
 * it (nx_huge_pages, on by default where the bug is); hvlab simply gives
 * such hosts 4 KiB EPT leaves only.  SVM is not affected.
 */
bool hv_spec_large_leaves_ok(void)
{
	return !hv_spec_no_large;
}

/*
 * Called by hv_vm_create() before anything else: 0, or -EOPNOTSUPP with
 * one ratelimited line naming the bug, when the host wants a bug
 * mitigated that hvlab cannot mitigate with what this kernel offers a
 * module.  On Debian's 6.1 and 6.12 every primitive is exported (see the
 * README's table), so only the test knob leads here there; a kernel
 * without one adds its case below.  With allow_unmitigated the VM is
 * created and the line says it runs unprotected.
 */
int hv_spec_vm_allowed(void)
{
	const char *bug = NULL, *why = NULL;

	if (hv_test_bug[0] && hv_test_bug[0] != '\n') {	/* "\n" clears it too */
		bug = hv_test_bug;
		why = "test_unmitigated pretends so";
	}
	if (bug) {
		if (!READ_ONCE(hv_allow_unmitigated)) {
			pr_err_ratelimited("CPU bug %s: hvlab cannot mitigate it on this kernel (%s), so it creates no VMs (allow_unmitigated=1 overrides, unsafely)\n",
					   bug, why);
			return -EOPNOTSUPP;
		}
		pr_warn_ratelimited("CPU bug %s is not mitigated (%s): VM created because allow_unmitigated=1\n",
				    bug, why);
	}
/*
 * Called by hv_vm_create() before anything else: 0, or -EOPNOTSUPP with
 * one ratelimited line naming the bug.  With allow_unmitigated the VM is
 * created and the line says it runs unprotected.
 */
	/*
	 * An L1D flush does not protect from the sibling hyperthread, which
	 * shares the L1D; the kernel says so at boot for its own mode, and
	 * KVM repeats it when the first VM starts (vmx_vm_init()).
	 */
#if !HV_CORE_VIRT_OFF
	if (hv_spec_l1d && sched_smt_active() && l1tf_mitigation != L1TF_MITIGATION_FLUSH_NOWARN)
		pr_warn_once("L1TF: SMT is on, so a guest can still read the sibling thread's L1D\n");
#endif
	return 0;
}

/* A number per VM, never reused, for the IBPB on a VM switch. */
u64 hv_spec_vm_id(void)
{
	return atomic64_inc_return(&hv_spec_vm_seq);
}

/*
 * Another VM's guest (or none yet) ran on this CPU last: IBPB, so its
 * indirect branch training cannot steer this guest (KVM does it when a
 * CPU loads another vCPU's VMCS/VMCB: vmx_vcpu_load_vmcs(),
 * svm_vcpu_load(); hvlab only between VMs, the guests of one VM trust
 * each other).  Where the host does an IBPB on every exit anyway
 * (X86_FEATURE_IBPB_ON_VMEXIT, AMD retbleed/SRSO), KVM skips it, and so
 * does the SVM side here.  indirect_branch_prediction_barrier() is a NOP
 * unless the kernel chose to use IBPB (X86_FEATURE_USE_IBPB).
 */
static bool hv_spec_use_ibpb(void)
{
#ifdef X86_FEATURE_USE_IBPB
	return boot_cpu_has(X86_FEATURE_USE_IBPB);
#else
	return boot_cpu_has(X86_FEATURE_IBPB);
#endif
}

static void hv_spec_vm_switch(struct hv_vcpu *vcpu, bool svm)
{
	u64 id = vcpu->vm->spec_id;

	if (likely(this_cpu_read(hv_spec_last_vm) == id))
		return;
	this_cpu_write(hv_spec_last_vm, id);
	if (svm && cpu_feature_enabled(X86_FEATURE_IBPB_ON_VMEXIT))
		return;
#if HV_KVM_ONLY_EXPORTS
	/*
	 * 7.x: indirect_branch_prediction_barrier() calls write_ibpb(),
	 * exported to KVM only, and the static key that says whether the
	 * kernel wants IBPB between vCPUs (switch_vcpu_ibpb) is KVM's only
	 * too: hvlab does its own IBPB (spec_asm.S) wherever the CPU has one.
	 */
	if (boot_cpu_has(X86_FEATURE_IBPB))
		hv_ibpb();
#else
	indirect_branch_prediction_barrier();
#endif
}

/*
 * L1TF (Intel's "Deep Dive: Intel Analysis of L1 Terminal Fault"; KVM's
 * vmx_l1d_flush()): a guest can read L1D lines through a not-present
 * guest PTE, so host secrets must not be in L1D when it runs.
 * IA32_FLUSH_CMD does that where the microcode has it; otherwise reading
 * 64 KiB of our own evicts everything: each page first, so the TLB
 * misses do not break up the second pass, a serializing CPUID, then every
 * line.
 *
 * When: the host's l1tf mode picks it like KVM's vmx_setup_l1d_flush():
 * "full" flushes before every entry; the default ("flush") only when the
 * host may have run code that touches other data since the last flush
 * (KVM's "cond"): an interrupt or softirq on this CPU (the kernel marks
 * irq_stat.kvm_cpu_l1tf_flush_l1d for KVM on every interrupt entry; it
 * exists only in kernels built with KVM_INTEL), a new RUN (user space and
 * other tasks ran), the thread being scheduled back in, or an exit that
 * hvlab does not finish in a few instructions of its own.
 */
static void hv_spec_l1d_flush(struct hv_vcpu *vcpu, u16 last_exit)
{
	const volatile u8 *buf = hv_spec_l1d_buf;
	unsigned int eax = 0, ebx, ecx = 0, edx;
	unsigned long i;

	if (!hv_spec_l1d_always) {
		bool flush = vcpu->spec_l1d || !hv_spec_exit_quiet(last_exit);

#if IS_ENABLED(CONFIG_KVM_INTEL)
		flush |= kvm_get_cpu_l1tf_flush_l1d();
		kvm_clear_cpu_l1tf_flush_l1d();
#else
		flush = true;	/* no record of interrupts: flush always */
#endif
		vcpu->spec_l1d = false;
		if (!flush)
			return;
	}
	this_cpu_inc(hv_spec_l1d_count);
	if (static_cpu_has(X86_FEATURE_FLUSH_L1D)) {
		native_wrmsrq(MSR_IA32_FLUSH_CMD, L1D_FLUSH);
		return;
	}
	for (i = 0; i < HV_L1D_BUF_SIZE; i += PAGE_SIZE)
		(void)buf[i];
	native_cpuid(&eax, &ebx, &ecx, &edx);
	for (i = 0; i < HV_L1D_BUF_SIZE; i += L1_CACHE_BYTES)
		(void)buf[i];
	barrier_nospec();
}

void hv_spec_enter_vmx(struct hv_vcpu *vcpu, u16 last_exit)
{
	hv_spec_vm_switch(vcpu, false);
	if (hv_spec_l1d)
		hv_spec_l1d_flush(vcpu, last_exit);
}

/* A RUN begins, or the vCPU thread was scheduled back in: flush next time. */
void hv_spec_host_ran(struct hv_vcpu *vcpu)
{
	vcpu->spec_l1d = true;
}

void hv_spec_enter_svm(struct hv_vcpu *vcpu)
{
	hv_spec_vm_switch(vcpu, true);
	/*
	 * AMD Zen1 (X86_BUG_DIV0): a division by zero may return the previous
	 * division's quotient, possibly the host's; KVM's svm_vcpu_enter_exit()
	 * clears it with a harmless division first.
	 */
	amd_clear_divider();
}

/*
 * VMSCAPE: the guest may have trained the branch predictors to attack
 * the VMM process.  Where the kernel mitigates it with an IBPB before
 * the next return to user space, it wants every CPU that ran a guest
 * marked (KVM: vcpu_enter_guest()); its exit-to-user path then does the
 * IBPB once.  Interrupts are still off: the mark lands on the CPU that
 * ran the guest.
 */
void hv_spec_after_exit(void)
{
	if (cpu_feature_enabled(X86_FEATURE_IBPB_EXIT_TO_USER))
		this_cpu_write(x86_ibpb_exit_to_user, true);
}

/*
 * Whether to flush L1D before VMX entries: where the CPU has L1TF, the
 * host did not turn its mitigation off, and the CPU does not say the
 * flush is unneeded under VMX (ARCH_CAPABILITIES.SKIP_VMENTRY_L1DFLUSH,
 * e.g. a hypervisor below us flushes already).  KVM's
 * vmx_setup_l1d_flush() decides the same way.
 */
static bool hv_spec_want_l1d(void)
{
#if HV_CORE_VIRT_OFF
	/* 7.0+: no VMX backend (compat.h), and l1tf_mitigation is KVM's only. */
	return false;
#else
	u64 cap = 0;

	if (!hv_spec_vmx || !boot_cpu_has_bug(X86_BUG_L1TF) ||
	    l1tf_mitigation == L1TF_MITIGATION_OFF)
		return false;
	if (boot_cpu_has(X86_FEATURE_ARCH_CAPABILITIES))
		rdmsrq(MSR_IA32_ARCH_CAPABILITIES, cap);
	if (cap & ARCH_CAP_SKIP_VMENTRY_L1DFLUSH)
		return false;
	hv_spec_l1d_always = l1tf_mitigation == L1TF_MITIGATION_FULL ||
			     l1tf_mitigation == L1TF_MITIGATION_FULL_FORCE;
	return true;
#endif
}

static void hv_spec_add(bool on, const char *what)
{
	if (!on)
		return;
	if (hv_spec_report[0])
		strlcat(hv_spec_report, " ", sizeof(hv_spec_report));
	strlcat(hv_spec_report, what, sizeof(hv_spec_report));
}

/* The mitigations parameter: the same feature bits the .S files patch on. */
static void hv_spec_describe(void)
{
	bool vmx = hv_spec_vmx;

	hv_spec_add(vmx && (boot_cpu_has(X86_FEATURE_CLEAR_CPU_BUF) ||
			    boot_cpu_has(X86_FEATURE_CLEAR_CPU_BUF_VM)), "verw");
	hv_spec_add(!vmx && boot_cpu_has(X86_FEATURE_CLEAR_CPU_BUF_VM), "verw");
	hv_spec_add(hv_spec_l1d, hv_spec_l1d_always ? "l1d-flush-always" : "l1d-flush-cond");
	hv_spec_add(boot_cpu_has(X86_FEATURE_RSB_VMEXIT), "rsb-fill");
	hv_spec_add(vmx && !boot_cpu_has(X86_FEATURE_RSB_VMEXIT) &&
		    boot_cpu_has(X86_FEATURE_RSB_VMEXIT_LITE), "rsb-one-call");
	hv_spec_add(vmx && boot_cpu_has(X86_FEATURE_KERNEL_IBRS), "ibrs-rewrite");
	hv_spec_add(vmx && boot_cpu_has(X86_FEATURE_CLEAR_BHB_VMEXIT), "bhb-clear");
	hv_spec_add(!vmx && (boot_cpu_has(X86_FEATURE_UNRET) || boot_cpu_has(X86_FEATURE_SRSO_ALIAS)),
		    "untrain-ret");
	hv_spec_add(!vmx && boot_cpu_has(X86_FEATURE_IBPB_ON_VMEXIT), "ibpb-exit");
	hv_spec_add(!vmx && boot_cpu_has_bug(X86_BUG_DIV0), "div0-clear");
	hv_spec_add(hv_spec_use_ibpb() &&
		    (vmx || !boot_cpu_has(X86_FEATURE_IBPB_ON_VMEXIT)), "ibpb-vm-switch");
	hv_spec_add(boot_cpu_has(X86_FEATURE_IBPB_EXIT_TO_USER), "ibpb-to-user");
	hv_spec_add(hv_spec_no_large, "ept-4k");
	if (!hv_spec_report[0])
		strscpy(hv_spec_report, "none", sizeof(hv_spec_report));
}

/*
 * For the selftests (test_nmi): writing a CPU number sends that CPU an NMI
 * by IPI; reading gives how many of them the host's NMI handlers saw.
 * test_nmi sends them while a guest runs there, so they arrive in guest
 * mode, exit, and must still reach the host's handler (vmx_nmi_asm on
 * VMX, the NMI taken at STGI on SVM).  The handler claims only as many
 * NMIs as were sent, so other NMIs keep their meaning.
 */
static atomic_t hv_test_nmi_sent, hv_test_nmi_seen;

static int hv_test_nmi_handler(unsigned int type, struct pt_regs *regs)
{
	if (atomic_read(&hv_test_nmi_seen) >= atomic_read(&hv_test_nmi_sent))
		return NMI_DONE;
	atomic_inc(&hv_test_nmi_seen);
	return NMI_HANDLED;
}

static int hv_test_nmi_set(const char *val, const struct kernel_param *kp)
{
	int cpu, err = kstrtoint(val, 0, &cpu);

	if (err)
		return err;
	if (cpu < 0 || cpu >= nr_cpu_ids || !cpu_online(cpu))
		return -EINVAL;
	atomic_inc(&hv_test_nmi_sent);
	apic->send_IPI(cpu, NMI_VECTOR);
	return 0;
}

static int hv_test_nmi_get(char *buf, const struct kernel_param *kp)
{
	return scnprintf(buf, PAGE_SIZE, "%d\n", atomic_read(&hv_test_nmi_seen));
}

static const struct kernel_param_ops hv_test_nmi_ops = {
	.set = hv_test_nmi_set,
	.get = hv_test_nmi_get,
};
module_param_cb(test_nmi_cpu, &hv_test_nmi_ops, NULL, 0600);
MODULE_PARM_DESC(test_nmi_cpu, "testing: write a CPU to send it an NMI; read: NMIs seen");

/*
 * Module load.  A FRED host delivers the NMIs a VM exit consumes through
 * fred_entry_from_kvm() in KVM; hvlab's VMX path calls the IDT-style NMI
 * entry instead (vmx/vmx_run.S), which a FRED kernel does not expect, so
 * hvlab does not load there.  Neither Debian kernel we build for has
 * CONFIG_X86_FRED (6.1 predates it, 6.12 leaves it off), so there
 * cpu_feature_enabled() folds this to nothing.
 */
static void hv_spec_free_l1d_buf(void)
{
	if (hv_spec_l1d_buf)
		free_pages((unsigned long)hv_spec_l1d_buf, HV_L1D_BUF_ORDER);
	hv_spec_l1d_buf = NULL;
}

int hv_spec_init(bool vmx)
{
	int err;

#ifdef X86_FEATURE_FRED
	if (cpu_feature_enabled(X86_FEATURE_FRED)) {
		pr_err("FRED is on: hvlab cannot hand guest-mode NMIs to the host's FRED handler from a module, not loading\n");
		return -EOPNOTSUPP;
	}
#endif
	hv_spec_vmx = vmx;
	hv_spec_no_large = vmx && boot_cpu_has_bug(X86_BUG_ITLB_MULTIHIT) &&
			   !cpu_mitigations_off();
	hv_spec_l1d = hv_spec_want_l1d();
	if (hv_spec_l1d && !boot_cpu_has(X86_FEATURE_FLUSH_L1D)) {
		struct page *page = alloc_pages(GFP_KERNEL, HV_L1D_BUF_ORDER);
		unsigned int i;

		if (!page)
			return -ENOMEM;
		hv_spec_l1d_buf = page_address(page);
		/*
		 * Distinct contents per page, so that same-page merging in a
		 * hypervisor below cannot fold them into one page (KVM does
		 * the same).
		 */
		for (i = 0; i < (1 << HV_L1D_BUF_ORDER); i++)
			memset(hv_spec_l1d_buf + i * PAGE_SIZE, i + 1, PAGE_SIZE);
	}
	hv_spec_describe();
	err = register_nmi_handler(NMI_LOCAL, hv_test_nmi_handler, 0, "hvlab_test");
	if (err)
		goto err_l1d_buf;
	return 0;

err_l1d_buf:
	hv_spec_free_l1d_buf();
	return err;
}

void hv_spec_exit(void)
{
	unregister_nmi_handler(NMI_LOCAL, "hvlab_test");
	hv_spec_free_l1d_buf();
}
