// SPDX-License-Identifier: GPL-2.0
/*
 * libhvlab.c - the thin ioctl wrappers declared in libhvlab.h.
 *
 * Each wrapper is one system call; hv_ioctl() turns the -1/errno of libc
 * into the -errno this library returns everywhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libhvlab.h"

static int hv_ioctl(int fd, unsigned long request, unsigned long arg)
{
	int ret = ioctl(fd, request, arg);

	return ret < 0 ? -errno : ret;
}

static int hv_ioctl_ptr(int fd, unsigned long request, const void *arg)
{
	return hv_ioctl(fd, request, (unsigned long)(uintptr_t)arg);
}

int hvlab_open_path(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int hvlab_open(void)
{
	return hvlab_open_path(HVLAB_DEV_PATH);
}

int hvlab_api_version(int sys_fd)
{
	return hv_ioctl(sys_fd, HVLAB_GET_API_VERSION, 0);
}

int hvlab_check_cap(int sys_fd, unsigned long cap)
{
	return hv_ioctl(sys_fd, HVLAB_CHECK_CAP, cap);
}

int hvlab_vcpu_mmap_size(int sys_fd)
{
	return hv_ioctl(sys_fd, HVLAB_GET_VCPU_MMAP_SIZE, 0);
}

int hvlab_create_vm(int sys_fd, unsigned long flags)
{
	return hv_ioctl(sys_fd, HVLAB_CREATE_VM, flags);
}

int hvlab_set_memory_region(int vm_fd, const struct hvlab_memory_region *r)
{
	return hv_ioctl_ptr(vm_fd, HVLAB_SET_MEMORY_REGION, r);
}

int hvlab_create_vcpu(int vm_fd, unsigned long id)
{
	return hv_ioctl(vm_fd, HVLAB_CREATE_VCPU, id);
}

int hvlab_get_regs(int vcpu_fd, struct hvlab_regs *regs)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_GET_REGS, regs);
}

int hvlab_set_regs(int vcpu_fd, const struct hvlab_regs *regs)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_SET_REGS, regs);
}

int hvlab_get_sregs(int vcpu_fd, struct hvlab_sregs *sregs)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_GET_SREGS, sregs);
}

int hvlab_set_sregs(int vcpu_fd, const struct hvlab_sregs *sregs)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_SET_SREGS, sregs);
}

int hvlab_run(int vcpu_fd)
{
	return hv_ioctl(vcpu_fd, HVLAB_RUN, 0);
}

int hvlab_inject(int vcpu_fd, const struct hvlab_event *ev)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_INJECT, ev);
}

int hvlab_get_cpuid(int vcpu_fd, struct hvlab_cpuid *cpuid)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_GET_CPUID, cpuid);
}

int hvlab_set_cpuid(int vcpu_fd, const struct hvlab_cpuid *cpuid)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_SET_CPUID, cpuid);
}

int hvlab_set_msr_policy(int vcpu_fd, unsigned long policy)
{
	return hv_ioctl(vcpu_fd, HVLAB_SET_MSR_POLICY, policy);
}

int hvlab_get_exit_stats(int vcpu_fd, struct hvlab_exit_stats *stats)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_GET_EXIT_STATS, stats);
}

int hvlab_set_exit_route(int vcpu_fd, const struct hvlab_exit_route *route)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_SET_EXIT_ROUTE, route);
}

int hvlab_thaw_journal(int vcpu_fd)
{
	return hv_ioctl(vcpu_fd, HVLAB_THAW_JOURNAL, 0);
}

int hvlab_capture_state(int vcpu_fd, int on)
{
	return hv_ioctl(vcpu_fd, HVLAB_CAPTURE_STATE, on);
}

int hvlab_get_vendor_state(int vcpu_fd, unsigned int index, struct hvlab_vendor_state *st)
{
	st->index = index;
	return hv_ioctl_ptr(vcpu_fd, HVLAB_GET_VENDOR_STATE, st);
}

int hvlab_get_vm_id(int vm_fd)
{
	return hv_ioctl(vm_fd, HVLAB_GET_VM_ID, 0);
}

int hvlab_signal_msi(int vm_fd, const struct hvlab_msi *msi)
{
	return hv_ioctl_ptr(vm_fd, HVLAB_SIGNAL_MSI, msi);
}

int hvlab_set_eoi_exits(int vm_fd, const struct hvlab_eoi_exits *eoi)
{
	return hv_ioctl_ptr(vm_fd, HVLAB_SET_EOI_EXITS, eoi);
}

int hvlab_get_lapic(int vcpu_fd, struct hvlab_lapic_state *state)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_GET_LAPIC, state);
}

int hvlab_set_lapic(int vcpu_fd, const struct hvlab_lapic_state *state)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_SET_LAPIC, state);
}

int hvlab_get_mp_state(int vcpu_fd, struct hvlab_mp_state *mp)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_GET_MP_STATE, mp);
}

int hvlab_set_mp_state(int vcpu_fd, const struct hvlab_mp_state *mp)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_SET_MP_STATE, mp);
}

int hvlab_get_apic_stats(int vcpu_fd, struct hvlab_apic_stats *stats)
{
	return hv_ioctl_ptr(vcpu_fd, HVLAB_GET_APIC_STATS, stats);
}

int hvlab_map_journal(int vcpu_fd, const struct hvlab_journal **journal)
{
	void *p = mmap(NULL, HVLAB_JOURNAL_SIZE, PROT_READ, MAP_SHARED, vcpu_fd,
		       HVLAB_JOURNAL_OFFSET);

	if (p == MAP_FAILED)
		return -errno;
	*journal = p;
	return 0;
}

int hvlab_unmap_journal(const struct hvlab_journal *journal)
{
	return munmap((void *)journal, HVLAB_JOURNAL_SIZE) ? -errno : 0;
}

int hvlab_map_run(int vcpu_fd, size_t size, struct hvlab_run **run)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vcpu_fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	*run = p;
	return 0;
}

int hvlab_unmap_run(struct hvlab_run *run, size_t size)
{
	return munmap(run, size) ? -errno : 0;
}

const char *hvlab_exit_name(unsigned int exit_reason)
{
	static const char *const names[] = {
		[HVLAB_EXIT_NONE]	= "NONE",
		[HVLAB_EXIT_IO]		= "IO",
		[HVLAB_EXIT_MMIO]	= "MMIO",
		[HVLAB_EXIT_HLT]	= "HLT",
		[HVLAB_EXIT_SHUTDOWN]	= "SHUTDOWN",
		[HVLAB_EXIT_FAIL_ENTRY]	= "FAIL_ENTRY",
		[HVLAB_EXIT_INTERNAL]	= "INTERNAL",
		[HVLAB_EXIT_IRQ_WINDOW]	= "IRQ_WINDOW",
		[HVLAB_EXIT_CPUID]	= "CPUID",
		[HVLAB_EXIT_MSR]	= "MSR",
		[HVLAB_EXIT_EOI]	= "EOI",
	};

	if (exit_reason < sizeof(names) / sizeof(names[0]) && names[exit_reason])
		return names[exit_reason];
	return "UNKNOWN";
}
