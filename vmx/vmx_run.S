/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmx_run.S - the Intel world switch: one VMLAUNCH or VMRESUME, with the
 * guest's general registers loaded before and saved after.
 *
 * int vmx_run_asm(struct hvlab_regs *regs, int launched, unsigned long host_rsp_field)
 *
 * Called by vmx_vcpu_enter() with interrupts off and this vCPU's VMCS
 * current.  VM entry loads guest RSP, RIP, RFLAGS, segment, control and
 * MSR state from the VMCS (SDM Vol. 3C 27.3.2); the VM exit loads the
 * host's from the host-state area (28.5): RSP is the value written to
 * HOST_RSP here (host_rsp_field is its VMCS encoding, from <asm/vmx.h>),
 * RIP is vmx_exit_asm below.  Every general register but RSP is the
 * guest's across the switch, so they come from and go back to @regs.
 *
 * Returns 0 after a VM exit (the exit reason is in the VMCS), 1 on
 * VMfailValid (the error is in the VM-instruction error field) and 2 on
 * VMfailInvalid (31.2 "Conventions": CF=1 invalid, ZF=1 valid).  Which
 * instruction to use is decided in C (@launched: 25.11.3, VMLAUNCH needs
 * a clear VMCS, VMRESUME a launched one).
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/ibt.h>
#include <asm/unwind_hints.h>
#include <asm/nospec-branch.h>
#include "hv_offsets.h"

	.section .text, "ax"

SYM_FUNC_START(vmx_run_asm)
	push	%rbp
	mov	%rsp, %rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
	push	%rdi			/* regs: at 0(%rsp) again after the exit */

	/* The exit comes back on this very stack pointer. */
	vmwrite	%rsp, %rdx
	jbe	.Lvmfail

	/* MOVs leave the flags alone: the branch below still sees this test. */
	test	%esi, %esi
	mov	HV_REGS_rax(%rdi), %rax
	mov	HV_REGS_rbx(%rdi), %rbx
	mov	HV_REGS_rcx(%rdi), %rcx
	mov	HV_REGS_rdx(%rdi), %rdx
	mov	HV_REGS_rsi(%rdi), %rsi
	mov	HV_REGS_rbp(%rdi), %rbp
	mov	HV_REGS_r8(%rdi), %r8
	mov	HV_REGS_r9(%rdi), %r9
	mov	HV_REGS_r10(%rdi), %r10
	mov	HV_REGS_r11(%rdi), %r11
	mov	HV_REGS_r12(%rdi), %r12
	mov	HV_REGS_r13(%rdi), %r13
	mov	HV_REGS_r14(%rdi), %r14
	mov	HV_REGS_r15(%rdi), %r15
	mov	HV_REGS_rdi(%rdi), %rdi

	UNWIND_HINT_SAVE
	jnz	.Lresume
	vmlaunch
	jmp	.Lvmfail
.Lresume:
	vmresume
	/* Falling through means the instruction failed: no VM entry happened. */

.Lvmfail:
	mov	$1, %eax
	adc	$0, %eax		/* 1 + CF: 2 for VMfailInvalid */
	jmp	.Lclear

SYM_INNER_LABEL(vmx_exit_asm, SYM_L_GLOBAL)
	UNWIND_HINT_RESTORE
	ENDBR
	/* Only the stack is the host's: park guest RDI there to find regs. */
	push	%rdi
	mov	8(%rsp), %rdi		/* regs */
	pop	HV_REGS_rdi(%rdi)
	mov	%rax, HV_REGS_rax(%rdi)
	mov	%rbx, HV_REGS_rbx(%rdi)
	mov	%rcx, HV_REGS_rcx(%rdi)
	mov	%rdx, HV_REGS_rdx(%rdi)
	mov	%rsi, HV_REGS_rsi(%rdi)
	mov	%rbp, HV_REGS_rbp(%rdi)
	mov	%r8, HV_REGS_r8(%rdi)
	mov	%r9, HV_REGS_r9(%rdi)
	mov	%r10, HV_REGS_r10(%rdi)
	mov	%r11, HV_REGS_r11(%rdi)
	mov	%r12, HV_REGS_r12(%rdi)
	mov	%r13, HV_REGS_r13(%rdi)
	mov	%r14, HV_REGS_r14(%rdi)
	mov	%r15, HV_REGS_r15(%rdi)
	xor	%eax, %eax

.Lclear:
	/* No guest value may live on in a register (speculation). */
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d

	add	$8, %rsp		/* regs */
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET
SYM_FUNC_END(vmx_run_asm)
