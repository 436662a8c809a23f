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
 */
#include <linux/linkage.h>
#include <linux/objtool.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>
#include "hv_offsets.h"

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

	/* Guest GPRs; RAX and RSP come from the VMCB. */
	mov	HV_REGS_rcx(%rsi), %rcx
	mov	HV_REGS_rdx(%rsi), %rdx
	mov	HV_REGS_rbx(%rsi), %rbx
	mov	HV_REGS_rbp(%rsi), %rbp
	mov	HV_REGS_rdi(%rsi), %rdi
	mov	HV_REGS_r8(%rsi), %r8
	mov	HV_REGS_r9(%rsi), %r9
	mov	HV_REGS_r10(%rsi), %r10
	mov	HV_REGS_r11(%rsi), %r11
	mov	HV_REGS_r12(%rsi), %r12
	mov	HV_REGS_r13(%rsi), %r13
	mov	HV_REGS_r14(%rsi), %r14
	mov	HV_REGS_r15(%rsi), %r15
	mov	HV_REGS_rsi(%rsi), %rsi

	/* RAX = vmcb_pa; #VMEXIT restores host RAX, RSP, RIP (15.6). */
	sti
	vmrun	%rax
	/* svm_vcpu_enter() checks that no exit ever saved this RIP as the guest's. */
SYM_INNER_LABEL(svm_vmrun_return, SYM_L_GLOBAL)
	ANNOTATE_NOENDBR		/* its address is compared, never jumped to */
	cli

	/* Only RSI is free to find regs with: park the guest's on the stack. */
	push	%rsi
	mov	24(%rsp), %rsi		/* regs */
	pop	HV_REGS_rsi(%rsi)
	mov	%rcx, HV_REGS_rcx(%rsi)
	mov	%rdx, HV_REGS_rdx(%rsi)
	mov	%rbx, HV_REGS_rbx(%rsi)
	mov	%rbp, HV_REGS_rbp(%rsi)
	mov	%rdi, HV_REGS_rdi(%rsi)
	mov	%r8, HV_REGS_r8(%rsi)
	mov	%r9, HV_REGS_r9(%rsi)
	mov	%r10, HV_REGS_r10(%rsi)
	mov	%r11, HV_REGS_r11(%rsi)
	mov	%r12, HV_REGS_r12(%rsi)
	mov	%r13, HV_REGS_r13(%rsi)
	mov	%r14, HV_REGS_r14(%rsi)
	mov	%r15, HV_REGS_r15(%rsi)

	/* Guest FS/GS/... to the VMCB, host's back. */
	mov	8(%rsp), %rax		/* vmcb_pa: not trusting RAX after VMRUN */
	vmsave	%rax
	pop	%rax			/* host_save_pa */
	vmload	%rax

	/* No guest value may live on in a register (speculation). */
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d

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
