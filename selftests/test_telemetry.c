// SPDX-License-Identifier: GPL-2.0
/*
 * test_telemetry - exit telemetry (issue 6), on both vendors, with 64-bit
 * C guests:
 *   - counts per neutral reason match a guest that performs known numbers
 *     of each exit, and every histogram sums to its count (an exit is in
 *     a histogram once the guest is entered again: the one userspace is
 *     handling shows as OPEN);
 *   - exit routing moves a CPUID leaf, an MSR, HLT and a port range
 *     between kernel and userspace, and bad rules are refused;
 *   - the journal holds the exits before a deliberate triple fault and
 *     stays frozen until thawed;
 *   - the netlink dump (libnl-3) works while a guest runs in another
 *     thread, RESET zeroes, the multicast group streams sampled exits;
 *   - only the VM's owner (or CAP_SYS_ADMIN) reads or resets its
 *     statistics: a child that setuid()s to another uid is refused;
 *   - hvlab-stat, the tool, shows the same numbers in its CSV, JSON and
 *     live views, and its --events stream starts, prints every exit and
 *     switches the VM's stream off again on SIGINT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "guest.h"
#include "hvlab_nl.h"

#define MSR_IA32_PAT	0x277
#define PAT_VALUE	0x0007040600070406ull
#define PORT_OUT	0x80		/* userspace, the default */
#define PORT_LATCH	0x90		/* routed to the kernel's latch */
#define LEAF_ROUTED	0x40000001	/* routed to userspace */
#define NOBODY		65534

#define TELEMETRY_PARAM	"/sys/module/hvlab/parameters/telemetry"

/* What the dump said about one VM, by reason (vCPU 0 only). */
struct snap {
	int seen[HVLAB_STAT_NR];
	struct hvlab_nl_stat st[HVLAB_STAT_NR];
	int msgs;
};

static int snap_cb(const struct hvlab_nl_stat *st, void *arg)
{
	struct snap *s = arg;

	s->msgs++;
	if (st->vcpu_id == 0 && st->stat < HVLAB_STAT_NR) {
		s->seen[st->stat] = 1;
		s->st[st->stat] = *st;
	}
	return 0;
}

FIXTURE(tel) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
	struct hvlab_nl *nl;
	uint32_t vm_id;
};

FIXTURE_SETUP(tel)
{
	int ret;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	HVT_REQUIRE_RUN();
	/* Telemetry is on by default; a failed test must not leave it off. */
	hvt_write_str(TELEMETRY_PARAM, "1");
	ret = hvt_vm_create(0, 0, &self->vm);
	ASSERT_EQ(0, ret) TH_LOG("VM: %s", strerror(-ret));
	ret = hvt_vcpu_add(self->vm, 0, &self->vcpu);
	ASSERT_EQ(0, ret) TH_LOG("vCPU: %s", strerror(-ret));
	ret = hvlab_get_vm_id(self->vm->fd);
	ASSERT_LT(0, ret) TH_LOG("GET_VM_ID: %s", strerror(-ret));
	self->vm_id = ret;
	ret = hvlab_nl_open(&self->nl);
	ASSERT_EQ(0, ret) TH_LOG("netlink family hvlab: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(tel)
{
	hvlab_nl_close(self->nl);
	hvt_vm_free(self->vm);
	hvt_write_str(TELEMETRY_PARAM, "1");
}

#define ENTER_C(fn, a0, a1) do {						\
	int __r = hvt_vcpu_enter_c(self->vcpu, (void *)(fn), (a0), (a1));	\
	ASSERT_EQ(0, __r) TH_LOG("enter: %s", strerror(-__r));			\
} while (0)

#define SNAP(s) do {								\
	int __r;								\
	memset((s), 0, sizeof(*(s)));						\
	__r = hvlab_nl_dump(self->nl, self->vm_id, snap_cb, (s));		\
	ASSERT_EQ(0, __r) TH_LOG("dump: %s", strerror(-__r));			\
} while (0)

static uint64_t hsum(const uint64_t *h)
{
	return hvlab_hist_sum(h, HVLAB_HIST_BUCKETS);
}

/* Every histogram sums to its n; kernel + user + the open exit = count. */
static void check_consistent(struct __test_metadata *_metadata, const struct snap *s)
{
	unsigned int i, open = 0;

	for (i = 0; i < HVLAB_STAT_NR; i++) {
		const struct hvlab_nl_stat *st = &s->st[i];

		if (!s->seen[i])
			continue;
		EXPECT_EQ(st->n[HVLAB_NL_KERNEL], hsum(st->hist[HVLAB_NL_KERNEL]))
			TH_LOG("%s: kernel histogram", hvlab_stat_name(i));
		EXPECT_EQ(st->n[HVLAB_NL_USER], hsum(st->hist[HVLAB_NL_USER]))
			TH_LOG("%s: user histogram", hvlab_stat_name(i));
		EXPECT_EQ(st->count, st->n[HVLAB_NL_KERNEL] + st->n[HVLAB_NL_USER] + !!st->open)
			TH_LOG("%s: count %llu, kernel %llu, user %llu, open %d", hvlab_stat_name(i),
			       (unsigned long long)st->count,
			       (unsigned long long)st->n[HVLAB_NL_KERNEL],
			       (unsigned long long)st->n[HVLAB_NL_USER], st->open);
		/* Round trips are taken only for exits userspace handled. */
		EXPECT_GE(st->n[HVLAB_NL_USER] + !!st->open, st->n[HVLAB_NL_RTT])
			TH_LOG("%s: more round trips than userspace exits", hvlab_stat_name(i));
		open += !!st->open;
	}
	/* Userspace is looking at exactly one exit right now. */
	EXPECT_EQ(1u, open);
}

static uint64_t cnt(const struct snap *s, unsigned int stat)
{
	return s->seen[stat] ? s->st[stat].count : 0;
}

static uint64_t nk(const struct snap *s, unsigned int stat)
{
	return s->seen[stat] ? s->st[stat].n[HVLAB_NL_KERNEL] : 0;
}

static uint64_t nu(const struct snap *s, unsigned int stat)
{
	return s->seen[stat] ? s->st[stat].n[HVLAB_NL_USER] : 0;
}

/* ---- counts and histograms */

GUEST_CODE static void guest_known_exits(void)
{
	uint32_t a, b, c, d;
	int i;

	GUEST_SYNC(0);
	for (i = 0; i < 10; i++)
		guest_cpuid(0, 0, &a, &b, &c, &d);
	for (i = 0; i < 7; i++)
		(void)guest_rdmsr(MSR_IA32_PAT);
	for (i = 0; i < 3; i++)
		guest_wrmsr(MSR_IA32_PAT, PAT_VALUE);
	for (i = 0; i < 4; i++)
		guest_outb(PORT_OUT, i);
	for (i = 0; i < 2; i++)
		guest_hlt();
	GUEST_SYNC(1);
}

TEST_F(tel, counts_and_histograms)
{
	struct hvlab_exit_stats ioc;
	struct snap a, b;
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_known_exits, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	SNAP(&a);
	check_consistent(_metadata, &a);
	EXPECT_TRUE(a.seen[HVLAB_STAT_IO] && a.st[HVLAB_STAT_IO].open) TH_LOG("the ucall is open");
	for (i = 0; i < 4; i++)
		HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	for (i = 0; i < 2; i++)
		HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_HLT);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);
	SNAP(&b);
	check_consistent(_metadata, &b);

	EXPECT_EQ(10u, cnt(&b, HVLAB_STAT_CPUID) - cnt(&a, HVLAB_STAT_CPUID));
	EXPECT_EQ(10u, nk(&b, HVLAB_STAT_CPUID) - nk(&a, HVLAB_STAT_CPUID));
	EXPECT_EQ(0u, nu(&b, HVLAB_STAT_CPUID));
	EXPECT_EQ(7u, cnt(&b, HVLAB_STAT_MSR_READ) - cnt(&a, HVLAB_STAT_MSR_READ));
	EXPECT_EQ(7u, nk(&b, HVLAB_STAT_MSR_READ) - nk(&a, HVLAB_STAT_MSR_READ));
	EXPECT_EQ(3u, cnt(&b, HVLAB_STAT_MSR_WRITE) - cnt(&a, HVLAB_STAT_MSR_WRITE));
	/* 4 OUTs and the closing ucall; the opening ucall and the 4 OUTs are done. */
	EXPECT_EQ(5u, cnt(&b, HVLAB_STAT_IO) - cnt(&a, HVLAB_STAT_IO));
	EXPECT_EQ(5u, nu(&b, HVLAB_STAT_IO) - nu(&a, HVLAB_STAT_IO));
	EXPECT_EQ(2u, cnt(&b, HVLAB_STAT_HLT) - cnt(&a, HVLAB_STAT_HLT));
	EXPECT_EQ(2u, nu(&b, HVLAB_STAT_HLT) - nu(&a, HVLAB_STAT_HLT));
	EXPECT_EQ(2u, b.st[HVLAB_STAT_HLT].n[HVLAB_NL_RTT]);
	/* A kernel exit takes some cycles, and a userspace one takes longer. */
	EXPECT_LT(0u, b.st[HVLAB_STAT_CPUID].cycles[HVLAB_NL_KERNEL]);
	EXPECT_LT(b.st[HVLAB_STAT_CPUID].cycles[HVLAB_NL_KERNEL] / 10,
		  b.st[HVLAB_STAT_HLT].cycles[HVLAB_NL_USER] / 2);
	/* The raw vendor reason rides along (VMX 10 / SVM 0x72 for CPUID). */
	EXPECT_EQ(hvt_cpu_vendor() == HVLAB_VENDOR_AMD ? 0x72u : 10u,
		  b.st[HVLAB_STAT_CPUID].vendor_reason);

	/* The ioctl and the dump count the same exits. */
	ASSERT_EQ(0, hvlab_get_exit_stats(self->vcpu->fd, &ioc));
	for (i = 0; i < HVLAB_STAT_NR; i++)
		EXPECT_EQ(ioc.count[i], cnt(&b, i)) TH_LOG("%s", hvlab_stat_name(i));

	/* RESET: nothing left to dump. */
	ASSERT_EQ(0, hvlab_nl_reset(self->nl, self->vm_id));
	SNAP(&a);
	EXPECT_EQ(0, a.msgs);
	ASSERT_EQ(0, hvlab_get_exit_stats(self->vcpu->fd, &ioc));
	EXPECT_EQ(0u, ioc.exits);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* With the module parameter off, counts go on and histograms stand still. */
TEST_F(tel, switch_off)
{
	struct snap a, b;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_known_exits, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	ASSERT_EQ(0, hvt_write_str(TELEMETRY_PARAM, "0"));
	SNAP(&a);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	SNAP(&b);
	ASSERT_EQ(0, hvt_write_str(TELEMETRY_PARAM, "1"));
	EXPECT_EQ(1u, cnt(&b, HVLAB_STAT_IO) - cnt(&a, HVLAB_STAT_IO));
	EXPECT_EQ(10u, cnt(&b, HVLAB_STAT_CPUID) - cnt(&a, HVLAB_STAT_CPUID));
	EXPECT_EQ(nk(&a, HVLAB_STAT_CPUID), nk(&b, HVLAB_STAT_CPUID));
}

/* ---- exit routing */

GUEST_CODE static void guest_routed(void)
{
	uint32_t a, b, c, d;
	uint64_t pat;

	guest_cpuid(LEAF_ROUTED, 7, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(a, b, c, d);
	guest_cpuid(0x40000000, 0, &a, &b, &c, &d);	/* not routed: no exit */
	GUEST_SYNC(a);
	guest_hlt();					/* routed to the kernel */
	guest_outl(PORT_LATCH, 0xdeadbeef);		/* the kernel's latch */
	GUEST_SYNC(guest_inl(PORT_LATCH));
	GUEST_SYNC(guest_inw(PORT_LATCH + 3));
	pat = guest_rdmsr(MSR_IA32_PAT);		/* routed to userspace */
	GUEST_SYNC(pat);
	guest_hlt();					/* back to userspace */
	GUEST_DONE();
}

static int route(struct hvt_vcpu *vcpu, uint32_t class, uint32_t action, uint32_t first,
		 uint32_t last)
{
	struct hvlab_exit_route r = { .route_class = class, .action = action,
				      .first = first, .last = last };

	return hvlab_set_exit_route(vcpu->fd, &r);
}

TEST_F(tel, routing)
{
	struct hvlab_run *run = self->vcpu->run;
	struct hvlab_exit_stats s0, s1;
	struct snap s;
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, route(self->vcpu, HVLAB_ROUTE_CPUID, HVLAB_ROUTE_TO_USER,
			   LEAF_ROUTED, LEAF_ROUTED));
	ASSERT_EQ(0, route(self->vcpu, HVLAB_ROUTE_HLT, HVLAB_ROUTE_TO_KERNEL, 0, 0));
	ASSERT_EQ(0, route(self->vcpu, HVLAB_ROUTE_IO, HVLAB_ROUTE_TO_KERNEL,
			   PORT_LATCH, PORT_LATCH + 3));
	ASSERT_EQ(0, route(self->vcpu, HVLAB_ROUTE_MSR, HVLAB_ROUTE_TO_USER,
			   MSR_IA32_PAT, MSR_IA32_PAT));
	ENTER_C(guest_routed, 0, 0);

	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_CPUID);
	EXPECT_EQ((uint32_t)LEAF_ROUTED, run->cpuid.function);
	EXPECT_EQ(7u, run->cpuid.index);
	run->cpuid.eax = 0x1234;
	run->cpuid.ebx = 0x5678;
	run->cpuid.ecx = 0x9abc;
	run->cpuid.edx = 0xdef0;
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0x1234u, uc.args[0]);
	EXPECT_EQ(0x5678u, uc.args[1]);
	EXPECT_EQ(0x9abcu, uc.args[2]);
	EXPECT_EQ(0xdef0u, uc.args[3]);
	SNAP(&s);
	EXPECT_EQ(1u, nu(&s, HVLAB_STAT_CPUID)) TH_LOG("the routed CPUID is a userspace exit");

	ASSERT_EQ(0, hvlab_get_exit_stats(self->vcpu->fd, &s0));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0x40000000);
	/* HLT and the latch stay in the kernel: the next exit is the ucall. */
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xdeadbeef);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xbeef);	/* one latch for the range, truncated */
	ASSERT_EQ(0, hvlab_get_exit_stats(self->vcpu->fd, &s1));
	EXPECT_EQ(1u, s1.count[HVLAB_STAT_HLT] - s0.count[HVLAB_STAT_HLT]);
	EXPECT_EQ(3u, s1.count[HVLAB_STAT_IO] - s0.count[HVLAB_STAT_IO] - 3)
		TH_LOG("OUT, IN, IN through the latch, plus three ucalls");

	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_MSR);
	EXPECT_EQ((uint32_t)MSR_IA32_PAT, run->msr.index);
	EXPECT_EQ(0, run->msr.is_write);
	run->msr.data = 0x1122334455667788ull;
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0x1122334455667788ull);

	/* Clearing the rules: HLT goes to userspace again. */
	ASSERT_EQ(0, route(self->vcpu, HVLAB_ROUTE_CLEAR, 0, 0, 0));
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_HLT);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_F(tel, routing_bad_rules)
{
	struct hvlab_exit_route r = { .route_class = HVLAB_ROUTE_CPUID, .first = 1, .last = 1,
				      .reserved = 1 };
	int i;

	HVT_SKIPPED_IN_SETUP();
	EXPECT_EQ(-EINVAL, hvlab_set_exit_route(self->vcpu->fd, &r));
	EXPECT_EQ(-EINVAL, route(self->vcpu, 99, HVLAB_ROUTE_TO_USER, 0, 0));
	EXPECT_EQ(-EINVAL, route(self->vcpu, HVLAB_ROUTE_CPUID, 2, 0, 0));
	EXPECT_EQ(-EINVAL, route(self->vcpu, HVLAB_ROUTE_CPUID, HVLAB_ROUTE_TO_USER, 5, 4));
	EXPECT_EQ(-EINVAL, route(self->vcpu, HVLAB_ROUTE_IO, HVLAB_ROUTE_TO_USER, 0, 0x10000));
	EXPECT_EQ(-EINVAL, route(self->vcpu, HVLAB_ROUTE_HLT, HVLAB_ROUTE_TO_USER, 0, 1));
	EXPECT_EQ(-EINVAL, route(self->vcpu, HVLAB_ROUTE_CLEAR, 1, 0, 0));
	EXPECT_EQ(-EFAULT, hvlab_set_exit_route(self->vcpu->fd, (void *)8));
	for (i = 0; i < HVLAB_MAX_ROUTES; i++)
		ASSERT_EQ(0, route(self->vcpu, HVLAB_ROUTE_CPUID, HVLAB_ROUTE_TO_USER, i, i));
	EXPECT_EQ(-ENOSPC, route(self->vcpu, HVLAB_ROUTE_CPUID, HVLAB_ROUTE_TO_USER, 99, 99));
	EXPECT_EQ(0, route(self->vcpu, HVLAB_ROUTE_CLEAR, 0, 0, 0));
	EXPECT_EQ(0, route(self->vcpu, HVLAB_ROUTE_CPUID, HVLAB_ROUTE_TO_USER, 99, 99));
}

/* ---- the journal */

GUEST_CODE static void guest_triple_fault(void)
{
	static const struct { uint16_t limit; uint64_t base; } __attribute__((packed)) no_idt;
	uint32_t a, b, c, d;

	guest_cpuid(0x40000000, 0, &a, &b, &c, &d);
	guest_cpuid(0x40000001, 0, &a, &b, &c, &d);
	guest_cpuid(0x40000002, 0, &a, &b, &c, &d);
	/* #UD with an empty IDT: #GP, #DF, then shutdown (SDM Vol. 3A 6.15). */
	asm volatile("lidt %0\n\tud2" : : "m"(no_idt));
}

TEST_F(tel, journal_triple_fault)
{
	const struct hvlab_journal *j;
	const struct hvlab_journal_entry *e;
	uint64_t newest, i, want = 0x40000002;
	void *w;
	int ret;

	HVT_SKIPPED_IN_SETUP();
	ret = hvlab_map_journal(self->vcpu->fd, &j);
	ASSERT_EQ(0, ret) TH_LOG("map journal: %s", strerror(-ret));
	w = mmap(NULL, HVLAB_JOURNAL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->vcpu->fd,
		 HVLAB_JOURNAL_OFFSET);
	EXPECT_EQ(MAP_FAILED, w) TH_LOG("the journal must not be writable");
	EXPECT_EQ((uint32_t)HVLAB_JOURNAL_ENTRIES, j->nent);
	EXPECT_EQ(sizeof(*e), j->entry_size);
	e = (const void *)((const char *)j + HVLAB_JOURNAL_ENTRIES_OFFSET);

	ENTER_C(guest_triple_fault, 0, 0);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_SHUTDOWN);
	EXPECT_EQ(1u, j->frozen);
	EXPECT_EQ((uint32_t)HVLAB_STAT_SHUTDOWN, j->frozen_stat);
	ASSERT_LT(3u, j->head);
	newest = j->head - 1;
	EXPECT_EQ((uint32_t)HVLAB_STAT_SHUTDOWN, e[newest % j->nent].stat);
	EXPECT_EQ(newest + 1, e[newest % j->nent].seq);
	/* The three CPUIDs before it, newest first, with the leaf in RAX. */
	for (i = newest; i-- > 0 && want >= 0x40000000; ) {
		const struct hvlab_journal_entry *x = &e[i % j->nent];

		ASSERT_EQ(i + 1, x->seq);
		if (x->stat != HVLAB_STAT_CPUID)
			continue;
		EXPECT_EQ(want, x->rax);
		EXPECT_EQ(hvt_cpu_vendor() == HVLAB_VENDOR_AMD ? 0x72u : 10u, x->vendor_reason);
		EXPECT_NE(0u, x->rip);
		want--;
	}
	EXPECT_EQ(0x3fffffffu, want) TH_LOG("all three CPUIDs are in the journal");

	/* Frozen: a new guest's exits are not recorded until thawed. */
	newest = j->head;
	ENTER_C(guest_known_exits, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	EXPECT_EQ(newest, j->head);
	EXPECT_EQ(-EINVAL, -(ioctl(self->vcpu->fd, HVLAB_THAW_JOURNAL, 1) ? errno : 0));
	ASSERT_EQ(0, hvlab_thaw_journal(self->vcpu->fd));
	EXPECT_EQ(0u, j->frozen);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	EXPECT_LT(newest, j->head);
	EXPECT_EQ((uint32_t)HVLAB_STAT_IO, e[(j->head - 1) % j->nent].stat);
	hvlab_unmap_journal(j);
}

/* ---- netlink while a guest runs, events, permissions */

static volatile int stop_flag;

GUEST_CODE static void guest_spin_cpuid(void)
{
	uint32_t a, b, c, d;

	while (!stop_flag)
		guest_cpuid(0, 0, &a, &b, &c, &d);
	GUEST_DONE();
}

struct runner {
	struct hvt_vcpu *vcpu;
	int ret;
	struct ucall uc;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;

	r->ret = hvt_vcpu_run_ucall(r->vcpu, &r->uc);
	return NULL;
}

TEST_F(tel, dump_while_running)
{
	struct runner r = { .vcpu = self->vcpu };
	volatile int *stop = hvt_guest_ptr(self->vm, &stop_flag);
	uint64_t first = 0, last = 0;
	pthread_t th;
	struct snap s;
	int i;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_spin_cpuid, 0, 0);
	*stop = 0;
	ASSERT_EQ(0, pthread_create(&th, NULL, run_thread, &r));
	for (i = 0; i < 200 && last <= first + 100; i++) {
		usleep(20000);
		SNAP(&s);
		if (!first)
			first = cnt(&s, HVLAB_STAT_CPUID);
		last = cnt(&s, HVLAB_STAT_CPUID);
	}
	*stop = 1;
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(UCALL_DONE, r.ret) TH_LOG("RUN: %s", r.ret < 0 ? strerror(-r.ret) : "other ucall");
	EXPECT_LT(first, last) TH_LOG("the dump sees the running guest's CPUIDs grow");
	SNAP(&s);
	check_consistent(_metadata, &s);
}

struct evcount {
	uint32_t vm_id;
	int cpuid, other;
};

static int ev_cb(const struct hvlab_nl_event *ev, void *arg)
{
	struct evcount *c = arg;

	if (ev->vm_id != c->vm_id)
		return 0;
	if (ev->stat == HVLAB_STAT_CPUID && ev->where == HVLAB_WHERE_KERNEL && ev->cycles)
		c->cpuid++;
	else
		c->other++;
	return 0;
}

/*
 * Run guest_known_exits up to its first OUT and receive the VM's events
 * into @c until its 10 CPUIDs are in, or 5 s pass without a message.
 */
static void gather_known_exit_events(struct __test_metadata *_metadata,
				     FIXTURE_DATA(tel) *self, struct evcount *c)
{
	struct pollfd pfd = { .fd = hvlab_nl_event_fd(self->nl), .events = POLLIN };
	int ret;

	ENTER_C(guest_known_exits, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	while (c->cpuid < 10 && poll(&pfd, 1, 5000) == 1) {
		ret = hvlab_nl_recv_events(self->nl, ev_cb, c);
		ASSERT_LE(0, ret) TH_LOG("receive: %s (%s)", strerror(-ret),
					 hvlab_nl_last_error(self->nl));
	}
}

TEST_F(tel, multicast_events)
{
	struct evcount c = { .vm_id = self->vm_id };
	int ret;

	HVT_SKIPPED_IN_SETUP();
	ret = hvlab_nl_subscribe(self->nl);
	ASSERT_EQ(0, ret) TH_LOG("join the multicast group: %s", strerror(-ret));
	ASSERT_EQ(0, hvlab_nl_set_events(self->nl, self->vm_id, 1));
	gather_known_exit_events(_metadata, self, &c);
	EXPECT_EQ(10, c.cpuid) TH_LOG("every CPUID as one event (sample 1)");
	EXPECT_LT(0, c.other);
	EXPECT_EQ(-EINVAL, hvlab_nl_set_events(self->nl, 0, 1)) TH_LOG("VM id 0 is refused");
	EXPECT_EQ(-ENOENT, hvlab_nl_set_events(self->nl, 0x7fffffff, 1));
	ASSERT_EQ(0, hvlab_nl_set_events(self->nl, self->vm_id, 0));
}

/*
 * A child that becomes another user: the VM's statistics are not its to
 * read, reset or stream.  Exit status: 0 all refused, else the step + 10.
 */
static int other_user(uint32_t vm_id)
{
	struct hvlab_nl *nl;
	struct snap s = { 0 };

	if (setgid(NOBODY) || setuid(NOBODY))
		return 1;
	if (hvlab_nl_open(&nl))
		return 2;
	if (hvlab_nl_dump(nl, vm_id, snap_cb, &s) != -EPERM)
		return 11;
	if (hvlab_nl_dump(nl, 0, snap_cb, &s) || s.msgs)
		return 12;
	if (hvlab_nl_reset(nl, vm_id) != -EPERM)
		return 13;
	if (hvlab_nl_set_events(nl, vm_id, 1) != -EPERM)
		return 14;
	if (hvlab_nl_subscribe(nl) != -EPERM)
		return 15;
	hvlab_nl_close(nl);
	return 0;
}

TEST_F(tel, permissions)
{
	struct snap s;
	int status;
	pid_t pid;

	HVT_SKIPPED_IN_SETUP();
	if (geteuid() != 0)
		SKIP(return, "needs root to setuid() a child to another user");
	ENTER_C(guest_known_exits, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(other_user(self->vm_id));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("step %d of other_user() was allowed",
						 WEXITSTATUS(status));
	/* The owner still reads it (the open ucall), and nobody reset it. */
	SNAP(&s);
	EXPECT_LE(1u, cnt(&s, HVLAB_STAT_IO));
	EXPECT_TRUE(s.st[HVLAB_STAT_IO].open);
}

/* The tracepoints, through ftrace: every CPUID exit shows up with its leaf's RIP. */
#define TRACEFS		"/sys/kernel/tracing"

TEST_F(tel, tracepoints)
{
	char path[128], line[512], want[64];
	int exits = 0, entries = 0;
	FILE *f;

	HVT_SKIPPED_IN_SETUP();
	if (access(TRACEFS "/events", F_OK) && hvt_system("mount -t tracefs nodev " TRACEFS))
		SKIP(return, "no tracefs at " TRACEFS);
	if (access(TRACEFS "/events/hvlab/hvlab_exit/enable", W_OK))
		SKIP(return, "no hvlab events in tracefs (kernel without tracepoints?)");
	ASSERT_EQ(0, hvt_write_str(TRACEFS "/trace", ""));
	ASSERT_EQ(0, hvt_write_str(TRACEFS "/events/hvlab/enable", "1"));
	ENTER_C(guest_known_exits, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	ASSERT_EQ(0, hvt_write_str(TRACEFS "/events/hvlab/enable", "0"));

	snprintf(want, sizeof(want), "vm %u vcpu 0 stat %u ", self->vm_id, HVLAB_STAT_CPUID);
	snprintf(path, sizeof(path), "%s/trace", TRACEFS);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "hvlab_exit: ") && strstr(line, want))
			exits++;
		if (strstr(line, "hvlab_entry: "))
			entries++;
	}
	fclose(f);
	EXPECT_EQ(10, exits) TH_LOG("hvlab_exit lines with '%s'", want);
	EXPECT_LE(20, entries) TH_LOG("an entry after each exit");
}

/*
 * The event stream left on with nobody listening costs nothing: no event
 * is recorded and no worker is queued (issue 16: before, every RUN return
 * queued the sender, about 5,900 guest-visible instructions per exit to
 * userspace).  Seen through the workqueue_queue_work tracepoint, which
 * names the work function.  Then a listener joins and the stream flows.
 */
static int count_queued_senders(void)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(TRACEFS "/trace", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "workqueue_queue_work") && strstr(line, "hv_genl_send_events");
	fclose(f);
	return n;
}

TEST_F(tel, stream_unheard)
{
	struct evcount c = { .vm_id = self->vm_id };
	int i, ret;

	HVT_SKIPPED_IN_SETUP();
	if (access(TRACEFS "/events", F_OK) && hvt_system("mount -t tracefs nodev " TRACEFS))
		SKIP(return, "no tracefs at " TRACEFS);
	if (access(TRACEFS "/events/workqueue/workqueue_queue_work/enable", W_OK))
		SKIP(return, "no workqueue events in tracefs (kernel without tracepoints?)");
	ASSERT_EQ(0, hvlab_nl_set_events(self->nl, self->vm_id, 1));
	ASSERT_EQ(0, hvt_write_str(TRACEFS "/trace", ""));
	ASSERT_EQ(0, hvt_write_str(TRACEFS "/events/workqueue/workqueue_queue_work/enable", "1"));
	ENTER_C(guest_known_exits, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	for (i = 0; i < 4; i++)
		HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	usleep(100000);
	EXPECT_EQ(0, count_queued_senders())
		TH_LOG("the event sender was queued with nobody listening");

	/* Someone listens: the next guest's exits come as events. */
	ret = hvlab_nl_subscribe(self->nl);
	ASSERT_EQ(0, ret) TH_LOG("join the multicast group: %s", strerror(-ret));
	gather_known_exit_events(_metadata, self, &c);
	ASSERT_EQ(0, hvt_write_str(TRACEFS "/events/workqueue/workqueue_queue_work/enable", "0"));
	EXPECT_EQ(10, c.cpuid) TH_LOG("every CPUID as one event once someone listens");
	EXPECT_LT(0, count_queued_senders()) TH_LOG("the sender runs for a listener");
	ASSERT_EQ(0, hvlab_nl_set_events(self->nl, self->vm_id, 0));
}

/* hvlab-stat, the tool, on the same statistics: its CSV row for CPUID. */
#define HVLAB_STAT_BIN	"/hvlab/bin/hvlab-stat"

/* The tool must be in the PC; the guest has then made its CPUID, MSR and 4 OUT exits. */
#define STAT_TOOL_PRELUDE() do {							\
	int __i;									\
	HVT_SKIPPED_IN_SETUP();								\
	if (access(HVLAB_STAT_BIN, X_OK))						\
		SKIP(return, HVLAB_STAT_BIN " is not installed (not in the emulated PC?)");	\
	ENTER_C(guest_known_exits, 0, 0);						\
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);						\
	for (__i = 0; __i < 4; __i++)							\
		HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);				\
} while (0)

typedef void (*stat_take_fn)(const char *line, unsigned int vm_id, void *ctx);

/*
 * Run HVLAB_STAT_BIN @args -V @vm_id and hand each line it prints to
 * @take, which keeps what it looks for in @ctx.  Returns pclose()'s
 * status (0: it ran and exited 0), -1 if it could not be started.
 */
static int stat_tool_lines(const char *args, unsigned int vm_id, stat_take_fn take, void *ctx)
{
	char cmd[128], line[2048];
	FILE *f;

	snprintf(cmd, sizeof(cmd), HVLAB_STAT_BIN " %s -V %u", args, vm_id);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		take(line, vm_id, ctx);
	return pclose(f);
}

/* One reason's counts for vCPU 0, as the tool printed them. */
struct stat_row {
	unsigned long long count, nkern;
	bool found;
};

/* --csv: vm,vcpu,reason,stat,vendor_reason,count,n_kernel,... */
static void take_csv_cpuid(const char *line, unsigned int vm_id, void *ctx)
{
	struct stat_row *row = ctx;
	unsigned long long count, nkern;
	unsigned int vm, vcpu;

	if (sscanf(line, "%u,%u,cpuid,%*u,%*u,%llu,%llu,", &vm, &vcpu, &count, &nkern) == 4 &&
	    vm == vm_id && vcpu == 0) {
		row->count = count;
		row->nkern = nkern;
		row->found = true;
	}
}

/*
 * HVLAB_STAT_BIN @args prints, on the row @take picks, @n exits for vCPU
 * 0, all of them handled in the kernel.
 */
static void expect_stat_row(struct __test_metadata *_metadata, unsigned int vm_id,
			    const char *args, stat_take_fn take, unsigned long long n)
{
	struct stat_row row = { 0 };

	EXPECT_EQ(0, stat_tool_lines(args, vm_id, take, &row))
		TH_LOG(HVLAB_STAT_BIN " %s failed", args);
	ASSERT_TRUE(row.found) TH_LOG("no such row from " HVLAB_STAT_BIN " %s", args);
	EXPECT_EQ(n, row.count);
	EXPECT_EQ(n, row.nkern);
}

TEST_F(tel, hvlab_stat_csv)
{
	STAT_TOOL_PRELUDE();
	expect_stat_row(_metadata, self->vm_id, "--csv", take_csv_cpuid, 10);
}

/* --json: the rdmsr object of vCPU 0 (one object per line). */
static void take_json_rdmsr(const char *line, unsigned int vm_id, void *ctx)
{
	struct stat_row *row = ctx;
	const char *p, *c, *k;
	char want[64];

	snprintf(want, sizeof(want), "{\"vm\": %u, \"vcpu\": 0,", vm_id);
	p = strstr(line, want);
	if (!p || !strstr(p, "\"reason\": \"rdmsr\""))
		return;
	c = strstr(p, "\"count\": ");
	k = strstr(p, "\"kernel\": {\"n\": ");
	if (c && k && sscanf(c, "\"count\": %llu", &row->count) == 1 &&
	    sscanf(k, "\"kernel\": {\"n\": %llu", &row->nkern) == 1)
		row->found = true;
}

/* --json: the same statistics, one JSON object per VM / vCPU / reason. */
TEST_F(tel, hvlab_stat_json)
{
	STAT_TOOL_PRELUDE();
	expect_stat_row(_metadata, self->vm_id, "--json", take_json_rdmsr, 7);
}

/* One row of the live view. */
struct live_row {
	unsigned long long count;
	double rate, mean, p50, p99, kern, rtt;
};

/* The live view's rows for HLT on vCPU 0: how many, and the last. */
struct live_hlt {
	struct live_row last;
	int rows;
};

/* vm vcpu reason count rate/s mean p50 p99 kern% rtt */
static void take_live_hlt(const char *line, unsigned int vm_id, void *ctx)
{
	struct live_hlt *h = ctx;
	unsigned int vm, vcpu;
	struct live_row r;
	char reason[32];

	if (sscanf(line, "%u %u %31s %llu %lf %lf %lf %lf %lf %lf", &vm, &vcpu, reason,
		   &r.count, &r.rate, &r.mean, &r.p50, &r.p99, &r.kern, &r.rtt) == 10 &&
	    vm == vm_id && vcpu == 0 && !strcmp(reason, "hlt")) {
		h->last = r;
		h->rows++;
	}
}

/*
 * The live view, two refreshes: the HLT row says 2 exits, none of them
 * handled in the kernel (kern% 0), each with a userspace round trip.
 */
TEST_F(tel, hvlab_stat_live_view)
{
	struct live_hlt h = { 0 };

	STAT_TOOL_PRELUDE();
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_HLT);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_HLT);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);	/* both HLTs closed: the guest ran again */
	EXPECT_EQ(0, stat_tool_lines("-n 2 -d 0.2", self->vm_id, take_live_hlt, &h))
		TH_LOG(HVLAB_STAT_BIN " -n 2 -d 0.2 failed");
	ASSERT_EQ(2, h.rows) TH_LOG("one hlt row per refresh");
	EXPECT_EQ(2u, h.last.count);
	EXPECT_EQ(0, h.last.rate) TH_LOG("nothing ran between the refreshes");
	EXPECT_EQ(0, h.last.kern) TH_LOG("HLT goes to userspace by default");
	EXPECT_LT(0, h.last.mean);
	EXPECT_LE(h.last.p50, h.last.p99);
	EXPECT_LT(0, h.last.rtt) TH_LOG("userspace round trips are measured");
}

/*
 * --events: the tool announces the stream once it is on, prints every
 * exit (sample 1), and a SIGINT ends it cleanly (exit status 0).
 */
TEST_F(tel, hvlab_stat_events)
{
	char id[16], line[512];
	struct pollfd pfd;
	int pipefd[2], status, cpuid = 0, header = 0, i;
	pid_t pid;
	FILE *f;

	HVT_SKIPPED_IN_SETUP();
	if (access(HVLAB_STAT_BIN, X_OK))
		SKIP(return, HVLAB_STAT_BIN " is not installed (not in the emulated PC?)");
	if (geteuid() != 0)
		SKIP(return, "the multicast group needs CAP_SYS_ADMIN");
	ASSERT_EQ(0, pipe(pipefd));
	snprintf(id, sizeof(id), "%u", self->vm_id);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		execl(HVLAB_STAT_BIN, "hvlab-stat", "--events", id, "-s", "1", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	f = fdopen(pipefd[0], "r");
	ASSERT_NE(NULL, f);
	/* Unbuffered: a line stdio read ahead would hide from poll(). */
	setvbuf(f, NULL, _IONBF, 0);
	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	/* The header comes only once the VM is streaming. */
	if (poll(&pfd, 1, 10000) == 1 && fgets(line, sizeof(line), f))
		header = line[0] == '#';
	EXPECT_TRUE(header) TH_LOG("no header line from hvlab-stat --events");
	if (header) {
		ENTER_C(guest_known_exits, 0, 0);
		HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
		for (i = 0; i < 4; i++)
			HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
		/* The fgets() may wait for events the worker has not sent yet. */
		while (cpuid < 10 && poll(&pfd, 1, 10000) == 1 && fgets(line, sizeof(line), f)) {
			char want[32];

			snprintf(want, sizeof(want), "vm %u vcpu 0 cpuid ", self->vm_id);
			if (!strncmp(line, want, strlen(want)) && strstr(line, " kernel"))
				cpuid++;
		}
	}
	kill(pid, SIGINT);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	fclose(f);
	EXPECT_EQ(10, cpuid) TH_LOG("every CPUID as one event line, handled in the kernel");
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("SIGINT ends the stream cleanly (status %#x)", status);
	if (!header)
		return;
	/* ... and switched the VM's stream off: more exits, no events. */
	ASSERT_EQ(0, hvlab_nl_subscribe(self->nl));
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_HLT);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_HLT);
	pfd.fd = hvlab_nl_event_fd(self->nl);
	EXPECT_EQ(0, poll(&pfd, 1, 500)) TH_LOG("events after hvlab-stat stopped");
}

TEST_HARNESS_MAIN
