// SPDX-License-Identifier: GPL-2.0
/*
 * test_fuzz_race.c - RUN racing everything else: each round (an "epoch")
 * starts 1-3 VMs with 1-2 vCPUs each, every vCPU in its own thread pinned
 * to one of the host CPUs (and moved now and then), running a guest loop
 * that reads and writes a slot and exits often; meanwhile one chaos thread
 * per VM deletes, re-adds and moves that slot, munmaps/re-mmaps, mremaps
 * and MADV_DONTNEEDs its backing, SET_REGS/SET_SREGS/INJECTs the vCPUs,
 * and now and then closes a vCPU fd or the VM fd under the running thread;
 * a storm thread sends signals to the vCPU threads; a spawner thread
 * creates and destroys more VMs and vCPUs.  The epoch ends with the
 * objects closed in a random order.  Seeded and time-bounded
 * (lib/fuzz.h); a round replays its configuration and operations, the
 * interleaving is the scheduler's.
 *
 * Passes if every RUN and ioctl ends in a documented outcome and the host
 * stays healthy (lib/fuzz.h).  Both vendors; it wants two host CPUs (the
 * suite runs it in the 2-CPU PCs) and says so if it has one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "guest.h"

#define MAX_VMS		3
#define MAX_VCPUS	2
#define SLOT		HVT_FIRST_FREE_SLOT
#define SLOT_GPA	0x40000000ull	/* 1 GiB: identity-mapped by guest.c's tables */
#define SLOT_GPA_MOVED	0x40100000ull
#define SLOT_SIZE	(64 * 1024ul)

#define STR(x)		__hvt_str(x)

/*
 * The guest: walk the slot (RSI = its base) reading and writing a
 * quadword per page, exit by OUT after each, CPUID and HLT every 16.
 */
HVT_ASM(race_code, 64,
	"1:\n"
	"mov %rbx, %rcx\n"
	"and $0xfff8, %rcx\n"
	"add %rsi, %rcx\n"
	"mov (%rcx), %rax\n"
	"inc %rax\n"
	"mov %rax, (%rcx)\n"
	"add $0x1008, %rbx\n"
	"out %al, $0x80\n"
	"dec %edi\n"
	"jnz 1b\n"
	"mov $16, %edi\n"
	"mov $1, %eax\n"
	"cpuid\n"
	"hlt\n"
	"jmp 1b\n");

struct rvcpu {
	struct rvm *vm;
	struct hvt_vcpu *v;
	int fd;			/* -1 once chaos closed it */
	pthread_t thread;
	int cpu;
};

struct rvm {
	struct epoch *e;
	struct hvt_vm *vm;
	int fd;			/* -1 once chaos closed it */
	int nvcpus;
	struct rvcpu vcpus[MAX_VCPUS];
	uint8_t *backing;	/* the slot's memory; chaos changes it */
	uint64_t seed;
	pthread_t chaos;
};

struct epoch {
	struct hvt_fuzz *f;
	uint64_t n;
	int ncpus;
	int nvms;
	struct rvm vms[MAX_VMS];
	volatile int stop;
	uint64_t seed;
};

static void sig_nop(int sig)
{
	(void)sig;
}

static void check_errno(struct epoch *e, long ret, const char *what)
{
	if (ret < 0 && !hvt_fuzz_errno_ok(-ret))
		hvt_fuzz_fail(e->f, e->n, "%s: undocumented errno %ld (%s)", what, -ret,
			      strerror(-ret));
}

/* RIP to the loop, RSI to the slot, RSP to the stack. */
static long reset_regs(struct rvcpu *c, int fd)
{
	struct hvlab_regs regs = { 0 };

	regs.rip = HVT_RAW_CODE_GPA;
	regs.rsp = c->v->stack_top;
	regs.rsi = SLOT_GPA;
	regs.rdi = 16;
	regs.rflags = 2;
	return hvlab_set_regs(fd, &regs);
}

static void *vcpu_thread(void *arg)
{
	struct rvcpu *c = arg;
	struct epoch *e = c->vm->e;
	struct hvt_rng r = { c->vm->seed ^ c->cpu ^ (uint64_t)(uintptr_t)c };
	struct hvlab_run *run = c->v->run;
	const char *why;
	int ret, fd;

	hvt_pin_to_cpu(c->cpu);
	while (!e->stop) {
		fd = __atomic_load_n(&c->fd, __ATOMIC_ACQUIRE);
		if (fd < 0)
			break;
		ret = hvlab_run(fd);
		hvt_fuzz_count(&e->f->ioctls, 1);
		hvt_fuzz_count(&e->f->runs, 1);
		/* Closed under us: the number may be someone else's now. */
		if (__atomic_load_n(&c->fd, __ATOMIC_ACQUIRE) != fd)
			break;
		why = hvt_fuzz_run_outcome(ret, run);
		if (why)
			hvt_fuzz_fail(e->f, e->n, "%s: ret %d exit %u", why, ret, run->exit_reason);
		if (ret == 0) {
			switch (run->exit_reason) {
			case HVLAB_EXIT_MMIO:
				if (!run->mmio.is_write)
					memset(run->mmio.data, 0x5a, 8);
				break;
			case HVLAB_EXIT_IO:
			case HVLAB_EXIT_HLT:
			case HVLAB_EXIT_IRQ_WINDOW:
				break;
			default:	/* shutdown, internal, refused entry: start over */
				ret = reset_regs(c, fd);
				hvt_fuzz_count(&e->f->ioctls, 1);
				check_errno(e, ret, "SET_REGS after an exit");
				break;
			}
		}
		if (hvt_rng_pct(&r, 3)) {
			ret = reset_regs(c, fd);
			hvt_fuzz_count(&e->f->ioctls, 1);
			check_errno(e, ret, "SET_REGS");
		}
		/* Move to the other CPU now and then. */
		if (e->ncpus > 1 && hvt_rng_pct(&r, 2))
			hvt_pin_to_cpu(hvt_rng_below(&r, e->ncpus));
	}
	return NULL;
}

static void new_backing(struct rvm *m, struct hvt_rng *r, bool fixed)
{
	void *p = mmap(fixed ? m->backing : NULL, SLOT_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | (fixed ? MAP_FIXED : 0), -1, 0);

	if (p == MAP_FAILED) {
		hvt_fuzz_fail(m->e->f, m->e->n, "mmap of the backing: %s", strerror(errno));
		return;
	}
	if (hvt_rng_pct(r, 50))
		memset(p, hvt_rng_next(r), SLOT_SIZE);
	m->backing = p;
}

static long set_slot(struct rvm *m, uint64_t gpa, uint64_t size)
{
	int fd = __atomic_load_n(&m->fd, __ATOMIC_ACQUIRE);

	if (fd < 0)
		return 0;
	return hvt_set_region(fd, SLOT, 0, gpa, size, (uintptr_t)m->backing);
}

static void chaos_op(struct rvm *m, struct hvt_rng *r)
{
	struct epoch *e = m->e;
	struct rvcpu *c = &m->vcpus[hvt_rng_below(r, m->nvcpus)];
	int fd = __atomic_load_n(&c->fd, __ATOMIC_ACQUIRE);
	struct hvlab_sregs sr;
	struct hvlab_event ev = { 0 };
	long ret = 0;
	void *p;

	switch (hvt_rng_below(r, 16)) {
	case 0:		/* delete the slot, then add it back */
		ret = set_slot(m, SLOT_GPA, 0);
		check_errno(e, ret, "delete slot");
		ret = set_slot(m, SLOT_GPA, SLOT_SIZE);
		hvt_fuzz_count(&e->f->ioctls, 1);
		break;
	case 1:		/* move it away and back (same size and address: a move) */
		ret = set_slot(m, SLOT_GPA_MOVED, SLOT_SIZE);
		check_errno(e, ret, "move slot");
		ret = set_slot(m, SLOT_GPA, SLOT_SIZE);
		hvt_fuzz_count(&e->f->ioctls, 1);
		break;
	case 2:		/* munmap + mmap at the same address */
		munmap(m->backing, SLOT_SIZE);
		if (hvt_rng_pct(r, 20))
			usleep(hvt_rng_below(r, 1000));
		new_backing(m, r, true);
		break;
	case 3:		/* mremap elsewhere, then tell hvlab (delete + add) */
		p = mremap(m->backing, SLOT_SIZE, SLOT_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED,
			   (uint8_t *)m->backing + (64ul << 20));
		if (p == MAP_FAILED) {
			new_backing(m, r, true);
			break;
		}
		m->backing = p;
		ret = set_slot(m, SLOT_GPA, 0);
		check_errno(e, ret, "delete slot after mremap");
		ret = set_slot(m, SLOT_GPA, SLOT_SIZE);
		hvt_fuzz_count(&e->f->ioctls, 1);
		break;
	case 4:
		madvise(m->backing, SLOT_SIZE, MADV_DONTNEED);
		break;
	case 5:
	case 6:		/* INJECT */
		if (fd < 0)
			break;
		if (hvt_rng_pct(r, 50)) {
			ev.type = HVLAB_EVENT_INTERRUPT;
			ev.vector = 32 + hvt_rng_below(r, 224);
		} else {
			ev.type = HVLAB_EVENT_EXCEPTION;
			ev.vector = hvt_rng_pick(r, ((const uint8_t[]){ 0, 1, 3, 6, 13, 14 }));
			ev.has_error_code = HVT_VEC_HAS_ERRCODE(ev.vector);
		}
		ret = hvlab_inject(fd, &ev);
		break;
	case 7:		/* SET_REGS back to the start */
		if (fd >= 0)
			ret = reset_regs(c, fd);
		break;
	case 8:		/* SREGS round trip */
		if (fd < 0)
			break;
		ret = hvlab_get_sregs(fd, &sr);
		if (!ret)
			ret = hvlab_set_sregs(fd, &sr);
		hvt_fuzz_count(&e->f->ioctls, 1);
		break;
	case 9:
		if (fd >= 0) {
			struct hvlab_exit_stats st;

			ret = hvlab_get_exit_stats(fd, &st);
		}
		break;
	case 10:	/* close a vCPU fd under its running thread */
		if (hvt_rng_pct(r, 10)) {
			fd = __atomic_exchange_n(&c->fd, -1, __ATOMIC_ACQ_REL);
			if (fd >= 0)
				close(fd);
			c->v->fd = -1;
		}
		return;
	case 11:	/* close the VM fd: the vCPUs keep the VM */
		if (hvt_rng_pct(r, 5)) {
			fd = __atomic_exchange_n(&m->fd, -1, __ATOMIC_ACQ_REL);
			if (fd >= 0)
				close(fd);
			m->vm->fd = -1;
		}
		return;
	default:	/* let the vCPUs run a little */
		if (hvt_rng_pct(r, 30))
			usleep(hvt_rng_below(r, 2000));
		return;
	}
	hvt_fuzz_count(&e->f->ioctls, 1);
	check_errno(e, ret, "chaos ioctl");
}

static void *chaos_thread(void *arg)
{
	struct rvm *m = arg;
	struct hvt_rng r = { m->seed };

	while (!m->e->stop)
		chaos_op(m, &r);
	return NULL;
}

/* Signals at the vCPU threads: RUN must return -EINTR or an exit, never hang. */
static void *storm_thread(void *arg)
{
	struct epoch *e = arg;
	struct hvt_rng r = { e->seed ^ 0x5707 };
	int i;

	while (!e->stop) {
		struct rvm *m = &e->vms[hvt_rng_below(&r, e->nvms)];
		struct rvcpu *c = &m->vcpus[hvt_rng_below(&r, m->nvcpus)];

		for (i = hvt_rng_below(&r, 20); i > 0; i--)
			pthread_kill(c->thread, SIGUSR1);
		usleep(hvt_rng_below(&r, 3000));
	}
	return NULL;
}

/* More VMs and vCPUs, created and destroyed while the others run. */
static void *spawn_thread(void *arg)
{
	struct epoch *e = arg;
	struct hvt_rng r = { e->seed ^ 0x5a5a };
	int sys, vm, vcpu[4], i, n;
	void *mem;

	mem = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return NULL;
	while (!e->stop) {
		vm = hvt_open_vm(&sys);
		hvt_fuzz_count(&e->f->ioctls, 1);
		if (vm < 0) {
			check_errno(e, vm, "CREATE_VM");
			usleep(1000);
			continue;
		}
		check_errno(e, hvt_set_region(vm, 0, 0, 0, 1 << 20, (uintptr_t)mem), "slot");
		n = 1 + hvt_rng_below(&r, 4);
		for (i = 0; i < n; i++) {
			vcpu[i] = hvlab_create_vcpu(vm, i);
			check_errno(e, vcpu[i], "CREATE_VCPU");
		}
		hvt_fuzz_count(&e->f->ioctls, n + 1);
		/* Close in a random order: VM first sometimes. */
		if (hvt_rng_pct(&r, 50)) {
			close(vm);
			vm = -1;
		}
		for (i = 0; i < n; i++)
			if (vcpu[i] >= 0)
				close(vcpu[i]);
		if (vm >= 0)
			close(vm);
		close(sys);
	}
	munmap(mem, 1 << 20);
	return NULL;
}

static int epoch_setup(struct epoch *e, struct hvt_rng *r)
{
	const struct hvt_code code = { race_code, race_code_end };
	int i, j, ret;

	e->nvms = 1 + hvt_rng_below(r, MAX_VMS);
	for (i = 0; i < e->nvms; i++) {
		struct rvm *m = &e->vms[i];

		m->e = e;
		m->seed = hvt_rng_next(r);
		ret = hvt_vm_create(0, 0, &m->vm);
		if (ret)
			return ret;
		m->fd = m->vm->fd;
		new_backing(m, r, false);
		ret = set_slot(m, SLOT_GPA, SLOT_SIZE);
		if (ret)
			return ret;
		m->nvcpus = 1 + hvt_rng_below(r, MAX_VCPUS);
		for (j = 0; j < m->nvcpus; j++) {
			struct rvcpu *c = &m->vcpus[j];

			c->vm = m;
			ret = hvt_vcpu_add(m->vm, j, &c->v);
			if (ret)
				return ret;
			c->fd = c->v->fd;
			c->cpu = (i * MAX_VCPUS + j) % e->ncpus;
			ret = hvt_vcpu_enter_raw(c->v, HVT_MODE_LONG64, &code);
			if (!ret)
				ret = reset_regs(c, c->fd);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static void round_run(struct hvt_fuzz *f, uint64_t n, int ncpus)
{
	struct epoch *e = calloc(1, sizeof(*e));
	struct hvt_rng r = { hvt_fuzz_round_seed(f, n) };
	pthread_t storm, spawn;
	double end;
	int i, j, ret, order;

	if (!e)
		return;
	e->f = f;
	e->n = n;
	e->ncpus = ncpus;
	e->seed = hvt_rng_next(&r);
	ret = epoch_setup(e, &r);
	if (ret) {
		hvt_fuzz_fail(f, n, "setup: %s", strerror(-ret));
		goto out_free;
	}
	for (i = 0; i < e->nvms; i++)
		for (j = 0; j < e->vms[i].nvcpus; j++)
			pthread_create(&e->vms[i].vcpus[j].thread, NULL, vcpu_thread,
				       &e->vms[i].vcpus[j]);
	for (i = 0; i < e->nvms; i++)
		pthread_create(&e->vms[i].chaos, NULL, chaos_thread, &e->vms[i]);
	pthread_create(&storm, NULL, storm_thread, e);
	pthread_create(&spawn, NULL, spawn_thread, e);

	end = hvt_fuzz_now() + 0.3 + hvt_rng_below(&r, 1200) / 1000.0;
	while (hvt_fuzz_now() < end)
		usleep(20000);
	e->stop = 1;

	pthread_join(storm, NULL);
	pthread_join(spawn, NULL);
	for (i = 0; i < e->nvms; i++)
		pthread_join(e->vms[i].chaos, NULL);
	for (i = 0; i < e->nvms; i++) {
		for (j = 0; j < e->vms[i].nvcpus; j++) {
			struct rvcpu *c = &e->vms[i].vcpus[j];
			struct timespec ts;

			/* Kick it out of RUN until it has left. */
			for (;;) {
				pthread_kill(c->thread, SIGUSR1);
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += 10 * 1000 * 1000;
				if (ts.tv_nsec >= 1000000000) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000;
				}
				if (!pthread_timedjoin_np(c->thread, NULL, &ts))
					break;
			}
		}
	}

	/* Close in a random order: VM fd, vCPU fds, backing, guest RAM. */
	order = hvt_rng_below(&r, 3);
	for (i = 0; i < e->nvms; i++) {
		struct rvm *m = &e->vms[i];

		if (order == 0 && m->fd >= 0) {
			close(m->fd);
			m->vm->fd = -1;
		}
		if (order == 1)
			munmap(m->backing, SLOT_SIZE);
		for (j = 0; j < m->nvcpus; j++) {
			if (m->vcpus[j].fd >= 0 && hvt_rng_pct(&r, 50)) {
				close(m->vcpus[j].fd);
				m->vcpus[j].v->fd = -1;
			}
		}
		hvt_vm_free(m->vm);
		if (order != 1)
			munmap(m->backing, SLOT_SIZE);
	}
	free(e);
	return;

out_free:
	for (i = 0; i < MAX_VMS; i++) {
		if (e->vms[i].vm)
			hvt_vm_free(e->vms[i].vm);
		if (e->vms[i].backing)
			munmap(e->vms[i].backing, SLOT_SIZE);
	}
	free(e);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = sig_nop };
	struct hvt_fuzz f;
	int ncpus, sys, cap;
	uint64_t n;

	hvt_fuzz_init(&f, "test_fuzz_race", argc, argv);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART: RUN returns -EINTR */
	sys = hvlab_open();
	cap = sys >= 0 ? hvlab_check_cap(sys, HVLAB_CAP_RUN) : -1;
	if (sys >= 0)
		close(sys);
	if (cap <= 0) {
		printf("ok 1 test_fuzz_race # SKIP %s\n", HVT_NO_RUN_REASON);
		printf("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0\n");
		return 4;
	}
	ncpus = hvt_cpus_online();
	if (ncpus < 2)
		printf("# test_fuzz_race: only %d host CPU: the races are between threads on one CPU\n",
		       ncpus);
	if (ncpus > 2)
		ncpus = 2;

	for (n = f.only_round >= 0 ? (uint64_t)f.only_round : 0; hvt_fuzz_next_round(&f, n); n++) {
		round_run(&f, n, ncpus);
		f.rounds++;
		if (f.failures > 20)
			break;
	}
	return hvt_fuzz_finish(&f);
}
