// SPDX-License-Identifier: GPL-2.0
/*
 * test_leak.c - no memory leaked by 1000 cycles of a VM with two vCPUs, a
 * memory slot and a mapped run page, all created and closed again.
 *
 * Measured from /proc/meminfo after a warm-up (so slab caches and per-CPU
 * lists are already at their working size), after dropping caches,
 * shrinking every slab cache (per-CPU slabs flushed) and folding the
 * per-CPU counters (vm/stat_refresh) both times.  Tolerances:
 *   SUnreclaim grows by less than 256 KiB  (a 128-byte object per cycle
 *                                           would already be 125 KiB),
 *     not counting the vmap_area cache: vfree() frees lazily, and the
 *     descriptors of up to lazy_max_pages of freed vmalloc space (per-vCPU
 *     FPU state comes from vzalloc) pile up to ~250 KiB before the kernel
 *     purges them, whoever allocated them.  A vmalloc leak is caught by:
 *   VmallocUsed grows by less than 256 KiB (live vmalloc pages only)
 *   MemAvailable drops by less than 1 MiB  (one page per cycle: 3.9 MiB)
 * The numbers are printed for the notes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hvtest.h"

#define CYCLES		1000	/* $HVLAB_LEAK_CYCLES overrides (soaks) */
#define WARMUP		200
#define SUNRECLAIM_TOL_KB	256
#define VMALLOC_TOL_KB		256
#define AVAILABLE_TOL_KB	1024
#define MEM_SIZE	(16 * HVT_PAGE_SIZE)

struct snapshot {
	long avail, slab, sunreclaim, free, vmalloc, vmap_area;
};

static int snap(struct snapshot *s)
{
	int ret = hvt_drop_caches();

	if (ret)
		return ret;
	/* Let RCU-deferred frees (file release, slab) finish. */
	usleep(500 * 1000);
	ret = hvt_shrink_slabs();
	if (ret < 0)
		return ret;
	/*
	 * Fold the per-CPU vmstat deltas into the global counters that
	 * /proc/meminfo reads, or up to a few hundred pages per CPU could be
	 * missing from either snapshot.
	 */
	ret = hvt_write_str("/proc/sys/vm/stat_refresh", "1");
	if (ret)
		return ret;
	s->avail = hvt_meminfo_kb("MemAvailable");
	s->slab = hvt_meminfo_kb("Slab");
	s->sunreclaim = hvt_meminfo_kb("SUnreclaim");
	s->free = hvt_meminfo_kb("MemFree");
	s->vmalloc = hvt_meminfo_kb("VmallocUsed");
	s->vmap_area = hvt_slab_kb("vmap_area");
	if (s->avail < 0 || s->slab < 0 || s->sunreclaim < 0 || s->free < 0 ||
	    s->vmalloc < 0 || s->vmap_area < 0)
		return -ENOENT;
	return 0;
}

/* One cycle; 0 or -errno naming nothing: the caller reports the cycle. */
static int cycle(void *mem, int mmap_size)
{
	struct hvlab_run *run;
	int sys, vm, vcpu0 = -1, vcpu1 = -1, ret;

	vm = hvt_open_vm(&sys);
	if (vm < 0)
		return vm;
	ret = hvlab_create_vcpu(vm, 0);
	if (ret < 0)
		goto out;
	vcpu0 = ret;
	ret = hvlab_create_vcpu(vm, 1);
	if (ret < 0)
		goto out;
	vcpu1 = ret;
	ret = hvt_set_region(vm, 0, 0, 0x100000, MEM_SIZE, (uintptr_t)mem);
	if (ret < 0)
		goto out;
	ret = hvlab_map_run(vcpu0, mmap_size, &run);
	if (ret < 0)
		goto out;
	run->immediate_exit = 0;
	ret = hvlab_unmap_run(run, mmap_size);
out:
	hvt_close(&vcpu1);
	hvt_close(&vcpu0);
	close(vm);
	close(sys);
	return ret;
}

FIXTURE(leak) {
	void *mem;
	long refcnt0;
};

FIXTURE_SETUP(leak)
{
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	self->mem = hvt_alloc_guest_mem(MEM_SIZE);
	ASSERT_NE(NULL, self->mem);
	memset(self->mem, 1, MEM_SIZE);
	self->refcnt0 = hvt_module_refcnt(HVT_MODULE);
}

FIXTURE_TEARDOWN(leak)
{
	munmap(self->mem, MEM_SIZE);
}

TEST_F_TIMEOUT(leak, vm_vcpu_cycles_1000, 1800)
{
	const char *env = getenv("HVLAB_LEAK_CYCLES");
	int cycles = env && atoi(env) > 0 ? atoi(env) : CYCLES;
	struct snapshot before, after;
	long d_avail, d_sunr, d_vmap, d_vmalloc;
	int i, ret;

	for (i = 0; i < WARMUP; i++) {
		ret = cycle(self->mem, 4096);
		ASSERT_EQ(0, ret) TH_LOG("warm-up cycle %d: %s", i, strerror(-ret));
	}
	ASSERT_EQ(0, snap(&before));
	for (i = 0; i < cycles; i++) {
		ret = cycle(self->mem, 4096);
		ASSERT_EQ(0, ret) TH_LOG("cycle %d: %s", i, strerror(-ret));
		/* Progress, so a hang shows where (the Intel PC is slow). */
		if ((i + 1) % 250 == 0)
			TH_LOG("%d cycles done", i + 1);
	}
	ASSERT_EQ(0, snap(&after));
	ASSERT_EQ(self->refcnt0, hvt_module_refcnt(HVT_MODULE));

	d_avail = before.avail - after.avail;
	d_sunr = after.sunreclaim - before.sunreclaim;
	d_vmap = after.vmap_area - before.vmap_area;
	d_vmalloc = after.vmalloc - before.vmalloc;
	TH_LOG("%d cycles (VM + 2 vCPUs + slot + run page)", cycles);
	TH_LOG("MemAvailable %ld -> %ld kB (drop %ld kB, tolerance %d)",
	       before.avail, after.avail, d_avail, AVAILABLE_TOL_KB);
	TH_LOG("MemFree      %ld -> %ld kB (drop %ld kB)",
	       before.free, after.free, before.free - after.free);
	TH_LOG("Slab         %ld -> %ld kB (growth %ld kB)",
	       before.slab, after.slab, after.slab - before.slab);
	TH_LOG("SUnreclaim   %ld -> %ld kB (growth %ld kB, %ld kB without vmap_area, tolerance %d)",
	       before.sunreclaim, after.sunreclaim, d_sunr, d_sunr - d_vmap,
	       SUNRECLAIM_TOL_KB);
	TH_LOG("vmap_area    %ld -> %ld kB (growth %ld kB: lazily purged)",
	       before.vmap_area, after.vmap_area, d_vmap);
	TH_LOG("VmallocUsed  %ld -> %ld kB (growth %ld kB, tolerance %d)",
	       before.vmalloc, after.vmalloc, d_vmalloc, VMALLOC_TOL_KB);
	EXPECT_LT(d_sunr - d_vmap, SUNRECLAIM_TOL_KB);
	EXPECT_LT(d_vmalloc, VMALLOC_TOL_KB);
	EXPECT_LT(d_avail, AVAILABLE_TOL_KB);
}

TEST_HARNESS_MAIN
