/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libhvlab.h - one thin wrapper per /dev/hvlab ioctl, shared by hvlab-run,
 * the tools and the selftests (the model is FreeBSD's libvmmapi).
 *
 * Error convention: every function returns a negative errno (-EINVAL,
 * -ENOTTY, ...) on failure and never relies on the caller reading errno
 * afterwards.  On success it returns what the ioctl returned: 0, a new file
 * descriptor, or a value (API version, capability, size), all >= 0.
 * errno itself is left as the failing system call set it.
 *
 * The wrappers add no policy: they neither validate arguments nor retry on
 * EINTR, so tests can hand the module exactly the bad input they want to see
 * refused.  New file descriptors are opened close-on-exec.
 *
 * Three kinds of fd, as in the ABI (uapi/hvlab.h):
 *   sys_fd   from hvlab_open()          version, capabilities, CREATE_VM
 *   vm_fd    from hvlab_create_vm()     memory slots, CREATE_VCPU
 *   vcpu_fd  from hvlab_create_vcpu()   registers, RUN, the run page
 */
#ifndef LIBHVLAB_H
#define LIBHVLAB_H

#include <stddef.h>
#include <stdint.h>
#include <hvlab.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HVLAB_DEV_PATH	"/dev/hvlab"

/* System fd */
int hvlab_open(void);				/* open HVLAB_DEV_PATH */
int hvlab_open_path(const char *path);		/* open another node */
int hvlab_api_version(int sys_fd);
int hvlab_check_cap(int sys_fd, unsigned long cap);
int hvlab_vcpu_mmap_size(int sys_fd);
int hvlab_create_vm(int sys_fd, unsigned long flags);	/* flags: HVLAB_VM_* */

/* VM fd */
int hvlab_set_memory_region(int vm_fd, const struct hvlab_memory_region *r);
int hvlab_create_vcpu(int vm_fd, unsigned long id);

/* vCPU fd */
int hvlab_get_regs(int vcpu_fd, struct hvlab_regs *regs);
int hvlab_set_regs(int vcpu_fd, const struct hvlab_regs *regs);
int hvlab_get_sregs(int vcpu_fd, struct hvlab_sregs *sregs);
int hvlab_set_sregs(int vcpu_fd, const struct hvlab_sregs *sregs);
int hvlab_run(int vcpu_fd);
int hvlab_inject(int vcpu_fd, const struct hvlab_event *ev);
int hvlab_get_cpuid(int vcpu_fd, struct hvlab_cpuid *cpuid);	/* nent in/out */
int hvlab_set_cpuid(int vcpu_fd, const struct hvlab_cpuid *cpuid);
int hvlab_set_msr_policy(int vcpu_fd, unsigned long policy);	/* HVLAB_MSR_UNKNOWN_* */
int hvlab_get_exit_stats(int vcpu_fd, struct hvlab_exit_stats *stats);
int hvlab_set_exit_route(int vcpu_fd, const struct hvlab_exit_route *route);
int hvlab_thaw_journal(int vcpu_fd);
/* The manual's name of a VMX basic exit reason / SVM exit code; "?" if unknown. */
const char *hvlab_vendor_reason_name(int vendor, uint64_t reason);
/* Copy the VMCS/VMCB at every exit from now on (@on 1) or stop (0). */
int hvlab_capture_state(int vcpu_fd, int on);
/* The copy of the last exit (@index 0) or the one before (1); -ENODATA: none. */
int hvlab_get_vendor_state(int vcpu_fd, unsigned int index, struct hvlab_vendor_state *st);
/* VM fd: the id telemetry (netlink) knows the VM by; > 0. */
int hvlab_get_vm_id(int vm_fd);

/*
 * Local APIC (VMs created with HVLAB_VM_LAPIC, behind HVLAB_CAP_LAPIC).
 * hvlab_signal_msi() returns how many APICs accepted the message (>= 0).
 */
int hvlab_signal_msi(int vm_fd, const struct hvlab_msi *msi);
int hvlab_set_eoi_exits(int vm_fd, const struct hvlab_eoi_exits *eoi);
int hvlab_get_lapic(int vcpu_fd, struct hvlab_lapic_state *state);
int hvlab_set_lapic(int vcpu_fd, const struct hvlab_lapic_state *state);
int hvlab_get_mp_state(int vcpu_fd, struct hvlab_mp_state *mp);
int hvlab_set_mp_state(int vcpu_fd, const struct hvlab_mp_state *mp);
int hvlab_get_apic_stats(int vcpu_fd, struct hvlab_apic_stats *stats);

/*
 * mmap() the exit journal of @vcpu_fd read-only (HVLAB_JOURNAL_SIZE bytes
 * at HVLAB_JOURNAL_OFFSET); entries follow at HVLAB_JOURNAL_ENTRIES_OFFSET.
 */
int hvlab_map_journal(int vcpu_fd, const struct hvlab_journal **journal);
int hvlab_unmap_journal(const struct hvlab_journal *journal);

/*
 * mmap() @size bytes (from hvlab_vcpu_mmap_size()) of the run page of
 * @vcpu_fd, shared and writable, into *@run.  Returns 0 or -errno.
 * The mapping holds its own reference: it stays valid after close(vcpu_fd)
 * until hvlab_unmap_run().
 */
int hvlab_map_run(int vcpu_fd, size_t size, struct hvlab_run **run);
int hvlab_unmap_run(struct hvlab_run *run, size_t size);

/* A name for enum hvlab_exit_reason (for logs); never NULL. */
const char *hvlab_exit_name(unsigned int exit_reason);

#ifdef __cplusplus
}
#endif

#endif /* LIBHVLAB_H */
