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
#include <asm/reboot.h>

#include "hv.h"

static DEFINE_MUTEX(hv_hw_lock);
static unsigned int hv_hw_users;		/* VMs alive; under hv_hw_lock */
static DEFINE_PER_CPU(bool, hv_hw_on);		/* this CPU switched on by us */
static int hv_hw_cpuhp_state;
static bool hv_hw_emergency_registered;		/* under hv_hw_lock */

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
 * Crash kexec and emergency reboot call this on every CPU (possibly from
 * NMI context): a CPU left in VMX operation ignores INIT, so a CPU that
 * stays in VMX root operation can hang the reboot (Intel SDM Vol. 3C
 * 25.8, "Restrictions on VMX Operation").
 */
static void hv_hw_emergency(void)
{
	if (this_cpu_read(hv_hw_on))
		hv_ops->cpu_emergency_disable();
}

/*
 * The kernel keeps ONE emergency callback, and warns if a second one is
 * registered.  KVM takes it too: Debian's 6.1 kvm-intel from module load to
 * unload, 6.12's KVM while it has virtualization on.  KVM's callback turns
 * VMX/SVM off on a CPU whoever enabled it, so while kvm.ko is loaded it
 * covers hvlab as well and hvlab stays out of its way: it registers only
 * when kvm.ko is absent, and steps aside (hv_hw_module_notify) the moment
 * kvm.ko starts loading.  Once registered it stays until unload: the
 * callback checks hv_hw_on itself, and unregistering waits for an RCU grace
 * period, which made every last-VM teardown slow.  Caller holds hv_hw_lock.
 */
static void hv_hw_emergency_register(void)
{
	if (hv_hw_emergency_registered)
		return;
	/* A data symbol of kvm.ko: present exactly while kvm.ko is loaded. */
	if (__symbol_get("kvm_rebooting")) {
		__symbol_put("kvm_rebooting");
		return;
	}
	cpu_emergency_register_virt_callback(hv_hw_emergency);
	hv_hw_emergency_registered = true;
}

static void hv_hw_emergency_unregister(void)
{
	if (!hv_hw_emergency_registered)
		return;
	cpu_emergency_unregister_virt_callback(hv_hw_emergency);
	hv_hw_emergency_registered = false;
}

static int hv_hw_module_notify(struct notifier_block *nb, unsigned long state, void *data)
{
	struct module *mod = data;

	if (state == MODULE_STATE_COMING && !strcmp(mod->name, "kvm")) {
		mutex_lock(&hv_hw_lock);
		hv_hw_emergency_unregister();
		mutex_unlock(&hv_hw_lock);
	}
	return NOTIFY_DONE;
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
		on_each_cpu(hv_hw_enable_ipi, &failed, 1);
		err = atomic_read(&failed);
		if (err) {
			on_each_cpu(hv_hw_disable_ipi, NULL, 1);
			if (err == -EBUSY)
				pr_info("%s is in use by another hypervisor (KVM, VirtualBox, ...); VM not created\n",
					hv_ops->name);
			else
				pr_info("could not enable %s on every CPU (%d); VM not created\n",
					hv_ops->name, err);
			goto out;
		}
		hv_hw_emergency_register();
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
	}
	mutex_unlock(&hv_hw_lock);
	cpus_read_unlock();
}

/* CPU hotplug: runs on @cpu itself, in the hotplug thread. */
static int hv_hw_cpu_online(unsigned int cpu)
{
	int err = 0;

	mutex_lock(&hv_hw_lock);
	if (hv_hw_users) {
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

int hv_hw_init(void)
{
	int ret;

	ret = register_module_notifier(&hv_hw_module_nb);
	if (ret)
		return ret;
	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "hvlab:online",
					hv_hw_cpu_online, hv_hw_cpu_offline);
	if (ret < 0) {
		unregister_module_notifier(&hv_hw_module_nb);
		return ret;
	}
	hv_hw_cpuhp_state = ret;
	return 0;
}

void hv_hw_exit(void)
{
	/* No VM can exist here: every VM fd holds a module reference. */
	WARN_ON_ONCE(hv_hw_users);
	mutex_lock(&hv_hw_lock);
	hv_hw_emergency_unregister();
	mutex_unlock(&hv_hw_lock);
	cpuhp_remove_state_nocalls(hv_hw_cpuhp_state);
	unregister_module_notifier(&hv_hw_module_nb);
}
