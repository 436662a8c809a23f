/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mmu.h - guest-physical to host-physical tables (EPT or NPT).
 *
 * One builder walks and fills a 4-level radix tree; a small format table
 * says how entries look for the vendor (ept.c, npt.c).  Nothing here knows
 * about VMCS or VMCB: the backend hands hv_mmu_root_pa() to the hardware.
 */
#ifndef HVLAB_MMU_H
#define HVLAB_MMU_H

#include <linux/types.h>
#include <linux/mm_types.h>

/*
 * Entry bits, as data: the walk runs on every nested page fault, and plain
 * masks keep indirect calls (retpolines on most hosts) out of it.
 */
struct hv_mmu_format {
	const char *name;
	u64 present;		/* any of these set: the entry is present */
	u64 table;		/* or'ed into an entry pointing at a next-level table */
	u64 leaf;		/* or'ed into every leaf: a read-only 4 KiB mapping */
	u64 writable;		/* added for a writable leaf */
	u64 cached;		/* added for ordinary RAM: the memory type write-back */
	u64 uncached;		/* instead of @cached for an HV_MMU_UNCACHED leaf */
	u64 large;		/* added for a 2 MiB leaf (level 2) */
	/* Levels the hardware walks: 4, or 5 for NPT under a 5-level host. */
	unsigned int (*levels)(void);
};

extern const struct hv_mmu_format hv_npt_format;

struct hv_mmu {
	const struct hv_mmu_format *fmt;
	u64 *root;			/* top-level table */
	unsigned int levels;		/* 4 or 5 */
	unsigned long nr_tables;	/* including the root */
	unsigned long nr_pages;		/* pinned 4 KiB guest pages mapped */
	unsigned long nr_large;		/* 2 MiB leaves */
	/*
	 * The last level-1 table a walk reached and the 2 MiB it covers:
	 * faults come in runs through the same 2 MiB, and then the walk
	 * from the root is skipped.  Reset whenever tables are freed.
	 */
	u64 *last_pt;
	u64 last_pt_2m;
};

int hv_mmu_init(struct hv_mmu *mmu, const struct hv_mmu_format *fmt);
void hv_mmu_destroy(struct hv_mmu *mmu);
/* Drop every mapping (and unpin the pages) but keep the root. */
void hv_mmu_zap_all(struct hv_mmu *mmu);
/* How a leaf maps its page (@prot of hv_mmu_map*): */
#define HV_MMU_WRITABLE		BIT(0)	/* guest writes allowed */
#define HV_MMU_UNCACHED		BIT(1)	/* uncacheable for the guest (HVLAB_MEM_UNCACHED) */
/*
 * Map one pinned 4 KiB page at @gpa.  Returns 0, -EEXIST if something is
 * mapped there already (the caller still owns its pin), or -ENOMEM.  May
 * sleep: call with interrupts on.
 */
int hv_mmu_map(struct hv_mmu *mmu, u64 gpa, struct page *page, unsigned int prot);
/*
 * Map 512 pinned, physically contiguous, 2 MiB-aligned pages at the
 * 2 MiB-aligned @gpa with one level-2 leaf.  -EEXIST if anything is mapped
 * in that range already.
 */
int hv_mmu_map_2m(struct hv_mmu *mmu, u64 gpa, struct page *first, unsigned int prot);

#define HV_MMU_2M		(1ULL << 21)
#define HV_MMU_2M_PAGES		512
phys_addr_t hv_mmu_root_pa(const struct hv_mmu *mmu);

#endif /* HVLAB_MMU_H */
