// SPDX-License-Identifier: GPL-2.0
/*
 * hvlab_nl.c - libnl-3 client of the "hvlab" generic netlink family.
 *
 * Two sockets: one for requests (dump, reset, set-events) with sequence
 * checking, one for the multicast group (no sequence numbers there).
 * Kernel errors come back as NLMSG_ERROR; the error callback keeps the
 * errno so callers see -EPERM, -ENOENT... instead of libnl's own codes.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

#include "hvlab_nl.h"

struct hvlab_nl {
	struct nl_sock *sk;		/* requests */
	struct nl_sock *ev;		/* multicast, after hvlab_nl_subscribe() */
	int family;
	int last;		/* last libnl error code (negative NLE_*) */
};

const char *hvlab_nl_last_error(struct hvlab_nl *nl)
{
	return nl->last ? nl_geterror(nl->last) : "none";
}

static const char *const stat_names[] = {
	[HVLAB_STAT_EXTERNAL_INTERRUPT] = "extint",
	[HVLAB_STAT_NMI]		= "nmi",
	[HVLAB_STAT_CPUID]		= "cpuid",
	[HVLAB_STAT_HLT]		= "hlt",
	[HVLAB_STAT_IO]			= "io",
	[HVLAB_STAT_MMIO]		= "mmio",
	[HVLAB_STAT_MSR_READ]		= "rdmsr",
	[HVLAB_STAT_MSR_WRITE]		= "wrmsr",
	[HVLAB_STAT_NESTED_PAGE_FAULT]	= "npf",
	[HVLAB_STAT_IRQ_WINDOW]		= "irqwin",
	[HVLAB_STAT_SHUTDOWN]		= "shutdown",
	[HVLAB_STAT_HYPERCALL]		= "hypercall",
	[HVLAB_STAT_EXCEPTION]		= "exception",
	[HVLAB_STAT_CR_ACCESS]		= "cr",
	[HVLAB_STAT_OTHER]		= "other",
	[HVLAB_STAT_ENTRY_FAILURE]	= "entryfail",
	[HVLAB_STAT_TIMESLICE]		= "timeslice",
	[HVLAB_STAT_INVD]		= "invd",
	[HVLAB_STAT_XSETBV]		= "xsetbv",
	[HVLAB_STAT_VIRT_INSN]		= "virtinsn",
	[HVLAB_STAT_MONITOR_MWAIT]	= "mwait",
	[HVLAB_STAT_SMI]		= "smi",
	[HVLAB_STAT_INTERNAL]		= "internal",
	[HVLAB_STAT_APIC_ACCESS]	= "apic",
	[HVLAB_STAT_APIC_ICR]		= "icr",
	[HVLAB_STAT_APIC_EOI]		= "eoi",
	[HVLAB_STAT_APIC_TIMER]		= "apictimer",
};

const char *hvlab_stat_name(unsigned int stat)
{
	if (stat < sizeof(stat_names) / sizeof(stat_names[0]) && stat_names[stat])
		return stat_names[stat];
	return "?";
}

uint64_t hvlab_hist_sum(const uint64_t *hist, unsigned int nb)
{
	uint64_t s = 0;
	unsigned int i;

	for (i = 0; i < nb; i++)
		s += hist[i];
	return s;
}

/* Bucket b holds [2^(b-1), 2^b): interpolate geometrically inside it. */
double hvlab_hist_quantile(const uint64_t *hist, unsigned int nb, double p)
{
	uint64_t total = hvlab_hist_sum(hist, nb), seen = 0;
	double want = p * total;
	unsigned int b;

	if (!total)
		return 0;
	for (b = 0; b < nb; b++) {
		if (seen + hist[b] >= want && hist[b]) {
			double lo = b ? ldexp(1, b - 1) : 0, hi = ldexp(1, b);
			double f = (want - seen) / hist[b];

			if (b == 0)
				return 0;
			return lo * pow(hi / lo, f);
		}
		seen += hist[b];
	}
	return ldexp(1, nb - 1);
}

static int err_cb(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	(void)nla;
	*(int *)arg = err->error;	/* already negative */
	return NL_STOP;
}

static int ack_cb(struct nl_msg *msg, void *arg)
{
	(void)msg;
	*(int *)arg = 0;
	return NL_STOP;
}

static int nlerr(int e)
{
	/* libnl's codes to errno, for the few that matter here. */
	switch (-e) {
	case NLE_NOMEM:		return -ENOMEM;
	case NLE_PERM:		return -EPERM;
	case NLE_OBJ_NOTFOUND:	return -ENOENT;
	case NLE_INVAL:		return -EINVAL;
	default:		return -EIO;
	}
}

int hvlab_nl_open(struct hvlab_nl **out)
{
	struct hvlab_nl *nl = calloc(1, sizeof(*nl));
	int ret;

	if (!nl)
		return -ENOMEM;
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		free(nl);
		return -ENOMEM;
	}
	ret = genl_connect(nl->sk);
	if (ret < 0)
		goto err;
	nl->family = genl_ctrl_resolve(nl->sk, HVLAB_GENL_NAME);
	if (nl->family < 0) {
		ret = nl->family == -NLE_OBJ_NOTFOUND ? -NLE_OBJ_NOTFOUND : nl->family;
		goto err;
	}
	*out = nl;
	return 0;
err:
	nl_socket_free(nl->sk);
	free(nl);
	return nlerr(ret);
}

void hvlab_nl_close(struct hvlab_nl *nl)
{
	if (!nl)
		return;
	if (nl->ev)
		nl_socket_free(nl->ev);
	nl_socket_free(nl->sk);
	free(nl);
}

static uint64_t get_u64(struct nlattr **tb, int a)
{
	return tb[a] ? nla_get_u64(tb[a]) : 0;
}

static uint32_t get_u32(struct nlattr **tb, int a)
{
	return tb[a] ? nla_get_u32(tb[a]) : 0;
}

struct dump_ctx {
	hvlab_nl_stat_fn cb;
	void *arg;
	int err;	/* from the kernel's NLMSG_ERROR, or our callback */
};

static int dump_msg(struct nl_msg *msg, void *arg)
{
	struct dump_ctx *ctx = arg;
	struct nlattr *tb[HVLAB_NL_A_MAX + 1];
	struct hvlab_nl_stat st;
	int i, ret;

	ret = genlmsg_parse(nlmsg_hdr(msg), 0, tb, HVLAB_NL_A_MAX, NULL);
	if (ret < 0) {
		ctx->err = -EPROTO;
		return NL_STOP;
	}
	memset(&st, 0, sizeof(st));
	st.vm_id = get_u32(tb, HVLAB_NL_A_VM_ID);
	st.vcpu_id = get_u32(tb, HVLAB_NL_A_VCPU_ID);
	st.pid = get_u32(tb, HVLAB_NL_A_PID);
	st.owner_uid = get_u32(tb, HVLAB_NL_A_OWNER_UID);
	st.stat = get_u32(tb, HVLAB_NL_A_STAT);
	st.count = get_u64(tb, HVLAB_NL_A_COUNT);
	st.exits = get_u64(tb, HVLAB_NL_A_EXITS);
	st.n[0] = get_u64(tb, HVLAB_NL_A_N_KERNEL);
	st.n[1] = get_u64(tb, HVLAB_NL_A_N_USER);
	st.cycles[0] = get_u64(tb, HVLAB_NL_A_CYC_KERNEL);
	st.cycles[1] = get_u64(tb, HVLAB_NL_A_CYC_USER);
	st.cycles[2] = get_u64(tb, HVLAB_NL_A_CYC_RTT);
	st.vendor_reason = get_u64(tb, HVLAB_NL_A_VENDOR_REASON);
	st.open = tb[HVLAB_NL_A_OPEN] ? nla_get_u8(tb[HVLAB_NL_A_OPEN]) : 0;
	for (i = 0; i < 3; i++) {
		struct nlattr *a = tb[HVLAB_NL_A_HIST_KERNEL + i];

		if (a && nla_len(a) == sizeof(st.hist[i]))
			memcpy(st.hist[i], nla_data(a), sizeof(st.hist[i]));
	}
	st.n[2] = hvlab_hist_sum(st.hist[2], HVLAB_HIST_BUCKETS);
	if (ctx->cb && ctx->cb(&st, ctx->arg)) {
		ctx->err = -ECANCELED;
		return NL_STOP;
	}
	return NL_OK;
}

/* NLMSG_DONE carries the dump's errno when its first part failed (e.g. -EPERM). */
static int finish_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct dump_ctx *ctx = arg;
	int e;

	if (nlmsg_datalen(h) >= (int)sizeof(e)) {
		memcpy(&e, nlmsg_data(h), sizeof(e));
		if (e < 0 && !ctx->err)
			ctx->err = e;
	}
	return NL_STOP;
}

int hvlab_nl_dump(struct hvlab_nl *nl, uint32_t vm_id, hvlab_nl_stat_fn cb, void *arg)
{
	struct dump_ctx ctx = { .cb = cb, .arg = arg };
	struct nl_msg *msg = nlmsg_alloc();
	struct nl_cb *ncb;
	int ret;

	if (!msg)
		return -ENOMEM;
	ncb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!ncb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, NLM_F_DUMP,
			 HVLAB_NL_CMD_GET_STATS, HVLAB_GENL_VERSION) ||
	    (vm_id && nla_put_u32(msg, HVLAB_NL_A_VM_ID, vm_id))) {
		ret = -ENOMEM;
		goto out;
	}
	nl_cb_set(ncb, NL_CB_VALID, NL_CB_CUSTOM, dump_msg, &ctx);
	nl_cb_set(ncb, NL_CB_FINISH, NL_CB_CUSTOM, finish_cb, &ctx);
	nl_cb_err(ncb, NL_CB_CUSTOM, err_cb, &ctx.err);
	ret = nl_send_auto(nl->sk, msg);
	if (ret < 0) {
		ret = nlerr(ret);
		goto out;
	}
	ret = nl_recvmsgs(nl->sk, ncb);
	if (ctx.err)
		ret = ctx.err;
	else if (ret < 0)
		ret = nlerr(ret);
	else
		ret = 0;
out:
	nl_cb_put(ncb);
	nlmsg_free(msg);
	return ret;
}

/* A command with an ACK: 0 or the kernel's -errno. */
static int do_cmd(struct hvlab_nl *nl, uint8_t cmd, uint32_t vm_id, int sample)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct nl_cb *ncb;
	int ret, err = 1;

	if (!msg)
		return -ENOMEM;
	ncb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!ncb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, NLM_F_ACK, cmd,
			 HVLAB_GENL_VERSION) ||
	    nla_put_u32(msg, HVLAB_NL_A_VM_ID, vm_id) ||
	    (sample >= 0 && nla_put_u32(msg, HVLAB_NL_A_SAMPLE, sample))) {
		ret = -ENOMEM;
		goto out;
	}
	nl_cb_err(ncb, NL_CB_CUSTOM, err_cb, &err);
	nl_cb_set(ncb, NL_CB_ACK, NL_CB_CUSTOM, ack_cb, &err);
	ret = nl_send_auto(nl->sk, msg);
	if (ret < 0) {
		ret = nlerr(ret);
		goto out;
	}
	while (err == 1) {
		ret = nl_recvmsgs(nl->sk, ncb);
		if (ret < 0 && err == 1) {
			err = nlerr(ret);
			break;
		}
	}
	ret = err;
out:
	nl_cb_put(ncb);
	nlmsg_free(msg);
	return ret;
}

int hvlab_nl_reset(struct hvlab_nl *nl, uint32_t vm_id)
{
	return do_cmd(nl, HVLAB_NL_CMD_RESET, vm_id, -1);
}

int hvlab_nl_set_events(struct hvlab_nl *nl, uint32_t vm_id, uint32_t sample)
{
	return do_cmd(nl, HVLAB_NL_CMD_SET_EVENTS, vm_id, (int)(sample & 0x7fffffff));
}

int hvlab_nl_subscribe(struct hvlab_nl *nl)
{
	int grp, ret;

	if (nl->ev)
		return 0;
	grp = genl_ctrl_resolve_grp(nl->sk, HVLAB_GENL_NAME, HVLAB_GENL_MCGRP);
	if (grp < 0)
		return nlerr(grp);
	nl->ev = nl_socket_alloc();
	if (!nl->ev)
		return -ENOMEM;
	nl_socket_disable_seq_check(nl->ev);
	ret = genl_connect(nl->ev);
	if (!ret)
		ret = nl_socket_add_membership(nl->ev, grp);
	if (ret < 0) {
		nl_socket_free(nl->ev);
		nl->ev = NULL;
		return ret == -NLE_PERM ? -EPERM : nlerr(ret);
	}
	return 0;
}

int hvlab_nl_event_fd(struct hvlab_nl *nl)
{
	return nl->ev ? nl_socket_get_fd(nl->ev) : -EBADF;
}

struct ev_ctx {
	hvlab_nl_event_fn cb;
	void *arg;
	int n;
};

static int event_msg(struct nl_msg *msg, void *arg)
{
	struct ev_ctx *ctx = arg;
	struct nlattr *tb[HVLAB_NL_A_MAX + 1];
	struct hvlab_nl_event ev;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, HVLAB_NL_A_MAX, NULL) < 0)
		return NL_SKIP;
	memset(&ev, 0, sizeof(ev));
	ev.vm_id = get_u32(tb, HVLAB_NL_A_VM_ID);
	ev.vcpu_id = get_u32(tb, HVLAB_NL_A_VCPU_ID);
	ev.stat = get_u32(tb, HVLAB_NL_A_STAT);
	ev.where = tb[HVLAB_NL_A_WHERE] ? nla_get_u8(tb[HVLAB_NL_A_WHERE]) : 0;
	ev.vendor_reason = get_u64(tb, HVLAB_NL_A_VENDOR_REASON);
	ev.rip = get_u64(tb, HVLAB_NL_A_RIP);
	ev.qual = get_u64(tb, HVLAB_NL_A_QUAL);
	ev.cycles = get_u64(tb, HVLAB_NL_A_CYCLES);
	ev.tsc = get_u64(tb, HVLAB_NL_A_TSC);
	ev.dropped = get_u64(tb, HVLAB_NL_A_DROPPED);
	ev.qual2 = get_u64(tb, HVLAB_NL_A_QUAL2);
	ev.rcx = get_u64(tb, HVLAB_NL_A_RCX);
	ctx->n++;
	if (ctx->cb && ctx->cb(&ev, ctx->arg))
		return NL_STOP;
	return NL_OK;
}

static int no_seq_check(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

/* Returns the number of events handled in this batch, or -errno. */
int hvlab_nl_recv_events(struct hvlab_nl *nl, hvlab_nl_event_fn cb, void *arg)
{
	struct ev_ctx ctx = { .cb = cb, .arg = arg };
	struct nl_cb *ncb;
	int ret;

	if (!nl->ev)
		return -EBADF;
	ncb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!ncb)
		return -ENOMEM;
	nl_cb_set(ncb, NL_CB_VALID, NL_CB_CUSTOM, event_msg, &ctx);
	/* Multicast messages carry no sequence numbers of ours. */
	nl_cb_set(ncb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, no_seq_check, NULL);
	ret = nl_recvmsgs(nl->ev, ncb);
	nl_cb_put(ncb);
	if (ret < 0) {
		nl->last = ret;
		return nlerr(ret);
	}
	return ctx.n;
}
