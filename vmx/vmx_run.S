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
#include "hv_asm.h"

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
	HV_LOAD_GPRS rdi, rax, rbx, rcx, rdx, rsi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
	mov	HV_REGS_rdi(%rdi), %rdi	/* the base register last */

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
	HV_SAVE_GPRS rdi, rax, rbx, rcx, rdx, rsi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
	xor	%eax, %eax

.Lclear:
	HV_CLEAR_GUEST_SCRATCH

	add	$8, %rsp		/* regs */
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET
SYM_FUNC_END(vmx_run_asm)
