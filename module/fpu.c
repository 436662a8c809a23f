// SPDX-License-Identifier: GPL-2.0
/*
 * fpu.c - the guest's x87/SSE/AVX (XSAVE) state beside the vCPU thread's.
 *
 * Up to 6.x hvlab uses the kernel's guest-FPU interface, as KVM does
 * (fpu_alloc_guest_fpstate, fpu_swap_kvm_fpstate, switch_fpu_return): the
 * guest's state is the task's current FPU state for a whole RUN, and the
 * kernel saves and reloads it around preemption like any task's.
 *
 * 7.x exports that interface to KVM's modules only (EXPORT_SYMBOL_FOR_KVM),
 * so there hvlab keeps the guest's state in an XSAVE area of its own and
 * uses the interface every module has, kernel_fpu_begin/end(): right before
 * interrupts go off for an entry, the task's state is put aside by
 * kernel_fpu_begin (once per RUN: later calls find it saved) and XRSTOR
 * loads the guest's; right after interrupts come back on at the exit,
 * XSAVE stores the guest's and kernel_fpu_end() lets the kernel reload the
 * task's on its way back to user space.  Between the two nothing sleeps
 * and softirqs are held off (kernel_fpu_begin's rule), which is what the
 * world switch already needs.  The price is an XRSTOR and an XSAVE per
 * exit, where the kernel's interface had none while the thread stayed on
 * its CPU.
 *
 * Which components: what the host's XCR0 enables (the guest runs with the
 * host's XCR0: XSETBV is intercepted and refused), minus PKRU, which
 * hv_pkru_guest_in/out switch, and AMX tile state, which the kernel keeps
 * behind XFD for tasks that did not ask for it (an XRSTOR of it would
 * raise #NM here).  The area's format is XSAVE's standard one (Intel SDM
 * Vol. 1 13.4), sized by CPUID.(EAX=0Dh,ECX=0):EBX for that XCR0; without
 * XSAVE, FXSAVE's 512 bytes (Vol. 1 10.5).
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/gfp.h>
#include <linux/mm.h>
#include <asm/fpu/api.h>
#include <asm/fpu/types.h>
#include <asm/fpu/xcr.h>

#include "hv.h"

#if HV_KVM_ONLY_EXPORTS

/* The legacy area's MXCSR and FCW (SDM Vol. 1 Table 10-2). */
#define HV_FXSAVE_FCW		0
#define HV_FXSAVE_MXCSR		24
#define HV_MXCSR_RESET		0x1f80
#define HV_FCW_FINIT		0x037f

static u64 hv_fpu_components(void)
{
	return xgetbv(XCR_XFEATURE_ENABLED_MASK) & ~(XFEATURE_MASK_PKRU | XFEATURE_MASK_XTILE);
}

static size_t hv_fpu_size(void)
{
	return boot_cpu_has(X86_FEATURE_XSAVE) ? cpuid_ebx(0xd) : 512;
}

int hv_fpu_alloc(struct hv_vcpu *vcpu)
{
	u8 *area;

	/* Page-aligned: XSAVE wants 64 bytes, FXSAVE 16. */
	area = (u8 *)__get_free_pages(GFP_KERNEL_ACCOUNT | __GFP_ZERO, get_order(hv_fpu_size()));
	if (!area)
		return -ENOMEM;
	/*
	 * The state the kernel's guest FPU starts in (FINIT): an all-zero
	 * XSAVE header (XSTATE_BV = 0) puts every component in its initial
	 * state at XRSTOR, except MXCSR, which comes from memory (SDM Vol. 1
	 * 13.8.1); FXRSTOR takes all of it from memory.
	 */
	*(u16 *)(area + HV_FXSAVE_FCW) = HV_FCW_FINIT;
	*(u32 *)(area + HV_FXSAVE_MXCSR) = HV_MXCSR_RESET;
	vcpu->fpu_area = area;
	return 0;
}

void hv_fpu_free(struct hv_vcpu *vcpu)
{
	free_pages((unsigned long)vcpu->fpu_area, get_order(hv_fpu_size()));
	vcpu->fpu_area = NULL;
}

void hv_fpu_run_begin(struct hv_vcpu *vcpu)
{
}

void hv_fpu_run_end(struct hv_vcpu *vcpu)
{
}

/* Interrupts on, before the entry's interrupts-off section. */
void hv_fpu_guest_in(struct hv_vcpu *vcpu)
{
	u64 mask = hv_fpu_components();

	kernel_fpu_begin_mask(0);
	if (boot_cpu_has(X86_FEATURE_XSAVE))
		asm volatile("xrstor64 %0"
			     : : "m" (*(u8 *)vcpu->fpu_area), "a" ((u32)mask), "d" ((u32)(mask >> 32))
			     : "memory");
	else
		asm volatile("fxrstor64 %0" : : "m" (*(u8 *)vcpu->fpu_area) : "memory");
}

void hv_fpu_guest_loaded(struct hv_vcpu *vcpu)
{
}

/* Interrupts on again after the exit, before anything may sleep. */
void hv_fpu_guest_out(struct hv_vcpu *vcpu)
{
	u64 mask = hv_fpu_components();

	if (boot_cpu_has(X86_FEATURE_XSAVE))
		asm volatile("xsave64 %0"
			     : "+m" (*(u8 *)vcpu->fpu_area) : "a" ((u32)mask), "d" ((u32)(mask >> 32))
			     : "memory");
	else
		asm volatile("fxsave64 %0" : "+m" (*(u8 *)vcpu->fpu_area) : : "memory");
	kernel_fpu_end();
}

#else /* the kernel's guest-FPU interface */

int hv_fpu_alloc(struct hv_vcpu *vcpu)
{
	return fpu_alloc_guest_fpstate(&vcpu->fpu) ? 0 : -ENOMEM;
}

void hv_fpu_free(struct hv_vcpu *vcpu)
{
	fpu_free_guest_fpstate(&vcpu->fpu);
}

/* The task's FPU state goes aside; the guest's is live until RUN returns. */
void hv_fpu_run_begin(struct hv_vcpu *vcpu)
{
	fpu_swap_kvm_fpstate(&vcpu->fpu, true);
}

void hv_fpu_run_end(struct hv_vcpu *vcpu)
{
	fpu_swap_kvm_fpstate(&vcpu->fpu, false);
}

void hv_fpu_guest_in(struct hv_vcpu *vcpu)
{
}

/* Interrupts off: preemption or kernel FPU use may have put the guest's aside. */
void hv_fpu_guest_loaded(struct hv_vcpu *vcpu)
{
	if (test_thread_flag(TIF_NEED_FPU_LOAD))
		switch_fpu_return();
}

void hv_fpu_guest_out(struct hv_vcpu *vcpu)
{
}

#endif
