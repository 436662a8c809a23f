/* SPDX-License-Identifier: GPL-2.0 */
/*
 * spec_asm.S - the barrier instructions of the world switch that 7.x keeps
 * for KVM's modules (write_ibpb, x86_verw_sel: EXPORT_SYMBOL_FOR_KVM),
 * written out here with the same architectural effect.
 */
#include <linux/linkage.h>
#include <linux/version.h>
#include <asm/asm.h>
#include <asm/cpufeatures.h>
#include <asm/msr-index.h>
#include <asm/nospec-branch.h>
#include <asm/segment.h>

#include "compat.h"

#if HV_KVM_ONLY_EXPORTS
	.text
/*
 * IBPB: WRMSR IA32_PRED_CMD with bit 0 (Intel SDM Vol. 4 2.1, "IA32_PRED_CMD";
 * AMD's "Software Techniques for Managing Speculation", IBPB).  Where the
 * CPU's IBPB leaves return predictions in place (X86_BUG_IBPB_NO_RET, some
 * AMD Zen), the return stack is refilled too, as the kernel's write_ibpb()
 * does.  Clobbers RAX, RCX, RDX.
 */
SYM_FUNC_START(hv_ibpb)
	movl	$MSR_IA32_PRED_CMD, %ecx
	movl	$PRED_CMD_IBPB, %eax
	xorl	%edx, %edx
	wrmsr
#ifdef X86_BUG_IBPB_NO_RET
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_BUG_IBPB_NO_RET
#endif
	RET
SYM_FUNC_END(hv_ibpb)

/*
 * The operand of the buffer-clearing VERW (MDS/TSA: only the memory-operand
 * form clears the CPU's buffers): any valid writable data selector does.
 */
	.section .rodata
	.balign 2
SYM_DATA(hv_verw_sel, .word __KERNEL_DS)
#endif
