// SPDX-License-Identifier: GPL-2.0
/*
 * test_module.c - loading and unloading hvlab.ko: refused while anything
 * of ours is open or mapped, 50 load/use/unload rounds, the module
 * parameters (max_vms, max_vcpus, max_slots) taking effect, and the QEMU
 * workarounds in force matching the emulator (tcg_workarounds).
 *
 * Uses finit_module/delete_module on $HVLAB_KO (default /hvlab/hvlab.ko)
 * and always leaves the module loaded with default parameters.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hvtest.h"

#define DEF_MAX_VMS	64
#define DEF_MAX_VCPUS	16
#define DEF_MAX_SLOTS	32

FIXTURE(mod) {
	int unused;
};

FIXTURE_SETUP(mod)
{
	if (access(hvt_ko_path(), R_OK))
		SKIP(return, "%s: %s", hvt_ko_path(), strerror(errno));
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	/* Everyone else's hvlab files are closed, or nothing here can pass. */
	ASSERT_EQ(0, hvt_module_refcnt(HVT_MODULE))
		TH_LOG("someone holds /dev/hvlab or a VM open");
}

FIXTURE_TEARDOWN(mod)
{
	/* Leave hvlab loaded with default parameters for the next test. */
	if (!_metadata->skip) {
		EXPECT_EQ(0, hvt_hvlab_reload(""));
	}
}

/* SKIP() in a 6.1 harness FIXTURE_SETUP does not stop the test body. */
#define SKIPPED_IN_SETUP() do { if (_metadata->skip) return; } while (0)

/* An unload refused while something is in use: -EBUSY or -EAGAIN. */
#define ASSERT_UNLOAD_REFUSED() do {					\
	int __r = hvt_module_unload(HVT_MODULE);			\
	ASSERT_TRUE(__r == -EBUSY || __r == -EAGAIN)			\
		TH_LOG("delete_module: %d (%s)", __r, strerror(-__r));	\
	ASSERT_EQ(1, hvt_module_loaded(HVT_MODULE));			\
} while (0)

TEST_F(mod, unload_refused_sys_fd)
{
	int fd;

	SKIPPED_IN_SETUP();
	fd = hvlab_open();
	ASSERT_LE(0, fd);
	ASSERT_UNLOAD_REFUSED();
	/* And the device still works after the refusal. */
	ASSERT_EQ(HVLAB_API_VERSION, hvlab_api_version(fd));
	close(fd);
	ASSERT_EQ(0, hvt_module_unload(HVT_MODULE));
	ASSERT_EQ(0, hvt_module_loaded(HVT_MODULE));
}

TEST_F(mod, unload_refused_vm_fd)
{
	int sys, vm, vcpu;

	SKIPPED_IN_SETUP();
	vm = hvt_open_vm(&sys);
	ASSERT_LE(0, vm);
	close(sys);
	ASSERT_UNLOAD_REFUSED();
	vcpu = hvlab_create_vcpu(vm, 0);
	ASSERT_LE(0, vcpu);
	close(vm);
	ASSERT_UNLOAD_REFUSED();	/* the vCPU fd still holds the VM */
	close(vcpu);
	ASSERT_EQ(0, hvt_module_unload(HVT_MODULE));
}

TEST_F(mod, unload_refused_vcpu_fd)
{
	struct hvlab_regs regs;
	int sys, vm, vcpu;

	SKIPPED_IN_SETUP();
	vm = hvt_open_vm(&sys);
	ASSERT_LE(0, vm);
	vcpu = hvlab_create_vcpu(vm, 0);
	ASSERT_LE(0, vcpu);
	close(vm);
	close(sys);
	ASSERT_UNLOAD_REFUSED();
	ASSERT_EQ(0, hvlab_get_regs(vcpu, &regs));
	close(vcpu);
	ASSERT_EQ(0, hvt_module_unload(HVT_MODULE));
}

/* No fd left, only a mapping of a run page: still in use. */
TEST_F(mod, unload_refused_run_page_mapped)
{
	struct hvlab_run *run;
	int sys, vm, vcpu;

	SKIPPED_IN_SETUP();
	vm = hvt_open_vm(&sys);
	ASSERT_LE(0, vm);
	vcpu = hvlab_create_vcpu(vm, 0);
	ASSERT_LE(0, vcpu);
	ASSERT_EQ(0, hvlab_map_run(vcpu, 4096, &run));
	close(vcpu);
	close(vm);
	close(sys);
	ASSERT_UNLOAD_REFUSED();
	run->immediate_exit = 1;	/* the page is still there */
	ASSERT_EQ(0, hvlab_unmap_run(run, 4096));
	ASSERT_EQ(0, hvt_module_unload(HVT_MODULE));
}

/*
 * 50 rounds of unload, load, and real use (VM, vCPU, memory slot, run
 * page, register write) so each load brings up and each unload tears
 * down everything, including hardware enable/disable.
 */
TEST_F_TIMEOUT(mod, load_unload_50, 600)
{
	void *mem = hvt_alloc_guest_mem(16 * HVT_PAGE_SIZE);
	struct hvlab_regs regs;
	struct hvlab_run *run;
	int i, sys, vm, vcpu, ret;

	SKIPPED_IN_SETUP();
	ASSERT_NE(NULL, mem);
	for (i = 0; i < 50; i++) {
		ret = hvt_module_unload(HVT_MODULE);
		ASSERT_EQ(0, ret) TH_LOG("round %d unload: %s", i, strerror(-ret));
		ASSERT_EQ(0, hvt_module_loaded(HVT_MODULE));
		ret = hvlab_open();
		ASSERT_GT(0, ret) TH_LOG("round %d: /dev/hvlab opens with no module", i);

		ret = hvt_hvlab_ensure_loaded();
		ASSERT_EQ(0, ret) TH_LOG("round %d load: %s", i, strerror(-ret));
		vm = hvt_open_vm(&sys);
		ASSERT_LE(0, vm) TH_LOG("round %d CREATE_VM: %s", i, strerror(-vm));
		ASSERT_EQ(HVLAB_API_VERSION, hvlab_api_version(sys));
		ASSERT_EQ(0, hvt_set_region(vm, 0, 0, 0, 16 * HVT_PAGE_SIZE, (uintptr_t)mem));
		vcpu = hvlab_create_vcpu(vm, 0);
		ASSERT_LE(0, vcpu) TH_LOG("round %d CREATE_VCPU: %s", i, strerror(-vcpu));
		ASSERT_EQ(0, hvlab_get_regs(vcpu, &regs));
		ASSERT_EQ(0xfff0ull, regs.rip);
		regs.rip = 0x1000;
		ASSERT_EQ(0, hvlab_set_regs(vcpu, &regs));
		ASSERT_EQ(0, hvlab_map_run(vcpu, 4096, &run));
		ASSERT_EQ(0, run->exit_reason);
		ASSERT_EQ(0, hvlab_unmap_run(run, 4096));
		close(vcpu);
		close(vm);
		close(sys);
	}
	munmap(mem, 16 * HVT_PAGE_SIZE);
	/* The teardown reloads; check here that we end loaded and usable. */
	ASSERT_EQ(1, hvt_module_loaded(HVT_MODULE));
}

/* Loading with parameters sets the limits the caps report and enforce. */
TEST_F(mod, params_take_effect)
{
	void *mem = hvt_alloc_guest_mem(HVT_PAGE_SIZE);
	unsigned long v;
	int sys, vm[3], vcpu, ret;

	SKIPPED_IN_SETUP();
	ASSERT_NE(NULL, mem);
	ret = hvt_hvlab_reload("max_vms=2 max_vcpus=3 max_slots=4");
	ASSERT_EQ(0, ret) TH_LOG("load with params: %s", strerror(-ret));
	ASSERT_EQ(0, hvt_module_param(HVT_MODULE, "max_vms", &v));
	EXPECT_EQ(2ul, v);
	ASSERT_EQ(0, hvt_module_param(HVT_MODULE, "max_vcpus", &v));
	EXPECT_EQ(3ul, v);
	ASSERT_EQ(0, hvt_module_param(HVT_MODULE, "max_slots", &v));
	EXPECT_EQ(4ul, v);

	vm[0] = hvt_open_vm(&sys);
	ASSERT_LE(0, vm[0]);
	EXPECT_EQ(2, hvt_cap(sys, HVLAB_CAP_MAX_VMS));
	EXPECT_EQ(3, hvt_cap(sys, HVLAB_CAP_MAX_VCPUS));
	EXPECT_EQ(4, hvt_cap(sys, HVLAB_CAP_MAX_MEM_SLOTS));

	vm[1] = hvlab_create_vm(sys, 0);
	ASSERT_LE(0, vm[1]);
	vm[2] = hvlab_create_vm(sys, 0);
	ASSERT_EQ(-ENOSPC, vm[2]) TH_LOG("third VM with max_vms=2");

	ASSERT_EQ(-EINVAL, hvlab_create_vcpu(vm[0], 3)) TH_LOG("vCPU 3 with max_vcpus=3");
	vcpu = hvlab_create_vcpu(vm[0], 2);
	ASSERT_LE(0, vcpu);
	close(vcpu);

	ASSERT_EQ(-EINVAL, hvt_set_region(vm[0], 4, 0, 0, HVT_PAGE_SIZE, (uintptr_t)mem))
		TH_LOG("slot 4 with max_slots=4");
	ASSERT_EQ(0, hvt_set_region(vm[0], 3, 0, 0, HVT_PAGE_SIZE, (uintptr_t)mem));

	close(vm[1]);
	close(vm[0]);
	close(sys);
	munmap(mem, HVT_PAGE_SIZE);
}

/* Without parameters, the documented defaults. */
TEST_F(mod, default_params)
{
	unsigned long v;
	int sys;

	SKIPPED_IN_SETUP();
	ASSERT_EQ(0, hvt_hvlab_reload(""));
	ASSERT_EQ(0, hvt_module_param(HVT_MODULE, "max_vms", &v));
	EXPECT_EQ((unsigned long)DEF_MAX_VMS, v);
	ASSERT_EQ(0, hvt_module_param(HVT_MODULE, "max_vcpus", &v));
	EXPECT_EQ((unsigned long)DEF_MAX_VCPUS, v);
	ASSERT_EQ(0, hvt_module_param(HVT_MODULE, "max_slots", &v));
	EXPECT_EQ((unsigned long)DEF_MAX_SLOTS, v);
	sys = hvlab_open();
	ASSERT_LE(0, sys);
	EXPECT_EQ(DEF_MAX_VMS, hvt_cap(sys, HVLAB_CAP_MAX_VMS));
	EXPECT_EQ(DEF_MAX_VCPUS, hvt_cap(sys, HVLAB_CAP_MAX_VCPUS));
	EXPECT_EQ(DEF_MAX_SLOTS, hvt_cap(sys, HVLAB_CAP_MAX_MEM_SLOTS));
	close(sys);
}

/*
 * The QEMU workarounds (svm/svm.c, svm_tcg_needs()) are on where the PC's
 * QEMU needs them and only there: the EVENTINJ fence on every QEMU, DR7
 * arming before 10.0.  The rig says which QEMU runs the PC
 * (HVLAB_EMULATOR_VERSION); the parameter reads the mask in force.  AMD
 * only: the workarounds are for QEMU's SVM, and the Intel PC is Bochs.
 */
TEST_F(mod, tcg_workarounds_match_emulator)
{
	const char *emu = getenv("HVLAB_EMULATOR"), *ver = getenv("HVLAB_EMULATOR_VERSION");
	unsigned long v, want;

	SKIPPED_IN_SETUP();
	if (hvt_cpu_vendor() != HVLAB_VENDOR_AMD)
		SKIP(return, "AMD only: the workarounds are for QEMU's SVM (the Intel PC is Bochs)");
	if (!emu || strcmp(emu, "qemu") || !ver || !*ver)
		SKIP(return, "not in the rig's QEMU PC (HVLAB_EMULATOR=qemu and HVLAB_EMULATOR_VERSION unset)");
	want = atoi(ver) >= 10 ? 1 : 3;
	ASSERT_EQ(0, hvt_hvlab_reload(""));
	ASSERT_EQ(0, hvt_module_param(HVT_MODULE, "tcg_workarounds", &v));
	EXPECT_EQ(want, v) TH_LOG("QEMU %s: mask in force %#lx, want %#lx (1 EVENTINJ fence, 2 DR7 arming)",
				  ver, v, want);
	/* A mask given at load is taken as it is. */
	ASSERT_EQ(0, hvt_hvlab_reload("tcg_workarounds=2"));
	ASSERT_EQ(0, hvt_module_param(HVT_MODULE, "tcg_workarounds", &v));
	EXPECT_EQ(2ul, v);
}

TEST_HARNESS_MAIN
