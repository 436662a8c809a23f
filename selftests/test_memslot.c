// SPDX-License-Identifier: GPL-2.0
/*
 * test_memslot.c - HVLAB_SET_MEMORY_REGION: every refusal with its errno,
 * add/move/delete semantics, and "a failed call changes nothing".
 *
 * Most tests end with region_unchanged(): after a refused call, the slot
 * and range the call named must still be free, so adding them succeeds.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hvtest.h"

#define MEM_SIZE	(64 * HVT_PAGE_SIZE)
#define GPA		0x100000ull		/* where the "good" region goes */
#define SIZE		(4 * HVT_PAGE_SIZE)

FIXTURE(memslot) {
	int sys_fd, vm_fd;
	unsigned int max_slots, gpa_bits;
	uint8_t *mem;		/* MEM_SIZE bytes of untouched anonymous memory */
	struct hvlab_memory_region good;
};

FIXTURE_SETUP(memslot)
{
	int ret;

	self->sys_fd = self->vm_fd = -1;
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	self->vm_fd = hvt_open_vm(&self->sys_fd);
	ASSERT_LE(0, self->vm_fd) TH_LOG("open VM: %s", strerror(-self->vm_fd));
	ret = hvt_cap(self->sys_fd, HVLAB_CAP_MAX_MEM_SLOTS);
	ASSERT_LT(1, ret);
	self->max_slots = ret;
	ret = hvt_cap(self->sys_fd, HVLAB_CAP_MAX_GPA_BITS);
	ASSERT_LE(36, ret);
	self->gpa_bits = ret;
	self->mem = hvt_alloc_guest_mem(MEM_SIZE);
	ASSERT_NE(NULL, self->mem);
	self->good = (struct hvlab_memory_region) {
		.slot = 0,
		.guest_phys_addr = GPA,
		.memory_size = SIZE,
		.userspace_addr = (uintptr_t)self->mem,
	};
}

FIXTURE_TEARDOWN(memslot)
{
	hvt_close(&self->vm_fd);
	hvt_close(&self->sys_fd);
	if (self->mem)
		munmap(self->mem, MEM_SIZE);
}

static int set(FIXTURE_DATA(memslot) *self, const struct hvlab_memory_region *r)
{
	return hvlab_set_memory_region(self->vm_fd, r);
}

/*
 * After a refused add, the slot must still be empty (deleting it says
 * -ENOENT) and the good region can go in: the failure changed nothing.
 */
#define region_unchanged(slot_) do {					\
	struct hvlab_memory_region __r = self->good;			\
	__r.slot = (slot_);						\
	__r.memory_size = 0;						\
	ASSERT_EQ(-ENOENT, set(self, &__r)) TH_LOG("slot %u not empty", __r.slot); \
	__r.memory_size = SIZE;						\
	ASSERT_EQ(0, set(self, &__r)) TH_LOG("good region after refusal"); \
} while (0)

/* --- refusals of a single call: each one errno ------------------------- */

TEST_F(memslot, slot_eq_max_einval)
{
	struct hvlab_memory_region r = self->good;

	r.slot = self->max_slots;
	ASSERT_EQ(-EINVAL, set(self, &r));
	region_unchanged(0);
}

TEST_F(memslot, slot_huge_einval)
{
	struct hvlab_memory_region r = self->good;

	r.slot = 0xffffffff;
	ASSERT_EQ(-EINVAL, set(self, &r));
	r.slot = 0x80000000;
	ASSERT_EQ(-EINVAL, set(self, &r));
	region_unchanged(0);
}

TEST_F(memslot, flags_unknown_einval)
{
	struct hvlab_memory_region r = self->good;
	unsigned int bit;

	for (bit = 0; bit < 32; bit++) {
		if (HVLAB_MEM_FLAGS_ALL & (1u << bit))
			continue;
		r.flags = 1u << bit;
		EXPECT_EQ(-EINVAL, set(self, &r)) TH_LOG("flag bit %u", bit);
	}
	region_unchanged(0);
}

TEST_F(memslot, reserved0_einval)
{
	struct hvlab_memory_region r = self->good;

	r.reserved[0] = 1;
	ASSERT_EQ(-EINVAL, set(self, &r));
	region_unchanged(0);
}

TEST_F(memslot, reserved1_einval)
{
	struct hvlab_memory_region r = self->good;

	r.reserved[1] = 1ull << 63;
	ASSERT_EQ(-EINVAL, set(self, &r));
	region_unchanged(0);
}

TEST_F(memslot, gpa_unaligned_einval)
{
	struct hvlab_memory_region r = self->good;

	r.guest_phys_addr += 0x800;
	ASSERT_EQ(-EINVAL, set(self, &r));
	r.guest_phys_addr = GPA + 1;
	ASSERT_EQ(-EINVAL, set(self, &r));
	region_unchanged(0);
}

TEST_F(memslot, size_unaligned_einval)
{
	struct hvlab_memory_region r = self->good;

	r.memory_size = SIZE - 1;
	ASSERT_EQ(-EINVAL, set(self, &r));
	r.memory_size = 0x800;
	ASSERT_EQ(-EINVAL, set(self, &r));
	region_unchanged(0);
}

TEST_F(memslot, uaddr_unaligned_einval)
{
	struct hvlab_memory_region r = self->good;

	r.userspace_addr += 0x800;
	ASSERT_EQ(-EINVAL, set(self, &r));
	region_unchanged(0);
}

TEST_F(memslot, gpa_wraps_einval)
{
	struct hvlab_memory_region r = self->good;

	r.guest_phys_addr = 0xfffffffffffff000ull;
	r.memory_size = 2 * HVT_PAGE_SIZE;
	ASSERT_EQ(-EINVAL, set(self, &r));
	region_unchanged(0);
}

/* The whole range must lie below 1 << MAX_GPA_BITS; its last page may. */
TEST_F(memslot, gpa_beyond_width_einval)
{
	uint64_t top = 1ull << self->gpa_bits;
	struct hvlab_memory_region r = self->good;

	r.guest_phys_addr = top;
	r.memory_size = HVT_PAGE_SIZE;
	EXPECT_EQ(-EINVAL, set(self, &r)) TH_LOG("starts at 1 << %u", self->gpa_bits);
	r.guest_phys_addr = top - HVT_PAGE_SIZE;
	r.memory_size = 2 * HVT_PAGE_SIZE;
	EXPECT_EQ(-EINVAL, set(self, &r)) TH_LOG("straddles 1 << %u", self->gpa_bits);
	r.guest_phys_addr = 1ull << 63;
	r.memory_size = HVT_PAGE_SIZE;
	EXPECT_EQ(-EINVAL, set(self, &r)) TH_LOG("bit 63");
	region_unchanged(0);

	/* Boundary: the last page below the limit is a valid place. */
	r.slot = 1;
	r.guest_phys_addr = top - HVT_PAGE_SIZE;
	r.memory_size = HVT_PAGE_SIZE;
	ASSERT_EQ(0, set(self, &r)) TH_LOG("last page below 1 << %u", self->gpa_bits);
}

TEST_F(memslot, uaddr_kernel_efault)
{
	struct hvlab_memory_region r = self->good;

	r.userspace_addr = 0xffff800000000000ull;
	ASSERT_EQ(-EFAULT, set(self, &r));
	r.userspace_addr = 0xffffffff81000000ull;
	ASSERT_EQ(-EFAULT, set(self, &r));
	region_unchanged(0);
}

TEST_F(memslot, uaddr_wraps_efault)
{
	struct hvlab_memory_region r = self->good;

	r.userspace_addr = 0xfffffffffffff000ull;
	r.memory_size = 2 * HVT_PAGE_SIZE;
	ASSERT_EQ(-EFAULT, set(self, &r));
	region_unchanged(0);
}

/*
 * A range that starts at the last user page of a 5-level (LA57) address
 * space and runs past it is outside user space with 4 or 5 levels.
 */
TEST_F(memslot, uaddr_past_user_end_efault)
{
	struct hvlab_memory_region r = self->good;

	r.userspace_addr = (1ull << 56) - HVT_PAGE_SIZE;
	r.memory_size = 2 * HVT_PAGE_SIZE;
	ASSERT_EQ(-EFAULT, set(self, &r));
	region_unchanged(0);
}

TEST_F(memslot, null_arg_efault)
{
	ASSERT_EQ(-EFAULT, hvlab_set_memory_region(self->vm_fd, NULL));
	region_unchanged(0);
}

/* The struct ends in an unmapped page. */
TEST_F(memslot, arg_crosses_into_unmapped_efault)
{
	uint8_t *p = mmap(NULL, 2 * HVT_PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct hvlab_memory_region *r;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + HVT_PAGE_SIZE, HVT_PAGE_SIZE));
	r = (void *)(p + HVT_PAGE_SIZE - 16);
	memcpy(r, &self->good, 16);
	ASSERT_EQ(-EFAULT, hvlab_set_memory_region(self->vm_fd, r));
	munmap(p, HVT_PAGE_SIZE);
	region_unchanged(0);
}

TEST_F(memslot, delete_empty_enoent)
{
	struct hvlab_memory_region r = self->good;

	r.memory_size = 0;
	ASSERT_EQ(-ENOENT, set(self, &r));
	r.slot = self->max_slots - 1;
	ASSERT_EQ(-ENOENT, set(self, &r));
	region_unchanged(0);
}

/* --- overlaps ----------------------------------------------------------- */

/* Slot 0 holds [GPA, GPA + SIZE); each variant puts slot 1 somewhere. */
FIXTURE(overlap) {
	int sys_fd, vm_fd;
	uint8_t *mem;
};

FIXTURE_VARIANT(overlap) {
	int64_t start;		/* slot 1 start, relative to GPA, in pages */
	uint64_t pages;		/* slot 1 size in pages */
	int err;		/* expected result */
};

FIXTURE_VARIANT_ADD(overlap, same_range)	{ .start = 0,  .pages = 4, .err = -EEXIST };
FIXTURE_VARIANT_ADD(overlap, overlaps_start)	{ .start = -2, .pages = 4, .err = -EEXIST };
FIXTURE_VARIANT_ADD(overlap, overlaps_end)	{ .start = 3,  .pages = 4, .err = -EEXIST };
FIXTURE_VARIANT_ADD(overlap, contains)		{ .start = -1, .pages = 8, .err = -EEXIST };
FIXTURE_VARIANT_ADD(overlap, inside)		{ .start = 1,  .pages = 1, .err = -EEXIST };
FIXTURE_VARIANT_ADD(overlap, last_page)		{ .start = 3,  .pages = 1, .err = -EEXIST };
/* Touching is not overlapping. */
FIXTURE_VARIANT_ADD(overlap, adjacent_below)	{ .start = -4, .pages = 4, .err = 0 };
FIXTURE_VARIANT_ADD(overlap, adjacent_above)	{ .start = 4,  .pages = 4, .err = 0 };

FIXTURE_SETUP(overlap)
{
	self->sys_fd = self->vm_fd = -1;
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	self->vm_fd = hvt_open_vm(&self->sys_fd);
	ASSERT_LE(0, self->vm_fd);
	self->mem = hvt_alloc_guest_mem(MEM_SIZE);
	ASSERT_NE(NULL, self->mem);
	ASSERT_EQ(0, hvt_set_region(self->vm_fd, 0, 0, GPA, SIZE,
				    (uintptr_t)self->mem));
}

FIXTURE_TEARDOWN(overlap)
{
	hvt_close(&self->vm_fd);
	hvt_close(&self->sys_fd);
	if (self->mem)
		munmap(self->mem, MEM_SIZE);
}

TEST_F(overlap, add_second_slot)
{
	uint64_t gpa = GPA + variant->start * (int64_t)HVT_PAGE_SIZE;
	uint64_t size = variant->pages * HVT_PAGE_SIZE;
	uintptr_t uaddr = (uintptr_t)self->mem + 8 * HVT_PAGE_SIZE;

	ASSERT_EQ(variant->err, hvt_set_region(self->vm_fd, 1, 0, gpa, size, uaddr))
		TH_LOG("slot 1 at [%#llx, %#llx) vs slot 0 at [%#llx, %#llx)",
		       (unsigned long long)gpa, (unsigned long long)(gpa + size),
		       GPA, GPA + SIZE);
	if (variant->err) {
		/* Refused: slot 1 is still empty, slot 0 still in place. */
		ASSERT_EQ(-ENOENT, hvt_set_region(self->vm_fd, 1, 0, gpa, 0, uaddr));
		ASSERT_EQ(-EEXIST, hvt_set_region(self->vm_fd, 2, 0, GPA,
						  HVT_PAGE_SIZE, uaddr));
	}
	/* Deleting slot 0 frees its range for slot 1's placement. */
	ASSERT_EQ(0, hvt_set_region(self->vm_fd, 0, 0, GPA, 0, (uintptr_t)self->mem));
	if (variant->err) {
		ASSERT_EQ(0, hvt_set_region(self->vm_fd, 1, 0, gpa, size, uaddr));
	}
}

/* --- changes to an existing slot -------------------------------------- */

TEST_F(memslot, resize_einval)
{
	struct hvlab_memory_region r = self->good;

	ASSERT_EQ(0, set(self, &r));
	r.memory_size = 2 * SIZE;
	ASSERT_EQ(-EINVAL, set(self, &r));
	r.memory_size = SIZE / 2;
	ASSERT_EQ(-EINVAL, set(self, &r));
	/* Still the original slot: a third slot cannot take its last page. */
	ASSERT_EQ(-EEXIST, hvt_set_region(self->vm_fd, 1, 0, GPA + SIZE - HVT_PAGE_SIZE,
					  HVT_PAGE_SIZE, r.userspace_addr));
	ASSERT_EQ(0, hvt_set_region(self->vm_fd, 1, 0, GPA + SIZE,
				    HVT_PAGE_SIZE, r.userspace_addr));
}

TEST_F(memslot, change_uaddr_einval)
{
	struct hvlab_memory_region r = self->good;

	ASSERT_EQ(0, set(self, &r));
	r.userspace_addr += HVT_PAGE_SIZE;
	ASSERT_EQ(-EINVAL, set(self, &r));
	/* Also when moving at the same time. */
	r.guest_phys_addr += 16 * HVT_PAGE_SIZE;
	ASSERT_EQ(-EINVAL, set(self, &r));
	/* Still at GPA. */
	ASSERT_EQ(-EEXIST, hvt_set_region(self->vm_fd, 1, 0, GPA, HVT_PAGE_SIZE,
					  r.userspace_addr));
}

TEST_F(memslot, change_flags_einval)
{
	struct hvlab_memory_region r = self->good;

	ASSERT_EQ(0, set(self, &r));
	r.flags = HVLAB_MEM_READONLY;
	ASSERT_EQ(-EINVAL, set(self, &r));
	r.flags = 0;
	r.slot = 1;
	r.guest_phys_addr = GPA + SIZE;
	r.flags = HVLAB_MEM_READONLY;
	ASSERT_EQ(0, set(self, &r));
	r.flags = 0;
	ASSERT_EQ(-EINVAL, set(self, &r));
}

TEST_F(memslot, move_onto_other_slot_eexist)
{
	struct hvlab_memory_region r = self->good;
	uint64_t other = GPA + 64 * HVT_PAGE_SIZE;

	ASSERT_EQ(0, set(self, &r));
	ASSERT_EQ(0, hvt_set_region(self->vm_fd, 1, 0, other, HVT_PAGE_SIZE,
				    r.userspace_addr + SIZE));
	r.guest_phys_addr = other - HVT_PAGE_SIZE;	/* overlaps slot 1 */
	ASSERT_EQ(-EEXIST, set(self, &r));
	r.guest_phys_addr = other;
	ASSERT_EQ(-EEXIST, set(self, &r));

	/* The failed moves changed nothing: slot 0 is still at GPA... */
	ASSERT_EQ(-EEXIST, hvt_set_region(self->vm_fd, 2, 0, GPA, HVT_PAGE_SIZE,
					  r.userspace_addr));
	/* ...and after slot 1 goes, the move succeeds. */
	ASSERT_EQ(0, hvt_set_region(self->vm_fd, 1, 0, other, 0, r.userspace_addr + SIZE));
	ASSERT_EQ(0, set(self, &r));
}

/* --- what is allowed ---------------------------------------------------- */

TEST_F(memslot, add_delete_readd)
{
	struct hvlab_memory_region r = self->good;

	ASSERT_EQ(0, set(self, &r));
	r.memory_size = 0;
	ASSERT_EQ(0, set(self, &r));
	ASSERT_EQ(-ENOENT, set(self, &r)) TH_LOG("deleted twice");
	r.memory_size = SIZE;
	ASSERT_EQ(0, set(self, &r)) TH_LOG("re-add after delete");
	/* Size 0 deletes whatever the other fields say. */
	r.memory_size = 0;
	r.guest_phys_addr = 0;
	r.userspace_addr = 0;
	ASSERT_EQ(0, set(self, &r));
	ASSERT_EQ(0, hvt_set_region(self->vm_fd, 1, 0, GPA, SIZE, (uintptr_t)self->mem))
		TH_LOG("range free after delete");
}

TEST_F(memslot, move)
{
	struct hvlab_memory_region r = self->good;
	uint64_t new_gpa = GPA + 64 * HVT_PAGE_SIZE;

	ASSERT_EQ(0, set(self, &r));
	r.guest_phys_addr = new_gpa;
	ASSERT_EQ(0, set(self, &r));
	/* The old place is free, the new one taken. */
	ASSERT_EQ(0, hvt_set_region(self->vm_fd, 1, 0, GPA, SIZE, r.userspace_addr));
	ASSERT_EQ(-EEXIST, hvt_set_region(self->vm_fd, 2, 0, new_gpa + SIZE - HVT_PAGE_SIZE,
					  HVT_PAGE_SIZE, r.userspace_addr));
}

/* Moving by less than the slot's size overlaps only the slot itself. */
TEST_F(memslot, move_overlapping_itself)
{
	struct hvlab_memory_region r = self->good;

	ASSERT_EQ(0, set(self, &r));
	r.guest_phys_addr = GPA + HVT_PAGE_SIZE;
	ASSERT_EQ(0, set(self, &r)) TH_LOG("up by one page");
	r.guest_phys_addr = GPA - HVT_PAGE_SIZE;
	ASSERT_EQ(0, set(self, &r)) TH_LOG("down by two pages");
	/* Now at [GPA - 4K, GPA + SIZE - 4K): GPA + SIZE - 4K is free. */
	ASSERT_EQ(0, hvt_set_region(self->vm_fd, 1, 0, GPA + SIZE - HVT_PAGE_SIZE,
				    HVT_PAGE_SIZE, r.userspace_addr));
	ASSERT_EQ(-EEXIST, hvt_set_region(self->vm_fd, 2, 0, GPA - HVT_PAGE_SIZE,
					  HVT_PAGE_SIZE, r.userspace_addr));
}

TEST_F(memslot, readonly)
{
	struct hvlab_memory_region r = self->good;

	r.flags = HVLAB_MEM_READONLY;
	ASSERT_EQ(0, set(self, &r));
	r.guest_phys_addr += 16 * HVT_PAGE_SIZE;
	ASSERT_EQ(0, set(self, &r)) TH_LOG("move keeps flags");
	r.memory_size = 0;
	ASSERT_EQ(0, set(self, &r));
}

/* Every slot below max_slots can hold a region at the same time. */
TEST_F(memslot, all_slots)
{
	unsigned int i;

	for (i = 0; i < self->max_slots; i++) {
		ASSERT_EQ(0, hvt_set_region(self->vm_fd, i, 0,
					    GPA + (uint64_t)i * HVT_PAGE_SIZE,
					    HVT_PAGE_SIZE, (uintptr_t)self->mem))
			TH_LOG("slot %u of %u", i, self->max_slots);
	}
	for (i = 0; i < self->max_slots; i++) {
		ASSERT_EQ(0, hvt_set_region(self->vm_fd, i, 0, 0, 0, 0))
			TH_LOG("delete slot %u", i);
	}
}

/*
 * The mapping need not be populated: a large, never-touched, no-reserve
 * mapping is accepted (the module must not fault it all in).
 */
TEST_F(memslot, unpopulated_mapping)
{
	size_t size = 1ul << 30;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	long avail_before, avail_after;

	ASSERT_NE(MAP_FAILED, p);
	avail_before = hvt_meminfo_kb("MemAvailable");
	ASSERT_EQ(0, hvt_set_region(self->vm_fd, 1, 0, 1ull << 32, size, (uintptr_t)p));
	avail_after = hvt_meminfo_kb("MemAvailable");
	TH_LOG("MemAvailable %ld -> %ld kB", avail_before, avail_after);
	/* Faulting in 1 GiB would eat far more than 64 MiB. */
	EXPECT_LT(avail_before - avail_after, 64 * 1024);
	ASSERT_EQ(0, hvt_set_region(self->vm_fd, 1, 0, 1ull << 32, 0, (uintptr_t)p));
	munmap(p, size);
}

/* Slots belong to their VM: another VM's slots neither clash nor show. */
TEST_F(memslot, per_vm)
{
	int vm2 = hvlab_create_vm(self->sys_fd, 0);

	ASSERT_LE(0, vm2);
	ASSERT_EQ(0, set(self, &self->good));
	ASSERT_EQ(0, hvlab_set_memory_region(vm2, &self->good));
	close(vm2);
	/* Closing the other VM left ours alone. */
	ASSERT_EQ(-EEXIST, hvt_set_region(self->vm_fd, 1, 0, GPA, SIZE,
					  (uintptr_t)self->mem));
}

TEST_HARNESS_MAIN
