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
#include <asm/processor-flags.h>

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

/* Guest-linear to guest-physical by the vCPU's current paging (mmu/walk.c). */
int hv_gva_to_gpa(struct hv_vcpu *vcpu, u64 gva, u64 *gpa)
{
	const struct hv_walk w = {
		.cr0 = vcpu->sregs.cr0,
		.cr3 = vcpu->sregs.cr3,
		.cr4 = vcpu->sregs.cr4,
		.efer = vcpu->sregs.efer,
		.read = hv_walk_read_gpa,
		.ctx = vcpu->vm,
	};

	return hv_walk_gva(&w, gva, gpa);
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
	u64 base = vcpu->sregs.cs.base, ip = vcpu->regs.rip, linear;
	unsigned int n, first;

	if (mode == HV_MODE_REAL || mode == HV_MODE_PROT16) {
		ip &= 0xffff;
		/* Byte by byte only where IP would wrap inside the instruction. */
		if (ip + HV_INSN_MAX_LEN > 0x10000) {
			for (n = 0; n < HV_INSN_MAX_LEN; n++)
				if (hv_access_gva(vcpu, base + ((ip + n) & 0xffff), &bytes[n], 1, false))
					break;
			return n ? n : -EFAULT;
		}
	}
	/* CS.base is 0 in 64-bit mode; elsewhere linear addresses are 32-bit. */
	linear = mode == HV_MODE_LONG64 ? ip : (u32)(base + ip);

	/* The first page must be readable; the second one may not be. */
	first = min_t(u64, HV_INSN_MAX_LEN, PAGE_SIZE - (linear & ~PAGE_MASK));
	if (hv_access_gva(vcpu, linear, bytes, first, false))
		return -EFAULT;
	if (first < HV_INSN_MAX_LEN &&
	    !hv_access_gva(vcpu, linear + first, bytes + first, HV_INSN_MAX_LEN - first, false))
		return HV_INSN_MAX_LEN;
	return first;
}

/*
 * What every decoding exit starts with: the guest's mode from its current
 * state, then the bytes at CS:RIP.  Returns 0 or the -errno of reading
 * the state back (-EINTR), which the caller passes on; *@n is the number
 * of bytes fetched or the fetch's -errno, which the caller reports.
 */
static int hv_fetch_at_rip(struct hv_vcpu *vcpu, u8 bytes[HV_INSN_MAX_LEN],
			   enum hv_cpu_mode *mode, int *n)
{
	int err = hv_sync_sregs(vcpu);	/* mode, segment bases, CR3 */

	if (err)
		return err;
	*mode = hv_cpu_mode(&vcpu->sregs, vcpu->regs.rflags);
	*n = hv_fetch_insn(vcpu, *mode, bytes);
	return 0;
}

/*
 * Fetch and decode the instruction at CS:RIP, for exits that describe
 * their instruction less than the handler needs (SVM without decode
 * assists).  0, or -errno when it cannot be read or decoded.
 */
int hv_decode_at_rip(struct hv_vcpu *vcpu, struct hv_insn *insn)
{
	u8 bytes[HV_INSN_MAX_LEN];
	enum hv_cpu_mode mode;
	int n, err;

	err = hv_fetch_at_rip(vcpu, bytes, &mode, &n);
	if (err)
		return err;
	if (n < 0)
		return n;
	return hv_decode(bytes, n, mode, insn);
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
 * An access to @gpa that no RAM backs (or a write to a read-only slot).
 * Decode the instruction from guest memory, since the hardware here does
 * not describe it, and report one access of insn.size bytes.  Stores are
 * finished now; loads wait in vcpu->pending for userspace's value.  REP
 * string forms do one element per exit and RIP stays until rCX is 0.
 * Read-modify-write forms (ADD to memory, XCHG, BTS...) report the read
 * here and the write when the read is answered (hv_complete_mmio), as
 * KVM's emulator does them: two exits, in the CPU's order.
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

	err = hv_fetch_at_rip(vcpu, bytes, &mode, &n);
	if (err)
		return err;
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
 * the run page holds the write for userspace).  -EFAULT when ES:rDI
 * cannot be written: nothing changed, and the caller keeps the load
 * pending so that the next RUN completes it with the same answer.
 */
int hv_complete_mmio(struct hv_vcpu *vcpu)
{
	struct hv_insn *insn = &vcpu->pending.insn;
	u64 data = 0;

	memcpy(&data, vcpu->run->mmio.data, insn->size);
	if (insn->rmw) {
		hv_insn_complete_rmw(insn, &vcpu->regs, data, &data);
		hv_mmio_rmw_write(vcpu, vcpu->pending.gpa, insn->size, data);
		return 1;
	}
	if (insn->kind == HV_INSN_MOVS) {
		u64 dst = vcpu->sregs.es.base + hv_gpr_read(&vcpu->regs, HV_GPR_RDI,
							     insn->addr_size, false);

		if (hv_access_gva(vcpu, dst, &data, insn->size, true))
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
 * one port access of @count items.  The hardware tells port and direction;
 * the decoder tells the segment override, address size and REP.
 */
int hv_exit_string_io(struct hv_vcpu *vcpu, bool in, u16 port, u64 next_rip)
{
	struct hvlab_run *run = vcpu->run;
	struct hv_insn *insn = &vcpu->pending.insn;
	u8 *data = (u8 *)run + HVLAB_RUN_IO_DATA_OFFSET;
	u8 bytes[HV_INSN_MAX_LEN];
	enum hv_cpu_mode mode;
	u64 count, addr;
	u32 n, i;
	int len, err;

	err = hv_fetch_at_rip(vcpu, bytes, &mode, &len);
	if (err)
		return err;
	if (len < 0 || hv_decode(bytes, len, mode, insn) ||
	    insn->kind != (in ? HV_INSN_INS : HV_INSN_OUTS)) {
		hv_exit_unsupported(vcpu, port, bytes, len);
		return 0;
	}
	count = insn->rep ? hv_insn_rep_count(insn, &vcpu->regs) : 1;
	if (!count) {
		vcpu->regs.rip = next_rip;
		return 1;
	}
	n = min_t(u64, count, (PAGE_SIZE - HVLAB_RUN_IO_DATA_OFFSET) / insn->size);

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

	/* OUTS reads seg:rSI (segment override allowed). */
	addr = hv_insn_ea(insn, &vcpu->regs);
	for (i = 0; i < n; i++) {
		u64 off = hv_string_offset(vcpu, insn, addr, i);

		if (hv_access_gva(vcpu, hv_seg_base(&vcpu->sregs, insn->seg) + off,
				  data + i * insn->size, insn->size, false)) {
			hv_exit_unsupported(vcpu, port, bytes, len);
			return 0;
		}
	}
	hv_string_advance(vcpu, insn, HV_GPR_RSI, n, next_rip);
	return 0;
}

/* INS, answered: the data goes to ES:rDI (no override, SDM Vol. 2A INS). */
int hv_complete_string_in(struct hv_vcpu *vcpu)
{
	const struct hv_insn *insn = &vcpu->pending.insn;
	u8 *data = (u8 *)vcpu->run + HVLAB_RUN_IO_DATA_OFFSET;
	u64 addr = hv_gpr_read(&vcpu->regs, HV_GPR_RDI, insn->addr_size, false);
	u32 i, n = vcpu->pending.count;

	for (i = 0; i < n; i++) {
		u64 off = hv_string_offset(vcpu, insn, addr, i);

		if (hv_access_gva(vcpu, vcpu->sregs.es.base + off, data + i * insn->size,
				  insn->size, true))
			return -EFAULT;
	}
	hv_string_advance(vcpu, insn, HV_GPR_RDI, n, vcpu->pending.next_rip);
	return 0;
}

/* For emulation outside this file (taskswitch.c): hv_access_gva, by direction. */
int hv_read_gva(struct hv_vcpu *vcpu, u64 gva, void *buf, unsigned int len)
{
	return hv_access_gva(vcpu, gva, buf, len, false);
}

int hv_write_gva(struct hv_vcpu *vcpu, u64 gva, const void *buf, unsigned int len)
{
	return hv_access_gva(vcpu, gva, (void *)buf, len, true);
}
