/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mmu.h - guest-physical to host-physical tables (EPT or NPT), and the
 * guest page-table walker.
 *
 * One builder walks and fills a 4- or 5-level radix tree; a small format
 * table says how entries look for the vendor (ept.c, npt.c).  Nothing here
 * knows about VMCS or VMCB, locks, slots or the VMM's memory: the core
 * (module/gmem.c) decides what to map and serializes the calls, and the
 * backend hands hv_mmu_root_pa() to the hardware.
 *
 * The leaves hold no reference on the pages they map: the core keeps
 * them in step with the VMM's page tables through an MMU notifier and
 * removes a leaf (hv_mmu_zap_step, then a TLB flush) before the host may
 * free or move its page.
 */
#ifndef HVLAB_MMU_H
#define HVLAB_MMU_H

#include <linux/types.h>
#include <linux/list.h>
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

#define HV_MMU_MAX_LEVELS	5

struct hv_mmu {
	const struct hv_mmu_format *fmt;
	u64 *root;			/* top-level table */
	unsigned int levels;		/* 4 or 5 */
	/*
	 * Zeroed table pages allocated ahead by hv_mmu_topup(), where
	 * sleeping is allowed, for hv_mmu_map*(), which runs under the
	 * core's table spinlock: a fill needs at most levels - 1 new tables.
	 */
	void *cache[HV_MMU_MAX_LEVELS];
	unsigned int nr_cache;
	/*
	 * The last level-1 table a walk reached and the 2 MiB it covers:
	 * faults come in runs through the same 2 MiB, and then the walk
	 * from the root is skipped.  Reset whenever tables are detached.
	 */
	u64 *last_pt;
	u64 last_pt_2m;
};

/*
 * Calling rules.  init/destroy: nothing else uses the tables.  topup: may
 * sleep, and is serialized with the map calls by the caller.  map, zap,
 * detach: under the caller's table lock (they do not sleep); a zap or
 * detach must be followed by a TLB flush of every CPU that may hold
 * translations from these tables before the host reuses the pages, and
 * detached tables are freed only after that flush.
 */
int hv_mmu_init(struct hv_mmu *mmu, const struct hv_mmu_format *fmt);
void hv_mmu_destroy(struct hv_mmu *mmu);
int hv_mmu_topup(struct hv_mmu *mmu);

/* How a leaf maps its page (@prot of hv_mmu_map*): */
#define HV_MMU_WRITABLE		BIT(0)	/* guest writes allowed */
#define HV_MMU_UNCACHED		BIT(1)	/* uncacheable for the guest (HVLAB_MEM_UNCACHED) */
/*
 * Map host page frame @pfn at @gpa with a 4 KiB leaf.  Returns 0, -EEXIST
 * if something is mapped there already, or -ENOMEM (no topped-up table).
 */
int hv_mmu_map(struct hv_mmu *mmu, u64 gpa, unsigned long pfn, unsigned int prot);
/*
 * Map the 512 frames from the 2 MiB-aligned @pfn at the 2 MiB-aligned @gpa
 * with one level-2 leaf.  -EEXIST if a leaf or a level-1 table is there.
 */
int hv_mmu_map_2m(struct hv_mmu *mmu, u64 gpa, unsigned long pfn, unsigned int prot);
/*
 * Remove the leaves that map any of [@start, @end), from @start on, one
 * step at a time: the caller may drop its lock between steps (each walks
 * from the root again).  A 2 MiB leaf that overlaps the range goes whole.
 * Returns where the next step starts (>= @end: done); sets *@zapped when
 * a leaf went.  Tables stay (only a detach frees them).
 */
u64 hv_mmu_zap_step(struct hv_mmu *mmu, u64 start, u64 end, bool *zapped);
/*
 * Empty the root: everything below it moves to @detached (a list of the
 * root's former child tables), for hv_mmu_free_detached() after the
 * flush.  Returns true if anything was mapped.
 */
bool hv_mmu_detach_all(struct hv_mmu *mmu, struct list_head *detached);
/* Free detached tables; may sleep (reschedules between tables). */
void hv_mmu_free_detached(struct hv_mmu *mmu, struct list_head *detached);

#define HV_MMU_2M		(1ULL << 21)
#define HV_MMU_2M_PAGES		512
phys_addr_t hv_mmu_root_pa(const struct hv_mmu *mmu);

/*
 * The guest page-table walker (walk.c) reads guest memory only through
 * the access functions it is handed, so that mmu/ stays below the core:
 * @read copies @len bytes at guest-physical @gpa into @buf, 0 or -errno;
 * @update replaces the @size-byte paging entry at @gpa with @new if it
 * still holds @old (atomically: the guest's other vCPUs may be writing
 * it), 0 done, -EAGAIN it changed (walk again), or -errno.
 *
 * @cpl, @rflags (AC) and @pkru are what the permission checks need; the
 * caller fills them from the vCPU's current state.
 */
struct hv_walk {
	u64 cr0, cr3, cr4, efer;
	u64 rflags;
	u32 pkru;
	u8 cpl;
	/*
	 * What the reserved-bit checks need (walk.c): the guest's
	 * MAXPHYADDR (CPUID 8000_0008h EAX[7:0]), whether its CPUID offers
	 * 1 GiB pages (8000_0001h EDX[26]) and PSE-36 (01h EDX[17]), and
	 * whether the CPU is AMD's (bit 8 of non-leaf PML4Es and PDPEs).
	 */
	u8 maxphyaddr;
	bool gbpages, pse36, amd;
	int (*read)(void *ctx, u64 gpa, void *buf, unsigned int len);
	int (*update)(void *ctx, u64 gpa, u64 old, u64 new, unsigned int size);
	void *ctx;
};

/*
 * What the access is, in the bits of the #PF error code (<asm/trap_pf.h>,
 * SDM Vol. 3A 4.7): X86_PF_WRITE, X86_PF_INSTR; user or supervisor mode
 * follows from @cpl, except that HV_WALK_IMPLICIT makes it a supervisor
 * access at any CPL (descriptor tables, TSS: SDM Vol. 3A 4.6.1).
 * HV_WALK_PROBE checks without setting accessed/dirty bits.
 */
#define HV_WALK_IMPLICIT	(1u << 30)
#define HV_WALK_PROBE		(1u << 31)

/* hv_walk_gva() found the access not allowed: *@pf_error says why. */
#define HV_WALK_FAULT		1

/*
 * Translate @gva for an access of kind @access.  0 with *@gpa,
 * HV_WALK_FAULT with the #PF error code the CPU would push in *@pf_error
 * (CR2 is @gva), or -errno when a paging structure is not guest RAM.
 */
int hv_walk_gva(const struct hv_walk *w, u64 gva, u32 access, u64 *gpa, u32 *pf_error);

#endif /* HVLAB_MMU_H */
