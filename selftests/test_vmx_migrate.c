// SPDX-License-Identifier: GPL-2.0
/*
 * test_vmx_migrate.c - one vCPU thread moved between CPUs between RUNs.
 *
 * On Intel a VMCS is active on one CPU at a time and must be VMCLEARed
 * where it was last active before another CPU may VMPTRLD it (SDM Vol. 3C
 * 25.11.1), after which the next entry is a VMLAUNCH again (25.11.3);
 * cached translations of its VPID must be flushed on the new CPU.  On AMD
 * the same move takes a new ASID.  The guest counts in ESI and reports
 * every step with an OUT; the count must be exact across every move, and
 * kernel-handled exits (CPUID) keep working after each.  The count lives
 * in ESI: CPUID writes EAX, EBX, ECX and EDX.
 * Needs two online CPUs (selftests/vm/run --smp 2); skips otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hvtest.h"

#define MEM_SIZE	0x10000
#define CODE		0x1000
#define MOVES		200

/*
 * Real mode:  loop: inc esi; xor eax, eax; cpuid (kernel); xor ecx, ecx;
 *             mov eax, esi; out 0x80, eax (userspace); jmp loop
 */
static const unsigned char guest[] = {
	0x66, 0x46,				/* inc esi */
	0x66, 0x31, 0xc0,			/* xor eax, eax */
	0x0f, 0xa2,				/* cpuid */
	0x66, 0x31, 0xc9,			/* xor ecx, ecx (CPUID wrote it) */
	0x66, 0x89, 0xf0,			/* mov eax, esi */
	0x66, 0xe7, 0x80,			/* out 0x80, eax */
	0xeb, 0xee,				/* jmp loop (-18) */
};

TEST(vcpu_moves_between_cpus)
{
	struct hvlab_sregs sregs;
	struct hvlab_regs regs;
	struct hvlab_run *run;
	int sys_fd = -1, vm_fd, vcpu_fd, size, i, cpus;
	uint32_t count;
	void *mem;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	cpus = hvt_cpus_online();
	if (cpus < 2)
		SKIP(return, "needs 2 online CPUs, have %d (selftests/vm/run --smp 2)", cpus);
	vm_fd = hvt_open_vm(&sys_fd);
	ASSERT_LE(0, vm_fd);
	if (hvt_cap(sys_fd, HVLAB_CAP_RUN) != 1)
		SKIP(return, "HVLAB_CAP_RUN is 0");
	mem = hvt_alloc_guest_mem(MEM_SIZE);
	ASSERT_NE(NULL, mem);
	memcpy((char *)mem + CODE, guest, sizeof(guest));
	ASSERT_EQ(0, hvt_set_region(vm_fd, 0, 0, 0, MEM_SIZE, (uintptr_t)mem));
	vcpu_fd = hvlab_create_vcpu(vm_fd, 0);
	ASSERT_LE(0, vcpu_fd);
	size = hvlab_vcpu_mmap_size(sys_fd);
	ASSERT_EQ(0, hvlab_map_run(vcpu_fd, size, &run));
	ASSERT_EQ(0, hvlab_get_sregs(vcpu_fd, &sregs));
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	ASSERT_EQ(0, hvlab_set_sregs(vcpu_fd, &sregs));
	ASSERT_EQ(0, hvlab_get_regs(vcpu_fd, &regs));
	regs.rip = CODE;
	ASSERT_EQ(0, hvlab_set_regs(vcpu_fd, &regs));

	for (i = 1; i <= MOVES; i++) {
		uint32_t val;

		ASSERT_EQ(0, hvt_pin_to_cpu(i & 1));
		ASSERT_EQ(0, hvlab_run(vcpu_fd));
		ASSERT_EQ(HVLAB_EXIT_IO, run->exit_reason)
			TH_LOG("move %d: exit %s", i, hvlab_exit_name(run->exit_reason));
		ASSERT_EQ(0x80, run->io.port);
		ASSERT_EQ(HVLAB_IO_OUT, run->io.direction);
		ASSERT_EQ(4, run->io.size);
		memcpy(&val, (char *)run + run->io.data_offset, 4);
		ASSERT_EQ((uint32_t)i, val) TH_LOG("move %d: guest counted %u", i, val);
		ASSERT_EQ(sched_getcpu(), i & 1);
	}
	/* Registers round-trip after all that: RIP at the jmp, ESI the count. */
	ASSERT_EQ(0, hvlab_get_regs(vcpu_fd, &regs));
	count = regs.rsi;
	ASSERT_EQ((uint32_t)MOVES, count);
	ASSERT_EQ(CODE + sizeof(guest) - 2, regs.rip);

	hvlab_unmap_run(run, size);
	close(vcpu_fd);
	close(vm_fd);
	close(sys_fd);
}

TEST_HARNESS_MAIN
