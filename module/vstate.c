// SPDX-License-Identifier: GPL-2.0
/*
 * vstate.c - the vendor structure (VMCS fields, VMCB page) as it stood at
 * the last two exits of a vCPU, for HVLAB_GET_VENDOR_STATE (hvlab-dump).
 *
 * Capturing costs a whole VMCB copy or about 150 VMREADs per exit, so it
 * is off until userspace asks (HVLAB_CAPTURE_STATE); the exit path then
 * pays one test of vcpu->vstate.  The backends fill the buffer that
 * hv_vstate_next() hands them, in the vCPU's own thread while their
 * VMCS/VMCB is in reach, right after the exit (and for an entry that
 * failed, before they give the VMCS up), so what is captured is what the
 * hardware held before any handler changed it.  KVM has no such ioctl:
 * it prints the VMCS/VMCB to dmesg (dump_vmcs(), dump_vmcb()) on a failed
 * entry or an unexpected exit, which hvlab does too; this is for reading
 * it at any exit, from userspace.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/slab.h>
#include <linux/uaccess.h>

#include "hv.h"

struct hv_vstate {
	u64 seq;			/* captures so far */
	unsigned int cur;		/* s[cur] is the last exit's */
	struct hvlab_vendor_state s[2];
};

/* The buffer for this exit; the previous one becomes "the exit before". */
struct hvlab_vendor_state *hv_vstate_next(struct hv_vcpu *vcpu)
{
	struct hv_vstate *vs = vcpu->vstate;
	struct hvlab_vendor_state *s;

	vs->cur ^= 1;
	s = &vs->s[vs->cur];
	memset(s, 0, sizeof(*s));
	s->vendor = hv_ops->vendor;
	s->seq = ++vs->seq;
	return s;
}

/* HVLAB_CAPTURE_STATE: @on 1 allocates the two buffers, 0 frees them. */
int hv_vstate_capture(struct hv_vcpu *vcpu, unsigned long on)
{
	if (on > 1)
		return hv_reject(-EINVAL, "CAPTURE_STATE takes 0 or 1, not %lu", on);
	if (!hv_ops->vcpu_capture)
		return hv_reject(-EOPNOTSUPP, "the %s backend cannot capture its state",
				 hv_ops->name);
	if (!on) {
		kvfree(vcpu->vstate);
		vcpu->vstate = NULL;
		return 0;
	}
	if (!vcpu->vstate) {
		vcpu->vstate = kvzalloc(sizeof(*vcpu->vstate), GFP_KERNEL_ACCOUNT);
		if (!vcpu->vstate)
			return -ENOMEM;
	}
	return 0;
}

/* HVLAB_GET_VENDOR_STATE, under vcpu->lock (so no exit writes meanwhile). */
int hv_vstate_get(struct hv_vcpu *vcpu, struct hvlab_vendor_state __user *argp)
{
	struct hv_vstate *vs = vcpu->vstate;
	u32 index;

	if (get_user(index, &argp->index))
		return -EFAULT;
	if (index > 1)
		return hv_reject(-EINVAL, "index %u: 0 is the last exit, 1 the one before", index);
	/* -ENODATA: capture is off, or fewer than index + 1 exits since it went on. */
	if (!vs || vs->seq <= index)
		return -ENODATA;
	if (copy_to_user(argp, &vs->s[vs->cur ^ index], sizeof(*argp)))
		return -EFAULT;
	/* copy_to_user overwrote @index with the buffer's own 0: put it back. */
	if (put_user(index, &argp->index))
		return -EFAULT;
	return 0;
}

void hv_vstate_free(struct hv_vcpu *vcpu)
{
	kvfree(vcpu->vstate);
	vcpu->vstate = NULL;
}
