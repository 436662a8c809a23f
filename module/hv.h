/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hv.h - the vendor-neutral core of hvlab: VM and vCPU objects, the
 * backend ops table, and the helpers backends may call back into.
 *
 * The core never includes vmx/ or svm/ headers; a backend embeds
 * struct hv_vcpu in its own vCPU struct and reaches it with container_of.
 */
#ifndef HVLAB_HV_H
#define HVLAB_HV_H

#include <linux/types.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/mutex.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/cpumask.h>
#include <linux/spinlock.h>
#include <linux/mmu_notifier.h>
#include <asm/fpu/api.h>
#include <asm/fpu/types.h>
#include <asm/msr.h>
#include "compat.h"
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/cpufeature.h>
#include <asm/debugreg.h>
#include <asm/special_insns.h>
#include <asm/trapnr.h>

#include "../mmu/mmu.h"
#include "decode.h"

#include "hvlab.h"
#include "tele.h"
#include "lapic.h"

#define HV_NAME "hvlab"

/*
 * Refuse a bad argument from userspace: one rate-limited dmesg line saying
 * why, then the errno.  Files using it define pr_fmt to start with "hvlab: ".
 */
#define hv_reject(err, fmt, ...) ({					\
	pr_info_ratelimited("%s: " fmt "\n", __func__, ##__VA_ARGS__);	\
	(err);								\
})

/* Module parameters (module/main.c). */
extern unsigned int hv_max_vms;
extern unsigned int hv_max_vcpus;
extern unsigned int hv_max_slots;

/* A guest memory slot: guest-physical [gpa, gpa + size) backed by uaddr. */
struct hv_slot {
	u64 gpa;
	u64 size;		/* 0: slot unused */
	u64 uaddr;
	u32 flags;		/* HVLAB_MEM_* */
};

struct hv_vm {
	struct kref ref;	/* one per open fd (VM fd, each vCPU fd) */
	/*
	 * lock: vcpus[] and slot changes; it also serializes the nested
	 * page faults of this VM (and so the mmu's table-page cache).
	 * Faults hold it while they ask the kernel for a page, which may
	 * sleep and takes the mm's mmap_lock: the order is lock ->
	 * mmap_lock -> mmu_lock, and the MMU notifier, which runs with
	 * mmap_lock (or i_mmap_rwsem) held, takes only mmu_lock.
	 */
	struct mutex lock;
	struct hv_slot *slots;	/* hv_max_slots entries; written under lock AND mmu_lock */
	struct hv_vcpu **vcpus;	/* hv_max_vcpus entries, indexed by id */
	unsigned int nr_vcpus;
	struct mm_struct *mm;	/* the creator's: guest memory lives there */
	u64 spec_id;		/* never reused: IBPB when a CPU changes VM (spec.c) */

	/*
	 * Nested page table (module/gmem.c).  mmu_lock, a spinlock because
	 * the MMU notifier may be called where it must not sleep
	 * (mmu_notifier_range_blockable() false), protects the tables, the
	 * slots[] fields for readers that do not hold lock (the notifier),
	 * the invalidation state below and kick_mask.  Nothing sleeps under
	 * it: table pages are allocated before it is taken.
	 *
	 * mmu_invalidate_seq/_in_progress/_start/_end: the retry protocol
	 * of KVM's mmu_invalidate_* fields.  The notifier's range_start
	 * counts an invalidation in progress (and widens [start, end) to
	 * cover it) and removes the leaves; range_end bumps the sequence
	 * and uncounts it.  A fault reads the sequence before it asks for
	 * the page and installs the leaf only if, under mmu_lock, the
	 * sequence is unchanged and no invalidation in progress covers its
	 * address; otherwise the guest re-executes and faults again.
	 *
	 * mmu_gen moves whenever entries were removed; each vCPU flushes its
	 * TLB before entering with a generation it has not flushed for
	 * (svm_pick_asid, vmx_flush).  vCPUs in guest mode at that moment
	 * are interrupted (hv_vm_flush_remote), and only those.
	 */
	spinlock_t mmu_lock;
	struct hv_mmu mmu;
	u64 mmu_gen;
	unsigned long mmu_invalidate_seq;
	unsigned long mmu_invalidate_in_progress;
	unsigned long mmu_invalidate_start, mmu_invalidate_end;	/* VMM addresses */
	cpumask_var_t kick_mask;
	struct mmu_notifier mn;
	bool mn_registered;

	/* Telemetry (module/stats.c): who may read it, and how it is found. */
	u32 id;			/* > 0, HVLAB_GET_VM_ID */
	kuid_t owner;		/* effective uid of the creator */
	pid_t pid;		/* tgid of the creator */
	u32 event_sample;	/* every Nth exit to the multicast group, 0: none */
	struct list_head node;	/* on hv_vms, under hv_vms_lock */

	/* HVLAB_VM_LAPIC: every vCPU has a local APIC (module/lapic.c). */
	bool lapic;
	u64 eoi_exits[4];	/* HVLAB_SET_EOI_EXITS: vectors whose level EOI exits */
};

struct hv_vcpu {
	struct hv_vm *vm;
	unsigned int id;
	/*
	 * Set with interrupts off from before the vCPU reads vm->mmu_gen
	 * for its entry until after the world switch returns: the CPU in
	 * @cpu may be using this VM's nested translations, and a change of
	 * the tables must interrupt it (hv_guest_mode_enter).
	 */
	int guest_mode;
	int cpu;
	struct mutex lock;	/* serializes ioctls on this vCPU */
	struct hvlab_run *run;	/* the mmap()ed run page */

	/*
	 * The architectural state as userspace sees it.  Until a backend
	 * runs the vCPU this copy is the only one; a running backend loads
	 * it into its VMCS/VMCB when @state_dirty is set.
	 */
	struct hvlab_regs regs;
	struct hvlab_sregs sregs;
	/*
	 * Two kinds of dirty, kept apart so that HVLAB_SET_REGS alone
	 * never reloads system state.  @state_dirty: SET_SREGS (or reset)
	 * wrote @sregs; the backend loads them, which also drops an event
	 * the last exit interrupted and the STI/MOV SS shadow, as new
	 * system state from userspace means.  @regs_dirty: SET_REGS wrote
	 * @regs, which both backends copy into the VMCB/VMCS at every
	 * entry anyway; it only makes the backend check the new RFLAGS
	 * before the next entry.  DR6/DR7, the interrupt shadow and a
	 * pending re-delivery survive SET_REGS (KVM's KVM_SET_REGS leaves
	 * them alone too).
	 */
	bool state_dirty;
	bool regs_dirty;
	/*
	 * The guest ran since @sregs was last copied out of the VMCS/VMCB:
	 * hv_sync_sregs() before reading it.  Saving on every return to
	 * userspace cost about 200 instructions per exit that most VMMs
	 * never look at.
	 */
	bool sregs_stale;
	bool int_shadow;	/* STI/MOV SS shadow at the last exit (save_state) */
	bool spec_l1d;		/* host ran other code: flush L1D first (spec.c) */
	/*
	 * RIP of the instruction the guest stopped at (set by the backends
	 * at every exit, and by SET_REGS).  When the RUN loop finds
	 * regs.rip elsewhere, hvlab finished that instruction for the
	 * guest: the single-step trap is due (hv_step_done, debugreg.c).
	 */
	u64 insn_rip;
	/*
	 * The last exit whose instruction, decoded from guest memory, did
	 * not match what the exit reported (mem.c): hvlab re-entered the
	 * guest once to let it re-execute; the same mismatch twice in a
	 * row is an internal error instead (KVM's last_retry_eip and
	 * last_retry_addr, retry_instruction() in x86.c).
	 */
	u64 retry_rip, retry_addr;

#if HV_KVM_ONLY_EXPORTS
	/* Guest FPU/XSAVE state in hvlab's own area, live around each entry (fpu.c). */
	void *fpu_area;
#else
	/* Guest FPU/XSAVE state, swapped with the task's around RUN. */
	struct fpu_guest fpu;
#endif
	/*
	 * PKRU is not part of what fpu_swap_kvm_fpstate() switches (the
	 * kernel keeps it per task, outside the XSAVE buffer it restores),
	 * and neither VM entry nor #VMEXIT touches it: the guest's lives
	 * here and goes in only around the world switch (hv_pkru_guest_in).
	 */
	u32 pkru;		/* the guest's; 0 at reset (SDM Vol. 3A 4.6.2) */
	u32 host_pkru;		/* the task's, while the guest's is in */

	/*
	 * Debug registers (module/debugreg.c).  Every MOV DR exits on both
	 * vendors, so the guest never reads the host's DR0-3 and its own
	 * survive host task switches.  DR0-3 live here and are loaded into
	 * the CPU only while the guest's DR7 enables a breakpoint (@db_live
	 * from hv_db_guest_in to hv_db_guest_out); DR6 and DR7 are kept by
	 * the backend (get_dr/set_dr): SVM's VMCB switches them itself.
	 */
	u64 db[4];
	bool db_live;
#if HV_KVM_ONLY_EXPORTS
	u64 host_db[4];		/* the host's DR0-3 while db_live (hv_db_host_restore) */
#endif

	/*
	 * An instruction that waits for userspace's answer: IN/INS (data),
	 * MMIO load (value), RDMSR/WRMSR routed to userspace.
	 */
	struct {
		u8 kind;		/* HVLAB_EXIT_IO / _MMIO / _MSR, 0: none */
		u8 size;		/* IN/INS element size */
		u32 count;		/* INS elements */
		bool string;		/* INS */
		u64 next_rip;		/* IN, INS, MSR */
		u64 gpa;		/* MMIO load: where (the write of an RMW) */
		struct hv_insn insn;	/* MMIO load, INS */
	} pending;

	/* Events queued by HVLAB_INJECT (or by the module: #GP) for the guest. */
	struct {
		bool exc_pending;
		u8 exc_vector;
		bool exc_has_err;
		u32 exc_err;
		/*
		 * A #PF the module raised sets CR2 when it is delivered, as
		 * the CPU does (SDM Vol. 3A 6.15 "Interrupt 14"; KVM keeps
		 * it as the exception's payload until delivery too).
		 */
		bool exc_sets_cr2;
		u64 exc_cr2;
		bool irq_pending;
		u8 irq_vector;
		/*
		 * APIC VMs: the interrupt at this entry came from the APIC
		 * (acknowledged: in ISR), not from HVLAB_INJECT; an NMI
		 * from the APIC waits (set by other vCPUs: xchg to take).
		 */
		bool irq_from_apic;
		u8 irq_taken;
		bool nmi_pending;
		/*
		 * SVM: the guest handles an NMI hvlab injected and has not
		 * yet executed IRET, so no second one may come (SDM Vol. 3A
		 * 6.7.1, APM Vol. 2 8.2.3); svm/exit.c keeps it.  VMX keeps
		 * this in the VMCS ("blocking by NMI", 25.4.2).  INIT
		 * clears it.
		 */
		bool nmi_masked;
	} events;

	/* The local APIC, NULL unless the VM was created with HVLAB_VM_LAPIC. */
	struct hv_lapic *lapic;

	/* HVLAB_SET_CPUID table (NULL: the default of cpuid.c). */
	struct hvlab_cpuid_entry *cpuid;
	unsigned int cpuid_nent;
	/* CR4 bits the guest may set, from that table (module/cr4.c). */
	u64 cr4_allowed;
	/*
	 * The guest's IA32_TSC_AUX (RDTSCP, RDPID), offered when its CPUID
	 * has either; SVM loads it around VMRUN (svm/exit.c).
	 */
	u64 tsc_aux;
	u8 msr_policy;			/* HVLAB_MSR_UNKNOWN_* */
	/*
	 * IA32_TSC_ADJUST (SDM Vol. 3B 18.17.3): the sum of every change
	 * the guest made to its TSC by WRMSR; the TSC itself is the host's
	 * plus the backend's offset (VMX TSC_OFFSET, VMCB tsc_offset).
	 */
	u64 tsc_adjust;

	/* Exit counts, by enum hvlab_stat. */
	u64 exits;
	u64 stat[HVLAB_STAT_NR];

	/* Histograms, journal, events of module/stats.c; never NULL. */
	struct hv_tele *tele;
	struct hv_tele_hot th;		/* what every exit touches (module/tele_hot.h) */
	/* The vendor structure at the last two exits (vstate.c); NULL: not captured. */
	struct hv_vstate *vstate;

	/* Exit routing (module/route.c): HVLAB_SET_EXIT_ROUTE rules, oldest first. */
	struct hvlab_exit_route routes[HVLAB_MAX_ROUTES];
	unsigned int nr_routes;
	u32 io_latch;		/* the in-kernel port "device" of HVLAB_ROUTE_IO */
};

/*
 * The last look before the world switch, with interrupts off: is there
 * work that must not wait for the guest's next exit?  A signal or a
 * reschedule that came after the RUN loop's check was announced by an
 * IPI that the host took while interrupts were still on, so it will not
 * make the guest exit; only this check sees it.  From here to VMRUN /
 * VMLAUNCH, a new one leaves its IPI pending, and the external-interrupt
 * intercept makes the guest exit right after entry.  KVM makes the same
 * check in vcpu_enter_guest() (kvm_vcpu_exit_request(),
 * xfer_to_guest_mode_work_pending()).  The caller re-enables interrupts
 * and returns 1; the RUN loop reschedules and sees the signal.
 */
static inline bool hv_entry_must_wait(void)
{
	return signal_pending(current) || need_resched();
}

/* Canonical for 48-bit linear addresses (SDM Vol. 1 3.3.7.1, APM Vol. 2 5.3.1). */
static inline bool hv_canonical(u64 addr)
{
	return ((s64)addr << 16 >> 16) == (s64)addr;
}

/*
 * Telemetry hooks, the same for both backends (module/stats.c; the hot
 * ones are inline in module/tele_hot.h, which only the exit paths include):
 *   hv_tele_entry()  right before the world switch, interrupts off: the
 *                    previous exit is over, into its histogram it goes
 *   hv_tele_exit()   right after the world switch: the exit's timestamp
 *                    and registers, straight into its journal entry
 *   hv_exit_info()   the raw reason and qualification, as read from the
 *                    VMCS/VMCB (also the run page's vendor_reason)
 *   hv_count_exit()  the neutral reason, once per exit: count, journal,
 *                    tracepoint
 */
extern bool hv_telemetry;

/*
 * Written straight into the journal entry this exit will have (so the
 * journal copies nothing twice), after marking it empty: seq 0 tells a
 * reader copying it that it is being rewritten (module/tele_hot.h).
 * The tracepoint and the event stream read it there too.
 */
static inline void hv_exit_info(struct hv_vcpu *vcpu, u64 reason, u64 qual, u64 qual2)
{
	struct hvlab_journal_entry *e = vcpu->th.jcur;

	vcpu->run->vendor_reason = reason;
	WRITE_ONCE(e->seq, 0);
	smp_wmb();
	e->vendor_reason = reason;
	e->qual = qual;
	e->qual2 = qual2;
}

/*
 * PKRU around the world switch, for both backends, with interrupts off
 * (so no context switch or interrupt handler runs with the guest's
 * value).  VM entry and exit leave PKRU alone (SDM Vol. 3C 27.3, 28.5;
 * APM Vol. 2 15.5), and a guest may set CR4.PKE and run WRPKRU without
 * an exit, or load PKRU with XRSTOR (the host's XCR0 is live in the
 * guest): without this the VMM thread would go back to user mode with
 * the guest's keys.  Only hosts that use PKRU (CR4.PKE, "OSPKE") need
 * it, and RDPKRU/WRPKRU fault without CR4.PKE.
 */
static __always_inline void hv_pkru_guest_in(struct hv_vcpu *vcpu)
{
	if (!cpu_feature_enabled(X86_FEATURE_OSPKE))
		return;
	vcpu->host_pkru = rdpkru();
	if (vcpu->pkru != vcpu->host_pkru)
		wrpkru(vcpu->pkru);
}

static __always_inline void hv_pkru_guest_out(struct hv_vcpu *vcpu)
{
	if (!cpu_feature_enabled(X86_FEATURE_OSPKE))
		return;
	vcpu->pkru = rdpkru();
	if (vcpu->pkru != vcpu->host_pkru)
		wrpkru(vcpu->host_pkru);
}

/*
 * Architectural debug-register bits (SDM Vol. 3B 18.2.3, 18.2.4; APM
 * Vol. 2 13.1.1.5, 13.1.1.6).  DR6: B0-B3, BD, BS, BT can be written,
 * bits 4-11 and 16-31 read as 1, bit 12 as 0.  DR7: L0-G3, LE, GE, GD,
 * R/W0-LEN3 can be written, bit 10 reads as 1, bits 11, 12, 14, 15 as 0.
 * Bits 63:32 of both must be 0.
 */
#define HV_DR6_RESET		0xffff0ff0ULL
#define HV_DR6_VALID		0xe00fULL
#define HV_DR6_BD		BIT_ULL(13)
#define HV_DR6_BS		BIT_ULL(14)
#define HV_DR7_RESET		0x400ULL
#define HV_DR7_VALID		0xffff23ffULL
#define HV_DR7_GD		BIT_ULL(13)
#define HV_DR7_ENABLES		0xffULL		/* L0, G0 ... L3, G3 */

/*
 * Right before the world switch, interrupts off, with the DR7 the guest
 * will run with: if it enables a breakpoint, the guest's DR0-3 go into
 * the CPU (with DR7 cleared first when the host has breakpoints armed,
 * so none of them fires on a guest address meanwhile).
 */
static __always_inline void hv_db_guest_in(struct hv_vcpu *vcpu, u64 guest_dr7)
{
	if (likely(!(guest_dr7 & HV_DR7_ENABLES)))
		return;
	if (hw_breakpoint_active()) {
		set_debugreg(0, 7);
#if HV_KVM_ONLY_EXPORTS
		/* The host's, for hv_db_host_restore(). */
		get_debugreg(vcpu->host_db[0], 0);
		get_debugreg(vcpu->host_db[1], 1);
		get_debugreg(vcpu->host_db[2], 2);
		get_debugreg(vcpu->host_db[3], 3);
#endif
	}
	set_debugreg(vcpu->db[0], 0);
	set_debugreg(vcpu->db[1], 1);
	set_debugreg(vcpu->db[2], 2);
	set_debugreg(vcpu->db[3], 3);
	vcpu->db_live = true;
}

/*
 * Right after the world switch, interrupts off.  The exit left DR7 at
 * 400h (SDM Vol. 3C 28.5.1, APM Vol. 2 15.6): the host's breakpoints go
 * back in if it has any; otherwise DR0-3 may keep the guest's values,
 * which nothing in the host reads (the guest reads its own from
 * hv_vcpu.db), and DR6 gets its reset value so no guest status bit
 * reaches the host's #DB handler.
 */
static __always_inline void hv_db_host_restore(struct hv_vcpu *vcpu)
{
#if HV_KVM_ONLY_EXPORTS
	/*
	 * 7.x exports hw_breakpoint_restore() to KVM only: the same writes,
	 * from what hv_db_guest_in() read (DR0-3 changed only if db_live)
	 * and the kernel's exported cpu_dr7.
	 */
	if (vcpu->db_live) {
		set_debugreg(vcpu->host_db[0], 0);
		set_debugreg(vcpu->host_db[1], 1);
		set_debugreg(vcpu->host_db[2], 2);
		set_debugreg(vcpu->host_db[3], 3);
	}
	set_debugreg(DR6_RESERVED, 6);
	set_debugreg(__this_cpu_read(cpu_dr7), 7);
#else
	hw_breakpoint_restore();
#endif
}

static __always_inline void hv_db_guest_out(struct hv_vcpu *vcpu, bool dr6_is_guests)
{
	if (hw_breakpoint_active())
		hv_db_host_restore(vcpu);
	else if (unlikely(dr6_is_guests))
		set_debugreg(HV_DR6_RESET, 6);	/* no guest bits in the host's #DB */
	vcpu->db_live = false;
}

/*
 * Right after the world switch, interrupts off.  A guest that runs an
 * instruction of an XFD-armed state component (AMX tile data, with the
 * host's IA32_XFD, which hvlab never switches) takes #NM in the guest and
 * the CPU sets IA32_XFD_ERR (SDM Vol. 1 13.14), which nothing in the
 * guest's path clears: the host's next #NM would then be taken for an XFD
 * fault of its own (handle_xfd_event()).  KVM clears it the same way in
 * vcpu_enter_guest() after the exit, when the guest left it non-zero.
 * Such an instruction needs CR4.OSXSAVE in the guest, so only guests
 * allowed that bit pay the RDMSR.  The guest itself has no XFD (CPUID
 * leaf 0Dh is zero, the MSRs #GP), so it loses nothing it could read.
 * Neither emulated PC has XFD (CPUID.(EAX=0Dh,ECX=1):EAX[4] = 0).
 */
static __always_inline void hv_xfd_err_clear(struct hv_vcpu *vcpu)
{
	u64 err;

	if (!cpu_feature_enabled(X86_FEATURE_XFD) || !(vcpu->cr4_allowed & X86_CR4_OSXSAVE))
		return;
	rdmsrq(MSR_IA32_XFD_ERR, err);
	if (unlikely(err))
		wrmsrq(MSR_IA32_XFD_ERR, 0);
}

/*
 * Around the world switch, interrupts off, for both backends: from before
 * the backend reads vm->mmu_gen to decide on a TLB flush until after the
 * guest exited.  Pairs with hv_vm_flush_remote(), which bumps mmu_gen and
 * then reads guest_mode: with a full barrier on both sides, either the
 * flusher sees this vCPU in guest mode and interrupts its CPU (any
 * interrupt makes the guest exit), or the vCPU sees the new generation
 * and flushes before entering - the store-buffering pattern of KVM's
 * vcpu->mode and kvm_make_all_cpus_request().
 */
static __always_inline void hv_guest_mode_enter(struct hv_vcpu *vcpu)
{
	WRITE_ONCE(vcpu->cpu, smp_processor_id());
	smp_store_release(&vcpu->guest_mode, 1);	/* @cpu before the flag */
	smp_mb();					/* the flag before mmu_gen is read */
}

static __always_inline void hv_guest_mode_exit(struct hv_vcpu *vcpu)
{
	WRITE_ONCE(vcpu->guest_mode, 0);
}

/*
 * External interrupts for the backends' injection, interrupts off, right
 * before entry.  Without an APIC: HVLAB_INJECT's.  With one: the 8259's
 * (HVLAB_INJECT) if LINT0 passes ExtINT, which is taken first as KVM's
 * kvm_cpu_get_interrupt does, else the APIC's highest deliverable one.
 *   hv_irq_wanted  an interrupt waits for RFLAGS.IF (open the window)
 *   hv_irq_take    the guest can take it now: its vector, -1 for none
 *   hv_irq_untake  the entry did not happen: it goes back
 */
static inline bool hv_irq_wanted(struct hv_vcpu *vcpu)
{
	if (!vcpu->lapic)
		return vcpu->events.irq_pending;
	return (vcpu->events.irq_pending && hv_lapic_accepts_extint(vcpu)) ||
	       hv_lapic_has_irq(vcpu);
}

static inline int hv_irq_take(struct hv_vcpu *vcpu)
{
	int v;

	if (vcpu->events.irq_pending && (!vcpu->lapic || hv_lapic_accepts_extint(vcpu))) {
		vcpu->events.irq_pending = false;
		vcpu->events.irq_from_apic = false;
		v = vcpu->events.irq_vector;
	} else if (vcpu->lapic) {
		v = hv_lapic_ack_irq(vcpu);
		vcpu->events.irq_from_apic = true;
	} else {
		return -1;
	}
	vcpu->events.irq_taken = v;
	return v;
}

static inline void hv_irq_untake(struct hv_vcpu *vcpu)
{
	if (vcpu->events.irq_from_apic)
		hv_lapic_unack_irq(vcpu, vcpu->events.irq_taken);
	else
		vcpu->events.irq_pending = true;
}

/* An NMI from the APIC (ICR, MSI, LINT): taken for injection now. */
static inline bool hv_nmi_take(struct hv_vcpu *vcpu)
{
	return unlikely(READ_ONCE(vcpu->events.nmi_pending)) && xchg(&vcpu->events.nmi_pending, false);
}

/* Exit routing (module/route.c): the newest matching rule's action, or @dflt. */
static inline u32 hv_route(const struct hv_vcpu *vcpu, u32 class, u32 key, u32 dflt)
{
	int i;

	for (i = (int)vcpu->nr_routes - 1; i >= 0; i--) {
		const struct hvlab_exit_route *r = &vcpu->routes[i];

		if (r->route_class == class && key >= r->first && key <= r->last)
			return r->action;
	}
	return dflt;
}

static inline bool hv_route_msr_to_user(struct hv_vcpu *vcpu, u32 index)
{
	return unlikely(vcpu->nr_routes) &&
	       hv_route(vcpu, HVLAB_ROUTE_MSR, index, HVLAB_ROUTE_TO_KERNEL) == HVLAB_ROUTE_TO_USER;
}

static inline bool hv_route_io_in_kernel(struct hv_vcpu *vcpu, u16 port)
{
	return unlikely(vcpu->nr_routes) &&
	       hv_route(vcpu, HVLAB_ROUTE_IO, port, HVLAB_ROUTE_TO_USER) == HVLAB_ROUTE_TO_KERNEL;
}

/* The module's own exceptions for the guest (e.g. #GP for a bad MSR). */
static inline void hv_queue_exception(struct hv_vcpu *vcpu, u8 vector, bool has_err, u32 err)
{
	vcpu->events.exc_pending = true;
	vcpu->events.exc_vector = vector;
	vcpu->events.exc_has_err = has_err;
	vcpu->events.exc_err = err;
	vcpu->events.exc_sets_cr2 = false;
}

/* A page fault on the guest's behalf: error code @err, CR2 = @cr2 (SDM Vol. 3A 4.7). */
static inline void hv_queue_page_fault(struct hv_vcpu *vcpu, u64 cr2, u32 err)
{
	hv_queue_exception(vcpu, X86_TRAP_PF, true, err);
	vcpu->events.exc_sets_cr2 = true;
	vcpu->events.exc_cr2 = cr2;
}

/*
 * Fault-class exceptions push RFLAGS with RF set, so that the instruction
 * they restart at does not hit its own instruction breakpoint again (SDM
 * Vol. 3B 18.3.1.1, Vol. 3A 2.3 "RF"; APM Vol. 2 3.1.6).  An event
 * injected at VM entry (SDM Vol. 3C 27.6.1, APM Vol. 2 15.20 EVENTINJ) is
 * delivered with the guest's RFLAGS as they stand, so the backends set RF
 * there first for these vectors, as KVM's inject_pending_event() does.  Traps (#BP, #OF), aborts (#DF, #MC) and
 * #DB (fault or trap; code breakpoints leave RF alone) keep RF as it is.
 */
static inline bool hv_exception_sets_rf(u8 vector)
{
	return vector < 32 && !((BIT(X86_TRAP_DB) | BIT(X86_TRAP_NMI) | BIT(X86_TRAP_BP) |
				 BIT(X86_TRAP_OF) | BIT(X86_TRAP_DF) | BIT(X86_TRAP_MC)) & BIT(vector));
}

/*
 * What a vendor backend provides.  Exactly one instance is chosen at
 * module load (vmx_ops or svm_ops) and reached as hv_ops.  Hooks marked
 * "optional" may be NULL.
 */
struct hv_backend_ops {
	const char *name;
	enum hvlab_vendor vendor;

	/*
	 * Module load: is the extension present and enabled by firmware?
	 * -ENODEV with one dmesg line naming the reason otherwise.
	 * Allocates whatever per-CPU memory the enable step needs.
	 */
	int (*hardware_setup)(void);
	void (*hardware_unsetup)(void);

	/*
	 * Switch the extension on / off on the calling CPU, with interrupts
	 * off.  cpu_enable returns -EBUSY when another hypervisor already
	 * holds it, and must then leave the CPU exactly as it found it.
	 */
	int (*cpu_enable)(void);
	void (*cpu_disable)(void);
	/*
	 * Is the extension on on this CPU already, switched on by someone
	 * else (the case where cpu_enable says -EBUSY)?  Preemption off.
	 */
	bool (*cpu_in_use)(void);
	/* Crash/emergency-reboot path, possibly in NMI context: no locks. */
	void (*cpu_emergency_disable)(void);

	/* vCPU objects: allocate the vendor struct embedding hv_vcpu. */
	struct hv_vcpu *(*vcpu_create)(struct hv_vm *vm, unsigned int id);
	void (*vcpu_free)(struct hv_vcpu *vcpu);

	/* Entry format of the nested page table this vendor walks. */
	const struct hv_mmu_format *mmu_format;

	/*
	 * Running (optional until the backend can run guests).
	 * vcpu_load_state: copy hv_vcpu.sregs into the VMCS/VMCB (state_dirty).
	 * vcpu_save_state: the reverse, before RUN returns to userspace.
	 *   Both return 0, or -EINTR when a signal came while the backend
	 *   waited to reach its VMCS (VMX: the CPU was going offline).
	 * vcpu_enter: one entry and exit, then the exit's handler.  Returns
	 *   1 to enter again, 0 when the run page holds an exit for
	 *   userspace, or -errno.  Called preemptible, with interrupts on.
	 */
	int (*vcpu_load_state)(struct hv_vcpu *vcpu);
	int (*vcpu_save_state)(struct hv_vcpu *vcpu);
	/* Optional: only vcpu->int_shadow, as vcpu_save_state sets it. */
	int (*vcpu_save_int_shadow)(struct hv_vcpu *vcpu);
	int (*vcpu_enter)(struct hv_vcpu *vcpu);
	/*
	 * Optional, around the vcpu_enter loop of one RUN: host state the
	 * backend switches once per RUN instead of once per exit.
	 */
	void (*vcpu_run_begin)(struct hv_vcpu *vcpu);
	void (*vcpu_run_end)(struct hv_vcpu *vcpu);

	/*
	 * From exit handlers, with the vCPU's VMCS/VMCB in reach: the guest
	 * MSRs listed in module/msr.c (set_msr gets a value already checked
	 * there), and the guest's CR0 for the EFER rules.
	 */
	u64 (*get_msr)(struct hv_vcpu *vcpu, u32 index);
	void (*set_msr)(struct hv_vcpu *vcpu, u32 index, u64 val);
	u64 (*get_cr0)(struct hv_vcpu *vcpu);
	/*
	 * The guest's DR6 and DR7 (@dr is 6 or 7), for MOV DR emulation
	 * (module/debugreg.c); set_dr gets an architecturally valid value.
	 * For DR6 both must work without the VMCS loaded: hv_step_done()
	 * calls them from the RUN loop (VMX keeps DR6 in software).
	 */
	u64 (*get_dr)(struct hv_vcpu *vcpu, unsigned int dr);
	void (*set_dr)(struct hv_vcpu *vcpu, unsigned int dr, u64 val);
	/*
	 * Optional: HVLAB_CAPTURE_STATE is refused without it.  The backend
	 * itself calls hv_vstate_next() at each exit while vcpu->vstate is
	 * set; this only says that it does.
	 */
	bool vcpu_capture;
};

extern const struct hv_backend_ops *hv_ops;

/* @sregs as the guest left them (see hv_vcpu.sregs_stale); 0 or -EINTR. */
static inline int __must_check hv_sync_sregs(struct hv_vcpu *vcpu)
{
	if (vcpu->sregs_stale) {
		int err = hv_ops->vcpu_save_state(vcpu);

		if (err)
			return err;
		vcpu->sregs_stale = false;
	}
	return 0;
}
extern const struct hv_backend_ops hv_vmx_ops;
extern const struct hv_backend_ops hv_svm_ops;

/* Guest-physical address width the module accepts (min(MAXPHYADDR, 48)). */
extern unsigned int hv_gpa_bits;

/* module/vstate.c: the vendor structure at the last exits (HVLAB_GET_VENDOR_STATE). */
struct hv_vstate;
struct hvlab_vendor_state *hv_vstate_next(struct hv_vcpu *vcpu);
int hv_vstate_capture(struct hv_vcpu *vcpu, unsigned long on);
int hv_vstate_get(struct hv_vcpu *vcpu, struct hvlab_vendor_state __user *argp);
void hv_vstate_free(struct hv_vcpu *vcpu);

/* module/hw.c: reference-counted enable of VT-x/SVM on every CPU. */
int hv_hw_init(void);
void hv_hw_exit(void);
int hv_hw_get(void);
void hv_hw_put(void);
/*
 * Is VT-x/SVM on on this CPU?  Interrupts off.  False only once reboot or
 * power-off switched every CPU off under a running vCPU: the backends
 * check it right before entry and give up with -ESHUTDOWN.
 */
bool hv_hw_cpu_on(void);

/* module/vm.c */
int hv_vm_create(unsigned long flags);
void hv_vm_get(struct hv_vm *vm);
void hv_vm_put(struct hv_vm *vm);

/* module/run.c: the RUN loop and what backends call back into */
int hv_vcpu_run(struct hv_vcpu *vcpu);
void hv_host_machine_check(void);
/* module/slots.c: the memory slots */
struct hv_slot *hv_gpa_to_slot(struct hv_vm *vm, u64 gpa);
int hv_vm_set_region(struct hv_vm *vm, const struct hvlab_memory_region *r);
/* module/gmem.c: the nested tables follow the VMM's memory */
int hv_gmem_init(struct hv_vm *vm);
void hv_gmem_destroy(struct hv_vm *vm);
int hv_mmu_fault(struct hv_vcpu *vcpu, u64 gpa, bool write, bool *is_mmio);
void hv_vm_zap_all_locked(struct hv_vm *vm, struct list_head *detached);
int hv_exit_io(struct hv_vcpu *vcpu, bool in, u16 port, u8 size, u64 next_rip);
int hv_exit_string_io(struct hv_vcpu *vcpu, bool in, u16 port, u8 size, u64 next_rip);
int hv_exit_msr(struct hv_vcpu *vcpu, u32 index, bool write, u64 data, u64 next_rip);

/* module/msr.c: RDMSR/WRMSR of the MSRs hvlab keeps for the guest */
#define HV_EXIT_SKIP	2	/* handled: move RIP past the instruction, re-enter */
int hv_exit_rdmsr_wrmsr(struct hv_vcpu *vcpu, bool write, u64 next_rip);
int hv_exit_msr_user(struct hv_vcpu *vcpu, u32 index, bool write, u64 data, u64 next_rip);
/* module/route.c: exits whose handling HVLAB_SET_EXIT_ROUTE can move */
int hv_exit_cpuid(struct hv_vcpu *vcpu, u64 next_rip);
int hv_exit_hlt(struct hv_vcpu *vcpu, u64 next_rip);
int hv_exit_hypercall(struct hv_vcpu *vcpu, u64 next_rip);

long hv_route_set(struct hv_vcpu *vcpu, const struct hvlab_exit_route __user *ur);
/* module/stats.c: the telemetry objects' lives and the RUN hooks */
int hv_tele_vcpu_init(struct hv_vcpu *vcpu);
void hv_tele_vcpu_free(struct hv_vcpu *vcpu);
void hv_tele_vm_add(struct hv_vm *vm);
void hv_tele_vm_del(struct hv_vm *vm);
void hv_tele_run_begin(struct hv_vcpu *vcpu);
void hv_tele_run_end(struct hv_vcpu *vcpu);
void hv_tele_reset(struct hv_vcpu *vcpu);
unsigned int hv_tele_open_stat(const struct hv_vcpu *vcpu);
/* The out-of-line parts of module/tele_hot.h. */
void hv_tele_do_reset(struct hv_vcpu *vcpu);
void hv_tele_entry_slow(struct hv_vcpu *vcpu);
void hv_journal_freeze(struct hv_vcpu *vcpu, unsigned int stat);
void hv_tele_drop_open(struct hv_vcpu *vcpu);
int hv_journal_mmap(struct hv_vcpu *vcpu, struct vm_area_struct *vma);
void hv_journal_thaw(struct hv_vcpu *vcpu);
/* module/genl.c */
int hv_genl_init(void);
void hv_genl_exit(void);
void hv_genl_send_events(struct work_struct *work);
bool hv_genl_listening(void);
/* module/mem.c and mmu/walk.c: guest memory from exit handlers */
int hv_read_gpa(struct hv_vm *vm, u64 gpa, void *buf, unsigned int len);
int hv_write_gpa(struct hv_vm *vm, u64 gpa, const void *buf, unsigned int len);
int hv_exit_mmio(struct hv_vcpu *vcpu, u64 gpa, bool write_fault);
/* 0 and @insn decoded; 1: fetching it faulted, the fault is queued (re-enter); -errno */
int hv_decode_at_rip(struct hv_vcpu *vcpu, struct hv_insn *insn);
/*
 * module/mem.c: guest memory by linear address, through the guest's
 * paging, as implicit supervisor accesses (task switches); -EFAULT when
 * the guest's paging refuses them, nothing queued.
 */
int hv_read_gva(struct hv_vcpu *vcpu, u64 gva, void *buf, unsigned int len);
int hv_write_gva(struct hv_vcpu *vcpu, u64 gva, const void *buf, unsigned int len);
/*
 * module/taskswitch.c: a hardware task switch done in software.  What
 * started it (SDM Vol. 3C 28.2.1 Table 28-2, task-switch qualification
 * bits 31:30), the new TSS's selector, the vector of an INT n that went
 * through a task gate (its DPL is checked; -1 otherwise), and the error
 * code of an exception delivered through one.
 */
enum hv_ts_source { HV_TS_CALL, HV_TS_IRET, HV_TS_JMP, HV_TS_GATE };
struct hv_task_switch {
	u16 selector;
	u8 source;		/* enum hv_ts_source */
	bool has_err;
	u32 err;
	int soft_int;
	bool switched;		/* out: the new task is in (no fault before the commit) */
};
int hv_task_switch(struct hv_vcpu *vcpu, struct hv_task_switch *req);
/* module/debugreg.c: MOV DR, from either backend's exit */
int hv_exit_mov_dr(struct hv_vcpu *vcpu, unsigned int dr, bool write, unsigned int gpr,
		   u64 next_rip);
void hv_step_done(struct hv_vcpu *vcpu);

/* RIP moved since the last exit (or SET_REGS): hvlab finished an instruction. */
static inline void hv_step_check(struct hv_vcpu *vcpu)
{
	if (unlikely(vcpu->regs.rip != vcpu->insn_rip))
		hv_step_done(vcpu);
}
int hv_complete_mmio(struct hv_vcpu *vcpu);
int hv_complete_string_in(struct hv_vcpu *vcpu);

void hv_cpuid(struct hv_vcpu *vcpu, u32 fn, u32 idx, u32 *a, u32 *b, u32 *c, u32 *d);
void hv_cpuid_paging(struct hv_vcpu *vcpu, u8 *maxphyaddr, bool *gbpages, bool *pse36);
long hv_cpuid_get(struct hv_vcpu *vcpu, struct hvlab_cpuid __user *uc);
long hv_cpuid_set(struct hv_vcpu *vcpu, struct hvlab_cpuid __user *uc);
void hv_exit_internal(struct hv_vcpu *vcpu, u32 suberror, unsigned int ndata, const u64 *data);

/* module/cr4.c: the CR4 bits a guest may own, the #GP rules of MOV to CR4 */
u64 hv_cr4_allowed(struct hv_vcpu *vcpu);
int hv_cr4_check(struct hv_vcpu *vcpu, u64 old, u64 val, u64 cr3, u64 efer);

/* module/vcpu.c */
int hv_vcpu_create(struct hv_vm *vm, unsigned long id);
void hv_vcpu_destroy(struct hv_vcpu *vcpu);
void hv_vcpu_reset(struct hv_vcpu *vcpu);

/* fpu.c: the guest's FPU/XSAVE state, the kernel's way or (7.x) hvlab's own. */
int hv_fpu_alloc(struct hv_vcpu *vcpu);
void hv_fpu_free(struct hv_vcpu *vcpu);
void hv_fpu_run_begin(struct hv_vcpu *vcpu);
void hv_fpu_run_end(struct hv_vcpu *vcpu);
void hv_fpu_guest_in(struct hv_vcpu *vcpu);
void hv_fpu_guest_loaded(struct hv_vcpu *vcpu);
void hv_fpu_guest_out(struct hv_vcpu *vcpu);

#endif /* HVLAB_HV_H */
