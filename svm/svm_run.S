/* SPDX-License-Identifier: GPL-2.0 */
/*
 * svm_run.S - the AMD world switch: one VMRUN, with the guest's general
 * registers loaded before and saved after.
 *
 * void svm_run_asm(u64 vmcb_pa, struct hvlab_regs *regs, u64 host_save_pa)
 *
 * Called by svm_vcpu_enter() with interrupts off and GIF clear.  VMRUN
 * itself switches RAX, RSP, RIP, RFLAGS, segment, control and EFER state
 * (APM Vol. 2 15.5); VMLOAD/VMSAVE switch FS, GS, TR, LDTR and the
 * syscall/sysenter MSRs that VMRUN leaves alone (15.5.2), so the host's are
 * saved to host_save_pa first and reloaded last.  Interrupts are enabled
 * only across VMRUN: with GIF clear none can arrive in the host, while a
 * host interrupt during the guest causes an INTR intercept (15.17, 15.21).
 * Everything else (what to intercept, which ASID) is decided in C.
 *
 * Speculation (module/spec.c says why), with the kernel's own macros,
 * patched in only where the host's mitigation mode set their feature
 * bit, as in KVM's svm/vmenter.S: VERW as the last memory access before
 * VMRUN (TSA); after #VMEXIT, once VMLOAD has given the host its GS back
 * and before the first RET, the return-stack fill, then the return
 * untraining and IBPB of the AMD retbleed and SRSO mitigations.  No
 * SPEC_CTRL switch: the guest cannot write it, so it stays the host's.
 */
#include <linux/linkage.h>
#include <linux/objtool.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>
#include "hv_asm.h"
#include "compat.h"

	.section .text, "ax"

SYM_FUNC_START(svm_run_asm)
	push	%rbp
	mov	%rsp, %rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
	push	%rsi			/* regs: needed again after VMRUN */
	push	%rdi			/* vmcb_pa */

	/* Host FS/GS/TR/LDTR and syscall MSRs aside, guest's in. */
	mov	%rdx, %rax
	vmsave	%rax
	mov	(%rsp), %rax
	vmload	%rax
	push	%rdx			/* host_save_pa */

	/*
	 * Host IF=1 for VMRUN (HIF: physical interrupts then exit the guest,
	 * 15.21.1); GIF is clear, so none is taken here (15.17).  STI comes
	 * this early, not right before VMRUN, so that VMRUN does not sit in
	 * STI's one-instruction shadow: QEMU's VMRUN neither loads the
	 * guest's shadow from the VMCB (int_state, 15.21.5) nor ends the
	 * host's, so every guest would start in a shadow it never had, and
	 * a pending V_IRQ or an interrupt-window check would miss the
	 * guest's first instruction: in a "sti; pause; cli" wait, at every
	 * entry.  Hardware needs no such care.  The price under QEMU: a
	 * shadow the VMCB does hold is not restored either (test_debug's
	 * sti_shadow_set_regs skips there).  Placing STI right before VMRUN
	 * only when int_state has the shadow does not help: QEMU's PAUSE
	 * keeps STI's shadow to the next instruction and reports it at the
	 * exit, so the "sti; pause; cli" wait misses its interrupt again.
	 */
	sti

	/* Guest GPRs; RAX and RSP come from the VMCB. */
	HV_LOAD_GPRS rsi, rcx, rdx, rbx, rbp, rdi, r8, r9, r10, r11, r12, r13, r14, r15
	mov	HV_REGS_rsi(%rsi), %rsi	/* the base register last */

	/*
	 * TSA: empty the CPU's buffers of host data (microcode's VERW).  7.x
	 * keeps the kernel's VERW operand (x86_verw_sel) for KVM and has no
	 * VM_CLEAR_CPU_BUFFERS: the same instruction on our own selector
	 * (module/spec_asm.S), under the same feature bit.
	 */
#if HV_KVM_ONLY_EXPORTS
	ALTERNATIVE "", "verw hv_verw_sel(%rip)", X86_FEATURE_CLEAR_CPU_BUF_VM
#else
	VM_CLEAR_CPU_BUFFERS
#endif

	/*
	 * RAX = vmcb_pa; #VMEXIT restores host RAX, RSP, RIP (15.6).  exit.c
	 * (svm_host_state_in_vmcb()) checks that no exit ever left either
	 * of these two RIPs in the VMCB as the guest's.
	 */
SYM_INNER_LABEL(svm_vmrun_insn, SYM_L_GLOBAL)
	ANNOTATE_NOENDBR		/* its address is compared, never jumped to */
	vmrun	%rax
SYM_INNER_LABEL(svm_vmrun_return, SYM_L_GLOBAL)
	ANNOTATE_NOENDBR		/* its address is compared, never jumped to */
	cli

	/* Only RSI is free to find regs with: park the guest's on the stack. */
	push	%rsi
	mov	24(%rsp), %rsi		/* regs */
	pop	HV_REGS_rsi(%rsi)
	HV_SAVE_GPRS rsi, rcx, rdx, rbx, rbp, rdi, r8, r9, r10, r11, r12, r13, r14, r15

	/* Guest FS/GS/... to the VMCB, host's back. */
	mov	8(%rsp), %rax		/* vmcb_pa: not trusting RAX after VMRUN */
	vmsave	%rax
	pop	%rax			/* host_save_pa */
	vmload	%rax

	/*
	 * Before any RET: overwrite the return-stack entries the guest may
	 * have left (RSB_VMEXIT: the kernel's "Filling RSB on VMEXIT").
	 */
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT

	/*
	 * Retbleed/SRSO: retrain the return predictor before the first RET
	 * (X86_FEATURE_UNRET, SRSO_ALIAS), or IBPB where the host chose IBPB
	 * on VM exit.  Clobbers RAX, RCX, RDX, all free here.  6.12's
	 * UNTRAIN_RET_VM is both in one; 6.1 has them apart.
	 */
#if HV_KVM_ONLY_EXPORTS
	/*
	 * 7.x: UNTRAIN_RET_VM's IBPB calls write_ibpb, KVM's only; the same
	 * sequence with hvlab's own IBPB (module/spec_asm.S).
	 */
#if defined(CONFIG_MITIGATION_RETHUNK) || defined(CONFIG_MITIGATION_IBPB_ENTRY)
	VALIDATE_UNRET_END
	CALL_UNTRAIN_RET
	ALTERNATIVE_2 "", "call hv_ibpb", X86_FEATURE_IBPB_ON_VMEXIT, \
		      __stringify(RESET_CALL_DEPTH), X86_FEATURE_CALL_DEPTH
#endif
#elif defined(UNTRAIN_RET_VM)
	UNTRAIN_RET_VM
#else
	UNTRAIN_RET
	ALTERNATIVE "", "call entry_ibpb", X86_FEATURE_IBPB_ON_VMEXIT
#endif

	HV_CLEAR_GUEST_SCRATCH

	pop	%rdi
	pop	%rsi
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	xor	%eax, %eax
	RET
SYM_FUNC_END(svm_run_asm)
