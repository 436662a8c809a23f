// SPDX-License-Identifier: GPL-2.0
/*
 * lab02_port.c - the check of docs/labs/02-port.md: a 4-byte IN from
 * port 0x5a0 is answered in the kernel, without a return to userspace,
 * with the number of CPUID exits this vCPU has taken so far (the count
 * HVLAB_GET_EXIT_STATS reports).
 */
#define _GNU_SOURCE
#include <stdint.h>

#include "labcheck.h"

#define LAB_PORT	0x5a0

GUEST_CODE static void guest_main(void)
{
	uint32_t a, b, c, d, before, after;

	before = guest_inl(LAB_PORT);
	for (int i = 0; i < 5; i++)
		asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	after = guest_inl(LAB_PORT);
	GUEST_SYNC_ARGS(before, after, 0, 0);
}

int main(void)
{
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
	struct hvlab_exit_stats st;
	struct ucall uc;
	char buf[256];
	int r;

	lab_name = "lab 02 (port)";
	lab_vm(&vm, &vcpu);
	r = hvt_vcpu_enter_c(vcpu, (void *)guest_main, 0, 0);
	if (r)
		lab_fail("starting the guest: %s", strerror(-r));
	r = hvt_vcpu_run_ucall(vcpu, &uc);
	if (r < 0)
		lab_fail("HVLAB_RUN: %s", strerror(-r));
	if (r == UCALL_NONE) {
		if (vcpu->run->exit_reason == HVLAB_EXIT_IO && vcpu->run->io.port == LAB_PORT)
			lab_fail("IN from port %#x came to userspace: the kernel did not answer it",
				 LAB_PORT);
		lab_fail("the guest stopped with %s", hvt_exit_str(vcpu, buf, sizeof(buf)));
	}
	if (r != UCALL_SYNC)
		lab_fail("the guest failed: %s", hvt_ucall_str(&uc, buf, sizeof(buf)));
	r = hvlab_get_exit_stats(vcpu->fd, &st);
	if (r)
		lab_fail("HVLAB_GET_EXIT_STATS: %s", strerror(-r));
	printf("port %#x read %llu before and %llu after 5 CPUIDs; HVLAB_GET_EXIT_STATS: %llu CPUID exits, %llu port I/O exits\n",
	       LAB_PORT, (unsigned long long)uc.args[0], (unsigned long long)uc.args[1],
	       (unsigned long long)st.count[HVLAB_STAT_CPUID], (unsigned long long)st.count[HVLAB_STAT_IO]);
	if (uc.args[1] - uc.args[0] != 5)
		lab_fail("the count went from %llu to %llu across 5 CPUID exits",
			 (unsigned long long)uc.args[0], (unsigned long long)uc.args[1]);
	if (uc.args[1] != st.count[HVLAB_STAT_CPUID])
		lab_fail("the port said %llu, HVLAB_GET_EXIT_STATS says %llu CPUID exits",
			 (unsigned long long)uc.args[1], (unsigned long long)st.count[HVLAB_STAT_CPUID]);
	if (st.count[HVLAB_STAT_IO] < 3)
		lab_fail("only %llu port I/O exits counted: the two INs should be among them",
			 (unsigned long long)st.count[HVLAB_STAT_IO]);
	hvt_vm_free(vm);
	lab_pass("port %#x answered in the kernel: 5 CPUID exits seen", LAB_PORT);
}
