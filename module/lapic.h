/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lapic.h - the in-kernel local APIC of VMs created with HVLAB_VM_LAPIC
 * (module/lapic.c), and the hooks the core and the backends call.
 */
#ifndef HVLAB_LAPIC_H
#define HVLAB_LAPIC_H

#include <linux/hrtimer.h>
#include <linux/rcuwait.h>

struct hv_vcpu;
struct hv_vm;

struct hv_lapic {
	struct hv_vcpu *vcpu;
	/*
	 * lock: the register page, the timer state and the pending signals.
	 * Other vCPUs (IPIs), HVLAB_SIGNAL_MSI and the timer (hard irq)
	 * accept interrupts into this APIC; the vCPU's own thread reads and
	 * acknowledges them, with interrupts off right before entry.
	 */
	spinlock_t lock;
	u32 regs[1024 / 4];	/* the xAPIC page's first KiB, hvlab_lapic_state.regs */
	u32 esr_pending;	/* errors since the last ESR write (SDM Vol. 3A 11.5.3) */

	/* Timer (SDM Vol. 3A 11.5.4): counts at 1 GHz / divide, like KVM's. */
	struct hrtimer timer;
	ktime_t expires;	/* absolute, of the running count-down */
	u64 period_ns;		/* one count-down from TMICT (periodic reload) */
	bool timer_running;
	u64 tsc_deadline;	/* IA32_TSC_DEADLINE, 0: disarmed */
	bool deadline_arm;	/* SET_LAPIC wrote one: armed at the next entry */

	/* Signals for the vCPU's own thread (hv_lapic_run_events). */
	bool init_pending;
	bool sipi_pending;
	u8 sipi_vector;
	u8 mp_state;		/* HVLAB_MP_* */
	struct rcuwait wait;	/* a halted / wait-for-SIPI vCPU sleeps here (its own thread only) */
	u32 accepted;		/* messages taken, ever: VMX's entry looks twice */

	/* HVLAB_GET_APIC_STATS, by offset >> 4 */
	u64 reads[64];
	u64 writes[64];
};

extern unsigned int hv_halt_poll_ns;

int hv_lapic_create(struct hv_vcpu *vcpu);
void hv_lapic_free(struct hv_vcpu *vcpu);
void hv_lapic_reset(struct hv_vcpu *vcpu, bool init);

/* Guest accesses (exit handlers, the vCPU's thread). */
bool hv_lapic_mmio_hit(struct hv_vcpu *vcpu, u64 gpa);
int hv_lapic_mmio(struct hv_vcpu *vcpu, u64 gpa, bool write, void *data, unsigned int len);
unsigned int hv_lapic_mmio_stat(struct hv_vcpu *vcpu, u64 gpa, bool write);
unsigned int hv_lapic_msr_stat(struct hv_vcpu *vcpu, u32 index, bool write);
int hv_lapic_rdmsr(struct hv_vcpu *vcpu, u32 index, u64 *val);
int hv_lapic_wrmsr(struct hv_vcpu *vcpu, u32 index, u64 val);
int hv_lapic_set_base(struct hv_vcpu *vcpu, u64 val, bool host);
void hv_lapic_set_cr8(struct hv_vcpu *vcpu, u64 cr8);
u64 hv_lapic_get_cr8(struct hv_vcpu *vcpu);

/* Interrupt delivery to the guest, with interrupts off before entry. */
bool hv_lapic_has_irq(struct hv_vcpu *vcpu);
int hv_lapic_ack_irq(struct hv_vcpu *vcpu);
void hv_lapic_unack_irq(struct hv_vcpu *vcpu, u8 vector);
bool hv_lapic_accepts_extint(struct hv_vcpu *vcpu);
void hv_lapic_pre_enter(struct hv_vcpu *vcpu);

/* The RUN loop: INIT/SIPI, halt and wait-for-SIPI sleep. 0 or -EINTR. */
int hv_lapic_run_events(struct hv_vcpu *vcpu);
int hv_lapic_hlt(struct hv_vcpu *vcpu);

/* ioctls */
long hv_lapic_get_state(struct hv_vcpu *vcpu, void __user *argp);
long hv_lapic_set_state(struct hv_vcpu *vcpu, const void __user *argp);
long hv_lapic_get_mp_state(struct hv_vcpu *vcpu, void __user *argp);
long hv_lapic_set_mp_state(struct hv_vcpu *vcpu, const void __user *argp);
long hv_lapic_get_stats(struct hv_vcpu *vcpu, void __user *argp);
void hv_lapic_reset_stats(struct hv_vcpu *vcpu);
long hv_vm_signal_msi(struct hv_vm *vm, const void __user *argp);
long hv_vm_set_eoi_exits(struct hv_vm *vm, const void __user *argp);

#endif /* HVLAB_LAPIC_H */
