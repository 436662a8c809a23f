// SPDX-License-Identifier: GPL-2.0
/*
 * mem.c - reading and writing guest memory from exit handlers, by
 * guest-physical or guest-linear address, and the MMIO exit built on them.
 *
 * Guest RAM is the VM creator's userspace memory, and handlers run in the
 * vCPU thread of that process, so plain copy_{from,to}_user reach it and a
 * bad mapping is a clean -EFAULT.  vm->lock keeps the slots still.
 *
 * Every access by linear address is one the guest's CPU would make, and
 * is checked as it would be: segmentation (hv_linearize), then paging
 * with the access rights of the CPL (mmu/walk.c); a refusal becomes the
 * guest's #GP, #SS or #PF and nothing is touched.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/uaccess.h>
#include <asm/processor-flags.h>
#include <asm/trap_pf.h>
#include <asm/traps.h>

#include "hv.h"
#include "decode.h"

static int hv_access_gpa(struct hv_vm *vm, u64 gpa, void *buf, unsigned int len, bool write)
{
	struct hv_slot *slot;
	unsigned long left;
	void __user *uptr;

	mutex_lock(&vm->lock);
	slot = hv_gpa_to_slot(vm, gpa);
	if (!slot || len > slot->size - (gpa - slot->gpa) ||
	    (write && (slot->flags & HVLAB_MEM_READONLY))) {
		mutex_unlock(&vm->lock);
		return -EFAULT;
	}
	uptr = (void __user *)(unsigned long)(slot->uaddr + (gpa - slot->gpa));
	left = write ? copy_to_user(uptr, buf, len) : copy_from_user(buf, uptr, len);
	mutex_unlock(&vm->lock);
	return left ? -EFAULT : 0;
}

int hv_read_gpa(struct hv_vm *vm, u64 gpa, void *buf, unsigned int len)
{
	return hv_access_gpa(vm, gpa, buf, len, false);
}

int hv_write_gpa(struct hv_vm *vm, u64 gpa, const void *buf, unsigned int len)
{
	return hv_access_gpa(vm, gpa, (void *)buf, len, true);
}

/* The walker's access path: guest-physical reads, as exit handlers do them. */
static int hv_walk_read_gpa(void *ctx, u64 gpa, void *buf, unsigned int len)
{
	return hv_read_gpa(ctx, gpa, buf, len);
}

/*
 * The walker's accessed/dirty update: compare-and-exchange on the guest's
 * entry through the VMM's mapping of it, so a concurrent change by one of
 * the guest's CPUs is never overwritten (KVM's FNAME(cmpxchg_gpte) does
 * the same with __try_cmpxchg_user).  An entry in a read-only slot is
 * left alone: the CPU's write would be an MMIO access there, which hvlab
 * does not emulate for page-table entries.
 */
static int hv_walk_update_gpa(void *ctx, u64 gpa, u64 old, u64 new, unsigned int size)
{
	struct hv_vm *vm = ctx;
	struct hv_slot *slot;
	unsigned long uaddr;
	int ret;

	mutex_lock(&vm->lock);
	slot = hv_gpa_to_slot(vm, gpa);
	if (!slot || size > slot->size - (gpa - slot->gpa)) {
		ret = -EFAULT;
		goto unlock;
	}
	ret = 0;
	if (slot->flags & HVLAB_MEM_READONLY)
		goto unlock;
	uaddr = slot->uaddr + (gpa - slot->gpa);
	ret = -EFAULT;
	if (!access_ok((void __user *)uaddr, size))
		goto unlock;
	if (size == 4) {
		u32 o = old;

		ret = __try_cmpxchg_user((u32 __user *)uaddr, &o, (u32)new, efault32);
	} else {
		u64 o = old;

		ret = __try_cmpxchg_user((u64 __user *)uaddr, &o, new, efault64);
	}
	if (ret > 0)
		ret = -EAGAIN;		/* the entry changed: walk again */
unlock:
	mutex_unlock(&vm->lock);
	return ret;
}

/* CPL: 0 in real mode, 3 in virtual-8086 mode, else SS.DPL (SDM Vol. 3A 5.5). */
static unsigned int hv_mem_cpl(const struct hv_vcpu *vcpu)
{
	if (!(vcpu->sregs.cr0 & X86_CR0_PE))
		return 0;
	if (vcpu->regs.rflags & X86_EFLAGS_VM)
		return 3;
	return vcpu->sregs.ss.dpl;
}

/* An access hvlab makes for the guest is not allowed: the exception the CPU would raise. */
#define HV_EMUL_FAULT	1
struct hv_mem_fault {
	u8 vector;		/* X86_TRAP_PF, _GP or _SS */
	u32 err;
	u64 cr2;		/* #PF only */
};

/* Queue @f for the guest; the instruction does not complete. */
static void hv_mem_raise(struct hv_vcpu *vcpu, const struct hv_mem_fault *f)
{
	if (f->vector == X86_TRAP_PF)
		hv_queue_page_fault(vcpu, f->cr2, f->err);
	else
		hv_queue_exception(vcpu, f->vector, true, f->err);
}

/*
 * Guest-linear to guest-physical for an access of kind @access (mmu/mmu.h:
 * X86_PF_WRITE, X86_PF_INSTR, HV_WALK_*), by the vCPU's current paging
 * and CPL, setting accessed/dirty bits unless HV_WALK_PROBE.  0,
 * HV_EMUL_FAULT with @f, or -errno (a paging structure outside RAM).
 * @sregs must be current (hv_sync_sregs).
 */
static int hv_translate(struct hv_vcpu *vcpu, u64 gva, u32 access, u64 *gpa,
			struct hv_mem_fault *f)
{
	struct hv_walk w = {
		.cr0 = vcpu->sregs.cr0,
		.cr3 = vcpu->sregs.cr3,
		.cr4 = vcpu->sregs.cr4,
		.efer = vcpu->sregs.efer,
		.rflags = vcpu->regs.rflags,
		.pkru = vcpu->pkru,
		.cpl = hv_mem_cpl(vcpu),
		.read = hv_walk_read_gpa,
		.update = hv_walk_update_gpa,
		.ctx = vcpu->vm,
		/*
		 * The nested walk is the host CPU's: bit 8 of non-leaf
		 * PML4Es/PDPEs is reserved by AMD's, whatever vendor the
		 * guest's CPUID names (KVM goes by the guest's CPUID).
		 */
		.amd = hv_ops->vendor == HVLAB_VENDOR_AMD,
	};
	int ret;

	hv_cpuid_paging(vcpu, &w.maxphyaddr, &w.gbpages, &w.pse36);
	ret = hv_walk_gva(&w, gva, access, gpa, &f->err);

	if (ret == HV_WALK_FAULT) {
		f->vector = X86_TRAP_PF;
		f->cr2 = gva;
		return HV_EMUL_FAULT;
	}
	return ret;
}

/*
 * @len bytes at @gva (at most a page, so at most two pages): both pages
 * are translated, checked and marked before any byte moves, so a fault
 * on the second page leaves the first untouched.  HV_WALK_PROBE in
 * @access only checks.  0, HV_EMUL_FAULT with @f, or -errno.
 */
static int hv_access_linear(struct hv_vcpu *vcpu, u64 gva, void *buf, unsigned int len,
			    u32 access, struct hv_mem_fault *f)
{
	bool write = access & X86_PF_WRITE;
	unsigned int first, i;
	u64 gpa[2];
	int err;

	if (WARN_ON_ONCE(len > PAGE_SIZE))
		return -EINVAL;
	first = min_t(u64, len, PAGE_SIZE - (gva & ~PAGE_MASK));
	err = hv_translate(vcpu, gva, access, &gpa[0], f);
	if (!err && first < len)
		err = hv_translate(vcpu, gva + first, access, &gpa[1], f);
	if (err || (access & HV_WALK_PROBE))
		return err;
	for (i = 0; i < 2 && len; i++) {
		unsigned int chunk = i ? len : first;

		err = write ? hv_write_gpa(vcpu->vm, gpa[i], buf, chunk)
			    : hv_read_gpa(vcpu->vm, gpa[i], buf, chunk);
		if (err)
			return err;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

static const struct hvlab_segment *hv_mem_seg(const struct hvlab_sregs *sr, unsigned int seg)
{
	switch (seg) {
	case HV_SEG_ES: return &sr->es;
	case HV_SEG_CS: return &sr->cs;
	case HV_SEG_SS: return &sr->ss;
	case HV_SEG_FS: return &sr->fs;
	case HV_SEG_GS: return &sr->gs;
	default:	return &sr->ds;
	}
}

/*
 * Segment @seg, offset @ea (already wrapped at the address size), @size
 * bytes: the linear address, after the checks the CPU makes before any
 * paging (KVM's __linearize() in emulate.c, in the same order):
 * - 64-bit mode: no limits or types; only FS and GS have a base, the
 *   others count as 0 (SDM Vol. 3A 3.4.4, APM Vol. 2 4.5.3); first and
 *   last byte canonical (SDM Vol. 1 3.3.7.1), else #SS(0) for SS, #GP(0)
 *   for the others (SDM Vol. 3A 6.15, Interrupts 12 and 13).
 * - protected and compatibility mode: the segment must be usable, a
 *   write needs a writable data segment, a read a data or readable code
 *   segment (SDM Vol. 3A 5.4.1); every byte within the limit, expand-down
 *   segments counted from limit + 1 to 64 KiB or 4 GiB by D/B (5.3).
 * - real and virtual-8086 mode: the limit of the cached segment, no types.
 */
static int hv_linearize(struct hv_vcpu *vcpu, enum hv_cpu_mode mode, unsigned int seg,
			u64 ea, unsigned int size, u32 access, u64 *linear,
			struct hv_mem_fault *f)
{
	const struct hvlab_segment *s = hv_mem_seg(&vcpu->sregs, seg);
	bool write = access & X86_PF_WRITE;
	u64 last = ea + size - 1;

	f->vector = seg == HV_SEG_SS ? X86_TRAP_SS : X86_TRAP_GP;
	f->err = 0;
	if (mode == HV_MODE_LONG64) {
		u64 la = ea + (seg == HV_SEG_FS || seg == HV_SEG_GS ? s->base : 0);

		if (!hv_canonical(la) || !hv_canonical(la + size - 1))
			return HV_EMUL_FAULT;
		*linear = la;
		return 0;
	}
	if (mode != HV_MODE_REAL) {
		bool code = s->type & 8, rw = s->type & 2;

		if (s->unusable || !s->present)
			return HV_EMUL_FAULT;
		if (write ? code || !rw : code && !rw && !(access & X86_PF_INSTR))
			return HV_EMUL_FAULT;
	}
	if (!(s->type & 8) && (s->type & 4)) {
		/* Expand-down: valid offsets are limit + 1 .. 0xffff or 0xffffffff. */
		if (ea <= s->limit || last > (s->db ? 0xffffffffull : 0xffffull))
			return HV_EMUL_FAULT;
	} else if (last > s->limit) {
		return HV_EMUL_FAULT;
	}
	*linear = (u32)(s->base + ea);
	return 0;
}

/* The whole access: segment checks, then paging, then the bytes.  As hv_access_linear. */
static int hv_emul_access(struct hv_vcpu *vcpu, enum hv_cpu_mode mode, unsigned int seg,
			  u64 ea, void *buf, unsigned int size, u32 access,
			  struct hv_mem_fault *f)
{
	u64 linear;
	int err = hv_linearize(vcpu, mode, seg, ea, size, access, &linear, f);

	return err ?: hv_access_linear(vcpu, linear, buf, size, access, f);
}

/*
 * The bytes at CS:RIP, and why there are not more: up to 15, stopping at
 * the CS limit (16- and 32-bit modes, SDM Vol. 3A 5.3), a non-canonical
 * address (64-bit mode) or a page the guest may not fetch from (present,
 * U/S by CPL, SMEP, XD: SDM Vol. 3A 4.6).  Whether that stop is a fault
 * depends on the instruction's length: only bytes it needs raise one,
 * so the caller decodes first and raises @fault only on -ENODATA.
 */
struct hv_fetch {
	enum hv_cpu_mode mode;
	u8 bytes[HV_INSN_MAX_LEN];
	int n;			/* bytes fetched */
	int stop;		/* 0 (15 bytes), HV_EMUL_FAULT (@fault), or -errno */
	struct hv_mem_fault fault;
};

static void hv_fetch_insn(struct hv_vcpu *vcpu, struct hv_fetch *f)
{
	const struct hvlab_segment *cs = &vcpu->sregs.cs;
	bool ip16 = f->mode == HV_MODE_REAL || f->mode == HV_MODE_PROT16;
	u64 ip = vcpu->regs.rip;
	unsigned int n = 0;

	if (ip16)
		ip &= 0xffff;		/* IP wraps at 64 KiB */
	else if (f->mode != HV_MODE_LONG64)
		ip = (u32)ip;
	f->stop = 0;
	while (n < HV_INSN_MAX_LEN) {
		u64 off = ip + n, linear, gpa;
		unsigned int chunk = HV_INSN_MAX_LEN - n;
		int err;

		if (ip16)
			off &= 0xffff;
		if (f->mode == HV_MODE_LONG64) {
			linear = off;
			if (!hv_canonical(linear)) {
				f->fault = (struct hv_mem_fault){ .vector = X86_TRAP_GP };
				f->stop = HV_EMUL_FAULT;
				break;
			}
		} else {
			if (off > cs->limit) {
				f->fault = (struct hv_mem_fault){ .vector = X86_TRAP_GP };
				f->stop = HV_EMUL_FAULT;
				break;
			}
			chunk = min_t(u64, chunk, cs->limit - off + 1);
			if (ip16)
				chunk = min_t(u64, chunk, 0x10000 - off);
			linear = (u32)(cs->base + off);
		}
		chunk = min_t(u64, chunk, PAGE_SIZE - (linear & ~PAGE_MASK));
		err = hv_translate(vcpu, linear, X86_PF_INSTR, &gpa, &f->fault) ?:
		      hv_read_gpa(vcpu->vm, gpa, f->bytes + n, chunk);
		if (err) {
			f->stop = err;
			break;
		}
		n += chunk;
	}
	f->n = n;
}

/*
 * What every decoding exit starts with: the guest's mode from its current
 * state, then the bytes at CS:RIP, then the decoder (hv_decode_mmio with
 * @mmio).  0 and @insn; HV_EMUL_FAULT: the bytes the instruction needs
 * cannot be fetched, and the fault is queued for the guest (an
 * instruction that runs into a page it may not fetch from, or no page:
 * #PF with I/D and CR2 at that page's first byte); else -errno, of
 * reading the state back (-EINTR, @f->n is -1 then), of the decoder, or
 * of a fetch outside guest RAM.
 */
static int hv_fetch_decode(struct hv_vcpu *vcpu, struct hv_fetch *f, struct hv_insn *insn,
			   bool mmio)
{
	int err = hv_sync_sregs(vcpu);	/* mode, segments, CR0/CR3/CR4, EFER */

	f->n = -1;
	if (err)
		return err;
	f->mode = hv_cpu_mode(&vcpu->sregs, vcpu->regs.rflags);
	hv_fetch_insn(vcpu, f);
	err = -ENODATA;
	if (f->n)
		err = mmio ? hv_decode_mmio(f->bytes, f->n, f->mode, insn)
			   : hv_decode(f->bytes, f->n, f->mode, insn);
	if (err == -ENODATA && f->stop) {
		if (f->stop == HV_EMUL_FAULT)
			hv_mem_raise(vcpu, &f->fault);
		return f->stop;
	}
	return err;
}

/*
 * Fetch and decode the instruction at CS:RIP, for exits that describe
 * their instruction less than the handler needs (SVM without decode
 * assists).  0, 1 when the fetch faulted (queued), or -errno.
 */
int hv_decode_at_rip(struct hv_vcpu *vcpu, struct hv_insn *insn)
{
	struct hv_fetch f;

	return hv_fetch_decode(vcpu, &f, insn, false);
}

static void hv_exit_unsupported(struct hv_vcpu *vcpu, u64 gpa, const u8 *bytes, int n)
{
	u64 data[3] = { gpa, 0, 0 };

	if (n > 0)
		memcpy(&data[1], bytes, min(n, 16));
	hv_exit_internal(vcpu, HVLAB_INTERNAL_UNSUPPORTED, 3, data);
}

/* Report the write of a read-modify-write instruction to userspace. */
static void hv_mmio_rmw_write(struct hv_vcpu *vcpu, u64 gpa, unsigned int size, u64 data)
{
	struct hvlab_run *run = vcpu->run;

	run->exit_reason = HVLAB_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = size;
	run->mmio.is_write = 1;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	memcpy(run->mmio.data, &data, size);
}

/*
 * The instruction at RIP is not what the exit reported (another vCPU
 * rewrote it, or its page tables, after the exit): do not emulate it.
 * The first time, enter the guest again without touching RIP, so that
 * the CPU executes whatever is there now and exits again if it needs
 * to; the same mismatch at the same RIP twice in a row is an internal
 * error, so that hvlab cannot loop on a disagreement of its own.  This
 * is KVM's answer to an instruction it cannot emulate after a fault
 * (retry_instruction()/reexecute_instruction() in x86.c, one retry per
 * RIP and address); KVM's emulator would instead emulate the new
 * instruction in full, which hvlab's MMIO-only emulation cannot.
 * 1 (re-enter) or 0 (run page filled).
 */
#define HV_RETRY_VALID	BIT_ULL(63)
static int hv_emul_mismatch(struct hv_vcpu *vcpu, u64 addr, const struct hv_fetch *f)
{
	addr |= HV_RETRY_VALID;
	if (vcpu->retry_rip != vcpu->regs.rip || vcpu->retry_addr != addr) {
		vcpu->retry_rip = vcpu->regs.rip;
		vcpu->retry_addr = addr;
		return 1;
	}
	vcpu->retry_addr = 0;
	hv_exit_unsupported(vcpu, addr & ~HV_RETRY_VALID, f->bytes, f->n);
	return 0;
}

/*
 * Does the memory operand of @insn, the one the MMIO access is made
 * through, translate to @gpa's page (or, for an access that crosses a
 * page, have its last byte there)?  The operand's own checks run first:
 * a segment or paging fault the instruction would raise now is raised
 * (HV_EMUL_FAULT, queued).  0 yes, 1 no, -errno.
 */
static int hv_mmio_operand_is(struct hv_vcpu *vcpu, const struct hv_insn *insn, u64 gpa,
			      bool write_fault, enum hv_cpu_mode mode)
{
	const struct hvlab_regs *regs = &vcpu->regs;
	unsigned int seg = insn->seg;
	u32 access = insn->is_write ? X86_PF_WRITE : 0;
	struct hv_mem_fault f;
	u64 ea, linear, at;
	int err;

	if (insn->kind == HV_INSN_MOVS) {
		/* The MMIO side: the destination ES:rDI for a write, else the source. */
		ea = hv_insn_ea(insn, regs);
		if (write_fault) {
			seg = HV_SEG_ES;
			ea = hv_gpr_read(regs, HV_GPR_RDI, insn->addr_size, false);
			access = X86_PF_WRITE;
		}
	} else {
		ea = hv_insn_ea(insn, regs);
	}
	err = hv_linearize(vcpu, mode, seg, ea, insn->size, access, &linear, &f) ?:
	      hv_translate(vcpu, linear, access, &at, &f);
	if (!err && (at >> PAGE_SHIFT) != (gpa >> PAGE_SHIFT) &&
	    ((linear ^ (linear + insn->size - 1)) >> PAGE_SHIFT))
		err = hv_translate(vcpu, linear + insn->size - 1, access, &at, &f);
	if (err == HV_EMUL_FAULT)
		hv_mem_raise(vcpu, &f);
	if (err)
		return err;
	return (at >> PAGE_SHIFT) != (gpa >> PAGE_SHIFT);
}

/*
 * An access to @gpa that no RAM backs (or a write to a read-only slot).
 * Decode the instruction from guest memory, since the hardware here does
 * not describe it, and report one access of insn.size bytes.  Stores are
 * finished now; loads wait in vcpu->pending for userspace's value.  REP
 * string forms do one element per exit and RIP stays until rCX is 0.
 * Every guest-memory access on the way is checked as the CPU would check
 * it, and a fault goes to the guest instead of the access.
 * Read-modify-write forms (ADD to memory, XCHG, BTS...) report the read
 * here and the write when the read is answered (hv_complete_mmio), as
 * KVM's emulator does them: two exits, in the CPU's order.
 * Returns 0 (run page filled) or 1 (nothing to report, enter again).
 */
/*
 * The access is to the vCPU's xAPIC page (module/lapic.c), and passed the
 * same operand and RAM-side checks as a device access: each half of the
 * instruction is done in the kernel as userspace would have done it, a
 * read-modify-write as a read then a write of the page.  @data holds what
 * a MOVS to the page stores.  1 to re-enter, 0 when the run page holds an
 * EOI exit (or an internal error).
 */
static int hv_exit_apic_mmio(struct hv_vcpu *vcpu, u64 gpa, bool write_fault, u64 data,
			     const struct hv_fetch *fetch)
{
	struct hv_insn *insn = &vcpu->pending.insn;
	struct hvlab_regs *regs = &vcpu->regs;
	struct hv_mem_fault f;
	int err;

	if (insn->kind == HV_INSN_MOVS && write_fault) {
		/* @data is what seg:rSI held. */
	} else if (insn->is_write) {
		data = hv_insn_store_data(insn, regs);
	} else {
		hv_lapic_mmio(vcpu, gpa, false, &data, insn->size);
		if (insn->rmw) {
			hv_insn_complete_rmw(insn, regs, data, &data);
			return hv_lapic_mmio(vcpu, gpa, true, &data, insn->size) ? 0 : 1;
		}
		if (insn->kind == HV_INSN_MOVS) {
			/* ES:rDI was probed for writing above; write it now. */
			u64 dst = hv_gpr_read(regs, HV_GPR_RDI, insn->addr_size, false);

			err = hv_emul_access(vcpu, insn->mode, HV_SEG_ES, dst, &data,
					     insn->size, X86_PF_WRITE, &f);
			if (err == HV_EMUL_FAULT) {
				hv_mem_raise(vcpu, &f);
				return 1;
			}
			if (err) {
				hv_exit_unsupported(vcpu, gpa, fetch->bytes, fetch->n);
				return 0;
			}
		}
		hv_insn_complete(insn, regs, data);
		return 1;
	}
	err = hv_lapic_mmio(vcpu, gpa, true, &data, insn->size);
	hv_insn_complete(insn, regs, 0);
	return err ? 0 : 1;
}

int hv_exit_mmio(struct hv_vcpu *vcpu, u64 gpa, bool write_fault)
{
	struct hvlab_run *run = vcpu->run;
	struct hv_insn *insn = &vcpu->pending.insn;
	struct hvlab_regs *regs = &vcpu->regs;
	struct hv_mem_fault f;
	struct hv_fetch fetch;
	u64 data = 0;
	int err;

	err = hv_fetch_decode(vcpu, &fetch, insn, true);
	if (err == HV_EMUL_FAULT || err == -EINTR)
		return err == HV_EMUL_FAULT ? 1 : err;
	if (err) {
		hv_exit_unsupported(vcpu, gpa, fetch.bytes, fetch.n);
		return 0;
	}
	if (insn->rep && hv_insn_rep_count(insn, regs) == 0) {
		hv_insn_complete(insn, regs, 0);	/* no iteration: only RIP moves */
		return 1;
	}
	/* The decoded operand must be the access that exited. */
	err = hv_mmio_operand_is(vcpu, insn, gpa, write_fault, fetch.mode);
	if (err == HV_EMUL_FAULT)
		return 1;
	if (err > 0)
		return hv_emul_mismatch(vcpu, gpa, &fetch);
	if (err) {
		hv_exit_unsupported(vcpu, gpa, fetch.bytes, fetch.n);
		return 0;
	}

	if (insn->kind == HV_INSN_MOVS) {
		/*
		 * The RAM side, checked before the device sees anything:
		 * the source is read now (destination MMIO); a destination
		 * in RAM is probed for writing now and written when
		 * userspace has answered the load.
		 */
		u32 access = write_fault ? 0 : X86_PF_WRITE | HV_WALK_PROBE;
		unsigned int seg = write_fault ? insn->seg : HV_SEG_ES;
		unsigned int gpr = write_fault ? HV_GPR_RSI : HV_GPR_RDI;

		err = hv_emul_access(vcpu, fetch.mode, seg,
				     hv_gpr_read(regs, gpr, insn->addr_size, false),
				     &data, insn->size, access, &f);
		if (err == HV_EMUL_FAULT) {
			hv_mem_raise(vcpu, &f);
			return 1;
		}
		if (err) {
			hv_exit_unsupported(vcpu, gpa, fetch.bytes, fetch.n);
			return 0;
		}
	}
	vcpu->retry_addr = 0;
	if (unlikely(vcpu->lapic) && hv_lapic_mmio_hit(vcpu, gpa))
		return hv_exit_apic_mmio(vcpu, gpa, write_fault, data, &fetch);

	run->exit_reason = HVLAB_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = insn->size;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));

	if (insn->rmw && write_fault && !hv_read_gpa(vcpu->vm, gpa, &data, insn->size)) {
		/*
		 * RAM of a read-only slot (a ROM): the CPU's read of it
		 * worked and only the write faulted.  The read is of that
		 * memory, so userspace sees only the write, as for a MOV.
		 */
		hv_insn_complete_rmw(insn, regs, data, &data);
		hv_mmio_rmw_write(vcpu, gpa, insn->size, data);
		return 0;
	} else if (insn->kind == HV_INSN_MOVS && write_fault) {
		/* Destination is MMIO: @data is what seg:rSI held. */
		run->mmio.is_write = 1;
	} else if (insn->is_write) {
		data = hv_insn_store_data(insn, regs);
		run->mmio.is_write = 1;
	} else {
		run->mmio.is_write = 0;
		vcpu->pending.kind = HVLAB_EXIT_MMIO;
		vcpu->pending.size = insn->size;
		vcpu->pending.gpa = gpa;
		return 0;
	}
	memcpy(run->mmio.data, &data, insn->size);
	hv_insn_complete(insn, regs, 0);
	return 0;
}

/*
 * A load userspace answered: MOVS from MMIO also stores to ES:rDI; a
 * read-modify-write computes what it writes and reports that (return 1:
 * the run page holds the write for userspace).  The MOVS store was
 * checked before the exit; should the guest's paging have changed since,
 * its fault goes to the guest and the MOVS restarts.  -EFAULT when ES:rDI
 * has no memory behind it: nothing changed, and the caller keeps the load
 * pending so that the next RUN completes it with the same answer.
 */
int hv_complete_mmio(struct hv_vcpu *vcpu)
{
	struct hv_insn *insn = &vcpu->pending.insn;
	struct hv_mem_fault f;
	u64 data = 0;
	int err;

	memcpy(&data, vcpu->run->mmio.data, insn->size);
	if (insn->rmw) {
		hv_insn_complete_rmw(insn, &vcpu->regs, data, &data);
		hv_mmio_rmw_write(vcpu, vcpu->pending.gpa, insn->size, data);
		return 1;
	}
	if (insn->kind == HV_INSN_MOVS) {
		u64 dst = hv_gpr_read(&vcpu->regs, HV_GPR_RDI, insn->addr_size, false);

		err = hv_emul_access(vcpu, insn->mode, HV_SEG_ES, dst, &data, insn->size,
				     X86_PF_WRITE, &f);
		if (err == HV_EMUL_FAULT) {
			hv_mem_raise(vcpu, &f);
			return 0;
		}
		if (err)
			return -EFAULT;
	}
	hv_insn_complete(insn, &vcpu->regs, data);
	return 0;
}

/* DF=1: string instructions walk down (SDM Vol. 1 3.4.3.2). */
static s64 hv_string_step(const struct hv_vcpu *vcpu, unsigned int size)
{
	return (vcpu->regs.rflags & X86_EFLAGS_DF) ? -(s64)size : size;
}

/* Offset of element @i from @start, wrapped at the address size. */
static u64 hv_string_offset(const struct hv_vcpu *vcpu, const struct hv_insn *insn,
			    u64 start, u32 i)
{
	u64 off = start + i * hv_string_step(vcpu, insn->size);

	return insn->addr_size == 8 ? off : off & (BIT_ULL(insn->addr_size * 8) - 1);
}

/*
 * Advance rSI/rDI by @n elements and rCX by -@n (REP), at the address
 * size, and move RIP on once the count is done.  Register writes follow
 * x86 rules: a 32-bit address size zero-extends, 16-bit keeps the rest.
 */
static void hv_string_advance(struct hv_vcpu *vcpu, const struct hv_insn *insn,
			      unsigned int gpr, u32 n, u64 next_rip)
{
	struct hvlab_regs *r = &vcpu->regs;
	u64 idx = hv_gpr_read(r, gpr, insn->addr_size, false);

	hv_gpr_write(r, gpr, insn->addr_size, false, idx + n * hv_string_step(vcpu, insn->size));
	if (insn->rep) {
		u64 cx = hv_gpr_read(r, HV_GPR_RCX, insn->addr_size, false) - n;

		hv_gpr_write(r, HV_GPR_RCX, insn->addr_size, false, cx);
		if (cx)
			return;		/* RIP stays: the rest runs on the next entry */
	}
	r->rip = next_rip;
}

/*
 * INS/OUTS (with REP): as many elements per exit as fit in the run page's
 * data area, copied between it and guest memory here, so userspace sees
 * one port access of @count items.  The hardware tells port, size and
 * direction; the decoder tells the segment override, address size and
 * REP, and must agree with the hardware (else hv_emul_mismatch).  Each
 * element's memory is checked before the port is touched: a fault on
 * the first one goes to the guest with no port access, a fault further
 * on ends this exit's elements before it, and the next round faults.
 */
int hv_exit_string_io(struct hv_vcpu *vcpu, bool in, u16 port, u8 size, u64 next_rip)
{
	struct hvlab_run *run = vcpu->run;
	struct hv_insn *insn = &vcpu->pending.insn;
	u8 *data = (u8 *)run + HVLAB_RUN_IO_DATA_OFFSET;
	struct hv_mem_fault f;
	struct hv_fetch fetch;
	u64 count, addr;
	u32 n, i;
	int err;

	err = hv_fetch_decode(vcpu, &fetch, insn, false);
	if (err == HV_EMUL_FAULT || err == -EINTR)
		return err == HV_EMUL_FAULT ? 1 : err;
	if (err == -EFAULT) {
		hv_exit_unsupported(vcpu, port, fetch.bytes, fetch.n);
		return 0;
	}
	/* INS/OUTS take the port from DX (SDM Vol. 2A INS, Vol. 2B OUTS). */
	if (err || insn->kind != (in ? HV_INSN_INS : HV_INSN_OUTS) || insn->size != size ||
	    (u16)vcpu->regs.rdx != port)
		return hv_emul_mismatch(vcpu, BIT_ULL(32) | port, &fetch);
	vcpu->retry_addr = 0;
	count = insn->rep ? hv_insn_rep_count(insn, &vcpu->regs) : 1;
	if (!count) {
		vcpu->regs.rip = next_rip;
		return 1;
	}
	n = min_t(u64, count, (PAGE_SIZE - HVLAB_RUN_IO_DATA_OFFSET) / insn->size);

	/* INS writes ES:rDI (no override, SDM Vol. 2A INS); OUTS reads seg:rSI. */
	addr = hv_insn_ea(insn, &vcpu->regs);
	for (i = 0; i < n; i++) {
		u64 off = hv_string_offset(vcpu, insn, addr, i);

		err = in ? hv_emul_access(vcpu, fetch.mode, HV_SEG_ES, off, NULL, insn->size,
					  X86_PF_WRITE | HV_WALK_PROBE, &f)
			 : hv_emul_access(vcpu, fetch.mode, insn->seg, off,
					  data + i * insn->size, insn->size, 0, &f);
		if (err)
			break;
	}
	if (err && i == 0) {
		if (err == HV_EMUL_FAULT) {
			hv_mem_raise(vcpu, &f);
			return 1;
		}
		hv_exit_unsupported(vcpu, port, fetch.bytes, fetch.n);
		return 0;
	}
	n = i;

	run->exit_reason = HVLAB_EXIT_IO;
	run->io.direction = in ? HVLAB_IO_IN : HVLAB_IO_OUT;
	run->io.size = insn->size;
	run->io.port = port;
	run->io.count = n;
	run->io.data_offset = HVLAB_RUN_IO_DATA_OFFSET;

	if (in) {
		memset(data, 0, n * insn->size);
		vcpu->pending.kind = HVLAB_EXIT_IO;
		vcpu->pending.string = true;
		vcpu->pending.count = n;
		vcpu->pending.size = insn->size;
		vcpu->pending.next_rip = next_rip;
		return 0;
	}
	hv_string_advance(vcpu, insn, HV_GPR_RSI, n, next_rip);
	return 0;
}

/*
 * INS, answered: the data goes to ES:rDI, checked again (the guest's
 * paging may have changed since the probe): the elements before a
 * fault are stored and counted, then the fault goes to the guest.
 */
int hv_complete_string_in(struct hv_vcpu *vcpu)
{
	const struct hv_insn *insn = &vcpu->pending.insn;
	u8 *data = (u8 *)vcpu->run + HVLAB_RUN_IO_DATA_OFFSET;
	u64 addr = hv_gpr_read(&vcpu->regs, HV_GPR_RDI, insn->addr_size, false);
	u32 i, n = vcpu->pending.count;
	struct hv_mem_fault f;
	int err = 0;

	for (i = 0; i < n; i++) {
		u64 off = hv_string_offset(vcpu, insn, addr, i);

		err = hv_emul_access(vcpu, insn->mode, HV_SEG_ES, off, data + i * insn->size,
				     insn->size, X86_PF_WRITE, &f);
		if (err)
			break;
	}
	if (i)
		hv_string_advance(vcpu, insn, HV_GPR_RDI, i, vcpu->pending.next_rip);
	if (err == HV_EMUL_FAULT)
		hv_mem_raise(vcpu, &f);
	else if (err)
		return -EFAULT;
	return 0;
}

/*
 * For emulation outside this file (taskswitch.c): implicit supervisor
 * accesses by linear address (the TSS, descriptor tables: SDM Vol. 3A
 * 4.6.1), with paging's checks and accessed/dirty bits; any refusal is
 * -EFAULT for the caller to report, nothing is queued.
 */
static int hv_access_gva(struct hv_vcpu *vcpu, u64 gva, void *buf, unsigned int len, u32 access)
{
	struct hv_mem_fault f;

	while (len) {
		unsigned int chunk = min_t(u64, len, PAGE_SIZE - (gva & ~PAGE_MASK));
		int err = hv_access_linear(vcpu, gva, buf, chunk, access | HV_WALK_IMPLICIT, &f);

		if (err)
			return -EFAULT;
		gva += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

int hv_read_gva(struct hv_vcpu *vcpu, u64 gva, void *buf, unsigned int len)
{
	return hv_access_gva(vcpu, gva, buf, len, 0);
}

int hv_write_gva(struct hv_vcpu *vcpu, u64 gva, const void *buf, unsigned int len)
{
	return hv_access_gva(vcpu, gva, (void *)buf, len, X86_PF_WRITE);
}
