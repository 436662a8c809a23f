/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hvlab_nl.h - the userspace side of hvlab's generic netlink family
 * (exit telemetry, uapi/hvlab.h) on libnl-3: dump, reset, event sampling
 * and the multicast stream of exits.  Used by hvlab-stat and the
 * selftests.  Same error convention as libhvlab: >= 0 or -errno.
 */
#ifndef HVLAB_NL_H
#define HVLAB_NL_H

#include <stdint.h>
#include <hvlab.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hvlab_nl;

/* One GET_STATS message: one VM, vCPU and reason. */
struct hvlab_nl_stat {
	uint32_t vm_id, vcpu_id, pid, owner_uid, stat;
	uint64_t count, exits;
	uint64_t n[3], cycles[3];		/* kernel, user, userspace round trip */
	uint64_t hist[3][HVLAB_HIST_BUCKETS];
	uint64_t vendor_reason;
	int open;
};
#define HVLAB_NL_KERNEL	0
#define HVLAB_NL_USER	1
#define HVLAB_NL_RTT	2

struct hvlab_nl_event {
	uint32_t vm_id, vcpu_id, stat, where;
	uint64_t vendor_reason, rip, qual, cycles, tsc, dropped;
	uint64_t qual2, rcx;	/* VMX GPA / SVM EXITINFO2; RCX (MSR index) */
};

/* Open a socket and resolve the family; -ENOENT if hvlab.ko is not loaded. */
int hvlab_nl_open(struct hvlab_nl **nl);
void hvlab_nl_close(struct hvlab_nl *nl);

/* Dump every readable VM (@vm_id 0) or one; @cb per message, non-zero stops. */
typedef int (*hvlab_nl_stat_fn)(const struct hvlab_nl_stat *st, void *arg);
int hvlab_nl_dump(struct hvlab_nl *nl, uint32_t vm_id, hvlab_nl_stat_fn cb, void *arg);
int hvlab_nl_reset(struct hvlab_nl *nl, uint32_t vm_id);
int hvlab_nl_set_events(struct hvlab_nl *nl, uint32_t vm_id, uint32_t sample);

/* Join the multicast group (CAP_SYS_ADMIN), then receive: blocks for one batch. */
typedef int (*hvlab_nl_event_fn)(const struct hvlab_nl_event *ev, void *arg);
int hvlab_nl_subscribe(struct hvlab_nl *nl);
int hvlab_nl_recv_events(struct hvlab_nl *nl, hvlab_nl_event_fn cb, void *arg);
int hvlab_nl_event_fd(struct hvlab_nl *nl);
/* libnl's description of the last libnl-level failure, for logs. */
const char *hvlab_nl_last_error(struct hvlab_nl *nl);

/* Names and histogram helpers. */
const char *hvlab_stat_name(unsigned int stat);
/* The duration below which fraction @p of the histogram lies (log-linear inside a bucket). */
double hvlab_hist_quantile(const uint64_t *hist, unsigned int nb, double p);
uint64_t hvlab_hist_sum(const uint64_t *hist, unsigned int nb);

#ifdef __cplusplus
}
#endif

#endif /* HVLAB_NL_H */
