// SPDX-License-Identifier: GPL-2.0
/*
 * test_memslots_run.c - memory slots changed between runs of a guest: the
 * guest must see exactly the slots that exist now, never what an old
 * nested-page-table entry still says.
 *
 * A 64-bit C guest "probes" one guest-physical address per ucall (read,
 * or write of a value), chosen by the host through the guest's globals.
 * Where no slot is, the probe must exit as MMIO; where one is, it must
 * hit the slot's userspace memory both ways.  Then a guest writes a
 * pattern over 256 MiB and userspace checks every byte of it; that memory
 * is a 2 MiB-aligned mapping with MADV_HUGEPAGE, so where the host backs
 * it with transparent huge pages the nested page tables must use 2 MiB
 * leaves, and the nested page faults stay far below one per 4 KiB.
 *
 * Slot semantics: uapi/hvlab.h HVLAB_SET_MEMORY_REGION (add, move,
 * delete).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "guest.h"
#include "probe.h"

#define SLOT		HVT_FIRST_FREE_SLOT
#define SLOT_SIZE	(2ull << 20)
#define GPA_A		0x40000000ull	/* 1 GiB */
#define GPA_B		0x80000000ull	/* 2 GiB */

#define BIG_GPA		0x100000000ull	/* 4 GiB */
#define BIG_SIZE	(256ull << 20)
#define BIG_SEED	0x9e3779b97f4a7c15ull

FIXTURE(slots) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
	uint64_t *buf, *buf2;	/* SLOT_SIZE each */
};

FIXTURE_SETUP(slots)
{
	unsigned int i;
	int ret;

	HVT_SETUP_VM_VCPU(0);
	self->buf = hvt_alloc_guest_mem(SLOT_SIZE);
	self->buf2 = hvt_alloc_guest_mem(SLOT_SIZE);
	ASSERT_NE(NULL, self->buf);
	ASSERT_NE(NULL, self->buf2);
	for (i = 0; i < SLOT_SIZE / 8; i++) {
		self->buf[i] = 0xa000000000000000ull | i;
		self->buf2[i] = 0xb000000000000000ull | i;
	}
	ret = hvt_vcpu_enter_c(self->vcpu, (void *)guest_probe, 0, 0);
	ASSERT_EQ(0, ret);
}

FIXTURE_TEARDOWN(slots)
{
	hvt_vm_free(self->vm);
	if (self->buf)
		munmap(self->buf, SLOT_SIZE);
	if (self->buf2)
		munmap(self->buf2, SLOT_SIZE);
}

#define READ_MEM(gpa, want)	PROBE_EXPECT_RAM(self->vcpu, gpa, want)
#define READ_MMIO(gpa)		PROBE_EXPECT_MMIO(self->vcpu, gpa)
#define WRITE(gpa, val, want_mmio) PROBE_EXPECT_WRITE(self->vcpu, gpa, val, want_mmio)

static int set_slot(struct hvt_vm *vm, uint32_t flags, uint64_t gpa, uint64_t size, void *mem)
{
	return hvt_set_region(vm->fd, SLOT, flags, gpa, size, (uintptr_t)mem);
}

/* Offsets probed: first page, a middle page, the last qword. */
static const uint64_t offs[] = { 0, 0x1234 * 8, SLOT_SIZE - 8 };

TEST_F(slots, add)
{
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		READ_MMIO(GPA_A + offs[i]);
	ASSERT_EQ(0, set_slot(self->vm, 0, GPA_A, SLOT_SIZE, self->buf));
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		READ_MEM(GPA_A + offs[i], self->buf[offs[i] / 8]);
	/* Writes land in the userspace memory behind the slot, and back. */
	WRITE(GPA_A + 8, 0x1111222233334444ull, false);
	EXPECT_EQ(0x1111222233334444ull, self->buf[1]);
	self->buf[2] = 0x5555666677778888ull;
	READ_MEM(GPA_A + 16, 0x5555666677778888ull);
	/* Just past the slot is still nothing. */
	READ_MMIO(GPA_A + SLOT_SIZE);
	READ_MMIO(GPA_A - 8);
}

TEST_F(slots, move)
{
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, set_slot(self->vm, 0, GPA_A, SLOT_SIZE, self->buf));
	/* Map every probed page at A in the nested tables first. */
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		READ_MEM(GPA_A + offs[i], self->buf[offs[i] / 8]);
	ASSERT_EQ(0, set_slot(self->vm, 0, GPA_B, SLOT_SIZE, self->buf));
	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		READ_MMIO(GPA_A + offs[i]);
		READ_MEM(GPA_B + offs[i], self->buf[offs[i] / 8]);
	}
	WRITE(GPA_A, 1, true);
	WRITE(GPA_B, 0x0123456789abcdefull, false);
	EXPECT_EQ(0x0123456789abcdefull, self->buf[0]);
	/* And back again: B is empty now, A shows the same memory. */
	ASSERT_EQ(0, set_slot(self->vm, 0, GPA_A, SLOT_SIZE, self->buf));
	READ_MMIO(GPA_B);
	READ_MEM(GPA_A, 0x0123456789abcdefull);
}

TEST_F(slots, delete)
{
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, set_slot(self->vm, 0, GPA_A, SLOT_SIZE, self->buf));
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		READ_MEM(GPA_A + offs[i], self->buf[offs[i] / 8]);
	WRITE(GPA_A, 0xfeedfacecafef00dull, false);
	ASSERT_EQ(0, set_slot(self->vm, 0, GPA_A, 0, self->buf));
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		READ_MMIO(GPA_A + offs[i]);
	WRITE(GPA_A + 8, 0x77, true);
	/* The memory is userspace's, untouched by the delete and after it. */
	EXPECT_EQ(0xfeedfacecafef00dull, self->buf[0]);
	EXPECT_EQ(0xa000000000000001ull, self->buf[1]);
}

/* The same address, other memory: no page of the old slot may remain. */
TEST_F(slots, delete_and_add_other_memory)
{
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, set_slot(self->vm, 0, GPA_A, SLOT_SIZE, self->buf));
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		READ_MEM(GPA_A + offs[i], self->buf[offs[i] / 8]);
	ASSERT_EQ(0, set_slot(self->vm, 0, GPA_A, 0, self->buf));
	ASSERT_EQ(0, set_slot(self->vm, 0, GPA_A, SLOT_SIZE, self->buf2));
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		READ_MEM(GPA_A + offs[i], self->buf2[offs[i] / 8]);
	WRITE(GPA_A, 42, false);
	EXPECT_EQ(42u, self->buf2[0]);
	EXPECT_EQ(0xa000000000000000ull, self->buf[0]);
}

/*
 * The same memory again, read-only (flags cannot change in place: delete
 * and add): a writable nested mapping left from before would let the
 * write through.
 */
TEST_F(slots, readd_readonly)
{
	int ret;

	HVT_SKIPPED_IN_SETUP();
	ret = hvt_cap(self->vm->sys_fd, HVLAB_CAP_READONLY_MEM);
	ASSERT_LE(0, ret);
	if (!ret)
		SKIP(return, "no HVLAB_CAP_READONLY_MEM");
	ASSERT_EQ(0, set_slot(self->vm, 0, GPA_A, SLOT_SIZE, self->buf));
	WRITE(GPA_A, 1, false);		/* mapped writable now */
	EXPECT_EQ(1u, self->buf[0]);
	/* In place, only the guest address may change (uapi/hvlab.h). */
	EXPECT_EQ(-EINVAL, set_slot(self->vm, HVLAB_MEM_READONLY, GPA_A, SLOT_SIZE, self->buf));
	ASSERT_EQ(0, set_slot(self->vm, 0, GPA_A, 0, self->buf));
	ASSERT_EQ(0, set_slot(self->vm, HVLAB_MEM_READONLY, GPA_A, SLOT_SIZE, self->buf));
	WRITE(GPA_A, 2, true);
	EXPECT_EQ(1u, self->buf[0]) TH_LOG("a write to a read-only slot reached memory");
	READ_MEM(GPA_A, 1);
	ASSERT_EQ(0, set_slot(self->vm, 0, GPA_A, 0, self->buf));
	ASSERT_EQ(0, set_slot(self->vm, 0, GPA_A, SLOT_SIZE, self->buf));
	WRITE(GPA_A, 3, false);
	EXPECT_EQ(3u, self->buf[0]);
}

/* ---------------------------------------------------------------------------
 * 256 MiB written by the guest, checked by userspace
 */

GUEST_CODE static void guest_fill(uint64_t base, uint64_t size)
{
	volatile uint64_t *p = (volatile uint64_t *)base;
	uint64_t i, n = size / 8;

	for (i = 0; i < n; i++)
		p[i] = (base + i * 8) * BIG_SEED;
	GUEST_SYNC(n);
	/* Then read back what the host changed in between. */
	GUEST_SYNC(p[0] + p[n - 1] + p[n / 2]);
}

static uint64_t ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

#define SZ_2M		(2ull << 20)

/* Is transparent huge page support anything but "[never]"? */
static bool thp_possible(char *mode, size_t size)
{
	int ret = hvt_read_str("/sys/kernel/mm/transparent_hugepage/enabled", mode, size);

	if (ret < 0) {
		snprintf(mode, size, "no THP sysfs file (%s)", strerror(-ret));
		return false;
	}
	return !strstr(mode, "[never]");
}

/* AnonHugePages in kB of the mapping that starts at @start (/proc/self/smaps). */
static long anon_huge_kb(const void *start)
{
	char line[256], want[32];
	bool in = false;
	long kb = -1;
	FILE *f;

	snprintf(want, sizeof(want), "%lx-", (unsigned long)start);
	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, ' ') && strchr(line, '-') < strchr(line, ' ')) {
			/* A mapping's first line: "start-end perms ...". */
			in = !strncmp(line, want, strlen(want));
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/*
 * @size bytes of anonymous memory at a 2 MiB-aligned address, so every
 * 2 MiB of guest-physical memory is one 2 MiB of host-virtual memory and
 * can be one huge page on both sides.
 */
static void *alloc_2m_aligned(size_t size)
{
	uint8_t *p = mmap(NULL, size + SZ_2M, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)p + SZ_2M - 1) & ~(SZ_2M - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	munmap((void *)(a + size), (uintptr_t)p + SZ_2M - a);
	return (void *)a;
}

TEST_F_TIMEOUT(slots, guest_writes_256m, 120)
{
	uint64_t *big, i, n = BIG_SIZE / 8, bad = 0, first_bad = 0, npf, bound;
	struct hvlab_exit_stats st0, st1;
	bool thp;
	char thp_mode[128];
	struct timespec t0;
	struct ucall uc;
	long huge_kb;

	HVT_SKIPPED_IN_SETUP();
	big = alloc_2m_aligned(BIG_SIZE);
	ASSERT_NE(NULL, big);
	thp = thp_possible(thp_mode, sizeof(thp_mode));
	if (thp)
		EXPECT_EQ(0, madvise(big, BIG_SIZE, MADV_HUGEPAGE)) TH_LOG("madvise: %s", strerror(errno));
	ASSERT_EQ(0, set_slot(self->vm, 0, BIG_GPA, BIG_SIZE, big));
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, (void *)guest_fill, BIG_GPA, BIG_SIZE));

	ASSERT_EQ(0, ioctl(self->vcpu->fd, HVLAB_GET_EXIT_STATS, &st0));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(n, uc.args[0]);
	TH_LOG("guest wrote 256 MiB in %llu ms", (unsigned long long)ms_since(&t0));
	ASSERT_EQ(0, ioctl(self->vcpu->fd, HVLAB_GET_EXIT_STATS, &st1));

	/*
	 * Nested page faults of the fill (its code, stack and page tables
	 * too: a few dozen): one per 2 MiB that is a huge page on the host,
	 * one per 4 KiB of the rest.  256 MiB in 4 KiB pages would be 65536.
	 */
	npf = st1.count[HVLAB_STAT_NESTED_PAGE_FAULT] - st0.count[HVLAB_STAT_NESTED_PAGE_FAULT];
	huge_kb = anon_huge_kb(big);
	TH_LOG("THP '%s'; AnonHugePages %ld kB of %llu; %llu nested page faults",
	       thp_mode, huge_kb, (unsigned long long)BIG_SIZE >> 10, (unsigned long long)npf);
	if (huge_kb > 0 && hvt_nested_4k_only()) {
		TH_LOG("SKIP the 2 MiB bound: hvlab maps 4 KiB only on this CPU (itlb_multihit)");
	} else if (huge_kb > 0) {
		bound = (BIG_SIZE - ((uint64_t)huge_kb << 10)) / HVT_PAGE_SIZE +
			((uint64_t)huge_kb << 10) / SZ_2M + 512;
		EXPECT_GE(bound, npf) TH_LOG("%ld kB were huge pages: at most %llu faults expected",
					     huge_kb, (unsigned long long)bound);
		/* (All but 8 MiB huge: the bound above is below 4096 anyway.) */
		if ((uint64_t)huge_kb << 10 >= BIG_SIZE - (8ull << 20)) {
			EXPECT_GT(4096u, npf) TH_LOG("2 MiB nested pages were not used");
		}
	} else {
		TH_LOG("SKIP the 2 MiB bound: %s", !thp ? "THP is off" :
		       huge_kb == 0 ? "the host gave no huge pages" : "no AnonHugePages in smaps");
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		if (big[i] != (BIG_GPA + i * 8) * BIG_SEED) {
			if (!bad++)
				first_bad = i;
		}
	}
	TH_LOG("userspace checked it in %llu ms", (unsigned long long)ms_since(&t0));
	EXPECT_EQ(0u, bad) TH_LOG("first wrong qword at gpa %#llx: %#llx",
				  (unsigned long long)(BIG_GPA + first_bad * 8),
				  (unsigned long long)big[first_bad]);

	big[0] = 1;
	big[n - 1] = 2;
	big[n / 2] = 3;
	HVT_RUN_EXPECT_SYNC(self->vcpu, 6);
	HVT_RUN_EXPECT_DONE(self->vcpu);
	/* Delete it while its pages are mapped in the nested tables, then free the memory. */
	EXPECT_EQ(0, set_slot(self->vm, 0, BIG_GPA, 0, big));
	munmap(big, BIG_SIZE);
}

TEST_HARNESS_MAIN
