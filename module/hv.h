/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hv.h - the vendor-neutral core of hvlab: VM and vCPU objects, the
 * backend ops table, and the helpers backends may call back into.
 *
 * The core never includes vmx/ or svm/ headers; a backend embeds
 * struct hv_vcpu in its own vCPU struct and reaches it with container_of.
 */
#ifndef HVLAB_HV_H
#define HVLAB_HV_H

#include <linux/types.h>
#include <linux/mutex.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/cpumask.h>

#include "hvlab.h"

#define HV_NAME "hvlab"

/*
 * Refuse a bad argument from userspace: one rate-limited dmesg line saying
 * why, then the errno.  Files using it define pr_fmt to start with "hvlab: ".
 */
#define hv_reject(err, fmt, ...) ({					\
	pr_info_ratelimited("%s: " fmt "\n", __func__, ##__VA_ARGS__);	\
	(err);								\
})

/* Module parameters (module/main.c). */
extern unsigned int hv_max_vms;
extern unsigned int hv_max_vcpus;
extern unsigned int hv_max_slots;

/* A guest memory slot: guest-physical [gpa, gpa + size) backed by uaddr. */
struct hv_slot {
	u64 gpa;
	u64 size;		/* 0: slot unused */
	u64 uaddr;
	u32 flags;		/* HVLAB_MEM_* */
};

struct hv_vm {
	struct kref ref;	/* one per open fd (VM fd, each vCPU fd) */
	struct mutex lock;	/* protects slots[] and vcpus[] */
	struct hv_slot *slots;	/* hv_max_slots entries */
	struct hv_vcpu **vcpus;	/* hv_max_vcpus entries, indexed by id */
	unsigned int nr_vcpus;
};

struct hv_vcpu {
	struct hv_vm *vm;
	unsigned int id;
	struct mutex lock;	/* serializes ioctls on this vCPU */
	struct hvlab_run *run;	/* the mmap()ed run page */

	/*
	 * The architectural state as userspace sees it.  Until a backend
	 * runs the vCPU this copy is the only one; a running backend loads
	 * it into its VMCS/VMCB when @state_dirty is set.
	 */
	struct hvlab_regs regs;
	struct hvlab_sregs sregs;
	bool state_dirty;
};

/*
 * What a vendor backend provides.  Exactly one instance is chosen at
 * module load (vmx_ops or svm_ops) and reached as hv_ops.  Hooks marked
 * "optional" may be NULL.
 */
struct hv_backend_ops {
	const char *name;
	enum hvlab_vendor vendor;

	/*
	 * Module load: is the extension present and enabled by firmware?
	 * -ENODEV with one dmesg line naming the reason otherwise.
	 * Allocates whatever per-CPU memory the enable step needs.
	 */
	int (*hardware_setup)(void);
	void (*hardware_unsetup)(void);

	/*
	 * Switch the extension on / off on the calling CPU, with interrupts
	 * off.  cpu_enable returns -EBUSY when another hypervisor already
	 * holds it, and must then leave the CPU exactly as it found it.
	 */
	int (*cpu_enable)(void);
	void (*cpu_disable)(void);
	/* Crash/emergency-reboot path, possibly in NMI context: no locks. */
	void (*cpu_emergency_disable)(void);

	/* vCPU objects: allocate the vendor struct embedding hv_vcpu. */
	struct hv_vcpu *(*vcpu_create)(struct hv_vm *vm, unsigned int id);
	void (*vcpu_free)(struct hv_vcpu *vcpu);

	/* Enter the guest (optional until the backend can run guests). */
	int (*vcpu_run)(struct hv_vcpu *vcpu);
};

extern const struct hv_backend_ops *hv_ops;
extern const struct hv_backend_ops hv_vmx_ops;
extern const struct hv_backend_ops hv_svm_ops;

/* Guest-physical address width the module accepts (min(MAXPHYADDR, 48)). */
extern unsigned int hv_gpa_bits;

/* module/hw.c: reference-counted enable of VT-x/SVM on every CPU. */
int hv_hw_init(void);
void hv_hw_exit(void);
int hv_hw_get(void);
void hv_hw_put(void);

/* module/vm.c */
int hv_vm_create(void);
void hv_vm_get(struct hv_vm *vm);
void hv_vm_put(struct hv_vm *vm);

/* module/vcpu.c */
int hv_vcpu_create(struct hv_vm *vm, unsigned long id);
void hv_vcpu_destroy(struct hv_vcpu *vcpu);
void hv_vcpu_reset(struct hv_vcpu *vcpu);

#endif /* HVLAB_HV_H */
