/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hv_trace.h - tracepoints hvlab:hvlab_exit and hvlab:hvlab_entry, for
 * perf and ftrace (e.g. `perf stat -e 'hvlab:*'`, or
 * /sys/kernel/tracing/events/hvlab/).  Created in module/stats.c.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM hvlab

#if !defined(_HVLAB_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _HVLAB_TRACE_H

#include <linux/tracepoint.h>

#include "hv.h"

/*
 * The events take the vCPU itself: its fields are read only when the
 * event is on, so a disabled tracepoint costs the exit path a nop.
 */
TRACE_EVENT(hvlab_exit,
	TP_PROTO(const struct hv_vcpu *v, u32 stat),
	TP_ARGS(v, stat),

	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u32, stat)
		__field(u64, vendor_reason)
		__field(u64, rip)
		__field(u64, qual)
		__field(u64, qual2)
	),

	TP_fast_assign(
		__entry->vm = v->vm->id;
		__entry->vcpu = v->id;
		__entry->stat = stat;
		__entry->vendor_reason = v->th.jcur->vendor_reason;
		__entry->rip = v->regs.rip;
		__entry->qual = v->th.jcur->qual;
		__entry->qual2 = v->th.jcur->qual2;
	),

	TP_printk("vm %u vcpu %u stat %u reason %#llx rip %#llx qual %#llx qual2 %#llx",
		  __entry->vm, __entry->vcpu, __entry->stat, __entry->vendor_reason,
		  __entry->rip, __entry->qual, __entry->qual2)
);

TRACE_EVENT(hvlab_entry,
	TP_PROTO(const struct hv_vcpu *v),
	TP_ARGS(v),

	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u64, rip)
	),

	TP_fast_assign(
		__entry->vm = v->vm->id;
		__entry->vcpu = v->id;
		__entry->rip = v->regs.rip;
	),

	TP_printk("vm %u vcpu %u rip %#llx", __entry->vm, __entry->vcpu, __entry->rip)
);

#endif /* _HVLAB_TRACE_H */

/* Out of tree: the header is found through ccflags' -I$(src)/module. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE hv_trace
#include <trace/define_trace.h>
