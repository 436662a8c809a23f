// SPDX-License-Identifier: GPL-2.0
/*
 * vmcs.c - the VMCS of one vCPU: control and host fields, moving guest
 * state between hv_vcpu and the VMCS, and the VM-entry checks done in
 * software so that a refusal names its rule and its field.
 *
 * Section numbers refer to the Intel SDM Vol. 3C (2023+ editions): 25
 * "Virtual Machine Control Structures", 27 "VM Entries" (27.2 checks on
 * controls and host state, 27.3 checks on guest state), 28 "VM Exits";
 * the same sections are one lower (24, 26, 27) in older editions.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/mm.h>
#include <linux/ratelimit.h>
#include <linux/io.h>
#include <asm/tlbflush.h>
#include <asm/desc.h>
#include <asm/cpu_entry_area.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/segment.h>
#include <asm/special_insns.h>
#include <asm/traps.h>

#include "vmx.h"

/* Power-on PAT (SDM Vol. 3A 13.12.4): WB, WT, UC-, UC, twice. */
#define VMX_PAT_DEFAULT		0x0007040600070406ULL

/*
 * The eight guest segment registers, in VMCS encoding order: each field
 * family (selector, limit, access rights, base) steps by 2 (25.4.1,
 * appendix B).
 */
enum { VMX_ES, VMX_CS, VMX_SS, VMX_DS, VMX_FS, VMX_GS, VMX_LDTR, VMX_TR, VMX_NSEG };
#define VMX_SEG_SEL(i)		(GUEST_ES_SELECTOR + 2 * (i))
#define VMX_SEG_LIMIT(i)	(GUEST_ES_LIMIT + 2 * (i))
#define VMX_SEG_AR(i)		(GUEST_ES_AR_BYTES + 2 * (i))
#define VMX_SEG_BASE(i)		(GUEST_ES_BASE + 2 * (i))

static struct hvlab_segment *vmx_sreg(struct hvlab_sregs *sr, unsigned int i)
{
	struct hvlab_segment *segs[VMX_NSEG] = {
		&sr->es, &sr->cs, &sr->ss, &sr->ds, &sr->fs, &sr->gs, &sr->ldt, &sr->tr,
	};

	return segs[i];
}

/* Access rights (25.4.1, Table 25-2): descriptor bits 8-15 and 20-23, bit 16 unusable. */
static u32 vmx_seg_ar(const struct hvlab_segment *s)
{
	return s->type | s->s << 4 | s->dpl << 5 | s->present << 7 | s->avl << 12 |
	       s->l << 13 | s->db << 14 | s->g << 15 | (s->unusable ? VMX_AR_UNUSABLE : 0);
}

static void vmx_seg_from_ar(struct hvlab_segment *s, u32 ar)
{
	s->type = ar & 0xf;
	s->s = (ar >> 4) & 1;
	s->dpl = (ar >> 5) & 3;
	s->present = (ar >> 7) & 1;
	s->avl = (ar >> 12) & 1;
	s->l = (ar >> 13) & 1;
	s->db = (ar >> 14) & 1;
	s->g = (ar >> 15) & 1;
	s->unusable = !!(ar & VMX_AR_UNUSABLE);
	s->padding = 0;
}

/*
 * CR0/CR4 bits VMX forces while the guest runs (A.7, A.8): FIXED0 bits
 * must be 1, except PE and PG under unrestricted guest (25.6.2).  The
 * guest owns every other bit; these ones are masked (25.6.6), so the
 * guest reads its own value from the read shadow and a write that changes
 * one of them exits.  CR4.VMXE is masked too: it must stay 1 underneath,
 * and the guest (which has no VMX in CPUID) must read it as 0.
 */
static u64 vmx_cr0_forced(void)
{
	return vmx_caps.cr0_fixed0 & ~(u64)(X86_CR0_PE | X86_CR0_PG);
}

/*
 * CD and NW are masked as well, though nothing forces them: VM entry does
 * not load them (SDM Vol. 3C 27.3.2.1, "Loading Guest Control Registers"
 * leaves CR0.CD and CR0.NW unmodified), so the guest runs with the host's
 * (0) whatever GUEST_CR0 says, and would read 0 where the reset state has
 * CD=NW=1 (Bochs does the same).  Masked, the guest reads its own values
 * from the read shadow, and a write that changes them exits
 * (vmx_mov_to_cr0 checks NW without CD).
 */
#define VMX_CR0_SHADOW_ONLY	(X86_CR0_CD | X86_CR0_NW)

static u64 vmx_cr0_owned(void)
{
	return vmx_cr0_forced() | VMX_CR0_SHADOW_ONLY;
}

static u64 vmx_cr4_forced(void)
{
	return vmx_caps.cr4_fixed0 | X86_CR4_VMXE;
}

/*
 * The CR4 bits hvlab owns (the guest/host mask, 25.6.6): the forced ones
 * and every bit the guest may not set (module/cr4.c).  A MOV to CR4 that
 * would change one of them exits (26.1.3), so setting CET, FRED, LA57...
 * is refused with #GP in vmx_mov_to_cr4(), and the guest reads them from
 * the read shadow, which holds what it set.  The bits it may set stay its
 * own, without exits: the CPU applies their rules and, with EPT and
 * VPID, loads PDPTEs and flushes its TLB for them itself (as KVM leaves
 * CR4 guest-owned bits to the CPU, vmx_set_cr4_guest_host_mask()).
 * Before the first entry nothing is allowed yet (@cr4_allowed 0): every
 * bit is masked until vmx_sync_cr4_mask().
 */
static u64 vmx_cr4_owned(const struct vmx_vcpu *vmx)
{
	return vmx_cr4_forced() | ~vmx->cr4_allowed;
}

void vmx_set_cr0(struct vmx_vcpu *vmx, u64 cr0)
{
	vmcs_write(GUEST_CR0, (cr0 & ~(u64)VMX_CR0_SHADOW_ONLY) | vmx_cr0_forced());
	vmcs_write(CR0_READ_SHADOW, cr0);
	vmx->cr0_shadow = cr0;
}

/*
 * The CR0/CR4 the guest sees (SDM Vol. 3C 25.6.6, 26.3): its own value for every bit
 * outside the guest/host mask (GUEST_CRn; it changes those without an
 * exit), the read shadow for the bits hvlab owns.  VMCS loaded.
 */
u64 vmx_guest_cr0(struct vmx_vcpu *vmx)
{
	return (vmcs_read(GUEST_CR0) & ~vmx_cr0_owned()) | (vmx->cr0_shadow & vmx_cr0_owned());
}

u64 vmx_guest_cr4(struct vmx_vcpu *vmx)
{
	u64 owned = vmx_cr4_owned(vmx);

	return (vmcs_read(GUEST_CR4) & ~owned) | (vmx->cr4_shadow & owned);
}

void vmx_set_cr4(struct vmx_vcpu *vmx, u64 cr4)
{
	vmcs_write(GUEST_CR4, cr4 | vmx_cr4_forced());
	vmcs_write(CR4_READ_SHADOW, cr4);
	vmx->cr4_shadow = cr4;
}

/*
 * The guest's CPUID changed what it may set (HVLAB_SET_CPUID, or the first
 * entry): the guest/host mask follows, the CR4 the guest sees stays.
 * Bits the CPU cannot run a guest with (not in IA32_VMX_CR4_FIXED1, A.8)
 * stay masked.  VMCS loaded.
 */
void vmx_sync_cr4_mask(struct vmx_vcpu *vmx)
{
	u64 allowed = vmx->vcpu.cr4_allowed & vmx_caps.cr4_fixed1, cr4;

	if (likely(vmx->cr4_allowed == allowed))
		return;
	cr4 = vmx_guest_cr4(vmx);
	vmx->cr4_allowed = allowed;
	vmcs_write(CR4_GUEST_HOST_MASK, vmx_cr4_owned(vmx));
	vmx_set_cr4(vmx, cr4);
}

/* EFER and the "IA-32e mode guest" entry control move together (27.3.1.1). */
void vmx_set_efer(struct vmx_vcpu *vmx, u64 efer)
{
	vmx->efer = efer;
	vmcs_write(GUEST_IA32_EFER, efer);
	vmcs_write(VM_ENTRY_CONTROLS, vmx_caps.entry | (efer & EFER_LMA ? VM_ENTRY_IA32E_MODE : 0));
}

/*
 * Host state that depends on the CPU (25.5): Linux has a TSS, GDT and
 * SYSENTER stack per CPU, and GS base is the per-CPU area.  Written when
 * the VMCS is loaded on a new CPU.  Preemption is off.
 */
void vmx_write_host_cpu_state(struct vmx_vcpu *vmx)
{
	int cpu = smp_processor_id();
	struct desc_ptr dt;
	u64 msr;

	vmcs_write(HOST_TR_BASE, (unsigned long)&get_cpu_entry_area(cpu)->tss.x86_tss);
	native_store_gdt(&dt);
	vmcs_write(HOST_GDTR_BASE, dt.address);
	store_idt(&dt);
	vmcs_write(HOST_IDTR_BASE, dt.address);
	rdmsrq(MSR_IA32_SYSENTER_ESP, msr);
	vmcs_write(HOST_IA32_SYSENTER_ESP, msr);
	rdmsrq(MSR_GS_BASE, msr);
	vmcs_write(HOST_GS_BASE, msr);
}

/*
 * Every field hvlab relies on, written once (the contents of a fresh VMCS
 * region are undefined until written, 25.11.3).  The VMCS is current.
 */
void vmx_vmcs_init(struct vmx_vcpu *vmx)
{
	u64 msr;

	/* Controls (25.6-25.8), decided in vmx_setup_controls(). */
	vmcs_write(PIN_BASED_VM_EXEC_CONTROL, vmx_caps.pin);
	vmcs_write(CPU_BASED_VM_EXEC_CONTROL, vmx_caps.proc);
	vmx->proc = vmx_caps.proc;
	vmcs_write(SECONDARY_VM_EXEC_CONTROL, vmx_caps.proc2);
	vmcs_write(VM_EXIT_CONTROLS, vmx_caps.exit);
	vmcs_write(VM_ENTRY_CONTROLS, vmx_caps.entry);
	/*
	 * Guest exceptions stay in the guest, except #DB, #AC and #MC
	 * (exception bitmap, 25.6.3).  A #DB
	 * that exits leaves DR6 alone and reports its DR6 bits in the exit
	 * qualification (28.1, 28.2.1), so the host's DR6 never carries the
	 * guest's status and the guest's DR6 stays exact (exit.c).  A #MC
	 * is the host's (hv_host_machine_check), never the guest's.  #DB
	 * and #AC also exit because a guest can make their delivery raise
	 * them again (a breakpoint on the stack the delivery writes; a
	 * CPL 3 handler on a misaligned stack: CVE-2015-8104,
	 * CVE-2015-5307), and the CPU then loops in microcode with no exit;
	 * with the intercept each round is an exit, the RUN loop stays
	 * killable.  Both are reflected (exit.c), as KVM's
	 * handle_exception_nmi() does with the same bitmap.
	 */
	vmcs_write(EXCEPTION_BITMAP, BIT(X86_TRAP_DB) | BIT(X86_TRAP_AC) | BIT(X86_TRAP_MC));
	vmcs_write(PAGE_FAULT_ERROR_CODE_MASK, 0);
	vmcs_write(PAGE_FAULT_ERROR_CODE_MATCH, 0);
	vmcs_write(CR3_TARGET_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
	vmcs_write(TSC_OFFSET, 0);	/* the guest's TSC is the host's until it writes one */
	vmcs_write(MSR_BITMAP, page_to_phys(vmx_msr_bitmap));
	vmcs_write(CR0_GUEST_HOST_MASK, vmx_cr0_owned());
	vmx->cr4_allowed = 0;
	vmcs_write(CR4_GUEST_HOST_MASK, vmx_cr4_owned(vmx));
	if (vmx->vpid)
		vmcs_write(VIRTUAL_PROCESSOR_ID, vmx->vpid);
	/*
	 * EPTP (25.6.11): write-back paging structures, 4-level walk, no A/D
	 * flags (hvlab never reads them).
	 */
	vmx->eptp = hv_mmu_root_pa(&vmx->vcpu.vm->mmu) | VMX_EPTP_MT_WB | VMX_EPTP_PWL_4;
	vmcs_write(EPT_POINTER, vmx->eptp);

	/* Guest non-register state (25.4.2) and MSRs loaded at entry. */
	vmcs_write(VMCS_LINK_POINTER, ~0ULL);		/* no shadow VMCS, 27.3.1.5 */
	vmcs_write(GUEST_ACTIVITY_STATE, 0);		/* active */
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO, 0);
	vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmcs_write(GUEST_IA32_DEBUGCTL, 0);
	vmx->dr6 = HV_DR6_RESET;
	vmx->dr7 = HV_DR7_RESET;
	vmcs_write(GUEST_DR7, vmx->dr7);
	vmcs_write(GUEST_IA32_PAT, VMX_PAT_DEFAULT);
	vmcs_write(GUEST_SYSENTER_CS, 0);
	vmcs_write(GUEST_SYSENTER_ESP, 0);
	vmcs_write(GUEST_SYSENTER_EIP, 0);

	/*
	 * Host state that is the same for every CPU (25.5, 27.2.3): kernel
	 * CS/SS, null DS/ES/FS/GS (their selectors need RPL=0 and TI=0; the
	 * task's own are restored after the exit), TR the per-CPU TSS.
	 */
	vmcs_write(HOST_CR0, read_cr0());
	vmx->host_cr3 = __read_cr3();
	vmcs_write(HOST_CR3, vmx->host_cr3);
	vmx->host_cr4 = cr4_read_shadow();
	vmcs_write(HOST_CR4, vmx->host_cr4);
	vmcs_write(HOST_CS_SELECTOR, __KERNEL_CS);
	vmcs_write(HOST_SS_SELECTOR, __KERNEL_DS);
	vmcs_write(HOST_DS_SELECTOR, 0);
	vmcs_write(HOST_ES_SELECTOR, 0);
	vmcs_write(HOST_FS_SELECTOR, 0);
	vmcs_write(HOST_GS_SELECTOR, 0);
	vmcs_write(HOST_TR_SELECTOR, GDT_ENTRY_TSS * 8);
	vmcs_write(HOST_FS_BASE, 0);
	rdmsrq(MSR_IA32_SYSENTER_CS, msr);
	vmcs_write(HOST_IA32_SYSENTER_CS, msr);
	rdmsrq(MSR_IA32_SYSENTER_EIP, msr);
	vmcs_write(HOST_IA32_SYSENTER_EIP, msr);
	rdmsrq(MSR_EFER, msr);
	vmcs_write(HOST_IA32_EFER, msr);
	rdmsrq(MSR_IA32_CR_PAT, msr);
	vmcs_write(HOST_IA32_PAT, msr);
	vmcs_write(HOST_RIP, (unsigned long)vmx_exit_asm);
	vmx->check = true;
}

/*
 * PAE paging: CR0.PG=1, CR4.PAE=1 and not IA-32e mode (SDM Vol. 3A 4.1.1).
 * Then the CPU translates through four PDPTE registers rather than a table
 * in memory (Vol. 3A 4.4.1); with EPT a VM entry loads them from the
 * GUEST_PDPTR0-3 fields, not from guest memory (27.3.2.4), so whoever puts
 * the guest into PAE paging behind the CPU's back must fill those fields.
 */
bool vmx_pae_paging(u64 cr0, u64 cr4, u64 efer)
{
	return (cr0 & X86_CR0_PG) && (cr4 & X86_CR4_PAE) && !(efer & EFER_LMA);
}

/*
 * Reserved bits of a PAE PDPTE (SDM Vol. 3A 4.4.1, Table 4-8): 2:1, 8:5
 * and every bit from MAXPHYADDR up (bit 63 too: PDPTEs have no XD bit).
 */
static u64 vmx_pdpte_reserved(void)
{
	return GENMASK_ULL(2, 1) | GENMASK_ULL(8, 5) |
	       GENMASK_ULL(63, boot_cpu_data.x86_phys_bits);
}

static bool vmx_pdpte_ok(u64 pdpte)
{
	return !(pdpte & 1) || !(pdpte & vmx_pdpte_reserved());
}

/*
 * What a MOV to CR0/CR3/CR4 loads in PAE paging (Vol. 3A 4.4.1): the four
 * PDPTEs of the 32-byte table at CR3[31:5], read from guest memory.  If a
 * present one has a reserved bit set, the CPU loads none and raises #GP;
 * that is false here.  A table outside guest RAM reads as all ones (as a
 * read of nothing does on a PC), which fails the same way.  Sleeps: call
 * with the VMCS not loaded.
 */
bool vmx_read_pdptes(struct vmx_vcpu *vmx, u64 cr3, u64 pdpte[4])
{
	unsigned int i;
	bool ok = true;

	if (hv_read_gpa(vmx->vcpu.vm, cr3 & 0xffffffe0, pdpte, 4 * sizeof(*pdpte)))
		memset(pdpte, 0xff, 4 * sizeof(*pdpte));
	for (i = 0; i < 4; i++)
		ok &= vmx_pdpte_ok(pdpte[i]);
	return ok;
}

/* GUEST_PDPTR0-3 (25.4.2): 64-bit fields, encodings two apart.  VMCS loaded. */
void vmx_write_pdptes(const u64 pdpte[4])
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		vmcs_write(GUEST_PDPTR0 + 2 * i, pdpte[i]);
}

/*
 * hv_vcpu.sregs -> VMCS, after userspace changed them.  Runs preemptible.
 * For a PAE-paging state the PDPTEs come from guest memory, as after a
 * MOV to CR3; bad ones go into the VMCS as they are and the software
 * entry check (27.3.1.6) refuses the entry, naming the field.
 */
int vmx_load_state(struct hv_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	struct hvlab_sregs *sr = &vcpu->sregs;
	bool pae = vmx_pae_paging(sr->cr0, sr->cr4, sr->efer);
	u64 pdpte[4];
	unsigned int i;
	int err;

	if (pae)
		vmx_read_pdptes(vmx, sr->cr3, pdpte);
	err = vmx_vcpu_load(vmx);
	if (err)
		return err;
	for (i = 0; i < VMX_NSEG; i++) {
		const struct hvlab_segment *s = vmx_sreg(sr, i);

		vmcs_write(VMX_SEG_SEL(i), s->selector);
		vmcs_write(VMX_SEG_LIMIT(i), s->limit);
		vmcs_write(VMX_SEG_AR(i), vmx_seg_ar(s));
		vmcs_write(VMX_SEG_BASE(i), s->base);
	}
	vmcs_write(GUEST_GDTR_BASE, sr->gdt.base);
	vmcs_write(GUEST_GDTR_LIMIT, sr->gdt.limit);
	vmcs_write(GUEST_IDTR_BASE, sr->idt.base);
	vmcs_write(GUEST_IDTR_LIMIT, sr->idt.limit);
	vmx_set_cr0(vmx, sr->cr0);
	vmx_set_cr4(vmx, sr->cr4);
	vmcs_write(GUEST_CR3, sr->cr3);
	vmx_set_efer(vmx, sr->efer);
	if (pae)
		vmx_write_pdptes(pdpte);
	/* New state from userspace: no half-finished event or blocking survives. */
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO, 0);
	vmcs_write(GUEST_ACTIVITY_STATE, 0);
	vmx->inject_info = 0;
	vmx->check = true;
	/*
	 * A new CR0/CR3/CR4/EFER: linear and combined translations tagged
	 * with this VPID (29.4.1) may come from the old page tables, and a
	 * VM entry with VPIDs on does not drop them (27.3.2.5).  INVVPID
	 * and INVEPT before the next entry (vmx_flush).
	 */
	vmx->mmu_gen = ~0ULL;
	vmx_vcpu_put(vmx);
	/* CR2 is not in the VMCS (25.4.1): it is live in the CPU, see exit.c. */
	return 0;
}

/* VMCS -> hv_vcpu.sregs, for userspace and the MMIO decoder. */
int vmx_save_state(struct hv_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	struct hvlab_sregs *sr = &vcpu->sregs;
	unsigned int i;
	int err;

	err = vmx_vcpu_load(vmx);
	if (err)
		return err;
	for (i = 0; i < VMX_NSEG; i++) {
		struct hvlab_segment *s = vmx_sreg(sr, i);

		s->selector = vmcs_read(VMX_SEG_SEL(i));
		s->limit = vmcs_read(VMX_SEG_LIMIT(i));
		s->base = vmcs_read(VMX_SEG_BASE(i));
		vmx_seg_from_ar(s, vmcs_read(VMX_SEG_AR(i)));
	}
	/* TR is never unusable (27.3.1.2); a usable segment is present. */
	sr->tr.unusable = 0;
	sr->gdt.base = vmcs_read(GUEST_GDTR_BASE);
	sr->gdt.limit = vmcs_read(GUEST_GDTR_LIMIT);
	sr->idt.base = vmcs_read(GUEST_IDTR_BASE);
	sr->idt.limit = vmcs_read(GUEST_IDTR_LIMIT);
	sr->cr0 = vmx_guest_cr0(vmx);
	sr->cr4 = vmx_guest_cr4(vmx);
	sr->cr3 = vmcs_read(GUEST_CR3);
	sr->efer = vmcs_read(GUEST_IA32_EFER);
	/* A shadow ends with the instruction it covers: not once RIP moved past it. */
	vcpu->int_shadow = (vmcs_read(GUEST_INTERRUPTIBILITY_INFO) & VMX_BLOCKING_STI_MOVSS) &&
			   vcpu->regs.rip == vmx->exit_rip;
	vmx_vcpu_put(vmx);
	return 0;
}

/* Only the interrupt shadow of vmx_save_state(), for RUN's return. */
int vmx_save_int_shadow(struct hv_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	int err;

	err = vmx_vcpu_load(vmx);
	if (err)
		return err;
	vcpu->int_shadow = (vmcs_read(GUEST_INTERRUPTIBILITY_INFO) & VMX_BLOCKING_STI_MOVSS) &&
			   vcpu->regs.rip == vmx->exit_rip;
	vmx_vcpu_put(vmx);
	return 0;
}

/* ------------------------------------------------------------------------
 * VM-entry checks in software (SDM Vol. 3C 27.2, 27.3.1).  Bochs accepts
 * some states hardware refuses, so hvlab refuses them itself, first, with
 * the rule and the VMCS field named.  The order follows the SDM's.
 */

/* A control word against its capability (27.2.1.1): must-be-1 set, may-be-1 only. */
static bool vmx_ctl_ok(u32 val, u32 msr)
{
	u64 cap;

	rdmsrq(msr, cap);
	return (val & (u32)cap) == (u32)cap && !(val & ~(u32)(cap >> 32));
}

/* Limit vs. granularity (27.3.1.2): G=0 needs limit[31:20]=0, G=1 needs limit[11:0]=FFFh. */
static bool vmx_limit_ok(u32 limit, u32 ar)
{
	bool g = ar & BIT(15);

	if ((limit & 0xfff) != 0xfff && g)
		return false;
	if ((limit & 0xfff00000) && !g)
		return false;
	return true;
}

/* Pending debug exceptions (27.3.1.5, 25.4.2): BS, and the reserved bits. */
#define VMX_PENDING_DBG_BS		BIT_ULL(14)
#define VMX_PENDING_DBG_RESERVED	(GENMASK_ULL(11, 4) | BIT_ULL(13) | BIT_ULL(15) | \
					 GENMASK_ULL(63, 17))

/* Access-rights bits 11:8 and 31:17 are reserved (27.3.1.2). */
#define VMX_AR_RESERVED		(GENMASK(11, 8) | GENMASK(31, 17))

const char *vmx_check_vmcs(struct vmx_vcpu *vmx, u32 *field)
{
	bool true_ctls = vmx_caps.basic & BIT_ULL(55);
	u32 pin = vmcs_read(PIN_BASED_VM_EXEC_CONTROL);
	u32 proc = vmcs_read(CPU_BASED_VM_EXEC_CONTROL);
	u32 proc2 = vmcs_read(SECONDARY_VM_EXEC_CONTROL);
	u32 exit = vmcs_read(VM_EXIT_CONTROLS);
	u32 entry = vmcs_read(VM_ENTRY_CONTROLS);
	bool ia32e = entry & VM_ENTRY_IA32E_MODE;
	bool ug = proc2 & SECONDARY_EXEC_UNRESTRICTED_GUEST;
	u64 cr0 = vmcs_read(GUEST_CR0), cr4 = vmcs_read(GUEST_CR4), cr3 = vmcs_read(GUEST_CR3);
	u64 efer = vmcs_read(GUEST_IA32_EFER), pat = vmcs_read(GUEST_IA32_PAT);
	u64 rip = vmcs_read(GUEST_RIP), rflags = vmcs_read(GUEST_RFLAGS);
	u64 eptp = vmcs_read(EPT_POINTER);
	u32 intr = vmcs_read(VM_ENTRY_INTR_INFO_FIELD);
	u32 interruptibility = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);
	u32 sel[VMX_NSEG], limit[VMX_NSEG], ar[VMX_NSEG];
	u64 base[VMX_NSEG];
	bool v86 = rflags & X86_EFLAGS_VM;
	bool pe = cr0 & X86_CR0_PE;
	u64 fixed0;
	unsigned int i;

#define VMX_RULE(cond, fld, text) do {					\
		if (cond) {						\
			*field = (fld);					\
			return "SDM " text;				\
		}							\
	} while (0)

	/* 27.2.1.1: execution controls. */
	VMX_RULE(!vmx_ctl_ok(pin, true_ctls ? MSR_IA32_VMX_TRUE_PINBASED_CTLS : MSR_IA32_VMX_PINBASED_CTLS),
		 PIN_BASED_VM_EXEC_CONTROL, "27.2.1.1: pin-based controls outside IA32_VMX_PINBASED_CTLS");
	VMX_RULE(!vmx_ctl_ok(proc, true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS : MSR_IA32_VMX_PROCBASED_CTLS),
		 CPU_BASED_VM_EXEC_CONTROL, "27.2.1.1: primary controls outside IA32_VMX_PROCBASED_CTLS");
	VMX_RULE(!vmx_ctl_ok(proc2, MSR_IA32_VMX_PROCBASED_CTLS2),
		 SECONDARY_VM_EXEC_CONTROL, "27.2.1.1: secondary controls outside IA32_VMX_PROCBASED_CTLS2");
	VMX_RULE(vmcs_read(CR3_TARGET_COUNT) > 4, CR3_TARGET_COUNT, "27.2.1.1: CR3-target count above 4");
	VMX_RULE((pin & PIN_BASED_VIRTUAL_NMIS) && !(pin & PIN_BASED_NMI_EXITING),
		 PIN_BASED_VM_EXEC_CONTROL, "27.2.1.1: virtual NMIs need NMI exiting");
	VMX_RULE(ug && !(proc2 & SECONDARY_EXEC_ENABLE_EPT), SECONDARY_VM_EXEC_CONTROL,
		 "27.2.1.1: unrestricted guest needs EPT");
	VMX_RULE((proc2 & SECONDARY_EXEC_ENABLE_VPID) && vmcs_read(VIRTUAL_PROCESSOR_ID) == 0,
		 VIRTUAL_PROCESSOR_ID, "27.2.1.1: VPID 0 belongs to the host");
	VMX_RULE((eptp & VMX_EPTP_MT_MASK) != VMX_EPTP_MT_WB ||
		 (eptp & VMX_EPTP_PWL_MASK) != VMX_EPTP_PWL_4 ||
		 (eptp & GENMASK_ULL(11, 7)) || (eptp >> boot_cpu_data.x86_phys_bits),
		 EPT_POINTER, "27.2.1.1: EPTP memory type, walk length or reserved bits");
	/* 27.2.1.2, 27.2.1.3: exit and entry controls. */
	VMX_RULE(!vmx_ctl_ok(exit, true_ctls ? MSR_IA32_VMX_TRUE_EXIT_CTLS : MSR_IA32_VMX_EXIT_CTLS),
		 VM_EXIT_CONTROLS, "27.2.1.2: VM-exit controls outside IA32_VMX_EXIT_CTLS");
	VMX_RULE(!vmx_ctl_ok(entry, true_ctls ? MSR_IA32_VMX_TRUE_ENTRY_CTLS : MSR_IA32_VMX_ENTRY_CTLS),
		 VM_ENTRY_CONTROLS, "27.2.1.3: VM-entry controls outside IA32_VMX_ENTRY_CTLS");
	if (intr & INTR_INFO_VALID_MASK) {
		u32 type = intr & INTR_INFO_INTR_TYPE_MASK, vec = intr & INTR_INFO_VECTOR_MASK;
		/*
		 * Deliver-error-code (27.2.1.3): never for other types or with
		 * unrestricted guest in real mode; otherwise exactly for the
		 * vectors that push one, unless IA32_VMX_BASIC[56] lets any
		 * hardware exception go with or without.  #CP (21) pushes one
		 * only on CPUs with CET (CPUID 7: ECX[7] or EDX[20]); Bochs's
		 * Skylake-X has none and refuses it.
		 */
		bool cet = (cpuid_ecx(7) & BIT(7)) || (cpuid_edx(7) & BIT(20));
		bool any_err = vmx_caps.basic & BIT_ULL(56);
		bool err_vec = vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || (vec == 21 && cet);
		bool can_err = type == INTR_TYPE_HARD_EXCEPTION && (!ug || pe);
		bool deliver = intr & INTR_INFO_DELIVER_CODE_MASK;

		VMX_RULE(type == (1 << 8) || (type == INTR_TYPE_NMI_INTR && vec != 2) ||
			 (type == INTR_TYPE_HARD_EXCEPTION && vec > 31),
			 VM_ENTRY_INTR_INFO_FIELD, "27.2.1.3: reserved event type or vector");
		VMX_RULE(deliver ? !can_err || (!any_err && !err_vec) : can_err && !any_err && err_vec,
			 VM_ENTRY_INTR_INFO_FIELD,
			 "27.2.1.3: deliver-error-code must match the vector (21: CET only) and CR0.PE");
		VMX_RULE(intr & INTR_INFO_RESVD_BITS_MASK, VM_ENTRY_INTR_INFO_FIELD,
			 "27.2.1.3: interruption-information bits 30:12 are reserved");
	}

	/* 27.2.2, 27.2.3: host state (what vmx_vmcs_init wrote must stay legal). */
	VMX_RULE(!(exit & VM_EXIT_HOST_ADDR_SPACE_SIZE), VM_EXIT_CONTROLS,
		 "27.2.4: a 64-bit host needs the host address-space size control");
	VMX_RULE((vmcs_read(HOST_CR4) & vmx_caps.cr4_fixed0) != vmx_caps.cr4_fixed0,
		 HOST_CR4, "27.2.2: host CR4 violates IA32_VMX_CR4_FIXED0");
	VMX_RULE((vmcs_read(HOST_CS_SELECTOR) & 7) || (vmcs_read(HOST_TR_SELECTOR) & 7) ||
		 !vmcs_read(HOST_TR_SELECTOR), HOST_TR_SELECTOR,
		 "27.2.3: host CS/TR selectors need RPL=0, TI=0, TR non-null");

	/* 27.3.1.1: control registers, debug registers, MSRs. */
	fixed0 = vmx_caps.cr0_fixed0 & ~(ug ? (u64)(X86_CR0_PE | X86_CR0_PG) : 0);
	VMX_RULE((cr0 & fixed0) != fixed0 || (cr0 & ~vmx_caps.cr0_fixed1), GUEST_CR0,
		 "27.3.1.1: CR0 violates IA32_VMX_CR0_FIXED0/1");
	VMX_RULE((cr0 & X86_CR0_PG) && !pe, GUEST_CR0, "27.3.1.1: CR0.PG=1 needs CR0.PE=1");
	VMX_RULE((cr4 & vmx_caps.cr4_fixed0) != vmx_caps.cr4_fixed0 || (cr4 & ~vmx_caps.cr4_fixed1),
		 GUEST_CR4, "27.3.1.1: CR4 violates IA32_VMX_CR4_FIXED0/1");
	VMX_RULE(vmcs_read(GUEST_DR7) >> 32, GUEST_DR7, "27.3.1.1: DR7[63:32] must be zero");
	VMX_RULE(ia32e && (!(cr0 & X86_CR0_PG) || !(cr4 & X86_CR4_PAE)), GUEST_CR0,
		 "27.3.1.1: IA-32e mode guest needs CR0.PG=1 and CR4.PAE=1");
	VMX_RULE(!ia32e && (cr4 & X86_CR4_PCIDE), GUEST_CR4,
		 "27.3.1.1: CR4.PCIDE=1 needs IA-32e mode guest");
	VMX_RULE(cr3 >> boot_cpu_data.x86_phys_bits, GUEST_CR3,
		 "27.3.1.1: CR3 bits beyond MAXPHYADDR must be zero");
	VMX_RULE(!hv_canonical(vmcs_read(GUEST_SYSENTER_ESP)), GUEST_SYSENTER_ESP,
		 "27.3.1.1: IA32_SYSENTER_ESP must be canonical");
	VMX_RULE(!hv_canonical(vmcs_read(GUEST_SYSENTER_EIP)), GUEST_SYSENTER_EIP,
		 "27.3.1.1: IA32_SYSENTER_EIP must be canonical");
	for (i = 0; i < 8; i++) {
		u8 t = pat >> (8 * i);

		VMX_RULE(t == 2 || t == 3 || t > 7, GUEST_IA32_PAT,
			 "27.3.1.1: each IA32_PAT entry must be 0, 1, 4, 5, 6 or 7");
	}
	VMX_RULE(efer & ~(u64)(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX), GUEST_IA32_EFER,
		 "27.3.1.1: IA32_EFER reserved bits must be zero");
	VMX_RULE(!!(efer & EFER_LMA) != ia32e, GUEST_IA32_EFER,
		 "27.3.1.1: IA32_EFER.LMA must equal the IA-32e mode guest control");
	VMX_RULE((cr0 & X86_CR0_PG) && !!(efer & EFER_LMA) != !!(efer & EFER_LME), GUEST_IA32_EFER,
		 "27.3.1.1: with CR0.PG=1, IA32_EFER.LMA must equal LME");

	/* 27.3.1.2: segment registers (never virtual-8086 mode here: see RFLAGS). */
	for (i = 0; i < VMX_NSEG; i++) {
		sel[i] = vmcs_read(VMX_SEG_SEL(i));
		limit[i] = vmcs_read(VMX_SEG_LIMIT(i));
		ar[i] = vmcs_read(VMX_SEG_AR(i));
		base[i] = vmcs_read(VMX_SEG_BASE(i));
	}
	VMX_RULE(sel[VMX_TR] & 4, GUEST_TR_SELECTOR, "27.3.1.2: TR selector TI flag must be 0");
	VMX_RULE(!(ar[VMX_LDTR] & VMX_AR_UNUSABLE) && (sel[VMX_LDTR] & 4), GUEST_LDTR_SELECTOR,
		 "27.3.1.2: a usable LDTR needs selector TI flag 0");
	VMX_RULE(!ug && !v86 && (sel[VMX_SS] & 3) != (sel[VMX_CS] & 3), GUEST_SS_SELECTOR,
		 "27.3.1.2: SS.RPL must equal CS.RPL");
	VMX_RULE(!hv_canonical(base[VMX_TR]), GUEST_TR_BASE, "27.3.1.2: TR base must be canonical");
	VMX_RULE(!hv_canonical(base[VMX_FS]), GUEST_FS_BASE, "27.3.1.2: FS base must be canonical");
	VMX_RULE(!hv_canonical(base[VMX_GS]), GUEST_GS_BASE, "27.3.1.2: GS base must be canonical");
	VMX_RULE(!(ar[VMX_LDTR] & VMX_AR_UNUSABLE) && !hv_canonical(base[VMX_LDTR]), GUEST_LDTR_BASE,
		 "27.3.1.2: a usable LDTR needs a canonical base");
	VMX_RULE(base[VMX_CS] >> 32, GUEST_CS_BASE, "27.3.1.2: CS base[63:32] must be zero");
	VMX_RULE(!(ar[VMX_SS] & VMX_AR_UNUSABLE) && (base[VMX_SS] >> 32), GUEST_SS_BASE,
		 "27.3.1.2: a usable SS needs base[63:32] zero");
	VMX_RULE(!(ar[VMX_DS] & VMX_AR_UNUSABLE) && (base[VMX_DS] >> 32), GUEST_DS_BASE,
		 "27.3.1.2: a usable DS needs base[63:32] zero");
	VMX_RULE(!(ar[VMX_ES] & VMX_AR_UNUSABLE) && (base[VMX_ES] >> 32), GUEST_ES_BASE,
		 "27.3.1.2: a usable ES needs base[63:32] zero");

	/* CS: always usable; accessed code, or (unrestricted guest) read/write accessed data. */
	{
		u32 cs = ar[VMX_CS], type = cs & 0xf, dpl = (cs >> 5) & 3;
		u32 ss_dpl = (ar[VMX_SS] >> 5) & 3;

		VMX_RULE(cs & VMX_AR_UNUSABLE, GUEST_CS_AR_BYTES, "27.3.1.2: CS must be usable");
		VMX_RULE(!(type == 9 || type == 11 || type == 13 || type == 15 || (ug && type == 3)),
			 GUEST_CS_AR_BYTES, "27.3.1.2: CS type must be 9, 11, 13, 15 (or 3 unrestricted)");
		VMX_RULE(!(cs & BIT(4)), GUEST_CS_AR_BYTES, "27.3.1.2: CS must be a code/data segment (S=1)");
		VMX_RULE(type == 3 && dpl != 0, GUEST_CS_AR_BYTES, "27.3.1.2: CS type 3 needs DPL 0");
		VMX_RULE((type == 9 || type == 11) && dpl != ss_dpl, GUEST_CS_AR_BYTES,
			 "27.3.1.2: non-conforming CS needs DPL = SS.DPL");
		VMX_RULE((type == 13 || type == 15) && dpl > ss_dpl, GUEST_CS_AR_BYTES,
			 "27.3.1.2: conforming CS needs DPL <= SS.DPL");
		/*
		 * Not in today's 27.3.1.2, which compares CS.DPL with SS.DPL
		 * only, but refused by Bochs 2.7 (its guest-state check
		 * compares the CS selector's RPL with CS.DPL) and true of
		 * every protected-mode state a CPU can be in: CS.RPL is the
		 * CPL (Vol. 3A 5.5), equal to a non-conforming CS's DPL, at
		 * least a conforming one's.  KVM checks the same without
		 * unrestricted guest (code_segment_valid()).
		 */
		VMX_RULE(pe && (type == 9 || type == 11) && (sel[VMX_CS] & 3) != dpl, GUEST_CS_SELECTOR,
			 "Vol. 3A 5.5: in protected mode a non-conforming CS needs RPL = DPL");
		VMX_RULE(pe && (type == 13 || type == 15) && (sel[VMX_CS] & 3) < dpl, GUEST_CS_SELECTOR,
			 "Vol. 3A 5.5: in protected mode a conforming CS needs RPL >= DPL");
		VMX_RULE(!(cs & BIT(7)), GUEST_CS_AR_BYTES, "27.3.1.2: CS must be present");
		VMX_RULE(cs & VMX_AR_RESERVED, GUEST_CS_AR_BYTES, "27.3.1.2: CS access-rights reserved bits");
		VMX_RULE(!vmx_limit_ok(limit[VMX_CS], cs), GUEST_CS_AR_BYTES,
			 "27.3.1.2: CS limit and G flag disagree");
		VMX_RULE(ia32e && (cs & BIT(13)) && (cs & BIT(14)), GUEST_CS_AR_BYTES,
			 "27.3.1.2: IA-32e mode CS.L=1 needs CS.D=0");
	}
	/* SS, if usable. */
	if (!(ar[VMX_SS] & VMX_AR_UNUSABLE)) {
		u32 ss = ar[VMX_SS], type = ss & 0xf;

		VMX_RULE(type != 3 && type != 7, GUEST_SS_AR_BYTES, "27.3.1.2: SS type must be 3 or 7");
		VMX_RULE(!(ss & BIT(4)), GUEST_SS_AR_BYTES, "27.3.1.2: SS must be a code/data segment (S=1)");
		VMX_RULE(!(ss & BIT(7)), GUEST_SS_AR_BYTES, "27.3.1.2: a usable SS must be present");
		VMX_RULE(ss & VMX_AR_RESERVED, GUEST_SS_AR_BYTES, "27.3.1.2: SS access-rights reserved bits");
		VMX_RULE(!vmx_limit_ok(limit[VMX_SS], ss), GUEST_SS_AR_BYTES,
			 "27.3.1.2: SS limit and G flag disagree");
	}
	VMX_RULE(!ug && ((ar[VMX_SS] >> 5) & 3) != (sel[VMX_SS] & 3), GUEST_SS_AR_BYTES,
		 "27.3.1.2: without unrestricted guest, SS.DPL must equal SS.RPL");
	VMX_RULE(((ar[VMX_SS] >> 5) & 3) && ((ar[VMX_CS] & 0xf) == 3 || !pe), GUEST_SS_AR_BYTES,
		 "27.3.1.2: SS.DPL must be 0 with CS type 3 or CR0.PE=0");
	/* DS, ES, FS, GS, if usable. */
	for (i = VMX_ES; i <= VMX_GS; i++) {
		static const u32 fields[] = {
			[VMX_ES] = GUEST_ES_AR_BYTES, [VMX_DS] = GUEST_DS_AR_BYTES,
			[VMX_FS] = GUEST_FS_AR_BYTES, [VMX_GS] = GUEST_GS_AR_BYTES,
		};
		u32 a = ar[i];

		if (i == VMX_CS || i == VMX_SS || (a & VMX_AR_UNUSABLE))
			continue;
		VMX_RULE(!(a & 1), fields[i], "27.3.1.2: a usable data segment must be accessed (type bit 0)");
		VMX_RULE((a & 8) && !(a & 2), fields[i], "27.3.1.2: a usable code segment must be readable");
		VMX_RULE(!(a & BIT(4)), fields[i], "27.3.1.2: DS/ES/FS/GS must be code/data (S=1)");
		VMX_RULE(!ug && (a & 0xf) <= 11 && ((a >> 5) & 3) < (sel[i] & 3), fields[i],
			 "27.3.1.2: data segment DPL must be >= RPL");
		VMX_RULE(!(a & BIT(7)), fields[i], "27.3.1.2: a usable segment must be present");
		VMX_RULE(a & VMX_AR_RESERVED, fields[i], "27.3.1.2: access-rights reserved bits");
		VMX_RULE(!vmx_limit_ok(limit[i], a), fields[i], "27.3.1.2: limit and G flag disagree");
	}
	/* TR: a busy TSS, never unusable. */
	{
		u32 tr = ar[VMX_TR], type = tr & 0xf;

		VMX_RULE(tr & VMX_AR_UNUSABLE, GUEST_TR_AR_BYTES, "27.3.1.2: TR must be usable");
		VMX_RULE(!(type == 11 || (!ia32e && type == 3)), GUEST_TR_AR_BYTES,
			 "27.3.1.2: TR type must be 11 (busy TSS), or 3 outside IA-32e mode");
		VMX_RULE(tr & BIT(4), GUEST_TR_AR_BYTES, "27.3.1.2: TR must be a system segment (S=0)");
		VMX_RULE(!(tr & BIT(7)), GUEST_TR_AR_BYTES, "27.3.1.2: TR must be present");
		VMX_RULE(tr & VMX_AR_RESERVED, GUEST_TR_AR_BYTES, "27.3.1.2: TR access-rights reserved bits");
		VMX_RULE(!vmx_limit_ok(limit[VMX_TR], tr), GUEST_TR_AR_BYTES,
			 "27.3.1.2: TR limit and G flag disagree");
	}
	/* LDTR, if usable. */
	if (!(ar[VMX_LDTR] & VMX_AR_UNUSABLE)) {
		u32 ldt = ar[VMX_LDTR];

		VMX_RULE((ldt & 0xf) != 2, GUEST_LDTR_AR_BYTES, "27.3.1.2: LDTR type must be 2");
		VMX_RULE(ldt & BIT(4), GUEST_LDTR_AR_BYTES, "27.3.1.2: LDTR must be a system segment (S=0)");
		VMX_RULE(!(ldt & BIT(7)), GUEST_LDTR_AR_BYTES, "27.3.1.2: a usable LDTR must be present");
		VMX_RULE(ldt & VMX_AR_RESERVED, GUEST_LDTR_AR_BYTES, "27.3.1.2: LDTR access-rights reserved bits");
		VMX_RULE(!vmx_limit_ok(limit[VMX_LDTR], ldt), GUEST_LDTR_AR_BYTES,
			 "27.3.1.2: LDTR limit and G flag disagree");
	}

	/* 27.3.1.3: descriptor-table registers. */
	VMX_RULE(!hv_canonical(vmcs_read(GUEST_GDTR_BASE)), GUEST_GDTR_BASE,
		 "27.3.1.3: GDTR base must be canonical");
	VMX_RULE(!hv_canonical(vmcs_read(GUEST_IDTR_BASE)), GUEST_IDTR_BASE,
		 "27.3.1.3: IDTR base must be canonical");
	VMX_RULE(vmcs_read(GUEST_GDTR_LIMIT) >> 16, GUEST_GDTR_LIMIT, "27.3.1.3: GDTR limit[31:16] must be zero");
	VMX_RULE(vmcs_read(GUEST_IDTR_LIMIT) >> 16, GUEST_IDTR_LIMIT, "27.3.1.3: IDTR limit[31:16] must be zero");

	/* 27.3.1.4: RIP and RFLAGS. */
	VMX_RULE((!ia32e || !(ar[VMX_CS] & BIT(13))) && (rip >> 32), GUEST_RIP,
		 "27.3.1.4: RIP[63:32] must be zero outside 64-bit mode");
	VMX_RULE(ia32e && (ar[VMX_CS] & BIT(13)) && !hv_canonical(rip), GUEST_RIP,
		 "27.3.1.4: RIP must be canonical in 64-bit mode");
	VMX_RULE((rflags & (GENMASK_ULL(63, 22) | BIT(15) | BIT(5) | BIT(3))) || !(rflags & BIT(1)),
		 GUEST_RFLAGS, "27.3.1.4: RFLAGS reserved bits (bit 1 must be 1)");
	VMX_RULE(v86 && (ia32e || !pe), GUEST_RFLAGS,
		 "27.3.1.4: RFLAGS.VM must be 0 in IA-32e mode or with CR0.PE=0");
	/*
	 * hvlab does not run virtual-8086 mode: its segment rules (base =
	 * selector << 4, limit FFFFh, AR F3h) would need state hvlab_sregs
	 * cannot express consistently with the protected-mode rules above.
	 */
	VMX_RULE(v86, GUEST_RFLAGS, "27.3.1.2: virtual-8086 mode is not supported by hvlab");
	VMX_RULE((intr & INTR_INFO_VALID_MASK) && (intr & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_EXT_INTR &&
		 !(rflags & X86_EFLAGS_IF), GUEST_RFLAGS,
		 "27.3.1.4: injecting an external interrupt needs RFLAGS.IF=1");

	/* 27.3.1.5: non-register state. */
	VMX_RULE(vmcs_read(GUEST_ACTIVITY_STATE) > 3, GUEST_ACTIVITY_STATE, "27.3.1.5: activity state 0-3");
	VMX_RULE(interruptibility & GENMASK(31, 5), GUEST_INTERRUPTIBILITY_INFO,
		 "27.3.1.5: interruptibility bits 31:5 are reserved");
	VMX_RULE((interruptibility & 3) == 3, GUEST_INTERRUPTIBILITY_INFO,
		 "27.3.1.5: blocking by STI and by MOV SS cannot both be set");
	VMX_RULE((interruptibility & 1) && !(rflags & X86_EFLAGS_IF), GUEST_INTERRUPTIBILITY_INFO,
		 "27.3.1.5: blocking by STI needs RFLAGS.IF=1");
	VMX_RULE(vmcs_read(GUEST_ACTIVITY_STATE) == GUEST_ACTIVITY_HLT && ((ar[VMX_SS] >> 5) & 3),
		 GUEST_ACTIVITY_STATE, "27.3.1.5: the HLT activity state needs SS.DPL=0");
	VMX_RULE((intr & INTR_INFO_VALID_MASK) && (intr & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_EXT_INTR &&
		 (interruptibility & VMX_BLOCKING_STI_MOVSS), GUEST_INTERRUPTIBILITY_INFO,
		 "27.3.1.5: injecting an external interrupt needs no STI/MOV SS blocking");
	VMX_RULE((intr & INTR_INFO_VALID_MASK) && (intr & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_NMI_INTR &&
		 (interruptibility & GUEST_INTR_STATE_MOV_SS), GUEST_INTERRUPTIBILITY_INFO,
		 "27.3.1.5: injecting an NMI needs no blocking by MOV SS");
	VMX_RULE(interruptibility & GUEST_INTR_STATE_SMI, GUEST_INTERRUPTIBILITY_INFO,
		 "27.3.1.5: blocking by SMI needs the guest in SMM (never here)");
	VMX_RULE((pin & PIN_BASED_VIRTUAL_NMIS) && (intr & INTR_INFO_VALID_MASK) &&
		 (intr & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_NMI_INTR &&
		 (interruptibility & GUEST_INTR_STATE_NMI), GUEST_INTERRUPTIBILITY_INFO,
		 "27.3.1.5: injecting a virtual NMI needs no blocking by NMI");
	/*
	 * Pending debug exceptions: reserved bits, and in an STI/MOV SS
	 * shadow or HLT, BS (bit 14) must say whether a single-step trap is
	 * due: set iff RFLAGS.TF=1 and IA32_DEBUGCTL.BTF=0.
	 */
	{
		u64 dbg = vmcs_read(GUEST_PENDING_DBG_EXCEPTIONS);
		bool step = (rflags & X86_EFLAGS_TF) &&
			    !(vmcs_read(GUEST_IA32_DEBUGCTL) & DEBUGCTLMSR_BTF);

		VMX_RULE(dbg & VMX_PENDING_DBG_RESERVED, GUEST_PENDING_DBG_EXCEPTIONS,
			 "27.3.1.5: pending debug exceptions reserved bits must be zero");
		VMX_RULE(((interruptibility & VMX_BLOCKING_STI_MOVSS) ||
			  vmcs_read(GUEST_ACTIVITY_STATE) == GUEST_ACTIVITY_HLT) &&
			 !!(dbg & VMX_PENDING_DBG_BS) != step, GUEST_PENDING_DBG_EXCEPTIONS,
			 "27.3.1.5: in an STI/MOV SS shadow, pending BS must equal TF && !BTF");
	}
	VMX_RULE(vmcs_read(VMCS_LINK_POINTER) != ~0ULL, VMCS_LINK_POINTER,
		 "27.3.1.5: VMCS link pointer must be FFFFFFFF_FFFFFFFFh");

	/* 27.3.1.6: with EPT, a PAE-paging guest's PDPTEs come from the VMCS. */
	if ((proc2 & SECONDARY_EXEC_ENABLE_EPT) && (cr0 & X86_CR0_PG) && (cr4 & X86_CR4_PAE) && !ia32e) {
		for (i = 0; i < 4; i++)
			VMX_RULE(!vmx_pdpte_ok(vmcs_read(GUEST_PDPTR0 + 2 * i)), GUEST_PDPTR0 + 2 * i,
				 "27.3.1.6: a present PDPTE has reserved bits set (Vol. 3A 4.4.1)");
	}
#undef VMX_RULE
	return NULL;
}

/*
 * For internal errors: the state a reader needs to see what happened
 * (pr_info).  A guest can cause such an exit as often as it likes, so the
 * dump (a dozen lines) is printed once per vCPU, and for at most four vCPUs
 * a minute over the whole module; the run page's internal-error record
 * carries the exit's facts every time.
 */
void vmx_dump_vmcs(struct vmx_vcpu *vmx)
{
	static const char * const names[VMX_NSEG] = { "es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr" };
	static DEFINE_RATELIMIT_STATE(vmx_dump_rs, 60 * HZ, 4);
	unsigned int i;

	if (vmx->dumped || !__ratelimit(&vmx_dump_rs))
		return;
	vmx->dumped = true;
	if (vmx_vcpu_load(vmx))
		return;
	pr_info("vCPU %u VMCS: exit reason %#llx qual %#llx gpa %#llx len %llu intr %#llx idt %#llx err %#llx\n",
		vmx->vcpu.id, vmcs_read(VM_EXIT_REASON), vmcs_read(EXIT_QUALIFICATION),
		vmcs_read(GUEST_PHYSICAL_ADDRESS), vmcs_read(VM_EXIT_INSTRUCTION_LEN),
		vmcs_read(VM_EXIT_INTR_INFO), vmcs_read(IDT_VECTORING_INFO_FIELD),
		vmcs_read(VM_INSTRUCTION_ERROR));
	pr_info("  rip %#llx rsp %#llx rflags %#llx cr0 %#llx cr3 %#llx cr4 %#llx efer %#llx\n",
		vmcs_read(GUEST_RIP), vmcs_read(GUEST_RSP), vmcs_read(GUEST_RFLAGS),
		vmcs_read(GUEST_CR0), vmcs_read(GUEST_CR3), vmcs_read(GUEST_CR4),
		vmcs_read(GUEST_IA32_EFER));
	pr_info("  pin %#llx proc %#llx proc2 %#llx exit %#llx entry %#llx eptp %#llx vpid %u interruptibility %#llx\n",
		vmcs_read(PIN_BASED_VM_EXEC_CONTROL), vmcs_read(CPU_BASED_VM_EXEC_CONTROL),
		vmcs_read(SECONDARY_VM_EXEC_CONTROL), vmcs_read(VM_EXIT_CONTROLS),
		vmcs_read(VM_ENTRY_CONTROLS), vmcs_read(EPT_POINTER), vmx->vpid,
		vmcs_read(GUEST_INTERRUPTIBILITY_INFO));
	for (i = 0; i < VMX_NSEG; i++)
		pr_info("  %-4s sel %#06llx base %#llx limit %#llx ar %#llx\n", names[i],
			vmcs_read(VMX_SEG_SEL(i)), vmcs_read(VMX_SEG_BASE(i)),
			vmcs_read(VMX_SEG_LIMIT(i)), vmcs_read(VMX_SEG_AR(i)));
	pr_info("  gdtr %#llx/%#llx idtr %#llx/%#llx\n", vmcs_read(GUEST_GDTR_BASE),
		vmcs_read(GUEST_GDTR_LIMIT), vmcs_read(GUEST_IDTR_BASE), vmcs_read(GUEST_IDTR_LIMIT));
	vmx_vcpu_put(vmx);
}
