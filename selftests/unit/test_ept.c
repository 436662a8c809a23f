// SPDX-License-Identifier: GPL-2.0
/*
 * test_ept.c - unit test of the EPT entry format (mmu/ept.c), compiled
 * into this program and run on the build host.
 *
 * The leaves mmu/mmu.c builds are the format's bits or'ed together
 * (hv_mmu_leaf(): leaf | writable? | cached or uncached | large?).  Each
 * combination is checked against the SDM: memory type and "ignore PAT"
 * (Vol. 3C 29.3.7.2: ordinary RAM write-back with IPAT, as KVM's
 * vmx_get_mt_mask() gives it without non-coherent DMA; uncached slots UC
 * with IPAT), and none of them an EPT misconfiguration (29.3.3.1: write
 * without read, memory type 2, 3 or 7).  The memory type is invisible
 * from inside a guest, so this is where it is checked.
 */
#include <stdio.h>

#include "kshim.h"

#define BIT_ULL(n)	(1ULL << (n))
typedef u64 phys_addr_t;

#include "../../mmu/ept.c"

static unsigned int pass, fail, num;

static void check(int ok, const char *what, u64 entry)
{
	num++;
	if (ok)
		pass++;
	else
		fail++;
	printf("%sok %u %s (entry %#llx)\n", ok ? "" : "not ", num, what,
	       (unsigned long long)entry);
}

int main(void)
{
	const struct hv_mmu_format *f = &hv_ept_format;
	unsigned int w, uc, large;

	printf("TAP version 13\n1..%u\n", 8 * 3);
	for (uc = 0; uc < 2; uc++) {
		for (w = 0; w < 2; w++) {
			for (large = 0; large < 2; large++) {
				u64 e = 0x12345000ULL | f->leaf | (w ? f->writable : 0) |
					(uc ? f->uncached : f->cached) | (large ? f->large : 0);
				unsigned int mt = (e >> 3) & 7;
				char what[96];

				snprintf(what, sizeof(what), "%s%s%s leaf: memory type %s",
					 uc ? "uncached" : "RAM", w ? " writable" : "",
					 large ? " 2M" : "", uc ? "UC (0)" : "WB (6)");
				check(mt == (uc ? 0 : 6), what, e);
				snprintf(what, sizeof(what), "%s%s%s leaf: ignore PAT (bit 6) set",
					 uc ? "uncached" : "RAM", w ? " writable" : "", large ? " 2M" : "");
				check(!!(e & BIT_ULL(6)), what, e);
				snprintf(what, sizeof(what), "%s%s%s leaf: no misconfiguration (29.3.3.1)",
					 uc ? "uncached" : "RAM", w ? " writable" : "", large ? " 2M" : "");
				check((e & 1) && !(mt == 2 || mt == 3 || mt == 7) &&
				      (!(e & 2) || (e & 1)) && (e & f->present), what, e);
			}
		}
	}
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:0 error:0\n", pass, fail);
	return fail ? 1 : 0;
}
