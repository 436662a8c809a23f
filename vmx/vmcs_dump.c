// SPDX-License-Identifier: GPL-2.0
/*
 * vmcs_dump.c - every VMCS field this CPU has, read with VMREAD at an exit
 * into the buffer module/vstate.c keeps (HVLAB_GET_VENDOR_STATE).
 *
 * The field list is uapi/hvlab_vmcs.h (shared with hvlab-dump, which
 * prints the SDM's names); each encoding there is checked against the
 * <asm/vmx.h> name at build time.  Which fields exist depends on the CPU:
 * a field that belongs to a control exists only where the capability
 * MSRs allow that control's 1-setting (SDM Vol. 3C 25.6-25.8 and
 * appendix A.3-A.5), and no field's index exceeds IA32_VMX_VMCS_ENUM's
 * (A.9).  VMREAD of a field the CPU lacks fails with VMfailValid, error
 * 12 (31.4); that is caught too, silently, in case an emulated CPU's
 * MSRs promise more than its VMCS holds.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/bitmap.h>
#include <linux/build_bug.h>

#include "vmx.h"

enum vmx_need {
	VMX_NEED_ALWAYS, VMX_NEED_VPID, VMX_NEED_EPT, VMX_NEED_PML, VMX_NEED_VMFUNC,
	VMX_NEED_SHADOW_VMCS, VMX_NEED_XSAVES, VMX_NEED_ENCLS, VMX_NEED_TSC_SCALING,
	VMX_NEED_PLE, VMX_NEED_NOTIFY, VMX_NEED_APIC_ACCESS, VMX_NEED_VINTR_DELIVERY,
	VMX_NEED_TPR_SHADOW, VMX_NEED_TERTIARY, VMX_NEED_IPIV, VMX_NEED_POSTED_INTR,
	VMX_NEED_PREEMPTION_TIMER, VMX_NEED_GUEST_PAT, VMX_NEED_GUEST_EFER,
	VMX_NEED_HOST_PAT, VMX_NEED_HOST_EFER, VMX_NEED_HOST_PERF, VMX_NEED_GUEST_PERF,
	VMX_NEED_BNDCFGS, VMX_NEED_RTIT, VMX_NEED_CR3_TARGET0, VMX_NEED_CR3_TARGET1,
	VMX_NEED_CR3_TARGET2, VMX_NEED_CR3_TARGET3, VMX_NEED_NR,
};

struct vmx_field {
	u16 encoding;
	u8 need;
};

static const struct vmx_field vmx_fields[] = {
#define HVLAB_VMCS_FIELD(name, enc, need, sdm) { name, VMX_NEED_##need },
#include "hvlab_vmcs.h"
#undef HVLAB_VMCS_FIELD
};

/* The list's encodings are <asm/vmx.h>'s. */
#define HVLAB_VMCS_FIELD(name, enc, need, sdm) \
	static_assert((name) == (enc), #name " has another encoding in <asm/vmx.h>");
#include "hvlab_vmcs.h"
#undef HVLAB_VMCS_FIELD

static_assert(ARRAY_SIZE(vmx_fields) * sizeof(struct hvlab_vmcs_field) <=
	      HVLAB_VENDOR_STATE_BYTES);

/* Bit i: vmx_fields[i] exists on this CPU (vmx_dump_setup at load). */
static DECLARE_BITMAP(vmx_field_present, ARRAY_SIZE(vmx_fields));

/* The allowed-1 half of a control capability MSR (A.3-A.5): bits 63:32. */
static u32 vmx_allowed1(u32 msr)
{
	u64 v;

	return rdmsrl_safe(msr, &v) ? 0 : v >> 32;
}

void vmx_dump_setup(void)
{
	u32 pin = vmx_allowed1(MSR_IA32_VMX_PINBASED_CTLS);
	u32 proc = vmx_allowed1(MSR_IA32_VMX_PROCBASED_CTLS);
	u32 proc2 = 0, exit = vmx_allowed1(MSR_IA32_VMX_EXIT_CTLS);
	u32 entry = vmx_allowed1(MSR_IA32_VMX_ENTRY_CTLS);
	u64 proc3 = 0, vmcs_enum = 0;
	unsigned int max_index, ncr3, i;
	bool have[VMX_NEED_NR];

	/* The secondary and tertiary MSRs exist only with their activating bit (A.3.2, A.3.4). */
	if (proc & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)
		proc2 = vmx_allowed1(MSR_IA32_VMX_PROCBASED_CTLS2);
	if (proc & CPU_BASED_ACTIVATE_TERTIARY_CONTROLS)
		rdmsrl_safe(MSR_IA32_VMX_PROCBASED_CTLS3, &proc3);	/* all 64 bits are allowed-1 */
	rdmsrl_safe(MSR_IA32_VMX_VMCS_ENUM, &vmcs_enum);
	max_index = (vmcs_enum >> 1) & 0x1ff;
	ncr3 = (vmx_caps.misc >> 16) & 0x1ff;

	have[VMX_NEED_ALWAYS] = true;
	have[VMX_NEED_VPID] = proc2 & SECONDARY_EXEC_ENABLE_VPID;
	have[VMX_NEED_EPT] = proc2 & SECONDARY_EXEC_ENABLE_EPT;
	have[VMX_NEED_PML] = proc2 & SECONDARY_EXEC_ENABLE_PML;
	have[VMX_NEED_VMFUNC] = proc2 & SECONDARY_EXEC_ENABLE_VMFUNC;
	have[VMX_NEED_SHADOW_VMCS] = proc2 & SECONDARY_EXEC_SHADOW_VMCS;
	have[VMX_NEED_XSAVES] = proc2 & BIT(20);	/* "enable XSAVES/XRSTORS", named differently in 6.1 and 6.12 */
	have[VMX_NEED_ENCLS] = proc2 & SECONDARY_EXEC_ENCLS_EXITING;
	have[VMX_NEED_TSC_SCALING] = proc2 & SECONDARY_EXEC_TSC_SCALING;
	have[VMX_NEED_PLE] = proc2 & SECONDARY_EXEC_PAUSE_LOOP_EXITING;
	have[VMX_NEED_NOTIFY] = proc2 & SECONDARY_EXEC_NOTIFY_VM_EXITING;
	have[VMX_NEED_APIC_ACCESS] = proc2 & SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES;
	have[VMX_NEED_VINTR_DELIVERY] = proc2 & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY;
	have[VMX_NEED_TPR_SHADOW] = proc & CPU_BASED_TPR_SHADOW;
	have[VMX_NEED_TERTIARY] = proc & CPU_BASED_ACTIVATE_TERTIARY_CONTROLS;
	have[VMX_NEED_IPIV] = proc3 & TERTIARY_EXEC_IPI_VIRT;
	have[VMX_NEED_POSTED_INTR] = pin & PIN_BASED_POSTED_INTR;
	have[VMX_NEED_PREEMPTION_TIMER] = pin & PIN_BASED_VMX_PREEMPTION_TIMER;
	have[VMX_NEED_GUEST_PAT] = (entry & VM_ENTRY_LOAD_IA32_PAT) || (exit & VM_EXIT_SAVE_IA32_PAT);
	have[VMX_NEED_GUEST_EFER] = (entry & VM_ENTRY_LOAD_IA32_EFER) || (exit & VM_EXIT_SAVE_IA32_EFER);
	have[VMX_NEED_HOST_PAT] = exit & VM_EXIT_LOAD_IA32_PAT;
	have[VMX_NEED_HOST_EFER] = exit & VM_EXIT_LOAD_IA32_EFER;
	have[VMX_NEED_HOST_PERF] = exit & VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL;
	have[VMX_NEED_GUEST_PERF] = entry & VM_ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL;
	have[VMX_NEED_BNDCFGS] = (entry & VM_ENTRY_LOAD_BNDCFGS) || (exit & VM_EXIT_CLEAR_BNDCFGS);
	have[VMX_NEED_RTIT] = (entry & VM_ENTRY_LOAD_IA32_RTIT_CTL) ||
			      (exit & VM_EXIT_CLEAR_IA32_RTIT_CTL);
	for (i = 0; i < 4; i++)
		have[VMX_NEED_CR3_TARGET0 + i] = ncr3 > i;

	bitmap_zero(vmx_field_present, ARRAY_SIZE(vmx_fields));
	for (i = 0; i < ARRAY_SIZE(vmx_fields); i++) {
		const struct vmx_field *f = &vmx_fields[i];

		if (have[f->need] && ((f->encoding >> 1) & 0x1ff) <= max_index)
			__set_bit(i, vmx_field_present);
	}
}

/* VMREAD that says whether it worked (31.3), without vmcs_read()'s warning. */
static bool vmx_vmread_ok(unsigned long field, u64 *val)
{
	unsigned long v;
	bool fail;

	asm volatile("vmread %[f], %[v]"
		     : [v] "=rm" (v), "=@ccbe" (fail) : [f] "r" (field) : "memory");
	*val = v;
	return !fail;
}

/*
 * Copy every field into this exit's buffer.  The VMCS must be current on
 * this CPU (between vmx_vcpu_load and vmx_vcpu_put); @reason is the exit
 * reason, ~0 when no VM exit happened (VMfail, or hvlab's checks refused).
 */
void vmx_capture(struct vmx_vcpu *vmx, u64 reason)
{
	struct hvlab_vendor_state *s = hv_vstate_next(&vmx->vcpu);
	struct hvlab_vmcs_field *out = (void *)s->data;
	unsigned int i, n = 0;

	s->vendor_reason = reason;
	for_each_set_bit(i, vmx_field_present, ARRAY_SIZE(vmx_fields)) {
		u64 val;

		if (!vmx_vmread_ok(vmx_fields[i].encoding, &val))
			continue;
		out[n].encoding = vmx_fields[i].encoding;
		out[n].value = val;
		n++;
	}
	s->count = n;
}
