// SPDX-License-Identifier: GPL-2.0
/*
 * lab05_break.c - the check of docs/labs/05-break-entry.md: the guest
 * state lab05_state.c makes is accepted by HVLAB_SET_SREGS, and the VM
 * entry is refused by hvlab's own consistency check (fail_entry with
 * hardware_reason 0 and a rule named), before the CPU sees it.
 */
#define _GNU_SOURCE
#include <stdint.h>

#include "labcheck.h"

void lab05_break_state(struct hvlab_sregs *s);

GUEST_CODE static void guest_main(void)
{
	GUEST_SYNC(1);
}

int main(void)
{
	struct hvlab_sregs s, orig;
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
	struct hvlab_run *run;
	char buf[256];
	int r;

	lab_name = "lab 05 (break a VM entry)";
	lab_vm(&vm, &vcpu);
	run = vcpu->run;
	r = hvt_vcpu_enter_c(vcpu, (void *)guest_main, 0, 0);
	if (r)
		lab_fail("starting the guest: %s", strerror(-r));
	r = hvlab_get_sregs(vcpu->fd, &s);
	if (r)
		lab_fail("HVLAB_GET_SREGS: %s", strerror(-r));
	orig = s;
	lab05_break_state(&s);
	if (!memcmp(&s, &orig, sizeof(s)))
		printf("lab05_break_state() left the state as it was\n");
	r = hvlab_set_sregs(vcpu->fd, &s);
	if (r)
		lab_fail("HVLAB_SET_SREGS refused the state (%s): the ioctl's own checks caught it (see dmesg for which); find a state it accepts but the CPU would not",
			 strerror(-r));
	r = hvlab_run(vcpu->fd);
	if (r)
		lab_fail("HVLAB_RUN: %s", strerror(-r));
	if (run->exit_reason != HVLAB_EXIT_FAIL_ENTRY)
		lab_fail("the entry worked: the guest stopped with %s", hvt_exit_str(vcpu, buf, sizeof(buf)));
	printf("entry refused: rule \"%.*s\", field %#x, hardware_reason %#llx, qualification %#llx\n",
	       (int)sizeof(run->fail_entry.rule), run->fail_entry.rule, run->fail_entry.field,
	       (unsigned long long)run->fail_entry.hardware_reason,
	       (unsigned long long)run->fail_entry.qualification);
	if (!run->fail_entry.rule[0])
		lab_fail("no rule named");
	if (run->fail_entry.hardware_reason)
		lab_fail("the CPU refused it (reason %#llx), not hvlab's own check first",
			 (unsigned long long)run->fail_entry.hardware_reason);
	memcpy(buf, run->fail_entry.rule, sizeof(run->fail_entry.rule));
	buf[sizeof(run->fail_entry.rule)] = 0;
	hvt_vm_free(vm);
	lab_pass("refused before the CPU saw it: %s", buf);
}
