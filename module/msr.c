// SPDX-License-Identifier: GPL-2.0
/*
 * msr.c - the MSRs hvlab virtualizes itself, for both vendors: which ones,
 * what a WRMSR may put in them, and what RDMSR/WRMSR exits do.
 *
 * The list is the guest's own architectural state that a 64-bit kernel
 * touches while booting: EFER, the SYSCALL and SYSENTER MSRs, FS/GS bases,
 * KERNEL_GS_BASE, PAT, the TSC and TSC_ADJUST, a read-only view of the
 * APIC base, and the legacy AMD performance MSRs (no PMU behind them).
 * Where a value lives (VMCB save area, VMCS field, software copy switched
 * around entry) is the backend's business: ops->get_msr/set_msr fetch and
 * store, and set_msr only ever sees an index from this list and a value
 * checked here.  Any other MSR goes by the vCPU's policy (hv_exit_msr():
 * #GP, as on a CPU without it, or an exit to userspace).
 */
#include <linux/kernel.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/traps.h>

#include "hv.h"
#include "tele_hot.h"

/* Each PAT byte a memory type: 0, 1, 4, 5, 6 or 7 (SDM Vol. 3A 13.12.2, APM Vol. 2 7.8.1). */
static bool hv_pat_valid(u64 pat)
{
	unsigned int i;

	for (i = 0; i < 8; i++) {
		u8 t = pat >> (i * 8);

		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

/*
 * IA32_TSC_AUX exists for the guest when its CPUID offers RDTSCP or RDPID
 * (SDM Vol. 4 Table 2-2, APM Vol. 2 appendix A), as KVM decides in
 * __kvm_set_msr()/__kvm_get_msr(); else it is an unknown MSR (#GP).  The
 * value lives in hv_vcpu; SVM loads it around VMRUN, VMX runs no guest
 * instruction that reads it (no "enable RDTSCP": RDTSCP and RDPID #UD).
 */
static bool hv_guest_has_tsc_aux(struct hv_vcpu *vcpu)
{
	u32 a, b, c, d;

	hv_cpuid(vcpu, 0x80000001, 0, &a, &b, &c, &d);
	if (d & BIT(27))			/* RDTSCP */
		return true;
	hv_cpuid(vcpu, 7, 0, &a, &b, &c, &d);
	return c & BIT(22);			/* RDPID */
}

/* IA32_TSC_ADJUST exists when the guest's CPUID says so (leaf 7.0 EBX bit 1). */
static bool hv_has_tsc_adjust(struct hv_vcpu *vcpu)
{
	u32 a, b, c, d;

	hv_cpuid(vcpu, 7, 0, &a, &b, &c, &d);
	return b & BIT(1);
}

/*
 * The legacy AMD performance MSRs (PerfEvtSel0-3 at C001_0000h, PerfCtr0-3
 * at C001_0004h; APM Vol. 2 13.2.1) exist on every AMD64 CPU, so guests
 * touch them without asking CPUID.  hvlab has no PMU: like KVM without
 * one (kvm_get_msr_common/kvm_set_msr_common, "case MSR_K7_EVNTSEL0 ...
 * MSR_K7_EVNTSEL3"), they read 0 and every write is accepted and dropped,
 * on both vendors.  KVM logs a nonzero write with kvm_pr_unimpl_wrmsr();
 * hvlab prints nothing a guest could trigger.
 */
static bool hv_is_k7_perf_msr(u32 index)
{
	return (index >= MSR_K7_EVNTSEL0 && index <= MSR_K7_EVNTSEL3) ||
	       (index >= MSR_K7_PERFCTR0 && index <= MSR_K7_PERFCTR3);
}

/* RDMSR of one of ours: 0, or -ENOENT if the MSR is not ours. */
static int hv_msr_read(struct hv_vcpu *vcpu, u32 index, u64 *val)
{
	switch (index) {
	case MSR_IA32_APICBASE:
		*val = vcpu->sregs.apic_base;
		return 0;
	case MSR_TSC_AUX:
		if (!hv_guest_has_tsc_aux(vcpu))
			return -ENOENT;
		*val = vcpu->tsc_aux;
		return 0;
	case MSR_EFER:
	case MSR_STAR:
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_SYSCALL_MASK:
	case MSR_KERNEL_GS_BASE:
	case MSR_IA32_SYSENTER_CS:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_IA32_CR_PAT:
	case MSR_IA32_TSC:
		*val = hv_ops->get_msr(vcpu, index);
		return 0;
	case MSR_IA32_TSC_ADJUST:
		if (!hv_has_tsc_adjust(vcpu))
			return -ENOENT;
		*val = vcpu->tsc_adjust;
		return 0;
	default:
		if (hv_is_k7_perf_msr(index)) {
			*val = 0;
			return 0;
		}
		return -ENOENT;
	}
}

/*
 * WRMSR of one of ours: 0, -EINVAL for a value the MSR cannot hold (the
 * guest gets #GP), -ENOENT if the MSR is not ours (APIC base writes
 * included: without an in-kernel APIC hvlab does not emulate them).
 *
 * The TSC (SDM Vol. 3B 18.17, APM Vol. 2 13.2.4): a write makes RDTSC and
 * RDMSR read the written value from then on, counting up at the host's
 * rate; the backend turns it into its TSC offset (set_msr(MSR_IA32_TSC)
 * means "the guest's TSC reads @val now").  IA32_TSC_ADJUST follows every
 * such write by the same difference, and a write to TSC_ADJUST moves the
 * TSC by the change (SDM Vol. 3B 18.17.3), as in KVM's
 * kvm_set_msr_common() for MSR_IA32_TSC and MSR_IA32_TSC_ADJUST.  KVM
 * also keeps vCPUs' TSCs in step when they are written to nearly the same
 * value (kvm_synchronize_tsc, for writes from userspace); hvlab has no
 * such ioctl, and each guest write moves only its own vCPU.
 */
static int hv_msr_write(struct hv_vcpu *vcpu, u32 index, u64 val)
{
	switch (index) {
	case MSR_TSC_AUX:
		if (!hv_guest_has_tsc_aux(vcpu))
			return -ENOENT;
		/*
		 * Bits 63:32 are reserved on Intel (#GP); AMD CPUs ignore them.
		 * Each vendor's way, as KVM's __kvm_set_msr() does it.
		 */
		if ((val >> 32) && hv_ops->vendor == HVLAB_VENDOR_INTEL)
			return -EINVAL;
		vcpu->tsc_aux = (u32)val;
		return 0;
	case MSR_EFER: {
		u64 efer = hv_ops->get_msr(vcpu, MSR_EFER);

		/* No reserved bits; LME may not change while paging is on. */
		if (val & ~(u64)(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX))
			return -EINVAL;
		if ((hv_ops->get_cr0(vcpu) & X86_CR0_PG) && ((val ^ efer) & EFER_LME))
			return -EINVAL;
		/* LMA is the CPU's to set (SDM Vol. 3A 10.8.5, APM Vol. 2 14.6.2). */
		val = (val & ~EFER_LMA) | (efer & EFER_LMA);
		break;
	}
	case MSR_STAR:
		break;
	case MSR_SYSCALL_MASK:
		val = (u32)val;		/* the upper half is reserved, reads as 0 */
		break;
	case MSR_IA32_SYSENTER_CS:
		val = (u16)val;
		break;
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		if (!hv_canonical(val))
			return -EINVAL;
		break;
	case MSR_IA32_CR_PAT:
		if (!hv_pat_valid(val))
			return -EINVAL;
		break;
	case MSR_IA32_TSC:
		vcpu->tsc_adjust += val - hv_ops->get_msr(vcpu, MSR_IA32_TSC);
		break;
	case MSR_IA32_TSC_ADJUST:
		if (!hv_has_tsc_adjust(vcpu))
			return -ENOENT;
		hv_ops->set_msr(vcpu, MSR_IA32_TSC,
				hv_ops->get_msr(vcpu, MSR_IA32_TSC) + (val - vcpu->tsc_adjust));
		vcpu->tsc_adjust = val;
		return 0;
	default:
		if (hv_is_k7_perf_msr(index))
			return 0;	/* no PMU: dropped (see hv_is_k7_perf_msr) */
		return -ENOENT;
	}
	hv_ops->set_msr(vcpu, index, val);
	return 0;
}

/*
 * An RDMSR or WRMSR exit (ECX the index, EDX:EAX the value).  Returns
 * HV_EXIT_SKIP when it is done and the backend must move RIP past the
 * instruction, 1 to re-enter as it is (#GP queued), 0 for an exit to
 * userspace.
 */
int hv_exit_rdmsr_wrmsr(struct hv_vcpu *vcpu, bool write, u64 next_rip)
{
	struct hvlab_regs *r = &vcpu->regs;
	u32 index = r->rcx;
	u64 val = (r->rdx << 32) | (u32)r->rax;
	int err;

	hv_count_exit(vcpu, hv_lapic_msr_stat(vcpu, index, write));
	if (hv_route_msr_to_user(vcpu, index))	/* HVLAB_SET_EXIT_ROUTE */
		return hv_exit_msr_user(vcpu, index, write, val, next_rip);
	err = -ENOENT;
	if (vcpu->lapic)	/* APIC base, x2APIC, TSC deadline: module/lapic.c */
		err = write ? hv_lapic_wrmsr(vcpu, index, val) : hv_lapic_rdmsr(vcpu, index, &val);
	if (err == -ENOENT)
		err = write ? hv_msr_write(vcpu, index, val) : hv_msr_read(vcpu, index, &val);
	if (err == 1) {
		/* An x2APIC EOI userspace wants to hear about: done, then the exit. */
		r->rip = next_rip;
		return 0;
	}
	if (err == -ENOENT)
		return hv_exit_msr(vcpu, index, write, val, next_rip);
	if (err) {
		hv_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return 1;
	}
	if (!write) {
		r->rax = (u32)val;
		r->rdx = val >> 32;
	}
	return HV_EXIT_SKIP;
}
