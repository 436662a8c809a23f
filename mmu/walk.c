// SPDX-License-Identifier: GPL-2.0
/*
 * walk.c - translate a guest-linear address through the guest's own page
 * tables, for the few exits where hvlab must read guest memory by linear
 * address (instruction fetch for MMIO decoding, string operands).
 *
 * Only translation, no permission checks: the guest's access already got
 * past its own checks, or the CPU would have raised #PF instead of exiting.
 * Formats: Intel SDM Vol. 3A 4.3 (32-bit), 4.4 (PAE), 4.5 (4-level);
 * AMD APM Vol. 2 5.2-5.3.
 */
#include <linux/errno.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include "mmu.h"

#define PTE_P		BIT_ULL(0)
#define PTE_PS		BIT_ULL(7)
#define PTE_ADDR	GENMASK_ULL(51, 12)

/* Every paging-structure read goes through the caller's access path. */
static int hv_walk_read(const struct hv_walk *w, u64 gpa, u64 *entry, unsigned int size)
{
	*entry = 0;
	return w->read(w->ctx, gpa, entry, size);
}

/* 32-bit paging: two levels of 1024 4-byte entries, 4 MiB pages with PSE. */
static int hv_walk32(const struct hv_walk *w, u32 gva, u64 *gpa)
{
	u64 pde, pte;

	if (hv_walk_read(w, (w->cr3 & 0xfffff000) + ((gva >> 22) << 2), &pde, 4) ||
	    !(pde & PTE_P))
		return -EFAULT;
	if ((pde & PTE_PS) && (w->cr4 & X86_CR4_PSE)) {
		/* PSE-36: PDE bits 20:13 are address bits 39:32 (SDM Table 4-4). */
		*gpa = (pde & 0xffc00000) | (((pde >> 13) & 0xff) << 32) | (gva & 0x3fffff);
		return 0;
	}
	if (hv_walk_read(w, (pde & 0xfffff000) + (((gva >> 12) & 0x3ff) << 2), &pte, 4) ||
	    !(pte & PTE_P))
		return -EFAULT;
	*gpa = (pte & 0xfffff000) | (gva & 0xfff);
	return 0;
}

/*
 * PAE and 4-level paging share 8-byte entries and 9 bits per level; PAE
 * starts at one of four PDPTEs (CR3 bits 31:5), 4-level at the PML4.
 */
static int hv_walk64(const struct hv_walk *w, u64 gva, u64 *gpa, bool long_mode)
{
	int level = long_mode ? 4 : 3;
	u64 table, entry;

	if (long_mode)
		table = w->cr3 & PTE_ADDR;
	else
		table = w->cr3 & 0xffffffe0;

	for (; level >= 1; level--) {
		unsigned int shift = 12 + 9 * (level - 1);
		unsigned int index = (gva >> shift) & (level == 3 && !long_mode ? 3 : 511);

		if (hv_walk_read(w, table + index * 8, &entry, 8) || !(entry & PTE_P))
			return -EFAULT;
		/* 1 GiB (level 3, long mode only) and 2 MiB (level 2) pages. */
		if ((level == 2 || (level == 3 && long_mode)) && (entry & PTE_PS)) {
			u64 mask = BIT_ULL(shift) - 1;

			*gpa = (entry & PTE_ADDR & ~mask) | (gva & mask);
			return 0;
		}
		table = entry & PTE_ADDR;
	}
	*gpa = table | (gva & 0xfff);
	return 0;
}

int hv_walk_gva(const struct hv_walk *w, u64 gva, u64 *gpa)
{
	if (!(w->cr0 & X86_CR0_PG)) {
		*gpa = (u32)gva;
		return 0;
	}
	if (w->efer & EFER_LMA)
		return hv_walk64(w, gva, gpa, true);
	if (w->cr4 & X86_CR4_PAE)
		return hv_walk64(w, (u32)gva, gpa, false);
	return hv_walk32(w, gva, gpa);
}
