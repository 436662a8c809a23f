/* SPDX-License-Identifier: GPL-2.0 */
/*
 * probe.h - one guest access at a time, chosen by the host: the guest loop
 * guest_probe() reads or writes 8 bytes at probe_addr and reports with a
 * ucall; probe() drives one access and answers it if it exits as MMIO.
 * Tests of what a guest-physical address is (RAM, MMIO, read-only, gone)
 * include this after "guest.h" (test_memslots_run.c, test_mem_follow.c,
 * test_guest_faults.c).
 */
#ifndef HVT_PROBE_H
#define HVT_PROBE_H

#include <string.h>

#include "guest.h"

#define MMIO_ANSWER	0x5eadbeef5eadbeefull	/* what the host's "device" reads as */

/* Set by the host in the guest's copy before each RUN. */
static volatile uint64_t probe_addr, probe_write, probe_value;

/* One access per ucall: read (reported) or write of probe_value. */
GUEST_CODE static void guest_probe(void)
{
	for (;;) {
		volatile uint64_t *p = (volatile uint64_t *)probe_addr;

		if (probe_write) {
			*p = probe_value;
			GUEST_SYNC(0);
		} else {
			GUEST_SYNC(*p);
		}
	}
}

/*
 * One probe.  Returns what the guest read (MMIO_ANSWER if it was MMIO)
 * and sets *@mmio to whether it exited as MMIO (checked to be the right
 * address, size and direction, and for a write the right data).
 */
static inline uint64_t probe(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu,
			     uint64_t gpa, bool write, uint64_t value, bool *mmio)
{
	struct hvlab_run *run = vcpu->run;
	struct ucall uc;
	char buf[512];
	int ret;

	*hvt_guest_ptr(vcpu->vm, &probe_addr) = gpa;
	*hvt_guest_ptr(vcpu->vm, &probe_write) = write;
	*hvt_guest_ptr(vcpu->vm, &probe_value) = value;
	*mmio = false;
	ret = hvt_vcpu_run(vcpu);
	EXPECT_EQ(0, ret) TH_LOG("RUN: %s", strerror(-ret));
	if (ret)
		return 0;
	if (run->exit_reason == HVLAB_EXIT_MMIO) {
		*mmio = true;
		EXPECT_EQ(gpa, run->mmio.phys_addr);
		EXPECT_EQ(8u, run->mmio.len);
		EXPECT_EQ(write, run->mmio.is_write);
		if (write) {
			EXPECT_EQ(0, memcmp(run->mmio.data, &value, 8)) TH_LOG("MMIO write data");
		} else {
			uint64_t v = MMIO_ANSWER;

			memcpy(run->mmio.data, &v, 8);
		}
		ret = hvt_vcpu_run(vcpu);
		EXPECT_EQ(0, ret) TH_LOG("RUN: %s", strerror(-ret));
	}
	ret = hvt_get_ucall(vcpu, &uc);
	EXPECT_EQ(UCALL_SYNC, ret) TH_LOG("probe %#llx: %s", (unsigned long long)gpa,
					  hvt_exit_str(vcpu, buf, sizeof(buf)));
	return uc.args[0];
}

/*
 * The expectations the memory tests state over and over: @gpa reads as RAM
 * holding @want, reads as MMIO, or takes a write (as MMIO or not, as
 * @want_mmio says).  They use the harness's _metadata of the calling test.
 */
#define PROBE_EXPECT_RAM(vcpu, gpa, want) do {					\
	bool __m;								\
	uint64_t __v = probe(_metadata, (vcpu), (gpa), false, 0, &__m);		\
	EXPECT_FALSE(__m) TH_LOG("read %#llx: MMIO exit, RAM expected",		\
				 (unsigned long long)(gpa));			\
	EXPECT_EQ((uint64_t)(want), __v) TH_LOG("guest read %#llx",		\
						(unsigned long long)(gpa));	\
} while (0)

#define PROBE_EXPECT_MMIO(vcpu, gpa) do {					\
	bool __m;								\
	uint64_t __v = probe(_metadata, (vcpu), (gpa), false, 0, &__m);		\
	EXPECT_TRUE(__m) TH_LOG("read %#llx: no MMIO exit, got %#llx",		\
				(unsigned long long)(gpa), (unsigned long long)__v); \
	EXPECT_EQ(MMIO_ANSWER, __v);						\
} while (0)

#define PROBE_EXPECT_WRITE(vcpu, gpa, val, want_mmio) do {			\
	bool __m;								\
	probe(_metadata, (vcpu), (gpa), true, (val), &__m);			\
	EXPECT_EQ((bool)(want_mmio), __m) TH_LOG("write %#llx: MMIO exit %s",	\
						 (unsigned long long)(gpa),	\
						 __m ? "seen" : "missing");	\
} while (0)

#endif
