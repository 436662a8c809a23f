// SPDX-License-Identifier: GPL-2.0
/*
 * debugreg.c - MOV to and from DR0-DR7, emulated for both vendors.
 *
 * Both backends intercept every MOV DR (SVM: the DR read/write
 * intercepts, APM Vol. 2 15.9; VMX: "MOV-DR exiting", SDM Vol. 3C 25.6.2)
 * so that the guest works on its own debug registers: DR0-3 in
 * hv_vcpu.db, DR6/DR7 wherever the backend keeps them.  Hardware DR0-3
 * hold the guest's values only while its DR7 enables a breakpoint
 * (hv_db_guest_in/out in hv.h); otherwise they keep the host's.
 *
 * The instruction's rules are those of SDM Vol. 2B "MOV - Move to/from
 * Debug Registers" and Vol. 3B 18.2: a VMX MOV-DR exit takes priority
 * over the #GP for CPL > 0 and the #UD for DR4/DR5 (SDM Vol. 3C 26.1.3),
 * so they are checked here, in the manual's order.
 */
#include <linux/nospec.h>

#include <asm/processor-flags.h>
#include <asm/traps.h>

#include "hv.h"

/* CPL: 0 in real mode, 3 in virtual-8086 mode, else SS.DPL (SDM Vol. 3A 5.5). */
static unsigned int hv_cpl(const struct hv_vcpu *vcpu)
{
	if (!(vcpu->sregs.cr0 & X86_CR0_PE))
		return 0;
	if (vcpu->regs.rflags & X86_EFLAGS_VM)
		return 3;
	return vcpu->sregs.ss.dpl;
}

/*
 * MOV DR@dr, GPR@gpr (@write) or MOV GPR@gpr, DR@dr: checks, then the
 * access, then RIP to @next_rip.  A fault is queued for the guest with
 * RIP left at the instruction.  1: the guest goes on; -errno (-EINTR)
 * when the guest state could not be read.
 */
int hv_exit_mov_dr(struct hv_vcpu *vcpu, unsigned int dr, bool write, unsigned int gpr,
		   u64 next_rip)
{
	u64 *reg = hv_gpr(&vcpu->regs, gpr);
	u64 dr7, val;
	bool long64;
	int err;

	err = hv_sync_sregs(vcpu);	/* CR0, CR4, SS, CS, EFER */
	if (err)
		return err;
	if (hv_cpl(vcpu) != 0)
		goto gp;
	/* DR8-DR15 do not exist; DR4/DR5 are DR6/DR7 unless CR4.DE (18.2.2). */
	if (dr > 7 || !reg)
		goto ud;
	if (dr == 4 || dr == 5) {
		if (vcpu->sregs.cr4 & X86_CR4_DE)
			goto ud;
		dr += 2;
	}
	/*
	 * General detect (18.2.4): with DR7.GD set, any MOV DR is a fault-like
	 * #DB with DR6.BD set; the CPU clears GD on entering the handler.
	 */
	dr7 = hv_ops->get_dr(vcpu, 7);
	if (dr7 & HV_DR7_GD) {
		hv_ops->set_dr(vcpu, 6, hv_ops->get_dr(vcpu, 6) | HV_DR6_BD);
		hv_ops->set_dr(vcpu, 7, dr7 & ~HV_DR7_GD);
		hv_queue_exception(vcpu, X86_TRAP_DB, false, 0);
		return 1;
	}

	/* 64 bits wide in 64-bit mode, else 32 whatever the operand size. */
	long64 = hv_cpu_mode(&vcpu->sregs, vcpu->regs.rflags) == HV_MODE_LONG64;
	if (write) {
		val = long64 ? *reg : (u32)*reg;
		if (dr < 4) {
			vcpu->db[array_index_nospec(dr, 4)] = val;
		} else {
			/* #GP(0) for a 1 in bits 63:32 of DR6/DR7. */
			if (val >> 32)
				goto gp;
			if (dr == 6)
				val = (val & HV_DR6_VALID) | HV_DR6_RESET;
			else
				val = (val & HV_DR7_VALID) | HV_DR7_RESET;
			hv_ops->set_dr(vcpu, dr, val);
		}
	} else {
		val = dr < 4 ? vcpu->db[array_index_nospec(dr, 4)] : hv_ops->get_dr(vcpu, dr);
		*reg = long64 ? val : (u32)val;
	}
	vcpu->regs.rip = next_rip;
	return 1;

gp:
	hv_queue_exception(vcpu, X86_TRAP_GP, true, 0);
	return 1;
ud:
	hv_queue_exception(vcpu, X86_TRAP_UD, false, 0);
	return 1;
}

/*
 * hvlab finished an instruction for the guest: an exit skipped or
 * emulated it (CPUID, IN/OUT, RDMSR/WRMSR, MOV DR/CR, VMCALL/VMMCALL,
 * HLT, MMIO...), at once or after userspace answered.  On the CPU an
 * instruction that begins with RFLAGS.TF=1 ends in a single-step trap,
 * #DB with DR6.BS and RIP after the instruction (SDM Vol. 3B 18.3.1.4;
 * APM Vol. 2 13.1.1.5); the exit took the instruction from the CPU, so
 * the trap is queued here.  This is KVM's kvm_skip_emulated_instruction()
 * -> kvm_vcpu_do_singlestep(); DR6 gets what KVM's
 * kvm_deliver_exception_payload() gives it: B0-B3 cleared ("certain
 * debug exceptions may clear bits 0-3", SDM 18.2.3) and BS set.
 *
 * Called by the RUN loop before every entry (hv_vcpu_run): the one place
 * both vendors pass after any handler or completion moved RIP, so no
 * exit handler needs to know about TF.  Differences from the CPU that
 * remain: an instruction right after MOV SS traps here at once, where
 * the CPU would hold the trap one more instruction (SDM 6.8.3); a REP
 * INS/OUTS that hvlab runs a page of elements at a time traps once it is
 * done; and an exception already queued (not a #DB) wins, the trap is
 * dropped.
 */
void hv_step_done(struct hv_vcpu *vcpu)
{
	vcpu->insn_rip = vcpu->regs.rip;
	if (likely(!(vcpu->regs.rflags & X86_EFLAGS_TF)))
		return;
	if (vcpu->events.exc_pending && vcpu->events.exc_vector != X86_TRAP_DB)
		return;
	hv_ops->set_dr(vcpu, 6, (hv_ops->get_dr(vcpu, 6) & ~0xfULL) | HV_DR6_BS);
	hv_queue_exception(vcpu, X86_TRAP_DB, false, 0);
}
