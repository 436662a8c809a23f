// SPDX-License-Identifier: GPL-2.0
/*
 * test_hotplug.c - CPU hotplug while VMs exist.  VT-x/SVM is on on every
 * online CPU while any VM exists, so the module must turn it off on a CPU
 * going offline (after moving any vCPU state off it) and on again on a CPU
 * coming online.  vCPU register accesses are made from CPU 1 itself, so
 * per-CPU state (a VMCS loaded there) is exercised on the CPU that changed,
 * and a guest runs there after every return: register accesses alone never
 * execute an SVM instruction, so only a VMRUN/VMLAUNCH on CPU 1 shows that
 * the hardware really was switched back on (and its host-save area or
 * VMXON region set up again) when the CPU came online.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "guest.h"

#define CPU	1

FIXTURE(hotplug) {
	int sys_fd, vm_fd, vcpu_fd;
	bool offlined;
};

FIXTURE_SETUP(hotplug)
{
	int on;

	self->sys_fd = self->vm_fd = self->vcpu_fd = -1;
	if (hvt_cpus_configured() < 2)
		SKIP(return, "only %d CPU: nothing to take offline (run with --smp 2)",
		     hvt_cpus_configured());
	on = hvt_cpu_is_online(CPU);
	if (on < 0)
		SKIP(return, "CPU %d is not hotpluggable: %s", CPU, strerror(-on));
	ASSERT_EQ(1, on) TH_LOG("CPU %d offline before the test", CPU);
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	self->sys_fd = hvlab_open();
	ASSERT_LE(0, self->sys_fd);
}

FIXTURE_TEARDOWN(hotplug)
{
	hvt_close(&self->vcpu_fd);
	hvt_close(&self->vm_fd);
	hvt_close(&self->sys_fd);
	if (self->offlined) {
		EXPECT_EQ(0, hvt_cpu_set_online(CPU, true));
	}
}

#define SKIPPED_IN_SETUP() do { if (_metadata->skip) return; } while (0)

static int cpu_offline(FIXTURE_DATA(hotplug) *self)
{
	int ret = hvt_cpu_set_online(CPU, false);

	if (!ret)
		self->offlined = true;
	return ret;
}

static int cpu_online(FIXTURE_DATA(hotplug) *self)
{
	int ret = hvt_cpu_set_online(CPU, true);

	if (!ret)
		self->offlined = false;
	return ret;
}

/* On @cpu: set a recognisable state, read it back. */
static void use_vcpu_on(struct __test_metadata *_metadata, int vcpu_fd, int cpu,
			uint64_t tag)
{
	struct hvlab_sregs sregs;
	struct hvlab_regs regs;

	ASSERT_EQ(0, hvt_pin_to_cpu(cpu));
	ASSERT_EQ(cpu, sched_getcpu());
	ASSERT_EQ(0, hvlab_get_regs(vcpu_fd, &regs));
	regs.rax = tag;
	ASSERT_EQ(0, hvlab_set_regs(vcpu_fd, &regs));
	ASSERT_EQ(0, hvlab_get_sregs(vcpu_fd, &sregs));
	sregs.cr2 = tag << 12;
	ASSERT_EQ(0, hvlab_set_sregs(vcpu_fd, &sregs));
	memset(&regs, 0, sizeof(regs));
	memset(&sregs, 0, sizeof(sregs));
	ASSERT_EQ(0, hvlab_get_regs(vcpu_fd, &regs));
	ASSERT_EQ(0, hvlab_get_sregs(vcpu_fd, &sregs));
	ASSERT_EQ(tag, regs.rax);
	ASSERT_EQ(tag << 12, sregs.cr2);
}

/* The state written earlier is still there, read from @cpu. */
static void check_vcpu_on(struct __test_metadata *_metadata, int vcpu_fd, int cpu,
			  uint64_t tag)
{
	struct hvlab_sregs sregs;
	struct hvlab_regs regs;

	ASSERT_EQ(0, hvt_pin_to_cpu(cpu));
	ASSERT_EQ(0, hvlab_get_regs(vcpu_fd, &regs));
	ASSERT_EQ(0, hvlab_get_sregs(vcpu_fd, &sregs));
	EXPECT_EQ(tag, regs.rax);
	EXPECT_EQ(tag << 12, sregs.cr2);
}

GUEST_CODE static void guest_sync_twice(uint64_t tag)
{
	GUEST_SYNC(tag);
	GUEST_SYNC(tag + 1);
	GUEST_DONE();
}

/* A guest VM entered and exited three times on @cpu. */
static void run_guest_on(struct __test_metadata *_metadata, int cpu, uint64_t tag)
{
	struct hvt_vcpu *vcpu;
	struct hvt_vm *vm;

	ASSERT_EQ(0, hvt_pin_to_cpu(cpu));
	ASSERT_EQ(0, hvt_vm_create(0, 0, &vm));
	ASSERT_EQ(0, hvt_vcpu_add(vm, 0, &vcpu));
	ASSERT_EQ(0, hvt_vcpu_set_mode(vcpu, HVT_MODE_LONG64));
	ASSERT_EQ(0, hvt_vcpu_enter_c(vcpu, guest_sync_twice, tag, 0));
	HVT_RUN_EXPECT_SYNC(vcpu, tag);
	ASSERT_EQ(cpu, sched_getcpu());
	HVT_RUN_EXPECT_SYNC(vcpu, tag + 1);
	HVT_RUN_EXPECT_DONE(vcpu);
	hvt_vm_free(vm);
}

static void new_vm_and_vcpu(struct __test_metadata *_metadata, int sys_fd, int cpu)
{
	int vm, vcpu;

	ASSERT_EQ(0, hvt_pin_to_cpu(cpu));
	vm = hvlab_create_vm(sys_fd, 0);
	ASSERT_LE(0, vm) TH_LOG("CREATE_VM on CPU %d: %s", cpu, strerror(-vm));
	vcpu = hvlab_create_vcpu(vm, 0);
	ASSERT_LE(0, vcpu) TH_LOG("CREATE_VCPU on CPU %d: %s", cpu, strerror(-vcpu));
	use_vcpu_on(_metadata, vcpu, cpu, 0x77);
	close(vcpu);
	close(vm);
}

/* A VM exists and its vCPU was last used on CPU 1; CPU 1 goes and comes back. */
TEST_F_TIMEOUT(hotplug, offline_online_with_vm, 300)
{
	int ret;

	SKIPPED_IN_SETUP();
	self->vm_fd = hvlab_create_vm(self->sys_fd, 0);
	ASSERT_LE(0, self->vm_fd);
	self->vcpu_fd = hvlab_create_vcpu(self->vm_fd, 0);
	ASSERT_LE(0, self->vcpu_fd);
	use_vcpu_on(_metadata, self->vcpu_fd, CPU, 0x11);
	ASSERT_EQ(0, hvt_pin_to_cpu(0));

	ret = cpu_offline(self);
	ASSERT_EQ(0, ret) TH_LOG("offline CPU %d: %s", CPU, strerror(-ret));
	ASSERT_EQ(0, hvt_cpu_is_online(CPU));
	/* The vCPU's state survived leaving CPU 1; the module still works. */
	check_vcpu_on(_metadata, self->vcpu_fd, 0, 0x11);
	new_vm_and_vcpu(_metadata, self->sys_fd, 0);

	ret = cpu_online(self);
	ASSERT_EQ(0, ret) TH_LOG("online CPU %d: %s", CPU, strerror(-ret));
	ASSERT_EQ(1, hvt_cpu_is_online(CPU));
	check_vcpu_on(_metadata, self->vcpu_fd, CPU, 0x11);
	use_vcpu_on(_metadata, self->vcpu_fd, CPU, 0x22);
	new_vm_and_vcpu(_metadata, self->sys_fd, CPU);
	new_vm_and_vcpu(_metadata, self->sys_fd, 0);
	run_guest_on(_metadata, CPU, 0x100);
	run_guest_on(_metadata, 0, 0x200);
}

/* CPU 1 is offline when the first VM turns the hardware on, then comes up. */
TEST_F_TIMEOUT(hotplug, online_after_vm_creation, 300)
{
	int ret;

	SKIPPED_IN_SETUP();
	ASSERT_EQ(0, hvt_pin_to_cpu(0));
	ret = cpu_offline(self);
	ASSERT_EQ(0, ret) TH_LOG("offline CPU %d: %s", CPU, strerror(-ret));
	self->vm_fd = hvlab_create_vm(self->sys_fd, 0);
	ASSERT_LE(0, self->vm_fd);
	self->vcpu_fd = hvlab_create_vcpu(self->vm_fd, 0);
	ASSERT_LE(0, self->vcpu_fd);
	use_vcpu_on(_metadata, self->vcpu_fd, 0, 0x33);

	ret = cpu_online(self);
	ASSERT_EQ(0, ret) TH_LOG("online CPU %d: %s", CPU, strerror(-ret));
	check_vcpu_on(_metadata, self->vcpu_fd, CPU, 0x33);
	use_vcpu_on(_metadata, self->vcpu_fd, CPU, 0x44);
	new_vm_and_vcpu(_metadata, self->sys_fd, CPU);
	/* Off and on again with the vCPU last used there. */
	ASSERT_EQ(0, hvt_pin_to_cpu(0));
	ASSERT_EQ(0, cpu_offline(self));
	ASSERT_EQ(0, cpu_online(self));
	check_vcpu_on(_metadata, self->vcpu_fd, CPU, 0x44);
	run_guest_on(_metadata, CPU, 0x300);
}

/* No VM while CPU 1 cycles: later VMs use both CPUs. */
TEST_F_TIMEOUT(hotplug, cycle_without_vm, 300)
{
	SKIPPED_IN_SETUP();
	ASSERT_EQ(0, hvt_pin_to_cpu(0));
	ASSERT_EQ(0, cpu_offline(self));
	ASSERT_EQ(0, cpu_online(self));
	new_vm_and_vcpu(_metadata, self->sys_fd, CPU);
	new_vm_and_vcpu(_metadata, self->sys_fd, 0);
	run_guest_on(_metadata, CPU, 0x400);
}

TEST_HARNESS_MAIN
