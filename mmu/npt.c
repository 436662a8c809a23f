// SPDX-License-Identifier: GPL-2.0
/*
 * npt.c - AMD nested page table entries (APM Vol. 2 15.25.5).
 *
 * NPT entries use the long-mode page-table format (APM Vol. 2 5.3.3).
 * Every nested walk is a user-mode access (15.25.5), so U/S must be set
 * at every level or the guest faults on its own RAM.
 *
 * Memory types (15.25.8): a nested leaf selects a type of the host's PAT
 * with its PAT/PCD/PWT bits, as a host page-table entry does (5.2.3 /
 * 7.8.2), and that type is combined with the guest's own (gPAT, guest
 * CR0.CD) by the rules of 15.25.8.  Ordinary RAM uses index 0, write-back
 * in the PAT Linux programs; an HVLAB_MEM_UNCACHED slot sets PCD|PWT,
 * index 3, which is UC both in Linux's PAT and in the power-on PAT.
 */
#include <asm/pgtable.h>

#include "mmu.h"

#define NPT_P		BIT_ULL(0)
#define NPT_RW		BIT_ULL(1)
#define NPT_US		BIT_ULL(2)
#define NPT_PWT		BIT_ULL(3)
#define NPT_PCD		BIT_ULL(4)
#define NPT_PS		BIT_ULL(7)	/* level 2: maps 2 MiB */

/* The host's paging depth decides the nested one (APM Vol. 2 15.25.3). */
static unsigned int npt_levels(void)
{
	return pgtable_l5_enabled() ? 5 : 4;
}

const struct hv_mmu_format hv_npt_format = {
	.name		= "NPT",
	.present	= NPT_P,
	.table		= NPT_P | NPT_RW | NPT_US,
	.leaf		= NPT_P | NPT_US,
	.writable	= NPT_RW,
	.cached		= 0,
	.uncached	= NPT_PCD | NPT_PWT,
	.large		= NPT_PS,
	.levels		= npt_levels,
};
