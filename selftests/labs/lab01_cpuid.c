// SPDX-License-Identifier: GPL-2.0
/*
 * lab01_cpuid.c - the check of docs/labs/01-cpuid.md: the guest finds
 * hvlab's signature at CPUID 0x40000000, a maximum hypervisor leaf of at
 * least 0x40000010 there, and its TSC rate in kHz in 0x40000010 EAX,
 * equal (within 0.1%) to the rate the PC's kernel uses (tsc_khz, as its
 * boot log says).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/klog.h>

#include "labcheck.h"

GUEST_CODE static void guest_main(void)
{
	uint32_t a, b, c, d;

	guest_cpuid(0x40000000, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(a, b, c, d);
	guest_cpuid(0x40000010, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(a, b, c, d);
}

/*
 * The kernel's TSC rate in kHz from its log: the last "tsc: Refined TSC
 * clocksource calibration: X MHz" or "tsc: Detected X MHz processor"
 * (arch/x86/kernel/tsc.c prints tsc_khz in both, three decimals).
 */
static unsigned long host_tsc_khz(void)
{
	static char log[1 << 20];
	unsigned long khz = 0, mhz, frac;
	int n = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	const char *p;

	if (n <= 0 || n > (int)sizeof(log) - 1)
		n = sizeof(log) - 1;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, n);
	if (n <= 0)
		return 0;
	log[n] = 0;
	for (p = log; (p = strstr(p, "tsc: ")); p++) {
		if (sscanf(p, "tsc: Refined TSC clocksource calibration: %lu.%3lu MHz", &mhz, &frac) == 2 ||
		    sscanf(p, "tsc: Detected %lu.%3lu MHz processor", &mhz, &frac) == 2)
			khz = mhz * 1000 + frac;
	}
	return khz;
}

int main(void)
{
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
	struct ucall uc;
	char sig[13];
	unsigned long khz, got;
	int r;

	lab_name = "lab 01 (CPUID)";
	lab_vm(&vm, &vcpu);
	r = hvt_vcpu_enter_c(vcpu, (void *)guest_main, 0, 0);
	if (r)
		lab_fail("starting the guest: %s", strerror(-r));

	lab_run_ucall(vcpu, &uc);
	memcpy(sig, &uc.args[1], 4);
	memcpy(sig + 4, &uc.args[2], 4);
	memcpy(sig + 8, &uc.args[3], 4);
	sig[12] = 0;
	printf("CPUID 0x40000000: EAX %#llx, signature \"%s\"\n", (unsigned long long)uc.args[0], sig);
	if (strcmp(sig, "hvlabhvlab"))
		lab_fail("the signature in EBX, ECX, EDX is \"%s\", not \"hvlabhvlab\"", sig);
	if (uc.args[0] < 0x40000010)
		lab_fail("EAX of leaf 0x40000000 (the highest hypervisor leaf) is %#llx, below 0x40000010",
			 (unsigned long long)uc.args[0]);

	lab_run_ucall(vcpu, &uc);
	got = uc.args[0];
	khz = host_tsc_khz();
	printf("CPUID 0x40000010: EAX %lu, EBX %llu; the kernel's TSC runs at %lu kHz\n",
	       got, (unsigned long long)uc.args[1], khz);
	if (!khz)
		lab_fail("no \"tsc: Detected ... MHz\" line in the kernel log to compare with");
	if (got * 1000 < khz * 999 || got * 1000 > khz * 1001)
		lab_fail("leaf 0x40000010 EAX is %lu kHz, the TSC runs at %lu kHz", got, khz);
	if (lab_run_ucall(vcpu, &uc) != UCALL_DONE)
		lab_fail("the guest did not finish");
	hvt_vm_free(vm);
	lab_pass("the guest reads its TSC rate, %lu kHz, from CPUID 0x40000010", got);
}
