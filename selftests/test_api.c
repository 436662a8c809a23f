// SPDX-License-Identifier: GPL-2.0
/*
 * test_api.c - the system fd: API version, capabilities, the device node,
 * and HVLAB_CREATE_VM (flags, the max_vms limit).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hvtest.h"

FIXTURE(sys) {
	int fd;
};

FIXTURE_SETUP(sys)
{
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	self->fd = hvlab_open();
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", HVLAB_DEV_PATH,
				      strerror(-self->fd));
}

FIXTURE_TEARDOWN(sys)
{
	hvt_close(&self->fd);
}

TEST_F(sys, device_node)
{
	struct stat st;

	ASSERT_EQ(0, stat(HVLAB_DEV_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	/* Only root may create VMs: the misc device is registered 0600. */
	EXPECT_EQ(0600u, st.st_mode & 07777);
}

TEST_F(sys, api_version)
{
	ASSERT_EQ(HVLAB_API_VERSION, hvlab_api_version(self->fd));
	ASSERT_EQ(1, HVLAB_API_VERSION);
}

TEST_F(sys, vcpu_mmap_size)
{
	ASSERT_EQ(4096, hvlab_vcpu_mmap_size(self->fd));
	/* The run record must fit in what userspace maps. */
	ASSERT_GE(hvlab_vcpu_mmap_size(self->fd), (int)sizeof(struct hvlab_run));
}

TEST_F(sys, cap_vendor_matches_cpuid)
{
	int vendor = hvt_cpu_vendor();

	ASSERT_NE(HVLAB_VENDOR_NONE, vendor) TH_LOG("CPU is neither Intel nor AMD");
	ASSERT_EQ(vendor, hvt_cap(self->fd, HVLAB_CAP_VENDOR));
	TH_LOG("vendor %s", hvt_vendor_name(vendor));
}

/* The limits are the module parameters, which sysfs shows. */
TEST_F(sys, cap_limits_are_module_params)
{
	static const struct {
		unsigned long cap;
		const char *param;
	} limits[] = {
		{ HVLAB_CAP_MAX_VMS,		"max_vms" },
		{ HVLAB_CAP_MAX_VCPUS,		"max_vcpus" },
		{ HVLAB_CAP_MAX_MEM_SLOTS,	"max_slots" },
	};
	unsigned long param;
	unsigned int i;
	int cap;

	for (i = 0; i < ARRAY_SIZE(limits); i++) {
		ASSERT_EQ(0, hvt_module_param(HVT_MODULE, limits[i].param, &param))
			TH_LOG("/sys/module/hvlab/parameters/%s", limits[i].param);
		cap = hvt_cap(self->fd, limits[i].cap);
		EXPECT_EQ((long)param, cap) TH_LOG("%s", limits[i].param);
		EXPECT_LT(0, cap) TH_LOG("%s must allow at least one", limits[i].param);
	}
}

TEST_F(sys, cap_features)
{
	EXPECT_EQ(1, hvt_cap(self->fd, HVLAB_CAP_READONLY_MEM));
	EXPECT_EQ(1, hvt_cap(self->fd, HVLAB_CAP_NESTED_PAGING));
	EXPECT_EQ(1, hvt_cap(self->fd, HVLAB_CAP_UNCACHED_MEM));
}

/*
 * The guest-physical width is the host's, as the kernel sees it (which is
 * what /proc/cpuinfo's "address sizes" prints: CPUID 0x80000008 less any
 * bits memory encryption takes), capped at 48 by the 4-level EPT/NPT.
 */
TEST_F(sys, cap_gpa_bits)
{
	int bits = hvt_cap(self->fd, HVLAB_CAP_MAX_GPA_BITS);
	unsigned int phys = 0, virt;
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "address sizes : %u bits physical, %u bits virtual",
			   &phys, &virt) == 2)
			break;
	fclose(f);
	ASSERT_LT(0u, phys) TH_LOG("no 'address sizes' line in /proc/cpuinfo");
	TH_LOG("MAX_GPA_BITS %d; kernel %u, CPUID %u physical bits", bits,
	       phys, hvt_cpu_phys_bits());
	ASSERT_EQ((int)(phys < 48 ? phys : 48), bits);
}

/*
 * Both backends run guests: RUN must be 1. A backend that lost it would
 * make every run test skip and the suite look green.
 */
TEST_F(sys, cap_run_is_one)
{
	ASSERT_EQ(1, hvt_cap(self->fd, HVLAB_CAP_RUN));
}

/* Unknown capabilities read as 0 so newer userspace can probe. */
TEST_F(sys, cap_unknown_is_zero)
{
	static const unsigned long unknown[] = {
		0, HVLAB_CAP_LAPIC + 1, 9999, 1ul << 32 | HVLAB_CAP_VENDOR, ~0ul,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(unknown); i++) {
		EXPECT_EQ(0, hvt_cap(self->fd, unknown[i]))
			TH_LOG("cap %#lx", unknown[i]);
	}
}

TEST_F(sys, create_vm)
{
	int vm = hvlab_create_vm(self->fd, 0);

	ASSERT_LE(0, vm) TH_LOG("CREATE_VM: %s", strerror(-vm));
	EXPECT_NE(self->fd, vm);
	close(vm);
}

/* Only HVLAB_VM_LAPIC is defined: any other bit, even above bit 31, is refused. */
TEST_F(sys, create_vm_flags_einval)
{
	static const unsigned long flags[] = { 2, 0x80000000ul, 1ul << 32, 1ul << 63,
					       HVLAB_VM_LAPIC | 2 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		EXPECT_EQ(-EINVAL, hvlab_create_vm(self->fd, flags[i]))
			TH_LOG("flags %#lx", flags[i]);
	}
}

/* max_vms VMs may live at once; one more is -ENOSPC until one goes away. */
TEST_F(sys, create_vm_max_vms_enospc)
{
	int max = hvt_cap(self->fd, HVLAB_CAP_MAX_VMS);
	int *vms, i, vm;

	ASSERT_LT(0, max);
	if (max > 512)
		SKIP(return, "max_vms=%d: too many fds for this test", max);
	vms = calloc(max, sizeof(*vms));
	ASSERT_NE(NULL, vms);
	for (i = 0; i < max; i++) {
		vms[i] = hvlab_create_vm(self->fd, 0);
		ASSERT_LE(0, vms[i]) TH_LOG("VM %d of %d: %s", i + 1, max,
					    strerror(-vms[i]));
	}
	ASSERT_EQ(-ENOSPC, hvlab_create_vm(self->fd, 0));
	/* Refusing must not have used up anything. */
	ASSERT_EQ(-ENOSPC, hvlab_create_vm(self->fd, 0));

	close(vms[max / 2]);
	vm = hvlab_create_vm(self->fd, 0);
	ASSERT_LE(0, vm) TH_LOG("after closing one: %s", strerror(-vm));
	ASSERT_EQ(-ENOSPC, hvlab_create_vm(self->fd, 0));
	vms[max / 2] = vm;

	for (i = 0; i < max; i++)
		close(vms[i]);
	free(vms);
}

/* A VM is independent of the /dev/hvlab fd that created it. */
TEST_F(sys, create_vm_from_two_opens)
{
	int fd2 = hvlab_open(), vm1, vm2;

	ASSERT_LE(0, fd2);
	vm1 = hvlab_create_vm(self->fd, 0);
	vm2 = hvlab_create_vm(fd2, 0);
	ASSERT_LE(0, vm1);
	ASSERT_LE(0, vm2);
	close(fd2);
	EXPECT_LE(0, hvlab_create_vcpu(vm2, 0));
	EXPECT_LE(0, hvlab_create_vcpu(vm1, 0));
	close(vm1);
	close(vm2);
}

TEST_HARNESS_MAIN
