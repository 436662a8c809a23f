// SPDX-License-Identifier: GPL-2.0
/*
 * test_nmi.c - NMIs that arrive while a guest runs reach the host's NMI
 * handler, on both vendors.
 *
 * An NMI in guest mode exits (VMX "NMI exiting", SDM Vol. 3C 25.6.1 and
 * 27.1: the exit consumes it; SVM NMI intercept, APM Vol. 2 15.13.2: it
 * stays pending until STGI).  On VMX hvlab must then call the host's
 * handler itself (vmx_nmi_asm, the way KVM does), or the host never sees
 * the NMI.  The module's test_nmi_cpu knob sends NMIs by IPI to the CPU
 * where the guest spins and counts those the host's handlers saw; every
 * one must be seen, and some must have been NMI exits.  Needs a second
 * CPU to send from: run-all runs it in the 2-CPU PCs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "guest.h"

#define NMI_PARAM	"/sys/module/hvlab/parameters/test_nmi_cpu"
#define NR_NMIS		20
#define FLAG_GPA	HVT_RAW_DATA_GPA

/* Say it spins (flag[1]), then spin without exits until the host sets flag[0]. */
GUEST_CODE static void guest_spin(uint64_t flag_gpa, uint64_t unused)
{
	volatile uint64_t *flag = (volatile uint64_t *)flag_gpa;

	(void)unused;
	flag[1] = 1;
	while (!*flag)
		asm volatile("pause");
	GUEST_SYNC(1);
}

struct sender {
	int cpu;		/* where the guest runs */
	volatile uint64_t *flag;	/* [0] the guest may stop, [1] it spins */
	int err;
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* On CPU 0: NMIs to the guest's CPU, then let the guest finish. */
static void *send_nmis(void *arg)
{
	struct sender *s = arg;
	char cpu[16];
	int i;

	s->err = hvt_pin_to_cpu(0);
	snprintf(cpu, sizeof(cpu), "%d", s->cpu);
	/*
	 * Until the guest spins: counted in polls, not a fixed sleep, which
	 * on a busy host could end before the vCPU entered the guest at all
	 * and leave no NMI to arrive in guest mode.
	 */
	while (!s->flag[1])
		sleep_ms(1);
	for (i = 0; i < NR_NMIS && !s->err; i++) {
		s->err = hvt_write_str(NMI_PARAM, cpu);
		sleep_ms(5);
	}
	*s->flag = 1;
	return NULL;
}

TEST(nmi_in_guest_reaches_host)
{
	struct hvlab_exit_stats st0, st1;
	unsigned long seen0, seen1;
	struct sender s = { .cpu = 1 };
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
	pthread_t thr;
	int r;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	HVT_REQUIRE_RUN();
	if (hvt_cpus_online() < 2)
		SKIP(return, "one CPU: no CPU to send the NMIs from (run-all runs this in the 2-CPU PCs)");
	ASSERT_EQ(0, hvt_pin_to_cpu(s.cpu));
	r = hvt_vm_create(0, 0, &vm);
	ASSERT_EQ(0, r) TH_LOG("VM: %s", strerror(-r));
	r = hvt_vcpu_add(vm, 0, &vcpu);
	ASSERT_EQ(0, r) TH_LOG("vCPU: %s", strerror(-r));
	s.flag = hvt_gpa2hva(vm, FLAG_GPA, 16);
	ASSERT_NE(NULL, s.flag);
	s.flag[0] = s.flag[1] = 0;
	ASSERT_EQ(0, hvt_vcpu_enter_c(vcpu, (void *)guest_spin, FLAG_GPA, 0));
	ASSERT_EQ(0, hvt_read_ulong(NMI_PARAM, &seen0));
	ASSERT_EQ(0, ioctl(vcpu->fd, HVLAB_GET_EXIT_STATS, &st0));

	ASSERT_EQ(0, pthread_create(&thr, NULL, send_nmis, &s));
	HVT_RUN_EXPECT_SYNC(vcpu, 1);
	pthread_join(thr, NULL);
	ASSERT_EQ(0, s.err) TH_LOG("sending NMIs: %s", strerror(-s.err));

	ASSERT_EQ(0, ioctl(vcpu->fd, HVLAB_GET_EXIT_STATS, &st1));
	ASSERT_EQ(0, hvt_read_ulong(NMI_PARAM, &seen1));
	TH_LOG("%d NMIs sent, %lu seen by the host, %llu NMI exits", NR_NMIS, seen1 - seen0,
	       (unsigned long long)(st1.count[HVLAB_STAT_NMI] - st0.count[HVLAB_STAT_NMI]));
	EXPECT_EQ((unsigned long)NR_NMIS, seen1 - seen0) TH_LOG("an NMI was lost");
	EXPECT_LT(0u, st1.count[HVLAB_STAT_NMI] - st0.count[HVLAB_STAT_NMI])
		TH_LOG("no NMI arrived in guest mode");
	HVT_RUN_EXPECT_DONE(vcpu);
	hvt_vm_free(vm);
}

TEST_HARNESS_MAIN
