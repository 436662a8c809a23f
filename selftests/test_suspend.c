// SPDX-License-Identifier: GPL-2.0
/*
 * test_suspend.c - a system suspend with VMs open.  Every online CPU has
 * run a vCPU that still exists (on VT-x its VMCS is still active on that
 * CPU); the PC then suspends and resumes, and every vCPU must run again
 * with correct results, on its own CPU and on another one.
 *
 * Which suspend, best first:
 *  - a real S3 ("deep" in /sys/power/mem_sleep, woken by the RTC alarm):
 *    the CPUs are reset as on hardware, so this shows that resume really
 *    brought VT-x/SVM back (the QEMU PC: the rig enables S3 in its ACPI);
 *  - pm_test "core" with S3: the kernel runs every suspend and resume hook
 *    (the boot CPU's syscore suspend/resume included) but keeps the CPUs
 *    powered, so it shows the hooks are safe, not that resume restores;
 *  - pm_test "core" with hibernation, where the PC has no S3 (Bochs).
 * The test prints which one it used.
 *
 * On AMD the hardware state is also read through the msr driver
 * (/dev/cpu/N/msr) before and after: EFER.SVME must be set and
 * VM_HSAVE_PA unchanged (and non-zero) on every CPU, or the next VMRUN
 * would save host state to a stale page (APM Vol. 2 15.30.4).  VT-x has
 * no MSR that tells whether a CPU is in VMX operation; there the RUN
 * after resume is the check: VMX instructions other than VMXON are #UD
 * outside VMX operation (SDM Vol. 3C 31.3), which oopses the host and
 * fails the rig's dmesg check.  Bochs 2.7 offers S3 too and resets the
 * CPU: before this test's fix the first VMWRITE after resume raised #UD
 * there (hvlab still believed the VMCS current, so no VMPTRLD came first).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "guest.h"

#define MAX_CPUS	8
#define MSR_EFER	0xc0000080
#define EFER_SVME	(1ull << 12)
#define MSR_VM_HSAVE_PA	0xc0010117
#define MSR_KO		"/hvlab/kmod/msr.ko"

/* Each vCPU counts up from its tag, one ucall per RUN, forever. */
GUEST_CODE static void guest_count(uint64_t tag)
{
	for (;;)
		GUEST_SYNC(tag++);
}

FIXTURE(suspend) {
	int ncpus;
	struct hvt_vm *vm[MAX_CPUS];
	struct hvt_vcpu *vcpu[MAX_CPUS];
	uint64_t next[MAX_CPUS];	/* the value each vCPU syncs next */
	bool pm_test_set;
};

FIXTURE_SETUP(suspend)
{
	int i, ret;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	HVT_REQUIRE_RUN();
	self->ncpus = hvt_cpus_online();
	ASSERT_LT(0, self->ncpus);
	if (self->ncpus > MAX_CPUS)
		self->ncpus = MAX_CPUS;
	for (i = 0; i < self->ncpus; i++) {
		ret = hvt_vm_create(0, 0, &self->vm[i]);
		ASSERT_EQ(0, ret) TH_LOG("VM %d: %s", i, strerror(-ret));
		ret = hvt_vcpu_add(self->vm[i], 0, &self->vcpu[i]);
		ASSERT_EQ(0, ret) TH_LOG("vCPU of VM %d: %s", i, strerror(-ret));
		ASSERT_EQ(0, hvt_vcpu_set_mode(self->vcpu[i], HVT_MODE_LONG64));
		self->next[i] = 0x1000ull * (i + 1);
		ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu[i], guest_count, self->next[i], 0));
	}
}

FIXTURE_TEARDOWN(suspend)
{
	int i;

	if (self->pm_test_set)
		hvt_write_str("/sys/power/pm_test", "none");
	for (i = 0; i < MAX_CPUS; i++)
		hvt_vm_free(self->vm[i]);
}

/* Run vCPU @i once on @cpu: it must sync the next value of its count. */
static void run_on(struct __test_metadata *_metadata, FIXTURE_DATA(suspend) *self,
		   int i, int cpu)
{
	ASSERT_EQ(0, hvt_pin_to_cpu(cpu));
	HVT_RUN_EXPECT_SYNC(self->vcpu[i], self->next[i]);
	ASSERT_EQ(cpu, sched_getcpu());
	self->next[i]++;
}

static int msr_read(int cpu, uint32_t index, uint64_t *val)
{
	char path[64];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/dev/cpu/%d/msr", cpu);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread(fd, val, sizeof(*val), index) != sizeof(*val))
		ret = errno ? -errno : -EIO;
	close(fd);
	return ret;
}

/* The msr driver: a module in Debian's kernels, shipped by the rig. */
static bool have_msr_driver(void)
{
	if (access("/dev/cpu/0/msr", R_OK))
		hvt_module_load(MSR_KO, NULL);
	return !access("/dev/cpu/0/msr", R_OK);
}

/* AMD: EFER.SVME and VM_HSAVE_PA of every CPU, with SVM on (VMs exist). */
static void read_svm_state(struct __test_metadata *_metadata, int ncpus, uint64_t *hsave)
{
	uint64_t efer;
	int cpu, ret;

	for (cpu = 0; cpu < ncpus; cpu++) {
		ret = msr_read(cpu, MSR_EFER, &efer);
		ASSERT_EQ(0, ret) TH_LOG("CPU %d: read EFER: %s", cpu, strerror(-ret));
		EXPECT_TRUE(efer & EFER_SVME) TH_LOG("CPU %d: EFER %#llx without SVME while VMs exist",
						     cpu, (unsigned long long)efer);
		ret = msr_read(cpu, MSR_VM_HSAVE_PA, &hsave[cpu]);
		ASSERT_EQ(0, ret) TH_LOG("CPU %d: read VM_HSAVE_PA: %s", cpu, strerror(-ret));
		EXPECT_NE(0ull, hsave[cpu]) TH_LOG("CPU %d: VM_HSAVE_PA is 0: VMRUN would save host state to page 0",
						   cpu);
	}
}

static bool word_in_file(const char *path, const char *word)
{
	char buf[256], *p, *save = NULL;

	if (hvt_read_str(path, buf, sizeof(buf)))
		return false;
	for (p = strtok_r(buf, " \n", &save); p; p = strtok_r(NULL, " \n", &save)) {
		/* mem_sleep marks the current mode as "[deep]" */
		if (*p == '[')
			p++;
		if (!strncmp(p, word, strlen(word)) && (!p[strlen(word)] || p[strlen(word)] == ']'))
			return true;
	}
	return false;
}

/*
 * Suspend and resume once, the best way this PC offers.  Returns 0 and
 * names the way in @how, or -errno from the write that failed; -EOPNOTSUPP
 * when none is available.
 */
static int suspend_resume(FIXTURE_DATA(suspend) *self, const char **how)
{
	bool s3 = word_in_file("/sys/power/state", "mem") &&
		  word_in_file("/sys/power/mem_sleep", "deep");
	int ret;

	if (s3 && !access("/sys/class/rtc/rtc0/wakealarm", W_OK) &&
	    !hvt_write_str("/sys/power/mem_sleep", "deep")) {
		*how = "real S3, woken by the RTC alarm";
		ret = hvt_write_str("/sys/class/rtc/rtc0/wakealarm", "0");
		ret = ret ?: hvt_write_str("/sys/class/rtc/rtc0/wakealarm", "+3");
		return ret ?: hvt_write_str("/sys/power/state", "mem");
	}
	if (access("/sys/power/pm_test", W_OK))
		return -EOPNOTSUPP;
	if (s3) {
		*how = "pm_test core, S3 (CPUs keep their state)";
	} else if (word_in_file("/sys/power/state", "disk")) {
		*how = "pm_test core, hibernation (no S3 in this PC; CPUs keep their state)";
	} else {
		return -EOPNOTSUPP;
	}
	ret = hvt_write_str("/sys/power/pm_test", "core");
	if (ret)
		return ret;
	self->pm_test_set = true;
	ret = hvt_write_str("/sys/power/state", s3 ? "mem" : "disk");
	hvt_write_str("/sys/power/pm_test", "none");
	self->pm_test_set = false;
	return ret;
}

TEST_F_TIMEOUT(suspend, vms_survive_suspend, 300)
{
	uint64_t hsave_before[MAX_CPUS], hsave_after[MAX_CPUS];
	bool amd = hvt_cpu_vendor() == HVLAB_VENDOR_AMD, msr = false;
	const char *how = "";
	int i, cpu, ret;

	HVT_SKIPPED_IN_SETUP();
	/* Every CPU runs a vCPU, which stays loaded there (VMX: VMCS active). */
	for (i = 0; i < self->ncpus; i++)
		run_on(_metadata, self, i, i);
	if (amd) {
		msr = have_msr_driver();
		if (msr)
			read_svm_state(_metadata, self->ncpus, hsave_before);
		else
			TH_LOG("no msr driver (%s): SVM state not read", MSR_KO);
	}

	ret = suspend_resume(self, &how);
	if (ret == -EOPNOTSUPP)
		SKIP(return, "this PC offers neither S3, pm_test nor hibernation");
	ASSERT_EQ(0, ret) TH_LOG("suspend (%s): %s", how, strerror(-ret));
	TH_LOG("suspend: %s, %d CPU(s)", how, self->ncpus);

	if (msr) {
		read_svm_state(_metadata, self->ncpus, hsave_after);
		for (cpu = 0; cpu < self->ncpus; cpu++) {
			EXPECT_EQ(hsave_before[cpu], hsave_after[cpu])
				TH_LOG("CPU %d: VM_HSAVE_PA %#llx before the suspend, %#llx after",
				       cpu, (unsigned long long)hsave_before[cpu],
				       (unsigned long long)hsave_after[cpu]);
		}
	}
	/* The same vCPUs go on counting: first where they ran, then moved. */
	for (i = 0; i < self->ncpus; i++)
		run_on(_metadata, self, i, i);
	for (i = 0; i < self->ncpus; i++)
		run_on(_metadata, self, i, (i + 1) % self->ncpus);
	/* And a VM made after the resume runs too. */
	for (cpu = 0; cpu < self->ncpus; cpu++) {
		struct hvt_vcpu *vcpu;
		struct hvt_vm *vm;

		ASSERT_EQ(0, hvt_pin_to_cpu(cpu));
		ASSERT_EQ(0, hvt_vm_create(0, 0, &vm));
		ASSERT_EQ(0, hvt_vcpu_add(vm, 0, &vcpu));
		ASSERT_EQ(0, hvt_vcpu_set_mode(vcpu, HVT_MODE_LONG64));
		ASSERT_EQ(0, hvt_vcpu_enter_c(vcpu, guest_count, 0x77, 0));
		HVT_RUN_EXPECT_SYNC(vcpu, 0x77);
		hvt_vm_free(vm);
	}
}

TEST_HARNESS_MAIN
