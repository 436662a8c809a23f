/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - the kernel interfaces that changed between the kernels hvlab
 * builds for (Debian's 6.1 and 6.12, sid's 7.x), under their newest names.
 * Each boundary is the upstream release that made the change; the headers
 * checked are 6.1, 6.12 and 7.2 (README, "Kernels").
 */
#ifndef HVLAB_COMPAT_H
#define HVLAB_COMPAT_H

#include <linux/version.h>

/*
 * 7.0: what only a hypervisor needs is exported to KVM's modules only
 * (EXPORT_SYMBOL_FOR_KVM: cr4_update_irqsoff, the guest-FPU and IBPB
 * helpers, x86_verw_sel, hw_breakpoint_restore ...; docs/kernels.md has
 * the list and what hvlab does instead).  Usable from the .S files too.
 */
#define HV_KVM_ONLY_EXPORTS	(LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0))

#ifndef __ASSEMBLER__
#include <asm/msr.h>
/* 6.15 moved cpuid(), cpuid_eax() ... out of <asm/processor.h>. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 15, 0)
#include <asm/cpuid/api.h>
#else
#include <asm/processor.h>
#endif

/*
 * 6.16 renamed the 64-bit MSR accessors after the instruction's quadword
 * (rdmsrl -> rdmsrq ...), and later kernels dropped the old names.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 16, 0)
#define rdmsrq(msr, val)	rdmsrl(msr, val)
#define wrmsrq(msr, val)	wrmsrl(msr, val)
#define rdmsrq_safe(msr, p)	rdmsrl_safe(msr, p)
#define native_wrmsrq(msr, val)	native_wrmsrl(msr, val)
#endif

/* The BHI mitigation's VM-exit feature bit lost its "_LOOP_ON" after 6.12. */
#include <asm/cpufeatures.h>
#ifndef X86_FEATURE_CLEAR_BHB_VMEXIT
#define X86_FEATURE_CLEAR_BHB_VMEXIT	X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT
#endif

/*
 * 7.0 moved VMXON/VMXOFF and EFER.SVME into the core kernel
 * (arch/x86/virt/hw.c, <asm/virt.h>): its emergency path (crash kexec,
 * emergency reboot) turns VMX/SVM off on every CPU whoever turned it on,
 * and the old one-callback slot (cpu_emergency_register_virt_callback)
 * is gone; the new one is exported to KVM's modules only.  That path
 * exists only in a kernel built with KVM for the vendor (virt_ops is set
 * up by CONFIG_KVM_INTEL / CONFIG_KVM_AMD): see hv_hw_init().
 */
#define HV_CORE_VIRT_OFF	HV_KVM_ONLY_EXPORTS

/*
 * 6.19 gave the syscore callbacks a data pointer and registers a
 * struct syscore (ops + data) instead of the ops themselves.
 */
#define HV_SYSCORE_DATA		(LINUX_VERSION_CODE >= KERNEL_VERSION(6, 19, 0))

#endif /* !__ASSEMBLER__ */
#endif /* HVLAB_COMPAT_H */
