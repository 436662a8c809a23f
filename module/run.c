// SPDX-License-Identifier: GPL-2.0
/*
 * run.c - the RUN loop, guest memory faults, and the exit records that
 * every backend fills the same way.
 *
 * One exit, end to end: the backend's vcpu_enter() runs the guest until it
 * exits and calls its handler; the handler either finishes in the kernel
 * (return 1: the loop enters again) or fills the run page (return 0: RUN
 * returns to userspace).  On the next RUN, hv_complete_pending() finishes
 * the instruction with userspace's answer before the guest sees anything.
 * (Nested page faults: gmem.c.)
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sched/signal.h>
#include <linux/sched/mm.h>
#include <linux/smp.h>

#include <asm/cacheflush.h>
#include <asm/mce.h>
#include <asm/processor-flags.h>
#include <asm/segment.h>
#include <asm/traps.h>

#include "hv.h"
#include "spec.h"

/*
 * A machine check the CPU took while a guest ran: both backends
 * intercept #MC (SVM exception intercept 18, APM Vol. 2 15.12; VMX
 * exception bitmap bit 18, SDM Vol. 3C 26.2), because delivered through
 * the guest's IDT it would reach neither the host's handler nor anything
 * that can act on it.  The exit consumed it, so the host's handler is
 * called here, right after the exit with interrupts still off, the state
 * a real #MC finds.  It is not raised with INT 12h: the handler would
 * then see a machine check in host kernel code (this module), and an
 * error that needs action there is fatal, while the error hit the guest,
 * whose loss only the VMM task need pay for.  So the handler gets
 * registers that say "user mode, interrupts on": it may then kill this
 * task instead of panicking.  Never reflected into the guest.
 *
 * The emulated PCs cannot inject machine checks into a guest, so no test
 * covers this path.
 */
void hv_host_machine_check(void)
{
#ifdef CONFIG_X86_MCE
	struct pt_regs regs = {
		.cs = __USER_CS,
		.ss = __USER_DS,
		.flags = X86_EFLAGS_FIXED | X86_EFLAGS_IF,
	};

	do_machine_check(&regs);
#endif
}

/* IN of @size bytes: EAX zero-extends into RAX, AL/AX keep the rest (SDM Vol. 1 3.4.1.1). */
static void hv_set_in_data(struct hv_vcpu *vcpu, u32 val, u8 size)
{
	u64 mask = size == 1 ? 0xff : 0xffff;

	if (size == 4)
		vcpu->regs.rax = val;
	else
		vcpu->regs.rax = (vcpu->regs.rax & ~mask) | (val & mask);
}

/*
 * One port access: to userspace (the run page), or, for a port routed to
 * the kernel (HVLAB_ROUTE_IO), the vCPU's 4-byte latch.  Returns 1 to
 * re-enter, 0 for userspace.
 */
int hv_exit_io(struct hv_vcpu *vcpu, bool in, u16 port, u8 size, u64 next_rip)
{
	struct hvlab_run *run = vcpu->run;
	u8 *data = (u8 *)run + HVLAB_RUN_IO_DATA_OFFSET;

	if (hv_route_io_in_kernel(vcpu, port)) {
		if (in)
			hv_set_in_data(vcpu, vcpu->io_latch, size);
		else	/* 1, 2 or 4 bytes, zero-extended */
			vcpu->io_latch = vcpu->regs.rax & (0xffffffffu >> (32 - 8 * size));
		vcpu->regs.rip = next_rip;
		return 1;
	}

	run->exit_reason = HVLAB_EXIT_IO;
	run->io.direction = in ? HVLAB_IO_IN : HVLAB_IO_OUT;
	run->io.size = size;
	run->io.port = port;
	run->io.count = 1;
	run->io.data_offset = HVLAB_RUN_IO_DATA_OFFSET;
	if (in) {
		memset(data, 0, size);
		vcpu->pending.kind = HVLAB_EXIT_IO;
		vcpu->pending.size = size;
		vcpu->pending.next_rip = next_rip;
	} else {
		memcpy(data, &vcpu->regs.rax, size);
		vcpu->regs.rip = next_rip;
	}
	return 0;
}

/*
 * An MSR the backend does not handle: #GP as on a CPU without it, or ask
 * userspace (HVLAB_SET_MSR_POLICY).  Returns 1 (re-enter) or 0 (exit).
 */
int hv_exit_msr(struct hv_vcpu *vcpu, u32 index, bool write, u64 data, u64 next_rip)
{
	if (vcpu->msr_policy != HVLAB_MSR_UNKNOWN_USERSPACE) {
		hv_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return 1;
	}
	return hv_exit_msr_user(vcpu, index, write, data, next_rip);
}

/* RDMSR/WRMSR for userspace: by policy, or routed there (HVLAB_ROUTE_MSR). */
int hv_exit_msr_user(struct hv_vcpu *vcpu, u32 index, bool write, u64 data, u64 next_rip)
{
	struct hvlab_run *run = vcpu->run;

	run->exit_reason = HVLAB_EXIT_MSR;
	run->msr.index = index;
	run->msr.is_write = write;
	run->msr.error = 0;
	run->msr.data = write ? data : 0;
	vcpu->pending.kind = HVLAB_EXIT_MSR;
	vcpu->pending.next_rip = next_rip;
	return 0;
}

void hv_exit_internal(struct hv_vcpu *vcpu, u32 suberror, unsigned int ndata, const u64 *data)
{
	struct hvlab_run *run = vcpu->run;

	ndata = min_t(unsigned int, ndata, ARRAY_SIZE(run->internal.data));
	run->exit_reason = HVLAB_EXIT_INTERNAL;
	run->internal.suberror = suberror;
	run->internal.ndata = ndata;
	memcpy(run->internal.data, data, ndata * sizeof(*data));
}

/*
 * Finish the instruction userspace answered: an IN writes AL/AX/EAX
 * (a 32-bit IN zero-extends into RAX, 8/16-bit ones keep the rest;
 * SDM Vol. 1 3.4.1.1) and RIP moves past it.  Returns 0, 1 when the
 * completion put a new exit in the run page (the write of an MMIO
 * read-modify-write), or -errno.
 *
 * A completion that fails (-EFAULT: INS or MMIO MOVS could not store
 * to guest memory, e.g. the VMM unmapped the page) changes no register
 * and stays pending: the next RUN tries again with the same answer (INS
 * elements stored before the failure are stored again, same bytes).  The
 * device model has already performed the access; dropping the answer
 * would let the guest execute the instruction again and the device
 * see it twice.  KVM keeps such work in vcpu->arch.complete_userspace_io
 * and vcpu->mmio_needed; unlike KVM, which clears the callback before
 * calling it, hvlab clears the pending state only once it succeeded.
 */
static int hv_complete_pending(struct hv_vcpu *vcpu)
{
	const u8 *data = (const u8 *)vcpu->run + HVLAB_RUN_IO_DATA_OFFSET;
	int err = 0;

	switch (vcpu->pending.kind) {
	case HVLAB_EXIT_IO: {
		u32 val = 0;

		if (vcpu->pending.string) {
			err = hv_complete_string_in(vcpu);
			break;
		}

		memcpy(&val, data, vcpu->pending.size);
		hv_set_in_data(vcpu, val, vcpu->pending.size);
		vcpu->regs.rip = vcpu->pending.next_rip;
		break;
	}
	case HVLAB_EXIT_CPUID:
		/* Routed to userspace: the guest gets what userspace left there. */
		vcpu->regs.rax = vcpu->run->cpuid.eax;
		vcpu->regs.rbx = vcpu->run->cpuid.ebx;
		vcpu->regs.rcx = vcpu->run->cpuid.ecx;
		vcpu->regs.rdx = vcpu->run->cpuid.edx;
		vcpu->regs.rip = vcpu->pending.next_rip;
		break;
	case HVLAB_EXIT_MMIO:
		err = hv_complete_mmio(vcpu);
		break;
	case HVLAB_EXIT_MSR:
		/* Userspace said: fault, or here is the value / the write is done. */
		if (vcpu->run->msr.error) {
			hv_queue_exception(vcpu, X86_TRAP_GP, true, 0);
			break;
		}
		if (!vcpu->run->msr.is_write) {
			vcpu->regs.rax = (u32)vcpu->run->msr.data;
			vcpu->regs.rdx = vcpu->run->msr.data >> 32;
		}
		vcpu->regs.rip = vcpu->pending.next_rip;
		break;
	default:
		break;
	}
	if (err < 0)
		return err;
	vcpu->pending.kind = 0;
	vcpu->pending.string = false;
	return err;
}

int hv_vcpu_run(struct hv_vcpu *vcpu)
{
	struct hvlab_run *run = vcpu->run;
	int ret, err;

	/* Guest RAM is the creator's memory: only its threads may run it. */
	if (current->mm != vcpu->vm->mm)
		return hv_reject(-EIO, "RUN from a process that did not create the VM");

	hv_tele_run_begin(vcpu);
	ret = hv_complete_pending(vcpu);
	if (ret > 0) {
		/* The write of an MMIO read-modify-write: userspace's turn. */
		hv_tele_run_end(vcpu);
		return 0;
	}
	if (ret)
		return ret;
	run->exit_reason = HVLAB_EXIT_NONE;
	if (READ_ONCE(run->immediate_exit))
		return -EINTR;

	if (vcpu->state_dirty) {
		/* Only SET_SREGS and reset set it, both with fresh sregs: no-op sync. */
		ret = hv_sync_sregs(vcpu) ?: hv_ops->vcpu_load_state(vcpu);
		if (ret)
			return ret;
		vcpu->state_dirty = false;
	}

	/* The guest's FPU state in, the task's aside (fpu.c: for the RUN, or per entry on 7.x). */
	hv_fpu_run_begin(vcpu);
	if (hv_ops->vcpu_run_begin)
		hv_ops->vcpu_run_begin(vcpu);
	for (;;) {
		/*
		 * Reschedule first, then look for signals: a thread that ran
		 * during cond_resched() may have signalled us, and on this CPU
		 * nothing else would kick the guest out before its next exit
		 * (a timer tick later).  A signal from another CPU while the
		 * guest runs is an IPI, which makes the guest exit at once.
		 */
		cond_resched();
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		/* APIC VMs: INIT, SIPI, and the sleep of a halted vCPU. */
		if (vcpu->lapic) {
			ret = hv_lapic_run_events(vcpu);
			if (ret)
				break;
			if (vcpu->state_dirty) {	/* INIT or SIPI wrote sregs */
				ret = hv_ops->vcpu_load_state(vcpu);
				if (ret)
					break;
				vcpu->state_dirty = false;
			}
		}
		/* RIP moved past an instruction finished for the guest: TF trap? */
		hv_step_check(vcpu);
		vcpu->sregs_stale = true;
		ret = hv_ops->vcpu_enter(vcpu);
		if (ret <= 0)
			break;
	}
	if (hv_ops->vcpu_run_end)
		hv_ops->vcpu_run_end(vcpu);
	hv_fpu_run_end(vcpu);
	/* sregs: when asked for.  If a signal stops this, int_shadow stays as it was. */
	if (hv_ops->vcpu_save_int_shadow)
		err = hv_ops->vcpu_save_int_shadow(vcpu);
	else
		err = hv_sync_sregs(vcpu);
	if (err && !ret)
		ret = err;
	hv_tele_run_end(vcpu);

	/* For device models: could an interrupt be delivered right now? */
	run->if_flag = !!(vcpu->regs.rflags & X86_EFLAGS_IF);
	run->ready_for_interrupt = run->if_flag && !vcpu->int_shadow && !vcpu->events.irq_pending;
	return ret;
}
