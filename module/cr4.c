// SPDX-License-Identifier: GPL-2.0
/*
 * cr4.c - which CR4 bits a guest may set, and the #GP rules of MOV to
 * CR4, for both backends' emulation of the instruction and for SET_SREGS.
 *
 * A bit is the guest's only when three things hold, as KVM decides it
 * in __cr4_reserved_bits() / kvm_is_valid_cr4(): the guest's CPUID offers
 * the feature, this CPU has it, and hvlab keeps whatever state the bit
 * makes the CPU use apart from the host's.  Every other bit is reserved
 * for this guest: MOV to CR4 setting it raises #GP(0) (SDM Vol. 2B "MOV
 * - Move to/from Control Registers", APM Vol. 3 "MOV CRn"), SET_SREGS
 * refuses it.  So a guest never turns on CET, Key Locker, FRED, UINTR,
 * LAM, PKS, SMX or VMX, whose state (MSRs, shadow stacks, key handles,
 * FRED stack levels, VMXON regions) nothing here switches or emulates.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <asm/cpufeature.h>
#include <asm/processor.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>

#include "hv.h"

/*
 * Always the guest's: architectural since the Pentium and present on
 * every x86-64 CPU (SDM Vol. 3A 2.5), and all of it state the CPU keeps
 * in CR4 itself.  KVM's CR4_RESERVED_BITS leaves the same set open
 * without looking at CPUID.  MCE: a machine check in the guest still
 * exits to the host (#MC intercepted on both vendors); PCE: RDPMC
 * exits and raises #GP (no PMU).
 */
#define HV_CR4_BASE	(X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE | \
			 X86_CR4_PSE | X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE | \
			 X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT)

/* The CPUID bits that open the other CR4 bits (SDM Vol. 2A CPUID, Table 3-8, 3-10). */
#define HV_L1_ECX_PCID		BIT(17)
#define HV_L1_ECX_XSAVE		BIT(26)
#define HV_L7_EBX_FSGSBASE	BIT(0)
#define HV_L7_EBX_SMEP		BIT(7)
#define HV_L7_EBX_SMAP		BIT(20)
#define HV_L7_ECX_UMIP		BIT(2)
#define HV_L7_ECX_PKU		BIT(3)

/*
 * The CR4 bits @vcpu may set, from its CPUID table as it is now.  Never:
 * LA57 (hvlab's guest page walker, mmu/walk.c, and the decoder's address
 * checks know 4-level paging only), VMXE and SMXE (no nesting, GETSEC
 * is #UD), and every bit of the list in the header comment.
 */
u64 hv_cr4_allowed(struct hv_vcpu *vcpu)
{
	u32 a, b1, c1, d, b7, c7;
	u64 ok = HV_CR4_BASE;

	hv_cpuid(vcpu, 1, 0, &a, &b1, &c1, &d);
	hv_cpuid(vcpu, 7, 0, &a, &b7, &c7, &d);
	/* Descriptor-table instructions at CPL > 0: a check the CPU does. */
	if ((c7 & HV_L7_ECX_UMIP) && boot_cpu_has(X86_FEATURE_UMIP))
		ok |= X86_CR4_UMIP;
	/* FS/GS bases are guest state in the VMCS/VMCB. */
	if ((b7 & HV_L7_EBX_FSGSBASE) && boot_cpu_has(X86_FEATURE_FSGSBASE))
		ok |= X86_CR4_FSGSBASE;
	/* PCIDs live inside the guest's VPID/ASID (SDM Vol. 3C 29.4.1, APM Vol. 2 15.16). */
	if ((c1 & HV_L1_ECX_PCID) && boot_cpu_has(X86_FEATURE_PCID))
		ok |= X86_CR4_PCIDE;
	/*
	 * XSAVE state is the guest's fpstate (fpu_swap_kvm_fpstate); XCR0
	 * stays the host's and XSETBV raises #GP, which a guest offered
	 * XSAVE by userspace has to live with.  Hidden by default (cpuid.c).
	 */
	if ((c1 & HV_L1_ECX_XSAVE) && boot_cpu_has(X86_FEATURE_XSAVE))
		ok |= X86_CR4_OSXSAVE;
	if ((b7 & HV_L7_EBX_SMEP) && boot_cpu_has(X86_FEATURE_SMEP))
		ok |= X86_CR4_SMEP;
	if ((b7 & HV_L7_EBX_SMAP) && boot_cpu_has(X86_FEATURE_SMAP))
		ok |= X86_CR4_SMAP;
	/* PKRU is switched around entry only where the host uses it (hv_pkru_guest_in). */
	if ((c7 & HV_L7_ECX_PKU) && cpu_feature_enabled(X86_FEATURE_OSPKE))
		ok |= X86_CR4_PKE;
	return ok;
}

/*
 * MOV to CR4 from @old to @val, with the guest's CR3 and EFER: 0, or
 * -EINVAL where the CPU raises #GP(0) (SDM Vol. 2B "MOV - Move to/from
 * Control Registers", Protected Mode and 64-Bit Mode Exceptions; SDM
 * Vol. 3A 4.10.1; APM Vol. 3 "MOV CRn").  The same checks as KVM's
 * kvm_set_cr4(), in its order.  CPL > 0 never gets here: that #GP comes
 * before the intercept on both vendors (SDM Vol. 3C 26.1.1, APM Vol. 2
 * 15.9).  What a change then needs (TLB flush, PDPTE load) is the
 * backend's, as it differs between EPT and NPT.
 */
int hv_cr4_check(struct hv_vcpu *vcpu, u64 old, u64 val, u64 cr3, u64 efer)
{
	if (val & ~vcpu->cr4_allowed)
		return -EINVAL;			/* reserved for this guest */
	if (efer & EFER_LMA) {
		/* IA-32e mode cannot leave PAE paging, nor change LA57 (never ours). */
		if (!(val & X86_CR4_PAE) || ((val ^ old) & X86_CR4_LA57))
			return -EINVAL;
	}
	/* PCIDE 0 -> 1 only in IA-32e mode and with CR3[11:0] = 0 (PCID 0). */
	if ((val & X86_CR4_PCIDE) && !(old & X86_CR4_PCIDE) &&
	    (!(efer & EFER_LMA) || (cr3 & 0xfff)))
		return -EINVAL;
	return 0;
}

