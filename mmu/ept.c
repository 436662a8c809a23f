// SPDX-License-Identifier: GPL-2.0
/*
 * ept.c - Intel extended page table entries (SDM Vol. 3C 29.3.2).
 *
 * An EPT entry is present when any of bits 2:0 (read, write, execute) is
 * set (29.3.2).  Tables are always RWX so the leaf alone decides; leaves
 * carry the memory type in bits 5:3.  Write without read is an EPT
 * misconfiguration (29.3.3.1), so read-only leaves are R+X.
 *
 * Ordinary RAM is write-back with "ignore PAT" (bit 6): the guest's PAT
 * cannot make the host's memory uncached or write-combining behind the
 * host's back (aliasing a host WB page with a
 * different type, SDM Vol. 3A 13.12.4, and slowing the host's accesses),
 * and guest RAM is cached as the host caches it (29.3.7.2).  KVM does the
 * same when the VM has no non-coherent DMA (vmx_get_mt_mask(): WB | IPAT);
 * hvlab never has any (no device assignment).
 *
 * An HVLAB_MEM_UNCACHED slot gets memory type UC with "ignore PAT" (bit 6):
 * with IPAT=0 the EPT type would be combined with the guest's PAT type as
 * an MTRR type is (29.3.7.2, Vol. 3A Table 13-7), and a guest PAT type of
 * WC would then win over UC; with IPAT=1 the EPT type alone counts.
 */
#include <asm/vmx.h>

#include "mmu.h"

#define EPT_R		BIT_ULL(0)
#define EPT_W		BIT_ULL(1)
#define EPT_X		BIT_ULL(2)
#define EPT_MT_UC	(0ULL << 3)	/* memory type in leaves, 29.3.7 */
#define EPT_MT_WB	(6ULL << 3)
#define EPT_IPAT	BIT_ULL(6)	/* ignore the guest's PAT (29.3.7.2) */
#define EPT_LARGE	BIT_ULL(7)	/* level 2: maps 2 MiB (Table 29-4) */

/* hvlab always uses 4-level EPT (EPTP bits 5:3 = 3, 25.6.11). */
static unsigned int ept_levels(void)
{
	return 4;
}

/*
 * 2 MiB leaves need IA32_VMX_EPT_VPID_CAP bit 16 (SDM Vol. 3C A.10); every
 * CPU with unrestricted guest has it, and vmx.c refuses to load without it.
 */
const struct hv_mmu_format hv_ept_format = {
	.name		= "EPT",
	.present	= EPT_R | EPT_W | EPT_X,
	.table		= EPT_R | EPT_W | EPT_X,
	.leaf		= EPT_R | EPT_X,
	.writable	= EPT_W,
	.cached		= EPT_MT_WB | EPT_IPAT,
	.uncached	= EPT_MT_UC | EPT_IPAT,
	.large		= EPT_LARGE,
	.levels		= ept_levels,
};
