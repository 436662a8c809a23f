// SPDX-License-Identifier: GPL-2.0
/*
 * test_leak.c - no memory leaked by 1000 cycles of a VM with two vCPUs, a
 * memory slot and a mapped run page, all created and closed again.
 *
 * Measured from /proc/meminfo after a warm-up (so slab caches and per-CPU
 * lists are already at their working size), after dropping caches and
 * folding the per-CPU counters (vm/stat_refresh) both times.  Tolerances:
 *   SUnreclaim grows by less than 256 KiB  (a 128-byte object per cycle
 *                                           would already be 125 KiB)
 *   MemAvailable drops by less than 1 MiB  (one page per cycle: 3.9 MiB)
 * The numbers are printed for the notes.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hvtest.h"

#define CYCLES		1000
#define WARMUP		50
#define SUNRECLAIM_TOL_KB	256
#define AVAILABLE_TOL_KB	1024
#define MEM_SIZE	(16 * HVT_PAGE_SIZE)

struct snapshot {
	long avail, slab, sunreclaim, free;
};

static int snap(struct snapshot *s)
{
	int ret = hvt_drop_caches();

	if (ret)
		return ret;
	/* Let RCU-deferred frees (file release, slab) finish. */
	usleep(500 * 1000);
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
	if (s->avail < 0 || s->slab < 0 || s->sunreclaim < 0 || s->free < 0)
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
	struct snapshot before, after;
	long d_avail, d_sunr, d_slab;
	int i, ret;

	for (i = 0; i < WARMUP; i++) {
		ret = cycle(self->mem, 4096);
		ASSERT_EQ(0, ret) TH_LOG("warm-up cycle %d: %s", i, strerror(-ret));
	}
	ASSERT_EQ(0, snap(&before));
	for (i = 0; i < CYCLES; i++) {
		ret = cycle(self->mem, 4096);
		ASSERT_EQ(0, ret) TH_LOG("cycle %d: %s", i, strerror(-ret));
	}
	ASSERT_EQ(0, snap(&after));
	ASSERT_EQ(self->refcnt0, hvt_module_refcnt(HVT_MODULE));

	d_avail = before.avail - after.avail;
	d_sunr = after.sunreclaim - before.sunreclaim;
	d_slab = after.slab - before.slab;
	TH_LOG("%d cycles (VM + 2 vCPUs + slot + run page)", CYCLES);
	TH_LOG("MemAvailable %ld -> %ld kB (drop %ld kB, tolerance %d)",
	       before.avail, after.avail, d_avail, AVAILABLE_TOL_KB);
	TH_LOG("MemFree      %ld -> %ld kB (drop %ld kB)",
	       before.free, after.free, before.free - after.free);
	TH_LOG("Slab         %ld -> %ld kB (growth %ld kB)",
	       before.slab, after.slab, d_slab);
	TH_LOG("SUnreclaim   %ld -> %ld kB (growth %ld kB, tolerance %d)",
	       before.sunreclaim, after.sunreclaim, d_sunr, SUNRECLAIM_TOL_KB);
	EXPECT_LT(d_sunr, SUNRECLAIM_TOL_KB);
	EXPECT_LT(d_avail, AVAILABLE_TOL_KB);
}

TEST_HARNESS_MAIN
