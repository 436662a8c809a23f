// SPDX-License-Identifier: GPL-2.0
/*
 * route.c - exit routing: per exit class (CPUID leaves, MSR ranges, port
 * ranges, HLT), handle it in the kernel or send it to userspace, chosen at
 * run time with HVLAB_SET_EXIT_ROUTE (semantics in uapi/hvlab.h), so both
 * paths can be measured on the same guest.  The exits themselves are
 * finished here for both vendors; backends pass the RIP of the next
 * instruction.
 *
 * The rules belong to the vCPU and change only under its lock, which RUN
 * holds: the hot path reads them without any other synchronisation.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/uaccess.h>
#include <asm/processor-flags.h>

#include "hv.h"

long hv_route_set(struct hv_vcpu *vcpu, const struct hvlab_exit_route __user *ur)
{
	struct hvlab_exit_route r;

	if (copy_from_user(&r, ur, sizeof(r)))
		return -EFAULT;
	if (r.reserved)
		return hv_reject(-EINVAL, "reserved must be zero");
	if (r.route_class == HVLAB_ROUTE_CLEAR) {
		if (r.action || r.first || r.last)
			return hv_reject(-EINVAL, "HVLAB_ROUTE_CLEAR takes no action or range");
		vcpu->nr_routes = 0;
		return 0;
	}
	if (r.route_class > HVLAB_ROUTE_HLT)
		return hv_reject(-EINVAL, "unknown route class %u", r.route_class);
	if (r.action != HVLAB_ROUTE_TO_KERNEL && r.action != HVLAB_ROUTE_TO_USER)
		return hv_reject(-EINVAL, "unknown route action %u", r.action);
	if (r.first > r.last)
		return hv_reject(-EINVAL, "range %#x..%#x is empty", r.first, r.last);
	if (r.route_class == HVLAB_ROUTE_IO && r.last > 0xffff)
		return hv_reject(-EINVAL, "port %#x beyond 0xffff", r.last);
	if (r.route_class == HVLAB_ROUTE_HLT && (r.first || r.last))
		return hv_reject(-EINVAL, "HLT has no range: first = last = 0");
	if (vcpu->nr_routes >= HVLAB_MAX_ROUTES)
		return hv_reject(-ENOSPC, "%u rules already", HVLAB_MAX_ROUTES);
	vcpu->routes[vcpu->nr_routes++] = r;
	return 0;
}

/* CPUID: the module's answer, for the guest or for userspace to amend. */
int hv_exit_cpuid(struct hv_vcpu *vcpu, u64 next_rip)
{
	struct hvlab_regs *r = &vcpu->regs;
	struct hvlab_run *run = vcpu->run;
	u32 fn = r->rax, idx = r->rcx, a, b, c, d;

	hv_cpuid(vcpu, fn, idx, &a, &b, &c, &d);
	if (unlikely(vcpu->nr_routes) &&
	    hv_route(vcpu, HVLAB_ROUTE_CPUID, fn, HVLAB_ROUTE_TO_KERNEL) == HVLAB_ROUTE_TO_USER) {
		run->exit_reason = HVLAB_EXIT_CPUID;
		run->cpuid.function = fn;
		run->cpuid.index = idx;
		run->cpuid.eax = a;
		run->cpuid.ebx = b;
		run->cpuid.ecx = c;
		run->cpuid.edx = d;
		vcpu->pending.kind = HVLAB_EXIT_CPUID;
		vcpu->pending.next_rip = next_rip;
		return 0;
	}
	r->rax = a;
	r->rbx = b;
	r->rcx = c;
	r->rdx = d;
	r->rip = next_rip;
	return 1;
}

/*
 * HLT: with an interrupt queued that the guest can take, the halt ends at
 * once (the interrupt is delivered on entry).  Otherwise only userspace
 * can wake the guest, unless HLT is routed to the kernel: then the guest
 * resumes at once, as after an instant wake-up.
 */
int hv_exit_hlt(struct hv_vcpu *vcpu, u64 next_rip)
{
	vcpu->regs.rip = next_rip;
	/* APIC VMs: the vCPU halts in the kernel unless HLT is routed to userspace. */
	if (vcpu->lapic && (likely(!vcpu->nr_routes) ||
			    hv_route(vcpu, HVLAB_ROUTE_HLT, 0, HVLAB_ROUTE_TO_KERNEL) ==
			    HVLAB_ROUTE_TO_KERNEL))
		return hv_lapic_hlt(vcpu);
	if (vcpu->events.irq_pending && (vcpu->regs.rflags & X86_EFLAGS_IF))
		return 1;
	if (unlikely(vcpu->nr_routes) &&
	    hv_route(vcpu, HVLAB_ROUTE_HLT, 0, HVLAB_ROUTE_TO_USER) == HVLAB_ROUTE_TO_KERNEL)
		return 1;
	vcpu->run->exit_reason = HVLAB_EXIT_HLT;
	return 0;
}

/*
 * VMCALL / VMMCALL: hvlab defines no hypercalls yet.  The guest gets
 * -ENOSYS in RAX, as a Linux guest expects of an unknown hypercall, and
 * continues; this is also the cheapest possible exit for benchmarks.
 */
int hv_exit_hypercall(struct hv_vcpu *vcpu, u64 next_rip)
{
	vcpu->regs.rax = (u64)-ENOSYS;
	vcpu->regs.rip = next_rip;
	return 1;
}

