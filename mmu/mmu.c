// SPDX-License-Identifier: GPL-2.0
/*
 * mmu.c - build and tear down the nested page table.
 *
 * Both EPT (Intel SDM Vol. 3C 29.3.2) and NPT (AMD APM Vol. 2 15.25.5,
 * which reuses the long-mode format of 5.3) translate through levels of 512
 * entries with the next address in bits 51:12, so one walker serves both;
 * only the entry bits differ.  Guest-physical addresses stay below 2^48
 * (hv_gpa_bits), but NPT walks as many levels as the host's own paging
 * (15.25.3): five under a 5-level (LA57) host, with one used top entry.
 *
 * The CPU walks these tables while we change them (other vCPUs run), so
 * every entry is written whole with WRITE_ONCE, a table is linked in only
 * after it is zeroed, and a table is unlinked before it is freed, which
 * happens only after the caller's TLB flush (mmu.h).  Leaves take no
 * reference on their pages (see mmu.h): a leaf removed here needs no
 * release, and nothing is pinned.
 */
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/sched.h>

#include "mmu.h"

#define HV_MMU_ENTRIES		512
#define HV_MMU_ADDR_MASK	GENMASK_ULL(51, 12)
/* Bit 7 of a level-2 entry maps a 2 MiB page in both formats (EPT, NPT PS). */
#define HV_MMU_LARGE		BIT_ULL(7)

static unsigned int hv_mmu_index(u64 gpa, unsigned int level)
{
	return (gpa >> (PAGE_SHIFT + 9 * (level - 1))) & (HV_MMU_ENTRIES - 1);
}

static u64 *hv_mmu_next(u64 entry)
{
	return phys_to_virt(entry & HV_MMU_ADDR_MASK);
}

static bool hv_mmu_present(const struct hv_mmu *mmu, u64 entry)
{
	return entry & mmu->fmt->present;
}

static u64 hv_mmu_leaf(const struct hv_mmu *mmu, unsigned long pfn, unsigned int prot, bool large)
{
	const struct hv_mmu_format *f = mmu->fmt;

	return PFN_PHYS(pfn) | f->leaf | (prot & HV_MMU_WRITABLE ? f->writable : 0) |
	       (prot & HV_MMU_UNCACHED ? f->uncached : f->cached) | (large ? f->large : 0);
}

int hv_mmu_init(struct hv_mmu *mmu, const struct hv_mmu_format *fmt)
{
	mmu->fmt = fmt;
	mmu->levels = fmt->levels();
	mmu->root = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!mmu->root)
		return -ENOMEM;
	mmu->nr_cache = 0;
	mmu->last_pt = NULL;
	return 0;
}

int hv_mmu_topup(struct hv_mmu *mmu)
{
	while (mmu->nr_cache < mmu->levels - 1) {
		void *page = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);

		if (!page)
			return -ENOMEM;
		mmu->cache[mmu->nr_cache++] = page;
	}
	return 0;
}

/*
 * Free the tables below @table (a level-@level table) and @table itself.
 * Only for tables no CPU can reach any more; leaves need nothing.  A VM's
 * tables can span many pages, so this yields the CPU between tables.
 */
static void hv_mmu_free_table(struct hv_mmu *mmu, u64 *table, unsigned int level)
{
	unsigned int i;

	for (i = 0; level > 1 && i < HV_MMU_ENTRIES; i++) {
		u64 e = table[i];

		if (hv_mmu_present(mmu, e) && !(level == 2 && (e & HV_MMU_LARGE)))
			hv_mmu_free_table(mmu, hv_mmu_next(e), level - 1);
	}
	free_page((unsigned long)table);
	cond_resched();
}

bool hv_mmu_detach_all(struct hv_mmu *mmu, struct list_head *detached)
{
	bool any = false;
	unsigned int i;

	mmu->last_pt = NULL;
	if (!mmu->root)
		return false;
	for (i = 0; i < HV_MMU_ENTRIES; i++) {
		u64 e = mmu->root[i];

		if (!hv_mmu_present(mmu, e))
			continue;
		WRITE_ONCE(mmu->root[i], 0);
		/* The table page is ours, off every LRU: its lru links the list. */
		list_add(&virt_to_page(hv_mmu_next(e))->lru, detached);
		any = true;
	}
	return any;
}

void hv_mmu_free_detached(struct hv_mmu *mmu, struct list_head *detached)
{
	struct page *page, *tmp;

	list_for_each_entry_safe(page, tmp, detached, lru) {
		list_del(&page->lru);
		hv_mmu_free_table(mmu, page_address(page), mmu->levels - 1);
	}
}

void hv_mmu_destroy(struct hv_mmu *mmu)
{
	LIST_HEAD(detached);

	if (!mmu->root)
		return;
	hv_mmu_detach_all(mmu, &detached);
	hv_mmu_free_detached(mmu, &detached);
	free_page((unsigned long)mmu->root);
	mmu->root = NULL;
	while (mmu->nr_cache)
		free_page((unsigned long)mmu->cache[--mmu->nr_cache]);
}

/* The table at @level that translates @gpa, linking in the ones above it. */
static u64 *hv_mmu_table(struct hv_mmu *mmu, u64 gpa, unsigned int level)
{
	u64 *table = mmu->root;
	unsigned int l;

	for (l = mmu->levels; l > level; l--) {
		u64 *e = &table[hv_mmu_index(gpa, l)];

		if (!hv_mmu_present(mmu, *e)) {
			u64 *next;

			if (!mmu->nr_cache)
				return ERR_PTR(-ENOMEM);
			next = mmu->cache[--mmu->nr_cache];	/* zeroed */
			WRITE_ONCE(*e, virt_to_phys(next) | mmu->fmt->table);
		} else if (l == 2 && (*e & HV_MMU_LARGE)) {
			return ERR_PTR(-EEXIST);	/* a 2 MiB leaf covers it */
		}
		table = hv_mmu_next(*e);
	}
	return table;
}

int hv_mmu_map(struct hv_mmu *mmu, u64 gpa, unsigned long pfn, unsigned int prot)
{
	u64 *table;

	if (mmu->last_pt && mmu->last_pt_2m == gpa >> 21) {
		table = mmu->last_pt;
	} else {
		table = hv_mmu_table(mmu, gpa, 1);
		if (IS_ERR(table))
			return PTR_ERR(table);
		mmu->last_pt = table;
		mmu->last_pt_2m = gpa >> 21;
	}
	table = &table[hv_mmu_index(gpa, 1)];
	if (hv_mmu_present(mmu, *table))
		return -EEXIST;
	WRITE_ONCE(*table, hv_mmu_leaf(mmu, pfn, prot, false));
	return 0;
}

int hv_mmu_map_2m(struct hv_mmu *mmu, u64 gpa, unsigned long pfn, unsigned int prot)
{
	u64 *table = hv_mmu_table(mmu, gpa, 2);

	if (IS_ERR(table))
		return PTR_ERR(table);
	table = &table[hv_mmu_index(gpa, 2)];
	if (hv_mmu_present(mmu, *table))
		return -EEXIST;		/* a level-1 table (or a leaf) there already */
	WRITE_ONCE(*table, hv_mmu_leaf(mmu, pfn, prot, true));
	return 0;
}

u64 hv_mmu_zap_step(struct hv_mmu *mmu, u64 start, u64 end, bool *zapped)
{
	u64 *table = mmu->root, stop;
	unsigned int level;

	/* Down to the level-1 table of @start, skipping what is not there. */
	for (level = mmu->levels; level >= 2; level--) {
		u64 span = 1ULL << (PAGE_SHIFT + 9 * (level - 1));
		u64 *e = &table[hv_mmu_index(start, level)];

		if (!hv_mmu_present(mmu, *e))
			return (start | (span - 1)) + 1;
		if (level == 2 && (*e & HV_MMU_LARGE)) {
			WRITE_ONCE(*e, 0);
			*zapped = true;
			return (start | (span - 1)) + 1;
		}
		table = hv_mmu_next(*e);
	}
	stop = min(end, (start | (HV_MMU_2M - 1)) + 1);
	for (; start < stop; start += PAGE_SIZE) {
		u64 *e = &table[hv_mmu_index(start, 1)];

		if (hv_mmu_present(mmu, *e)) {
			WRITE_ONCE(*e, 0);
			*zapped = true;
		}
	}
	return stop;
}

phys_addr_t hv_mmu_root_pa(const struct hv_mmu *mmu)
{
	return virt_to_phys(mmu->root);
}
