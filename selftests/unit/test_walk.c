// SPDX-License-Identifier: GPL-2.0
/*
 * test_walk.c - unit test of the guest page-table walker's reserved-bit
 * checks (mmu/walk.c), compiled into this program and run on the host.
 *
 * Page tables are built in an array standing in for guest RAM, in the
 * three formats (32-bit, PAE, 4-level), and one bit at a time is set in
 * one entry.  A bit the SDM/APM reserve there must give #PF with error
 * code P|RSVD (plus W/U/I of the access) and leave every accessed flag
 * clear (SDM Vol. 3A 4.7, 4.8); a bit that is not reserved must translate
 * as before.  The masks per format are SDM Vol. 3A Tables 4-4, 4-8 to
 * 4-11, 4-14 to 4-19 and APM Vol. 2 5.3 (KVM: __reset_rsvds_bits_mask()).
 */
#include <stdio.h>
#include <string.h>

#include "kshim.h"

typedef u64 phys_addr_t;

#include "../../mmu/walk.c"

/*
 * Guest RAM: 16 pages at GPA 0, repeated every 64 KiB (as if the address
 * lines above were not decoded), so that an address bit set in a table
 * pointer still leads to the same tables.
 */
#define RAM_PAGES	16
static u64 ram[RAM_PAGES * 512];

static int ram_read(void *ctx, u64 gpa, void *buf, unsigned int len)
{
	(void)ctx;
	gpa &= sizeof(ram) - 1;
	if (gpa + len > sizeof(ram))
		return -EFAULT;
	memcpy(buf, (char *)ram + gpa, len);
	return 0;
}

static int ram_update(void *ctx, u64 gpa, u64 old, u64 new, unsigned int size)
{
	u64 cur = 0;

	(void)ctx;
	gpa &= sizeof(ram) - 1;
	if (gpa + size > sizeof(ram))
		return -EFAULT;
	memcpy(&cur, (char *)ram + gpa, size);
	if (cur != old)
		return -EAGAIN;
	memcpy((char *)ram + gpa, &new, size);
	return 0;
}

static unsigned int num, fail;

static void check(int ok, const char *fmt, const char *a, unsigned int bit)
{
	char what[160];

	snprintf(what, sizeof(what), fmt, a, bit);
	num++;
	if (!ok)
		fail++;
	printf("%sok %u %s\n", ok ? "" : "not ", num, what);
}

/* Entries: table pages 1..4 hold the levels, page 8 is the data page. */
#define GVA		0x0000000000403000ULL	/* PML4 0, PDPT 0, PD 2, PT 3 */
#define P_RW_US		0x7ULL
#define A_BIT		0x20ULL

enum fmt { F_32, F_PAE, F_LM };
static const char *const fmt_name[] = { "32-bit", "PAE", "4-level" };

/* Build the tables for @f; returns the walk state. */
static struct hv_walk setup(enum fmt f, bool amd, unsigned int m, bool nxe)
{
	struct hv_walk w = {
		.cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_WP,
		.cpl = 0,
		.read = ram_read,
		.update = ram_update,
		.maxphyaddr = m,
		.gbpages = true,
		.pse36 = true,
		.amd = amd,
	};

	memset(ram, 0, sizeof(ram));
	if (f == F_32) {
		u32 *pd = (u32 *)&ram[1 * 512], *pt = (u32 *)&ram[2 * 512];

		w.cr3 = 0x1000;
		w.cr4 = X86_CR4_PSE;
		pd[(GVA >> 22) & 0x3ff] = 0x2000 | P_RW_US;
		pt[(GVA >> 12) & 0x3ff] = 0x8000 | P_RW_US;
		return w;
	}
	w.efer = nxe ? EFER_NX : 0;
	w.cr4 = X86_CR4_PAE;
	if (f == F_PAE) {
		w.cr3 = 0x1000;
		ram[1 * 512 + 0] = 0x2000 | 1;		/* PDPTE: P only */
	} else {
		w.efer |= EFER_LME | EFER_LMA;
		w.cr3 = 0x1000;
		ram[1 * 512 + 0] = 0x2000 | P_RW_US;	/* PML4E */
		ram[2 * 512 + 0] = 0x3000 | P_RW_US;	/* PDPTE */
	}
	/* PD at 0x3000 (LM) or 0x2000 (PAE), PT at 0x4000. */
	ram[(f == F_LM ? 3 : 2) * 512 + 2] = 0x4000 | P_RW_US;
	ram[4 * 512 + 3] = 0x8000 | P_RW_US;
	return w;
}

/* Where the entry of @level (4 PML4E ... 1 PTE) sits in ram[]. */
static u64 *entry(enum fmt f, int level)
{
	if (f == F_LM)
		return &ram[(5 - level) * 512 + (level == 2 ? 2 : level == 1 ? 3 : 0)];
	if (f == F_PAE)
		return level == 3 ? &ram[512] : level == 2 ? &ram[2 * 512 + 2] : &ram[4 * 512 + 3];
	return NULL;
}

/* Did the walk set an accessed flag (in any entry but @skip, set by the test)? */
static bool any_accessed(const u64 *skip)
{
	unsigned int i;

	for (i = 0; i < RAM_PAGES * 512; i++)
		if (&ram[i] != skip && (ram[i] & A_BIT))
			return true;
	return false;
}

/* Walk a read of GVA; 0 ok, else the error code (or ~0 for -errno). */
static u32 walk(const struct hv_walk *w, u32 access, u64 *gpa)
{
	u32 err = 0;
	int r = hv_walk_gva(w, GVA, access, gpa, &err);

	if (r < 0)
		return ~0u;
	return r == HV_WALK_FAULT ? (err ? err : 0x80000000u) : 0;
}

/*
 * Set @bit in the entry at @level of format @f and walk: expect a
 * reserved-bit fault if @rsvd, else a translation.
 */
static void one(enum fmt f, bool amd, unsigned int m, bool nxe, int level, unsigned int bit,
		bool rsvd, const char *why)
{
	struct hv_walk w = setup(f, amd, m, nxe);
	u64 gpa = 0;
	u32 err;
	char fmt[160];

	*entry(f, level) |= 1ULL << bit;
	err = walk(&w, 0, &gpa);
	snprintf(fmt, sizeof(fmt), "%%s %s level %d bit %%u (M=%u%s%s): %s", amd ? "AMD" : "Intel",
		 level, m, nxe ? ", NXE" : "", level == 2 && (*entry(f, 2) & PTE_PS) ? ", PS" : "",
		 why);
	if (rsvd)
		check(err == (X86_PF_PROT | X86_PF_RSVD) && !any_accessed(entry(f, level)), fmt,
		      fmt_name[f], bit);
	else
		check(err == 0, fmt, fmt_name[f], bit);
}

int main(void)
{
	struct hv_walk w;
	u64 gpa;
	u32 err;
	int v, level;

	printf("TAP version 13\n");

	/* The tables as built translate, with no reserved bit anywhere. */
	for (v = F_32; v <= F_LM; v++) {
		w = setup(v, false, 40, true);
		check(walk(&w, 0, &gpa) == 0 && gpa == 0x8000, "%s baseline translates (bit %u)",
		      fmt_name[v], 0);
	}

	for (v = 0; v < 2; v++) {
		bool amd = v;

		/* 4-level: bits 51:M of every entry; 52-62 are not reserved. */
		for (level = 4; level >= 1; level--) {
			one(F_LM, amd, 40, true, level, 40, true, "above MAXPHYADDR");
			one(F_LM, amd, 40, true, level, 51, true, "above MAXPHYADDR");
			one(F_LM, amd, 52, true, level, 51, false, "address bit with M=52");
			one(F_LM, amd, 40, true, level, 52, false, "bits 62:52 ignored");
			one(F_LM, amd, 40, false, level, 63, true, "XD reserved without EFER.NXE");
			one(F_LM, amd, 40, true, level, 63, false, "XD with EFER.NXE, read");
		}
		one(F_LM, amd, 40, true, 4, 7, true, "PS reserved in a PML4E");
		one(F_LM, amd, 40, true, 4, 8, amd, "bit 8 of a PML4E: MBZ on AMD only");
		one(F_LM, amd, 40, true, 3, 8, amd, "bit 8 of a non-leaf PDPE: MBZ on AMD only");
		one(F_LM, amd, 40, true, 2, 8, false, "bit 8 of a PDE: ignored");
		one(F_LM, amd, 40, true, 1, 8, false, "G in a PTE");

		/* PAE: PDPTE bits 2:1, 8:5, 63; bits 62:M of the others. */
		one(F_PAE, amd, 40, true, 3, 1, true, "PDPTE bit 1");
		one(F_PAE, amd, 40, true, 3, 2, true, "PDPTE bit 2");
		one(F_PAE, amd, 40, true, 3, 6, true, "PDPTE bit 6");
		one(F_PAE, amd, 40, true, 3, 5, !amd, "PDPTE bit 5: not checked on AMD (QEMU sets A)");
		one(F_PAE, amd, 40, true, 3, 7, true, "PDPTE bit 7");
		one(F_PAE, amd, 40, true, 3, 8, true, "PDPTE bit 8");
		one(F_PAE, amd, 40, true, 3, 3, false, "PDPTE PWT");
		one(F_PAE, amd, 40, true, 3, 9, false, "PDPTE bit 9 ignored");
		one(F_PAE, amd, 40, true, 3, 63, true, "PDPTE XD even with NXE");
		one(F_PAE, amd, 40, true, 3, 45, true, "PDPTE above MAXPHYADDR");
		for (level = 2; level >= 1; level--) {
			one(F_PAE, amd, 40, true, level, 62, true, "bits 62:M reserved in PAE");
			one(F_PAE, amd, 40, true, level, 52, true, "bits 62:M reserved in PAE");
			one(F_PAE, amd, 40, false, level, 63, true, "XD without NXE");
			one(F_PAE, amd, 40, true, level, 63, false, "XD with NXE, read");
			one(F_PAE, amd, 40, true, level, 39, false, "address bit below M");
		}
	}

	/* Large pages: 1 GiB (bits 29:13), 2 MiB (20:13). */
	w = setup(F_LM, false, 40, true);
	*entry(F_LM, 3) = 0x40000000ULL | PTE_PS | P_RW_US;
	check(walk(&w, 0, &gpa) == 0 && gpa == 0x40403000ULL, "%s 1 GiB page translates (bit %u)",
	      "4-level", 7);
	*entry(F_LM, 3) |= 1ULL << 13;
	check(walk(&w, 0, &gpa) == (X86_PF_PROT | X86_PF_RSVD), "%s 1 GiB page bit %u reserved",
	      "4-level", 13);
	*entry(F_LM, 3) = (0x40000000ULL | PTE_PS | P_RW_US) | (1ULL << 29);
	check(walk(&w, 0, &gpa) == (X86_PF_PROT | X86_PF_RSVD), "%s 1 GiB page bit %u reserved",
	      "4-level", 29);
	w.gbpages = false;
	*entry(F_LM, 3) = 0x40000000ULL | PTE_PS | P_RW_US;
	check(walk(&w, 0, &gpa) == (X86_PF_PROT | X86_PF_RSVD),
	      "%s PDPTE PS reserved without 1 GiB pages in CPUID (bit %u)", "4-level", 7);
	for (v = F_PAE; v <= F_LM; v++) {
		w = setup(v, false, 40, true);
		*entry(v, 2) = 0x200000ULL | PTE_PS | P_RW_US;
		check(walk(&w, 0, &gpa) == 0 && gpa == 0x203000, "%s 2 MiB page translates (bit %u)",
		      fmt_name[v], 7);
		*entry(v, 2) |= 1ULL << 13;
		check(walk(&w, 0, &gpa) == (X86_PF_PROT | X86_PF_RSVD), "%s 2 MiB page bit %u reserved",
		      fmt_name[v], 13);
		*entry(v, 2) = (0x200000ULL | PTE_PS | P_RW_US) | (1ULL << 20);
		check(walk(&w, 0, &gpa) == (X86_PF_PROT | X86_PF_RSVD), "%s 2 MiB page bit %u reserved",
		      fmt_name[v], 20);
	}

	/* 32-bit 4 MiB pages (Table 4-4): bit 21, and 20:(M-19) above MAXPHYADDR. */
	{
		static const struct { unsigned int m, bit; bool pse36, rsvd; const char *why; } c[] = {
			{ 40, 21, true, true, "bit 21 always" },
			{ 40, 20, true, false, "PA bit 39 with M=40" },
			{ 36, 17, true, true, "PA bit 36 with M=36" },
			{ 36, 16, true, false, "PA bit 35 with M=36" },
			{ 40, 13, false, true, "PA bit 32 without PSE-36" },
		};
		unsigned int i;
		u32 *pd;

		for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			char fmt[120];

			w = setup(F_32, false, c[i].m, false);
			w.pse36 = c[i].pse36;
			pd = (u32 *)&ram[512];
			pd[(GVA >> 22) & 0x3ff] = 0x400000 | PTE_PS | P_RW_US | (1u << c[i].bit);
			err = walk(&w, 0, &gpa);
			snprintf(fmt, sizeof(fmt), "%%s 4 MiB PDE bit %%u (M=%u%s): %s", c[i].m,
				 c[i].pse36 ? ", PSE-36" : "", c[i].why);
			check(c[i].rsvd ? err == (X86_PF_PROT | X86_PF_RSVD) : err == 0, fmt, "32-bit",
			      c[i].bit);
		}
		/* Without CR4.PSE, PS is ignored and so are those bits. */
		w = setup(F_32, false, 40, false);
		w.cr4 = 0;
		pd = (u32 *)&ram[512];
		pd[(GVA >> 22) & 0x3ff] |= PTE_PS | (1u << 21);
		check(walk(&w, 0, &gpa) == 0 && gpa == 0x8000,
		      "%s PDE bit %u ignored without CR4.PSE", "32-bit", 21);
	}

	/* The error code keeps W, U/S and I/D of the access beside P|RSVD. */
	w = setup(F_LM, false, 40, true);
	w.cpl = 3;
	*entry(F_LM, 1) |= 1ULL << 45;
	check(walk(&w, X86_PF_WRITE, &gpa) == (X86_PF_PROT | X86_PF_RSVD | X86_PF_WRITE | X86_PF_USER),
	      "%s user write: error code P|W|U|RSVD (bit %u)", "4-level", 45);
	check(walk(&w, X86_PF_INSTR, &gpa) == (X86_PF_PROT | X86_PF_RSVD | X86_PF_INSTR | X86_PF_USER),
	      "%s user fetch: error code P|U|RSVD|I (bit %u)", "4-level", 45);
	/* A not-present entry's other bits are ignored: plain not-present fault. */
	*entry(F_LM, 1) &= ~1ULL;
	check(walk(&w, 0, &gpa) == 0x80000000u || walk(&w, 0, &gpa) == X86_PF_USER,
	      "%s not-present PTE with bit %u: not-present #PF, no RSVD", "4-level", 45);

	printf("1..%u\n# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:0 error:0\n", num, num - fail, fail);
	return fail ? 1 : 0;
}
