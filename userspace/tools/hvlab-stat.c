// SPDX-License-Identifier: GPL-2.0
/*
 * hvlab-stat - hvlab's exit telemetry, from the "hvlab" generic netlink
 * family: a top-like live view per VM, vCPU and exit reason (rate, mean,
 * p50, p99, where handled), or one snapshot as JSON or CSV for scripts.
 *
 *   hvlab-stat [-d SEC] [-n COUNT] [-V VM]      live view (COUNT refreshes)
 *   hvlab-stat --json|--csv [-V VM]             one snapshot
 *   hvlab-stat --reset VM                       zero the VM's statistics
 *   hvlab-stat --events VM [-s N] [-n COUNT]    stream every Nth exit
 *                                               (needs CAP_SYS_ADMIN; a
 *                                               "#" line says it is on,
 *                                               Ctrl-C switches it off)
 * Durations are host TSC cycles from the VM exit to the next VM entry
 * (instructions under QEMU -icount).  "kern%" is the share of the
 * reason's exits handled in the kernel; "rtt" the mean userspace round
 * trip of the others.  Percentiles come from log2 histograms and are
 * interpolated inside a bucket: read them as +-40%.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hvlab_nl.h"

#define MAX_ROWS	4096

struct row {
	struct hvlab_nl_stat st;
	uint64_t prev_count;
	int seen;
};

static struct row rows[MAX_ROWS];
static unsigned int nrows;

/* SIGINT/SIGTERM: finish cleanly (an event stream is switched off first). */
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

enum { OUT_TOP, OUT_JSON, OUT_CSV };

static struct row *find_row(const struct hvlab_nl_stat *st)
{
	unsigned int i;

	for (i = 0; i < nrows; i++)
		if (rows[i].st.vm_id == st->vm_id && rows[i].st.vcpu_id == st->vcpu_id &&
		    rows[i].st.stat == st->stat)
			return &rows[i];
	if (nrows == MAX_ROWS)
		return NULL;
	memset(&rows[nrows], 0, sizeof(rows[0]));
	return &rows[nrows++];
}

static int collect(const struct hvlab_nl_stat *st, void *arg)
{
	struct row *r = find_row(st);

	(void)arg;
	if (!r)
		return 0;
	r->prev_count = r->st.count;	/* 0 for a new row */
	r->st = *st;
	r->seen = 1;
	return 0;
}

/* Kernel and userspace histograms together: where the time of the reason goes. */
static void merged(const struct hvlab_nl_stat *st, uint64_t *h)
{
	unsigned int b;

	for (b = 0; b < HVLAB_HIST_BUCKETS; b++)
		h[b] = st->hist[HVLAB_NL_KERNEL][b] + st->hist[HVLAB_NL_USER][b];
}

static double mean(uint64_t sum, uint64_t n)
{
	return n ? (double)sum / n : 0;
}

static void print_top(double interval, int first)
{
	unsigned int i;

	printf("\033[H\033[2J");
	printf("hvlab-stat: exits per VM / vCPU / reason; cycles from exit to next entry\n\n");
	printf("%5s %4s %-10s %12s %10s %10s %10s %10s %6s %10s\n", "vm", "vcpu", "reason",
	       "count", "rate/s", "mean", "p50", "p99", "kern%", "rtt");
	for (i = 0; i < nrows; i++) {
		const struct hvlab_nl_stat *st = &rows[i].st;
		uint64_t h[HVLAB_HIST_BUCKETS], n = st->n[0] + st->n[1];

		if (!rows[i].seen)
			continue;
		merged(st, h);
		printf("%5u %4u %-10s %12" PRIu64 " %10.0f %10.0f %10.0f %10.0f %6.1f %10.0f\n",
		       st->vm_id, st->vcpu_id, hvlab_stat_name(st->stat), st->count,
		       first ? 0 : (st->count - rows[i].prev_count) / interval,
		       mean(st->cycles[0] + st->cycles[1], n),
		       hvlab_hist_quantile(h, HVLAB_HIST_BUCKETS, 0.5),
		       hvlab_hist_quantile(h, HVLAB_HIST_BUCKETS, 0.99),
		       n ? 100.0 * st->n[0] / n : 0, mean(st->cycles[2], st->n[2]));
	}
	fflush(stdout);
}

static void print_json(void)
{
	unsigned int i, k, b;

	printf("[");
	for (i = 0; i < nrows; i++) {
		const struct hvlab_nl_stat *st = &rows[i].st;
		static const char *const kinds[3] = { "kernel", "user", "rtt" };
		uint64_t h[HVLAB_HIST_BUCKETS];

		merged(st, h);
		printf("%s\n {\"vm\": %u, \"vcpu\": %u, \"pid\": %u, \"uid\": %u, \"reason\": \"%s\", "
		       "\"stat\": %u, \"vendor_reason\": %" PRIu64 ", \"count\": %" PRIu64
		       ", \"exits\": %" PRIu64 ", \"open\": %d, \"p50\": %.0f, \"p99\": %.0f",
		       i ? "," : "", st->vm_id, st->vcpu_id, st->pid, st->owner_uid,
		       hvlab_stat_name(st->stat), st->stat, st->vendor_reason, st->count, st->exits,
		       st->open, hvlab_hist_quantile(h, HVLAB_HIST_BUCKETS, 0.5),
		       hvlab_hist_quantile(h, HVLAB_HIST_BUCKETS, 0.99));
		for (k = 0; k < 3; k++) {
			printf(", \"%s\": {\"n\": %" PRIu64 ", \"cycles\": %" PRIu64 ", \"hist\": [",
			       kinds[k], st->n[k], st->cycles[k]);
			for (b = 0; b < HVLAB_HIST_BUCKETS; b++)
				printf("%s%" PRIu64, b ? ", " : "", st->hist[k][b]);
			printf("]}");
		}
		printf("}");
	}
	printf("\n]\n");
}

static void print_csv(void)
{
	unsigned int i;

	printf("vm,vcpu,reason,stat,vendor_reason,count,n_kernel,n_user,cycles_kernel,cycles_user,"
	       "cycles_rtt,n_rtt,mean,p50,p99,open\n");
	for (i = 0; i < nrows; i++) {
		const struct hvlab_nl_stat *st = &rows[i].st;
		uint64_t h[HVLAB_HIST_BUCKETS];

		merged(st, h);
		printf("%u,%u,%s,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%"
		       PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f,%.0f,%.0f,%d\n",
		       st->vm_id, st->vcpu_id, hvlab_stat_name(st->stat), st->stat,
		       st->vendor_reason, st->count, st->n[0], st->n[1], st->cycles[0],
		       st->cycles[1], st->cycles[2], st->n[2],
		       mean(st->cycles[0] + st->cycles[1], st->n[0] + st->n[1]),
		       hvlab_hist_quantile(h, HVLAB_HIST_BUCKETS, 0.5),
		       hvlab_hist_quantile(h, HVLAB_HIST_BUCKETS, 0.99), st->open);
	}
}

static int print_event(const struct hvlab_nl_event *ev, void *arg)
{
	(void)arg;
	printf("vm %u vcpu %u %-10s reason %#" PRIx64 " rip %#" PRIx64 " qual %#" PRIx64
	       " cycles %" PRIu64 " %s%s\n", ev->vm_id, ev->vcpu_id, hvlab_stat_name(ev->stat),
	       ev->vendor_reason, ev->rip, ev->qual, ev->cycles,
	       ev->where == HVLAB_WHERE_USER ? "user" : "kernel",
	       ev->dropped ? " (events dropped)" : "");
	return 0;
}

/*
 * Print events until @count (or forever when < 0) or a stop signal.  libnl
 * retries a receive that a signal interrupts, so wait in poll() instead,
 * which returns on the signal.
 */
static int stream_events(struct hvlab_nl *nl, long count)
{
	struct pollfd pfd = { .fd = hvlab_nl_event_fd(nl), .events = POLLIN };
	long n = 0;
	int ret;

	while (!stop && (count < 0 || n < count)) {
		ret = poll(&pfd, 1, -1);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		ret = hvlab_nl_recv_events(nl, print_event, NULL);
		if (ret < 0)
			return ret;
		n += ret;
		fflush(stdout);
	}
	return 0;
}

/* The option list is kept in step with man/hvlab-stat.1 (a host test checks). */
static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hvlab-stat [-d SEC] [-n COUNT] [-V VM]        live view\n"
		"       hvlab-stat --json|--csv [-V VM]               one snapshot\n"
		"       hvlab-stat --reset VM\n"
		"       hvlab-stat --events VM [-s N] [-n COUNT]      stream every Nth exit\n"
		"\n"
		"hvlab's exit telemetry from its generic netlink family.\n"
		"\n"
		"  -d, --delay SEC     live view: seconds between refreshes (default 1)\n"
		"  -n, --count COUNT   stop after COUNT refreshes or COUNT events\n"
		"  -V, --vm VM         only the VM with this id (default: every VM)\n"
		"  -j, --json          one snapshot as JSON\n"
		"  -c, --csv           one snapshot as CSV\n"
		"  -r, --reset VM      zero the statistics of VM\n"
		"  -e, --events VM     stream the exits of VM (needs CAP_SYS_ADMIN)\n"
		"  -s, --sample N      with --events: every Nth exit (default 1)\n"
		"  -h, --help          this help\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "vm", required_argument, NULL, 'V' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'c' },
		{ "reset", required_argument, NULL, 'r' },
		{ "events", required_argument, NULL, 'e' },
		{ "sample", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long vm = 0, reset_vm = 0, events_vm = 0, sample = 1;
	long count = -1;
	double delay = 1;
	int mode = OUT_TOP, opt, ret, i;
	struct hvlab_nl *nl;
	char *end;

	while ((opt = getopt_long(argc, argv, "d:n:V:jcr:e:s:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': mode = OUT_JSON; break;
		case 'c': mode = OUT_CSV; break;
		case 'r': reset_vm = strtoul(optarg, &end, 0); if (*end || !reset_vm) goto bad; break;
		case 'e': events_vm = strtoul(optarg, &end, 0); if (*end || !events_vm) goto bad; break;
		case 'V': vm = strtoul(optarg, &end, 0); if (*end || !vm) goto bad; break;
		case 's': sample = strtoul(optarg, &end, 0); if (*end || !sample) goto bad; break;
		case 'n': count = strtol(optarg, &end, 0); if (*end || count < 1) goto bad; break;
		case 'd': delay = strtod(optarg, &end); if (*end || delay <= 0) goto bad; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc)
		goto bad;
	{
		struct sigaction sa = { .sa_handler = on_stop };	/* no SA_RESTART */

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}

	ret = hvlab_nl_open(&nl);
	if (ret) {
		fprintf(stderr, "hvlab-stat: netlink family '%s': %s%s\n", HVLAB_GENL_NAME,
			strerror(-ret), ret == -ENOENT ? " (is hvlab.ko loaded?)" : "");
		return 1;
	}
	if (reset_vm) {
		ret = hvlab_nl_reset(nl, reset_vm);
		if (ret)
			fprintf(stderr, "hvlab-stat: reset VM %lu: %s\n", reset_vm, strerror(-ret));
		hvlab_nl_close(nl);
		return !!ret;
	}
	if (events_vm) {
		ret = hvlab_nl_subscribe(nl);
		if (!ret)
			ret = hvlab_nl_set_events(nl, events_vm, sample);
		if (ret) {
			fprintf(stderr, "hvlab-stat: events of VM %lu: %s\n", events_vm, strerror(-ret));
			hvlab_nl_close(nl);
			return 1;
		}
		printf("# hvlab-stat: every %lu%s exit of VM %lu (Ctrl-C stops)\n", sample,
		       sample == 1 ? "st" : "th", events_vm);
		fflush(stdout);
		ret = stream_events(nl, count);
		/* Whatever ended the stream, the VM stops sending events. */
		if (hvlab_nl_set_events(nl, events_vm, 0) && !ret)
			ret = -EIO;
		hvlab_nl_close(nl);
		if (ret < 0)
			fprintf(stderr, "hvlab-stat: events: %s\n", strerror(-ret));
		return ret < 0;
	}

	for (i = 0; ; i++) {
		unsigned int r;

		for (r = 0; r < nrows; r++)
			rows[r].seen = 0;
		ret = hvlab_nl_dump(nl, vm, collect, NULL);
		if (ret) {
			fprintf(stderr, "hvlab-stat: dump: %s\n", strerror(-ret));
			break;
		}
		if (mode == OUT_JSON) {
			print_json();
			break;
		}
		if (mode == OUT_CSV) {
			print_csv();
			break;
		}
		print_top(delay, i == 0);
		if ((count > 0 && i + 1 >= count) || stop)
			break;
		usleep((useconds_t)(delay * 1e6));
	}
	hvlab_nl_close(nl);
	return !!ret;
bad:
	usage(stderr);
	return 2;
}
