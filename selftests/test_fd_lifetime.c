// SPDX-License-Identifier: GPL-2.0
/*
 * test_fd_lifetime.c - closing /dev/hvlab, VM and vCPU fds (and unmapping
 * run pages) in any order keeps what is still referenced alive and frees
 * everything at the end.
 *
 * "Freed" is observed two ways: the module's reference count
 * (/sys/module/hvlab/refcnt: every open hvlab file pins the module) goes
 * back to where it was, and VMs stop counting against max_vms.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hvtest.h"

FIXTURE(life) {
	long refcnt0;		/* module refcount with none of our files open */
	int mmap_size;
};

FIXTURE_SETUP(life)
{
	int fd;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	self->refcnt0 = hvt_module_refcnt(HVT_MODULE);
	ASSERT_LE(0, self->refcnt0);
	fd = hvlab_open();
	ASSERT_LE(0, fd);
	self->mmap_size = hvlab_vcpu_mmap_size(fd);
	ASSERT_EQ(4096, self->mmap_size);
	/* The refcount sees open files, or this test could not fail. */
	ASSERT_LT(self->refcnt0, hvt_module_refcnt(HVT_MODULE));
	close(fd);
	ASSERT_EQ(self->refcnt0, hvt_module_refcnt(HVT_MODULE));
}

FIXTURE_TEARDOWN(life)
{
}

/* The vCPU still works: registers read, write and read back. */
static void vcpu_alive(struct __test_metadata *_metadata, int vcpu_fd)
{
	struct hvlab_regs regs;

	ASSERT_EQ(0, hvlab_get_regs(vcpu_fd, &regs));
	regs.rbx = 0xb0b;
	ASSERT_EQ(0, hvlab_set_regs(vcpu_fd, &regs));
	memset(&regs, 0, sizeof(regs));
	ASSERT_EQ(0, hvlab_get_regs(vcpu_fd, &regs));
	ASSERT_EQ(0xb0bull, regs.rbx);
}

TEST_F(life, vm_outlives_sys_fd)
{
	int sys, vm, vcpu;
	void *mem = hvt_alloc_guest_mem(HVT_PAGE_SIZE);

	ASSERT_NE(NULL, mem);
	vm = hvt_open_vm(&sys);
	ASSERT_LE(0, vm);
	close(sys);
	ASSERT_EQ(0, hvt_set_region(vm, 0, 0, 0, HVT_PAGE_SIZE, (uintptr_t)mem));
	vcpu = hvlab_create_vcpu(vm, 0);
	ASSERT_LE(0, vcpu);
	vcpu_alive(_metadata, vcpu);
	close(vcpu);
	close(vm);
	ASSERT_EQ(self->refcnt0, hvt_module_refcnt(HVT_MODULE));
}

/* A vCPU fd keeps its VM alive after the VM fd is closed. */
TEST_F(life, vcpu_outlives_vm_fd)
{
	struct hvlab_sregs sregs;
	struct hvlab_run *run;
	int sys, vm, vcpu;

	vm = hvt_open_vm(&sys);
	ASSERT_LE(0, vm);
	vcpu = hvlab_create_vcpu(vm, 0);
	ASSERT_LE(0, vcpu);
	close(vm);
	close(sys);
	vcpu_alive(_metadata, vcpu);
	ASSERT_EQ(0, hvlab_get_sregs(vcpu, &sregs));
	ASSERT_EQ(0, hvlab_set_sregs(vcpu, &sregs));
	ASSERT_EQ(0, hvlab_map_run(vcpu, self->mmap_size, &run));
	run->immediate_exit = 1;
	ASSERT_EQ(0, hvlab_unmap_run(run, self->mmap_size));
	ASSERT_LT(self->refcnt0, hvt_module_refcnt(HVT_MODULE));
	close(vcpu);
	ASSERT_EQ(self->refcnt0, hvt_module_refcnt(HVT_MODULE));
}

TEST_F(life, vm_outlives_vcpu_fds)
{
	int sys, vm, vcpu0, vcpu1, vcpu2;

	vm = hvt_open_vm(&sys);
	ASSERT_LE(0, vm);
	vcpu0 = hvlab_create_vcpu(vm, 0);
	vcpu1 = hvlab_create_vcpu(vm, 1);
	ASSERT_LE(0, vcpu0);
	ASSERT_LE(0, vcpu1);
	close(vcpu0);
	close(vcpu1);
	/* The VM goes on: new vCPUs and slots. */
	vcpu2 = hvlab_create_vcpu(vm, 2);
	ASSERT_LE(0, vcpu2);
	vcpu_alive(_metadata, vcpu2);
	close(vcpu2);
	close(vm);
	close(sys);
	ASSERT_EQ(self->refcnt0, hvt_module_refcnt(HVT_MODULE));
}

/* A run-page mapping outlives every fd; the page stays usable. */
TEST_F(life, run_page_outlives_fds)
{
	struct hvlab_run *run;
	int sys, vm, vcpu, i;
	uint8_t *p;

	vm = hvt_open_vm(&sys);
	ASSERT_LE(0, vm);
	vcpu = hvlab_create_vcpu(vm, 0);
	ASSERT_LE(0, vcpu);
	ASSERT_EQ(0, hvlab_map_run(vcpu, self->mmap_size, &run));
	close(vcpu);
	close(vm);
	close(sys);
	p = (uint8_t *)run;
	for (i = 0; i < self->mmap_size; i++)
		p[i] = (uint8_t)i;
	for (i = 0; i < self->mmap_size; i++) {
		ASSERT_EQ((uint8_t)i, p[i]);
	}
	/* The mapping holds the vCPU file, so the module is still in use. */
	ASSERT_LT(self->refcnt0, hvt_module_refcnt(HVT_MODULE));
	ASSERT_EQ(0, hvlab_unmap_run(run, self->mmap_size));
	ASSERT_EQ(self->refcnt0, hvt_module_refcnt(HVT_MODULE));
}

/*
 * Every close order of {sys, vm, vcpu0, vcpu1, run page of vcpu1}: all
 * 120 permutations, each leaving the refcount where it started.
 */
TEST_F(life, all_close_orders)
{
	enum { SYS, VM, VCPU0, VCPU1, RUN, N };
	int perm[N] = { 0, 1, 2, 3, 4 }, fds[N], count = 0, i, j, k;
	struct hvlab_run *run;

	for (;;) {
		fds[VM] = hvt_open_vm(&fds[SYS]);
		ASSERT_LE(0, fds[VM]);
		fds[VCPU0] = hvlab_create_vcpu(fds[VM], 0);
		fds[VCPU1] = hvlab_create_vcpu(fds[VM], 1);
		ASSERT_LE(0, fds[VCPU0]);
		ASSERT_LE(0, fds[VCPU1]);
		ASSERT_EQ(0, hvlab_map_run(fds[VCPU1], self->mmap_size, &run));
		for (i = 0; i < N; i++) {
			if (perm[i] == RUN) {
				ASSERT_EQ(0, hvlab_unmap_run(run, self->mmap_size));
			} else {
				close(fds[perm[i]]);
			}
			/* What is left still works. */
			for (j = i + 1; j < N; j++) {
				if (perm[j] == VCPU0 || perm[j] == VCPU1)
					vcpu_alive(_metadata, fds[perm[j]]);
				if (perm[j] == RUN)
					run->raw[0] = (uint8_t)i;
			}
		}
		ASSERT_EQ(self->refcnt0, hvt_module_refcnt(HVT_MODULE))
			TH_LOG("order %d %d %d %d %d", perm[0], perm[1], perm[2],
			       perm[3], perm[4]);
		count++;

		/* next permutation, lexicographic */
		for (i = N - 2; i >= 0 && perm[i] > perm[i + 1]; i--)
			;
		if (i < 0)
			break;
		for (k = N - 1; perm[k] < perm[i]; k--)
			;
		j = perm[i]; perm[i] = perm[k]; perm[k] = j;
		for (j = i + 1, k = N - 1; j < k; j++, k--) {
			int t = perm[j]; perm[j] = perm[k]; perm[k] = t;
		}
	}
	ASSERT_EQ(120, count);
}

/*
 * VMs kept alive only by vCPU fds still count against max_vms; once the
 * vCPU fds close they are gone.
 */
TEST_F(life, vcpu_fds_hold_vm_slots)
{
	int sys = hvlab_open(), max, i, vm;
	int *vcpus;

	ASSERT_LE(0, sys);
	max = hvt_cap(sys, HVLAB_CAP_MAX_VMS);
	ASSERT_LT(0, max);
	if (max > 256)
		SKIP(return, "max_vms=%d: too many fds for this test", max);
	vcpus = calloc(max, sizeof(*vcpus));
	ASSERT_NE(NULL, vcpus);
	for (i = 0; i < max; i++) {
		vm = hvlab_create_vm(sys, 0);
		ASSERT_LE(0, vm) TH_LOG("VM %d of %d: %s", i + 1, max, strerror(-vm));
		vcpus[i] = hvlab_create_vcpu(vm, 0);
		ASSERT_LE(0, vcpus[i]);
		close(vm);
	}
	ASSERT_EQ(-ENOSPC, hvlab_create_vm(sys, 0)) TH_LOG("closed VM fds freed VMs");
	for (i = 0; i < max; i++)
		close(vcpus[i]);
	vm = hvlab_create_vm(sys, 0);
	ASSERT_LE(0, vm) TH_LOG("VMs not freed after their vCPU fds: %s", strerror(-vm));
	close(vm);
	close(sys);
	free(vcpus);
	ASSERT_EQ(self->refcnt0, hvt_module_refcnt(HVT_MODULE));
}

/* A child that inherited the fds keeps the objects after the parent closes. */
TEST_F(life, fork_inherits)
{
	int sys, vm, vcpu, status;
	pid_t pid;

	vm = hvt_open_vm(&sys);
	ASSERT_LE(0, vm);
	vcpu = hvlab_create_vcpu(vm, 0);
	ASSERT_LE(0, vcpu);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* Closing in the child must not free what the parent uses. */
		close(vcpu);
		close(vm);
		close(sys);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	vcpu_alive(_metadata, vcpu);
	status = hvlab_create_vcpu(vm, 1);
	ASSERT_LE(0, status);
	close(status);
	close(vcpu);
	close(vm);
	close(sys);
	ASSERT_EQ(self->refcnt0, hvt_module_refcnt(HVT_MODULE));
}

TEST_HARNESS_MAIN
