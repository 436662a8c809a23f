// SPDX-License-Identifier: GPL-2.0
/*
 * vmcb.c - the VMCB of one vCPU: allocation, intercepts, moving guest state
 * between hv_vcpu and the VMCB, and the VMRUN consistency checks done in
 * software so a refusal names its rule.
 *
 * Section numbers refer to AMD APM Vol. 2; the VMCB layout is appendix B.
 * struct vmcb from <asm/svm.h> is used for field offsets only: its size
 * differs between kernel versions, the hardware layout does not.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/mm.h>
#include <linux/ratelimit.h>
#include <linux/slab.h>
#include <linux/io.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>
#include <asm/traps.h>

#include "svm.h"
#include "hvlab_vmcb.h"

/* Power-on PAT value (APM Vol. 2 7.8.2): WB, WT, UC-, UC, twice. */
#define SVM_PAT_DEFAULT		0x0007040600070406ULL

static void svm_intercept(struct vmcb *vmcb, unsigned int bit)
{
	__set_bit(bit, (unsigned long *)vmcb->control.intercepts);
}

/*
 * What exits, and why (15.9-15.14).  Everything that could touch host
 * state or needs a hypervisor's answer is intercepted; the rest runs
 * natively.  VMRUN must be intercepted or VMRUN fails (15.5.1).
 */
static void svm_init_control(struct svm_vcpu *svm)
{
	static const unsigned int bits[] = {
		INTERCEPT_INTR,		/* host interrupts come back to the host */
		INTERCEPT_NMI,
		INTERCEPT_SMI,
		INTERCEPT_CPUID,	/* the guest sees our CPUID table */
		INTERCEPT_INVD,		/* would drop dirty lines of the host too */
		INTERCEPT_HLT,
		INTERCEPT_INVLPGA,
		INTERCEPT_IOIO_PROT,	/* ports: all of them, via svm_iopm */
		INTERCEPT_MSR_PROT,	/* MSRs: all of them, via svm_msrpm */
		INTERCEPT_SHUTDOWN,	/* triple fault */
		INTERCEPT_VMRUN,	/* required; no nesting */
		INTERCEPT_VMMCALL,
		INTERCEPT_VMLOAD,
		INTERCEPT_VMSAVE,
		INTERCEPT_STGI,
		INTERCEPT_CLGI,
		INTERCEPT_SKINIT,
		INTERCEPT_MONITOR,
		INTERCEPT_MWAIT,
		INTERCEPT_XSETBV,	/* guest XCR0 is not switched */
		INTERCEPT_RDTSCP,	/* #UD, as on VT-x (CPUID hides it) */
		INTERCEPT_RDPMC,	/* host counters (CR4.PCE is the guest's): #GP */
		INTERCEPT_WBINVD,	/* and WBNOINVD: no host cache flush for a guest */
		INTERCEPT_RDPRU,	/* host APERF/MPERF: #UD (CPUID hides it) */
		INTERCEPT_CR4_WRITE,	/* the CR4 allowlist (module/cr4.c) */
	};
	struct vmcb_control_area *c = &svm->vmcb->control;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bits); i++)
		svm_intercept(svm->vmcb, bits[i]);
	/*
	 * Every MOV to or from DR0-DR7 (15.9, "Debug register intercepts"):
	 * DR0-3 are not in the VMCB, so the guest would read the host's and
	 * lose its own on a host task switch; module/debugreg.c emulates them.
	 */
	for (i = 0; i < 8; i++) {
		svm_intercept(svm->vmcb, INTERCEPT_DR0_READ + i);
		svm_intercept(svm->vmcb, INTERCEPT_DR0_WRITE + i);
	}
	/* Host machine checks go to the host (15.12; hv_host_machine_check). */
	svm_intercept(svm->vmcb, INTERCEPT_EXCEPTION_OFFSET + X86_TRAP_MC);
	/*
	 * #AC and #DB exit (15.12 "Exception Intercepts"), to be reflected
	 * (exit.c).  Not for hvlab's sake: a guest can make the delivery of
	 * either raise the same exception again (#AC: a CPL 3 handler on a
	 * misaligned stack, CVE-2015-5307; #DB: a data breakpoint on the
	 * IDT or the stack the delivery writes, CVE-2015-8104), and the CPU
	 * then loops in microcode with no exit, the host CPU lost for good.
	 * With the intercept each round is an exit, and the RUN loop stays
	 * killable.  KVM intercepts both the same way (init_vmcb,
	 * ac_interception, db_interception).  ICEBP (INT1, F1h) is
	 * intercepted too (15.9 lists it with the instruction intercepts):
	 * its #DB then comes with its instruction to skip, on hardware as
	 * under QEMU.
	 */
	svm_intercept(svm->vmcb, INTERCEPT_EXCEPTION_OFFSET + X86_TRAP_AC);
	svm_intercept(svm->vmcb, INTERCEPT_EXCEPTION_OFFSET + X86_TRAP_DB);
	svm_intercept(svm->vmcb, INTERCEPT_ICEBP);
	/* APIC VMs: CR8 writes change the APIC's TPR (exit.c, svm_exit_write_cr8). */
	if (svm->vcpu.vm->lapic)
		svm_intercept(svm->vmcb, INTERCEPT_CR8_WRITE);
	c->iopm_base_pa = page_to_phys(svm_iopm);
	c->msrpm_base_pa = page_to_phys(svm_msrpm);
	/* V_INTR_MASKING: guest RFLAGS.IF masks only virtual interrupts (15.21.1). */
	c->int_ctl = V_INTR_MASKING_MASK;
	svm_np_ctl(c) = SVM_NP_CTL_ENABLE;
	c->nested_cr3 = hv_mmu_root_pa(&svm->vcpu.vm->mmu);
	svm->vmcb->save.g_pat = SVM_PAT_DEFAULT;
	/* Debug registers after RESET (SDM Vol. 3A 10.1.1, APM Vol. 2 14.1.3). */
	svm->vmcb->save.dr6 = HV_DR6_RESET;
	svm->vmcb->save.dr7 = HV_DR7_RESET;
}

struct hv_vcpu *svm_vcpu_create(struct hv_vm *vm, unsigned int id)
{
	struct svm_vcpu *svm = kzalloc(sizeof(*svm), GFP_KERNEL_ACCOUNT);
	struct page *page;

	if (!svm)
		return ERR_PTR(-ENOMEM);
	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page) {
		kfree(svm);
		return ERR_PTR(-ENOMEM);
	}
	svm->vmcb = page_address(page);
	svm->vmcb_pa = page_to_phys(page);
	svm->check = true;
	svm->asid_cpu = -1;
	svm->vcpu.vm = vm;
	svm_init_control(svm);
	return &svm->vcpu;
}

void svm_vcpu_free(struct hv_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);

	free_page((unsigned long)svm->vmcb);
	kfree(svm);
}

/*
 * Segment attributes in the VMCB are the descriptor's bits 8-15 and 20-23
 * packed into 12 bits (15.5.1, appendix B "attrib").
 */
static u16 svm_seg_attrib(const struct hvlab_segment *s)
{
	if (s->unusable)
		return 0;
	return s->type | s->s << SVM_SELECTOR_S_SHIFT | s->dpl << SVM_SELECTOR_DPL_SHIFT |
	       s->present << SVM_SELECTOR_P_SHIFT | s->avl << SVM_SELECTOR_AVL_SHIFT |
	       s->l << SVM_SELECTOR_L_SHIFT | s->db << SVM_SELECTOR_DB_SHIFT |
	       s->g << SVM_SELECTOR_G_SHIFT;
}

static void svm_seg_to_vmcb(struct vmcb_seg *v, const struct hvlab_segment *s)
{
	v->selector = s->selector;
	v->attrib = svm_seg_attrib(s);
	v->limit = s->limit;
	v->base = s->base;
}

static void svm_seg_from_vmcb(struct hvlab_segment *s, const struct vmcb_seg *v)
{
	memset(s, 0, sizeof(*s));
	s->selector = v->selector;
	s->base = v->base;
	s->limit = v->limit;
	s->type = v->attrib & 0xf;
	s->s = !!(v->attrib & SVM_SELECTOR_S_MASK);
	s->dpl = (v->attrib >> SVM_SELECTOR_DPL_SHIFT) & 3;
	s->present = !!(v->attrib & SVM_SELECTOR_P_MASK);
	s->avl = (v->attrib >> SVM_SELECTOR_AVL_SHIFT) & 1;
	s->l = (v->attrib >> SVM_SELECTOR_L_SHIFT) & 1;
	s->db = (v->attrib >> SVM_SELECTOR_DB_SHIFT) & 1;
	s->g = (v->attrib >> SVM_SELECTOR_G_SHIFT) & 1;
	s->unusable = !s->present;
}

int svm_load_state(struct hv_vcpu *vcpu)
{
	struct vmcb_save_area *save = &to_svm(vcpu)->vmcb->save;
	struct vmcb_control_area *c = &to_svm(vcpu)->vmcb->control;
	const struct hvlab_sregs *sr = &vcpu->sregs;

	svm_seg_to_vmcb(&save->cs, &sr->cs);
	svm_seg_to_vmcb(&save->ds, &sr->ds);
	svm_seg_to_vmcb(&save->es, &sr->es);
	svm_seg_to_vmcb(&save->fs, &sr->fs);
	svm_seg_to_vmcb(&save->gs, &sr->gs);
	svm_seg_to_vmcb(&save->ss, &sr->ss);
	svm_seg_to_vmcb(&save->tr, &sr->tr);
	svm_seg_to_vmcb(&save->ldtr, &sr->ldt);
	save->gdtr.base = sr->gdt.base;
	save->gdtr.limit = sr->gdt.limit;
	save->idtr.base = sr->idt.base;
	save->idtr.limit = sr->idt.limit;
	/* CPL is SS.DPL (15.5.1: the VMCB CPL field must agree with it). */
	save->cpl = (sr->cr0 & X86_CR0_PE) ? sr->ss.dpl : 0;
	save->cr0 = sr->cr0;
	save->cr2 = sr->cr2;
	save->cr3 = sr->cr3;
	save->cr4 = sr->cr4;
	/* The guest runs with SVME set; it never sees it (RDMSR is ours). */
	save->efer = sr->efer | EFER_SVME;
	/*
	 * DR6/DR7 are no sregs: they keep the guest's values (set at
	 * creation, svm_init_control), as on VMX.
	 *
	 * New state from userspace: an event the last exit interrupted (its
	 * re-delivery from EXITINTINFO, 15.7.2) belongs to the old state, as
	 * on VMX.  Without this, a guest restarted after a triple fault took
	 * the #UD that caused it.
	 */
	c->event_inj = 0;
	c->int_ctl = (c->int_ctl & ~V_TPR_MASK) | (sr->cr8 & V_TPR_MASK);
	to_svm(vcpu)->check = true;
	return 0;
}

int svm_save_state(struct hv_vcpu *vcpu)
{
	const struct vmcb_save_area *save = &to_svm(vcpu)->vmcb->save;
	const struct vmcb_control_area *c = &to_svm(vcpu)->vmcb->control;
	struct hvlab_sregs *sr = &vcpu->sregs;

	svm_seg_from_vmcb(&sr->cs, &save->cs);
	svm_seg_from_vmcb(&sr->ds, &save->ds);
	svm_seg_from_vmcb(&sr->es, &save->es);
	svm_seg_from_vmcb(&sr->fs, &save->fs);
	svm_seg_from_vmcb(&sr->gs, &save->gs);
	svm_seg_from_vmcb(&sr->ss, &save->ss);
	svm_seg_from_vmcb(&sr->tr, &save->tr);
	svm_seg_from_vmcb(&sr->ldt, &save->ldtr);
	/* System segments are never "unusable" in hvlab_sregs terms. */
	sr->tr.unusable = 0;
	sr->ldt.unusable = !sr->ldt.present;
	sr->gdt.base = save->gdtr.base;
	sr->gdt.limit = save->gdtr.limit;
	sr->idt.base = save->idtr.base;
	sr->idt.limit = save->idtr.limit;
	sr->cr0 = save->cr0;
	sr->cr2 = save->cr2;
	sr->cr3 = save->cr3;
	sr->cr4 = save->cr4;
	sr->efer = save->efer & ~EFER_SVME;
	sr->cr8 = c->int_ctl & V_TPR_MASK;

	return svm_save_int_shadow(vcpu);
}

/* A shadow ends with the instruction it covers: not once RIP moved past it. */
int svm_save_int_shadow(struct hv_vcpu *vcpu)
{
	const struct vmcb *vmcb = to_svm(vcpu)->vmcb;

	vcpu->int_shadow = (vmcb->control.int_state & SVM_INTERRUPT_SHADOW_MASK) &&
			   vmcb->save.rip == vcpu->regs.rip;
	return 0;
}

/* EFER bits that exist on AMD (APM Vol. 2 3.1.7); the rest must be zero. */
#define SVM_EFER_VALID	(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX | EFER_SVME | \
			 EFER_LMSLE | EFER_FFXSR | BIT_ULL(_EFER_AUTOIBRS))

/*
 * The VMRUN consistency checks of APM Vol. 2 15.5.1 ("VMRUN"), in its
 * order, so an entry the CPU would refuse is refused here first with the
 * rule and the VMCB field named.  Returns NULL when all hold.
 */
const char *svm_check_vmcb(const struct vmcb *vmcb, u32 *field)
{
	const struct vmcb_save_area *s = &vmcb->save;
	const struct vmcb_control_area *c = &vmcb->control;
	bool lme_pg = (s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG);

#define SVM_RULE(cond, member, text) do {				\
		if (cond) {						\
			*field = offsetof(struct vmcb, member);		\
			return "APM 15.5.1: " text;			\
		}							\
	} while (0)

	SVM_RULE(!(s->efer & EFER_SVME), save.efer, "EFER.SVME must be 1");
	SVM_RULE(!(s->cr0 & X86_CR0_CD) && (s->cr0 & X86_CR0_NW), save.cr0,
		 "CR0.CD=0 with CR0.NW=1 is illegal");
	SVM_RULE(s->cr0 >> 32, save.cr0, "CR0[63:32] must be zero");
	SVM_RULE(lme_pg && (s->cr3 >> hv_gpa_bits), save.cr3,
		 "CR3 bits beyond MAXPHYADDR must be zero in long mode");
	SVM_RULE(s->cr4 & ~(u64)(X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE |
				 X86_CR4_PSE | X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE |
				 X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT |
				 X86_CR4_UMIP | X86_CR4_FSGSBASE | X86_CR4_PCIDE |
				 X86_CR4_OSXSAVE | X86_CR4_SMEP | X86_CR4_SMAP |
				 X86_CR4_PKE | X86_CR4_LA57), save.cr4,
		 "CR4 reserved bits must be zero");
	SVM_RULE(s->dr6 >> 32, save.dr6, "DR6[63:32] must be zero");
	SVM_RULE(s->dr7 >> 32, save.dr7, "DR7[63:32] must be zero");
	SVM_RULE(s->efer & ~(u64)SVM_EFER_VALID, save.efer, "EFER reserved bits must be zero");
	SVM_RULE(lme_pg && !(s->cr4 & X86_CR4_PAE), save.cr4,
		 "EFER.LME=1 and CR0.PG=1 need CR4.PAE=1");
	SVM_RULE(lme_pg && !(s->cr0 & X86_CR0_PE), save.cr0,
		 "EFER.LME=1 and CR0.PG=1 need CR0.PE=1");
	SVM_RULE(lme_pg && (s->cr4 & X86_CR4_PAE) &&
		 (s->cs.attrib & SVM_SELECTOR_L_MASK) && (s->cs.attrib & SVM_SELECTOR_DB_MASK),
		 save.cs, "in long mode CS.L and CS.D must not both be 1");
	SVM_RULE(!test_bit(INTERCEPT_VMRUN, (const unsigned long *)c->intercepts),
		 control.intercepts, "the VMRUN intercept must be set");
	SVM_RULE(c->asid == 0, control.asid, "ASID 0 belongs to the host");
	SVM_RULE((c->event_inj & SVM_EVTINJ_VALID) &&
		 ((c->event_inj & SVM_EVTINJ_TYPE_MASK) == (1 << SVM_EVTINJ_TYPE_SHIFT) ||
		  ((c->event_inj & SVM_EVTINJ_TYPE_MASK) == SVM_EVTINJ_TYPE_EXEPT &&
		   (c->event_inj & SVM_EVTINJ_VEC_MASK) == 2)),
		 control.event_inj, "illegal event injection (reserved type or NMI vector as exception)");
#undef SVM_RULE

	/*
	 * Not APM rules: VMCBs that hardware runs but QEMU's TCG (7.2 and
	 * 10.0, target/i386/tcg/sysemu/svm_helper.c) cannot, refused here
	 * under TCG only (svm_tcg_vmrun_quirks) so that the refusal has a
	 * name and the emulated PC survives.  Listed in
	 * /work/shared/emulators.md.
	 */
#define SVM_QEMU_RULE(cond, member, text) do {				\
		if (svm_tcg_vmrun_quirks && (cond)) {			\
			*field = offsetof(struct vmcb, member);		\
			return "QEMU TCG: " text;			\
		}							\
	} while (0)
	/*
	 * EFER.LME=1 with CR0.PG=0 is the legal step between setting LME and
	 * enabling paging (APM Vol. 2 14.6 "Enabling and Activating Long Mode":
	 * LMA becomes 1 only at the MOV to CR0 that sets PG), whatever CR4.PAE is until
	 * then.  QEMU's #VMEXIT reloads the host's CR0 before its EFER and
	 * CR4 (do_vmexit()), so the host's PG=1 meets the guest's LME=1 and
	 * PAE=0: QEMU's MOV-to-CR0 logic drops the write, the host goes on
	 * without paging and the emulated CPU hangs, NMIs included.  kvm-amd
	 * with nested paging hangs the same way (svm_set_efer() puts the
	 * guest's EFER in the VMCB as it is; measured in the same PC); only
	 * with npt=0 does it survive, because for shadow paging
	 * svm_set_efer() clears LME in the VMCB while LMA=0 and
	 * svm_set_cr0() puts it back at the PG=1 write.  hvlab refuses the
	 * entry instead, under TCG only.
	 */
	SVM_QEMU_RULE((s->efer & EFER_LME) && !(s->cr0 & X86_CR0_PG) && !(s->cr4 & X86_CR4_PAE),
		      save.efer, "EFER.LME=1 with CR0.PG=0, CR4.PAE=0 hangs its #VMEXIT (APM 14.6 allows it)");
	/*
	 * QEMU refuses an injected exception with vector 31 (its check is
	 * "vector >= 31"); APM 15.20 refuses only vector 2 as an exception.
	 */
	SVM_QEMU_RULE((c->event_inj & SVM_EVTINJ_VALID) &&
		      (c->event_inj & SVM_EVTINJ_TYPE_MASK) == SVM_EVTINJ_TYPE_EXEPT &&
		      (c->event_inj & SVM_EVTINJ_VEC_MASK) >= 31,
		      control.event_inj, "refuses EVENTINJ exception vector 31 (APM 15.20 allows it)");
#undef SVM_QEMU_RULE
	return NULL;
}

/*
 * For internal errors: the state a reader needs to see what happened.  A
 * guest can cause such an exit as often as it likes, so the dump (three
 * lines) is printed once per vCPU, and for at most four vCPUs a minute
 * over the whole module; the run page's internal-error record carries
 * the exit's facts every time.
 */
void svm_dump_vmcb(struct svm_vcpu *svm)
{
	static DEFINE_RATELIMIT_STATE(svm_dump_rs, 60 * HZ, 4);
	const struct vmcb_control_area *c = &svm->vmcb->control;
	const struct vmcb_save_area *s = &svm->vmcb->save;

	if (svm->dumped || !__ratelimit(&svm_dump_rs))
		return;
	svm->dumped = true;

	pr_info("vCPU %u VMCB: exit_code %#x info1 %#llx info2 %#llx int_info %#x asid %u int_ctl %#x event_inj %#x\n",
		svm->vcpu.id, (u32)c->exit_code, c->exit_info_1, c->exit_info_2, c->exit_int_info,
		c->asid, c->int_ctl, c->event_inj);
	pr_info("  rip %#llx rsp %#llx rflags %#llx cpl %u efer %#llx cr0 %#llx cr3 %#llx cr4 %#llx\n",
		s->rip, s->rsp, s->rflags, s->cpl, s->efer, s->cr0, s->cr3, s->cr4);
	pr_info("  cs %#x/%#x/%#x/%#llx ss %#x/%#x ds %#x es %#x tr %#x/%#x gdt %#llx/%#x idt %#llx/%#x\n",
		s->cs.selector, s->cs.attrib, s->cs.limit, s->cs.base, s->ss.selector,
		s->ss.attrib, s->ds.selector, s->es.selector, s->tr.selector, s->tr.attrib,
		s->gdtr.base, s->gdtr.limit, s->idtr.base, s->idtr.limit);
}

/*
 * HVLAB_GET_VENDOR_STATE (module/vstate.c): the whole VMCB page as the
 * exit left it (APM Vol. 2 appendix B: control area at 0, state save area
 * at 400h; svm_run_asm's VMSAVE has stored FS/GS/TR/LDTR and the syscall
 * MSRs by now).  @code is the exit code, ~0 when hvlab's own checks
 * refused the entry.  KVM's dump_vmcb() prints the same fields to dmesg.
 */
void svm_capture(struct svm_vcpu *svm, u64 code)
{
	struct hvlab_vendor_state *s = hv_vstate_next(&svm->vcpu);

	BUILD_BUG_ON(HVLAB_VENDOR_STATE_BYTES != PAGE_SIZE);
	memcpy(s->data, svm->vmcb, PAGE_SIZE);
	s->count = PAGE_SIZE;
	s->vendor_reason = code;
}

/* hvlab-dump's VMCB layout (uapi/hvlab_vmcb.h) is <asm/svm.h>'s. */
enum {
#define HVLAB_VMCB_FIELD(id, off, size, name) HV_VMCB_##id = (off),
	HVLAB_VMCB_CONTROL_FIELDS
	HVLAB_VMCB_SAVE_FIELDS
#undef HVLAB_VMCB_FIELD
};
#define HV_VMCB_AT(member, id) \
	static_assert(offsetof(struct vmcb, member) == HV_VMCB_##id, #member)
HV_VMCB_AT(control.pause_filter_thresh, CTL_PAUSE_FILTER_THRESHOLD);
HV_VMCB_AT(control.iopm_base_pa, CTL_IOPM_BASE_PA);
HV_VMCB_AT(control.msrpm_base_pa, CTL_MSRPM_BASE_PA);
HV_VMCB_AT(control.tsc_offset, CTL_TSC_OFFSET);
HV_VMCB_AT(control.asid, CTL_GUEST_ASID);
HV_VMCB_AT(control.tlb_ctl, CTL_TLB_CONTROL);
HV_VMCB_AT(control.int_ctl, CTL_V_INTR);
HV_VMCB_AT(control.int_vector, CTL_V_INTR_VECTOR);
HV_VMCB_AT(control.int_state, CTL_INTERRUPT_SHADOW);
HV_VMCB_AT(control.exit_code, CTL_EXITCODE);
HV_VMCB_AT(control.exit_info_1, CTL_EXITINFO1);
HV_VMCB_AT(control.exit_info_2, CTL_EXITINFO2);
HV_VMCB_AT(control.exit_int_info, CTL_EXITINTINFO);
#ifdef SVM_MISC_ENABLE_NP	/* 7.x names the words at 90h and B8h misc_ctl/misc_ctl2 */
HV_VMCB_AT(control.misc_ctl, CTL_NP_ENABLE);
#else
HV_VMCB_AT(control.nested_ctl, CTL_NP_ENABLE);
#endif
HV_VMCB_AT(control.event_inj, CTL_EVENTINJ);
HV_VMCB_AT(control.nested_cr3, CTL_N_CR3);
#ifdef SVM_MISC_ENABLE_NP
HV_VMCB_AT(control.misc_ctl2, CTL_LBR_VIRT);
#else
HV_VMCB_AT(control.virt_ext, CTL_LBR_VIRT);
#endif
HV_VMCB_AT(control.clean, CTL_VMCB_CLEAN);
HV_VMCB_AT(control.next_rip, CTL_NRIP);
HV_VMCB_AT(control.insn_len, CTL_INSN_LEN);
HV_VMCB_AT(control.insn_bytes, CTL_INSN_BYTES);
HV_VMCB_AT(save.es.selector, SAVE_ES_SELECTOR);
HV_VMCB_AT(save.cs.base, SAVE_CS_BASE);
HV_VMCB_AT(save.tr.limit, SAVE_TR_LIMIT);
HV_VMCB_AT(save.cpl, SAVE_CPL);
HV_VMCB_AT(save.efer, SAVE_EFER);
HV_VMCB_AT(save.cr4, SAVE_CR4);
HV_VMCB_AT(save.cr3, SAVE_CR3);
HV_VMCB_AT(save.cr0, SAVE_CR0);
HV_VMCB_AT(save.dr7, SAVE_DR7);
HV_VMCB_AT(save.dr6, SAVE_DR6);
HV_VMCB_AT(save.rflags, SAVE_RFLAGS);
HV_VMCB_AT(save.rip, SAVE_RIP);
HV_VMCB_AT(save.rsp, SAVE_RSP);
HV_VMCB_AT(save.rax, SAVE_RAX);
HV_VMCB_AT(save.star, SAVE_STAR);
HV_VMCB_AT(save.kernel_gs_base, SAVE_KERNEL_GS_BASE);
HV_VMCB_AT(save.sysenter_eip, SAVE_SYSENTER_EIP);
HV_VMCB_AT(save.cr2, SAVE_CR2);
HV_VMCB_AT(save.g_pat, SAVE_G_PAT);
HV_VMCB_AT(save.last_excp_to, SAVE_LASTEXCPTO);
HV_VMCB_AT(save.spec_ctrl, SAVE_SPEC_CTRL);
