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
 *
 * Speculation (module/spec.c says why each step is where it is): the
 * kernel's own macros, patched in only where the host's mitigation mode
 * set their feature bit, as in KVM's vmx/vmenter.S: VERW as the last
 * memory access before the entry; after the exit, before the first RET,
 * the return-stack fill, the SPEC_CTRL rewrite that legacy IBRS needs
 * and the branch-history clear.  @launched is tested with BT into CF,
 * because VERW overwrites ZF.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/ibt.h>
#include <asm/unwind_hints.h>
#include <asm/msr-index.h>
#include <asm/nospec-branch.h>
#include <asm/percpu.h>
#include <asm/segment.h>
#include <linux/version.h>
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

	/* MOVs and VERW leave CF alone: the branch below still sees this test. */
	bt	$0, %esi
	HV_LOAD_GPRS rdi, rax, rbx, rcx, rdx, rsi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
	mov	HV_REGS_rdi(%rdi), %rdi	/* the base register last */

	/*
	 * MDS, TAA, MMIO stale data, RFDS: empty the CPU's buffers of host
	 * data (VERW with the microcode's side effect).  Either bit: KVM's
	 * 6.1 VMX path keys on CLEAR_CPU_BUF, later kernels add a VM-only bit.
	 */
	ALTERNATIVE_2 "jmp .Lverw_done", "", X86_FEATURE_CLEAR_CPU_BUF, \
		      "", X86_FEATURE_CLEAR_CPU_BUF_VM
	verw	x86_verw_sel(%rip)
.Lverw_done:

	UNWIND_HINT_SAVE
	jc	.Lresume
	vmlaunch
	jmp	.Lvmfail
.Lresume:
	vmresume
	/* Falling through means the instruction failed: no VM entry happened. */

.Lvmfail:
	mov	$1, %ebx
	adc	$0, %ebx		/* 1 + CF: 2 for VMfailInvalid */
	jmp	.Lclear

SYM_INNER_LABEL(vmx_exit_asm, SYM_L_GLOBAL)
	UNWIND_HINT_RESTORE
	ENDBR
	/* Only the stack is the host's: park guest RDI there to find regs. */
	push	%rdi
	mov	8(%rsp), %rdi		/* regs */
	pop	HV_REGS_rdi(%rdi)
	HV_SAVE_GPRS rdi, rax, rbx, rcx, rdx, rsi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
	xor	%ebx, %ebx		/* the return value, kept in RBX until the end */

.Lclear:
	HV_CLEAR_GUEST_SCRATCH
	xor	%eax, %eax

	/*
	 * Before any RET: overwrite every return-stack entry the guest may
	 * have left (RSB_VMEXIT: retpoline or legacy IBRS hosts), or, on
	 * eIBRS CPUs with PBRSB, retire one CALL (RSB_VMEXIT_LITE).
	 */
	FILL_RETURN_BUFFER %rcx, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT, \
			   X86_FEATURE_RSB_VMEXIT_LITE

	/*
	 * Legacy IBRS protects only once written after the switch from the
	 * less privileged predictor mode (Intel's "Indirect Branch Restricted
	 * Speculation"), even if the value did not change; the guest cannot
	 * write SPEC_CTRL, so the value is the host's own.
	 */
	ALTERNATIVE "jmp .Librs_done", "", X86_FEATURE_KERNEL_IBRS
	mov	$MSR_IA32_SPEC_CTRL, %ecx
	mov	PER_CPU_VAR(x86_spec_ctrl_current), %eax
	xor	%edx, %edx		/* every SPEC_CTRL bit is in the low half */
	wrmsr
.Librs_done:

	/* BHI: the guest's branch history must not steer the host's branches. */
	CLEAR_BRANCH_HISTORY_VMEXIT

	mov	%ebx, %eax
	add	$8, %rsp		/* regs */
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET
SYM_FUNC_END(vmx_run_asm)

/*
 * void vmx_nmi_asm(void)
 *
 * An NMI that caused a VM exit was consumed by it (SDM Vol. 3C 27.1, "NMI
 * exiting"), and NMIs stay blocked until the next IRET: hand it to the
 * host's handler the way KVM does on the same kernel, by calling the
 * kernel's NMI entry for VMX on the current stack with the frame an NMI in
 * kernel mode would have pushed (SS, RSP, RFLAGS, CS, RIP: SDM Vol. 3A
 * 6.14.2), so its IRET comes back here.  6.1 names it asm_exc_nmi_noist
 * (KVM: vmx_do_interrupt_nmi_irqoff()), 6.3 and later asm_exc_nmi_kvm_vmx
 * (KVM: vmx_do_nmi_irqoff()); both exist only if the kernel was built with
 * KVM_INTEL, otherwise INT 2 goes through the IDT's NMI gate.  A FRED
 * kernel would need fred_entry_from_kvm() instead: hvlab refuses to load
 * there (hv_spec_init()).
 */
SYM_FUNC_START(vmx_nmi_asm)
#if IS_ENABLED(CONFIG_KVM_INTEL)
	push	%rbp
	mov	%rsp, %rbp
	and	$-16, %rsp		/* as the CPU aligns it for a 64-bit frame */
	push	$__KERNEL_DS
	push	%rbp
	pushf
	push	$__KERNEL_CS
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	call	asm_exc_nmi_kvm_vmx
#else
	call	asm_exc_nmi_noist
#endif
	leave
#else
	int	$2
#endif
	RET
SYM_FUNC_END(vmx_nmi_asm)
