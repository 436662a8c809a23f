/* SPDX-License-Identifier: GPL-2.0 */
/* svm.h - the AMD SVM backend's private types. */
#ifndef HVLAB_SVM_H
#define HVLAB_SVM_H

#include <linux/percpu.h>

#include "../module/hv.h"

#include <asm/svm.h>

/*
 * The VMCB control word at offset 90h (APM Vol. 2 Appendix B, bit 0 =
 * NP_ENABLE) is nested_ctl in 6.1/6.12's <asm/svm.h> and misc_ctl, with
 * SVM_MISC_ENABLE_NP, in 7.x's.
 */
#ifdef SVM_MISC_ENABLE_NP
#define svm_np_ctl(c)		((c)->misc_ctl)
#define SVM_NP_CTL_ENABLE	SVM_MISC_ENABLE_NP
#else
#define svm_np_ctl(c)		((c)->nested_ctl)
#define SVM_NP_CTL_ENABLE	SVM_NESTED_CTL_NP_ENABLE
#endif

struct svm_vcpu {
	struct hv_vcpu vcpu;	/* the neutral part */
	struct vmcb *vmcb;	/* one page, APM Vol. 2 appendix B layout */
	u64 vmcb_pa;
	u32 asid;		/* valid on asid_cpu while asid_gen matches */
	int asid_cpu;
	u64 asid_gen;
	u64 mmu_gen;		/* vm->mmu_gen a TLB flush was asked for */
	bool check;		/* run svm_check_vmcb() before the next VMRUN */
	/*
	 * The state save area as svm_check_vmcb() passed it, kept when that
	 * VMRUN followed a write of guest state (entry_checked): a VMRUN that
	 * QEMU refuses early leaves the host's own state in its place
	 * (exit.c, svm_host_state_out()).  lost: the VMCB held host state
	 * that no copy could replace; the guest's state is gone.
	 */
	bool entry_checked;
	bool lost;
	struct vmcb_save_area checked_save;
	bool dumped;		/* svm_dump_vmcb() printed this vCPU's VMCB once */
	/*
	 * EVENTINJ holds an event taken from vcpu->events (SVM_EVT_*) that no
	 * VMRUN has delivered yet: a refused entry gives it back (exit.c).
	 */
	u8 evt_queued;
	/*
	 * The guest's IRET at this RIP ends its NMI handler (exit.c,
	 * svm_exit_iret): NMIs unmask once RIP has moved past it.
	 */
	bool nmi_iret;
	u64 nmi_iret_rip;
};
#define SVM_EVT_NONE		0
#define SVM_EVT_EXCEPTION	1
#define SVM_EVT_IRQ		2
#define SVM_EVT_NMI		3

/* Per host CPU state; see svm.c. */
struct svm_cpu {
	struct page *hsave;
	struct page *host_save;
	u32 next_asid;
	u64 asid_gen;
	bool flush_pending;	/* new generation: no VMRUN has flushed for it yet */
	u64 host_tsc_aux;	/* this CPU's IA32_TSC_AUX, as the kernel set it at boot */
};
DECLARE_PER_CPU(struct svm_cpu, svm_cpus);

extern u32 svm_max_asid;
extern bool svm_has_nrips;
extern bool svm_tcg_evtinj_quirk;
extern bool svm_switch_tsc_aux;
extern bool svm_tcg_dr7_quirk;
extern bool svm_tcg_vmrun_quirks;
extern struct page *svm_iopm, *svm_msrpm;
#define SVM_IOPM_ORDER	2	/* 12 KiB used */
#define SVM_MSRPM_ORDER	1	/* 8 KiB */

/* vmcb.c: the VMCB of one vCPU */
struct hv_vcpu *svm_vcpu_create(struct hv_vm *vm, unsigned int id);
void svm_vcpu_free(struct hv_vcpu *vcpu);
int svm_load_state(struct hv_vcpu *vcpu);
int svm_save_state(struct hv_vcpu *vcpu);
int svm_save_int_shadow(struct hv_vcpu *vcpu);
const char *svm_check_vmcb(const struct vmcb *vmcb, u32 *field);
void svm_dump_vmcb(struct svm_vcpu *svm);
void svm_capture(struct svm_vcpu *svm, u64 code);

/* exit.c: entry and the exit table */
int svm_vcpu_enter(struct hv_vcpu *vcpu);
u64 svm_get_msr(struct hv_vcpu *vcpu, u32 index);
void svm_set_msr(struct hv_vcpu *vcpu, u32 index, u64 val);
u64 svm_get_cr0(struct hv_vcpu *vcpu);
u64 svm_get_dr(struct hv_vcpu *vcpu, unsigned int dr);
void svm_set_dr(struct hv_vcpu *vcpu, unsigned int dr, u64 val);

/* CLGI/STGI (15.17): GIF gates interrupts and NMIs around the switch. */
static inline void clgi(void)
{
	asm volatile("clgi" ::: "memory");
}

static inline void stgi(void)
{
	asm volatile("stgi" ::: "memory");
}

/* svm_run.S */
void svm_run_asm(u64 vmcb_pa, struct hvlab_regs *regs, u64 host_save_pa);
extern const char svm_vmrun_insn[];	/* the VMRUN instruction */
extern const char svm_vmrun_return[];	/* the host RIP VMRUN saves */

static inline struct svm_vcpu *to_svm(struct hv_vcpu *vcpu)
{
	return container_of(vcpu, struct svm_vcpu, vcpu);
}

#endif /* HVLAB_SVM_H */
