/* SPDX-License-Identifier: GPL-2.0 */
/* vmx.h - the Intel VT-x backend's private types and VMX instruction wrappers. */
#ifndef HVLAB_VMX_H
#define HVLAB_VMX_H

#include <linux/list.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <asm/desc_defs.h>
#include <asm/vmx.h>

#include "../module/hv.h"

/* What IA32_VMX_* capability MSRs said at load (SDM Vol. 3C appendix A). */
struct vmx_caps {
	u64 basic;
	u32 revision;		/* VMCS revision identifier */
	u32 vmcs_size;		/* bytes of the VMCS region (A.1) */
	/*
	 * The control words hvlab uses, computed once from the (TRUE_)
	 * capability MSRs: every must-be-one bit set, every feature we do
	 * not use clear (A.3-A.5).
	 */
	u32 pin, proc, proc2, exit, entry;
	u64 ept_vpid;		/* IA32_VMX_EPT_VPID_CAP (A.10) */
	u64 misc;		/* IA32_VMX_MISC (A.6) */
	u32 slice;		/* preemption timer value per entry (>= 1), 0: no timer */
	u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;	/* A.7, A.8 */
	bool vpid;		/* VPIDs with single-context INVVPID */
	bool invept_single;	/* else global INVEPT */
};
extern struct vmx_caps vmx_caps;
/* Longest stay in the guest without an exit, where the preemption timer exists. */
#define VMX_SLICE_MS	10
/* The TSC rate the slice assumes when the kernel has none (tsc_khz 0): 1 GHz. */
#define VMX_SLICE_TSC_KHZ	1000000ULL
extern struct page *vmx_msr_bitmap;

/* Per host CPU: the VMCS current on it, and every VMCS active on it (24.11.1). */
struct vmx_cpu {
	struct vmx_vcpu *current_vmcs;
	struct list_head loaded;	/* vmx_vcpu.loaded_link; irqs off to touch */
};
DECLARE_PER_CPU(struct vmx_cpu, vmx_cpus);

/*
 * Host state VM exits do not restore (28.5): the task's DS/ES/FS/GS
 * selectors (the exit loads the null selectors written in HOST_*_SELECTOR),
 * LDTR (left null, 28.5.2), the syscall MSRs and KERNEL_GS_BASE, the GDT
 * and TR limits (set to FFFFh and 67h), DR7 and DEBUGCTL (cleared).  Kept
 * here while the guest's are in (vmx_vcpu.guest_in); see exit.c.
 */
struct vmx_host_save {
	u16 ds, es, fs, gs;
	u16 ldt;		/* the mm's LDT (modify_ldt), 0: none */
	u64 fs_base, kernel_gs_base;
	struct desc_ptr gdt;
	unsigned long debugctl;
	u64 msr[4];		/* STAR, LSTAR, CSTAR, SFMASK */
	unsigned int switched;	/* bit i: msr[i] holds the guest's value now */
	bool syscall;		/* the guest's syscall MSRs and KERNEL_GS_BASE are in */
};

struct vmx_vcpu {
	struct hv_vcpu vcpu;	/* the neutral part */
	void *vmcs;		/* VMCS region, vmx_caps.vmcs_size bytes */
	u64 vmcs_pa;
	int cpu;		/* where the VMCS is active, -1: clear */
	bool launched;		/* VMRESUME (true) or VMLAUNCH */
	struct list_head loaded_link;
	u16 vpid;		/* 0: VPIDs off */
	u64 eptp;
	u64 mmu_gen;		/* vm->mmu_gen EPT was last flushed for */
	bool check;		/* run the software entry checks before entering */
	bool dumped;		/* vmx_dump_vmcs() printed this vCPU's VMCS once */
	u32 proc;		/* primary controls as last written (+ interrupt window) */

	/* Host state as last written to this VMCS (rewritten when it changes). */
	unsigned long host_cr3, host_cr4, host_fs_base;

	/* Guest state VMX keeps nowhere in the VMCS (switched with WRMSR). */
	u64 efer;		/* guest EFER as written (LMA follows the VMCS) */
	u64 star, lstar, cstar, sfmask, kernel_gs_base;

	/*
	 * guest_in: the guest's syscall MSRs and KERNEL_GS_BASE are in the
	 * CPU and the host's segments, GDT limit and those MSRs wait in
	 * @host, from the first entry of a RUN until RUN returns or the
	 * thread is scheduled out (@pn), whichever comes first.
	 */
	bool guest_in;
	struct vmx_host_save host;
	struct preempt_notifier pn;
	u64 cr0_shadow, cr4_shadow;	/* the read shadows: valid for the masked bits only */
	u64 cr4_allowed;	/* vcpu.cr4_allowed as the CR4 guest/host mask has it */
	/*
	 * The guest's DR6 and DR7.  MOV DR and #DB always exit, so nothing
	 * else changes them: DR7 is what GUEST_DR7 holds, DR6 is not in the
	 * VMCS at all, and the CPU's DR6 stays the host's (a #DB that exits
	 * does not write DR6, SDM Vol. 3C 28.1).
	 */
	u64 dr6, dr7;

	/*
	 * An event to deliver again at the next entry (IDT-vectoring info of
	 * the last exit, 28.2.4), in VM-entry interruption-info form (25.8.3).
	 */
	u32 inject_info, inject_err, inject_len;
	/*
	 * Where the event in VM_ENTRY_INTR_INFO_FIELD came from (VMX_EVENT_*),
	 * so that an entry that does not happen can give it back.
	 */
	u8 inject_src;

	/* The last exit, read while the VMCS was current (27.2). */
	u32 exit_reason;
	u32 exit_intr;		/* VM-exit interruption information (reason 0 only) */
	u64 exit_qual;
	u64 exit_gpa;
	u32 exit_len;
	u64 exit_rip;
};

static inline struct vmx_vcpu *to_vmx(struct hv_vcpu *vcpu)
{
	return container_of(vcpu, struct vmx_vcpu, vcpu);
}

/*
 * VMREAD/VMWRITE (SDM Vol. 3C 31.3).  A failure (VMfailInvalid: CF, or
 * VMfailValid: ZF) means no current VMCS or a bad field: a bug in hvlab,
 * so it warns once and goes on.  VMREAD into a register touches no
 * memory the compiler knows of (the VMCS is reached only through these
 * instructions, 25.11.1), so it has no "memory" clobber: the exit path
 * keeps its values in registers across the reads instead of loading
 * them again after each one (KVM's __vmcs_readl() has none either).
 * Being volatile, the reads stay in order with the VMPTRLD, VM entry and
 * VMWRITE asm statements, which do clobber memory.
 */
static __always_inline u64 vmcs_read(unsigned long field)
{
	unsigned long val;
	bool fail;

	asm volatile("vmread %[f], %[v]"
		     : [v] "=r" (val), "=@ccbe" (fail) : [f] "r" (field));
	WARN_ONCE(fail, "hvlab: VMREAD %#lx failed\n", field);
	return val;
}

static __always_inline void vmcs_write(unsigned long field, u64 val)
{
	bool fail;

	asm volatile("vmwrite %[v], %[f]"
		     : "=@ccbe" (fail) : [f] "r" (field), [v] "rm" ((unsigned long)val) : "memory");
	WARN_ONCE(fail, "hvlab: VMWRITE %#lx = %#llx failed\n", field, val);
}

/* VMCLEAR / VMPTRLD take the region's physical address in memory (31.3). */
static inline void vmcs_clear(u64 pa)
{
	bool fail;

	asm volatile("vmclear %[pa]" : "=@ccbe" (fail) : [pa] "m" (pa) : "memory");
	WARN_ONCE(fail, "hvlab: VMCLEAR %#llx failed\n", pa);
}

static inline void vmcs_load(u64 pa)
{
	bool fail;

	asm volatile("vmptrld %[pa]" : "=@ccbe" (fail) : [pa] "m" (pa) : "memory");
	WARN_ONCE(fail, "hvlab: VMPTRLD %#llx failed\n", pa);
}

/* What vmx_inject_events() put into the VM-entry interruption-info field. */
enum { VMX_EVENT_NONE, VMX_EVENT_REDELIVER, VMX_EVENT_EXCEPTION, VMX_EVENT_IRQ, VMX_EVENT_NMI };

/* vmx.c */
int __must_check vmx_vcpu_load(struct vmx_vcpu *vmx);
void vmx_vcpu_put(struct vmx_vcpu *vmx);
void vmx_flush(struct vmx_vcpu *vmx);

/* vmcs.c: the VMCS of one vCPU */
void vmx_vmcs_init(struct vmx_vcpu *vmx);
void vmx_write_host_cpu_state(struct vmx_vcpu *vmx);
void vmx_set_cr0(struct vmx_vcpu *vmx, u64 cr0);
void vmx_set_cr4(struct vmx_vcpu *vmx, u64 cr4);
void vmx_set_efer(struct vmx_vcpu *vmx, u64 efer);
u64 vmx_guest_cr0(struct vmx_vcpu *vmx);
u64 vmx_guest_cr4(struct vmx_vcpu *vmx);
void vmx_sync_cr4_mask(struct vmx_vcpu *vmx);
bool vmx_pae_paging(u64 cr0, u64 cr4, u64 efer);
bool vmx_read_pdptes(struct vmx_vcpu *vmx, u64 cr3, u64 pdpte[4]);
void vmx_write_pdptes(const u64 pdpte[4]);
int vmx_load_state(struct hv_vcpu *vcpu);
int vmx_save_state(struct hv_vcpu *vcpu);
int vmx_save_int_shadow(struct hv_vcpu *vcpu);
const char *vmx_check_vmcs(struct vmx_vcpu *vmx, u32 *field);
void vmx_dump_vmcs(struct vmx_vcpu *vmx);

/* vmcs_dump.c: the VMCS fields at an exit, for HVLAB_GET_VENDOR_STATE */
void vmx_dump_setup(void);
void vmx_capture(struct vmx_vcpu *vmx, u64 reason);

/* exit.c: entry and the exit table */
int vmx_vcpu_enter(struct hv_vcpu *vcpu);
void vmx_run_begin(struct hv_vcpu *vcpu);
void vmx_run_end(struct hv_vcpu *vcpu);
u64 vmx_get_msr(struct hv_vcpu *vcpu, u32 index);
void vmx_set_msr(struct hv_vcpu *vcpu, u32 index, u64 val);
u64 vmx_get_cr0(struct hv_vcpu *vcpu);
u64 vmx_get_dr(struct hv_vcpu *vcpu, unsigned int dr);
void vmx_set_dr(struct hv_vcpu *vcpu, unsigned int dr, u64 val);

/* vmx_run.S: 0 after a VM exit, 1 on VMfailValid, 2 on VMfailInvalid. */
int vmx_run_asm(struct hvlab_regs *regs, int launched, unsigned long host_rsp_field);
void vmx_exit_asm(void);	/* HOST_RIP: not callable */
void vmx_nmi_asm(void);		/* the host's NMI handler, for an NMI exit */

/* mmu/ept.c */
extern const struct hv_mmu_format hv_ept_format;

/* Guest-state field values hvlab reads back (no KVM symbol for these). */
#define VMX_AR_UNUSABLE		BIT(16)		/* 24.4.1 access rights */
/* Guest interruptibility (25.4.2, Table 25-3): blocking by STI / by MOV SS. */
#define VMX_BLOCKING_STI_MOVSS	3
#define VMX_INTR_TYPE_SHIFT	8

#endif /* HVLAB_VMX_H */
