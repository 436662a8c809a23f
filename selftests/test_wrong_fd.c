// SPDX-License-Identifier: GPL-2.0
/*
 * test_wrong_fd.c - every ioctl sent to the wrong kind of fd, and unknown
 * ioctl numbers, fail with -ENOTTY (uapi/hvlab.h: "An ioctl sent to the
 * wrong kind of fd fails with -ENOTTY").
 *
 * Pointer arguments point at a zeroed, writable buffer so a module that
 * wrongly accepted the ioctl could not hide behind -EFAULT.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hvtest.h"

enum fd_kind { SYS, VM, VCPU };

FIXTURE(wrong_fd) {
	int fd[3];
	union {
		struct hvlab_sregs sregs;
		struct hvlab_regs regs;
		struct hvlab_memory_region region;
		uint8_t bytes[4096];
	} buf;
};

FIXTURE_VARIANT(wrong_fd) {
	enum fd_kind kind;
	unsigned long request;
	bool pointer;		/* arg is &self->buf, else 0 */
};

#define V(name, k, req, ptr) \
	FIXTURE_VARIANT_ADD(wrong_fd, name) { .kind = k, .request = req, .pointer = ptr }

/* VM and vCPU ioctls on /dev/hvlab */
V(sys_set_memory_region,	SYS,	HVLAB_SET_MEMORY_REGION,	true);
V(sys_create_vcpu,		SYS,	HVLAB_CREATE_VCPU,		false);
V(sys_get_regs,			SYS,	HVLAB_GET_REGS,			true);
V(sys_set_regs,			SYS,	HVLAB_SET_REGS,			true);
V(sys_get_sregs,		SYS,	HVLAB_GET_SREGS,		true);
V(sys_set_sregs,		SYS,	HVLAB_SET_SREGS,		true);
V(sys_run,			SYS,	HVLAB_RUN,			false);
/* system and vCPU ioctls on a VM fd */
V(vm_get_api_version,		VM,	HVLAB_GET_API_VERSION,		false);
V(vm_check_cap,			VM,	HVLAB_CHECK_CAP,		false);
V(vm_get_vcpu_mmap_size,	VM,	HVLAB_GET_VCPU_MMAP_SIZE,	false);
V(vm_create_vm,			VM,	HVLAB_CREATE_VM,		false);
V(vm_get_regs,			VM,	HVLAB_GET_REGS,			true);
V(vm_set_regs,			VM,	HVLAB_SET_REGS,			true);
V(vm_get_sregs,			VM,	HVLAB_GET_SREGS,		true);
V(vm_set_sregs,			VM,	HVLAB_SET_SREGS,		true);
V(vm_run,			VM,	HVLAB_RUN,			false);
/* system and VM ioctls on a vCPU fd */
V(vcpu_get_api_version,		VCPU,	HVLAB_GET_API_VERSION,		false);
V(vcpu_check_cap,		VCPU,	HVLAB_CHECK_CAP,		false);
V(vcpu_get_vcpu_mmap_size,	VCPU,	HVLAB_GET_VCPU_MMAP_SIZE,	false);
V(vcpu_create_vm,		VCPU,	HVLAB_CREATE_VM,		false);
V(vcpu_set_memory_region,	VCPU,	HVLAB_SET_MEMORY_REGION,	true);
V(vcpu_create_vcpu,		VCPU,	HVLAB_CREATE_VCPU,		false);
/* numbers nobody defined: in our type byte, in another one (TCGETS) */
V(sys_unknown_nr,		SYS,	_IO(HVLAB_IOC, 0x7f),		false);
V(vm_unknown_nr,		VM,	_IO(HVLAB_IOC, 0x7f),		false);
V(vcpu_unknown_nr,		VCPU,	_IO(HVLAB_IOC, 0x7f),		false);
V(sys_tcgets,			SYS,	TCGETS,				true);
V(vm_tcgets,			VM,	TCGETS,				true);
V(vcpu_tcgets,			VCPU,	TCGETS,				true);
/* a defined number with another size or direction is another ioctl */
V(vcpu_get_regs_wrong_size,	VCPU,	_IOR(HVLAB_IOC, 0x20, uint64_t), true);
V(vcpu_set_sregs_wrong_dir,	VCPU,	_IOR(HVLAB_IOC, 0x23, struct hvlab_sregs), true);
V(vm_region_wrong_size,		VM,	_IOW(HVLAB_IOC, 0x10, uint64_t), true);
V(sys_create_vm_with_dir,	SYS,	_IOW(HVLAB_IOC, 0x03, uint64_t), true);
#undef V

FIXTURE_SETUP(wrong_fd)
{
	self->fd[SYS] = self->fd[VM] = self->fd[VCPU] = -1;
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	self->fd[VM] = hvt_open_vm(&self->fd[SYS]);
	ASSERT_LE(0, self->fd[VM]);
	self->fd[VCPU] = hvlab_create_vcpu(self->fd[VM], 0);
	ASSERT_LE(0, self->fd[VCPU]);
}

FIXTURE_TEARDOWN(wrong_fd)
{
	hvt_close(&self->fd[VCPU]);
	hvt_close(&self->fd[VM]);
	hvt_close(&self->fd[SYS]);
}

TEST_F(wrong_fd, enotty)
{
	unsigned long arg = variant->pointer ? (uintptr_t)&self->buf : 0;
	int ret = ioctl(self->fd[variant->kind], variant->request, arg);

	ASSERT_EQ(-1, ret) TH_LOG("ioctl %#lx returned %d", variant->request, ret);
	ASSERT_EQ(ENOTTY, errno) TH_LOG("ioctl %#lx: %s", variant->request,
					strerror(errno));
}

TEST_HARNESS_MAIN
