/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz.h - what the three fuzzers (test_fuzz_ioctl, test_fuzz_guest,
 * test_fuzz_race) share: the seed, the time budget, a PRNG, the list of
 * outcomes RUN and the other ioctls may have, and the end-of-run health
 * check of the host.
 *
 * Seed and budget.  Every fuzzer prints its seed first and again on any
 * failure.  It runs rounds until the budget is spent; round R draws all its
 * choices from a PRNG seeded with hvt_fuzz_round_seed(seed, R), so
 *   test_fuzz_x --seed S --round R
 * replays exactly that round (single-threaded fuzzers: the same ioctls in
 * the same order; the race fuzzer: the same configuration and operations,
 * the interleaving being the scheduler's).
 *   --seed S        (or $HVLAB_FUZZ_SEED)     default: from the clock
 *   --seconds N     (or $HVLAB_FUZZ_SECONDS)  default: HVT_FUZZ_SECONDS_*
 *   --minutes N     the same in minutes (soaks)
 *   --round R       run only round R
 *   $HVLAB_FUZZ_TRACE=1  print "# round R" before each round, so that a
 *                   run the emulator itself kills (no failure line, no
 *                   totals) still names the round that did it
 * The budget is CLOCK_MONOTONIC time in the PC (on Bochs, emulated time).
 *
 * Health, checked by hvt_fuzz_finish(): no kernel problem in dmesg since
 * hvt_fuzz_init() (the rig's /hvlab/dmesg-check), the module's reference
 * count back where it was, and, if nothing else holds the module, hvlab
 * unloads and loads again.  The rig checks dmesg and rmmod again at the
 * end of the PC run; this makes the failing fuzzer the one that says so,
 * with its seed.
 */
#ifndef HVT_FUZZ_H
#define HVT_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hvtest.h"

/*
 * Default budgets, seconds of PC time: CI runs every fuzzer once per PC,
 * about a minute of wall time each.  QEMU's PC time is about wall time;
 * Bochs' is instruction-driven and slow: test_fuzz_ioctl's 30 PC seconds
 * took about 530 wall seconds in the 2-CPU Bochs PC on the shared host
 * (2026-12-06), so 4 PC seconds there are about a minute.
 */
#define HVT_FUZZ_SECONDS_AMD	60
#define HVT_FUZZ_SECONDS_INTEL	4

struct hvt_fuzz {
	const char *name;
	uint64_t seed;
	double seconds;
	long only_round;	/* --round: -1 for all */
	bool trace;		/* $HVLAB_FUZZ_TRACE: print each round's number */
	double t_start;
	/* Counted with __atomic builtins: the race fuzzer adds from threads. */
	uint64_t ioctls, runs, rounds, failures;
	long dmesg_lines;
	long refcnt0;
};

/* splitmix64: small, fast, and every seed (0 too) gives a good stream. */
struct hvt_rng {
	uint64_t s;
};

static inline uint64_t hvt_rng_next(struct hvt_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform-enough in [0, n); 0 for n == 0. */
static inline uint64_t hvt_rng_below(struct hvt_rng *r, uint64_t n)
{
	return n ? hvt_rng_next(r) % n : 0;
}

static inline bool hvt_rng_pct(struct hvt_rng *r, unsigned int pct)
{
	return hvt_rng_below(r, 100) < pct;
}

#define hvt_rng_pick(r, arr)	((arr)[hvt_rng_below((r), ARRAY_SIZE(arr))])

/* A 64-bit value that is often an edge: 0, 1, -1, powers of two +-1... */
uint64_t hvt_rng_edge(struct hvt_rng *r);
/* Fill @len bytes: random, zero, 0xff, or random with edge words. */
void hvt_rng_fill(struct hvt_rng *r, void *buf, size_t len);

/* Parse options and environment, print the plan and seed; 0 or exits. */
void hvt_fuzz_init(struct hvt_fuzz *f, const char *name, int argc, char **argv);
/* The PRNG state of round @round. */
uint64_t hvt_fuzz_round_seed(const struct hvt_fuzz *f, uint64_t round);
/* Should round @round run?  False once the budget is spent (or --round). */
bool hvt_fuzz_next_round(struct hvt_fuzz *f, uint64_t round);
/* Seconds since hvt_fuzz_init(). */
double hvt_fuzz_elapsed(const struct hvt_fuzz *f);
/* PC time now, in seconds (CLOCK_MONOTONIC). */
double hvt_fuzz_now(void);

/* A failure in round @round: printed with the seed and how to replay it. */
void hvt_fuzz_fail(struct hvt_fuzz *f, uint64_t round, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void hvt_fuzz_count(uint64_t *ctr, uint64_t n)
{
	__atomic_add_fetch(ctr, n, __ATOMIC_RELAXED);
}

/*
 * Is @err (a positive errno) one that a hvlab ioctl may fail with, per
 * uapi/hvlab.h and the wrappers' contract?  Anything else is a failure.
 */
bool hvt_fuzz_errno_ok(int err);
/*
 * Is the result of HVLAB_RUN documented?  @ret as libhvlab returns it
 * (0 or -errno).  On 0 the exit reason must be one of enum
 * hvlab_exit_reason other than NONE, and an INTERNAL exit must carry a
 * known suberror.  Returns NULL if fine, else why not (static text).
 */
const char *hvt_fuzz_run_outcome(int ret, const struct hvlab_run *run);

/*
 * The end: health checks above, the counts, the TAP lines and "# Totals";
 * returns the exit status for main().
 */
int hvt_fuzz_finish(struct hvt_fuzz *f);

/*
 * A SIGALRM that interrupts RUN (no SA_RESTART) after @usec of PC time
 * (0: cancel).  The handler does nothing: RUN returns -EINTR.
 */
void hvt_fuzz_alarm_init(void);
void hvt_fuzz_alarm(long usec);

#endif /* HVT_FUZZ_H */
