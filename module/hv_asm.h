/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hv_asm.h - assembler macros both world switches (svm/svm_run.S,
 * vmx/vmx_run.S) use, so the two move guest registers the same way.
 * Offsets come from hv_offsets.h (generated from struct hvlab_regs).
 */
#ifndef HV_ASM_H
#define HV_ASM_H

#include "hv_offsets.h"

/*
 * The offsets as assembler symbols: the macros below build the name from
 * the register (.Lhv_regs_\r), which the C preprocessor never sees.
 */
	.set	.Lhv_regs_rax, HV_REGS_rax
	.set	.Lhv_regs_rbx, HV_REGS_rbx
	.set	.Lhv_regs_rcx, HV_REGS_rcx
	.set	.Lhv_regs_rdx, HV_REGS_rdx
	.set	.Lhv_regs_rsi, HV_REGS_rsi
	.set	.Lhv_regs_rdi, HV_REGS_rdi
	.set	.Lhv_regs_rbp, HV_REGS_rbp
	.set	.Lhv_regs_r8, HV_REGS_r8
	.set	.Lhv_regs_r9, HV_REGS_r9
	.set	.Lhv_regs_r10, HV_REGS_r10
	.set	.Lhv_regs_r11, HV_REGS_r11
	.set	.Lhv_regs_r12, HV_REGS_r12
	.set	.Lhv_regs_r13, HV_REGS_r13
	.set	.Lhv_regs_r14, HV_REGS_r14
	.set	.Lhv_regs_r15, HV_REGS_r15

/* Load the listed guest registers from the struct hvlab_regs at %\base. */
.macro HV_LOAD_GPRS base:req, regs:vararg
	.irp r, \regs
	mov	.Lhv_regs_\r(%\base), %\r
	.endr
.endm

/* Store the listed guest registers into the struct hvlab_regs at %\base. */
.macro HV_SAVE_GPRS base:req, regs:vararg
	.irp r, \regs
	mov	%\r, .Lhv_regs_\r(%\base)
	.endr
.endm

/*
 * After the switch back: no guest value may live on in a caller-saved
 * register where speculation could use it.  (RAX is the return value; the
 * callee-saved ones are popped next.)
 */
.macro HV_CLEAR_GUEST_SCRATCH
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d
.endm

#endif /* HV_ASM_H */
