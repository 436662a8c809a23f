// SPDX-License-Identifier: GPL-2.0
/*
 * mmu.c - build and tear down the 4-level nested page table.
 *
 * Both EPT (Intel SDM Vol. 3C 29.3.2) and NPT (AMD APM Vol. 2 15.25.5,
 * which reuses the long-mode format of 5.3) translate through levels of 512
 * entries with the next address in bits 51:12, so one walker serves both;
 * only the entry bits differ.  Guest-physical addresses stay below 2^48
 * (hv_gpa_bits), but NPT walks as many levels as the host's own paging
 * (15.25.3): five under a 5-level (LA57) host, with one used top entry.
 *
 * Leaves hold guest pages pinned with pin_user_pages(): tearing down a leaf
 * unpins its page, so the tables themselves are the record of what is
 * pinned and nothing can leak between them and a separate list.
 */
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/io.h>

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

static u64 hv_mmu_leaf(const struct hv_mmu *mmu, phys_addr_t pa, unsigned int prot, bool large)
{
	const struct hv_mmu_format *f = mmu->fmt;

	return pa | f->leaf | (prot & HV_MMU_WRITABLE ? f->writable : 0) |
	       (prot & HV_MMU_UNCACHED ? f->uncached : f->cached) | (large ? f->large : 0);
}

int hv_mmu_init(struct hv_mmu *mmu, const struct hv_mmu_format *fmt)
{
	mmu->fmt = fmt;
	mmu->levels = fmt->levels();
	mmu->root = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!mmu->root)
		return -ENOMEM;
	mmu->nr_tables = 1;
	mmu->nr_pages = 0;
	mmu->nr_large = 0;
	mmu->last_pt = NULL;
	return 0;
}

/* Free everything below @table (a level-@level table), not @table itself. */
static void hv_mmu_free_below(struct hv_mmu *mmu, u64 *table, unsigned int level)
{
	unsigned int i;

	for (i = 0; i < HV_MMU_ENTRIES; i++) {
		u64 e = table[i];

		if (!hv_mmu_present(mmu, e))
			continue;
		table[i] = 0;
		if (level == 1 || (level == 2 && (e & HV_MMU_LARGE))) {
			unsigned long pfn = (e & HV_MMU_ADDR_MASK) >> PAGE_SHIFT;
			unsigned int j, n = level == 1 ? 1 : HV_MMU_2M_PAGES;

			/* Dirty: the guest may have written them through the table. */
			for (j = 0; j < n; j++) {
				struct page *page = pfn_to_page(pfn + j);

				unpin_user_pages_dirty_lock(&page, 1, true);
			}
			if (level == 1)
				mmu->nr_pages--;
			else
				mmu->nr_large--;
		} else {
			u64 *next = hv_mmu_next(e);

			hv_mmu_free_below(mmu, next, level - 1);
			free_page((unsigned long)next);
			mmu->nr_tables--;
		}
	}
}

void hv_mmu_zap_all(struct hv_mmu *mmu)
{
	mmu->last_pt = NULL;
	if (mmu->root)
		hv_mmu_free_below(mmu, mmu->root, mmu->levels);
}

void hv_mmu_destroy(struct hv_mmu *mmu)
{
	if (!mmu->root)
		return;
	hv_mmu_zap_all(mmu);
	free_page((unsigned long)mmu->root);
	mmu->root = NULL;
	mmu->nr_tables = 0;
}

/* The table at @level that translates @gpa, allocating the ones above it. */
static u64 *hv_mmu_table(struct hv_mmu *mmu, u64 gpa, unsigned int level)
{
	u64 *table = mmu->root;
	unsigned int l;

	for (l = mmu->levels; l > level; l--) {
		u64 *e = &table[hv_mmu_index(gpa, l)];

		if (!hv_mmu_present(mmu, *e)) {
			u64 *next = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);

			if (!next)
				return ERR_PTR(-ENOMEM);
			mmu->nr_tables++;
			*e = virt_to_phys(next) | mmu->fmt->table;
		} else if (l == 2 && (*e & HV_MMU_LARGE)) {
			return ERR_PTR(-EEXIST);	/* a 2 MiB leaf covers it */
		}
		table = hv_mmu_next(*e);
	}
	return table;
}

int hv_mmu_map(struct hv_mmu *mmu, u64 gpa, struct page *page, unsigned int prot)
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
	*table = hv_mmu_leaf(mmu, page_to_phys(page), prot, false);
	mmu->nr_pages++;
	return 0;
}

int hv_mmu_map_2m(struct hv_mmu *mmu, u64 gpa, struct page *first, unsigned int prot)
{
	u64 *table = hv_mmu_table(mmu, gpa, 2);

	if (IS_ERR(table))
		return PTR_ERR(table);
	table = &table[hv_mmu_index(gpa, 2)];
	if (hv_mmu_present(mmu, *table))
		return -EEXIST;		/* 4 KiB mappings (or a leaf) there already */
	*table = hv_mmu_leaf(mmu, page_to_phys(first), prot, true);
	mmu->nr_large++;
	return 0;
}

phys_addr_t hv_mmu_root_pa(const struct hv_mmu *mmu)
{
	return virt_to_phys(mmu->root);
}
