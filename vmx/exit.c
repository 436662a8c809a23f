// SPDX-License-Identifier: GPL-2.0
/*
 * exit.c - one guest entry on Intel, and the table of exit handlers.
 *
 * Handler contract (as in svm/exit.c and KVM): return 1 to enter the
 * guest again, 0 when the run page holds an exit record for userspace,
 * -errno on failure.  Handlers run preemptible with interrupts on, with
 * the exit's facts already copied out of the VMCS (vmx->exit_*); one that
 * touches the VMCS loads it with vmx_vcpu_load()/vmx_vcpu_put().
 *
 * Which exits to expect, given the controls vmx.c sets (SDM Vol. 3C 26.1,
 * 26.2): external interrupts and NMIs, CPUID/GETSEC/INVD/XSETBV/VMX and
 * TDX instructions, task switches, INIT and SIPI signals and triple
 * faults (unconditional), HLT, all port I/O, all MSR accesses,
 * MOV to CR0/CR4 changing a bit the host owns, MOV CR8, MOV DR, RDPMC, #DB,
 * #AC and #MC (the exception bitmap), MONITOR/MWAIT, WBINVD/WBNOINVD, and EPT
 * violations/misconfigurations.  Anything else is a surprise,
 * reported with the VMCS dumped.
 *
 * Unlike SVM here, VMX reports the length of every instruction that
 * exits (28.2.5), so RIP moves by VM_EXIT_INSTRUCTION_LEN; MMIO is the
 * exception (EPT violations give no length): the core decodes it.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/nospec.h>
#include <linux/sched.h>
#include <linux/mm.h>
#include <linux/io.h>
#include <asm/tlbflush.h>
#include <asm/debugreg.h>
#include <asm/desc.h>
#include <asm/fpu/api.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/special_insns.h>
#include <asm/traps.h>

#include "vmx.h"
#include "spec.h"
#include "tele_hot.h"

typedef int (*vmx_exit_fn)(struct vmx_vcpu *vmx);

/* Exit qualification for I/O instructions (28.2.1, Table 28-5). */
#define VMX_IO_SIZE(q)		(((q) & 7) + 1)
#define VMX_IO_IN		BIT_ULL(3)
#define VMX_IO_STRING		BIT_ULL(4)
#define VMX_IO_PORT(q)		((u16)((q) >> 16))
/* Control-register accesses (Table 28-3). */
#define VMX_CR_NUM(q)		((q) & 15)
#define VMX_CR_TYPE(q)		(((q) >> 4) & 3)	/* 0: MOV to CR, 1: MOV from CR */
#define VMX_CR_GPR(q)		(((q) >> 8) & 15)
/* MOV DR (Table 28-4): the register, 1 for MOV from DR, the GPR. */
#define VMX_DR_NUM(q)		((q) & 7)
#define VMX_DR_FROM		BIT_ULL(4)
#define VMX_DR_GPR(q)		(((q) >> 8) & 15)
/* Debug exceptions (Table 28-1): B0-B3, BD, BS as DR6 would have them. */
#define VMX_DB_DR6_BITS		(0xfULL | HV_DR6_BD | HV_DR6_BS)
/*
 * EPT violations (Table 28-7): bit 1, the access was a write; bit 7, the
 * guest-linear address is valid, and then bit 8 clear: the access was to
 * a paging-structure entry of the guest's walk, not to the final address.
 */
#define VMX_EPT_WRITE		BIT_ULL(1)
#define VMX_EPT_GLA_VALID	BIT_ULL(7)
#define VMX_EPT_GLA_FINAL	BIT_ULL(8)
/* Exit reason bit 31: the VM entry failed (28.2.1, 27.8). */
#define VMX_EXIT_FAILED_ENTRY	BIT(31)


/*
 * Basic exit reasons (SDM Vol. 3C appendix C) that <asm/vmx.h> of 6.1
 * and 6.12 does not name.
 */
#ifndef EXIT_REASON_GETSEC
#define EXIT_REASON_GETSEC	11
#endif
#ifndef EXIT_REASON_SEAMCALL
#define EXIT_REASON_SEAMCALL	76
#endif
#ifndef EXIT_REASON_TDCALL
#define EXIT_REASON_TDCALL	77
#endif
/* Task switch qualification (28.2.1, Table 28-2): bits 15:0 the new TSS, 31:30 the source. */
#define VMX_TS_SELECTOR(q)	((u16)(q))
#define VMX_TS_SOURCE(q)	(((q) >> 30) & 3)	/* CALL, IRET, JMP, IDT gate: enum hv_ts_source */
/* DR7's local enables L0-L3 and LE: a task switch clears them (SDM Vol. 3B 18.2.4). */
#define VMX_DR7_LOCAL		0x155ULL

/* In the exit table: the handler calls hv_count_exit() itself. */
#define VMX_STAT_BY_HANDLER	0xff

/* RIP after the instruction that exited (its length is in the VMCS, 28.2.5). */
static u64 vmx_next_rip(struct vmx_vcpu *vmx)
{
	return vmx->vcpu.regs.rip + vmx->exit_len;
}

static void vmx_skip(struct vmx_vcpu *vmx)
{
	vmx->vcpu.regs.rip = vmx_next_rip(vmx);
}

/*
 * Put the next event into the VM-entry interruption-information field
 * (25.8.3, 27.6): one per entry, a re-delivery from the IDT-vectoring
 * information first, then queued exceptions, then an external interrupt
 * if the guest can take it (RFLAGS.IF=1 and no blocking by STI or MOV SS,
 * 25.4.2 Table 25-3; SDM Vol. 3A 6.8.3).  While an interrupt
 * waits, or userspace asked for the window, "interrupt-window exiting"
 * (25.6.2) makes the guest exit as soon as it could take one.  Real mode
 * pushes no error code, and the entry checks insist (27.2.1.3).  The
 * VMCS is loaded.
 */
static void vmx_inject_events(struct vmx_vcpu *vmx)
{
	struct hv_vcpu *vcpu = &vmx->vcpu;
	u32 info = 0, err = 0, len = 0, proc = vmx_caps.proc;

	/* A re-delivery stays in inject_info until an exit replaces it (vmx_read_exit). */
	vmx->inject_src = VMX_EVENT_NONE;
	if (vmx->inject_info) {
		info = vmx->inject_info;
		err = vmx->inject_err;
		len = vmx->inject_len;
		vmx->inject_src = VMX_EVENT_REDELIVER;
		/*
		 * Real mode pushes no error code, whatever the IDT-vectoring
		 * information said (Bochs 2.7 reports one for a real-mode #GP),
		 * and with CR0.PE=0 the entry refuses one (27.2.1.3).  KVM
		 * drops it the same way (kvm_inject_exception()).
		 */
		if (!(vmcs_read(GUEST_CR0) & X86_CR0_PE))
			info &= ~INTR_INFO_DELIVER_CODE_MASK;
	} else if (vcpu->events.exc_pending) {
		bool pe = vmcs_read(GUEST_CR0) & X86_CR0_PE;

		info = vcpu->events.exc_vector | INTR_TYPE_HARD_EXCEPTION | INTR_INFO_VALID_MASK;
		if (vcpu->events.exc_has_err && pe) {
			info |= INTR_INFO_DELIVER_CODE_MASK;
			err = vcpu->events.exc_err;
		}
		/* CR2 is not in the VMCS: vmx_vcpu_enter() loads this one (25.4.1). */
		if (vcpu->events.exc_sets_cr2)
			vcpu->sregs.cr2 = vcpu->events.exc_cr2;
		vcpu->events.exc_pending = false;
		vmx->inject_src = VMX_EVENT_EXCEPTION;
		if (hv_exception_sets_rf(vcpu->events.exc_vector)) {
			vcpu->regs.rflags |= X86_EFLAGS_RF;	/* hv.h */
			vmcs_write(GUEST_RFLAGS, vcpu->regs.rflags);
		}
	} else if (unlikely(vcpu->lapic) && READ_ONCE(vcpu->events.nmi_pending) &&
		   !(vmcs_read(GUEST_INTERRUPTIBILITY_INFO) &
		     (VMX_BLOCKING_STI_MOVSS | GUEST_INTR_STATE_NMI)) && hv_nmi_take(vcpu)) {
		/*
		 * An NMI from the APIC.  Not while blocked by MOV SS (27.3.1.5
		 * refuses it; some CPUs also refuse STI blocking) or by an
		 * NMI: without "virtual NMIs" hvlab has no NMI-window exit, so
		 * it waits for a later entry.
		 */
		info = X86_TRAP_NMI | INTR_TYPE_NMI_INTR | INTR_INFO_VALID_MASK;
		vmx->inject_src = VMX_EVENT_NMI;
	} else if ((vcpu->regs.rflags & X86_EFLAGS_IF) &&
		   !(vmcs_read(GUEST_INTERRUPTIBILITY_INFO) & VMX_BLOCKING_STI_MOVSS) &&
		   hv_irq_wanted(vcpu)) {
		int v = hv_irq_take(vcpu);

		if (v >= 0) {
			info = v | INTR_TYPE_EXT_INTR | INTR_INFO_VALID_MASK;
			vmx->inject_src = VMX_EVENT_IRQ;
		}
	}
	if (info) {
		vmcs_write(VM_ENTRY_INTR_INFO_FIELD, info);
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, err);
		vmcs_write(VM_ENTRY_INSTRUCTION_LEN, len);
	}
	if (hv_irq_wanted(vcpu) || vcpu->run->request_interrupt_window)
		proc |= CPU_BASED_INTR_WINDOW_EXITING;
	if (proc != vmx->proc) {
		vmcs_write(CPU_BASED_VM_EXEC_CONTROL, proc);
		vmx->proc = proc;
	}
}

/*
 * The entry vmx_inject_events() prepared did not happen (refused by the
 * software checks, VMfail, or a VM-entry failure exit, 27.8): nothing was
 * delivered, so the event goes back to its queue for the next RUN, where
 * SET_SREGS/SET_REGS cannot lose it (vmx_load_state drops only a
 * half-delivered event, which re-delivery would have come from).  VMCS loaded.
 */
static void vmx_event_not_delivered(struct vmx_vcpu *vmx)
{
	struct hv_vcpu *vcpu = &vmx->vcpu;

	switch (vmx->inject_src) {
	case VMX_EVENT_EXCEPTION:
		vcpu->events.exc_pending = true;
		break;
	case VMX_EVENT_IRQ:
		hv_irq_untake(vcpu);
		break;
	case VMX_EVENT_NMI:
		WRITE_ONCE(vcpu->events.nmi_pending, true);
		break;
	default:	/* VMX_EVENT_REDELIVER: still in vmx->inject_info */
		break;
	}
	vmx->inject_src = VMX_EVENT_NONE;
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
}

static int vmx_exit_resume(struct vmx_vcpu *vmx)
{
	return 1;	/* the host took its interrupt when IF came back on */
}

/* The time slice is over (26.5.1): back to hv_vcpu_run(), which checks signals. */
static int vmx_exit_timeslice(struct vmx_vcpu *vmx)
{
	return 1;
}

static int vmx_exit_ud(struct vmx_vcpu *vmx)
{
	hv_queue_exception(&vmx->vcpu, X86_TRAP_UD, false, 0);
	return 1;
}

static int vmx_exit_gp(struct vmx_vcpu *vmx)
{
	hv_queue_exception(&vmx->vcpu, X86_TRAP_GP, true, 0);
	return 1;
}

/* INVD exits unconditionally (26.1.2): acting on it would drop the host's dirty lines. */
static int vmx_exit_invd(struct vmx_vcpu *vmx)
{
	vmx_skip(vmx);
	return 1;
}

/*
 * WBINVD and WBNOINVD, with "WBINVD exiting" (25.6.2; both exit with
 * reason 54, 26.1.3): done natively they would write back (and drop) the
 * caches of the whole host CPU for the guest, a latency any guest could
 * impose on the host.  hvlab's guest memory is ordinary cached RAM with no
 * device doing non-coherent DMA into it, so there is nothing to write back
 * for the guest: skipped, as KVM does without non-coherent DMA
 * (kvm_emulate_wbinvd_noskip() does nothing unless need_emulate_wbinvd()).
 */
static int vmx_exit_wbinvd(struct vmx_vcpu *vmx)
{
	vmx_skip(vmx);
	return 1;
}

/* CPUID: answered by the core, in the kernel or by userspace (route.c). */
static int vmx_exit_cpuid(struct vmx_vcpu *vmx)
{
	return hv_exit_cpuid(&vmx->vcpu, vmx_next_rip(vmx));
}

/* VMCALL: answered by the core (route.c). */
static int vmx_exit_vmcall(struct vmx_vcpu *vmx)
{
	return hv_exit_hypercall(&vmx->vcpu, vmx_next_rip(vmx));
}

/* HLT: the core decides who wakes the guest (route.c). */
static int vmx_exit_hlt(struct vmx_vcpu *vmx)
{
	return hv_exit_hlt(&vmx->vcpu, vmx_next_rip(vmx));
}

/*
 * Interrupt window (26.2, 25.6.2): the guest can take an interrupt now.
 * Deliver the queued one on entry, or tell userspace if it asked.  The
 * next entry closes the window unless it is still wanted.
 */
static int vmx_exit_irq_window(struct vmx_vcpu *vmx)
{
	if (hv_irq_wanted(&vmx->vcpu) || !vmx->vcpu.run->request_interrupt_window)
		return 1;
	vmx->vcpu.run->exit_reason = HVLAB_EXIT_IRQ_WINDOW;
	return 0;
}

/* I/O instruction (28.2.1, Table 28-5): one port access for userspace. */
static int vmx_exit_io(struct vmx_vcpu *vmx)
{
	u64 q = vmx->exit_qual;

	if (q & VMX_IO_STRING)
		return hv_exit_string_io(&vmx->vcpu, q & VMX_IO_IN, VMX_IO_PORT(q),
					 VMX_IO_SIZE(q), vmx_next_rip(vmx));
	return hv_exit_io(&vmx->vcpu, q & VMX_IO_IN, VMX_IO_PORT(q), VMX_IO_SIZE(q),
			  vmx_next_rip(vmx));
}

static const u32 vmx_switched_msrs[4] = { MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK };

static void vmx_syscall_in(struct vmx_vcpu *vmx);

/* The syscall MSRs VM exits leave alone; vmx_guest_in()/vmx_guest_out() switch them. */
static u64 *vmx_syscall_msr(struct vmx_vcpu *vmx, u32 index)
{
	switch (index) {
	case MSR_STAR:			return &vmx->star;
	case MSR_LSTAR:			return &vmx->lstar;
	case MSR_CSTAR:			return &vmx->cstar;
	case MSR_SYSCALL_MASK:		return &vmx->sfmask;
	case MSR_KERNEL_GS_BASE:	return &vmx->kernel_gs_base;
	default:			return NULL;
	}
}

/*
 * Where the guest MSRs of module/msr.c live on Intel: EFER, PAT, SYSENTER
 * and the FS/GS bases in VMCS guest-state fields (loaded and saved by VM
 * entry and exit, 25.4, 27.3.2, 28.3.1); the SYSCALL MSRs and
 * KERNEL_GS_BASE in software, switched by vmx_guest_in().  Called from
 * the exit handler with this vCPU's VMCS current.
 */
u64 vmx_get_msr(struct hv_vcpu *vcpu, u32 index)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u64 *soft = vmx_syscall_msr(vmx, index);

	if (soft) {
		u64 val = *soft;

		/* Only SWAPGS changes one of them without an exit. */
		if (index == MSR_KERNEL_GS_BASE) {
			preempt_disable();
			if (vmx->guest_in && vmx->host.syscall)
				rdmsrq(MSR_KERNEL_GS_BASE, val);
			preempt_enable();
		}
		return val;
	}
	switch (index) {
	case MSR_EFER:			return vmcs_read(GUEST_IA32_EFER);
	case MSR_IA32_SYSENTER_CS:	return vmcs_read(GUEST_SYSENTER_CS);
	case MSR_IA32_SYSENTER_ESP:	return vmcs_read(GUEST_SYSENTER_ESP);
	case MSR_IA32_SYSENTER_EIP:	return vmcs_read(GUEST_SYSENTER_EIP);
	case MSR_FS_BASE:		return vmcs_read(GUEST_FS_BASE);
	case MSR_GS_BASE:		return vmcs_read(GUEST_GS_BASE);
	case MSR_IA32_CR_PAT:		return vmcs_read(GUEST_IA32_PAT);
	/* RDTSC does not exit: the guest reads the host's TSC plus TSC_OFFSET (26.3). */
	case MSR_IA32_TSC:		return rdtsc() + vmcs_read(TSC_OFFSET);
	}
	WARN_ONCE(1, "hvlab: vmx_get_msr(%#x): not a guest MSR of msr.c\n", index);
	return 0;
}

void vmx_set_msr(struct hv_vcpu *vcpu, u32 index, u64 val)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u64 *soft = vmx_syscall_msr(vmx, index);

	if (soft) {
		preempt_disable();
		*soft = val;
		if (vmx->guest_in && vmx->host.syscall) {
			unsigned int i;

			/* Live now; vmx_guest_out() puts the host's back. */
			wrmsrq(index, val);
			for (i = 0; i < ARRAY_SIZE(vmx_switched_msrs); i++)
				if (vmx_switched_msrs[i] == index)
					vmx->host.switched |= BIT(i);
		}
		preempt_enable();
		return;
	}
	switch (index) {
	case MSR_EFER:
		vmx_set_efer(vmx, val);
		preempt_disable();
		if (vmx->guest_in && !vmx->host.syscall && (val & (EFER_SCE | EFER_LME)))
			vmx_syscall_in(vmx);
		preempt_enable();
		break;
	case MSR_IA32_SYSENTER_CS:	vmcs_write(GUEST_SYSENTER_CS, val); break;
	case MSR_IA32_SYSENTER_ESP:	vmcs_write(GUEST_SYSENTER_ESP, val); break;
	case MSR_IA32_SYSENTER_EIP:	vmcs_write(GUEST_SYSENTER_EIP, val); break;
	case MSR_FS_BASE:		vmcs_write(GUEST_FS_BASE, val); break;
	case MSR_GS_BASE:		vmcs_write(GUEST_GS_BASE, val); break;
	case MSR_IA32_CR_PAT:		vmcs_write(GUEST_IA32_PAT, val); break;
	case MSR_IA32_TSC:		vmcs_write(TSC_OFFSET, val - rdtsc()); break;
	default:
		WARN_ONCE(1, "hvlab: vmx_set_msr(%#x): not a guest MSR of msr.c\n", index);
	}
}

u64 vmx_get_cr0(struct hv_vcpu *vcpu)
{
	return vmx_guest_cr0(to_vmx(vcpu));
}

/* DR6 lives in software, DR7 in GUEST_DR7 as well (the VMCS is current). */
u64 vmx_get_dr(struct hv_vcpu *vcpu, unsigned int dr)
{
	return dr == 6 ? to_vmx(vcpu)->dr6 : to_vmx(vcpu)->dr7;
}

void vmx_set_dr(struct hv_vcpu *vcpu, unsigned int dr, u64 val)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	if (dr == 6) {
		vmx->dr6 = val;
	} else {
		vmx->dr7 = val;
		vmcs_write(GUEST_DR7, val);
	}
}

/* MOV DR (25.1.3 "MOV DR", "MOV-DR exiting"): emulated by module/debugreg.c. */
static int vmx_exit_dr(struct vmx_vcpu *vmx)
{
	u64 q = vmx->exit_qual;
	int ret;

	ret = vmx_vcpu_load(vmx);
	if (ret)
		return ret;
	ret = hv_exit_mov_dr(&vmx->vcpu, VMX_DR_NUM(q), !(q & VMX_DR_FROM), VMX_DR_GPR(q),
			     vmx_next_rip(vmx));
	vmx_vcpu_put(vmx);
	return ret;
}

/*
 * A guest #DB (exception bitmap bit 1): the exit did not touch DR6 and
 * did not clear DR7.GD (28.1), so do what delivery would have done to the
 * guest's copies (SDM Vol. 3B 18.2.3, 18.2.4) and deliver it.  INT1
 * (ICEBP) exits as a privileged software exception: it is delivered again
 * as one, with its instruction length (27.6.1.1).
 */
static int vmx_exit_db(struct vmx_vcpu *vmx)
{
	u32 type = vmx->exit_intr & INTR_INFO_INTR_TYPE_MASK;
	int ret;

	vmx->dr6 |= vmx->exit_qual & VMX_DB_DR6_BITS;
	/*
	 * Entering any #DB handler clears DR7.GD (18.2.4); an injected #DB
	 * is delivered without doing so, so clear it here, for INT1 too.
	 */
	if (vmx->dr7 & HV_DR7_GD) {
		ret = vmx_vcpu_load(vmx);
		if (ret)
			return ret;
		vmx_set_dr(&vmx->vcpu, 7, vmx->dr7 & ~HV_DR7_GD);
		vmx_vcpu_put(vmx);
	}
	if (type == INTR_TYPE_PRIV_SW_EXCEPTION && !vmx->inject_info) {
		vmx->inject_info = vmx->exit_intr & ~INTR_INFO_UNBLOCK_NMI;
		vmx->inject_err = 0;
		vmx->inject_len = vmx->exit_len;
	} else {
		hv_queue_exception(&vmx->vcpu, X86_TRAP_DB, false, 0);
	}
	return 1;
}

/*
 * A guest #AC (exception bitmap bit 17, vmcs.c): reflected with error
 * code 0, the only one #AC has (SDM Vol. 3A 6.15 "Interrupt 17"), as
 * KVM's handle_exception_nmi() does for AC_VECTOR.  If the #AC came
 * while an exception was being delivered (IDT-vectoring information,
 * 28.2.4), the #AC is delivered and that exception dropped, as the CPU
 * handles a benign second exception (6.15, Table 6-5; KVM:
 * kvm_multiple_exception()); delivering it again would only raise the
 * #AC again.
 */
static int vmx_exit_ac(struct vmx_vcpu *vmx)
{
	if ((vmx->inject_info & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_HARD_EXCEPTION)
		vmx->inject_info = 0;
	hv_queue_exception(&vmx->vcpu, X86_TRAP_AC, true, 0);
	return 1;
}

/*
 * Exit reason 0 (28.2.2): an NMI or a machine check, which the host
 * already took (see vmx_vcpu_enter), or a guest #DB or #AC.
 */
static int vmx_exit_exception_nmi(struct vmx_vcpu *vmx)
{
	u32 info = vmx->exit_intr;

	if ((info & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_NMI_INTR) {
		hv_count_exit(&vmx->vcpu, HVLAB_STAT_NMI);
		return 1;
	}
	hv_count_exit(&vmx->vcpu, HVLAB_STAT_EXCEPTION);
	if ((info & INTR_INFO_VECTOR_MASK) == X86_TRAP_DB)
		return vmx_exit_db(vmx);
	if ((info & INTR_INFO_VECTOR_MASK) == X86_TRAP_AC)
		return vmx_exit_ac(vmx);
	if ((info & INTR_INFO_VECTOR_MASK) == X86_TRAP_MC)
		return 1;	/* the host's, handled right after the exit */

	vmx_dump_vmcs(vmx);
	{
		u64 data[3] = { vmx->exit_reason, info, vmx->exit_qual };

		hv_exit_internal(&vmx->vcpu, HVLAB_INTERNAL_UNHANDLED_EXIT, 3, data);
	}
	return 0;
}

/*
 * RDMSR / WRMSR: the all-ones MSR bitmap sends every access here (25.6.9,
 * 26.1.3); module/msr.c decides, with this vCPU's VMCS current.
 */
static int vmx_exit_msr(struct vmx_vcpu *vmx)
{
	int ret;

	ret = vmx_vcpu_load(vmx);
	if (ret)
		return ret;	/* RIP still at the instruction: it runs again */
	ret = hv_exit_rdmsr_wrmsr(&vmx->vcpu, vmx->exit_reason == EXIT_REASON_MSR_WRITE,
				  vmx_next_rip(vmx));
	vmx_vcpu_put(vmx);
	if (ret != HV_EXIT_SKIP)
		return ret;
	vmx_skip(vmx);
	return 1;
}

/* Exit-qualification GPR numbers (Table 28-3) to hvlab_regs. */
static u64 *vmx_gpr(struct hvlab_regs *r, unsigned int n)
{
	u64 *map[16] = {
		&r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi, &r->rdi,
		&r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15,
	};

	return map[n & 15];
}

/* The guest's paging controls, as an emulated MOV to CR starts from them. */
static int vmx_paging_state(struct vmx_vcpu *vmx, u64 *cr0, u64 *cr3, u64 *cr4, u64 *efer)
{
	int err = vmx_vcpu_load(vmx);

	if (err)
		return err;
	/*
	 * Only CR0.NE, CD, NW and the CR4 bits it may not set are in the
	 * guest/host masks: the guest changes PE, PG, WP and CR4.PAE without
	 * an exit, so the values it runs with come from the VMCS, not from
	 * the read shadows.
	 */
	*cr0 = vmx_guest_cr0(vmx);
	*cr3 = vmcs_read(GUEST_CR3);
	*cr4 = vmx_guest_cr4(vmx);
	*efer = vmcs_read(GUEST_IA32_EFER);
	vmx_vcpu_put(vmx);
	return 0;
}

/*
 * A MOV to CR0 or CR4 after which the guest uses PAE paging, and which
 * changes CR0.CD, NW or PG, or CR4.PAE, PGE, PSE or SMEP, loads the four
 * PDPTEs from CR3, or raises #GP if one is bad (SDM Vol. 3A 4.4.1).  When
 * hvlab emulates one, it loads them into GUEST_PDPTR0-3, where the next VM
 * entry takes them from with EPT (27.3.2.4).
 */
#define VMX_CR0_PDPTE_BITS	(X86_CR0_CD | X86_CR0_NW | X86_CR0_PG)
#define VMX_CR4_PDPTE_BITS	(X86_CR4_PAE | X86_CR4_PGE | X86_CR4_PSE | X86_CR4_SMEP)

/*
 * MOV to CR0 that changes a bit VMX forces (CR0.NE): the guest gets what
 * it wrote in the read shadow, the real CR0 keeps the forced bits.  The
 * rest of MOV CR0 is emulated as the CPU would (SDM Vol. 3A 2.5, 10.8.5):
 * #GP (-EINVAL) on illegal combinations, EFER.LMA following CR0.PG with
 * LME, the PDPTEs loaded when it enters PAE paging.  -EINTR: a signal, the
 * instruction runs again at the next RUN.
 */
static int vmx_mov_to_cr0(struct vmx_vcpu *vmx, u64 val)
{
	u64 old, cr3, cr4, efer, new_efer, pdpte[4];
	bool pg = val & X86_CR0_PG, load;
	int err;

	err = vmx_paging_state(vmx, &old, &cr3, &cr4, &efer);
	if (err)
		return err;
	if ((val >> 32) || ((val & X86_CR0_NW) && !(val & X86_CR0_CD)) ||
	    (pg && !(val & X86_CR0_PE)))
		return -EINVAL;
	if (pg && !(old & X86_CR0_PG) && (efer & EFER_LME) && !(cr4 & X86_CR4_PAE))
		return -EINVAL;
	new_efer = efer;
	if ((old ^ val) & X86_CR0_PG)
		new_efer = (efer & EFER_LME) && pg ? efer | EFER_LMA : efer & ~EFER_LMA;
	load = vmx_pae_paging(val, cr4, new_efer) && ((old ^ val) & VMX_CR0_PDPTE_BITS);
	if (load && !vmx_read_pdptes(vmx, cr3, pdpte))
		return -EINVAL;

	err = vmx_vcpu_load(vmx);
	if (err)
		return err;
	if (new_efer != efer)
		vmx_set_efer(vmx, new_efer);
	vmx_set_cr0(vmx, val);
	if (load)
		vmx_write_pdptes(pdpte);
	if ((old ^ val) & (X86_CR0_PG | X86_CR0_PE | X86_CR0_WP))
		vmx->mmu_gen = ~0ULL;	/* stale linear mappings: flush before entry */
	vmx_vcpu_put(vmx);
	return 0;
}

/*
 * MOV to CR4 that changes a bit hvlab owns (vmcs.c, vmx_cr4_owned): a bit
 * the guest may not set, or VMXE.  #GP (-EINVAL) by the rules of
 * module/cr4.c (KVM: handle_set_cr4() -> kvm_set_cr4()); otherwise the
 * whole write is done here, with the PDPTE load the CPU would do, and the
 * guest's TLB entries flushed (vmx_flush) as the CPU does for changes of
 * PGE, PAE, PSE, PCIDE, SMEP, SMAP or PKE (SDM Vol. 3A 4.10.4.1).
 */
static int vmx_mov_to_cr4(struct vmx_vcpu *vmx, u64 val)
{
	u64 cr0, cr3, old, efer, pdpte[4];
	bool load;
	int err;

	err = vmx_paging_state(vmx, &cr0, &cr3, &old, &efer);
	if (err)
		return err;
	if (hv_cr4_check(&vmx->vcpu, old, val, cr3, efer) || (val & ~vmx_caps.cr4_fixed1))
		return -EINVAL;
	load = vmx_pae_paging(cr0, val, efer) && ((old ^ val) & VMX_CR4_PDPTE_BITS);
	if (load && !vmx_read_pdptes(vmx, cr3, pdpte))
		return -EINVAL;

	err = vmx_vcpu_load(vmx);
	if (err)
		return err;
	vmx_set_cr4(vmx, val);
	if (load)
		vmx_write_pdptes(pdpte);
	vmx->mmu_gen = ~0ULL;
	vmx_vcpu_put(vmx);
	return 0;
}

/* Control-register access (28.2.1, Table 28-3). */
static int vmx_exit_cr(struct vmx_vcpu *vmx)
{
	u64 q = vmx->exit_qual;
	u64 *gpr = vmx_gpr(&vmx->vcpu.regs, VMX_CR_GPR(q));
	int err = -EINVAL;

	switch (VMX_CR_TYPE(q) << 4 | VMX_CR_NUM(q)) {
	case 0x00:
		err = vmx_mov_to_cr0(vmx, *gpr);
		break;
	case 0x04:
		err = vmx_mov_to_cr4(vmx, *gpr);
		break;
	case 0x08:	/* MOV to CR8: TPR[7:4]; bits 63:4 reserved (SDM Vol. 3A 11.8.6.1) */
		if (*gpr > 15)
			break;
		if (vmx->vcpu.lapic)	/* APIC VMs: it is the APIC's TPR */
			hv_lapic_set_cr8(&vmx->vcpu, *gpr);
		else
			vmx->vcpu.sregs.cr8 = *gpr;
		err = 0;
		break;
	case 0x18:	/* MOV from CR8 */
		*gpr = vmx->vcpu.lapic ? hv_lapic_get_cr8(&vmx->vcpu) : vmx->vcpu.sregs.cr8;
		err = 0;
		break;
	default: {
		u64 data[2] = { EXIT_REASON_CR_ACCESS, q };

		vmx_dump_vmcs(vmx);
		hv_exit_internal(&vmx->vcpu, HVLAB_INTERNAL_UNHANDLED_EXIT, 2, data);
		return 0;
	}
	}
	if (err == -EINTR)
		return err;
	if (err)
		return vmx_exit_gp(vmx);
	vmx_skip(vmx);
	return 1;
}

/*
 * Task switch (26.2: every attempt exits; the CPU made the privilege and
 * gate checks of 25.4.2 first).  The switch itself is vendor-neutral
 * (module/taskswitch.c; on AMD the CPU does it, since hvlab does not
 * intercept task switches there).  As in KVM's handle_task_switch(): an
 * event that went through a task gate in the IDT (IDT-vectoring info,
 * 28.2.4) is consumed by the switch and its error code goes on the new
 * stack; for CALL, JMP, IRET and INT n the old task resumes after the
 * instruction (the exit gives its length, 28.2.5), for a fault or an
 * interrupt at it.
 */
static int vmx_exit_task_switch(struct vmx_vcpu *vmx)
{
	struct hv_task_switch ts = {
		.selector = VMX_TS_SELECTOR(vmx->exit_qual),
		.source = VMX_TS_SOURCE(vmx->exit_qual),
		.soft_int = -1,
	};
	u32 idt = vmx->inject_info, type = idt & INTR_INFO_INTR_TYPE_MASK;
	bool via_idt = ts.source == HV_TS_GATE && (idt & INTR_INFO_VALID_MASK);
	int ret;

	ret = hv_sync_sregs(&vmx->vcpu);	/* before anything changes: -EINTR retries */
	if (ret)
		return ret;
	if (via_idt) {
		if (type == INTR_TYPE_HARD_EXCEPTION && (idt & INTR_INFO_DELIVER_CODE_MASK)) {
			ts.has_err = true;
			ts.err = vmx->inject_err;
		}
		if (type == INTR_TYPE_SOFT_INTR)
			ts.soft_int = idt & INTR_INFO_VECTOR_MASK;
		vmx->inject_info = 0;	/* delivered by the switch, not again */
	}
	if (!via_idt || (type != INTR_TYPE_HARD_EXCEPTION && type != INTR_TYPE_EXT_INTR &&
			 type != INTR_TYPE_NMI_INTR))
		vmx_skip(vmx);
	ret = hv_task_switch(&vmx->vcpu, &ts);
	/*
	 * No single-step trap for the switch itself: RIP now belongs to the
	 * new task (or the fault the switch raised), and KVM's
	 * kvm_task_switch() does not skip-and-trap either.
	 */
	vmx->vcpu.insn_rip = vmx->vcpu.regs.rip;
	if (ret == 1 && ts.switched && (vmx->dr7 & VMX_DR7_LOCAL)) {
		ret = vmx_vcpu_load(vmx);
		if (ret)
			return ret;
		vmx_set_dr(&vmx->vcpu, 7, vmx->dr7 & ~VMX_DR7_LOCAL);
		vmx_vcpu_put(vmx);
		ret = 1;
	}
	return ret;
}

/*
 * INIT signal (26.2: INIT always exits in VMX non-root operation, SDM
 * Vol. 3C 24.8 blocks it in root operation).  It was sent to this host
 * CPU, not to the guest, and the exit consumed it.  A guest's own INIT
 * and SIPI never come this way: with the in-kernel APIC they are
 * messages between emulated APICs (module/lapic.c), and a vCPU waiting
 * for SIPI sleeps in the kernel instead of entering the wait-for-SIPI
 * activity state.  So the guest carries on where it was, untouched, and
 * the module says so once in a while.  KVM 6.1 has no handler and ends RUN
 * with an internal error ("unexpected exit reason"); resuming is the
 * choice that neither loses the guest nor spins: a new exit needs a new
 * INIT.  SIPI exits happen only in the wait-for-SIPI activity state,
 * which hvlab never enters (vmcs.c writes activity state 0): resumed the
 * same way if one ever comes.
 */
static int vmx_exit_init_sipi(struct vmx_vcpu *vmx)
{
	pr_info_ratelimited("vCPU %u: %s signal exit on CPU %d ignored (meant for the host CPU)\n",
			    vmx->vcpu.id, (u16)vmx->exit_reason == EXIT_REASON_INIT_SIGNAL ?
			    "INIT" : "SIPI", raw_smp_processor_id());
	return 1;
}

/* Triple fault (26.2): the run page keeps the last state for forensics. */
static int vmx_exit_triple_fault(struct vmx_vcpu *vmx)
{
	/* A constant: the journal freezes (tele_hot.h, HV_JOURNAL_FREEZE). */
	hv_count_exit(&vmx->vcpu, HVLAB_STAT_SHUTDOWN);
	vmx->vcpu.run->exit_reason = HVLAB_EXIT_SHUTDOWN;
	return 0;
}

/*
 * EPT violation (29.3.3.2; qualification Table 28-7, the guest-physical
 * address in its own field).  RAM: map it and retry.  No RAM: MMIO,
 * decoded by the core from guest memory (the VMCS gives no instruction
 * length for this exit, 28.2.5) - unless it was the guest's own
 * page-table walk that reached no RAM: that is no access of the
 * instruction, and a paging structure outside RAM is not emulated
 * (svm_exit_npf() says the same for AMD).
 */
static int vmx_exit_ept_violation(struct vmx_vcpu *vmx)
{
	u64 q = vmx->exit_qual;
	bool write = q & VMX_EPT_WRITE;
	u64 gpa = vmx->exit_gpa;
	bool is_mmio;
	int err;

	err = hv_mmu_fault(&vmx->vcpu, gpa, write, &is_mmio);
	if (is_mmio && (q & (VMX_EPT_GLA_VALID | VMX_EPT_GLA_FINAL)) == VMX_EPT_GLA_VALID) {
		u64 data[2] = { gpa, q };

		hv_count_exit(&vmx->vcpu, HVLAB_STAT_INTERNAL);
		hv_exit_internal(&vmx->vcpu, HVLAB_INTERNAL_PAGE_WALK, 2, data);
		return 0;
	}
	hv_count_exit(&vmx->vcpu, is_mmio ? hv_lapic_mmio_stat(&vmx->vcpu, gpa, write) :
					    HVLAB_STAT_NESTED_PAGE_FAULT);
	if (err) {
		u64 data[2] = { gpa, (u64)err };

		hv_exit_internal(&vmx->vcpu, HVLAB_INTERNAL_MEMORY_FAULT, 2, data);
		return 0;
	}
	if (is_mmio)
		return hv_exit_mmio(&vmx->vcpu, gpa, write);
	return 1;
}

/* EPT misconfiguration (29.3.3.1): an entry hvlab wrote is wrong.  A bug. */
static int vmx_exit_ept_misconfig(struct vmx_vcpu *vmx)
{
	u64 data[2] = { EXIT_REASON_EPT_MISCONFIG, vmx->exit_gpa };

	vmx_dump_vmcs(vmx);
	hv_exit_internal(&vmx->vcpu, HVLAB_INTERNAL_UNHANDLED_EXIT, 2, data);
	return 0;
}

/*
 * The exit table, indexed by basic exit reason (SDM Vol. 3C appendix C):
 * a handler, and the neutral reason the exit is counted under (uapi enum
 * hvlab_stat), the same ones svm/exit.c uses.
 */
static const struct vmx_exit {
	vmx_exit_fn fn;
	u8 stat;
} vmx_exits[] = {
	[EXIT_REASON_EXCEPTION_NMI]		= { vmx_exit_exception_nmi,	VMX_STAT_BY_HANDLER },
	[EXIT_REASON_EXTERNAL_INTERRUPT]	= { vmx_exit_resume,		HVLAB_STAT_EXTERNAL_INTERRUPT },
	[EXIT_REASON_TRIPLE_FAULT]		= { vmx_exit_triple_fault,	VMX_STAT_BY_HANDLER },
	[EXIT_REASON_INIT_SIGNAL]		= { vmx_exit_init_sipi,		HVLAB_STAT_OTHER },
	[EXIT_REASON_SIPI_SIGNAL]		= { vmx_exit_init_sipi,		HVLAB_STAT_OTHER },
	[EXIT_REASON_TASK_SWITCH]		= { vmx_exit_task_switch,	HVLAB_STAT_OTHER },
	/* GETSEC exits even with CR4.SMXE set (26.1.2): CPUID hides SMX, so #UD. */
	[EXIT_REASON_GETSEC]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
	[EXIT_REASON_INTERRUPT_WINDOW]		= { vmx_exit_irq_window,	HVLAB_STAT_IRQ_WINDOW },
	[EXIT_REASON_CPUID]			= { vmx_exit_cpuid,		HVLAB_STAT_CPUID },
	[EXIT_REASON_HLT]			= { vmx_exit_hlt,		HVLAB_STAT_HLT },
	[EXIT_REASON_RDPMC]			= { vmx_exit_gp,		HVLAB_STAT_OTHER },	/* no PMU */
	[EXIT_REASON_INVD]			= { vmx_exit_invd,		HVLAB_STAT_INVD },
	[EXIT_REASON_WBINVD]			= { vmx_exit_wbinvd,		HVLAB_STAT_INVD },
	[EXIT_REASON_VMCALL]			= { vmx_exit_vmcall,		HVLAB_STAT_HYPERCALL },
	[EXIT_REASON_VMCLEAR]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
	[EXIT_REASON_VMLAUNCH]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
	[EXIT_REASON_VMPTRLD]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
	[EXIT_REASON_VMPTRST]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
	[EXIT_REASON_VMREAD]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
	[EXIT_REASON_VMRESUME]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
	[EXIT_REASON_VMWRITE]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
	[EXIT_REASON_VMOFF]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
	[EXIT_REASON_VMON]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
	[EXIT_REASON_CR_ACCESS]			= { vmx_exit_cr,		HVLAB_STAT_CR_ACCESS },
	[EXIT_REASON_DR_ACCESS]			= { vmx_exit_dr,		HVLAB_STAT_OTHER },
	[EXIT_REASON_IO_INSTRUCTION]		= { vmx_exit_io,		HVLAB_STAT_IO },
	[EXIT_REASON_MSR_READ]			= { vmx_exit_msr,		VMX_STAT_BY_HANDLER },
	[EXIT_REASON_MSR_WRITE]			= { vmx_exit_msr,		VMX_STAT_BY_HANDLER },
	[EXIT_REASON_MWAIT_INSTRUCTION]		= { vmx_exit_ud,		HVLAB_STAT_MONITOR_MWAIT },
	[EXIT_REASON_MONITOR_INSTRUCTION]	= { vmx_exit_ud,		HVLAB_STAT_MONITOR_MWAIT },
	[EXIT_REASON_EPT_VIOLATION]		= { vmx_exit_ept_violation,	VMX_STAT_BY_HANDLER },
	[EXIT_REASON_EPT_MISCONFIG]		= { vmx_exit_ept_misconfig,	HVLAB_STAT_INTERNAL },
	[EXIT_REASON_INVEPT]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
	[EXIT_REASON_INVVPID]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
	[EXIT_REASON_XSETBV]			= { vmx_exit_gp,		HVLAB_STAT_XSETBV },	/* guest XCR0 is not switched */
	[EXIT_REASON_PREEMPTION_TIMER]		= { vmx_exit_timeslice,		HVLAB_STAT_TIMESLICE },
	/* TDX's SEAMCALL and TDCALL exit unconditionally (26.1.2): no TDX here, #UD as in KVM. */
	[EXIT_REASON_SEAMCALL]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
	[EXIT_REASON_TDCALL]			= { vmx_exit_ud,		HVLAB_STAT_VIRT_INSN },
};

/*
 * The VM entry was refused: say which rule broke, as far as we can tell.
 * @hw is the VM-instruction error or the exit reason, @qual the exit
 * qualification of a VM-entry failure exit (27.8), else 0.
 */
static int vmx_entry_failed(struct vmx_vcpu *vmx, const char *rule, u32 field, u64 hw, u64 qual)
{
	struct hvlab_run *run = vmx->vcpu.run;

	run->exit_reason = HVLAB_EXIT_FAIL_ENTRY;
	run->fail_entry.hardware_reason = hw;
	run->fail_entry.field = field;
	run->fail_entry.padding = 0;
	run->fail_entry.qualification = qual;
	strscpy(run->fail_entry.rule,
		rule ? rule : "VM entry failed: no rule of SDM 27.2/27.3 matched",
		sizeof(run->fail_entry.rule));
	pr_info_ratelimited("vCPU %u: entry refused: %s\n", vmx->vcpu.id, run->fail_entry.rule);
	return 0;
}

/*
 * The host state a VM exit does not restore (vmx.h) is switched lazily,
 * as kvm-intel does: the host's is put aside at the first entry of a RUN
 * and the guest's syscall MSRs and KERNEL_GS_BASE go in; they stay across
 * every exit handled in the kernel and come back out only when RUN
 * returns or the scheduler switches this thread out (the preempt
 * notifier).  In between, this CPU runs only kernel code of this thread
 * and interrupts: none of it uses the user segments, the syscall MSRs,
 * the user GS base or the GDT limit, and no SYSCALL can happen before a
 * return to user mode, which needs one of the two ways out above.  That
 * leaves per exit only DR7 and DEBUGCTL, which the kernel does use.
 * Interrupts off.
 */
static void vmx_syscall_in(struct vmx_vcpu *vmx)
{
	struct vmx_host_save *h = &vmx->host;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vmx_switched_msrs); i++) {
		u64 guest = *vmx_syscall_msr(vmx, vmx_switched_msrs[i]);

		rdmsrq(vmx_switched_msrs[i], h->msr[i]);
		if (h->msr[i] != guest) {
			wrmsrq(vmx_switched_msrs[i], guest);
			h->switched |= BIT(i);
		}
	}
	wrmsrq(MSR_KERNEL_GS_BASE, vmx->kernel_gs_base);
	h->syscall = true;
}

static void vmx_guest_in(struct vmx_vcpu *vmx)
{
	struct vmx_host_save *h = &vmx->host;

	savesegment(ds, h->ds);
	savesegment(es, h->es);
	savesegment(fs, h->fs);
	savesegment(gs, h->gs);
	rdmsrq(MSR_FS_BASE, h->fs_base);
	if (h->fs_base != vmx->host_fs_base) {
		vmcs_write(HOST_FS_BASE, h->fs_base);
		vmx->host_fs_base = h->fs_base;
	}
	rdmsrq(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	native_store_gdt(&h->gdt);
	asm volatile("sldt %0" : "=r" (h->ldt));
	h->debugctl = get_debugctlmsr();
	h->switched = 0;
	h->syscall = false;
	/*
	 * Only a guest that can use them (EFER.SCE, or long mode, the only
	 * mode with SWAPGS) needs its syscall MSRs in; an EFER write that
	 * makes it one switches them then (vmx_set_msr).
	 */
	if (vmx->efer & (EFER_SCE | EFER_LME))
		vmx_syscall_in(vmx);
	vmx->guest_in = true;
}

/* Back to the host's, keeping the guest's KERNEL_GS_BASE (its SWAPGS moves it). */
static void vmx_guest_out(struct vmx_vcpu *vmx)
{
	struct vmx_host_save *h = &vmx->host;
	unsigned int i;

	if (!vmx->guest_in)
		return;
	for (i = 0; i < ARRAY_SIZE(vmx_switched_msrs); i++)
		if (h->switched & BIT(i))
			wrmsrq(vmx_switched_msrs[i], h->msr[i]);
	if (h->syscall)
		rdmsrq(MSR_KERNEL_GS_BASE, vmx->kernel_gs_base);
	if (h->ds)
		loadsegment(ds, h->ds);
	if (h->es)
		loadsegment(es, h->es);
	if (h->fs) {
		loadsegment(fs, h->fs);
		wrmsrq(MSR_FS_BASE, h->fs_base);
	}
	if (h->gs)
		load_gs_index(h->gs);
	if (h->syscall || h->gs)
		wrmsrq(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	native_load_gdt(&h->gdt);
	/*
	 * A process with an LDT (modify_ldt) has its selector loaded by the
	 * kernel on every switch to it; the exit nulled LDTR, and a switch
	 * to another thread of the same mm would not reload it.  The GDT
	 * (its limit back first) still holds the descriptor.
	 */
	if (h->ldt)
		asm volatile("lldt %0" : : "r" (h->ldt));
	invalidate_tss_limit();
	vmx->guest_in = false;
}

static void vmx_sched_in(struct preempt_notifier *pn, int cpu)
{
	/* The next entry puts the guest's state in again; L1D is stale. */
	hv_spec_host_ran(&container_of(pn, struct vmx_vcpu, pn)->vcpu);
}

/* Called with interrupts off, before the switch to @next. */
static void vmx_sched_out(struct preempt_notifier *pn, struct task_struct *next)
{
	vmx_guest_out(container_of(pn, struct vmx_vcpu, pn));
}

static struct preempt_ops vmx_preempt_ops = {
	.sched_in	= vmx_sched_in,
	.sched_out	= vmx_sched_out,
};

void vmx_run_begin(struct hv_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	hv_spec_host_ran(vcpu);
	preempt_notifier_init(&vmx->pn, &vmx_preempt_ops);
	preempt_disable();
	preempt_notifier_register(&vmx->pn);
	preempt_enable();
}

void vmx_run_end(struct hv_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	preempt_disable();
	vmx_guest_out(vmx);
	preempt_notifier_unregister(&vmx->pn);
	preempt_enable();
}

/* Host state that changes with the task or over time: rewritten when it did. */
static void vmx_update_host_state(struct vmx_vcpu *vmx)
{
	unsigned long cr3 = __read_cr3(), cr4 = cr4_read_shadow();

	if (unlikely(cr3 != vmx->host_cr3)) {
		vmcs_write(HOST_CR3, cr3);
		vmx->host_cr3 = cr3;
	}
	if (unlikely(cr4 != vmx->host_cr4)) {
		vmcs_write(HOST_CR4, cr4);
		vmx->host_cr4 = cr4;
	}
}

/* The exit's facts, read while the VMCS is current (28.2); the reason is in already. */
static void vmx_read_exit(struct vmx_vcpu *vmx)
{
	struct hvlab_regs *r = &vmx->vcpu.regs;
	u16 basic = (u16)vmx->exit_reason;
	u32 idt;

	vmx->exit_qual = vmcs_read(EXIT_QUALIFICATION);
	vmx->exit_len = vmcs_read(VM_EXIT_INSTRUCTION_LEN);
	/*
	 * The guest-physical address field is written only by EPT
	 * violations and misconfigurations (SDM Vol. 3C 28.2.1; undefined
	 * after every other exit), so it is read only for those, as KVM's
	 * handle_ept_violation()/handle_ept_misconfig() do: one VMREAD
	 * less on every other exit.  Journal and trace record 0 then.
	 */
	vmx->exit_gpa = basic == EXIT_REASON_EPT_VIOLATION || basic == EXIT_REASON_EPT_MISCONFIG ?
			vmcs_read(GUEST_PHYSICAL_ADDRESS) : 0;
	r->rip = vmx->exit_rip = vmcs_read(GUEST_RIP);
	vmx->vcpu.insn_rip = r->rip;	/* for hv_step_check() */
	r->rsp = vmcs_read(GUEST_RSP);
	r->rflags = vmcs_read(GUEST_RFLAGS);

	/*
	 * An event whose delivery the exit interrupted (e.g. a guest #PF
	 * whose IDT page was not mapped yet) is delivered again (28.2.4,
	 * 27.6.1.1): same type, vector and error code; software events also
	 * need their instruction length.  Bit 12 is not part of the entry field.
	 */
	if (vmx->exit_reason & VMX_EXIT_FAILED_ENTRY)
		return;		/* nothing ran: the event to inject is still ours (27.8) */
	idt = vmcs_read(IDT_VECTORING_INFO_FIELD);
	vmx->inject_info = 0;
	if (idt & VECTORING_INFO_VALID_MASK) {
		u32 type = idt & VECTORING_INFO_TYPE_MASK;

		vmx->inject_info = idt & ~INTR_INFO_UNBLOCK_NMI;
		vmx->inject_err = vmcs_read(IDT_VECTORING_ERROR_CODE);
		vmx->inject_len = (type == INTR_TYPE_SOFT_INTR || type == INTR_TYPE_SOFT_EXCEPTION ||
				   type == INTR_TYPE_PRIV_SW_EXCEPTION) ? vmx->exit_len : 0;
	}
	/*
	 * The CPU sets EFER.LMA itself when the guest turns on paging with
	 * LME set; the "IA-32e mode guest" control must follow it (27.3.1.1).
	 */
	if (vmx->efer & EFER_LME) {
		u64 efer = vmcs_read(GUEST_IA32_EFER);

		if ((efer ^ vmx->efer) & EFER_LMA)
			vmx_set_efer(vmx, efer);
	}
}

/*
 * A STI/MOV SS shadow kept across SET_REGS (same RIP) with a new
 * RFLAGS.TF: VM entry wants the pending debug exceptions' BS bit to say
 * whether the shadowed instruction ends in a single-step trap (SDM Vol.
 * 3C 27.3.1.5), and the CPU recorded it for the old TF when it exited.
 * Record it for userspace's TF the same way (BS iff TF=1 and
 * DEBUGCTL.BTF=0), so the guest steps as if it had set TF itself.  KVM
 * drops the shadow instead when it single-steps a guest for its own
 * debugger (vmx_vcpu_run(), KVM_GUESTDBG_SINGLESTEP).  VMCS loaded.
 */
static void vmx_shadow_step(struct vmx_vcpu *vmx)
{
	u64 dbg = vmcs_read(GUEST_PENDING_DBG_EXCEPTIONS) & ~(u64)DR_STEP;

	if (!(vmcs_read(GUEST_INTERRUPTIBILITY_INFO) & VMX_BLOCKING_STI_MOVSS))
		return;
	if ((vmx->vcpu.regs.rflags & X86_EFLAGS_TF) &&
	    !(vmcs_read(GUEST_IA32_DEBUGCTL) & DEBUGCTLMSR_BTF))
		dbg |= DR_STEP;
	vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, dbg);
}

int vmx_vcpu_enter(struct hv_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u32 reason, field = 0, apic_seq = 0;
	const char *rule;
	int fail;

	fail = vmx_vcpu_load(vmx);
	if (fail)
		return fail;
	vmcs_write(GUEST_RIP, vcpu->regs.rip);
	vmcs_write(GUEST_RSP, vcpu->regs.rsp);
	vmcs_write(GUEST_RFLAGS, vcpu->regs.rflags);
	/* RIP moved past the instruction: its STI/MOV-SS shadow is over (25.4.2). */
	if (vcpu->regs.rip != vmx->exit_rip) {
		u32 intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);

		if (intr & VMX_BLOCKING_STI_MOVSS)
			vmcs_write(GUEST_INTERRUPTIBILITY_INFO, intr & ~VMX_BLOCKING_STI_MOVSS);
	}
	vmx_sync_cr4_mask(vmx);		/* the guest's CPUID may have changed */
	/*
	 * SET_REGS wrote RFLAGS: the software entry checks run again
	 * (27.3.1.4).  An IF=0 from userspace also ends an STI shadow, which
	 * VM entry refuses with IF=0 (27.3.1.5) and which the CPU never
	 * holds then (STI sets IF).
	 */
	if (unlikely(vcpu->regs_dirty)) {
		vcpu->regs_dirty = false;
		vmx->check = true;
		if (!(vcpu->regs.rflags & X86_EFLAGS_IF)) {
			u32 intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);

			if (intr & GUEST_INTR_STATE_STI)
				vmcs_write(GUEST_INTERRUPTIBILITY_INFO, intr & ~GUEST_INTR_STATE_STI);
		}
		vmx_shadow_step(vmx);
	}
	/*
	 * APIC VMs: the APIC is looked at here, before guest_mode is set;
	 * an interrupt accepted from now on may find guest_mode still 0 and
	 * send no IPI, so its count is checked again after (below).
	 */
	if (vcpu->lapic) {
		hv_lapic_pre_enter(vcpu);
		apic_seq = READ_ONCE(vcpu->lapic->accepted);
	}
	vmx_inject_events(vmx);
	if (vmx->check) {
		rule = vmx_check_vmcs(vmx, &field);
		if (rule) {
			vmx_event_not_delivered(vmx);
			if (unlikely(vcpu->vstate))
				vmx_capture(vmx, ~0ULL);
			vmx_vcpu_put(vmx);
			hv_exit_info_soft(vcpu);
			hv_count_exit(vcpu, HVLAB_STAT_ENTRY_FAILURE);
			return vmx_entry_failed(vmx, rule, field, 0, 0);
		}
		vmx->check = false;
	}

	local_irq_disable();
	if (unlikely(!hv_hw_cpu_on())) {
		/*
		 * Reboot switched VMX off here (VMCLEAR, VMXOFF): no VMCS to
		 * touch, and VMLAUNCH would #UD.  (A VMCS access between
		 * vmx_vcpu_load and here can still meet it: see hw.c.)
		 */
		local_irq_enable();
		vmx_vcpu_put(vmx);
		return -ESHUTDOWN;
	}
	if (hv_entry_must_wait()) {
		local_irq_enable();
		vmx_event_not_delivered(vmx);
		vmx_vcpu_put(vmx);
		return 1;
	}
	/* Before vmx_flush() reads mmu_gen: see hv_guest_mode_enter(). */
	hv_guest_mode_enter(vcpu);
	if (unlikely(vcpu->lapic) && READ_ONCE(vcpu->lapic->accepted) != apic_seq) {
		/* Something came in after vmx_inject_events(): look again. */
		hv_guest_mode_exit(vcpu);
		local_irq_enable();
		vmx_event_not_delivered(vmx);
		vmx_vcpu_put(vmx);
		return 1;
	}
	hv_fpu_guest_loaded(vcpu);
	vmx_flush(vmx);
	if (vmx_caps.slice)
		vmcs_write(VMX_PREEMPTION_TIMER_VALUE, vmx_caps.slice);
	vmx_update_host_state(vmx);
	if (!vmx->guest_in)
		vmx_guest_in(vmx);
	/* CR2 is not part of the VMCS (25.4.1): the guest's is live across the switch. */
	if (native_read_cr2() != vcpu->sregs.cr2)
		native_write_cr2(vcpu->sregs.cr2);

	hv_pkru_guest_in(vcpu);
	hv_db_guest_in(vcpu, vmx->dr7);
	hv_spec_enter_vmx(vcpu, (u16)vmx->exit_reason);
	hv_tele_entry(vcpu);
	fail = vmx_run_asm(&vcpu->regs, vmx->launched, HOST_RSP);
	hv_spec_after_exit();
	hv_tele_exit_stamp(vcpu);
	hv_pkru_guest_out(vcpu);
	hv_xfd_err_clear(vcpu);

	vcpu->sregs.cr2 = native_read_cr2();
	/* The exit cleared DEBUGCTL and set DR7 to 400h (28.5). */
	if (vmx->host.debugctl)
		update_debugctlmsr(vmx->host.debugctl);
	hv_db_guest_out(vcpu, false);	/* no DR6 in the VMCS (25.4.1): it stays */
	if (!fail) {
		reason = vmx->exit_reason = vmcs_read(VM_EXIT_REASON);
		/*
		 * An NMI that exits is consumed by the exit (26.2, 28.1 "NMI
		 * exiting"), not left pending: hand it to the host's handler.
		 */
		if ((u16)reason == EXIT_REASON_EXCEPTION_NMI) {
			vmx->exit_intr = vmcs_read(VM_EXIT_INTR_INFO);
			if ((vmx->exit_intr & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_NMI_INTR)
				vmx_nmi_asm();
			else if ((vmx->exit_intr & INTR_INFO_VECTOR_MASK) == X86_TRAP_MC)
				hv_host_machine_check();
		} else if ((u16)reason == EXIT_REASON_MCE_DURING_VMENTRY) {
			/* The entry failed on a machine check (27.8): the host's too. */
			hv_host_machine_check();
		}
	}
	hv_guest_mode_exit(vcpu);
	local_irq_enable();

	if (fail) {
		/*
		 * VMfail: nothing entered; the error number is in the VMCS
		 * (31.4).  No exit reason; the TSC was taken after the attempt,
		 * and the registers are the ones the guest would have had.
		 */
		hv_exit_info(vcpu, 0, 0, 0);
		hv_tele_exit_regs(vcpu);
		hv_count_exit(vcpu, HVLAB_STAT_ENTRY_FAILURE);
		u64 err = fail == 1 ? vmcs_read(VM_INSTRUCTION_ERROR) : ~0ULL;

		rule = fail == 1 ? vmx_check_vmcs(vmx, &field) : NULL;
		if (fail == 1)
			vmx_event_not_delivered(vmx);
		else if (vmx->inject_src == VMX_EVENT_EXCEPTION)
			vcpu->events.exc_pending = true;	/* no VMCS to clear */
		else if (vmx->inject_src == VMX_EVENT_IRQ)
			hv_irq_untake(vcpu);
		else if (vmx->inject_src == VMX_EVENT_NMI)
			WRITE_ONCE(vcpu->events.nmi_pending, true);
		/* VMfailInvalid: no current VMCS to read. */
		if (unlikely(vcpu->vstate) && fail == 1)
			vmx_capture(vmx, ~0ULL);
		vmx_vcpu_put(vmx);
		vmx->check = true;
		return vmx_entry_failed(vmx, rule ? rule : (fail == 1 ?
					"SDM 31.4: VMLAUNCH/VMRESUME VMfailValid" :
					"SDM 31.2: VMfailInvalid (no current VMCS)"), field, err, 0);
	}

	vmx_read_exit(vmx);
	hv_tele_exit_regs(vcpu);
	/* Before any handler writes the VMCS: the state the exit left. */
	if (unlikely(vcpu->vstate))
		vmx_capture(vmx, vmx->exit_reason);
	hv_exit_info(vcpu, vmx->exit_reason, vmx->exit_qual, vmx->exit_gpa);
	if (vmx->exit_reason & VMX_EXIT_FAILED_ENTRY) {
		/* Invalid guest state or MSR loading (27.8): nothing ran. */
		hv_count_exit(vcpu, HVLAB_STAT_ENTRY_FAILURE);
		rule = vmx_check_vmcs(vmx, &field);
		vmx_event_not_delivered(vmx);
		vmx_vcpu_put(vmx);
		vmx->check = true;
		return vmx_entry_failed(vmx, rule, field, vmx->exit_reason, vmx->exit_qual);
	}
	vmx->launched = true;
	vmx_vcpu_put(vmx);

	/*
	 * The basic exit reason indexes the handler table; clamp it under
	 * speculation too (Spectre v1: a mispredicted bounds check must not
	 * load a handler pointer from beyond the table), as KVM's
	 * __vmx_handle_exit() does with array_index_nospec().
	 */
	reason = (u16)vmx->exit_reason;
	if (reason < ARRAY_SIZE(vmx_exits)) {
		reason = array_index_nospec(reason, ARRAY_SIZE(vmx_exits));
		if (!vmx_exits[reason].fn)
			goto unhandled;
		/* VMX_STAT_BY_HANDLER: the handler knows what the exit was. */
		if (vmx_exits[reason].stat != VMX_STAT_BY_HANDLER)
			hv_count_exit(vcpu, vmx_exits[reason].stat);
		return vmx_exits[reason].fn(vmx);
	}
unhandled:
	hv_count_exit(vcpu, HVLAB_STAT_INTERNAL);

	vmx_dump_vmcs(vmx);
	{
		u64 data[4] = { vmx->exit_reason, vmx->exit_qual, vmx->exit_gpa, vmx->exit_rip };

		hv_exit_internal(vcpu, HVLAB_INTERNAL_UNHANDLED_EXIT, 4, data);
	}
	return 0;
}
