// SPDX-License-Identifier: GPL-2.0
/*
 * taskswitch.c - the hardware task switch of 32-bit protected mode, done
 * in software for backends whose CPU will not do it in a guest (VT-x: a
 * task switch always exits, SDM Vol. 3C 26.2 and 25.4.2).
 *
 * A 32-bit guest reaches it with a far JMP or CALL to a TSS or task gate,
 * an IRET with EFLAGS.NT set, or an interrupt or exception whose IDT entry
 * is a task gate (Linux/i386 takes #DF that way).  The steps and checks
 * follow SDM Vol. 3A 7.3 "Task Switching" and 7.4 "Task Linking"; the
 * faults those name (#GP, #TS, #NP, #SS) go to the guest.  KVM does the
 * same in emulator_do_task_switch() (arch/x86/kvm/emulate.c) behind
 * kvm_task_switch(); this is hvlab's own code, in the SDM's order.
 *
 * Guest memory (GDT, LDT, both TSSes, the new stack) is reached by
 * linear address through module/mem.c, with the guest's paging as it
 * stands at each step: the new TSS is read with the old CR3, and what
 * follows the CR3 load (accessed bits, the error code) uses the new one,
 * as on the CPU.  Every check that can fail before the switch commits is
 * made before anything is written.
 *
 * Not done (none matters to the guests hvlab runs): the T (debug trap)
 * flag of the new TSS (KVM's handle_task_switch() leaves it as a TODO
 * too), limit checks on the TSSes and the new stack, and #PF for TSS,
 * descriptor or stack memory the guest has not mapped, which KVM raises
 * and hvlab turns into an internal-error exit (see hv_ts_mem): mem.c's
 * walk does not say why a translation failed.  A fault raised while an
 * exception is delivered through a task gate replaces that exception
 * instead of making a #DF, as in KVM.  DR7's local enables, which a task
 * switch clears (SDM Vol. 3B 18.2.4), are the caller's to clear: the
 * backend keeps DR7.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/kernel.h>
#include <asm/processor-flags.h>
#include <asm/traps.h>

#include "hv.h"

/*
 * System descriptor types (SDM Vol. 3A 3.5 Table 3-2): a TSS is 1 (16-bit,
 * available), with bit 1 for busy and bit 3 for 32-bit (3, 9, 0xb).
 */
#define HV_TSS16_AVAIL		0x1
#define HV_TSS_BUSY_BIT		0x2
#define HV_TSS_32BIT		0x8
#define HV_LDT_TYPE		0x2

/*
 * TSS layouts (SDM Vol. 3A 7.2.1 Figure 7-2; 7.6 Figure 7-11 for 16-bit):
 * the previous-task link at 0; then, for a field width w of 4 (32-bit)
 * or 2 (16-bit), EIP at @dyn, EFLAGS and the eight GPRs (EAX, ECX, EDX,
 * EBX, ESP, EBP, ESI, EDI) after it, then the segment selectors (ES, CS,
 * SS, DS, and FS, GS in a 32-bit TSS), then the LDT selector.  CR3 (at
 * 28) is in the 32-bit TSS only.  A task switch saves the part from EIP
 * to the last segment selector, nothing else (7.3 step 7).
 */
#define HV_TSS32_CR3		28
#define HV_TSS32_MIN		0x68	/* limit >= 67h (7.2.2) */
#define HV_TSS16_MIN		0x2c	/* limit >= 2Bh */

struct hv_tss_layout {
	unsigned int w;		/* field width: 4 or 2 */
	unsigned int dyn;	/* offset of EIP */
	unsigned int nseg;	/* segment selectors: 6 or 4 */
	unsigned int size;	/* bytes read of the new TSS */
};

static const struct hv_tss_layout hv_tss32 = { 4, 32, 6, HV_TSS32_MIN };
static const struct hv_tss_layout hv_tss16 = { 2, 14, 4, HV_TSS16_MIN };

static unsigned int hv_tss_gpr_off(const struct hv_tss_layout *l, unsigned int i)
{
	return l->dyn + (2 + i) * l->w;		/* i: 0 EAX ... 7 EDI */
}

static unsigned int hv_tss_seg_off(const struct hv_tss_layout *l, unsigned int i)
{
	return l->dyn + 10 * l->w + i * l->w;	/* i: 0 ES, 1 CS, 2 SS, 3 DS, 4 FS, 5 GS */
}

static unsigned int hv_tss_ldt_off(const struct hv_tss_layout *l)
{
	return hv_tss_seg_off(l, l->nseg);
}

/* Segment registers in TSS order. */
enum { HV_TS_ES, HV_TS_CS, HV_TS_SS, HV_TS_DS, HV_TS_FS, HV_TS_GS };

static struct hvlab_segment *hv_ts_sreg(struct hvlab_sregs *sr, unsigned int i)
{
	switch (i) {
	case HV_TS_ES:	return &sr->es;
	case HV_TS_CS:	return &sr->cs;
	case HV_TS_SS:	return &sr->ss;
	case HV_TS_DS:	return &sr->ds;
	case HV_TS_FS:	return &sr->fs;
	default:	return &sr->gs;
	}
}

/* The GPRs in TSS order (EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI). */
static u64 *hv_ts_gpr(struct hvlab_regs *r, unsigned int i)
{
	u64 *map[8] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi, &r->rdi };

	return map[i];
}

/* Everything one task switch works on. */
struct hv_ts {
	struct hv_vcpu *vcpu;
	struct hv_task_switch *req;
	int err;		/* a guest memory access failed: report, do not fault */
	u64 fault_addr;
};

/*
 * Guest memory by linear address.  A failure is not the guest's fault
 * hvlab can describe (mem.c walks without reporting why), so the switch
 * stops and RUN reports an internal error naming the address.
 */
static bool hv_ts_mem(struct hv_ts *ts, u64 linear, void *buf, unsigned int len, bool write)
{
	int err = write ? hv_write_gva(ts->vcpu, (u32)linear, buf, len)
			: hv_read_gva(ts->vcpu, (u32)linear, buf, len);

	if (err && !ts->err) {
		ts->err = err;
		ts->fault_addr = (u32)linear;
	}
	return !err;
}

/* The descriptor for @sel from the GDT or the LDT; false if beyond the table's limit. */
static bool hv_ts_read_desc(struct hv_ts *ts, u16 sel, u64 *desc, u64 *addr)
{
	const struct hvlab_sregs *sr = &ts->vcpu->sregs;
	u64 base = sr->gdt.base;
	u32 limit = sr->gdt.limit;

	if (sel & 4) {		/* TI: the LDT (3.4.2) */
		if (sr->ldt.unusable || !sr->ldt.present)
			return false;
		base = sr->ldt.base;
		limit = sr->ldt.limit;
	}
	if ((u32)(sel | 7) > limit)
		return false;
	*addr = base + (sel & ~7u);
	*desc = 0;
	return hv_ts_mem(ts, *addr, desc, 8, false);
}

/* A segment descriptor (SDM Vol. 3A 3.4.5 Figure 3-8) as hvlab_segment. */
static void hv_ts_unpack(u64 d, u16 sel, struct hvlab_segment *s)
{
	u32 limit = (d & 0xffff) | ((d >> 32) & 0xf0000);

	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	s->type = (d >> 40) & 0xf;
	s->s = (d >> 44) & 1;
	s->dpl = (d >> 45) & 3;
	s->present = (d >> 47) & 1;
	s->avl = (d >> 52) & 1;
	s->l = (d >> 53) & 1;
	s->db = (d >> 54) & 1;
	s->g = (d >> 55) & 1;
	s->limit = s->g ? (limit << 12) | 0xfff : limit;
}

static void hv_ts_fault(struct hv_ts *ts, u8 vector, u16 code)
{
	hv_queue_exception(ts->vcpu, vector, true, code);
}

/*
 * Load segment register @i of the new task from its selector (7.3 step
 * 11, with the checks of Table 7-1 / 6.15 "Interrupt 10"): #TS for a
 * selector or descriptor that does not fit, #NP (#SS for SS) for one not
 * present.  The CPU sets the descriptor's accessed bit (3.4.5.1), and VM
 * entry insists on it for a usable segment.  Returns false after
 * queueing the fault.
 */
static bool hv_ts_load_seg(struct hv_ts *ts, unsigned int i, u16 sel, unsigned int cpl)
{
	struct hvlab_segment *s = hv_ts_sreg(&ts->vcpu->sregs, i);
	unsigned int rpl = sel & 3;
	bool code, conforming, readable, writable;
	u64 d, addr;

	if (!(sel & ~3u)) {
		/* Null: fine for ES, DS, FS, GS (unusable); CS and SS need one. */
		if (i == HV_TS_CS || i == HV_TS_SS)
			goto ts_fault;
		memset(s, 0, sizeof(*s));
		s->selector = sel;
		s->unusable = 1;
		return true;
	}
	if (!hv_ts_read_desc(ts, sel, &d, &addr))
		goto ts_fault;
	hv_ts_unpack(d, sel, s);
	code = s->type & 8;
	conforming = code && (s->type & 4);
	readable = !code || (s->type & 2);
	writable = !code && (s->type & 2);
	if (!s->s)
		goto ts_fault;
	switch (i) {
	case HV_TS_CS:
		if (!code || (conforming ? s->dpl > cpl : s->dpl != cpl))
			goto ts_fault;
		break;
	case HV_TS_SS:
		if (!writable || rpl != cpl || s->dpl != cpl)
			goto ts_fault;
		break;
	default:
		if (!readable || (!conforming && (s->dpl < cpl || s->dpl < rpl)))
			goto ts_fault;
		break;
	}
	if (!s->present) {
		hv_ts_fault(ts, i == HV_TS_SS ? X86_TRAP_SS : X86_TRAP_NP, sel & ~3u);
		return false;
	}
	if (!(s->type & 1)) {
		u8 access = (d >> 40) | 1;

		s->type |= 1;
		hv_ts_mem(ts, addr + 5, &access, 1, true);
	}
	return true;

ts_fault:
	hv_ts_fault(ts, X86_TRAP_TS, sel & ~3u);
	return false;
}

/* Virtual-8086 segments: base selector * 16, limit FFFFh, DPL 3 (SDM Vol. 3A 20.1.1). */
static void hv_ts_v86_seg(struct hvlab_segment *s, u16 sel)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = (u32)sel << 4;
	s->limit = 0xffff;
	s->type = 3;		/* read/write data, accessed: what VM entry wants (27.3.1.2) */
	s->s = 1;
	s->dpl = 3;
	s->present = 1;
}

/*
 * The LDT of the new task (7.3 step 11): a null selector leaves LDTR
 * unusable; else a present LDT descriptor in the GDT, or #TS.
 */
static bool hv_ts_load_ldt(struct hv_ts *ts, u16 sel)
{
	struct hvlab_segment *s = &ts->vcpu->sregs.ldt;
	u64 d, addr;

	if (!(sel & ~3u)) {
		memset(s, 0, sizeof(*s));
		s->selector = sel;
		s->type = HV_LDT_TYPE;
		s->unusable = 1;
		return true;
	}
	if ((sel & 4) || !hv_ts_read_desc(ts, sel, &d, &addr))
		goto ts_fault;
	hv_ts_unpack(d, sel, s);
	if (s->s || s->type != HV_LDT_TYPE || !s->present)
		goto ts_fault;
	return true;

ts_fault:
	hv_ts_fault(ts, X86_TRAP_TS, sel & ~3u);
	return false;
}

/* TSS fields are little-endian, as is the host: plain copies of @w bytes. */
static u32 hv_ts_field(const u8 *tss, unsigned int off, unsigned int w)
{
	u32 val = 0;

	memcpy(&val, tss + off, w);
	return val;
}

static void hv_ts_put(u8 *tss, unsigned int off, unsigned int w, u32 val)
{
	memcpy(tss + off, &val, w);
}

/*
 * The new task's state into the vCPU (7.3 step 11): CR3 (32-bit TSS,
 * paging on), EFLAGS, EIP, the GPRs, then LDTR and the segment
 * registers, whose descriptors are checked last, in the new task's
 * context: a fault there is the new task's.  Returns false if one was
 * queued.
 */
static bool hv_ts_load_task(struct hv_ts *ts, const struct hv_tss_layout *l, const u8 *tss)
{
	struct hv_vcpu *vcpu = ts->vcpu;
	struct hvlab_regs *r = &vcpu->regs;
	struct hvlab_sregs *sr = &vcpu->sregs;
	u16 sel[6] = { 0 };
	unsigned int i, cpl;
	u32 flags;

	if (l->w == 4 && (sr->cr0 & X86_CR0_PG))
		sr->cr3 = hv_ts_field(tss, HV_TSS32_CR3, 4);
	/*
	 * EFLAGS: bit 1 set, reserved bits clear (SDM Vol. 1 3.4.3); a
	 * 16-bit TSS holds FLAGS only, and the upper half is cleared, as
	 * KVM's load_state_from_tss16() does.
	 */
	flags = hv_ts_field(tss, l->dyn + l->w, l->w);
	r->rflags = (flags & (X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF |
			      X86_EFLAGS_SF | X86_EFLAGS_TF | X86_EFLAGS_IF | X86_EFLAGS_DF |
			      X86_EFLAGS_OF | X86_EFLAGS_IOPL | X86_EFLAGS_NT | X86_EFLAGS_RF |
			      X86_EFLAGS_VM | X86_EFLAGS_AC | X86_EFLAGS_VIF | X86_EFLAGS_VIP |
			      X86_EFLAGS_ID)) | X86_EFLAGS_FIXED;
	r->rip = hv_ts_field(tss, l->dyn, l->w);
	for (i = 0; i < 8; i++)
		*hv_ts_gpr(r, i) = hv_ts_field(tss, hv_tss_gpr_off(l, i), l->w);
	for (i = 0; i < l->nseg; i++)
		sel[i] = hv_ts_field(tss, hv_tss_seg_off(l, i), l->w);

	/* Selectors first: a fault below leaves the new task's selectors in place. */
	if (r->rflags & X86_EFLAGS_VM) {
		for (i = 0; i < 6; i++)
			hv_ts_v86_seg(hv_ts_sreg(sr, i), sel[i]);
		return hv_ts_load_ldt(ts, hv_ts_field(tss, hv_tss_ldt_off(l), l->w));
	}
	for (i = 0; i < 6; i++)
		hv_ts_sreg(sr, i)->selector = sel[i];
	if (!hv_ts_load_ldt(ts, hv_ts_field(tss, hv_tss_ldt_off(l), l->w)))
		return false;
	cpl = sel[HV_TS_CS] & 3;
	/* CS first, then SS: their checks use the CPL the new CS gives. */
	if (!hv_ts_load_seg(ts, HV_TS_CS, sel[HV_TS_CS], cpl) ||
	    !hv_ts_load_seg(ts, HV_TS_SS, sel[HV_TS_SS], cpl))
		return false;
	for (i = 0; i < 6; i++)
		if (i != HV_TS_CS && i != HV_TS_SS && !hv_ts_load_seg(ts, i, sel[i], cpl))
			return false;
	return true;
}

/* The error code of an exception delivered through the task gate, on the new stack. */
static void hv_ts_push_error(struct hv_ts *ts, const struct hv_tss_layout *l, u32 code)
{
	struct hvlab_regs *r = &ts->vcpu->regs;
	const struct hvlab_segment *ss = &ts->vcpu->sregs.ss;
	u32 sp_mask = ss->db ? 0xffffffff : 0xffff;
	u32 sp = (r->rsp - l->w) & sp_mask;
	u8 buf[4];

	hv_ts_put(buf, 0, l->w, code);
	if (hv_ts_mem(ts, ss->base + sp, buf, l->w, true))
		r->rsp = (r->rsp & ~(u64)sp_mask) | sp;
}

/* Flip the busy bit of the TSS descriptor at @addr (type bit 1, access byte 5). */
static void hv_ts_set_busy(struct hv_ts *ts, u64 addr, u64 desc, bool busy)
{
	u8 access = desc >> 40;

	access = busy ? access | HV_TSS_BUSY_BIT : access & ~HV_TSS_BUSY_BIT;
	hv_ts_mem(ts, addr + 5, &access, 1, true);
}

static int hv_ts_report(struct hv_ts *ts)
{
	u64 data[3] = { ts->req->selector, ts->req->source, ts->fault_addr };

	hv_exit_internal(ts->vcpu, HVLAB_INTERNAL_UNSUPPORTED, 3, data);
	return 0;
}

/*
 * Switch from the current task (TR) to the TSS @req->selector names.
 * RIP must already be where the old task resumes (past a CALL, JMP, IRET
 * or INT n; at the instruction for a fault).  Returns 1 to enter the
 * guest again (the switch is done, or the fault it raised is queued), 0
 * when the run page holds an internal-error exit (guest memory that
 * could not be reached), or -errno (-EINTR from reading the state back).
 */
int hv_task_switch(struct hv_vcpu *vcpu, struct hv_task_switch *req)
{
	struct hv_ts ts = { .vcpu = vcpu, .req = req };
	struct hvlab_regs *r = &vcpu->regs;
	struct hvlab_sregs *sr;
	const struct hv_tss_layout *l;
	struct hvlab_segment new_tr;
	u8 old_tss[HV_TSS32_MIN], new_tss[HV_TSS32_MIN];
	u16 sel = req->selector, old_sel;
	u64 new_desc, new_addr, old_desc, old_addr;
	bool nested = req->source == HV_TS_CALL || req->source == HV_TS_GATE;
	bool iret = req->source == HV_TS_IRET;
	u8 bad_vector = iret ? X86_TRAP_TS : X86_TRAP_GP;
	unsigned int i;
	bool loaded;
	u32 eflags;
	int err;

	err = hv_sync_sregs(vcpu);
	if (err)
		return err;
	sr = &vcpu->sregs;
	old_sel = sr->tr.selector;

	/*
	 * Checks before anything changes (7.3 steps 1-4, 7.4): the new TSS
	 * descriptor is in the GDT (TI=0) and within its limit, is a TSS,
	 * available for CALL/JMP/gates and busy for IRET, present, and big
	 * enough.  Failures fault in the old task's context: #GP(selector)
	 * for CALL/JMP/gates, #TS(selector) for IRET; #NP(selector) when not
	 * present, #TS when too small.  The privilege checks of CALL/JMP and
	 * of a gate reached by hardware are the CPU's before it exits (SDM
	 * Vol. 3C 25.4.2), which is why KVM dropped its own (commit
	 * "KVM: x86: Remove redundant and incorrect cpl check on
	 * task-switch"); INT n through a task gate is checked here, as KVM
	 * still does.
	 */
	if (req->soft_int >= 0) {
		u16 idt_code = req->soft_int * 8 + 2;	/* error code: the IDT bit */
		u64 gate = 0;
		unsigned int dpl;

		if ((u32)req->soft_int * 8 + 7 > sr->idt.limit) {
			hv_ts_fault(&ts, X86_TRAP_GP, idt_code);
			return 1;
		}
		if (!hv_ts_mem(&ts, sr->idt.base + req->soft_int * 8, &gate, 8, false))
			return hv_ts_report(&ts);
		dpl = (gate >> 45) & 3;
		if ((sel & 3) > dpl || (sr->cs.selector & 3) > dpl) {
			hv_ts_fault(&ts, X86_TRAP_GP, idt_code);
			return 1;
		}
	}
	if ((sel & 4) || !hv_ts_read_desc(&ts, sel, &new_desc, &new_addr)) {
		if (ts.err)
			return hv_ts_report(&ts);
		hv_ts_fault(&ts, bad_vector, sel & ~3u);
		return 1;
	}
	hv_ts_unpack(new_desc, sel, &new_tr);
	if (new_tr.s || (new_tr.type & ~(HV_TSS_BUSY_BIT | HV_TSS_32BIT)) != HV_TSS16_AVAIL ||
	    !!(new_tr.type & HV_TSS_BUSY_BIT) != iret) {
		hv_ts_fault(&ts, bad_vector, sel & ~3u);
		return 1;
	}
	if (!new_tr.present) {
		hv_ts_fault(&ts, X86_TRAP_NP, sel & ~3u);
		return 1;
	}
	l = (new_tr.type & HV_TSS_32BIT) ? &hv_tss32 : &hv_tss16;
	if (new_tr.limit < l->size - 1) {
		hv_ts_fault(&ts, X86_TRAP_TS, sel & ~3u);
		return 1;
	}
	/* The old task's descriptor (for its busy bit) and both TSSes must be reachable. */
	if (!hv_ts_read_desc(&ts, old_sel, &old_desc, &old_addr) ||
	    !hv_ts_mem(&ts, new_tr.base, new_tss, l->size, false) ||
	    !hv_ts_mem(&ts, sr->tr.base, old_tss, sr->tr.type & HV_TSS_32BIT ?
		       HV_TSS32_MIN : HV_TSS16_MIN, false)) {
		if (ts.err)
			return hv_ts_report(&ts);
		hv_ts_fault(&ts, X86_TRAP_TS, old_sel & ~3u);
		return 1;
	}

	/* Steps 5-7: the old task gives up its busy bit (JMP, IRET) and its state. */
	if (!nested)
		hv_ts_set_busy(&ts, old_addr, old_desc, false);
	eflags = r->rflags;
	if (iret)
		eflags &= ~X86_EFLAGS_NT;
	{
		const struct hv_tss_layout *ol = (sr->tr.type & HV_TSS_32BIT) ? &hv_tss32 : &hv_tss16;
		unsigned int end = hv_tss_ldt_off(ol);

		hv_ts_put(old_tss, ol->dyn, ol->w, r->rip);
		hv_ts_put(old_tss, ol->dyn + ol->w, ol->w, eflags);
		for (i = 0; i < 8; i++)
			hv_ts_put(old_tss, hv_tss_gpr_off(ol, i), ol->w, *hv_ts_gpr(r, i));
		for (i = 0; i < ol->nseg; i++)
			hv_ts_put(old_tss, hv_tss_seg_off(ol, i), ol->w,
				  hv_ts_sreg(sr, i)->selector);
		hv_ts_mem(&ts, sr->tr.base + ol->dyn, old_tss + ol->dyn, end - ol->dyn, true);
	}

	/* Step 8 and 7.4: CALL and gates link the new task back to the old one. */
	if (nested) {
		hv_ts_put(new_tss, 0, 2, old_sel);
		hv_ts_mem(&ts, new_tr.base, new_tss, 2, true);
	}
	/* Steps 9-10: the new task is busy (IRET's already was) and in TR. */
	if (!iret)
		hv_ts_set_busy(&ts, new_addr, new_desc, true);
	if (ts.err)
		return hv_ts_report(&ts);
	new_tr.type |= HV_TSS_BUSY_BIT;
	sr->tr = new_tr;
	req->switched = true;
	/* CR0.TS is set by every task switch (SDM Vol. 3A 2.5, 7.3 step 11). */
	sr->cr0 |= X86_CR0_TS;

	/*
	 * Step 11: the new task's state (its EFLAGS with NT set when it is
	 * nested, step 8), then the error code of the exception that
	 * brought it here (6.13), unless loading its segments faulted.
	 */
	loaded = hv_ts_load_task(&ts, l, new_tss);
	if (nested)
		r->rflags |= X86_EFLAGS_NT;
	if (loaded && req->has_err)
		hv_ts_push_error(&ts, l, req->err);

	/*
	 * Into the VMCS/VMCB: segments, TR, LDTR, CR0, CR3 (and PDPTEs),
	 * also when guest memory failed us after the commit, so that what
	 * userspace reads back is what the guest would run with.
	 */
	err = hv_ops->vcpu_load_state(vcpu);
	if (err)
		return err;
	return ts.err ? hv_ts_report(&ts) : 1;
}
