// SPDX-License-Identifier: GPL-2.0
/*
 * mem.c - reading and writing guest memory from exit handlers, by
 * guest-physical or guest-linear address, and the MMIO exit built on them.
 *
 * Guest RAM is the VM creator's userspace memory, and handlers run in the
 * vCPU thread of that process, so plain copy_{from,to}_user reach it and a
 * bad mapping is a clean -EFAULT.  vm->lock keeps the slots still.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/uaccess.h>

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

/* Linear-address access, one guest page at a time (pages need not be adjacent). */
static int hv_access_gva(struct hv_vcpu *vcpu, u64 gva, void *buf, unsigned int len, bool write)
{
	while (len) {
		unsigned int chunk = min_t(u64, len, PAGE_SIZE - (gva & ~PAGE_MASK));
		u64 gpa;
		int err;

		err = hv_gva_to_gpa(vcpu, gva, &gpa);
		if (!err)
			err = write ? hv_write_gpa(vcpu->vm, gpa, buf, chunk)
				    : hv_read_gpa(vcpu->vm, gpa, buf, chunk);
		if (err)
			return err;
		gva += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

/*
 * The bytes at CS:RIP, as many as can be read up to the 15-byte limit (an
 * instruction near the end of mapped memory is shorter than 15 bytes).
 * In 16-bit modes IP wraps at 64 KiB, so those fetch byte by byte.
 */
static int hv_fetch_insn(struct hv_vcpu *vcpu, enum hv_cpu_mode mode, u8 *bytes)
{
	u64 base = vcpu->sregs.cs.base, ip = vcpu->regs.rip;
	unsigned int n;

	if (mode == HV_MODE_REAL || mode == HV_MODE_PROT16) {
		for (n = 0; n < HV_INSN_MAX_LEN; n++)
			if (hv_access_gva(vcpu, base + ((ip + n) & 0xffff), &bytes[n], 1, false))
				break;
		return n ? n : -EFAULT;
	}
	unsigned int first;

	ip = mode == HV_MODE_LONG64 ? ip : (u32)(base + ip);	/* CS.base is 0 in 64-bit mode */
	/* The first page must be readable; the second one may not be. */
	first = min_t(u64, HV_INSN_MAX_LEN, PAGE_SIZE - (ip & ~PAGE_MASK));
	if (hv_access_gva(vcpu, ip, bytes, first, false))
		return -EFAULT;
	if (first < HV_INSN_MAX_LEN &&
	    !hv_access_gva(vcpu, ip + first, bytes + first, HV_INSN_MAX_LEN - first, false))
		return HV_INSN_MAX_LEN;
	return first;
}

static u64 hv_seg_base(const struct hvlab_sregs *sr, unsigned int seg)
{
	switch (seg) {
	case HV_SEG_ES: return sr->es.base;
	case HV_SEG_CS: return sr->cs.base;
	case HV_SEG_SS: return sr->ss.base;
	case HV_SEG_FS: return sr->fs.base;
	case HV_SEG_GS: return sr->gs.base;
	default:	return sr->ds.base;
	}
}

static void hv_exit_unsupported(struct hv_vcpu *vcpu, u64 gpa, const u8 *bytes, int n)
{
	u64 data[3] = { gpa, 0, 0 };

	if (n > 0)
		memcpy(&data[1], bytes, min(n, 16));
	hv_exit_internal(vcpu, HVLAB_INTERNAL_UNSUPPORTED, 3, data);
}

/*
 * An access to @gpa that no RAM backs (or a write to a read-only slot).
 * Decode the instruction from guest memory, since the hardware here does
 * not describe it, and report one access of insn.size bytes.  Stores are
 * finished now; loads wait in vcpu->pending for userspace's value.  REP
 * string forms do one element per exit and RIP stays until rCX is 0.
 * Returns 0 (run page filled) or 1 (nothing to report, enter again).
 */
int hv_exit_mmio(struct hv_vcpu *vcpu, u64 gpa, bool write_fault)
{
	struct hvlab_run *run = vcpu->run;
	struct hv_insn *insn = &vcpu->pending.insn;
	struct hvlab_regs *regs = &vcpu->regs;
	u8 bytes[HV_INSN_MAX_LEN];
	enum hv_cpu_mode mode;
	u64 data = 0;
	int n, err;

	hv_ops->vcpu_save_state(vcpu);	/* mode, segment bases, CR3 */
	mode = hv_cpu_mode(&vcpu->sregs, regs->rflags);
	n = hv_fetch_insn(vcpu, mode, bytes);
	if (n < 0) {
		hv_exit_unsupported(vcpu, gpa, NULL, 0);
		return 0;
	}
	err = hv_decode_mmio(bytes, n, mode, insn);
	if (err) {
		hv_exit_unsupported(vcpu, gpa, bytes, n);
		return 0;
	}
	if (insn->rep && hv_insn_rep_count(insn, regs) == 0) {
		hv_insn_complete(insn, regs, 0);	/* no iteration: only RIP moves */
		return 1;
	}

	run->exit_reason = HVLAB_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = insn->size;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));

	if (insn->kind == HV_INSN_MOVS && write_fault) {
		/* Destination is MMIO: the source is RAM at seg:rSI. */
		u64 src = hv_seg_base(&vcpu->sregs, insn->seg) + hv_insn_ea(insn, regs);

		if (hv_access_gva(vcpu, src, &data, insn->size, false)) {
			hv_exit_unsupported(vcpu, gpa, bytes, n);
			return 0;
		}
		run->mmio.is_write = 1;
	} else if (insn->is_write) {
		data = hv_insn_store_data(insn, regs);
		run->mmio.is_write = 1;
	} else {
		run->mmio.is_write = 0;
		vcpu->pending.kind = HVLAB_EXIT_MMIO;
		vcpu->pending.size = insn->size;
		return 0;
	}
	memcpy(run->mmio.data, &data, insn->size);
	hv_insn_complete(insn, regs, 0);
	return 0;
}

/* A load userspace answered: MOVS from MMIO also stores to ES:rDI. */
int hv_complete_mmio(struct hv_vcpu *vcpu)
{
	struct hv_insn *insn = &vcpu->pending.insn;
	u64 data = 0;

	memcpy(&data, vcpu->run->mmio.data, insn->size);
	if (insn->kind == HV_INSN_MOVS) {
		u64 dst = vcpu->sregs.es.base + hv_gpr_read(&vcpu->regs, HV_GPR_RDI,
							     insn->addr_size, false);

		if (hv_access_gva(vcpu, dst, &data, insn->size, true))
			return -EFAULT;
	}
	hv_insn_complete(insn, &vcpu->regs, data);
	return 0;
}
