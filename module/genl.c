// SPDX-License-Identifier: GPL-2.0
/*
 * genl.c - the generic netlink family "hvlab": a dump of every VM's exit
 * statistics, a reset, and a multicast group streaming exits (sampled or
 * all) for live tools such as hvlab-stat.  The ABI is at the end of
 * uapi/hvlab.h.
 *
 * Who may see what: a VM's statistics belong to the effective uid that
 * created it (and to CAP_SYS_ADMIN).  Dumps skip other users' VMs, and a
 * command naming one fails with -EPERM.  The multicast group carries every
 * VM's exits, so binding it takes CAP_SYS_ADMIN.
 *
 * Everything here runs in process context: the dump and the commands in
 * the requester's, the event sender in a workqueue, which drains the ring
 * the vCPU thread filled without allocating (module/stats.c).
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/cred.h>
#include <linux/version.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "hv.h"

extern struct list_head hv_vms;
extern struct mutex hv_vms_lock;

static const struct nla_policy hv_genl_policy[HVLAB_NL_A_MAX + 1] = {
	[HVLAB_NL_A_VM_ID]	= { .type = NLA_U32 },
	[HVLAB_NL_A_SAMPLE]	= { .type = NLA_U32 },
};

static int hv_genl_get_stats(struct sk_buff *skb, struct netlink_callback *cb);
static int hv_genl_reset(struct sk_buff *skb, struct genl_info *info);
static int hv_genl_set_events(struct sk_buff *skb, struct genl_info *info);

static const struct genl_ops hv_genl_ops[] = {
	{ .cmd = HVLAB_NL_CMD_GET_STATS, .dumpit = hv_genl_get_stats },
	{ .cmd = HVLAB_NL_CMD_RESET, .doit = hv_genl_reset },
	{ .cmd = HVLAB_NL_CMD_SET_EVENTS, .doit = hv_genl_set_events },
};

static const struct genl_multicast_group hv_genl_mcgrps[] = {
	{ .name = HVLAB_GENL_MCGRP, .flags = GENL_MCAST_CAP_SYS_ADMIN },
};

static struct genl_family hv_genl_family __ro_after_init = {
	.name		= HVLAB_GENL_NAME,
	.version	= HVLAB_GENL_VERSION,
	.maxattr	= HVLAB_NL_A_MAX,
	.policy		= hv_genl_policy,
	.module		= THIS_MODULE,
	.ops		= hv_genl_ops,
	.n_ops		= ARRAY_SIZE(hv_genl_ops),
	/* Strict: every command validated against the policy, no unknown attributes. */
	.resv_start_op	= HVLAB_NL_CMD_GET_STATS,
	.mcgrps		= hv_genl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(hv_genl_mcgrps),
};

static bool hv_genl_may_read(const struct hv_vm *vm, const struct sk_buff *skb)
{
	return uid_eq(current_euid(), vm->owner) || netlink_capable(skb, CAP_SYS_ADMIN);
}

static struct nlattr **hv_genl_dump_attrs(struct netlink_callback *cb)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
	return genl_info_dump(cb)->attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

/* One message: the statistics of @stat on @vcpu.  -EMSGSIZE when full. */
static int hv_genl_put_stat(struct sk_buff *skb, struct netlink_callback *cb,
			    struct hv_vcpu *vcpu, unsigned int stat)
{
	const struct hv_tele *t = vcpu->tele;
	const struct hv_stat_tele *st = &t->stat[stat];
	u64 hist[HV_HIST_NR][HVLAB_HIST_BUCKETS] = {}, n[HV_HIST_NR];
	struct hv_vm *vm = vcpu->vm;
	unsigned int k;
	void *hdr;

	for (k = 0; k < HV_HIST_NR; k++)
		n[k] = hv_hist_fold(&st->h[k], hist[k]);
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &hv_genl_family, NLM_F_MULTI, HVLAB_NL_CMD_GET_STATS);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, HVLAB_NL_A_VM_ID, vm->id) ||
	    nla_put_u32(skb, HVLAB_NL_A_VCPU_ID, vcpu->id) ||
	    nla_put_u32(skb, HVLAB_NL_A_PID, vm->pid) ||
	    nla_put_u32(skb, HVLAB_NL_A_OWNER_UID, from_kuid_munged(current_user_ns(), vm->owner)) ||
	    nla_put_u32(skb, HVLAB_NL_A_STAT, stat) ||
	    nla_put_u64_64bit(skb, HVLAB_NL_A_COUNT, READ_ONCE(vcpu->stat[stat]), HVLAB_NL_A_PAD) ||
	    nla_put_u64_64bit(skb, HVLAB_NL_A_EXITS, READ_ONCE(vcpu->exits), HVLAB_NL_A_PAD) ||
	    nla_put_u64_64bit(skb, HVLAB_NL_A_N_KERNEL, n[HV_HIST_KERNEL], HVLAB_NL_A_PAD) ||
	    nla_put_u64_64bit(skb, HVLAB_NL_A_N_USER, n[HV_HIST_USER], HVLAB_NL_A_PAD) ||
	    nla_put_u64_64bit(skb, HVLAB_NL_A_CYC_KERNEL, st->h[HV_HIST_KERNEL].cycles, HVLAB_NL_A_PAD) ||
	    nla_put_u64_64bit(skb, HVLAB_NL_A_CYC_USER, st->h[HV_HIST_USER].cycles, HVLAB_NL_A_PAD) ||
	    nla_put_u64_64bit(skb, HVLAB_NL_A_CYC_RTT, st->h[HV_HIST_RTT].cycles, HVLAB_NL_A_PAD) ||
	    nla_put(skb, HVLAB_NL_A_HIST_KERNEL, sizeof(hist[0]), hist[HV_HIST_KERNEL]) ||
	    nla_put(skb, HVLAB_NL_A_HIST_USER, sizeof(hist[0]), hist[HV_HIST_USER]) ||
	    nla_put(skb, HVLAB_NL_A_HIST_RTT, sizeof(hist[0]), hist[HV_HIST_RTT]) ||
	    nla_put_u64_64bit(skb, HVLAB_NL_A_VENDOR_REASON, st->vendor_reason, HVLAB_NL_A_PAD) ||
	    nla_put_u8(skb, HVLAB_NL_A_OPEN, hv_tele_open_stat(vcpu) == stat)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/*
 * The dump resumes where the previous skb filled up: cb->args[0] the VM
 * id, [1] the vCPU id, [2] the reason.  VM ids only grow along hv_vms.
 */
static int hv_genl_get_stats(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct nlattr **attrs = hv_genl_dump_attrs(cb);
	u32 want = attrs && attrs[HVLAB_NL_A_VM_ID] ? nla_get_u32(attrs[HVLAB_NL_A_VM_ID]) : 0;
	bool found = false;
	struct hv_vm *vm;
	int err = 0;

	mutex_lock(&hv_vms_lock);
	list_for_each_entry(vm, &hv_vms, node) {
		unsigned int v, s;

		if (want && vm->id != want)
			continue;
		found = true;
		if (!hv_genl_may_read(vm, cb->skb)) {
			if (want)
				err = -EPERM;
			continue;
		}
		if (vm->id < cb->args[0])
			continue;
		if (vm->id != cb->args[0]) {
			cb->args[0] = vm->id;
			cb->args[1] = 0;
			cb->args[2] = 0;
		}
		for (v = cb->args[1]; v < hv_max_vcpus; v++, cb->args[2] = 0) {
			struct hv_vcpu *vcpu = READ_ONCE(vm->vcpus[v]);

			cb->args[1] = v;
			if (!vcpu)
				continue;
			for (s = cb->args[2]; s < HVLAB_STAT_NR; s++) {
				if (!READ_ONCE(vcpu->stat[s]))
					continue;
				if (hv_genl_put_stat(skb, cb, vcpu, s)) {
					cb->args[2] = s;
					goto full;
				}
			}
		}
		cb->args[1] = hv_max_vcpus;
	}
	mutex_unlock(&hv_vms_lock);
	if (want && !found)
		return -ENOENT;
	return err ? err : skb->len;
full:
	mutex_unlock(&hv_vms_lock);
	return skb->len;
}

/* The VM named by the request, under hv_vms_lock, if the caller may touch it. */
static struct hv_vm *hv_genl_find_vm(struct sk_buff *skb, struct genl_info *info)
{
	struct hv_vm *vm;
	u32 id;

	if (!info->attrs[HVLAB_NL_A_VM_ID]) {
		NL_SET_ERR_MSG(info->extack, "hvlab: VM_ID is required");
		return ERR_PTR(-EINVAL);
	}
	id = nla_get_u32(info->attrs[HVLAB_NL_A_VM_ID]);
	if (!id) {
		NL_SET_ERR_MSG(info->extack, "hvlab: VM ids start at 1");
		return ERR_PTR(-EINVAL);
	}
	list_for_each_entry(vm, &hv_vms, node) {
		if (vm->id != id)
			continue;
		if (!hv_genl_may_read(vm, skb))
			return ERR_PTR(-EPERM);
		return vm;
	}
	return ERR_PTR(-ENOENT);
}

static int hv_genl_reset(struct sk_buff *skb, struct genl_info *info)
{
	struct hv_vm *vm;
	unsigned int v;
	int err = 0;

	mutex_lock(&hv_vms_lock);
	vm = hv_genl_find_vm(skb, info);
	if (IS_ERR(vm)) {
		err = PTR_ERR(vm);
	} else {
		for (v = 0; v < hv_max_vcpus; v++) {
			struct hv_vcpu *vcpu = READ_ONCE(vm->vcpus[v]);

			if (vcpu)
				hv_tele_reset(vcpu);
		}
	}
	mutex_unlock(&hv_vms_lock);
	return err;
}

static int hv_genl_set_events(struct sk_buff *skb, struct genl_info *info)
{
	struct hv_vm *vm;
	int err = 0;

	if (!info->attrs[HVLAB_NL_A_SAMPLE]) {
		NL_SET_ERR_MSG(info->extack, "hvlab: SAMPLE is required (0: off, N: every Nth exit)");
		return -EINVAL;
	}
	mutex_lock(&hv_vms_lock);
	vm = hv_genl_find_vm(skb, info);
	if (IS_ERR(vm))
		err = PTR_ERR(vm);
	else
		WRITE_ONCE(vm->event_sample, nla_get_u32(info->attrs[HVLAB_NL_A_SAMPLE]));
	mutex_unlock(&hv_vms_lock);
	return err;
}

/* One attribute, header and value, at @p; returns where the next one goes. */
static void *hv_genl_fill_attr(void *p, u16 type, const void *val, u16 len)
{
	struct nlattr *nla = p;

	nla->nla_type = type;
	nla->nla_len = nla_attr_size(len);
	memcpy(nla_data(nla), val, len);
	memset(nla_data(nla) + len, 0, nla_padlen(len));
	return p + nla_total_size(len);
}

/* The attributes of one EXIT_EVENT message, in the order they go out. */
#define HV_EVENT_ATTRS_LEN	(3 * nla_total_size(sizeof(u32)) +		\
				 8 * nla_total_size(sizeof(u64)) +		\
				 nla_total_size(sizeof(u8)))

/*
 * One EXIT_EVENT message.  The worker sends every event of a listened
 * stream, so it reserves the attribute block once and fills it in place,
 * instead of twelve nla_put() calls: the same bytes on the wire (x86-64 has
 * efficient unaligned access, so nla_put_u64_64bit() would add no pad
 * attribute either).
 */
static int hv_genl_put_event(struct sk_buff *skb, const struct hv_vcpu *vcpu,
			     const struct hv_exit_event *ev, u64 dropped)
{
	u32 vm_id = vcpu->vm->id, vcpu_id = vcpu->id, stat = ev->stat;
	void *hdr, *p;

	BUILD_BUG_ON(!IS_ENABLED(CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS));
	if (skb_tailroom(skb) < GENL_HDRLEN + NLMSG_HDRLEN + HV_EVENT_ATTRS_LEN)
		return -EMSGSIZE;
	hdr = genlmsg_put(skb, 0, 0, &hv_genl_family, 0, HVLAB_NL_CMD_EXIT_EVENT);
	if (!hdr)
		return -EMSGSIZE;
	p = skb_put(skb, HV_EVENT_ATTRS_LEN);
	p = hv_genl_fill_attr(p, HVLAB_NL_A_VM_ID, &vm_id, sizeof(u32));
	p = hv_genl_fill_attr(p, HVLAB_NL_A_VCPU_ID, &vcpu_id, sizeof(u32));
	p = hv_genl_fill_attr(p, HVLAB_NL_A_STAT, &stat, sizeof(u32));
	p = hv_genl_fill_attr(p, HVLAB_NL_A_VENDOR_REASON, &ev->vendor_reason, sizeof(u64));
	p = hv_genl_fill_attr(p, HVLAB_NL_A_RIP, &ev->rip, sizeof(u64));
	p = hv_genl_fill_attr(p, HVLAB_NL_A_QUAL, &ev->qual, sizeof(u64));
	p = hv_genl_fill_attr(p, HVLAB_NL_A_CYCLES, &ev->cycles, sizeof(u64));
	p = hv_genl_fill_attr(p, HVLAB_NL_A_TSC, &ev->tsc, sizeof(u64));
	p = hv_genl_fill_attr(p, HVLAB_NL_A_DROPPED, &dropped, sizeof(u64));
	p = hv_genl_fill_attr(p, HVLAB_NL_A_QUAL2, &ev->qual2, sizeof(u64));
	p = hv_genl_fill_attr(p, HVLAB_NL_A_RCX, &ev->rcx, sizeof(u64));
	hv_genl_fill_attr(p, HVLAB_NL_A_WHERE, &ev->where, sizeof(u8));
	genlmsg_end(skb, hdr);
	return 0;
}

/* Is anyone in the multicast group?  A bitmap test in the netlink table. */
bool hv_genl_listening(void)
{
	return genl_has_listeners(&hv_genl_family, &init_net, 0) > 0;
}

/*
 * The workqueue side of the event ring: as many events per skb as fit.
 * Without listeners the events are just consumed.
 */
void hv_genl_send_events(struct work_struct *work)
{
	struct hv_tele *t = container_of(work, struct hv_tele, work);
	u32 tail = t->ev_tail, head = smp_load_acquire(&t->ev_head);
	bool listening = genl_has_listeners(&hv_genl_family, &init_net, 0);
	struct sk_buff *skb = NULL;

	while (listening && tail != head) {
		const struct hv_exit_event *ev = &t->ev[tail & (HV_EVENT_RING - 1)];

		if (!skb) {
			skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
			if (!skb)
				break;
		}
		if (hv_genl_put_event(skb, t->vcpu, ev, READ_ONCE(t->ev_dropped))) {
			if (!skb->len) {	/* cannot happen: one event is small */
				nlmsg_free(skb);
				skb = NULL;
				break;
			}
			genlmsg_multicast(&hv_genl_family, skb, 0, 0, GFP_KERNEL);
			skb = NULL;
			continue;
		}
		tail++;
	}
	if (skb)
		genlmsg_multicast(&hv_genl_family, skb, 0, 0, GFP_KERNEL);
	smp_store_release(&t->ev_tail, head);
}

int hv_genl_init(void)
{
	return genl_register_family(&hv_genl_family);
}

void hv_genl_exit(void)
{
	genl_unregister_family(&hv_genl_family);
}
