// SPDX-License-Identifier: GPL-2.0
/*
 * hw.c - switch VT-x/SVM on every online CPU while at least one VM exists.
 *
 * hvlab holds the virtualization extension only while it has VMs, so it can
 * stay loaded beside KVM or VirtualBox.  The first VM turns it on on every
 * online CPU; if any CPU refuses (another hypervisor owns it), the CPUs
 * already switched on are switched off again, so a failed attempt leaves
 * every CPU as it was.  CPUs that come online later follow the current
 * state through a CPU-hotplug callback.
 *
 * Power transitions, the way KVM handles them (virt/kvm/kvm_main.c):
 *  - suspend and hibernation take the secondary CPUs offline and back
 *    through the hotplug callbacks; the boot CPU, last one standing, is
 *    switched off in a syscore suspend hook and on again in its resume
 *    hook (KVM: kvm_suspend/kvm_resume).  A CPU that wakes from S3 has
 *    been reset: VMX operation, CR4.VMXE, EFER.SVME and VM_HSAVE_PA are
 *    gone, so resume must redo the enable, not trust the old state;
 *  - reboot, halt, power-off and kexec switch every CPU off in a syscore
 *    shutdown hook (KVM: kvm_shutdown on 6.12, the kvm_reboot notifier on
 *    6.1): a CPU left in VMX root operation blocks INIT (Intel SDM Vol. 3C
 *    24.8 "Restrictions on VMX Operation"), which firmware and the next
 *    kernel use to restart CPUs;
 *  - crash kexec and emergency reboot run the kernel's one emergency
 *    callback on every CPU (see hv_hw_emergency_register below); from
 *    7.0 the kernel itself turns VMX/SVM off there, whoever turned it on
 *    (HV_CORE_VIRT_OFF in compat.h).
 *
 * Lock order: cpus_read_lock() -> hv_hw_lock.  The hotplug callbacks run
 * with the hotplug lock held for writing and take only hv_hw_lock.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/percpu.h>
#include <linux/smp.h>
#include <linux/syscore_ops.h>
#include <linux/version.h>
#include <asm/reboot.h>

#include "hv.h"

static DEFINE_MUTEX(hv_hw_lock);
static unsigned int hv_hw_users;		/* VMs alive; under hv_hw_lock */
static DEFINE_PER_CPU(bool, hv_hw_on);		/* this CPU switched on by us */
static int hv_hw_cpuhp_state;
static bool hv_hw_emergency_registered;		/* under hv_hw_lock */
/* Reboot/halt/power-off switched every CPU off for good; under hv_hw_lock. */
static bool hv_hw_shut_down;
/* The boot CPU was on when the system suspended (syscore, one CPU). */
static bool hv_hw_resume_on;

/*
 * For the selftests: the CPU that refuses as if another hypervisor held
 * it, so the rollback below runs on a machine where nobody else does
 * (test_kvm_coexist checks every CPU is left as it was).  -1: none.
 */
static int hv_fail_enable_cpu = -1;
module_param_named(fail_enable_cpu, hv_fail_enable_cpu, int, 0644);
MODULE_PARM_DESC(fail_enable_cpu, "testing: enabling VT-x/SVM on this CPU fails with -EBUSY (-1: off)");

/* Called with interrupts off, on the CPU itself. */
static int hv_hw_enable_this_cpu(void)
{
	int err;

	if (__this_cpu_read(hv_hw_on))
		return 0;
	if (READ_ONCE(hv_fail_enable_cpu) == smp_processor_id())
		return -EBUSY;
	err = hv_ops->cpu_enable();
	if (!err)
		__this_cpu_write(hv_hw_on, true);
	return err;
}

static void hv_hw_disable_this_cpu(void)
{
	if (!__this_cpu_read(hv_hw_on))
		return;
	hv_ops->cpu_disable();
	__this_cpu_write(hv_hw_on, false);
}

static void hv_hw_enable_ipi(void *data)
{
	atomic_t *failed = data;
	int err = hv_hw_enable_this_cpu();

	/* Keep the first error; the others are almost always the same. */
	if (err)
		atomic_cmpxchg(failed, 0, err);
}

static void hv_hw_disable_ipi(void *unused)
{
	hv_hw_disable_this_cpu();
}

/*
 * The kernel keeps ONE emergency callback (cpu_emergency_register_virt_callback,
 * arch/x86/kernel/reboot.c), and WARNs when a second one is registered or
 * when a callback that is not the current one is unregistered.  KVM takes
 * it too, at different moments on the two kernels we build for:
 *  - Debian's 6.1: kvm-intel from module load to unload (vmx_init and
 *    __vmx_exit register/unregister vmx_emergency_disable); kvm-amd never,
 *    because 6.1's cpu_emergency_disable_virtualization() turns SVM off by
 *    itself after the callback (cpu_emergency_svm_disable).
 *  - 6.12: kvm-intel and kvm-amd while KVM has virtualization on
 *    (kvm_arch_enable_virtualization/kvm_arch_disable_virtualization, at
 *    the 0->1 and 1->0 steps of kvm_usage_count): from module load with
 *    kvm.enable_virt_at_load=1, otherwise while KVM has VMs.  KVM registers
 *    before it switches the CPUs on, and while it holds the callback every
 *    online CPU has VMX/SVM on.
 * KVM's callbacks switch VMX/SVM off on a CPU whoever switched it on, so
 * while KVM holds the slot it covers hvlab too (without VMCLEARing hvlab's
 * VMCSs: a crash dump may then miss their last data, nothing worse).
 *
 * hvlab's rule: while it has VT-x/SVM on anywhere, the slot holds a
 * callback that covers it: its own, registered before the first CPU is
 * switched on, or KVM's.  And hvlab never registers while KVM's is there:
 *  - 6.1 with kvm-intel loaded: KVM's is there; hvlab does not register,
 *    and holds a reference on kvm-intel while it has VMs, so rmmod cannot
 *    take KVM's callback away under it;
 *  - 6.12: KVM's is there only while KVM holds the CPUs, and then this
 *    CPU says so (cpu_in_use) and hvlab's attempt fails with -EBUSY
 *    before it registers;
 *  - a KVM module that registers at load (6.1's kvm-intel; 6.12's
 *    kvm-intel/kvm-amd, which do with enable_virt_at_load=1 and may at
 *    their first VM otherwise) is refused by hv_hw_module_notify while
 *    hvlab has VMs, and finds the slot empty otherwise: hvlab steps aside
 *    when one is loading, and after its own last VM while one is loaded.
 * Without such a KVM module the callback stays registered from the first
 * VM until unload: unregistering waits for an RCU grace period, which made
 * every last-VM teardown slow.
 * What is left, on 6.12 with kvm-intel/kvm-amd loaded but idle: KVM asking
 * for the hardware (its first VM) while hvlab has VMs registers KVM's
 * callback over hvlab's, and the kernel WARNs once, from KVM's call; KVM's
 * attempt then fails with -EBUSY anyway.  No exported interface lets a
 * module see or order that.
 */
#if HV_CORE_VIRT_OFF
/*
 * 7.0 and later: arch/x86/virt/hw.c owns the emergency path.  Its
 * x86_virt_emergency_disable_virtualization_cpu() runs KVM's callback
 * (which VMCLEARs KVM's own VMCSs) and then does VMXOFF if CR4.VMXE is
 * set, or clears EFER.SVME if it is set, on every CPU: hvlab's CPUs are
 * covered without a callback of ours.  The callback slot is exported to
 * KVM's modules only (EXPORT_SYMBOL_FOR_KVM) and hvlab needs none of it.
 */
static const char * const hv_kvm_callback_modules[] = { };
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
static const char * const hv_kvm_callback_modules[] = { "kvm_intel", "kvm_amd" };
#else
static const char * const hv_kvm_callback_modules[] = { "kvm_intel" };
#endif

static bool hv_hw_is_kvm_callback_module(const char *name)
{
	int i;

	for (i = 0; i < (int)ARRAY_SIZE(hv_kvm_callback_modules); i++)
		if (!strcmp(name, hv_kvm_callback_modules[i]))
			return true;
	return false;
}

/* 6.1: kvm-intel, whose callback covers hvlab's VMs; under hv_hw_lock. */
static struct module *hv_hw_kvm_pinned;

/*
 * Is one of those modules loaded?  Every module has its kobject in the
 * kset of /sys/module, which our own module's kobject belongs to.  With
 * @pin, also take a reference on the (first) one found: 0, or -EBUSY
 * when it is on its way out.  A module's kobject reference keeps its
 * struct module alive (module teardown waits for the last one).
 */
static bool hv_hw_kvm_callback_module_loaded(struct module **pin, int *err)
{
	struct kset *modules = THIS_MODULE->mkobj.kobj.kset;
	struct kobject *kobj;
	int i;

	for (i = 0; i < (int)ARRAY_SIZE(hv_kvm_callback_modules); i++) {
		kobj = kset_find_obj(modules, hv_kvm_callback_modules[i]);
		if (!kobj)
			continue;
		if (pin) {
			*pin = container_of(kobj, struct module_kobject, kobj)->mod;
			*err = try_module_get(*pin) ? 0 : -EBUSY;
			if (*err)
				*pin = NULL;
		}
		kobject_put(kobj);
		return true;
	}
	return false;
}

#if !HV_CORE_VIRT_OFF
/*
 * Crash kexec and emergency reboot call this on every CPU (possibly from
 * NMI context): a CPU left in VMX operation ignores INIT (SDM Vol. 3C
 * 24.8 "Restrictions on VMX Operation"), so it could hang the reboot.
 */
static void hv_hw_emergency(void)
{
	if (this_cpu_read(hv_hw_on))
		hv_ops->cpu_emergency_disable();
}
#endif

/*
 * Before the first CPU is switched on; caller holds hv_hw_lock.  -EBUSY
 * when another hypervisor holds the hardware (and, on 6.12, maybe the
 * callback): the enable would fail anyway.
 */
static int hv_hw_emergency_register(void)
{
	bool in_use;
	int err;

	if (hv_hw_emergency_registered || HV_CORE_VIRT_OFF)
		return 0;
	if (LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)) {
		/* 6.1: kvm-intel's callback is there while it is loaded. */
		if (hv_hw_kvm_callback_module_loaded(&hv_hw_kvm_pinned, &err))
			return err;
	} else if (hv_hw_kvm_callback_module_loaded(NULL, NULL)) {
		/* KVM switches every online CPU on: any one of them tells. */
		preempt_disable();
		in_use = hv_ops->cpu_in_use();
		preempt_enable();
		if (in_use)
			return -EBUSY;
	}
#if !HV_CORE_VIRT_OFF
	cpu_emergency_register_virt_callback(hv_hw_emergency);
	hv_hw_emergency_registered = true;
#endif
	return 0;
}

static void hv_hw_emergency_unregister(void)
{
	if (!hv_hw_emergency_registered)
		return;
#if !HV_CORE_VIRT_OFF
	cpu_emergency_unregister_virt_callback(hv_hw_emergency);
#endif
	hv_hw_emergency_registered = false;
}

/*
 * After the last CPU is switched off: let go of kvm-intel (6.1), or step
 * aside if a KVM module that may register is loaded.
 */
static void hv_hw_emergency_release(void)
{
	if (hv_hw_kvm_pinned) {
		module_put(hv_hw_kvm_pinned);
		hv_hw_kvm_pinned = NULL;
	}
	if (hv_hw_kvm_callback_module_loaded(NULL, NULL))
		hv_hw_emergency_unregister();
}

static int hv_hw_module_notify(struct notifier_block *nb, unsigned long state, void *data)
{
	struct module *mod = data;
	int ret = NOTIFY_DONE;

	if (state != MODULE_STATE_COMING || !hv_hw_is_kvm_callback_module(mod->name))
		return NOTIFY_DONE;
	mutex_lock(&hv_hw_lock);
	if (hv_hw_users && hv_hw_emergency_registered) {
		/* A COMING notifier's error fails the load (prepare_coming_module). */
		pr_info("%s not loaded: it would register its emergency-reboot callback over hvlab's while hvlab has VMs; close them first\n",
			mod->name);
		ret = notifier_from_errno(-EBUSY);
	} else {
		hv_hw_emergency_unregister();
	}
	mutex_unlock(&hv_hw_lock);
	return ret;
}

static struct notifier_block hv_hw_module_nb = {
	.notifier_call = hv_hw_module_notify,
};

int hv_hw_get(void)
{
	atomic_t failed = ATOMIC_INIT(0);
	int err = 0;

	cpus_read_lock();
	mutex_lock(&hv_hw_lock);
	if (hv_hw_users == 0) {
		if (hv_hw_shut_down) {
			err = -ESHUTDOWN;	/* the system is going down */
			goto out;
		}
		/* The callback first: no moment with a CPU on and uncovered. */
		err = hv_hw_emergency_register();
		if (!err) {
			on_each_cpu(hv_hw_enable_ipi, &failed, 1);
			err = atomic_read(&failed);
			if (err) {
				on_each_cpu(hv_hw_disable_ipi, NULL, 1);
				hv_hw_emergency_release();
			}
		}
		if (err) {
			if (err == -EBUSY)
				pr_info("%s is in use by another hypervisor (KVM, VirtualBox, ...); VM not created\n",
					hv_ops->name);
			else
				pr_info("could not enable %s on every CPU (%d); VM not created\n",
					hv_ops->name, err);
			goto out;
		}
	}
	hv_hw_users++;
out:
	mutex_unlock(&hv_hw_lock);
	cpus_read_unlock();
	return err;
}

void hv_hw_put(void)
{
	cpus_read_lock();
	mutex_lock(&hv_hw_lock);
	if (!WARN_ON_ONCE(hv_hw_users == 0) && --hv_hw_users == 0) {
		on_each_cpu(hv_hw_disable_ipi, NULL, 1);
		hv_hw_emergency_release();
	}
	mutex_unlock(&hv_hw_lock);
	cpus_read_unlock();
}

bool hv_hw_cpu_on(void)
{
	return __this_cpu_read(hv_hw_on);
}

/* CPU hotplug: runs on @cpu itself, in the hotplug thread. */
static int hv_hw_cpu_online(unsigned int cpu)
{
	int err = 0;

	mutex_lock(&hv_hw_lock);
	if (hv_hw_users && !hv_hw_shut_down) {
		local_irq_disable();
		err = hv_hw_enable_this_cpu();
		local_irq_enable();
		if (err)
			pr_info("CPU %u: could not enable %s (%d); CPU stays offline\n",
				cpu, hv_ops->name, err);
	}
	mutex_unlock(&hv_hw_lock);
	return err;
}

static int hv_hw_cpu_offline(unsigned int cpu)
{
	mutex_lock(&hv_hw_lock);
	local_irq_disable();
	hv_hw_disable_this_cpu();
	local_irq_enable();
	mutex_unlock(&hv_hw_lock);
	return 0;
}

/*
 * Suspend and hibernation, on the boot CPU, the only one still online,
 * with interrupts off and every task frozen (so no vCPU is in RUN, and
 * hv_hw_users cannot change: VM fds are created and closed by tasks).
 * The other CPUs went through hv_hw_cpu_offline already.  The VMX backend
 * VMCLEARs the VMCSs active here, so the next run of each is a VMPTRLD and
 * VMLAUNCH on whichever CPU (vmx_cpu_disable).  KVM: kvm_suspend.
 */
static int hv_hw_suspend(void)
{
	hv_hw_resume_on = __this_cpu_read(hv_hw_on);
	hv_hw_disable_this_cpu();
	return 0;
}

/*
 * Same context, after the wake-up (a real S3 reset the CPU; a pm_test or
 * an aborted suspend did not, which is why suspend switched it off
 * cleanly instead of counting on the reset).  KVM: kvm_resume.  The
 * other CPUs come back through hv_hw_cpu_online after this.
 */
static void hv_hw_resume(void)
{
	int err;

	if (!hv_hw_resume_on)
		return;
	hv_hw_resume_on = false;
	err = hv_hw_enable_this_cpu();
	if (err)
		pr_err("CPU %d: could not enable %s after resume (%d); its vCPUs cannot run\n",
		       smp_processor_id(), hv_ops->name, err);
}

/*
 * Reboot, halt, power-off and kexec: every CPU off, for good (KVM: its
 * syscore shutdown hook kvm_shutdown on 6.12, the kvm_reboot notifier on
 * 6.1).  A syscore hook runs after system_state says the system is going
 * down, on the CPU that does it, with every other CPU still online and
 * hotplug disabled.  hv_hw_shut_down keeps hv_hw_get and CPU hotplug from
 * switching anything on again.  A vCPU running meanwhile (reboot -f does
 * not stop tasks) finds its CPU off at its next entry (hv_hw_cpu_on, with
 * interrupts off) and its RUN fails with -ESHUTDOWN.  On VT-x the VMCS
 * accesses between vmx_vcpu_load() and that check can still meet the
 * IPI and #UD; KVM makes such faults harmless once kvm_rebooting is set
 * (kvm_spurious_fault), hvlab has no such fixup yet.
 */
static void hv_hw_shutdown(void)
{
	mutex_lock(&hv_hw_lock);
	hv_hw_shut_down = true;
	on_each_cpu(hv_hw_disable_ipi, NULL, 1);
	/* One line, as KVM's "exiting hardware virtualization" on 6.1. */
	if (hv_hw_users)
		pr_info("system going down: %s off on every CPU, %u VM(s) still open\n",
			hv_ops->name, hv_hw_users);
	mutex_unlock(&hv_hw_lock);
}

#if HV_SYSCORE_DATA
static int hv_hw_syscore_suspend(void *unused)
{
	return hv_hw_suspend();
}

static void hv_hw_syscore_resume(void *unused)
{
	hv_hw_resume();
}

static void hv_hw_syscore_shutdown(void *unused)
{
	hv_hw_shutdown();
}

static const struct syscore_ops hv_hw_syscore_ops = {
	.suspend	= hv_hw_syscore_suspend,
	.resume		= hv_hw_syscore_resume,
	.shutdown	= hv_hw_syscore_shutdown,
};

static struct syscore hv_hw_syscore = { .ops = &hv_hw_syscore_ops };
#define hv_hw_register_syscore()	register_syscore(&hv_hw_syscore)
#define hv_hw_unregister_syscore()	unregister_syscore(&hv_hw_syscore)
#else
static struct syscore_ops hv_hw_syscore_ops = {
	.suspend	= hv_hw_suspend,
	.resume		= hv_hw_resume,
	.shutdown	= hv_hw_shutdown,
};
#define hv_hw_register_syscore()	register_syscore_ops(&hv_hw_syscore_ops)
#define hv_hw_unregister_syscore()	unregister_syscore_ops(&hv_hw_syscore_ops)
#endif

/*
 * Can this kernel switch VMX/SVM off at a crash or emergency reboot for
 * us?  Before 7.0 hvlab registers its own callback for that.  From 7.0
 * only the kernel's own code can (HV_CORE_VIRT_OFF), and only if it was
 * built with KVM for this vendor: without it, a crash kexec would find
 * CPUs in VMX operation, which ignore INIT (SDM Vol. 3C 24.8) - hvlab
 * refuses to load rather than hang the next kernel.
 */
static int hv_hw_check_emergency(void)
{
	if (!HV_CORE_VIRT_OFF)
		return 0;
	if (boot_cpu_has(X86_FEATURE_VMX) && !IS_ENABLED(CONFIG_KVM_INTEL)) {
		pr_err("this kernel was built without KVM for Intel (CONFIG_KVM_INTEL), so it cannot turn VT-x off at a crash or emergency reboot; not loading\n");
		return -EOPNOTSUPP;
	}
	if (boot_cpu_has(X86_FEATURE_SVM) && !IS_ENABLED(CONFIG_KVM_AMD)) {
		pr_err("this kernel was built without KVM for AMD (CONFIG_KVM_AMD), so it cannot turn AMD-V off at a crash or emergency reboot; not loading\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

int hv_hw_init(void)
{
	int ret;

	ret = hv_hw_check_emergency();
	if (ret)
		return ret;
	ret = register_module_notifier(&hv_hw_module_nb);
	if (ret)
		return ret;
	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "hvlab:online",
					hv_hw_cpu_online, hv_hw_cpu_offline);
	if (ret < 0)
		goto err_notifier;
	hv_hw_cpuhp_state = ret;
	hv_hw_register_syscore();
	return 0;

err_notifier:
	unregister_module_notifier(&hv_hw_module_nb);
	return ret;
}

void hv_hw_exit(void)
{
	/* No VM can exist here: every VM fd holds a module reference. */
	WARN_ON_ONCE(hv_hw_users);
	hv_hw_unregister_syscore();
	mutex_lock(&hv_hw_lock);
	hv_hw_emergency_unregister();
	mutex_unlock(&hv_hw_lock);
	cpuhp_remove_state_nocalls(hv_hw_cpuhp_state);
	unregister_module_notifier(&hv_hw_module_nb);
}
