// SPDX-License-Identifier: GPL-2.0
/*
 * lab05_state.c - YOUR part of docs/labs/05-break-entry.md.
 *
 * lab05_break_state() gets the system state of a 64-bit guest that runs
 * fine (long mode, paging on, flat segments: what selftests/lib/guest.c
 * sets up).  Change it so that HVLAB_SET_SREGS still accepts it but the
 * CPU would refuse the VM entry.  lab05_break (the check) then sets it,
 * runs the vCPU and prints hvlab's explanation of the refusal.
 */
#include "hvlab.h"

void lab05_break_state(struct hvlab_sregs *s);

void lab05_break_state(struct hvlab_sregs *s)
{
	(void)s;	/* TODO: break one rule of SDM Vol. 3C 27.3 / APM Vol. 2 15.5.1 */
}
