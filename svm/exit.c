// SPDX-License-Identifier: GPL-2.0
/*
 * exit.c - one guest entry on AMD, and the table of exit handlers.
 *
 * Handler contract (as KVM's): return 1 to enter the guest again, 0 when
 * the run page holds an exit record for userspace, -errno on failure.
 * Handlers run with interrupts on and may sleep.
 *
 * This CPU may have no NRIP save (QEMU's does not): the length of the
 * instruction to skip then comes from its encoding.  The exits below that
 * skip an instruction are only ever caused by one fixed encoding, except
 * for prefixes no compiler emits for them.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/nospec.h>
#include <linux/sched.h>
#include <linux/mm.h>
#include <linux/io.h>
#include <asm/apic.h>
#include <asm/debugreg.h>
#include <asm/fpu/api.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/irq_vectors.h>
#include <asm/traps.h>

#include "svm.h"
#include "spec.h"
#include "tele_hot.h"

typedef int (*svm_exit_fn)(struct svm_vcpu *svm);

/* In the exit table: the handler calls hv_count_exit() itself. */
#define SVM_STAT_BY_HANDLER	0xff

/*
 * Nested page fault error code (15.25.6): bit 1, the access was a write;
 * bit 33, the fault hit the guest's own page-table walk, not the final
 * guest-physical address of the access.
 */
#define SVM_NPF_WRITE	BIT_ULL(1)
#define SVM_NPF_IN_WALK	BIT_ULL(33)

/* RIP after the exiting instruction of @len bytes (NRIP if the CPU saves it). */
static u64 svm_next_rip(struct svm_vcpu *svm, unsigned int len)
{
	struct vmcb *vmcb = svm->vmcb;

	if (svm_has_nrips && vmcb->control.next_rip)
		return vmcb->control.next_rip;
	return svm->vcpu.regs.rip + len;
}

static void svm_skip(struct svm_vcpu *svm, unsigned int len)
{
	svm->vcpu.regs.rip = svm_next_rip(svm, len);
}

/* V_IRQ with INTERCEPT_VINTR: exit when the guest can take an interrupt (15.21.4). */
static void svm_open_irq_window(struct svm_vcpu *svm)
{
	struct vmcb_control_area *c = &svm->vmcb->control;

	c->int_ctl |= V_IRQ_MASK | V_IGN_TPR_MASK | (0xf << V_INTR_PRIO_SHIFT);
	__set_bit(INTERCEPT_VINTR, (unsigned long *)c->intercepts);
}

static void svm_close_irq_window(struct svm_vcpu *svm)
{
	struct vmcb_control_area *c = &svm->vmcb->control;

	c->int_ctl &= ~(V_IRQ_MASK | V_IGN_TPR_MASK | V_INTR_PRIO_MASK);
	__clear_bit(INTERCEPT_VINTR, (unsigned long *)c->intercepts);
}

/* Interrupts are taken when RFLAGS.IF=1 and no STI/MOV SS shadow (15.21). */
static bool svm_interruptible(const struct svm_vcpu *svm)
{
	return (svm->vmcb->save.rflags & X86_EFLAGS_IF) &&
	       !(svm->vmcb->control.int_state & SVM_INTERRUPT_SHADOW_MASK);
}

/*
 * May an NMI be injected now?  Not while the guest's handler of the
 * last one runs (SDM Vol. 3A 6.7.1: NMIs are blocked until the next
 * IRET), nor in an STI/MOV SS shadow (KVM: svm_nmi_blocked()).  The IRET
 * exit came before the IRET ran: the handler is over once RIP has moved
 * past it.  A pending NMI waits for the next exit after that (there is
 * no NMI-window exit without vNMI; KVM single-steps the IRET instead),
 * as on VMX without virtual NMIs (vmx_inject_events).
 */
static bool svm_nmi_allowed(struct svm_vcpu *svm)
{
	struct hv_vcpu *vcpu = &svm->vcpu;

	if (svm->nmi_iret && vcpu->regs.rip != svm->nmi_iret_rip) {
		svm->nmi_iret = false;
		vcpu->events.nmi_masked = false;
	}
	return !vcpu->events.nmi_masked &&
	       !(svm->vmcb->control.int_state & SVM_INTERRUPT_SHADOW_MASK);
}

/*
 * Put the next queued event into EVENTINJ (15.20): one event per entry,
 * a re-delivery from EXITINTINFO first, then exceptions, then an external
 * interrupt if the guest can take it, else open the interrupt window.
 * Real mode has no error codes (SDM Vol. 3A 20.1.4): none is pushed there.
 */
static void svm_inject_events(struct svm_vcpu *svm)
{
	struct vmcb_control_area *c = &svm->vmcb->control;
	struct hv_vcpu *vcpu = &svm->vcpu;
	bool real = !(svm->vmcb->save.cr0 & X86_CR0_PE);

	if (!(c->event_inj & SVM_EVTINJ_VALID)) {
		if (vcpu->events.exc_pending) {
			c->event_inj = vcpu->events.exc_vector | SVM_EVTINJ_TYPE_EXEPT |
				       SVM_EVTINJ_VALID;
			if (vcpu->events.exc_has_err && !real) {
				c->event_inj |= SVM_EVTINJ_VALID_ERR;
				c->event_inj_err = vcpu->events.exc_err;
			}
			/* CR2 is in the VMCB (APM Vol. 2 15.5.1): set before delivery. */
			if (vcpu->events.exc_sets_cr2)
				svm->vmcb->save.cr2 = vcpu->sregs.cr2 = vcpu->events.exc_cr2;
			vcpu->events.exc_pending = false;
			svm->evt_queued = SVM_EVT_EXCEPTION;
			if (hv_exception_sets_rf(vcpu->events.exc_vector)) {
				vcpu->regs.rflags |= X86_EFLAGS_RF;	/* hv.h */
				svm->vmcb->save.rflags = vcpu->regs.rflags;
			}
		} else if (unlikely(vcpu->lapic) && svm_nmi_allowed(svm) && hv_nmi_take(vcpu)) {
			/*
			 * An NMI from the APIC (EVENTINJ type 2, 15.20).  The
			 * CPU does not remember for the guest that it is in an
			 * NMI handler, so hvlab does: masked until the
			 * handler's IRET, which exits (svm_exit_iret), as KVM's
			 * svm_inject_nmi() does without vNMI.
			 */
			c->event_inj = X86_TRAP_NMI | SVM_EVTINJ_TYPE_NMI | SVM_EVTINJ_VALID;
			svm->evt_queued = SVM_EVT_NMI;
			vcpu->events.nmi_masked = true;
			__set_bit(INTERCEPT_IRET, (unsigned long *)c->intercepts);
		} else if (svm_interruptible(svm) && hv_irq_wanted(vcpu)) {
			int v = hv_irq_take(vcpu);

			if (v >= 0) {
				c->event_inj = v | SVM_EVTINJ_TYPE_INTR | SVM_EVTINJ_VALID;
				svm->evt_queued = SVM_EVT_IRQ;
			}
		}
	}
	if (hv_irq_wanted(vcpu) || vcpu->run->request_interrupt_window)
		svm_open_irq_window(svm);
	else
		svm_close_irq_window(svm);
}


/*
 * The VMRUN did not happen (refused by the checks, or VMEXIT_INVALID): an
 * event svm_inject_events() took from the queue goes back there, where a
 * SET_SREGS before the next RUN (which drops EVENTINJ) cannot lose it.
 */
static void svm_event_not_delivered(struct svm_vcpu *svm, u8 queued)
{
	if (queued == SVM_EVT_EXCEPTION)
		svm->vcpu.events.exc_pending = true;
	else if (queued == SVM_EVT_IRQ)
		hv_irq_untake(&svm->vcpu);
	else if (queued == SVM_EVT_NMI) {
		WRITE_ONCE(svm->vcpu.events.nmi_pending, true);
		svm->vcpu.events.nmi_masked = false;
	}
	if (queued != SVM_EVT_NONE)
		svm->vmcb->control.event_inj = 0;
	svm->evt_queued = SVM_EVT_NONE;
}

static int svm_exit_resume(struct svm_vcpu *svm)
{
	return 1;	/* the host took its interrupt/NMI when GIF came back */
}

static int svm_exit_ud(struct svm_vcpu *svm)
{
	hv_queue_exception(&svm->vcpu, X86_TRAP_UD, false, 0);
	return 1;
}

static int svm_exit_gp(struct svm_vcpu *svm)
{
	hv_queue_exception(&svm->vcpu, X86_TRAP_GP, true, 0);
	return 1;
}

/*
 * An exit interrupted the delivery of an exception (EXITINTINFO, now in
 * EVENTINJ for re-delivery) with a new exception that goes to the guest:
 * as the CPU does for a benign second exception (SDM Vol. 3A 6.15,
 * Table 6-5), the new one is delivered and the first is dropped (a
 * fault comes back when its instruction runs again).  Re-delivering the
 * first would raise the second again, forever.  KVM gets the same from
 * kvm_multiple_exception().
 */
static void svm_drop_redelivered_exception(struct svm_vcpu *svm)
{
	struct vmcb_control_area *c = &svm->vmcb->control;

	if ((c->event_inj & (SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_MASK)) ==
	    (SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT))
		c->event_inj = 0;
}

/*
 * #AC (intercepted, vmcb.c): reflected with error code 0, the only one
 * #AC has (APM Vol. 2 8.2.18; SDM Vol. 3A 6.15 "Interrupt 17").  As
 * KVM's ac_interception().
 */
static int svm_exit_ac(struct svm_vcpu *svm)
{
	svm_drop_redelivered_exception(svm);
	hv_queue_exception(&svm->vcpu, X86_TRAP_AC, true, 0);
	return 1;
}

/*
 * #DB (intercepted, vmcb.c): the CPU wrote DR6 before the intercept, so
 * the VMCB's DR6 is what the guest's handler must read (KVM's
 * db_interception() takes its payload from there too).  What delivery
 * would still have done is clear DR7.GD (SDM Vol. 3B 18.2.4; APM Vol. 2
 * 13.1.1.6); an injected #DB does not (15.20), so it is done here.
 */
static int svm_exit_db(struct svm_vcpu *svm)
{
	svm->vmcb->save.dr7 &= ~HV_DR7_GD;
	hv_queue_exception(&svm->vcpu, X86_TRAP_DB, false, 0);
	return 1;
}

/*
 * ICEBP (F1h, intercepted before it raises its #DB): skip it and deliver
 * the #DB it raises, a trap with RIP after it and no DR6 status bit
 * (SDM Vol. 3B 18.3: INT1 sets none); GD goes as in svm_exit_db().
 */
static int svm_exit_icebp(struct svm_vcpu *svm)
{
	svm_skip(svm, 1);
	/* Delivered from here, so hv_step_check() must not add a step trap. */
	svm->vcpu.insn_rip = svm->vcpu.regs.rip;
	return svm_exit_db(svm);
}

/* INVD (0F 08): acting on it would drop the host's dirty lines; skip it. */
static int svm_exit_invd(struct svm_vcpu *svm)
{
	svm_skip(svm, 2);
	return 1;
}

/*
 * An intercepted instruction the exit does not describe (no decode
 * assists): decode it at RIP, or give up with an internal error naming
 * the exit.  0 and @insn filled; 1: fetching it faulted and the fault
 * is queued for the guest (mem.c), re-enter; -1: internal error
 * reported.
 */
static int svm_decode_exit(struct svm_vcpu *svm, struct hv_insn *insn)
{
	struct hv_vcpu *vcpu = &svm->vcpu;
	int err = hv_decode_at_rip(vcpu, insn);

	if (err == 1)
		return 1;
	if (err) {
		u64 data[3] = { svm->vmcb->control.exit_code, vcpu->regs.rip, (u64)err };

		hv_exit_internal(vcpu, HVLAB_INTERNAL_UNSUPPORTED, 3, data);
		return -1;
	}
	return 0;
}

/*
 * WBINVD (0F 09) and WBNOINVD (F3 0F 09) share the WBINVD intercept and
 * exit code 89h (APM Vol. 2 15.9 and appendix C; a CPU without WBNOINVD
 * runs F3 0F 09 as WBINVD).  Done natively they would write back (and
 * drop) the host CPU's caches for the guest; hvlab's guest memory is
 * ordinary cached RAM with no non-coherent DMA, so there is nothing to
 * write back: skipped, as KVM does (kvm_emulate_wbinvd_noskip() does
 * nothing unless need_emulate_wbinvd()).  Without NRIP the length comes
 * from the encoding, prefixes included.
 */
static int svm_exit_wbinvd(struct svm_vcpu *svm)
{
	struct hv_insn insn;
	int ret;

	if (svm_has_nrips && svm->vmcb->control.next_rip) {
		svm_skip(svm, 0);
		return 1;
	}
	ret = svm_decode_exit(svm, &insn);
	if (ret)
		return ret > 0;
	svm->vcpu.regs.rip += insn.len;
	return 1;
}

/* A change of these makes the CPU drop TLB entries (SDM Vol. 3A 4.10.4.1, APM Vol. 2 5.5.3). */
#define SVM_CR4_TLB_BITS	(X86_CR4_PGE | X86_CR4_PAE | X86_CR4_PSE | X86_CR4_PCIDE | \
				 X86_CR4_SMEP | X86_CR4_SMAP | X86_CR4_PKE)

/*
 * MOV to CR4 (exit 14h, 15.9 "CR intercepts"; always intercepted, vmcb.c).
 * No decode assists: EXITINFO1 does not name the GPR, so the instruction
 * is decoded from guest memory (0F 22 /r).  The rules are module/cr4.c's
 * (KVM: cr_interception() -> kvm_set_cr4()).  Intercepted, a write with a
 * reserved bit also gets its #GP on QEMU, which otherwise ends the VMRUN
 * with VMEXIT_INVALID (/work/shared/emulators.md).  The VMCB holds the
 * guest's CR4 as it is, so MOV from CR4 needs no exit.  What the CPU does
 * after the write on its own is done here: the guest's TLB entries go
 * when a paging bit changes, by a fresh ASID (15.16: one that has no
 * entries yet), as KVM's kvm_post_set_cr4() asks for a guest TLB flush.
 * No PDPTEs are loaded or checked: with nested paging AMD loads none at
 * a MOV to CR (APM Vol. 2 15.25.10), a bad one faults on a later walk.
 * KVM checks them here anyway (kvm_set_cr4() -> load_pdptrs()); hvlab
 * does what the CPU does for the MOV to CR0 and CR3 it runs natively.
 */
static int svm_exit_write_cr4(struct svm_vcpu *svm)
{
	struct vmcb_save_area *s = &svm->vmcb->save;
	struct hv_vcpu *vcpu = &svm->vcpu;
	struct hv_insn insn;
	u64 val;
	int ret;

	ret = svm_decode_exit(svm, &insn);
	if (ret)
		return ret > 0;
	if (insn.kind != HV_INSN_MOV_CR || insn.ctl != 4 || !insn.is_write) {
		u64 data[3] = { svm->vmcb->control.exit_code, vcpu->regs.rip, insn.opcode };

		hv_exit_internal(vcpu, HVLAB_INTERNAL_UNSUPPORTED, 3, data);
		return 0;
	}
	val = hv_gpr_read(&vcpu->regs, insn.reg, insn.size, false);
	if (hv_cr4_check(vcpu, s->cr4, val, s->cr3, s->efer)) {
		hv_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return 1;
	}
	if ((val ^ s->cr4) & SVM_CR4_TLB_BITS)
		svm->asid_cpu = -1;	/* svm_pick_asid() hands out a new one */
	s->cr4 = val;
	svm->check = true;		/* state we wrote: the entry checks again */
	vcpu->sregs_stale = true;	/* hv_sync_sregs() copied the old CR4 */
	vcpu->regs.rip += insn.len;
	return 1;
}

/*
 * MOV to CR8 in an APIC VM (exit 18h; intercepted only there, vmcb.c):
 * CR8 is TPR[7:4] (SDM Vol. 3A 11.8.6.1), so a write changes which APIC
 * interrupts are deliverable, which the next entry must see.  Decoded
 * like CR4's (no decode assists).  Bits 63:4 are reserved: #GP.  KVM
 * intercepts it only while an interrupt waits behind TPR
 * (svm_update_cr8_intercept); hvlab always, to keep one path.
 */
static int svm_exit_write_cr8(struct svm_vcpu *svm)
{
	struct hv_vcpu *vcpu = &svm->vcpu;
	struct hv_insn insn;
	u64 val;

	if (svm_decode_exit(svm, &insn))
		return 0;
	if (insn.kind != HV_INSN_MOV_CR || insn.ctl != 8 || !insn.is_write) {
		u64 data[3] = { svm->vmcb->control.exit_code, vcpu->regs.rip, insn.opcode };

		hv_exit_internal(vcpu, HVLAB_INTERNAL_UNSUPPORTED, 3, data);
		return 0;
	}
	val = hv_gpr_read(&vcpu->regs, insn.reg, insn.size, false);
	if (val > 15) {
		hv_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return 1;
	}
	hv_lapic_set_cr8(vcpu, val);
	vcpu->regs.rip += insn.len;
	return 1;
}

/* CPUID (0F A2): answered by the core, in the kernel or by userspace (route.c). */
static int svm_exit_cpuid(struct svm_vcpu *svm)
{
	return hv_exit_cpuid(&svm->vcpu, svm_next_rip(svm, 2));
}

/* VMMCALL (0F 01 D9): answered by the core (route.c). */
static int svm_exit_vmmcall(struct svm_vcpu *svm)
{
	return hv_exit_hypercall(&svm->vcpu, svm_next_rip(svm, 3));
}

/*
 * IRET while the guest handles an injected NMI (INTERCEPT_IRET, 15.9:
 * the exit comes before the instruction runs).  Let it run, and unmask
 * NMIs once RIP has moved on (svm_nmi_allowed).
 */
static int svm_exit_iret(struct svm_vcpu *svm)
{
	__clear_bit(INTERCEPT_IRET, (unsigned long *)svm->vmcb->control.intercepts);
	svm->nmi_iret = true;
	svm->nmi_iret_rip = svm->vcpu.regs.rip;
	return 1;
}

/* HLT (F4): the core decides who wakes the guest (route.c). */
static int svm_exit_hlt(struct svm_vcpu *svm)
{
	return hv_exit_hlt(&svm->vcpu, svm_next_rip(svm, 1));
}

/*
 * The interrupt window opened (V_IRQ was taken, 15.21.4): the guest can
 * take an interrupt now.  Deliver the queued one on entry, or tell
 * userspace if it asked for the window.
 */
static int svm_exit_vintr(struct svm_vcpu *svm)
{
	svm_close_irq_window(svm);
	if (hv_irq_wanted(&svm->vcpu) || !svm->vcpu.run->request_interrupt_window)
		return 1;
	svm->vcpu.run->exit_reason = HVLAB_EXIT_IRQ_WINDOW;
	return 0;
}

/*
 * IOIO (15.10.2): EXITINFO1 describes the access, EXITINFO2 holds the RIP
 * of the next instruction even without NRIP save.
 */
static int svm_exit_io(struct svm_vcpu *svm)
{
	u64 info = svm->vmcb->control.exit_info_1;
	u8 size = (info & SVM_IOIO_SIZE_MASK) >> SVM_IOIO_SIZE_SHIFT;	/* 1, 2 or 4 */

	if (info & SVM_IOIO_STR_MASK)
		return hv_exit_string_io(&svm->vcpu, info & SVM_IOIO_TYPE_MASK, info >> 16,
					 size, svm->vmcb->control.exit_info_2);
	return hv_exit_io(&svm->vcpu, info & SVM_IOIO_TYPE_MASK, info >> 16, size,
			  svm->vmcb->control.exit_info_2);
}

/*
 * Where the guest MSRs of module/msr.c live on AMD: all in the VMCB save
 * area (VMRUN/#VMEXIT and VMLOAD/VMSAVE switch them, 15.5).  EFER.SVME is
 * hvlab's, never the guest's (15.5.1).
 */
u64 svm_get_msr(struct hv_vcpu *vcpu, u32 index)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_save_area *s = &svm->vmcb->save;

	switch (index) {
	case MSR_EFER:			return s->efer & ~EFER_SVME;
	case MSR_STAR:			return s->star;
	case MSR_LSTAR:			return s->lstar;
	case MSR_CSTAR:			return s->cstar;
	case MSR_SYSCALL_MASK:		return s->sfmask;
	case MSR_KERNEL_GS_BASE:	return s->kernel_gs_base;
	case MSR_IA32_SYSENTER_CS:	return s->sysenter_cs;
	case MSR_IA32_SYSENTER_ESP:	return s->sysenter_esp;
	case MSR_IA32_SYSENTER_EIP:	return s->sysenter_eip;
	case MSR_FS_BASE:		return s->fs.base;
	case MSR_GS_BASE:		return s->gs.base;
	case MSR_IA32_CR_PAT:		return s->g_pat;
	case MSR_IA32_TSC:		return rdtsc() + svm->vmcb->control.tsc_offset;
	}
	WARN_ONCE(1, "hvlab: svm_get_msr(%#x): not a guest MSR of msr.c\n", index);
	return 0;
}

void svm_set_msr(struct hv_vcpu *vcpu, u32 index, u64 val)
{
	struct vmcb_save_area *s = &to_svm(vcpu)->vmcb->save;

	switch (index) {
	case MSR_EFER:
		s->efer = val | EFER_SVME;
		to_svm(vcpu)->check = true;
		break;
	case MSR_STAR:			s->star = val; break;
	case MSR_LSTAR:			s->lstar = val; break;
	case MSR_CSTAR:			s->cstar = val; break;
	case MSR_SYSCALL_MASK:		s->sfmask = val; break;
	case MSR_KERNEL_GS_BASE:	s->kernel_gs_base = val; break;
	case MSR_IA32_SYSENTER_CS:	s->sysenter_cs = val; break;
	case MSR_IA32_SYSENTER_ESP:	s->sysenter_esp = val; break;
	case MSR_IA32_SYSENTER_EIP:	s->sysenter_eip = val; break;
	case MSR_FS_BASE:		s->fs.base = val; break;
	case MSR_GS_BASE:		s->gs.base = val; break;
	case MSR_IA32_CR_PAT:		s->g_pat = val; break;
	/* RDTSC reads the host's TSC plus TSC_OFFSET (VMCB offset 050h, APM Vol. 2 appendix B). */
	case MSR_IA32_TSC:
		to_svm(vcpu)->vmcb->control.tsc_offset = val - rdtsc();
		break;
	default:
		WARN_ONCE(1, "hvlab: svm_set_msr(%#x): not a guest MSR of msr.c\n", index);
	}
}

u64 svm_get_cr0(struct hv_vcpu *vcpu)
{
	return to_svm(vcpu)->vmcb->save.cr0;
}

/* The guest's DR6 and DR7 are in the VMCB: VMRUN and #VMEXIT switch them (15.5, 15.6). */
u64 svm_get_dr(struct hv_vcpu *vcpu, unsigned int dr)
{
	const struct vmcb_save_area *s = &to_svm(vcpu)->vmcb->save;

	return dr == 6 ? s->dr6 : s->dr7;
}

void svm_set_dr(struct hv_vcpu *vcpu, unsigned int dr, u64 val)
{
	struct vmcb_save_area *s = &to_svm(vcpu)->vmcb->save;

	if (dr == 6)
		s->dr6 = val;
	else
		s->dr7 = val;
}

/*
 * MOV to/from DRn (exit codes 20h-27h read, 30h-37h write; 15.9).
 * Without decode assists EXITINFO1 does not name the GPR, so the
 * instruction is decoded from guest memory (0F 21 / 0F 23 /r).
 */
static int svm_exit_dr(struct svm_vcpu *svm)
{
	struct hv_vcpu *vcpu = &svm->vcpu;
	struct hv_insn insn;
	int err;

	err = hv_decode_at_rip(vcpu, &insn);
	if (err == 1)
		return 1;	/* the fetch faulted: queued for the guest (mem.c) */
	if (err || insn.kind != HV_INSN_MOV_DR) {
		u64 data[3] = { svm->vmcb->control.exit_code, vcpu->regs.rip, (u64)err };

		hv_exit_internal(vcpu, HVLAB_INTERNAL_UNSUPPORTED, 3, data);
		return 0;
	}
	return hv_exit_mov_dr(vcpu, insn.ctl, insn.is_write, insn.reg, vcpu->regs.rip + insn.len);
}

/*
 * RDMSR (0F 32) / WRMSR (0F 30), EXITINFO1 = 0 or 1 (15.11).  The MSR
 * permission map sends every access here; module/msr.c decides.
 */
static int svm_exit_msr(struct svm_vcpu *svm)
{
	int ret = hv_exit_rdmsr_wrmsr(&svm->vcpu, svm->vmcb->control.exit_info_1,
				      svm_next_rip(svm, 2));

	if (ret != HV_EXIT_SKIP)
		return ret;
	svm_skip(svm, 2);
	return 1;
}

/* Triple fault (15.13.3): the run page keeps the last state for forensics. */
static int svm_exit_shutdown(struct svm_vcpu *svm)
{
	/* A constant: the journal freezes (tele_hot.h, HV_JOURNAL_FREEZE). */
	hv_count_exit(&svm->vcpu, HVLAB_STAT_SHUTDOWN);
	svm->vcpu.run->exit_reason = HVLAB_EXIT_SHUTDOWN;
	return 0;
}

/*
 * Nested page fault (15.25.6): EXITINFO1 is the #PF-style error code,
 * EXITINFO2 the guest-physical address.  Where no RAM is, the access is
 * MMIO of the instruction at RIP - unless the CPU was walking the guest's
 * page tables (bit 33): then the instruction never got to its own
 * operand, and decoding it would report an access it did not make.  A
 * paging structure outside RAM is not emulated: an internal error.
 */
static int svm_exit_npf(struct svm_vcpu *svm)
{
	u64 info = svm->vmcb->control.exit_info_1;
	u64 gpa = svm->vmcb->control.exit_info_2;
	bool write = info & SVM_NPF_WRITE;
	bool is_mmio;
	int err;

	err = hv_mmu_fault(&svm->vcpu, gpa, write, &is_mmio);
	if (is_mmio && (info & SVM_NPF_IN_WALK)) {
		u64 data[2] = { gpa, info };

		hv_count_exit(&svm->vcpu, HVLAB_STAT_INTERNAL);
		hv_exit_internal(&svm->vcpu, HVLAB_INTERNAL_PAGE_WALK, 2, data);
		return 0;
	}
	hv_count_exit(&svm->vcpu, is_mmio ? hv_lapic_mmio_stat(&svm->vcpu, gpa, write) :
					    HVLAB_STAT_NESTED_PAGE_FAULT);
	if (err) {
		u64 data[2] = { gpa, (u64)err };

		hv_exit_internal(&svm->vcpu, HVLAB_INTERNAL_MEMORY_FAULT, 2, data);
		return 0;
	}
	if (is_mmio)
		return hv_exit_mmio(&svm->vcpu, gpa, write);
	return 1;
}

/*
 * The exit table: a handler, and the neutral reason the exit is counted
 * under (uapi enum hvlab_stat).  Exit codes: APM Vol. 2 appendix C.
 */
static const struct svm_exit {
	svm_exit_fn fn;
	u8 stat;
} svm_exits[] = {
	[SVM_EXIT_WRITE_CR4]	= { svm_exit_write_cr4,	HVLAB_STAT_CR_ACCESS },
	[SVM_EXIT_WRITE_CR8]	= { svm_exit_write_cr8,	HVLAB_STAT_CR_ACCESS },
	[SVM_EXIT_READ_DR0 ... SVM_EXIT_READ_DR7]	= { svm_exit_dr,	HVLAB_STAT_OTHER },
	[SVM_EXIT_WRITE_DR0 ... SVM_EXIT_WRITE_DR7]	= { svm_exit_dr,	HVLAB_STAT_OTHER },
	[SVM_EXIT_EXCP_BASE + X86_TRAP_MC] = { svm_exit_resume,	HVLAB_STAT_EXCEPTION },	/* host's */
	[SVM_EXIT_EXCP_BASE + X86_TRAP_DB] = { svm_exit_db,	HVLAB_STAT_EXCEPTION },
	[SVM_EXIT_EXCP_BASE + X86_TRAP_AC] = { svm_exit_ac,	HVLAB_STAT_EXCEPTION },
	[SVM_EXIT_ICEBP]	= { svm_exit_icebp,	HVLAB_STAT_EXCEPTION },	/* its #DB */
	[SVM_EXIT_INTR]		= { svm_exit_resume,	HVLAB_STAT_EXTERNAL_INTERRUPT },
	[SVM_EXIT_NMI]		= { svm_exit_resume,	HVLAB_STAT_NMI },
	[SVM_EXIT_SMI]		= { svm_exit_resume,	HVLAB_STAT_SMI },
	[SVM_EXIT_VINTR]	= { svm_exit_vintr,	HVLAB_STAT_IRQ_WINDOW },
	[SVM_EXIT_CPUID]	= { svm_exit_cpuid,	HVLAB_STAT_CPUID },
	[SVM_EXIT_INVD]		= { svm_exit_invd,	HVLAB_STAT_INVD },
	[SVM_EXIT_HLT]		= { svm_exit_hlt,	HVLAB_STAT_HLT },
	[SVM_EXIT_IRET]		= { svm_exit_iret,	HVLAB_STAT_OTHER },
	[SVM_EXIT_INVLPGA]	= { svm_exit_ud,	HVLAB_STAT_VIRT_INSN },
	[SVM_EXIT_RDTSCP]	= { svm_exit_ud,	HVLAB_STAT_OTHER },	/* CPUID hides it */
	[SVM_EXIT_RDPMC]	= { svm_exit_gp,	HVLAB_STAT_OTHER },	/* no PMU (CPUID 0Ah) */
	[SVM_EXIT_IOIO]		= { svm_exit_io,	HVLAB_STAT_IO },
	[SVM_EXIT_MSR]		= { svm_exit_msr,	SVM_STAT_BY_HANDLER },
	[SVM_EXIT_SHUTDOWN]	= { svm_exit_shutdown,	SVM_STAT_BY_HANDLER },
	[SVM_EXIT_VMRUN]	= { svm_exit_ud,	HVLAB_STAT_VIRT_INSN },
	[SVM_EXIT_VMMCALL]	= { svm_exit_vmmcall,	HVLAB_STAT_HYPERCALL },
	[SVM_EXIT_VMLOAD]	= { svm_exit_ud,	HVLAB_STAT_VIRT_INSN },
	[SVM_EXIT_VMSAVE]	= { svm_exit_ud,	HVLAB_STAT_VIRT_INSN },
	[SVM_EXIT_STGI]		= { svm_exit_ud,	HVLAB_STAT_VIRT_INSN },
	[SVM_EXIT_CLGI]		= { svm_exit_ud,	HVLAB_STAT_VIRT_INSN },
	[SVM_EXIT_SKINIT]	= { svm_exit_ud,	HVLAB_STAT_VIRT_INSN },
	[SVM_EXIT_MONITOR]	= { svm_exit_ud,	HVLAB_STAT_MONITOR_MWAIT },
	[SVM_EXIT_MWAIT]	= { svm_exit_ud,	HVLAB_STAT_MONITOR_MWAIT },
	[SVM_EXIT_XSETBV]	= { svm_exit_gp,	HVLAB_STAT_XSETBV },
	[SVM_EXIT_WBINVD]	= { svm_exit_wbinvd,	HVLAB_STAT_INVD },
	[SVM_EXIT_RDPRU]	= { svm_exit_ud,	HVLAB_STAT_OTHER },	/* CPUID hides it */
	[SVM_EXIT_NPF]		= { svm_exit_npf,	SVM_STAT_BY_HANDLER },
};

/*
 * The entry was refused: say which rule broke, as far as we can tell.
 * @hw is the exit code of a VMRUN the CPU refused (VMEXIT_INVALID), or 0
 * when hvlab's own checks refused it before any VMRUN, as on VMX.
 */
static int svm_entry_failed(struct svm_vcpu *svm, const char *rule, u32 field, u64 hw)
{
	struct hvlab_run *run = svm->vcpu.run;

	run->exit_reason = HVLAB_EXIT_FAIL_ENTRY;
	run->fail_entry.hardware_reason = hw;
	run->fail_entry.field = field;
	run->fail_entry.padding = 0;
	run->fail_entry.qualification = 0;
	strscpy(run->fail_entry.rule, rule ? rule : "VMRUN failed: no rule of APM 15.5.1 matched",
		sizeof(run->fail_entry.rule));
	pr_info_ratelimited("vCPU %u: entry refused: %s\n", svm->vcpu.id, run->fail_entry.rule);
	return 0;
}

/*
 * Pick this vCPU's ASID on this CPU (15.16) and ask for the TLB flushes
 * VMRUN must do.  A vCPU that moved, or whose CPU started a new ASID
 * generation, gets a fresh ASID that has no TLB entries; running out of
 * ASIDs starts a generation, which must flush every ASID.  QEMU honours
 * only "flush all" in TLB_CONTROL (15.16.1), which is all we use.
 *
 * A flush is done only by a VMRUN that enters the guest, and the entry can
 * still be refused after this (our APM 15.5.1 checks, or VMRUN's own:
 * #VMEXIT(INVALID)).  So nothing here ever lowers TLB_CONTROL: it stays
 * "flush all" until a VMRUN entered with it (svm_vcpu_enter() clears it
 * then), and a new generation keeps the CPU's flush_pending until some
 * vCPU's VMRUN entered there; else the next vCPU on this CPU would run a
 * reused ASID over the old generation's entries.
 */
static void svm_pick_asid(struct svm_vcpu *svm, struct svm_cpu *sc, int cpu)
{
	struct vmcb_control_area *c = &svm->vmcb->control;
	u64 mmu_gen;

	if (svm->asid_cpu != cpu || svm->asid_gen != sc->asid_gen) {
		if (sc->next_asid > svm_max_asid) {
			sc->asid_gen++;
			sc->next_asid = 1;
			sc->flush_pending = true;
		}
		svm->asid = sc->next_asid++;
		svm->asid_gen = sc->asid_gen;
		svm->asid_cpu = cpu;
		c->asid = svm->asid;
	}
	/* The nested tables changed since this vCPU last ran: drop old entries. */
	smp_rmb();
	mmu_gen = READ_ONCE(svm->vcpu.vm->mmu_gen);
	if (svm->mmu_gen != mmu_gen) {
		svm->mmu_gen = mmu_gen;
		c->tlb_ctl = TLB_CONTROL_FLUSH_ALL_ASID;
	}
	if (sc->flush_pending)
		c->tlb_ctl = TLB_CONTROL_FLUSH_ALL_ASID;
}

/*
 * After a VMRUN, interrupts still off: if it entered the guest (any exit
 * but VMEXIT_INVALID), it did the flush TLB_CONTROL asked for, of every
 * ASID on this CPU; later entries need none until svm_pick_asid() asks.
 */
static void svm_flush_done(struct vmcb_control_area *c)
{
	if ((u32)c->exit_code == (u32)SVM_EXIT_ERR || c->tlb_ctl == TLB_CONTROL_DO_NOTHING)
		return;
	c->tlb_ctl = TLB_CONTROL_DO_NOTHING;
	this_cpu_ptr(&svm_cpus)->flush_pending = false;
}

/*
 * Does the VMCB's state save area hold the host's own state: the host's
 * code segment at VMRUN or at the instruction after it?  No exit does that
 * on hardware, where a #VMEXIT saves the guest's state (APM Vol. 2 15.6)
 * and a VMRUN refused by its consistency checks saves none.  QEMU does it
 * twice over: its VMRUN, refusing a VMCB at one of the checks it makes
 * before loading any guest state (EFER, CR0, CR3, CR4, DR6/DR7, ASID...),
 * ends with a #VMEXIT(INVALID) that stores its CPU state, still the
 * host's, with RIP at the VMRUN; and 7.2's multi-threaded TCG now and then
 * raises a second #VMEXIT while the host already runs again (a nested
 * page fault on the host's own page-table walk, with another CPU busy),
 * which stores the host's state with RIP after VMRUN.
 */
static __always_inline bool svm_host_state_in_vmcb(const struct vmcb_save_area *s)
{
	return unlikely(s->rip == (unsigned long)svm_vmrun_insn ||
			s->rip == (unsigned long)svm_vmrun_return) &&
	       s->cs.selector == __KERNEL_CS;
}

/*
 * Never let the host's state out (to GET_SREGS/GET_REGS, a state capture,
 * the journal, or the next VMRUN): a refused VMRUN that followed a write
 * of guest state gets that state back as svm_check_vmcb() passed it, which
 * is what the VMCB would hold on hardware, so the rule can still be looked
 * for and userspace reads what it wrote.  Otherwise the guest's state is
 * gone: the save area is cleared (the next entry's checks refuse it until
 * SET_SREGS) and svm_lost_state() reports it.
 */
static void svm_host_state_out(struct svm_vcpu *svm)
{
	struct vmcb *vmcb = svm->vmcb;

	if ((u32)vmcb->control.exit_code == (u32)SVM_EXIT_ERR && svm->entry_checked) {
		memcpy(&vmcb->save, &svm->checked_save, sizeof(vmcb->save));
		return;
	}
	memset(&vmcb->save, 0, sizeof(vmcb->save));
	svm->lost = true;
}

/*
 * svm_host_state_out() found the host's state in the VMCB with no copy of
 * the guest's to put back.  Stop with a clear report instead of resuming
 * the guest on nothing.
 */
static int svm_lost_state(struct svm_vcpu *svm, u32 code)
{
	struct vmcb *vmcb = svm->vmcb;
	u64 data[3] = { code, vmcb->control.exit_info_1, vmcb->control.exit_info_2 };

	pr_err_ratelimited("vCPU %u: #VMEXIT %#x left the host's own state in the VMCB; the guest's state is lost (a QEMU bug: multi-threaded TCG, or a VMRUN it refused)\n",
			   svm->vcpu.id, code);
	svm->lost = false;
	svm->check = true;
	hv_count_exit(&svm->vcpu, HVLAB_STAT_INTERNAL);
	hv_exit_internal(&svm->vcpu, HVLAB_INTERNAL_LOST_STATE, 3, data);
	return 0;
}

/*
 * QEMU's VMRUN (7.2, and 10.0 still: svm_tcg_needs()) delivers an
 * EVENTINJ external interrupt but leaves its vector as the CPU's
 * pending exception; if the vCPU thread is kicked
 * before anything overwrites it (a #VMEXIT, a guest exception, a serviced
 * interrupt), QEMU delivers the vector a second time, whatever RFLAGS.IF
 * says.  A Linux guest then takes its timer interrupt inside the handler
 * of the previous one and deadlocks on the descriptor lock (about one
 * boot in ten under hvlab-run).  Under TCG only, a self-IPI sent with
 * interrupts off stays pending through CLGI/STI (GIF=0 holds it, APM
 * 15.17) and, with V_INTR_MASKING and the host's IF=1 at VMRUN (15.21.1),
 * is taken as a #VMEXIT(INTR) at the guest's first instruction boundary,
 * right after the delivery: the stale vector is overwritten before any
 * kick.  (V_IRQ instead of EVENTINJ was tried: QEMU 7.2 delivers it
 * late.)  Hardware needs none of this.
 */
static void svm_fence_evtinj(const struct vmcb_control_area *c)
{
	if ((c->event_inj & (SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_MASK)) ==
	    (SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_INTR))
		apic->send_IPI_self(RESCHEDULE_VECTOR);
}

/*
 * An event whose delivery the exit interrupted (EXITINTINFO, 15.7.2: e.g.
 * a guest #PF whose IDT page was not mapped yet) is delivered again, with
 * EVENTINJ (15.20) - except an event the guest raised with an instruction:
 * INT n (type "software interrupt") and INT3/INTO (#BP/#OF, type
 * "exception").  For those the saved RIP is the instruction itself, since
 * it did not complete, and EVENTINJ would push that RIP as the return
 * address (only a CPU with NRIP save can take the next RIP from the VMCB,
 * and QEMU's has none): the handler would run and its IRET would run the
 * INT a second time.  Nothing of the instruction is committed, so the
 * guest simply executes it again and raises the event once.
 *
 * A #BP/#OF that hvlab injected at this entry (userspace queued it) is no
 * instruction of the guest's: when the exit interrupted its delivery, the
 * guest ran nothing, so EXITINTINFO is @injected and RIP is still
 * @entry_rip.  That one is delivered again like any exception.
 */
static void svm_redeliver_event(struct svm_vcpu *svm, u32 injected, u64 entry_rip)
{
	const u32 what = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_MASK | SVM_EVTINJ_VEC_MASK;
	struct vmcb_control_area *c = &svm->vmcb->control;
	u32 info = c->exit_int_info, type = info & SVM_EXITINTINFO_TYPE_MASK;
	u8 vector = info & SVM_EXITINTINFO_VEC_MASK;

	c->event_inj = 0;
	if (!(info & SVM_EXITINTINFO_VALID) || type == SVM_EXITINTINFO_TYPE_SOFT)
		return;
	if (type == SVM_EXITINTINFO_TYPE_EXEPT && (vector == X86_TRAP_BP || vector == X86_TRAP_OF) &&
	    ((injected & what) != (info & what) || svm->vmcb->save.rip != entry_rip))
		return;
	c->event_inj = info;
	c->event_inj_err = c->exit_int_info_err;
}

/*
 * IA32_TSC_AUX around VMRUN, interrupts off.  RDPID has no intercept
 * (APM Vol. 2 15.9 lists none; Vol. 3 RDPID), and neither VMRUN nor
 * #VMEXIT switches TSC_AUX (15.5), so without this a guest's RDPID (and
 * RDTSCP on QEMU, which ignores that intercept) reads the host's value:
 * the number and node of the CPU the VMM thread runs on.  The guest's
 * goes in after CLGI and the host's comes back before STGI: with GIF=0
 * no interrupt, NMI or SMI handler of the host runs in between (15.17),
 * so no host code ever reads the guest's value.  KVM loads it as a
 * user-return MSR instead (svm_prepare_switch_to_guest() ->
 * kvm_set_user_return_msr()) and restores it only when the thread goes
 * back to user space, saving two WRMSRs per exit; hvlab pays them only
 * where the guest can read TSC_AUX at all (svm_switch_tsc_aux: a CPU with
 * RDPID, or QEMU) and its value differs from this CPU's (a Linux guest
 * on vCPU 0 writes 0, as host CPU 0 has), and needs neither the
 * user-return notifier nor the host kernel never reading TSC_AUX itself.
 */
static __always_inline bool svm_tsc_aux_in(struct hv_vcpu *vcpu, u64 host)
{
	if (!svm_switch_tsc_aux || likely(vcpu->tsc_aux == host))
		return false;
	wrmsrq(MSR_TSC_AUX, vcpu->tsc_aux);
	return true;
}

int svm_vcpu_enter(struct hv_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	struct vmcb *vmcb = svm->vmcb;
	struct svm_cpu *sc;
	const char *rule;
	u32 code, field = 0, injected;
	u64 entry_rip;
	bool aux_in;
	u8 queued;
	int cpu;

	/*
	 * RIP moved past an instruction we finished for the guest: an STI or
	 * MOV SS shadow covered only that instruction, so it is over now.
	 */
	if (vmcb->save.rip != vcpu->regs.rip)
		vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
	vmcb->save.rax = vcpu->regs.rax;
	vmcb->save.rsp = vcpu->regs.rsp;
	vmcb->save.rip = vcpu->regs.rip;
	vmcb->save.rflags = vcpu->regs.rflags;
	if (unlikely(vcpu->regs_dirty)) {
		vcpu->regs_dirty = false;
		svm->check = true;	/* SET_REGS: the APM 15.5.1 checks again */
	}

	hv_fpu_guest_in(vcpu);
	local_irq_disable();
	if (unlikely(!hv_hw_cpu_on())) {
		/* Reboot switched SVM off here: CLGI/VMRUN would #UD. */
		local_irq_enable();
		hv_fpu_guest_out(vcpu);
		return -ESHUTDOWN;
	}
	if (hv_entry_must_wait()) {
		local_irq_enable();
		hv_fpu_guest_out(vcpu);
		return 1;
	}
	/* Before svm_pick_asid() reads mmu_gen: see hv_guest_mode_enter(). */
	hv_guest_mode_enter(vcpu);
	hv_fpu_guest_loaded(vcpu);
	if (vcpu->lapic) {
		hv_lapic_pre_enter(vcpu);
		/* CR8 reads come from V_TPR; the APIC's TPR is the truth (vmcb.c). */
		vmcb->control.int_ctl = (vmcb->control.int_ctl & ~V_TPR_MASK) |
					hv_lapic_get_cr8(vcpu);
	}
	svm_inject_events(svm);
	if (unlikely(svm_tcg_evtinj_quirk))
		svm_fence_evtinj(&vmcb->control);

	cpu = smp_processor_id();
	sc = this_cpu_ptr(&svm_cpus);	/* interrupts are off: this CPU's until the exit */
	svm_pick_asid(svm, sc, cpu);

	/*
	 * The software checks, like VMX's: when our code or userspace wrote
	 * guest state, or an event is to be injected.  State that a #VMEXIT
	 * saved is state the guest was running in.
	 */
	svm->entry_checked = svm->check;
	if (svm->check || (vmcb->control.event_inj & SVM_EVTINJ_VALID)) {
		rule = svm_check_vmcb(vmcb, &field);
		if (rule) {
			hv_guest_mode_exit(vcpu);
			local_irq_enable();
			hv_fpu_guest_out(vcpu);
			svm_event_not_delivered(svm, svm->evt_queued);
			hv_exit_info_soft(vcpu);
			if (unlikely(vcpu->vstate))
				svm_capture(svm, ~0ULL);
			hv_count_exit(vcpu, HVLAB_STAT_ENTRY_FAILURE);
			return svm_entry_failed(svm, rule, field, 0);
		}
		if (svm->entry_checked)
			memcpy(&svm->checked_save, &vmcb->save, sizeof(vmcb->save));
		svm->check = false;
	}

	injected = vmcb->control.event_inj;
	entry_rip = vmcb->save.rip;
	hv_pkru_guest_in(vcpu);
	hv_db_guest_in(vcpu, vmcb->save.dr7);
	hv_spec_enter_svm(vcpu);
	/*
	 * QEMU 7.2's VMRUN copies the VMCB's DR7 into its CPU state without
	 * arming the breakpoints it enables (only a MOV to DR7 does, and
	 * every guest MOV DR exits to module/debugreg.c), so a guest's
	 * breakpoint would never fire there; its #VMEXIT then gives the
	 * host back the DR7 VMRUN found, again without re-arming (10.0's
	 * VMRUN arms them: svm_tcg_needs()).  Under such a QEMU only, the
	 * host writes the guest's DR7 itself right
	 * before VMRUN, which arms them (the guest's DR0-3 are in, see
	 * hv_db_guest_in), and 400h right after the exit, which disarms
	 * them.  Hardware arms what VMRUN loads from the VMCB (APM Vol. 2
	 * 15.5.1) and leaves DR7 at 400h after #VMEXIT (15.6): it needs
	 * neither write.
	 */
	if (unlikely(svm_tcg_dr7_quirk) && vcpu->db_live)
		set_debugreg(vmcb->save.dr7, 7);
	hv_tele_entry(vcpu);
	clgi();
	aux_in = svm_tsc_aux_in(vcpu, sc->host_tsc_aux);
	svm_run_asm(svm->vmcb_pa, &vcpu->regs, page_to_phys(sc->host_save));
	if (aux_in)
		wrmsrq(MSR_TSC_AUX, sc->host_tsc_aux);
	hv_spec_after_exit();
	svm_flush_done(&vmcb->control);
	if (unlikely(svm_host_state_in_vmcb(&vmcb->save)))
		svm_host_state_out(svm);
	/* What VMRUN saved (15.5): here, so the journal stores what is at hand. */
	vcpu->regs.rax = vmcb->save.rax;
	vcpu->regs.rsp = vmcb->save.rsp;
	vcpu->regs.rip = vmcb->save.rip;
	vcpu->regs.rflags = vmcb->save.rflags;
	hv_tele_exit(vcpu);
	hv_pkru_guest_out(vcpu);
	hv_xfd_err_clear(vcpu);
	if (unlikely(svm_tcg_dr7_quirk) && vcpu->db_live)
		set_debugreg(HV_DR7_RESET, 7);
	/* VMRUN loaded the guest's DR6 and #VMEXIT left it there (15.5.1). */
	hv_db_guest_out(vcpu, vmcb->save.dr6 != HV_DR6_RESET);
	stgi();
	/* A machine check the exit consumed: the host's, before IF comes back. */
	if (unlikely(vmcb->control.exit_code == SVM_EXIT_EXCP_BASE + X86_TRAP_MC))
		hv_host_machine_check();
	hv_guest_mode_exit(vcpu);
	local_irq_enable();
	hv_fpu_guest_out(vcpu);
	/* Before svm_redeliver_event() or a handler writes the VMCB. */
	if (unlikely(vcpu->vstate))
		svm_capture(svm, vmcb->control.exit_code);

	vcpu->insn_rip = vcpu->regs.rip;	/* for hv_step_check() */

	/* What we injected is delivered now, or back in EVENTINJ. */
	queued = svm->evt_queued;
	svm->evt_queued = SVM_EVT_NONE;
	svm_redeliver_event(svm, injected, entry_rip);

	code = vmcb->control.exit_code;
	hv_exit_info(vcpu, code, vmcb->control.exit_info_1, vmcb->control.exit_info_2);
	if (unlikely(svm->lost))
		return svm_lost_state(svm, code);
	if (code == (u32)SVM_EXIT_ERR) {
		svm->check = true;
		svm_event_not_delivered(svm, queued);
		hv_count_exit(vcpu, HVLAB_STAT_ENTRY_FAILURE);
		return svm_entry_failed(svm, svm_check_vmcb(vmcb, &field), field, code);
	}
	/* Clamped under speculation too, as KVM's svm_invoke_exit_handler(). */
	if (code < ARRAY_SIZE(svm_exits)) {
		code = array_index_nospec(code, ARRAY_SIZE(svm_exits));
		if (!svm_exits[code].fn)
			goto unhandled;
		/* SVM_STAT_BY_HANDLER: the handler knows what the exit was. */
		if (svm_exits[code].stat != SVM_STAT_BY_HANDLER)
			hv_count_exit(vcpu, svm_exits[code].stat);
		return svm_exits[code].fn(svm);
	}
unhandled:
	hv_count_exit(vcpu, HVLAB_STAT_INTERNAL);

	svm_dump_vmcb(svm);
	{
		u64 data[4] = { code, vmcb->control.exit_info_1, vmcb->control.exit_info_2,
				vmcb->save.rip };

		hv_exit_internal(vcpu, HVLAB_INTERNAL_UNHANDLED_EXIT, 4, data);
	}
	return 0;
}
