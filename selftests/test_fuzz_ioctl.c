// SPDX-License-Identifier: GPL-2.0
/*
 * test_fuzz_ioctl.c - random sequences over every hvlab ioctl, on system,
 * VM and vCPU fds and on the wrong fds, with edge-case arguments; odd
 * mmaps of the run page and the journal; odd close orders; ioctls from a
 * forked child.  Seeded and time-bounded (lib/fuzz.h: --seed, --seconds,
 * --round).
 *
 * Passes if every ioctl on an hvlab fd returns >= 0 or an errno the ABI
 * allows, every RUN ends in a documented outcome, and the host stays
 * healthy (hvt_fuzz_finish(): dmesg, refcount, rmmod).  Runs on both
 * vendors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>

#include "fuzz.h"

#define MAX_FDS		32
#define MAX_MAPS	32
#define OPS_PER_ROUND	160
#define RUN_ALARM_US	5000	/* each RUN is cut by SIGALRM after this */

enum kind { K_SYS, K_VM, K_VCPU, K_OTHER };

struct fdent {
	int fd;
	enum kind kind;
	struct hvlab_run *run;	/* vCPU: its run page, if mapped */
};

struct map {
	void *p;
	size_t len;
};

struct round {
	struct hvt_fuzz *f;
	uint64_t n;
	struct hvt_rng rng;
	struct fdent fds[MAX_FDS];
	int nfds;
	struct map maps[MAX_MAPS];
	int nmaps;
	int run_size;
	uint8_t *buf;		/* two pages; the second is PROT_NONE */
};

static const unsigned long hvlab_cmds[] = {
	HVLAB_GET_API_VERSION, HVLAB_CHECK_CAP, HVLAB_GET_VCPU_MMAP_SIZE,
	HVLAB_CREATE_VM, HVLAB_SET_MEMORY_REGION, HVLAB_CREATE_VCPU,
	HVLAB_GET_VM_ID, HVLAB_GET_REGS, HVLAB_SET_REGS, HVLAB_GET_SREGS,
	HVLAB_SET_SREGS, HVLAB_INJECT, HVLAB_GET_CPUID, HVLAB_SET_CPUID,
	HVLAB_SET_MSR_POLICY, HVLAB_GET_EXIT_STATS, HVLAB_SET_EXIT_ROUTE,
	HVLAB_THAW_JOURNAL, HVLAB_RUN,
	HVLAB_CAPTURE_STATE, HVLAB_GET_VENDOR_STATE,
};

static sigjmp_buf touch_jmp;
static volatile sig_atomic_t touching;

static uint64_t cur_round;

static void touch_fault(int sig, siginfo_t *si, void *uc)
{
	char msg[160];
	int n;

	if (touching)
		siglongjmp(touch_jmp, sig);
	/* Our own bug, not hvlab's: say where, with the round to replay. */
	n = snprintf(msg, sizeof(msg), "# test_fuzz_ioctl: signal %d at %p, rip %llx, in round %llu\n",
		     sig, si->si_addr, (unsigned long long)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP],
		     (unsigned long long)cur_round);
	write(1, msg, n);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Read (and maybe write) a byte of a new mapping; SIGBUS/SIGSEGV are fine. */
static void touch(struct round *r, void *p, bool write)
{
	if (sigsetjmp(touch_jmp, 1)) {
		touching = 0;
		return;
	}
	touching = 1;
	(void)*(volatile uint8_t *)p;
	if (write)
		*(volatile uint8_t *)p = hvt_rng_next(&r->rng);
	touching = 0;
}

static int add_fd(struct round *r, int fd, enum kind kind)
{
	if (r->nfds == MAX_FDS) {
		close(fd);
		return -1;
	}
	r->fds[r->nfds] = (struct fdent){ .fd = fd, .kind = kind };
	return r->nfds++;
}

/* Keep a mapping for the teardown; false (and unmapped) if the table is full. */
static bool add_map(struct round *r, void *p, size_t len)
{
	if (r->nmaps == MAX_MAPS) {
		munmap(p, len);
		return false;
	}
	r->maps[r->nmaps++] = (struct map){ p, len };
	return true;
}

static struct fdent *pick_fd(struct round *r, int want)
{
	int i, start;

	if (!r->nfds)
		return NULL;
	start = hvt_rng_below(&r->rng, r->nfds);
	if (want < 0)
		return &r->fds[start];
	for (i = 0; i < r->nfds; i++) {
		struct fdent *e = &r->fds[(start + i) % r->nfds];

		if ((int)e->kind == want)
			return e;
	}
	return NULL;
}

/* An ioctl's result on an hvlab fd must be >= 0 or an allowed errno. */
static long do_ioctl(struct round *r, struct fdent *e, unsigned long cmd, unsigned long arg)
{
	long ret;

	ret = ioctl(e->fd, cmd, arg);
	hvt_fuzz_count(&r->f->ioctls, 1);
	if (ret < 0 && e->kind != K_OTHER && !hvt_fuzz_errno_ok(errno))
		hvt_fuzz_fail(r->f, r->n, "ioctl 0x%lx on fd kind %d: undocumented errno %d (%s)",
			      cmd, e->kind, errno, strerror(errno));
	return ret < 0 ? -errno : ret;
}

/* A pointer argument: mostly a buffer, sometimes one that runs into the guard page. */
static unsigned long ptr_arg(struct round *r, size_t size)
{
	static const unsigned long bad[] = {
		0, 1, 0x1000, 0xffffffff81000000ul, 0x8000000000000000ul, ~0ul,
		0x00007ffffffff000ul,
	};
	size_t off;

	switch (hvt_rng_below(&r->rng, 8)) {
	case 0:
		return hvt_rng_pick(&r->rng, bad);
	case 1:
		/* Straddles the guard page by 1..size bytes. */
		off = 4096 - size + 1 + hvt_rng_below(&r->rng, size ? size : 1);
		return (unsigned long)r->buf + off;
	default:
		off = size < 4096 ? hvt_rng_below(&r->rng, 4096 - size + 1) : 0;
		hvt_rng_fill(&r->rng, r->buf + off, size < 4096 ? size : 4096);
		return (unsigned long)r->buf + off;
	}
}

/* Guest memory for a slot: the kinds of backing the ABI names, and others. */
static uint64_t backing(struct round *r, uint64_t *size)
{
	size_t len = (1 + hvt_rng_below(&r->rng, 64)) * 4096;
	int prot = PROT_READ | PROT_WRITE, fd, i;
	void *p = MAP_FAILED;

	switch (hvt_rng_below(&r->rng, 7)) {
	case 0:		/* memfd (shmem) */
		fd = memfd_create("fuzz", 0);
		if (fd >= 0 && !ftruncate(fd, len))
			p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
		if (fd >= 0)
			close(fd);
		break;
	case 1:		/* read-only anonymous */
		prot = PROT_READ;
		p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case 2:		/* PROT_NONE */
		p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case 3:		/* somebody's run page or journal (VM_IO/PFN maps) */
		for (i = 0; i < r->nmaps; i++) {
			struct map *m = &r->maps[hvt_rng_below(&r->rng, r->nmaps)];

			*size = m->len & ~0xfffull;
			return (uintptr_t)m->p;
		}
		/* fall through */
	case 4:		/* an address with nothing mapped */
		*size = len;
		return 0x10000000000ull + hvt_rng_below(&r->rng, 1024) * 4096;
	default:	/* anonymous, touched or not */
		p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED && hvt_rng_pct(&r->rng, 50))
			memset(p, 0xf4, len);	/* HLT everywhere */
		break;
	}
	if (p == MAP_FAILED) {
		*size = len;
		return 0;
	}
	add_map(r, p, len);
	*size = len;
	return (uintptr_t)p;
}

static void op_set_region(struct round *r, struct fdent *e)
{
	static const uint32_t slots[] = { 0, 1, 2, 3, 31, 32, 63, 64, 255, 0xffffffff };
	static const uint64_t gpas[] = {
		0, 0x1000, 0xa0000, 0xf0000, 0x100000, 0xfee00000, 0xffff0000,
		0x100000000ull, 1ull << 39, 1ull << 46, 1ull << 52, ~0xfffull,
	};
	struct hvlab_memory_region m = { 0 };
	uint64_t size;

	m.slot = hvt_rng_pct(&r->rng, 80) ? hvt_rng_below(&r->rng, 4) : hvt_rng_pick(&r->rng, slots);
	m.userspace_addr = backing(r, &size);
	m.memory_size = hvt_rng_pct(&r->rng, 15) ? 0 : size;
	m.guest_phys_addr = hvt_rng_pct(&r->rng, 70) ? hvt_rng_below(&r->rng, 64) * 0x10000 :
			    hvt_rng_pick(&r->rng, gpas);
	if (hvt_rng_pct(&r->rng, 10))
		m.flags = hvt_rng_next(&r->rng);
	else
		m.flags = hvt_rng_below(&r->rng, 4);
	if (hvt_rng_pct(&r->rng, 5))
		m.guest_phys_addr |= hvt_rng_below(&r->rng, 4096);
	if (hvt_rng_pct(&r->rng, 5))
		m.memory_size = hvt_rng_edge(&r->rng);
	if (hvt_rng_pct(&r->rng, 5))
		m.userspace_addr = hvt_rng_edge(&r->rng);
	if (hvt_rng_pct(&r->rng, 3))
		m.reserved[hvt_rng_below(&r->rng, 2)] = hvt_rng_edge(&r->rng) | 1;
	memcpy(r->buf + 4096 - sizeof(m), &m, sizeof(m));
	do_ioctl(r, e, HVLAB_SET_MEMORY_REGION, (unsigned long)(r->buf + 4096 - sizeof(m)));
}

static bool amd;

/*
 * ../shared/emulators.md lists two QEMU 7.2 bugs that SET_SREGS alone can
 * walk into; steer around them on AMD, and only there:
 *  - EFER.LME=1 with CR4.PAE=0 and paging off: RUN never returns and
 *    the PC's CPU stops answering.  Clear LME then.
 *  - ring 3 with a busy TSS type in TR: an INT n through a ring-0 gate
 *    aborts QEMU.  Make TR an available TSS then.
 */
static void steer_sregs(struct hvlab_sregs *s)
{
	if (!amd)
		return;
	if ((s->efer & (1ull << 8)) && !(s->cr4 & (1ull << 5)) && !(s->cr0 & (1ull << 31)))
		s->efer &= ~(1ull << 8);
	if ((s->tr.type & 0xf) == 0xb && (s->cs.dpl == 3 || s->ss.dpl == 3 || (s->cs.selector & 3)))
		s->tr.type = 9;
}

/* SET_SREGS: the vCPU's own state with a few fields disturbed. */
static void op_sregs(struct round *r, struct fdent *e)
{
	struct hvlab_sregs s;
	uint8_t *b = (uint8_t *)&s;
	unsigned int i, n;

	if (do_ioctl(r, e, HVLAB_GET_SREGS, (unsigned long)&s) < 0)
		hvt_rng_fill(&r->rng, &s, sizeof(s));
	n = hvt_rng_below(&r->rng, 6);
	for (i = 0; i < n; i++) {
		switch (hvt_rng_below(&r->rng, 6)) {
		case 0: s.cr0 ^= 1ull << hvt_rng_below(&r->rng, 64); break;
		case 1: s.cr4 ^= 1ull << hvt_rng_below(&r->rng, 64); break;
		case 2: s.efer ^= 1ull << hvt_rng_below(&r->rng, 64); break;
		case 3: s.cr3 = hvt_rng_edge(&r->rng); break;
		case 4: b[hvt_rng_below(&r->rng, offsetof(struct hvlab_sregs, cr0))] ^=
				1 << hvt_rng_below(&r->rng, 8); break;
		default: b[hvt_rng_below(&r->rng, sizeof(s))] = hvt_rng_next(&r->rng); break;
		}
	}
	steer_sregs(&s);
	do_ioctl(r, e, HVLAB_SET_SREGS, (unsigned long)&s);
}

static void op_cpuid(struct round *r, struct fdent *e)
{
	static const uint32_t nents[] = { 0, 1, 2, 64, 255, 256, 257, 0x10000, 0xffffffff };
	size_t room = 4096 - sizeof(struct hvlab_cpuid);
	struct hvlab_cpuid *c;
	uint32_t nent = hvt_rng_pct(&r->rng, 50) ? hvt_rng_below(&r->rng, 40) : hvt_rng_pick(&r->rng, nents);
	size_t need = nent * sizeof(struct hvlab_cpuid_entry);

	/* The table ends at the guard page when it fits, so overreads fault. */
	c = (void *)(r->buf + (need <= room ? room - need : 0));
	hvt_rng_fill(&r->rng, c, 4096 - ((uint8_t *)c - r->buf));
	c->nent = nent;
	if (hvt_rng_pct(&r->rng, 80))
		c->padding = 0;
	do_ioctl(r, e, hvt_rng_pct(&r->rng, 50) ? HVLAB_GET_CPUID : HVLAB_SET_CPUID,
		 (unsigned long)c);
}

static void op_run(struct round *r, struct fdent *e)
{
	const char *why;
	int ret;

	if (e->run && hvt_rng_pct(&r->rng, 30)) {
		/* Scribble on what userspace may write between runs. */
		uint8_t *p = (uint8_t *)e->run;

		p[hvt_rng_below(&r->rng, r->run_size)] = hvt_rng_next(&r->rng);
		e->run->immediate_exit = hvt_rng_pct(&r->rng, 20);
		e->run->request_interrupt_window = hvt_rng_pct(&r->rng, 30);
	}
	hvt_fuzz_alarm(RUN_ALARM_US);
	ret = do_ioctl(r, e, HVLAB_RUN, hvt_rng_pct(&r->rng, 95) ? 0 : hvt_rng_edge(&r->rng));
	hvt_fuzz_alarm(0);
	hvt_fuzz_count(&r->f->runs, 1);
	if (e->kind == K_VCPU && e->run) {
		why = hvt_fuzz_run_outcome(ret < 0 ? ret : 0, e->run);
		if (why)
			hvt_fuzz_fail(r->f, r->n, "%s: ret %d, exit_reason %u", why, ret,
				      e->run->exit_reason);
	}
}

/* mmap an hvlab fd at odd offsets, sizes and protections, then touch it. */
static void op_mmap(struct round *r, struct fdent *e)
{
	static const off_t offs[] = { 0, 4096, 8192, HVLAB_JOURNAL_OFFSET,
		HVLAB_JOURNAL_OFFSET + 4096, HVLAB_JOURNAL_OFFSET - 4096, 1ll << 40, -4096 };
	static const size_t lens[] = { 1, 4096, 8192, HVLAB_JOURNAL_SIZE,
		HVLAB_JOURNAL_SIZE + 4096, 2 << 20, 0 };
	static const int prots[] = { PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE,
		PROT_READ | PROT_EXEC, PROT_WRITE };
	off_t off = hvt_rng_pick(&r->rng, offs);
	size_t len = hvt_rng_pick(&r->rng, lens);
	int prot = hvt_rng_pick(&r->rng, prots);
	int flags = hvt_rng_pct(&r->rng, 80) ? MAP_SHARED : MAP_PRIVATE;
	void *p;

	if (!len)
		len = r->run_size;
	p = mmap(NULL, len, prot, flags, e->fd, off);
	if (p == MAP_FAILED)
		return;
	len = (len + 4095) & ~4095ul;
	if (prot & PROT_READ)
		touch(r, (uint8_t *)p + hvt_rng_below(&r->rng, len), prot & PROT_WRITE);
	if (hvt_rng_pct(&r->rng, 30)) {
		/* Move or grow it; the kernel may refuse (VM_DONTEXPAND). */
		size_t nlen = len + 4096 * hvt_rng_below(&r->rng, 2);
		void *q = mremap(p, len, nlen, MREMAP_MAYMOVE);

		if (q != MAP_FAILED) {
			p = q;
			len = nlen;
		}
	}
	if (hvt_rng_pct(&r->rng, 20)) {
		prot = hvt_rng_pick(&r->rng, prots);
		mprotect(p, len, prot);
	}
	if (add_map(r, p, len) && e->kind == K_VCPU && off == 0 && !e->run &&
	    (prot & PROT_WRITE) && (prot & PROT_READ) && flags == MAP_SHARED &&
	    len >= (size_t)r->run_size && hvt_rng_pct(&r->rng, 70))
		e->run = p;
}

/* Any ioctl number, any argument, on any fd. */
static void op_random_ioctl(struct round *r, struct fdent *e)
{
	unsigned long cmd, arg;

	switch (hvt_rng_below(&r->rng, 10)) {
	case 0:		/* an unknown number in hvlab's space */
		cmd = _IOC(hvt_rng_below(&r->rng, 4), HVLAB_IOC, hvt_rng_below(&r->rng, 256),
			   hvt_rng_below(&r->rng, 1024));
		break;
	case 1:		/* a known number with another direction or size */
		cmd = hvt_rng_pick(&r->rng, hvlab_cmds);
		cmd = _IOC(hvt_rng_below(&r->rng, 4), HVLAB_IOC, _IOC_NR(cmd),
			   hvt_rng_pct(&r->rng, 50) ? _IOC_SIZE(cmd) + 8 : hvt_rng_below(&r->rng, 600));
		break;
	case 2:		/* someone else's: a tty ioctl, FIONREAD, KVM's space */
		cmd = hvt_rng_pct(&r->rng, 50) ? (hvt_rng_pct(&r->rng, 50) ? TCGETS : FIONREAD) :
		      _IO(0xAE, hvt_rng_below(&r->rng, 256));
		break;
	default:
		cmd = hvt_rng_pick(&r->rng, hvlab_cmds);
		break;
	}
	if (cmd == HVLAB_RUN) {
		op_run(r, e);
		return;
	}
	/*
	 * Integers only where the ioctl takes one: an integer that happens
	 * to be one of our own addresses would let a GET (or FIONREAD on
	 * the memfd) scribble on the fuzzer itself.
	 */
	if (_IOC_SIZE(cmd) || _IOC_TYPE(cmd) != HVLAB_IOC)
		arg = ptr_arg(r, _IOC_SIZE(cmd) ? _IOC_SIZE(cmd) : 8);
	else
		arg = hvt_rng_pct(&r->rng, 50) ? hvt_rng_below(&r->rng, 12) : hvt_rng_edge(&r->rng);
	if (_IOC_NR(cmd) == _IOC_NR(HVLAB_SET_SREGS) && arg >= (unsigned long)r->buf &&
	    arg - (unsigned long)r->buf <= 4096 - sizeof(struct hvlab_sregs))
		steer_sregs((struct hvlab_sregs *)arg);
	arg = do_ioctl(r, e, cmd, arg);
	/* New fds from CREATE_* must be ours to close. */
	if ((long)arg > 0 && (cmd == HVLAB_CREATE_VM || cmd == HVLAB_CREATE_VCPU))
		add_fd(r, arg, cmd == HVLAB_CREATE_VM ? K_VM : K_VCPU);
}

/* Some ioctls from a child process: it shares the fds, not the mm. */
static void op_fork(struct round *r)
{
	pid_t pid = fork();
	int i, st;

	if (pid < 0)
		return;
	if (!pid) {
		alarm(10);
		for (i = 0; i < 8; i++) {
			struct fdent *e = pick_fd(r, -1);
			long ret;

			if (!e)
				break;
			ret = ioctl(e->fd, hvt_rng_pick(&r->rng, hvlab_cmds), 0ul);
			if (ret < 0 && e->kind != K_OTHER && !hvt_fuzz_errno_ok(errno))
				_exit(10);
			if (ret >= 0 && hvt_rng_pct(&r->rng, 50))
				close(e->fd);
		}
		_exit(0);
	}
	waitpid(pid, &st, 0);
	hvt_fuzz_count(&r->f->ioctls, 8);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 10)
		hvt_fuzz_fail(r->f, r->n, "an ioctl in a forked child failed with an undocumented errno");
}

static void drop_fd(struct round *r, int i)
{
	close(r->fds[i].fd);
	r->fds[i] = r->fds[--r->nfds];
}

static void one_op(struct round *r)
{
	struct fdent *e;
	int fd, i;

	switch (hvt_rng_below(&r->rng, 20)) {
	case 0:		/* another system fd */
		fd = hvlab_open();
		if (fd >= 0)
			add_fd(r, fd, K_SYS);
		break;
	case 1:
	case 2:
		e = pick_fd(r, hvt_rng_pct(&r->rng, 90) ? K_SYS : -1);
		if (e) {
			long v = do_ioctl(r, e, HVLAB_CREATE_VM, hvt_rng_pct(&r->rng, 90) ? 0 :
					  hvt_rng_edge(&r->rng));
			if (v > 0)
				add_fd(r, v, K_VM);
		}
		break;
	case 3:
	case 4:
		e = pick_fd(r, hvt_rng_pct(&r->rng, 90) ? K_VM : -1);
		if (e) {
			long v = do_ioctl(r, e, HVLAB_CREATE_VCPU, hvt_rng_pct(&r->rng, 85) ?
					  hvt_rng_below(&r->rng, 4) : hvt_rng_edge(&r->rng));
			if (v > 0) {
				i = add_fd(r, v, K_VCPU);
				if (i >= 0 && !hvlab_map_run(v, r->run_size, &r->fds[i].run) &&
				    !add_map(r, r->fds[i].run, r->run_size))
					r->fds[i].run = NULL;
			}
		}
		break;
	case 5:
	case 6:
		e = pick_fd(r, hvt_rng_pct(&r->rng, 90) ? K_VM : -1);
		if (e)
			op_set_region(r, e);
		break;
	case 7:
		e = pick_fd(r, hvt_rng_pct(&r->rng, 90) ? K_VCPU : -1);
		if (e)
			op_sregs(r, e);
		break;
	case 8:
		e = pick_fd(r, hvt_rng_pct(&r->rng, 90) ? K_VCPU : -1);
		if (e)
			op_cpuid(r, e);
		break;
	case 9:
	case 10:
		e = pick_fd(r, hvt_rng_pct(&r->rng, 90) ? K_VCPU : -1);
		if (e)
			op_run(r, e);
		break;
	case 11:
		e = pick_fd(r, hvt_rng_pct(&r->rng, 70) ? K_VCPU : -1);
		if (e)
			op_mmap(r, e);
		break;
	case 12:	/* close, in whatever order */
		if (r->nfds && hvt_rng_pct(&r->rng, 40))
			drop_fd(r, hvt_rng_below(&r->rng, r->nfds));
		break;
	case 13:	/* unmap something, maybe a run page still in use */
		if (r->nmaps && hvt_rng_pct(&r->rng, 40)) {
			i = hvt_rng_below(&r->rng, r->nmaps);
			for (fd = 0; fd < r->nfds; fd++)
				if ((void *)r->fds[fd].run == r->maps[i].p)
					r->fds[fd].run = NULL;
			munmap(r->maps[i].p, r->maps[i].len);
			r->maps[i] = r->maps[--r->nmaps];
		}
		break;
	case 14:	/* dup: the object outlives one of its fds */
		e = pick_fd(r, -1);
		if (e && e->kind != K_OTHER) {
			fd = dup(e->fd);
			if (fd >= 0)
				add_fd(r, fd, e->kind);
		}
		break;
	case 15:
		if (hvt_rng_pct(&r->rng, 5))
			op_fork(r);
		break;
	default:
		e = pick_fd(r, -1);
		if (e)
			op_random_ioctl(r, e);
		break;
	}
}

static void round_run(struct hvt_fuzz *f, uint64_t n, uint8_t *buf, int run_size)
{
	struct round r = { .f = f, .n = n, .buf = buf, .run_size = run_size };
	int fd, i;

	r.rng.s = hvt_fuzz_round_seed(f, n);
	/* Fds that are not hvlab's, for the wrong-fd cases. */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		add_fd(&r, fd, K_OTHER);
	fd = memfd_create("other", MFD_CLOEXEC);
	if (fd >= 0)
		add_fd(&r, fd, K_OTHER);
	fd = hvlab_open();
	if (fd >= 0)
		add_fd(&r, fd, K_SYS);

	for (i = 0; i < OPS_PER_ROUND; i++)
		one_op(&r);

	/* Tear down in a random order: fds and mappings interleaved. */
	while (r.nfds || r.nmaps) {
		if (r.nfds && (!r.nmaps || hvt_rng_pct(&r.rng, 50))) {
			drop_fd(&r, hvt_rng_below(&r.rng, r.nfds));
		} else {
			i = hvt_rng_below(&r.rng, r.nmaps);
			munmap(r.maps[i].p, r.maps[i].len);
			r.maps[i] = r.maps[--r.nmaps];
		}
	}
}

int main(int argc, char **argv)
{
	struct hvt_fuzz f;
	struct sigaction sa = { .sa_sigaction = touch_fault, .sa_flags = SA_SIGINFO };
	uint8_t *buf;
	uint64_t n;
	int sys, run_size;

	hvt_fuzz_init(&f, "test_fuzz_ioctl", argc, argv);
	amd = hvt_cpu_vendor() == HVLAB_VENDOR_AMD;
	hvt_fuzz_alarm_init();
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	sys = hvlab_open();
	run_size = sys >= 0 ? hvlab_vcpu_mmap_size(sys) : -1;
	if (sys >= 0)
		close(sys);
	buf = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (run_size <= 0 || buf == MAP_FAILED || mprotect(buf + 4096, 4096, PROT_NONE)) {
		hvt_fuzz_fail(&f, 0, "setup: /dev/hvlab or memory");
		return hvt_fuzz_finish(&f);
	}

	for (n = f.only_round >= 0 ? (uint64_t)f.only_round : 0; hvt_fuzz_next_round(&f, n); n++) {
		cur_round = n;
		round_run(&f, n, buf, run_size);
		f.rounds++;
		if (f.failures > 20)
			break;
	}
	munmap(buf, 2 * 4096);
	return hvt_fuzz_finish(&f);
}
