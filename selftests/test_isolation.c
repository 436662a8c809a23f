// SPDX-License-Identifier: GPL-2.0
/*
 * test_isolation - host state a guest must neither see nor change: the
 * registers that VM entry and exit do not switch, or that a guest can
 * reach without an exit unless the hypervisor intercepts it.  Each test
 * runs a 64-bit C guest on either vendor and checks the VMM thread's own
 * state around it.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libhvlab.h"
#include "hvtest.h"
#include "guest.h"

#define X86_CR4_PKE	(1ull << 22)

FIXTURE(iso) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_SETUP(iso)
{
	int ret;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	HVT_REQUIRE_RUN();
	ret = hvt_vm_create(0, 0, &self->vm);
	ASSERT_EQ(0, ret) TH_LOG("VM: %s", strerror(-ret));
	ret = hvt_vcpu_add(self->vm, 0, &self->vcpu);
	ASSERT_EQ(0, ret) TH_LOG("vCPU: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(iso)
{
	hvt_vm_free(self->vm);
}

#define ENTER_C(fn, a0, a1) do {						\
	int __r = hvt_vcpu_enter_c(self->vcpu, (void *)(fn), (a0), (a1));	\
	ASSERT_EQ(0, __r) TH_LOG("enter: %s", strerror(-__r));			\
} while (0)

/* Give the scheduler a chance to switch this thread out and back in. */
static void host_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- PKRU */

/* The guest's PKRU: write-disable for keys 1-15, key 0 untouched. */
#define GUEST_PKRU	0xaaaaaaa8u

static inline uint32_t host_rdpkru(void)
{
	uint32_t eax, edx;

	asm volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

GUEST_INLINE uint32_t guest_rdpkru(void)
{
	uint32_t eax, edx;

	asm volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

GUEST_CODE static void guest_pkru(void)
{
	uint64_t cr4;

	asm volatile("mov %%cr4, %0" : "=r"(cr4));
	asm volatile("mov %0, %%cr4" : : "r"(cr4 | X86_CR4_PKE) : "memory");
	GUEST_SYNC(guest_rdpkru());		/* the reset value, 0 */
	asm volatile(".byte 0x0f, 0x01, 0xef" : : "a"(GUEST_PKRU), "c"(0), "d"(0));
	GUEST_SYNC(1);				/* host looks at its own PKRU */
	GUEST_SYNC(guest_rdpkru());		/* still ours after the host ran */
}

/*
 * The guest turns on protection keys itself (CR4 writes of PKE exit on
 * neither vendor) and loads PKRU with WRPKRU: the VMM thread must come
 * back from RUN with its own PKRU, and the guest keep its value across
 * RUNs and a sleep of the host thread.  PKRU switches nothing by itself
 * on VM entry or exit (SDM Vol. 3C 27.3/28.5, APM Vol. 2 15.5).
 */
TEST_F(iso, pkru)
{
	uint32_t a, b, c, d, host;
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	hvt_cpuid(7, 0, &a, &b, &c, &d);
	if (!(c & (1u << 3)))
		SKIP(return, "the emulated CPU has no protection keys (CPUID.7.0:ECX.PKU = 0)");
	if (!(c & (1u << 4)))
		SKIP(return, "the PC's kernel does not use protection keys (CPUID.7.0:ECX.OSPKE = 0)");
	host = host_rdpkru();
	ASSERT_NE(GUEST_PKRU, host) TH_LOG("pick another guest value: the host has %#x", host);

	ENTER_C(guest_pkru, 0, 0);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0, uc.args[0]) TH_LOG("the guest's PKRU starts at 0, not the host's %#x", host);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);
	EXPECT_EQ(host, host_rdpkru()) TH_LOG("RUN came back with the guest's PKRU");
	host_sleep_ms(20);
	EXPECT_EQ(host, host_rdpkru());
	HVT_RUN_EXPECT_SYNC(self->vcpu, GUEST_PKRU);
	HVT_RUN_EXPECT_DONE(self->vcpu);
	EXPECT_EQ(host, host_rdpkru());
}

TEST_HARNESS_MAIN
