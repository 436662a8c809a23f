/* SPDX-License-Identifier: GPL-2.0 */
/* svm.h - the AMD SVM backend's private types. */
#ifndef HVLAB_SVM_H
#define HVLAB_SVM_H

#include "../module/hv.h"

struct svm_vcpu {
	struct hv_vcpu vcpu;	/* the neutral part */
};

static inline struct svm_vcpu *to_svm(struct hv_vcpu *vcpu)
{
	return container_of(vcpu, struct svm_vcpu, vcpu);
}

#endif /* HVLAB_SVM_H */
