/* SPDX-License-Identifier: GPL-2.0 */
/*
 * spec.h - host protection at the world switch (module/spec.c): the hooks
 * both backends call around VM entry and exit, and the checks at module
 * load and VM creation.
 */
#ifndef HV_SPEC_H
#define HV_SPEC_H

#include <linux/types.h>

struct hv_vcpu;

int hv_spec_init(bool vmx);
void hv_spec_exit(void);
int hv_spec_vm_allowed(void);
u64 hv_spec_vm_id(void);
bool hv_spec_large_leaves_ok(void);

/* Interrupts off, just before the backend's .S enters the guest. */
void hv_spec_enter_vmx(struct hv_vcpu *vcpu, u16 last_exit);
void hv_spec_enter_svm(struct hv_vcpu *vcpu);
/* A RUN begins, or the vCPU thread is scheduled back in (VMX: L1TF). */
void hv_spec_host_ran(struct hv_vcpu *vcpu);
/* Interrupts still off, right after the .S returned from the guest. */
void hv_spec_after_exit(void);
/* spec_asm.S: an IBPB of hvlab's own, for kernels that keep theirs for KVM. */
void hv_ibpb(void);

#endif /* HV_SPEC_H */
