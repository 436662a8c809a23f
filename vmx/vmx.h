/* SPDX-License-Identifier: GPL-2.0 */
/* vmx.h - the Intel VT-x backend's private types. */
#ifndef HVLAB_VMX_H
#define HVLAB_VMX_H

#include "../module/hv.h"

/* What IA32_VMX_* capability MSRs said at load (SDM Vol. 3C appendix A). */
struct vmx_caps {
	u64 basic;
	u32 revision;		/* VMCS revision identifier */
};
extern struct vmx_caps vmx_caps;

struct vmx_vcpu {
	struct hv_vcpu vcpu;	/* the neutral part; first for clarity only */
};

static inline struct vmx_vcpu *to_vmx(struct hv_vcpu *vcpu)
{
	return container_of(vcpu, struct vmx_vcpu, vcpu);
}

#endif /* HVLAB_VMX_H */
