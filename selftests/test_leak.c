// SPDX-License-Identifier: GPL-2.0
/*
 * test_leak.c - no memory leaked, and nothing pinned, by 1000 rounds of a
 * VM that runs: each round creates a VM with two vCPUs and two slots,
 * runs a real-mode guest on vCPU 0 that writes to slot 1 and exits by
 * OUT; the VMM then replaces slot 1's backing (munmap + mmap at the same
 * address), the guest reads it back (it must see the new page), halts,
 * and the VMM unmaps slot 1's backing before it closes the vCPUs, the VM
 * and /dev/hvlab (slot still registered).  After all rounds, hvlab must
 * unload cleanly.
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
 * Pinned memory: guest memory is no longer pinned (module/gmem.c takes
 * short-lived references only), so while a guest's pages are mapped in
 * its nested tables the process's VmPin (pinned_vm, /proc/self/status)
 * must stay 0 and the kernel's FOLL_PIN count (nr_foll_pin_acquired -
 * nr_foll_pin_released, /proc/vmstat) must not move.
 * The numbers are printed for the notes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#define SLOT1_GPA	0x10000
#define SLOT1_SIZE	(4 * HVT_PAGE_SIZE)
#define CODE_GPA	0x1000

/*
 * Real mode, DS = 0x1000 (slot 1): store AL at DS:0, OUT it, read DS:0
 * back (after the VMM replaced the page), OUT that, HLT.
 */
static const uint8_t leak_code[] = {
	0xb0, 0x42,		/* mov $0x42, %al */
	0xa2, 0x00, 0x00,	/* mov %al, %ds:0 */
	0xe6, 0x80,		/* out %al, $0x80 */
	0xa0, 0x00, 0x00,	/* mov %ds:0, %al */
	0xe6, 0x80,		/* out %al, $0x80 */
	0xf4,			/* hlt */
};

/* What a round saw, for the checks and the notes. */
struct pins {
	long vmpin_max_kb;	/* VmPin while the guest's pages were mapped */
	long foll_pin_max;	/* FOLL_PIN pages held then, beyond the start */
};

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

/* pinned_vm of this process, kB (VmPin in /proc/self/status). */
static long vmpin_kb(void)
{
	char line[256];
	long kb = -ENOENT;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* FOLL_PIN pages held system-wide: acquired - released (/proc/vmstat). */
static long foll_pins(void)
{
	long acq = -1, rel = -1, v;
	char name[64];
	FILE *f = fopen("/proc/vmstat", "re");

	if (!f)
		return -errno;
	while (fscanf(f, "%63s %ld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acq = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			rel = v;
	}
	fclose(f);
	return acq < 0 || rel < 0 ? -ENOENT : acq - rel;
}

/* RUN and expect an OUT of @val to port 0x80; -EPROTO if something else. */
static int run_expect_out(int vcpu, struct hvlab_run *run, uint8_t val)
{
	int ret = hvlab_run(vcpu);

	if (ret)
		return ret;
	if (run->exit_reason != HVLAB_EXIT_IO || run->io.port != 0x80 ||
	    *((uint8_t *)run + run->io.data_offset) != val)
		return -EPROTO;
	return 0;
}

/* Real mode at CODE_GPA, DS at slot 1. */
static int enter_real(int vcpu)
{
	struct hvlab_regs regs = { .rip = CODE_GPA, .rflags = 2 };
	struct hvlab_sregs sr;
	int ret;

	ret = hvlab_get_sregs(vcpu, &sr);
	if (ret)
		return ret;
	sr.cs.base = 0;
	sr.cs.selector = 0;
	sr.ds.base = SLOT1_GPA;
	sr.ds.selector = SLOT1_GPA >> 4;
	ret = hvlab_set_sregs(vcpu, &sr);
	return ret ?: hvlab_set_regs(vcpu, &regs);
}

/*
 * One round; 0 or -errno naming nothing (the caller reports the round).
 * @pin0: the FOLL_PIN count before the rounds.
 */
static int cycle(void *mem, int mmap_size, long pin0, struct pins *pins)
{
	struct hvlab_run *run = MAP_FAILED;
	int sys, vm, vcpu0 = -1, vcpu1 = -1, ret;
	uint8_t *b;
	long v;

	b = mmap(NULL, SLOT1_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return -errno;
	vm = hvt_open_vm(&sys);
	if (vm < 0) {
		munmap(b, SLOT1_SIZE);
		return vm;
	}
	ret = hvlab_create_vcpu(vm, 0);
	if (ret < 0)
		goto out;
	vcpu0 = ret;
	ret = hvlab_create_vcpu(vm, 1);
	if (ret < 0)
		goto out;
	vcpu1 = ret;
	ret = hvt_set_region(vm, 0, 0, 0, MEM_SIZE, (uintptr_t)mem);
	if (!ret)
		ret = hvt_set_region(vm, 1, 0, SLOT1_GPA, SLOT1_SIZE, (uintptr_t)b);
	if (ret < 0)
		goto out;
	ret = hvlab_map_run(vcpu0, mmap_size, &run);
	if (ret < 0)
		goto out;
	ret = enter_real(vcpu0);
	if (ret)
		goto out;
	ret = run_expect_out(vcpu0, run, 0x42);
	if (ret)
		goto out;
	if (b[0] != 0x42) {		/* the guest wrote the VMM's page */
		ret = -EPROTO;
		goto out;
	}

	/* Nothing pinned while the guest's pages are in its nested tables. */
	v = vmpin_kb();
	if (v > pins->vmpin_max_kb)
		pins->vmpin_max_kb = v;
	v = foll_pins();
	if (v >= 0 && v - pin0 > pins->foll_pin_max)
		pins->foll_pin_max = v - pin0;

	/* A new page behind slot 1: the guest must read it, not the old one. */
	if (munmap(b, SLOT1_SIZE) ||
	    mmap(b, SLOT1_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != b) {
		ret = -errno;
		goto out;
	}
	memset(b, 0x77, SLOT1_SIZE);
	ret = run_expect_out(vcpu0, run, 0x77);
	if (ret)
		goto out;
	ret = hvlab_run(vcpu0);
	if (!ret && run->exit_reason != HVLAB_EXIT_HLT)
		ret = -EPROTO;
out:
	/* The backing goes first: the slot still names it when the VM closes. */
	munmap(b, SLOT1_SIZE);
	if (run != MAP_FAILED)
		hvlab_unmap_run(run, mmap_size);
	hvt_close(&vcpu1);
	hvt_close(&vcpu0);
	close(vm);
	close(sys);
	return ret;
}

/* Lines of dmesg now. */
static long dmesg_count(void)
{
	char line[1024];
	long n = 0;
	FILE *p = popen("dmesg", "re");

	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p))
		if (strchr(line, '\n'))
			n++;
	pclose(p);
	return n;
}

/*
 * After the rounds, hvlab unloads cleanly: reference count 0, delete_module
 * succeeds, /sys/module/hvlab is gone, and the kernel did not complain
 * about objects left behind (hvlab has no slab caches of its own, so a
 * leak shows in the kmalloc caches above; "Objects remaining" /
 * kmem_cache_destroy complaints would name any cache that was destroyed
 * non-empty), then it loads again for the tests after this one.
 */
static void check_rmmod(struct __test_metadata *_metadata)
{
	long lines, refcnt, before, after;
	char cmd[160];
	int ret;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	usleep(200 * 1000);	/* deferred fput of the last rounds' fds */
	refcnt = hvt_module_refcnt(HVT_MODULE);
	if (refcnt != 0) {
		TH_LOG("rmmod not tried: hvlab is held by someone else (refcount %ld)", refcnt);
		return;
	}
	lines = dmesg_count();
	ASSERT_LE(0, lines);
	hvt_shrink_slabs();
	before = hvt_meminfo_kb("SUnreclaim");
	ret = hvt_module_unload(HVT_MODULE);
	ASSERT_EQ(0, ret) TH_LOG("rmmod hvlab: %s", strerror(-ret));
	EXPECT_EQ(0, hvt_module_loaded(HVT_MODULE));
	EXPECT_NE(0, access("/sys/module/" HVT_MODULE, F_OK));
	hvt_shrink_slabs();
	after = hvt_meminfo_kb("SUnreclaim");
	snprintf(cmd, sizeof(cmd),
		 "dmesg | tail -n +%ld | grep -E 'Objects remaining|kmem_cache_destroy|still has objects|leak' && exit 1; exit 0",
		 lines + 1);
	EXPECT_EQ(0, hvt_system(cmd)) TH_LOG("the kernel complained at rmmod (above)");
	TH_LOG("rmmod hvlab: clean; SUnreclaim %ld -> %ld kB across the unload", before, after);
	ret = hvt_hvlab_ensure_loaded();
	ASSERT_EQ(0, ret) TH_LOG("insmod hvlab again: %s", strerror(-ret));
}

FIXTURE(leak) {
	void *mem;
	long refcnt0;
};

FIXTURE_SETUP(leak)
{
	int sys, cap;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	sys = hvlab_open();
	ASSERT_LE(0, sys);
	cap = hvlab_check_cap(sys, HVLAB_CAP_RUN);
	close(sys);
	if (cap <= 0)
		SKIP(return, "HVLAB_CAP_RUN=0: this module cannot run guests");
	self->mem = hvt_alloc_guest_mem(MEM_SIZE);
	ASSERT_NE(NULL, self->mem);
	memset(self->mem, 1, MEM_SIZE);
	memcpy((uint8_t *)self->mem + CODE_GPA, leak_code, sizeof(leak_code));
	self->refcnt0 = hvt_module_refcnt(HVT_MODULE);
}

FIXTURE_TEARDOWN(leak)
{
	if (self->mem)
		munmap(self->mem, MEM_SIZE);
}

TEST_F_TIMEOUT(leak, vm_run_cycles_1000, 1800)
{
	const char *env = getenv("HVLAB_LEAK_CYCLES");
	int cycles = env && atoi(env) > 0 ? atoi(env) : CYCLES;
	struct snapshot before, after;
	struct pins pins = { 0 };
	long d_avail, d_sunr, d_vmap, d_vmalloc, pin0, pin1;
	int i, ret;

	if (_metadata->skip)
		return;
	pin0 = foll_pins();
	for (i = 0; i < WARMUP; i++) {
		ret = cycle(self->mem, 4096, pin0, &pins);
		ASSERT_EQ(0, ret) TH_LOG("warm-up cycle %d: %s", i, strerror(-ret));
	}
	ASSERT_EQ(0, snap(&before));
	for (i = 0; i < cycles; i++) {
		ret = cycle(self->mem, 4096, pin0, &pins);
		ASSERT_EQ(0, ret) TH_LOG("cycle %d: %s", i, strerror(-ret));
		/* Progress, so a hang shows where (the Intel PC is slow). */
		if ((i + 1) % 250 == 0)
			TH_LOG("%d cycles done", i + 1);
	}
	ASSERT_EQ(0, snap(&after));
	pin1 = foll_pins();
	ASSERT_EQ(self->refcnt0, hvt_module_refcnt(HVT_MODULE));

	d_avail = before.avail - after.avail;
	d_sunr = after.sunreclaim - before.sunreclaim;
	d_vmap = after.vmap_area - before.vmap_area;
	d_vmalloc = after.vmalloc - before.vmalloc;
	TH_LOG("%d rounds (VM + 2 vCPUs + 2 slots + run page; 3 RUNs; slot 1's backing replaced, then unmapped before close)",
	       cycles);
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
	TH_LOG("pinned: VmPin at most %ld kB while guests ran; FOLL_PIN pages held: at most %ld more while guests ran, %ld -> %ld over all rounds",
	       pins.vmpin_max_kb, pins.foll_pin_max, pin0, pin1);
	EXPECT_LT(d_sunr - d_vmap, SUNRECLAIM_TOL_KB);
	EXPECT_LT(d_vmalloc, VMALLOC_TOL_KB);
	EXPECT_LT(d_avail, AVAILABLE_TOL_KB);
	EXPECT_EQ(0, pins.vmpin_max_kb);
	EXPECT_EQ(0, pins.foll_pin_max);
	EXPECT_EQ(pin0, pin1);
	check_rmmod(_metadata);
}

TEST_HARNESS_MAIN
