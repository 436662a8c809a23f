// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz.c - seed, budget, PRNG helpers, documented outcomes and the host
 * health check shared by the fuzzers; see fuzz.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#define DMESG_CHECK	"/hvlab/dmesg-check"

uint64_t hvt_rng_edge(struct hvt_rng *r)
{
	static const uint64_t edges[] = {
		0, 1, 2, 3, 7, 8, 0xf, 0x10, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000,
		0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull,
		0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, ~0ull - 1,
		~0xfffull, 0xfffff000ull, 0x00007ffffffff000ull, 0xffff800000000000ull,
		0xa0000, 0xfee00000, 0xfec00000, 0x100000,
	};
	uint64_t v;

	switch (hvt_rng_below(r, 5)) {
	case 0:
		return hvt_rng_pick(r, edges);
	case 1:
		v = 1ull << hvt_rng_below(r, 64);
		return v + hvt_rng_below(r, 3) - 1;	/* 2^n - 1, 2^n, 2^n + 1 */
	case 2:
		return hvt_rng_below(r, 64);
	case 3:
		return hvt_rng_next(r) & ~0xfffull;	/* page aligned */
	default:
		return hvt_rng_next(r);
	}
}

void hvt_rng_fill(struct hvt_rng *r, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t i;

	switch (hvt_rng_below(r, 4)) {
	case 0:
		memset(buf, 0, len);
		return;
	case 1:
		memset(buf, 0xff, len);
		return;
	case 2:
		for (i = 0; i + 8 <= len; i += 8) {
			uint64_t v = hvt_rng_edge(r);

			memcpy(p + i, &v, 8);
		}
		for (; i < len; i++)
			p[i] = hvt_rng_next(r);
		return;
	default:
		for (i = 0; i < len; i++)
			p[i] = hvt_rng_next(r);
	}
}

double hvt_fuzz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double hvt_fuzz_elapsed(const struct hvt_fuzz *f)
{
	return hvt_fuzz_now() - f->t_start;
}

/* Lines in dmesg now (-1 if dmesg cannot be read). */
static long dmesg_lines(void)
{
	char line[1024];
	long n = 0;
	FILE *p;

	p = popen("dmesg 2>/dev/null", "re");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		if (strchr(line, '\n'))
			n++;
	pclose(p);
	return n;
}

static void usage(const char *name)
{
	printf("usage: %s [--seed S] [--seconds N | --minutes N] [--round R]\n"
	       "  environment: HVLAB_FUZZ_SEED, HVLAB_FUZZ_SECONDS, HVLAB_FUZZ_TRACE=1\n", name);
}

void hvt_fuzz_init(struct hvt_fuzz *f, const char *name, int argc, char **argv)
{
	const char *env;
	bool have_seed = false;
	int i;

	memset(f, 0, sizeof(*f));
	f->name = name;
	f->only_round = -1;
	f->seconds = hvt_cpu_vendor() == HVLAB_VENDOR_INTEL ?
		     HVT_FUZZ_SECONDS_INTEL : HVT_FUZZ_SECONDS_AMD;
	env = getenv("HVLAB_FUZZ_SECONDS");
	if (env && *env)
		f->seconds = strtod(env, NULL);
	env = getenv("HVLAB_FUZZ_TRACE");
	f->trace = env && *env && strcmp(env, "0");
	env = getenv("HVLAB_FUZZ_SEED");
	if (env && *env) {
		f->seed = strtoull(env, NULL, 0);
		have_seed = true;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(name);
			exit(0);
		}
		if (!v) {
			usage(name);
			exit(2);
		}
		if (!strcmp(a, "--seed")) {
			f->seed = strtoull(v, NULL, 0);
			have_seed = true;
		} else if (!strcmp(a, "--seconds")) {
			f->seconds = strtod(v, NULL);
		} else if (!strcmp(a, "--minutes")) {
			f->seconds = 60 * strtod(v, NULL);
		} else if (!strcmp(a, "--round")) {
			f->only_round = strtol(v, NULL, 0);
		} else {
			usage(name);
			exit(2);
		}
		i++;
	}
	if (!have_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		f->seed = (uint64_t)ts.tv_sec * 1000000007ull ^ ts.tv_nsec ^
			  (uint64_t)getpid() << 32;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..1\n");
	printf("# %s: seed 0x%016llx, budget %.0f s of PC time%s (replay: %s --seed 0x%016llx)\n",
	       name, (unsigned long long)f->seed, f->seconds,
	       f->only_round >= 0 ? ", one round" : "", name,
	       (unsigned long long)f->seed);
	if (hvt_hvlab_ensure_loaded()) {
		printf("not ok 1 %s # hvlab.ko not loaded\n", name);
		exit(1);
	}
	f->refcnt0 = hvt_module_refcnt(HVT_MODULE);
	f->dmesg_lines = dmesg_lines();
	f->t_start = hvt_fuzz_now();
}

uint64_t hvt_fuzz_round_seed(const struct hvt_fuzz *f, uint64_t round)
{
	struct hvt_rng r = { f->seed ^ (round * 0xd1b54a32d192ed03ull) };

	return hvt_rng_next(&r);
}

bool hvt_fuzz_next_round(struct hvt_fuzz *f, uint64_t round)
{
	bool go;

	if (f->only_round >= 0)
		go = round == (uint64_t)f->only_round;
	else
		go = hvt_fuzz_elapsed(f) < f->seconds;
	if (go && f->trace)
		printf("# round %llu\n", (unsigned long long)round);
	return go;
}

void hvt_fuzz_fail(struct hvt_fuzz *f, uint64_t round, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Enough for a few reproducers; a broken module would flood the log. */
	if (__atomic_add_fetch(&f->failures, 1, __ATOMIC_RELAXED) > 20)
		return;
	printf("# FAIL %s seed 0x%016llx round %llu: %s\n"
	       "#   replay: %s --seed 0x%016llx --round %llu\n",
	       f->name, (unsigned long long)f->seed, (unsigned long long)round, msg,
	       f->name, (unsigned long long)f->seed, (unsigned long long)round);
}

bool hvt_fuzz_errno_ok(int err)
{
	switch (err) {
	case EINVAL:	/* bad argument, reserved bits, bad state */
	case ENOTTY:	/* wrong kind of fd, unknown ioctl */
	case EFAULT:	/* bad user pointer, guest memory not there */
	case EBADF:	/* closed fd */
	case EEXIST:	/* slot overlap, vCPU id taken */
	case ENOENT:
	case ENOSPC:	/* routes, slots */
	case EBUSY:	/* RUN in another thread, an event already queued, max_vms */
	case E2BIG:	/* GET_CPUID nent too small */
	case EOPNOTSUPP:	/* backing memory of the wrong kind */
	case ENOMEM:
	case EINTR:	/* a signal, immediate_exit */
	case EIO:	/* RUN from another process */
	case EACCES:
	case EPERM:
	case ENXIO:	/* mmap offset */
	case ENODEV:	/* mmap of an fd that has none */
	case EAGAIN:
	case ESHUTDOWN:	/* the CPU's virtualization was switched off (reboot) */
	case EMFILE:	/* our own fd limit */
	case ENODATA:	/* GET_VENDOR_STATE: capture off, or no exit captured yet */
		return true;
	default:
		return false;
	}
}

const char *hvt_fuzz_run_outcome(int ret, const struct hvlab_run *run)
{
	if (ret < 0)
		return hvt_fuzz_errno_ok(-ret) ? NULL : "RUN failed with an undocumented errno";
	if (ret > 0)
		return "RUN returned a positive value";
	switch (run->exit_reason) {
	case HVLAB_EXIT_IO:
		if ((run->io.size != 1 && run->io.size != 2 && run->io.size != 4) ||
		    run->io.direction > HVLAB_IO_OUT ||
		    run->io.data_offset + (uint64_t)run->io.size * run->io.count > 4096)
			return "IO exit with an impossible record";
		return NULL;
	case HVLAB_EXIT_MMIO:
		if (run->mmio.len != 1 && run->mmio.len != 2 && run->mmio.len != 4 &&
		    run->mmio.len != 8)
			return "MMIO exit with an impossible length";
		return NULL;
	case HVLAB_EXIT_HLT:
	case HVLAB_EXIT_SHUTDOWN:
	case HVLAB_EXIT_FAIL_ENTRY:
	case HVLAB_EXIT_IRQ_WINDOW:
	case HVLAB_EXIT_CPUID:
	case HVLAB_EXIT_MSR:
		return NULL;
	case HVLAB_EXIT_INTERNAL:
		if (run->internal.suberror < HVLAB_INTERNAL_UNHANDLED_EXIT ||
		    run->internal.suberror > HVLAB_INTERNAL_PAGE_WALK)
			return "INTERNAL exit with an unknown suberror";
		if (run->internal.ndata > 16)
			return "INTERNAL exit with ndata > 16";
		return NULL;
	default:
		return "RUN returned 0 with no defined exit reason";
	}
}

int hvt_fuzz_finish(struct hvt_fuzz *f)
{
	char cmd[256];
	long refcnt;
	int st, ok;

	printf("# %s: %llu rounds, %llu ioctls, %llu guest runs in %.1f s (seed 0x%016llx)\n",
	       f->name, (unsigned long long)f->rounds, (unsigned long long)f->ioctls,
	       (unsigned long long)f->runs, hvt_fuzz_elapsed(f),
	       (unsigned long long)f->seed);

	/* Let deferred frees (RCU, fput work) finish before counting refs. */
	usleep(200 * 1000);
	refcnt = hvt_module_refcnt(HVT_MODULE);
	if (refcnt != f->refcnt0)
		hvt_fuzz_fail(f, 0, "module refcount %ld after closing everything, %ld before",
			      refcnt, f->refcnt0);
	else if (refcnt == 0) {
		/* Nothing else holds it: it must unload and come back. */
		st = hvt_module_unload(HVT_MODULE);
		if (st)
			hvt_fuzz_fail(f, 0, "rmmod hvlab: %s", strerror(-st));
		st = hvt_hvlab_ensure_loaded();
		if (st)
			hvt_fuzz_fail(f, 0, "insmod hvlab after rmmod: %s", strerror(-st));
		else
			printf("# %s: hvlab unloaded and loaded again cleanly\n", f->name);
	}

	if (f->dmesg_lines >= 0 && !access(DMESG_CHECK, X_OK)) {
		snprintf(cmd, sizeof(cmd), "dmesg | tail -n +%ld | " DMESG_CHECK,
			 f->dmesg_lines + 1);
		st = hvt_system(cmd);
		if (st != 0)
			hvt_fuzz_fail(f, 0, "kernel problems in dmesg (above), status %d", st);
		else
			printf("# %s: dmesg: no oops, WARN, BUG or lockup reports\n", f->name);
	}

	ok = f->failures == 0;
	printf("%s 1 %s\n", ok ? "ok" : "not ok", f->name);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n", ok, !ok);
	if (!ok)
		printf("# %s: %llu failures; seed 0x%016llx\n", f->name,
		       (unsigned long long)f->failures, (unsigned long long)f->seed);
	return ok ? 0 : 1;
}

static void alarm_handler(int sig)
{
	(void)sig;
}

void hvt_fuzz_alarm_init(void)
{
	struct sigaction sa = { .sa_handler = alarm_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: RUN returns -EINTR */
}

void hvt_fuzz_alarm(long usec)
{
	struct itimerval it = {
		.it_value = { .tv_sec = usec / 1000000, .tv_usec = usec % 1000000 },
		/*
		 * Periodic: a tick that lands before RUN starts would
		 * otherwise leave a looping guest unbounded.
		 */
		.it_interval = { .tv_sec = usec / 1000000, .tv_usec = usec % 1000000 },
	};

	setitimer(ITIMER_REAL, &it, NULL);
}
