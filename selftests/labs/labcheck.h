/* SPDX-License-Identifier: GPL-2.0 */
/*
 * labcheck.h - what the lab checks (docs/labs/) share: one VM with one
 * vCPU running a 64-bit C guest function (selftests/lib/guest.h), and a
 * verdict printed as the last line, "PASS: ..." or "FAIL: ...", with the
 * exit status 0 or 1.  No kselftest harness: a lab check is read by a
 * student, so it says in one line what it expected and what it saw.
 */
#ifndef HVLAB_LABCHECK_H
#define HVLAB_LABCHECK_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

static const char *lab_name = "lab";

static void __attribute__((noreturn, unused, format(printf, 1, 2))) lab_fail(const char *fmt, ...)
{
	va_list ap;

	printf("%s: FAIL: ", lab_name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

static void __attribute__((noreturn, unused, format(printf, 1, 2))) lab_pass(const char *fmt, ...)
{
	va_list ap;

	printf("%s: PASS: ", lab_name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(0);
}

/* hvlab loaded (the lab runner loads the lab's own hvlab.ko), one VM, vCPU 0. */
static __attribute__((unused)) void lab_vm(struct hvt_vm **vm, struct hvt_vcpu **vcpu)
{
	int r = hvt_hvlab_ensure_loaded();

	if (r)
		lab_fail("hvlab.ko is not loaded and could not be loaded: %s", strerror(-r));
	r = hvt_vm_create(0, 0, vm);
	if (r)
		lab_fail("creating a VM: %s", strerror(-r));
	r = hvt_vcpu_add(*vm, 0, vcpu);
	if (r)
		lab_fail("creating vCPU 0: %s", strerror(-r));
}

/* RUN until the next ucall; anything else the guest does is a failure. */
static __attribute__((unused)) int lab_run_ucall(struct hvt_vcpu *vcpu, struct ucall *uc)
{
	char buf[384];
	int r = hvt_vcpu_run_ucall(vcpu, uc);

	if (r < 0)
		lab_fail("HVLAB_RUN: %s", strerror(-r));
	if (r == UCALL_NONE)
		lab_fail("the guest stopped with %s", hvt_exit_str(vcpu, buf, sizeof(buf)));
	if (r == UCALL_ABORT || r == UCALL_EXCEPTION)
		lab_fail("the guest failed: %s", hvt_ucall_str(uc, buf, sizeof(buf)));
	return r;
}

#endif
