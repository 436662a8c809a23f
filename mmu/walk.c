// SPDX-License-Identifier: GPL-2.0
/*
 * walk.c - translate a guest-linear address through the guest's own page
 * tables for an access hvlab makes on the guest's behalf (instruction
 * fetch for decoding, string and MMIO operands, task switches), with the
 * permission checks the CPU would make and the accessed/dirty bits it
 * would set.
 *
 * The guest's own access got past its checks or it would have raised #PF
 * instead of exiting, but what hvlab touches is not always that access:
 * the RAM side of an MMIO MOVS, an INS destination written after the
 * port read, bytes another vCPU changed since the exit.  So every access
 * is checked as if the CPU made it.
 *
 * Formats: Intel SDM Vol. 3A 4.3 (32-bit), 4.4 (PAE), 4.5 (4-level);
 * AMD APM Vol. 2 5.2-5.3.  Access rights: SDM Vol. 3A 4.6, APM Vol. 2
 * 5.6; error code: SDM Vol. 3A 4.7, APM Vol. 2 8.4.2; accessed and dirty
 * flags: SDM Vol. 3A 4.8, APM Vol. 2 5.4.2.  KVM does the same in
 * paging_tmpl.h FNAME(walk_addr_generic), permission_fault() (mmu.h) and
 * FNAME(update_accessed_dirty_bits); the order of the checks follows them.
 * Reserved bits: SDM Vol. 3A 4.3-4.5 (Tables 4-4, 4-8 to 4-11, 4-14 to
 * 4-19), APM Vol. 2 5.3; KVM's __reset_rsvds_bits_mask().  Not done:
 * 5-level paging (cr4.c never lets a guest set CR4.LA57, so there is no
 * PML5E whose PS bit could be reserved).
 */
#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/minmax.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>
#include <asm/trap_pf.h>

#include "mmu.h"

#define PTE_P		BIT_ULL(0)
#define PTE_RW		BIT_ULL(1)
#define PTE_US		BIT_ULL(2)
#define PTE_A		BIT_ULL(5)
#define PTE_D		BIT_ULL(6)
#define PTE_PS		BIT_ULL(7)
#define PTE_XD		BIT_ULL(63)
#define PTE_ADDR	GENMASK_ULL(51, 12)
#define PTE_PKEY(e)	(((e) >> 59) & 0xf)	/* SDM Vol. 3A 4.6.2 */

/* A guest that rewrites its entries under the walk forever gets -EAGAIN. */
#define HV_WALK_RETRIES	16

/* One paging-structure entry the translation used: where, and what it held. */
struct hv_walk_step {
	u64 gpa;
	u64 val;
};

/*
 * The bits of paging-structure entry @e, read at @level, that must be 0
 * (SDM Vol. 3A 4.3-4.5, the "Reserved (must be 0)" rows of Tables 4-4,
 * 4-8 to 4-11 and 4-14 to 4-19; APM Vol. 2 5.3, the MBZ fields).  Any of
 * them set makes the CPU stop the walk with #PF, error code P and RSVD
 * (SDM Vol. 3A 4.7; APM Vol. 2 8.4.2), whatever the access rights.  KVM
 * keeps the same masks per level in __reset_rsvds_bits_mask(), from the
 * guest's CPUID as here.
 */
static u64 hv_walk_rsvd(const struct hv_walk *w, int level, bool lm, bool pae, bool nxe, u64 e)
{
	unsigned int m = clamp_t(unsigned int, w->maxphyaddr, 32, 52);
	bool ps = e & PTE_PS;
	u64 high, nx;

	if (!pae) {
		/*
		 * 32-bit paging: only a 4 MiB PDE has reserved bits.  Its
		 * bits 20:13 hold physical-address bits 39:32 up to
		 * MAXPHYADDR (at most 40 here; 32 without PSE-36), and bit 21
		 * and those above MAXPHYADDR must be 0 (Table 4-4).
		 */
		if (level == 2 && ps && (w->cr4 & X86_CR4_PSE)) {
			unsigned int m32 = w->pse36 ? min(m, 40u) : 32;

			return GENMASK_ULL(21, 13 + m32 - 32);
		}
		return 0;
	}
	/*
	 * Above MAXPHYADDR: up to bit 51 in 4-level entries (52-62 are
	 * ignored or protection keys there), up to bit 62 in PAE entries
	 * (Tables 4-8 to 4-11).  XD (bit 63) is reserved unless EFER.NXE.
	 */
	high = GENMASK_ULL(lm ? 51 : 62, m);
	nx = nxe ? 0 : PTE_XD;
	/*
	 * PAE PDPTE: bits 2:1, 8:5 and XD always (Table 4-8).  Except bit 5
	 * on AMD: QEMU's TCG walker (the AMD PC) sets the accessed flag in
	 * a legacy-PAE PDPTE as in the other levels, and checks only XD and
	 * the bits above MAXPHYADDR there, so every PAE guest that ran has
	 * bit 5 set.  Checking it would make each emulated access of such a
	 * guest fault where the CPU's own did not.  (On Intel the CPU loads
	 * PDPTEs at MOV CR3 and never writes them.)
	 */
	if (!lm && level == 3)
		return (high | PTE_XD | GENMASK_ULL(8, 5) | GENMASK_ULL(2, 1)) &
		       ~(w->amd ? PTE_A : 0);
	switch (level) {
	case 4:
		/*
		 * PML4E: PS must be 0 (Table 4-15); AMD also reserves bit 8
		 * of a PML4E (APM Vol. 2 Figure 5-18, MBZ).
		 */
		return high | nx | PTE_PS | (w->amd ? BIT_ULL(8) : 0);
	case 3:
		/*
		 * PDPTE: a 1 GiB page only where the guest's CPUID offers it
		 * (Table 4-16: bits 29:13 reserved); otherwise PS is reserved
		 * and, on AMD, bit 8 of a PDPE pointing to a directory (APM
		 * Vol. 2 Figure 5-19).
		 */
		if (ps && w->gbpages)
			return high | nx | GENMASK_ULL(29, 13);
		return high | nx | (w->gbpages ? 0 : PTE_PS) | (w->amd ? BIT_ULL(8) : 0);
	case 2:
		/* A 2 MiB page: bits 20:13 (Tables 4-10, 4-17). */
		return high | nx | (ps ? GENMASK_ULL(20, 13) : 0);
	default:
		return high | nx;
	}
}

/* Every paging-structure read goes through the caller's access path. */
static int hv_walk_read(const struct hv_walk *w, u64 gpa, u64 *entry, unsigned int size)
{
	*entry = 0;
	return w->read(w->ctx, gpa, entry, size);
}

/*
 * Is the access allowed by the combined rights of the entries (SDM Vol.
 * 3A 4.6.1; APM Vol. 2 5.6)?  @rw and @us are the AND over the levels,
 * @xd the OR (only with EFER.NXE).  Supervisor-mode accesses are those
 * at CPL < 3 and the implicit ones at any CPL; SMAP lets an explicit one
 * at CPL < 3 through with EFLAGS.AC set, never one at CPL 3 (KVM's
 * permission_fault() has the same rule).
 */
static bool hv_walk_denied(const struct hv_walk *w, u32 access, bool user,
			   bool rw, bool us, bool xd)
{
	bool wp = w->cr0 & X86_CR0_WP;

	if (access & X86_PF_INSTR) {
		if (xd)
			return true;
		/* SMEP: no supervisor fetch from a user page (4.6.1). */
		return user ? !us : us && (w->cr4 & X86_CR4_SMEP);
	}
	if (user)
		return !us || ((access & X86_PF_WRITE) && !rw);
	/* Supervisor writes honour R/W only with CR0.WP = 1. */
	if ((access & X86_PF_WRITE) && !rw && wp)
		return true;
	return us && (w->cr4 & X86_CR4_SMAP) &&
	       (w->cpl == 3 || !(w->rflags & X86_EFLAGS_AC));
}

/*
 * Protection keys (SDM Vol. 3A 4.6.2): 4-level paging only, data
 * accesses to user pages only; PKRU.AD forbids any, PKRU.WD writes in
 * user mode and, with CR0.WP, in supervisor mode.  A guest reaches this
 * only where module/cr4.c lets it set CR4.PKE: its CPUID offers PKU and
 * the host kernel uses PKRU (OSPKE).  Neither emulated PC the tests run
 * on does (QEMU 7.2 TCG, Bochs 2.7: SET_SREGS refuses CR4.PKE there), so
 * test_emul_prot's pkey case skips on both.
 */
static bool hv_walk_pkey_denied(const struct hv_walk *w, u32 access, bool user,
				bool us, u64 leaf)
{
	unsigned int k = PTE_PKEY(leaf) * 2;

	if (!(w->cr4 & X86_CR4_PKE) || !(w->efer & EFER_LMA) || !us ||
	    (access & X86_PF_INSTR))
		return false;
	if (w->pkru & BIT(k))
		return true;
	return (access & X86_PF_WRITE) && (w->pkru & BIT(k + 1)) &&
	       (user || (w->cr0 & X86_CR0_WP));
}

/*
 * Set the accessed flag of every entry used, and the dirty flag of the
 * one that maps the page for a write (SDM Vol. 3A 4.8), each by a
 * compare-and-exchange, so that a bit the guest changed meanwhile is not
 * lost: -EAGAIN then, and the caller walks again (KVM's
 * FNAME(update_accessed_dirty_bits) / walk_addr_generic's retry_walk).
 */
static int hv_walk_set_ad(const struct hv_walk *w, const struct hv_walk_step *path,
			  int n, unsigned int size, bool write)
{
	int i, err;

	for (i = 0; i < n; i++) {
		u64 new = path[i].val | PTE_A;

		if (i == n - 1 && write)
			new |= PTE_D;
		if (new == path[i].val)
			continue;
		err = w->update(w->ctx, path[i].gpa, path[i].val, new, size);
		if (err)
			return err;
	}
	return 0;
}

int hv_walk_gva(const struct hv_walk *w, u64 gva, u32 access, u64 *gpa, u32 *pf_error)
{
	bool lm = w->efer & EFER_LMA, pae = lm || (w->cr4 & X86_CR4_PAE);
	bool nxe = pae && (w->efer & EFER_NX);
	bool user = w->cpl == 3 && !(access & HV_WALK_IMPLICIT);
	unsigned int size = pae ? 8 : 4, tries = 0;
	struct hv_walk_step path[4];
	u32 err;
	int n, level, ret;

	if (!(w->cr0 & X86_CR0_PG)) {
		*gpa = (u32)gva;
		return 0;
	}
	if (!lm)
		gva = (u32)gva;

	/*
	 * The error code (SDM Vol. 3A 4.7): W and I/D say what the access
	 * was, U/S whether it was made in user mode; I/D only where fetches
	 * can fault by themselves (NXE with PAE formats, or SMEP).  P: the
	 * translation was present, the rights refused it.
	 */
	err = access & X86_PF_WRITE;
	if (user)
		err |= X86_PF_USER;
	if ((access & X86_PF_INSTR) && (nxe || (w->cr4 & X86_CR4_SMEP)))
		err |= X86_PF_INSTR;

again:
	{
		bool rw = true, us = true, xd = false;
		u64 table, e = 0, mask;

		if (lm) {
			level = 4;
			table = w->cr3 & PTE_ADDR;
		} else if (pae) {
			level = 3;
			table = w->cr3 & 0xffffffe0;
		} else {
			level = 2;
			table = w->cr3 & 0xfffff000;
		}
		for (n = 0;; level--) {
			unsigned int shift = pae ? 12 + 9 * (level - 1) : 12 + 10 * (level - 1);
			u64 index = (gva >> shift) & (!pae ? 0x3ff : level == 3 && !lm ? 3 : 511);
			u64 at = table + index * size;
			bool large;

			ret = hv_walk_read(w, at, &e, size);
			if (ret)
				return ret;
			if (!(e & PTE_P)) {
				*pf_error = err;
				return HV_WALK_FAULT;
			}
			/*
			 * A reserved bit stops the walk here, before any
			 * accessed flag is set (SDM Vol. 3A 4.7, 4.8).
			 */
			if (e & hv_walk_rsvd(w, level, lm, pae, nxe, e)) {
				*pf_error = err | X86_PF_RSVD | X86_PF_PROT;
				return HV_WALK_FAULT;
			}
			/*
			 * A PAE PDPTE carries no rights and no accessed flag
			 * (SDM Vol. 3A 4.4.1): the CPU loaded it with CR3.
			 */
			if (!pae || lm || level != 3) {
				path[n].gpa = at;
				path[n++].val = e;
				rw &= !!(e & PTE_RW);
				us &= !!(e & PTE_US);
				xd |= nxe && (e & PTE_XD);
			}
			/* 4 MiB (32-bit, CR4.PSE), 2 MiB, 1 GiB (4-level) pages. */
			large = (e & PTE_PS) &&
				(level == 2 ? pae || (w->cr4 & X86_CR4_PSE) : level == 3 && lm);
			if (level == 1 || large) {
				mask = BIT_ULL(shift) - 1;
				if (!pae && level == 2)	/* PSE-36: PDE bits 20:13 (Table 4-4) */
					*gpa = (e & 0xffc00000) | (((e >> 13) & 0xff) << 32);
				else
					*gpa = e & (pae ? PTE_ADDR : 0xfffff000) & ~mask;
				*gpa |= gva & mask;
				break;
			}
			table = e & (pae ? PTE_ADDR : 0xfffff000);
		}

		/* KVM's permission_fault() folds PK in beside the rights check. */
		if (hv_walk_pkey_denied(w, access, user, us, e))
			err |= X86_PF_PK;
		if (hv_walk_denied(w, access, user, rw, us, xd) || (err & X86_PF_PK)) {
			*pf_error = err | X86_PF_PROT;
			return HV_WALK_FAULT;
		}
	}

	if (access & HV_WALK_PROBE)
		return 0;
	ret = hv_walk_set_ad(w, path, n, size, access & X86_PF_WRITE);
	if (ret == -EAGAIN && ++tries < HV_WALK_RETRIES)
		goto again;
	return ret;
}
