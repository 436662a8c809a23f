// SPDX-License-Identifier: GPL-2.0
/*
 * npt.c - AMD nested page table entries (APM Vol. 2 15.25.5).
 *
 * NPT entries use the long-mode page-table format (APM Vol. 2 5.3.3).
 * Every nested walk is a user-mode access (15.25.5), so U/S must be set
 * at every level or the guest faults on its own RAM.
 */
#include <asm/pgtable.h>

#include "mmu.h"

#define NPT_P		BIT_ULL(0)
#define NPT_RW		BIT_ULL(1)
#define NPT_US		BIT_ULL(2)
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
	.large		= NPT_PS,
	.levels		= npt_levels,
};
