// SPDX-License-Identifier: GPL-2.0
/*
 * lab04_rdtsc.c - the check of docs/labs/04-rdtsc.md: with RDTSC exiting
 * on, each of the guest's 100 RDTSCs is one exit (VMX basic exit reason
 * 16, SDM Vol. 3C Appendix C; SVM exit code 0x6e, APM Vol. 2 Appendix C)
 * in the vCPU's exit journal, handled in the kernel, and the values the
 * guest reads still climb.
 */
#define _GNU_SOURCE
#include <stdint.h>

#include "labcheck.h"

#define N_RDTSC		100
#define VMX_EXIT_RDTSC	16
#define SVM_EXIT_RDTSC	0x6e

GUEST_CODE static void guest_main(void)
{
	uint64_t prev = 0, bad = 0;

	for (int i = 0; i < N_RDTSC; i++) {
		uint32_t lo, hi;
		uint64_t t;

		asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
		t = lo | (uint64_t)hi << 32;
		if (t <= prev)
			bad++;
		prev = t;
	}
	GUEST_SYNC_ARGS(bad, prev, 0, 0);
}

int main(void)
{
	const struct hvlab_journal *j;
	const struct hvlab_journal_entry *e;
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
	struct ucall uc;
	uint64_t want, n = 0, i, first;
	int r;

	lab_name = "lab 04 (RDTSC exiting)";
	want = hvt_cpu_vendor() == HVLAB_VENDOR_INTEL ? VMX_EXIT_RDTSC : SVM_EXIT_RDTSC;
	lab_vm(&vm, &vcpu);
	r = hvlab_map_journal(vcpu->fd, &j);
	if (r)
		lab_fail("mmap of the exit journal: %s", strerror(-r));
	r = hvt_vcpu_enter_c(vcpu, (void *)guest_main, 0, 0);
	if (r)
		lab_fail("starting the guest: %s", strerror(-r));
	lab_run_ucall(vcpu, &uc);
	if (uc.args[0])
		lab_fail("%llu of the guest's RDTSC values did not climb", (unsigned long long)uc.args[0]);
	if (!j->head)
		lab_fail("the exit journal is empty: is the module parameter telemetry 0?");
	first = j->head > j->nent ? j->head - j->nent : 0;
	for (i = first; i < j->head; i++) {
		e = (const void *)((const char *)j + HVLAB_JOURNAL_ENTRIES_OFFSET +
				   (i % j->nent) * j->entry_size);
		if (e->vendor_reason == want)
			n++;
	}
	printf("the journal holds %llu exits (of %llu); %llu of them are RDTSC (reason %#llx)\n",
	       (unsigned long long)(j->head - first), (unsigned long long)j->head,
	       (unsigned long long)n, (unsigned long long)want);
	if (n != N_RDTSC)
		lab_fail("%llu RDTSC exits for the guest's %d RDTSCs", (unsigned long long)n, N_RDTSC);
	hvlab_unmap_journal(j);
	hvt_vm_free(vm);
	lab_pass("%d RDTSCs, %d exits, the TSC still climbs", N_RDTSC, N_RDTSC);
}
