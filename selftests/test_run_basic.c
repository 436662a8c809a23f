// SPDX-License-Identifier: GPL-2.0
/*
 * test_run_basic.c - running guests: every exit kind the module has in each
 * CPU mode (real mode, 32-bit protected mode with paging off and on, 64-bit
 * mode), and what HVLAB_RUN does with bad arguments, two callers, and
 * signals.
 *
 * The "mode" fixture runs the same assembler text, assembled for 16, 32
 * and 64 bits, in each of the four modes: port I/O of 1/2/4 bytes both
 * ways, CPUID, HLT, allowed and unknown MSRs, a triple fault, and a
 * endless loop interrupted by a signal.  The "run" fixture runs 64-bit C
 * guests: the guest library itself (ucall, asserts, exception reports and
 * fixups) and RUN's refusals.
 *
 * Port I/O: SDM Vol. 1 18.2 / APM Vol. 2 15.10.2; IN of 8 or 16 bits keeps
 * the rest of RAX, of 32 bits zero-extends (SDM Vol. 1 3.4.1.1).  Triple
 * fault: SDM Vol. 3A 6.15 (#DF), APM Vol. 2 15.13.3 (shutdown intercept).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <asm/prctl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "guest.h"

#define MSR_IA32_PAT		0x277
#define MSR_EFER		0xc0000080
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_NONEXISTENT		0xdeadbeef	/* no CPU has it; hvlab must #GP */
#define PAT_TEST		0x0007040600070106ull	/* types 6,1,7,0,6,4,7,0: all valid */
#define KGSBASE_TEST		0x00007fff12345678ull	/* canonical */

/* HVT_RAW_DATA_GPA as assembler text: the loop below polls it. */
#define RAW_DATA		"0x7000"
_Static_assert(HVT_RAW_DATA_GPA == 0x7000, "RAW_DATA must match guest.h");

static uint64_t ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void set_rdi(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu, uint64_t v)
{
	struct hvlab_regs regs;

	ASSERT_EQ(0, hvlab_get_regs(vcpu->fd, &regs));
	regs.rdi = v;
	ASSERT_EQ(0, hvlab_set_regs(vcpu->fd, &regs));
}

static uint64_t get_rip(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu)
{
	struct hvlab_regs regs;

	EXPECT_EQ(0, hvlab_get_regs(vcpu->fd, &regs));
	return regs.rip;
}

/* ---------------------------------------------------------------------------
 * The same text in every mode
 */

/* OUT of each size, to an immediate port and to DX. */
#define IO_OUT_BODY(p)					\
	"mov $0x11, %al\n"				\
	"out %al, $0x80\n"				\
	HVT_ASM_LABEL(p, after_out)			\
	"mov $0x2233, %ax\n"				\
	"out %ax, $0x80\n"				\
	"mov $0x44556677, %eax\n"			\
	"out %eax, $0x80\n"				\
	"mov $0x3f8, %dx\n"				\
	"mov $0x99, %al\n"				\
	"out %al, %dx\n"				\
	"mov $0xaabb, %ax\n"				\
	"out %ax, %dx\n"				\
	"mov $0xccddeeff, %eax\n"			\
	"out %eax, %dx\n"				\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(io_out, IO_OUT_BODY);
HVT_ASM_MODES_LABEL(io_out, after_out);

/*
 * IN of each size; what the host answers goes back in a ucall.  EAX holds
 * a marker before the 8/16-bit INs: its other bits must survive.
 */
#define IO_IN_BODY(p)					\
	"mov $0x12345678, %eax\n"			\
	"in $0x81, %al\n"				\
	"mov %eax, %ebx\n"				\
	"mov $0x12345678, %eax\n"			\
	"in $0x82, %ax\n"				\
	"mov %eax, %ecx\n"				\
	"in $0x83, %eax\n"				\
	"mov %eax, %edx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"mov $0x3f9, %dx\n"				\
	"mov $0x87654321, %eax\n"			\
	"in %dx, %al\n"					\
	"mov %eax, %ebx\n"				\
	"mov $0x87654321, %eax\n"			\
	"in %dx, %ax\n"					\
	"mov %eax, %ecx\n"				\
	"in %dx, %eax\n"				\
	"mov %eax, %esi\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(io_in, IO_IN_BODY);

/* CPUID 0x40000000: the guest compares the signature itself (EDI = 1). */
#define CPUID_BODY(p)					\
	"mov $0x40000000, %eax\n"			\
	"xor %ecx, %ecx\n"				\
	"cpuid\n"					\
	"xor %edi, %edi\n"				\
	"cmp $0x616c7668, %ebx\n"	/* "hvla" */	\
	"jne 1f\n"					\
	"cmp $0x6c766862, %ecx\n"	/* "bhvl" */	\
	"jne 1f\n"					\
	"cmp $0x00006261, %edx\n"	/* "ab\0\0" */	\
	"jne 1f\n"					\
	"mov $1, %edi\n"				\
	"1: mov %eax, %esi\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"mov $1, %eax\n"				\
	"xor %ecx, %ecx\n"				\
	"cpuid\n"					\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(cpuid_code, CPUID_BODY);

#define HLT_BODY(p)					\
	"hlt\n"						\
	HVT_ASM_LABEL(p, after_hlt)			\
	"mov $0x1234, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"hlt\n"						\
	HVT_ASM_LABEL(p, after_hlt2)			\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(hlt_code, HLT_BODY);
HVT_ASM_MODES_LABEL(hlt_code, after_hlt);
HVT_ASM_MODES_LABEL(hlt_code, after_hlt2);

/*
 * MSR round trips through the kernel, with an exit to userspace between
 * each write and its read.  Reported: EAX in EBX, EDX in EDX.
 */
#define MSR_BODY(p)					\
	"mov $0x277, %ecx\n"				\
	"mov $0x00070106, %eax\n"			\
	"mov $0x00070406, %edx\n"			\
	"wrmsr\n"					\
	"out %al, $0x80\n"				\
	"xor %eax, %eax\n"				\
	"xor %edx, %edx\n"				\
	"rdmsr\n"					\
	"mov %eax, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"mov $0xc0000102, %ecx\n"			\
	"mov $0x12345678, %eax\n"			\
	"mov $0x00007fff, %edx\n"			\
	"wrmsr\n"					\
	"out %al, $0x80\n"				\
	"xor %eax, %eax\n"				\
	"xor %edx, %edx\n"				\
	"rdmsr\n"					\
	"mov %eax, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"mov $0xc0000080, %ecx\n"			\
	"rdmsr\n"					\
	"mov %eax, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(msr_code, MSR_BODY);

/*
 * EDI (set by the host) picks the faulting access: 0 RDMSR of an MSR that
 * does not exist, 1 WRMSR of it, 2 WRMSR of IA32_PAT with a reserved
 * memory type.  Each must raise #GP(0) in the guest (SDM Vol. 2B RDMSR,
 * WRMSR; APM Vol. 2 7.8.1 for PAT).
 */
#define MSR_GP_BODY(p)					\
	"cmp $1, %edi\n"				\
	"je 2f\n"					\
	"cmp $2, %edi\n"				\
	"je 3f\n"					\
	"mov $0xdeadbeef, %ecx\n"			\
	HVT_ASM_LABEL(p, rdmsr)				\
	"rdmsr\n"					\
	"jmp 9f\n"					\
	"2: mov $0xdeadbeef, %ecx\n"			\
	"xor %eax, %eax\n"				\
	"xor %edx, %edx\n"				\
	HVT_ASM_LABEL(p, wrmsr)				\
	"wrmsr\n"					\
	"jmp 9f\n"					\
	"3: mov $0x277, %ecx\n"				\
	"mov $0x02020202, %eax\n"			\
	"xor %edx, %edx\n"				\
	HVT_ASM_LABEL(p, wrpat)				\
	"wrmsr\n"					\
	"9:\n"						\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(msr_gp, MSR_GP_BODY);
HVT_ASM_MODES_LABEL(msr_gp, rdmsr);
HVT_ASM_MODES_LABEL(msr_gp, wrmsr);
HVT_ASM_MODES_LABEL(msr_gp, wrpat);

/*
 * An IDT (IVT) of limit 0 and base 0: #UD cannot be delivered, nor #GP,
 * nor #DF.  The two pushes are the pseudo-descriptor LIDT reads (6 bytes
 * in 16/32-bit code, 10 in 64-bit: SDM Vol. 2A LGDT/LIDT).  Just before the
 * UD2 the guest leaves marks the host must find after the SHUTDOWN exit:
 * EBX and ESI, and RSP below its start by the two pushes.
 */
#define TRIPLE_EBX	0x7e1b5a3c
#define TRIPLE_ESI	0x0dd5eed5
#define TRIPLE_BODY(p)					\
	"push $0\n"					\
	"push $0\n"					\
	"lidt (%esp)\n"					\
	"mov $" __hvt_str(TRIPLE_EBX) ", %ebx\n"	\
	"mov $" __hvt_str(TRIPLE_ESI) ", %esi\n"	\
	HVT_ASM_LABEL(p, ud2)				\
	"ud2\n"						\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(triple, TRIPLE_BODY);
HVT_ASM_MODES_LABEL(triple, ud2);

/*
 * Count in EBX until the host writes a non-zero byte at RAW_DATA.  ESI
 * and EDI hold marks the loop never touches: they must survive -EINTR.
 * Every iteration also stores the count at RAW_COUNT, so a host thread
 * can see how far the guest has got without stopping it.
 */
#define LOOP_ESI	0x51a1e5e5
#define LOOP_EDI	0x0c0ffee0
#define RAW_COUNT	"0x7004"
#define RAW_COUNT_OFF	4
#define LOOP_BODY(p)					\
	"mov $" __hvt_str(LOOP_ESI) ", %esi\n"		\
	"mov $" __hvt_str(LOOP_EDI) ", %edi\n"		\
	"xor %ebx, %ebx\n"				\
	HVT_ASM_LABEL(p, loop)				\
	"1: inc %ebx\n"					\
	"mov %ebx, " RAW_COUNT "\n"			\
	"cmpb $0, " RAW_DATA "\n"			\
	"je 1b\n"					\
	HVT_ASM_LABEL(p, loop_end)			\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(loop_code, LOOP_BODY);
HVT_ASM_MODES_LABEL(loop_code, loop);
HVT_ASM_MODES_LABEL(loop_code, loop_end);

HVT_MODE_FIXTURE(mode, 0);

TEST_F(mode, io_out)
{
	static const struct { uint16_t port; uint8_t size; uint32_t data; } want[] = {
		{ 0x80, 1, 0x11 }, { 0x80, 2, 0x2233 }, { 0x80, 4, 0x44556677 },
		{ 0x3f8, 1, 0x99 }, { 0x3f8, 2, 0xaabb }, { 0x3f8, 4, 0xccddeeff },
	};
	struct hvlab_run *run;
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	run = self->vcpu->run;
	HVT_MODE_ENTER(io_out);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
		EXPECT_EQ(HVLAB_IO_OUT, run->io.direction) TH_LOG("OUT #%u", i);
		EXPECT_EQ(want[i].port, run->io.port) TH_LOG("OUT #%u", i);
		EXPECT_EQ(want[i].size, run->io.size) TH_LOG("OUT #%u", i);
		EXPECT_EQ(1u, run->io.count) TH_LOG("OUT #%u", i);
		EXPECT_EQ(HVLAB_RUN_IO_DATA_OFFSET, run->io.data_offset);
		EXPECT_EQ(want[i].data, hvt_io_data(run)) TH_LOG("OUT #%u", i);
		/* OUT is complete when RUN returns: RIP is past it. */
		if (i == 0) {
			EXPECT_EQ(HVT_MODE_LABEL(io_out, after_out), get_rip(_metadata, self->vcpu));
		}
	}
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_F(mode, io_in)
{
	static const struct { uint16_t port; uint8_t size; uint32_t answer; } want[] = {
		{ 0x81, 1, 0xa5 }, { 0x82, 2, 0xbeef }, { 0x83, 4, 0xdeadc0de },
		{ 0x3f9, 1, 0x5a }, { 0x3f9, 2, 0xf00d }, { 0x3f9, 4, 0x0badcafe },
	};
	struct hvlab_run *run;
	struct ucall uc;
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	run = self->vcpu->run;
	HVT_MODE_ENTER(io_in);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
		EXPECT_EQ(HVLAB_IO_IN, run->io.direction) TH_LOG("IN #%u", i);
		EXPECT_EQ(want[i].port, run->io.port) TH_LOG("IN #%u", i);
		ASSERT_EQ(want[i].size, run->io.size) TH_LOG("IN #%u", i);
		EXPECT_EQ(1u, run->io.count) TH_LOG("IN #%u", i);
		/* Fill more than the access: only @size bytes may reach RAX. */
		memset((char *)run + run->io.data_offset, 0xee, 8);
		hvt_io_set_data(run, want[i].answer);
		if (i == 2) {
			HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
			EXPECT_EQ(0x123456a5u, (uint32_t)uc.args[0]) TH_LOG("8-bit IN keeps EAX[31:8]");
			EXPECT_EQ(0x1234beefu, (uint32_t)uc.args[1]) TH_LOG("16-bit IN keeps EAX[31:16]");
			EXPECT_EQ(0xdeadc0deu, (uint32_t)uc.args[2]);
		}
	}
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0x8765435au, (uint32_t)uc.args[0]);
	EXPECT_EQ(0x8765f00du, (uint32_t)uc.args[1]);
	EXPECT_EQ(0x0badcafeu, (uint32_t)uc.args[3]);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_F(mode, cpuid)
{
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	HVT_MODE_ENTER(cpuid_code);
	/* CPUID is answered in the kernel: the first exit is the ucall. */
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(1u, uc.args[4]) TH_LOG("guest saw %.4s%.4s%.4s",
					  (char *)&uc.args[0], (char *)&uc.args[1],
					  (char *)&uc.args[2]);
	EXPECT_EQ(0x616c7668u, (uint32_t)uc.args[0]);
	EXPECT_EQ(0x6c766862u, (uint32_t)uc.args[1]);
	EXPECT_EQ(0x00006261u, (uint32_t)uc.args[2]);
	EXPECT_LE(0x40000000u, (uint32_t)uc.args[3]) TH_LOG("EAX: highest hypervisor leaf");
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_TRUE(uc.args[1] & (1u << 31)) TH_LOG("CPUID.1:ECX.hypervisor");
	EXPECT_FALSE(uc.args[1] & (1u << 5)) TH_LOG("CPUID.1:ECX.VMX must be hidden");
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_F(mode, hlt)
{
	HVT_SKIPPED_IN_SETUP();
	HVT_MODE_ENTER(hlt_code);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_HLT);
	EXPECT_EQ(HVT_MODE_LABEL(hlt_code, after_hlt), get_rip(_metadata, self->vcpu));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0x1234);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_HLT);
	EXPECT_EQ(HVT_MODE_LABEL(hlt_code, after_hlt2), get_rip(_metadata, self->vcpu));
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_F(mode, msr_round_trip)
{
	uint64_t efer = variant->mode == HVT_MODE_LONG64 ? 0xd01 : 0;	/* SCE LME LMA NXE */
	struct hvlab_run *run;
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	run = self->vcpu->run;
	HVT_MODE_ENTER(msr_code);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	EXPECT_EQ(0x80, run->io.port);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ((uint32_t)PAT_TEST, (uint32_t)uc.args[0]) TH_LOG("IA32_PAT[31:0]");
	EXPECT_EQ((uint32_t)(PAT_TEST >> 32), (uint32_t)uc.args[2]) TH_LOG("IA32_PAT[63:32]");
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	EXPECT_EQ(0x80, run->io.port);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ((uint32_t)KGSBASE_TEST, (uint32_t)uc.args[0]) TH_LOG("KERNEL_GS_BASE[31:0]");
	EXPECT_EQ((uint32_t)(KGSBASE_TEST >> 32), (uint32_t)uc.args[2]) TH_LOG("KERNEL_GS_BASE[63:32]");
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(efer, (uint32_t)uc.args[0]) TH_LOG("EFER as the guest reads it (no SVME)");
	EXPECT_EQ(0u, (uint32_t)uc.args[2]) TH_LOG("EFER[63:32]");
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_F(mode, msr_gp)
{
	const char *what[] = { "RDMSR 0xdeadbeef", "WRMSR 0xdeadbeef", "WRMSR IA32_PAT reserved type" };
	uint64_t rip[3];
	struct ucall uc;
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	rip[0] = HVT_MODE_LABEL(msr_gp, rdmsr);
	rip[1] = HVT_MODE_LABEL(msr_gp, wrmsr);
	rip[2] = HVT_MODE_LABEL(msr_gp, wrpat);
	for (i = 0; i < 3; i++) {
		HVT_MODE_ENTER(msr_gp);
		set_rdi(_metadata, self->vcpu, i);
		HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_EXCEPTION, &uc);
		EXPECT_EQ(GP_VECTOR, uc.args[0]) TH_LOG("%s", what[i]);
		EXPECT_EQ(0u, uc.args[1]) TH_LOG("%s: error code", what[i]);
		EXPECT_EQ(rip[i], uc.args[2]) TH_LOG("%s: #GP is a fault: RIP at the instruction", what[i]);
	}
}

/*
 * The triple fault leaves the guest's last state readable: RIP at the
 * UD2 whose #UD could not be delivered (a fault: RIP is not advanced,
 * SDM Vol. 3A 6.5), the IDT the guest loaded, and the registers it set
 * just before.  Delivery fails on the IDT limit before anything is pushed
 * (SDM Vol. 3A 6.10; in real mode the IVT limit is checked too), so RSP
 * is where the pushes left it.
 */
TEST_F(mode, triple_fault)
{
	/* Two pushes of the operand size: 2, 4, 8 bytes. */
	static const uint64_t push[HVT_NR_MODES] = { 4, 8, 8, 16 };
	uint64_t stack0, ud2 = HVT_MODE_LABEL(triple, ud2);
	struct hvlab_sregs sr;
	struct hvlab_regs regs;

	HVT_SKIPPED_IN_SETUP();
	HVT_MODE_ENTER(triple);
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &regs));
	stack0 = regs.rsp;
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_SHUTDOWN);
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &regs));
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	EXPECT_EQ(ud2, regs.rip) TH_LOG("RIP %#llx, the UD2 is at %#llx",
					 (unsigned long long)regs.rip, (unsigned long long)ud2);
	EXPECT_EQ((uint64_t)TRIPLE_EBX, (uint32_t)regs.rbx) TH_LOG("EBX set just before the fault");
	EXPECT_EQ((uint64_t)TRIPLE_ESI, (uint32_t)regs.rsi) TH_LOG("ESI set just before the fault");
	EXPECT_EQ(stack0 - push[variant->mode], regs.rsp)
		TH_LOG("RSP %#llx, started at %#llx", (unsigned long long)regs.rsp,
		       (unsigned long long)stack0);
	EXPECT_EQ(0, sr.idt.limit) TH_LOG("the IDT limit the guest loaded");
	EXPECT_EQ(0u, sr.idt.base) TH_LOG("the IDT base the guest loaded");
	/* Still in the mode it ran in. */
	EXPECT_EQ(variant->mode == HVT_MODE_REAL ? 0u : 1u, sr.cr0 & 1) TH_LOG("CR0.PE");
	EXPECT_EQ(variant->mode == HVT_MODE_LONG64 ? 1 : 0, sr.cs.l) TH_LOG("CS.L");
}

/* CLOCK_MONOTONIC when the handler ran (0: not yet). */
static volatile uint64_t sig_ns;

static void on_sigusr1(int sig)
{
	(void)sig;
	sig_ns = ns_now();	/* clock_gettime is async-signal-safe */
}

/*
 * The thread that sends the signal: it sleeps until @at_ns, signals the
 * thread that is inside RUN, then reads how far the guest has counted
 * (the loop's store at RAW_COUNT).
 */
struct kicker {
	pthread_t target;
	uint64_t at_ns;
	volatile uint32_t *count;
	uint32_t seen;		/* the guest's count just after the signal was sent */
	uint64_t sent_ns;
	int err;
};

static void *kicker_fn(void *arg)
{
	struct kicker *k = arg;
	struct timespec ts = {
		.tv_sec = k->at_ns / 1000000000ull,
		.tv_nsec = k->at_ns % 1000000000ull,
	};

	while ((k->err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)) == EINTR)
		;
	if (k->err)
		return NULL;
	k->sent_ns = ns_now();
	k->err = pthread_kill(k->target, SIGUSR1);
	/*
	 * Read the count after sending, not before: on one CPU this thread
	 * can be preempted between the two, and the vCPU thread would then
	 * run its guest for a time slice that no module could shorten.
	 * Once the signal is pending, such a slice ends at the next entry.
	 */
	k->seen = *k->count;
	return NULL;
}

/*
 * How many loop iterations the guest may still run after the signal was
 * sent before RUN returns -EINTR.  The path: the signal kicks the vCPU's
 * CPU (or the host timer interrupt does, on one CPU), the guest exits on
 * the external-interrupt intercept, the module sees the pending signal
 * and returns; nothing in it waits for a tick or a timeout.
 * Counted in guest iterations, not host nanoseconds: QEMU's clock in the
 * AMD PC is the host's wall time, so a busy host once stretched the same
 * path to 52-70 ms while the guest ran no more of its loop.  A module that
 * waited for the next tick (4 ms at HZ=250) or for the VMX preemption
 * timer (10 ms) would let the loop run millions of iterations (QEMU does
 * 0.3-0.8 a nanosecond, Bochs 0.07); 100,000 is far above what an
 * immediate kick leaves and far below that.
 */
#define SIGNAL_MAX_ITERATIONS		100000u
/*
 * The loop is INC, MOV, CMP with memory, JE: even an emulator cannot run
 * 10 iterations per nanosecond of its own time (Bochs, whose clock follows
 * its instruction count, does 0.07; QEMU 0.3-0.8).
 */
#define LOOP_MAX_PER_NS			10

/*
 * A guest that never exits is still interruptible: RUN returns -EINTR
 * right after a signal, with the guest's state intact, and RUN goes on.
 */
TEST_F(mode, signal_interrupts_loop)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };	/* no SA_RESTART */
	uint64_t loop = HVT_MODE_LABEL(loop_code, loop), end = HVT_MODE_LABEL(loop_code, loop_end);
	volatile uint32_t *count = hvt_gpa2hva(self->vm, HVT_RAW_DATA_GPA + RAW_COUNT_OFF, 4);
	uint64_t t0, t_ret, t_sig, count1;
	struct hvlab_regs regs;
	struct kicker k;
	pthread_t thread;
	uint32_t after;
	int ret, round;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	*(uint8_t *)hvt_gpa2hva(self->vm, HVT_RAW_DATA_GPA, 1) = 0;
	HVT_MODE_ENTER(loop_code);
	count1 = 0;
	for (round = 0; round < 2; round++) {
		sig_ns = 0;
		t0 = ns_now();
		k = (struct kicker){
			.target = pthread_self(),
			.at_ns = t0 + 100000000ull,	/* 100 ms: deep in the loop */
			.count = count,
		};
		ASSERT_EQ(0, pthread_create(&thread, NULL, kicker_fn, &k));
		ret = hvt_vcpu_run(self->vcpu);
		t_ret = ns_now();
		t_sig = sig_ns;
		ASSERT_EQ(0, pthread_join(thread, NULL));
		ASSERT_EQ(0, k.err) TH_LOG("round %d: the kicker failed: %s", round, strerror(k.err));
		ASSERT_EQ(-EINTR, ret) TH_LOG("round %d: RUN returned %d (%s)", round, ret,
					      ret ? strerror(-ret) : hvlab_exit_name(self->vcpu->run->exit_reason));
		ASSERT_NE(0u, t_sig) TH_LOG("round %d: -EINTR but the handler never ran", round);
		/* Order, not duration: the handler ran after the send, RUN returned after it. */
		EXPECT_LE(k.sent_ns, t_sig) TH_LOG("round %d: the handler ran before the signal was sent", round);
		EXPECT_LE(t_sig, t_ret);
		ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &regs));
		EXPECT_LE(loop, regs.rip) TH_LOG("round %d: RIP %#llx outside the loop [%#llx, %#llx)",
						 round, (unsigned long long)regs.rip,
						 (unsigned long long)loop, (unsigned long long)end);
		EXPECT_LT(regs.rip, end);
		EXPECT_EQ((uint64_t)LOOP_ESI, regs.rsi) TH_LOG("round %d: ESI mark lost", round);
		EXPECT_EQ((uint64_t)LOOP_EDI, regs.rdi) TH_LOG("round %d: EDI mark lost", round);
		/* EBX counts up from 0: more than before, and not absurdly fast. */
		EXPECT_EQ(0u, regs.rbx >> 32) TH_LOG("round %d: RBX %#llx", round,
						     (unsigned long long)regs.rbx);
		EXPECT_LT(count1, k.seen) TH_LOG("round %d: the loop counter did not move", round);
		EXPECT_GT((t_ret - t0) * LOOP_MAX_PER_NS, regs.rbx - count1)
			TH_LOG("round %d: %llu iterations in %llu ns is not this loop", round,
			       (unsigned long long)(regs.rbx - count1),
			       (unsigned long long)(t_ret - t0));
		/* Iterations the guest ran after the signal was pending. */
		after = (uint32_t)regs.rbx - k.seen;
		EXPECT_LT(after, SIGNAL_MAX_ITERATIONS)
			TH_LOG("round %d: the guest ran %u iterations after the signal was sent (limit %u)",
			       round, after, SIGNAL_MAX_ITERATIONS);
		count1 = regs.rbx;
		TH_LOG("round %d: %u iterations after the signal; send -> handler %llu us, handler -> -EINTR %llu us (host time, not asserted), %llu iterations",
		       round, after, (unsigned long long)(t_sig - k.sent_ns) / 1000,
		       (unsigned long long)(t_ret - t_sig) / 1000, (unsigned long long)count1);
	}
	/* Now let it leave the loop. */
	*(uint8_t *)hvt_gpa2hva(self->vm, HVT_RAW_DATA_GPA, 1) = 1;
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* ---------------------------------------------------------------------------
 * From the reset state, without setting a register
 */

/*
 * The "firmware": 64 KiB of ROM at the top of the 4 GiB space and, as on
 * a PC, the same bytes at 0xf0000.  After RESET CS is F000 with base
 * FFFF0000 and IP FFF0 (SDM Vol. 3A 10.1.4, APM Vol. 2 14.1.5), so the
 * first fetch is at FFFFFFF0: there a near JMP to ROM offset 0x100 (IP
 * wraps within the 64 KiB segment), where this code reports what it found
 * (register-form ucall: EDX from reset, ESP, CR0, EAX), then loads CS with
 * a far JMP, which makes the base F000 << 4 = F0000, the low alias, and
 * reports CS from there.
 */
#define ROM_TOP_GPA	0xffff0000ull
#define ROM_LOW_GPA	0xf0000ull
#define ROM_SIZE	0x10000ull
#define ROM_MAIN	0x100
HVT_ASM(reset_rom, 16,
	"mov %eax, %edi\n"		/* EAX after RESET: 0 (no BIST) */
	"mov %edx, %ebx\n"		/* EDX: the processor signature */
	"mov %esp, %ecx\n"
	"mov %cr0, %eax\n"
	"mov %eax, %esi\n"
	HVT_ASM_UCALL(UCALL_SYNC)
	"reset_rom_after_sync:\n"
	"ljmp $0xf000, $" __hvt_str(ROM_MAIN) " + (reset_rom_low - reset_rom)\n"
	"reset_rom_low:\n"
	"xor %ebx, %ebx\n"
	"mov %cs, %bx\n"
	HVT_ASM_UCALL(UCALL_SYNC)
	"reset_rom_after_low:\n"
	HVT_ASM_UCALL(UCALL_DONE));
extern const char reset_rom_after_sync[], reset_rom_after_low[];

TEST(reset_state_runs)
{
	struct hvt_vm *vm = NULL;
	struct hvt_vcpu *vcpu;
	struct hvlab_sregs sr;
	struct hvlab_regs regs;
	uint32_t flags = 0;
	struct ucall uc;
	uint8_t *rom;
	int ret;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	HVT_REQUIRE_RUN();
	/* The PC hole leaves [0xa0000, 0x100000) free for the low alias. */
	ret = hvt_vm_create(0, HVT_VM_PC_HOLE, &vm);
	ASSERT_EQ(0, ret) TH_LOG("VM: %s", strerror(-ret));
	ret = hvt_vcpu_add(vm, 0, &vcpu);
	ASSERT_EQ(0, ret) TH_LOG("vCPU: %s", strerror(-ret));

	rom = hvt_alloc_guest_mem(ROM_SIZE);
	ASSERT_NE(NULL, rom);
	memset(rom, 0xf4, ROM_SIZE);		/* HLT everywhere else */
	memcpy(rom + ROM_MAIN, reset_rom, reset_rom_end - reset_rom);
	/* JMP rel16 (E9 cw): 0xfff3 + rel = 0x10100, and IP keeps 16 bits. */
	rom[0xfff0] = 0xe9;
	rom[0xfff1] = (uint8_t)(ROM_MAIN - 0xfff3);
	rom[0xfff2] = (uint8_t)((ROM_MAIN - 0xfff3) >> 8);
	if (hvt_cap(vm->sys_fd, HVLAB_CAP_READONLY_MEM) > 0)
		flags = HVLAB_MEM_READONLY;
	ASSERT_EQ(0, hvt_set_region(vm->fd, HVT_FIRST_FREE_SLOT, flags, ROM_TOP_GPA, ROM_SIZE,
				    (uintptr_t)rom));
	ASSERT_EQ(0, hvt_set_region(vm->fd, HVT_FIRST_FREE_SLOT + 1, flags, ROM_LOW_GPA, ROM_SIZE,
				    (uintptr_t)rom));

	/* What hvlab's reset is (module/vcpu.c hv_vcpu_reset), read once. */
	ASSERT_EQ(0, hvlab_get_sregs(vcpu->fd, &sr));
	ASSERT_EQ(0, hvlab_get_regs(vcpu->fd, &regs));
	EXPECT_EQ(0xf000, sr.cs.selector);
	EXPECT_EQ(ROM_TOP_GPA, sr.cs.base);
	EXPECT_EQ(0xfff0u, regs.rip);

	/* No SET_REGS, no SET_SREGS: RUN from there. */
	HVT_RUN_EXPECT_UCALL(vcpu, UCALL_SYNC, &uc);
	EXPECT_TRUE(uc.reg_form);
	EXPECT_EQ((uint64_t)hvt_cpu_signature(), (uint32_t)uc.args[0]) TH_LOG("EDX after RESET");
	EXPECT_EQ(0u, (uint32_t)uc.args[1]) TH_LOG("ESP after RESET");
	EXPECT_EQ(0u, (uint32_t)uc.args[4]) TH_LOG("EAX after RESET");
	ASSERT_EQ(0, hvlab_get_sregs(vcpu->fd, &sr));
	ASSERT_EQ(0, hvlab_get_regs(vcpu->fd, &regs));
	/*
	 * CR0 after RESET is 60000010h (CD, NW, ET), as the guest reads it
	 * and as GET_SREGS says.  VM entry does not load CD and NW (SDM Vol.
	 * 3C 27.3.2.1), so on VT-x hvlab must show them from the read shadow.
	 */
	EXPECT_EQ(0x60000010u, (uint32_t)uc.args[3]) TH_LOG("CR0 as the guest reads it after RESET");
	EXPECT_EQ(0x60000010ull, sr.cr0) TH_LOG("CR0 from GET_SREGS after RESET and one exit");
	EXPECT_EQ(ROM_TOP_GPA, sr.cs.base) TH_LOG("still the reset CS: the code ran at the top of 4 GiB");
	EXPECT_EQ(0xf000, sr.cs.selector);
	EXPECT_EQ(ROM_MAIN + (uint64_t)(reset_rom_after_sync - reset_rom), regs.rip);
	EXPECT_EQ(0u, sr.cr0 & 1) TH_LOG("real mode");

	HVT_RUN_EXPECT_UCALL(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0xf000u, uc.args[0]) TH_LOG("CS after the far JMP");
	ASSERT_EQ(0, hvlab_get_sregs(vcpu->fd, &sr));
	ASSERT_EQ(0, hvlab_get_regs(vcpu->fd, &regs));
	EXPECT_EQ(ROM_LOW_GPA, sr.cs.base) TH_LOG("a far JMP makes the base selector << 4");
	EXPECT_EQ(ROM_MAIN + (uint64_t)(reset_rom_after_low - reset_rom), regs.rip);
	HVT_RUN_EXPECT_DONE(vcpu);

	hvt_vm_free(vm);
	munmap(rom, ROM_SIZE);
}

/* ---------------------------------------------------------------------------
 * 64-bit C guests
 */

FIXTURE(run) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_SETUP(run)
{
	HVT_SETUP_VM_VCPU(0);
}

FIXTURE_TEARDOWN(run)
{
	hvt_vm_free(self->vm);
}

#define ENTER_C(fn, a0, a1) do {						\
	int __r = hvt_vcpu_enter_c(self->vcpu, (void *)(fn), (a0), (a1));	\
	ASSERT_EQ(0, __r) TH_LOG("enter: %s", strerror(-__r));			\
} while (0)

GUEST_CODE static void guest_sync_args(uint64_t a, uint64_t b)
{
	GUEST_SYNC(a);
	GUEST_SYNC_ARGS(a, b, a + b, ~a);
	/* Returning is GUEST_DONE(). */
}

TEST_F(run, c_guest_ucall)
{
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_sync_args, 0x1122334455667788ull, 42);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0x1122334455667788ull);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_FALSE(uc.reg_form);
	EXPECT_EQ(0x1122334455667788ull, uc.args[0]);
	EXPECT_EQ(42u, uc.args[1]);
	EXPECT_EQ(0x1122334455667788ull + 42, uc.args[2]);
	EXPECT_EQ(~0x1122334455667788ull, uc.args[3]);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

enum { FAILING_ASSERT_LINE = __LINE__ + 3 };
GUEST_CODE static void guest_failing_assert(uint64_t a)
{
	GUEST_ASSERT_EQ(a, 7);
	GUEST_DONE();
}

/* The library reports a guest assertion with its file, line and values. */
TEST_F(run, c_guest_assert_reported)
{
	struct ucall uc;
	char buf[384];

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_failing_assert, 5, 0);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_ABORT, &uc);
	TH_LOG("%s", hvt_ucall_str(&uc, buf, sizeof(buf)));
	EXPECT_STREQ(__FILE__, uc.file);
	EXPECT_EQ(FAILING_ASSERT_LINE, uc.line);
	EXPECT_STREQ("a == 7", uc.expr);
	EXPECT_TRUE(uc.has_values);
	EXPECT_EQ(5u, uc.args[0]);
	EXPECT_EQ(7u, uc.args[1]);
}

GUEST_CODE static void guest_ud2(void)
{
	asm volatile(".globl guest_ud2_insn\n"
		     "guest_ud2_insn: ud2");
	GUEST_DONE();
}
extern const char guest_ud2_insn[];

/* An exception nobody expects comes back as vector, error code and RIP. */
TEST_F(run, c_guest_unexpected_exception)
{
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_ud2, 0, 0);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_EXCEPTION, &uc);
	EXPECT_EQ(UD_VECTOR, uc.args[0]);
	EXPECT_EQ((uintptr_t)guest_ud2_insn, uc.args[2]);
}

static int ud_count;

GUEST_CODE static void guest_ud_handler(struct guest_ex_regs *regs)
{
	ud_count++;
	regs->rip += 2;		/* skip the UD2 */
}

GUEST_CODE static void guest_handled_ud(void)
{
	int i;

	for (i = 0; i < 3; i++)
		asm volatile("ud2");
	GUEST_SYNC(ud_count);
}

TEST_F(run, c_guest_exception_handler)
{
	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, hvt_vm_install_handler(self->vm, UD_VECTOR, guest_ud_handler));
	ENTER_C(guest_handled_ud, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 3);
	HVT_RUN_EXPECT_DONE(self->vcpu);
	EXPECT_EQ(3, *hvt_guest_ptr(self->vm, &ud_count));
	EXPECT_EQ(0, ud_count) TH_LOG("the host's copy is not the guest's");
}

GUEST_CODE static void guest_msr_safe(void)
{
	uint64_t v = 0x55;

	GUEST_ASSERT_EQ(guest_rdmsr_safe(MSR_NONEXISTENT, &v), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_NONEXISTENT, 0), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_IA32_PAT, 0x0202020202020202ull), GP_VECTOR);
	/* Non-canonical KERNEL_GS_BASE: #GP (SDM Vol. 2B WRMSR). */
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_KERNEL_GS_BASE, 0x8000000000000000ull), GP_VECTOR);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_IA32_PAT, PAT_TEST), 0);
	GUEST_ASSERT_EQ(guest_rdmsr_safe(MSR_IA32_PAT, &v), 0);
	GUEST_ASSERT_EQ(v, PAT_TEST);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_KERNEL_GS_BASE, KGSBASE_TEST), 0);
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_KERNEL_GS_BASE), KGSBASE_TEST);
	/* EFER.SVME is the host's: the guest never sees it, nor may set it. */
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_EFER) & (1ull << 12), 0);
	GUEST_ASSERT_EQ(guest_wrmsr_safe(MSR_EFER, guest_rdmsr(MSR_EFER) | (1ull << 12)), GP_VECTOR);
}

TEST_F(run, c_guest_msr_safe)
{
	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_msr_safe, 0, 0);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/*
 * The SYSCALL MSRs and KERNEL_GS_BASE are the guest's for as long as it
 * runs, across exits handled in the kernel and exits to userspace, while
 * the host (this test, which makes system calls in between) keeps its
 * own.  SWAPGS exchanges GS base and KERNEL_GS_BASE without an exit, and
 * RDMSR must then see the exchanged values.
 */
#define MSR_GS_BASE	0xc0000101
#define MSR_STAR	0xc0000081
#define MSR_LSTAR	0xc0000082
#define MSR_SFMASK	0xc0000084
#define GSBASE_TEST	0x00007fff87654321ull
#define LSTAR_TEST	0xffffffff81234560ull
#define STAR_TEST	0x0023001000000000ull
#define SFMASK_TEST	0x47700ull

/* Set from the host by the rival thread below, read by the guest. */
static volatile uint64_t rival_ran;

GUEST_CODE static void guest_syscall_msrs(uint64_t max_spins)
{
	uint32_t a, b, c, d;
	uint64_t i;

	guest_wrmsr(MSR_LSTAR, LSTAR_TEST);
	guest_wrmsr(MSR_STAR, STAR_TEST);
	guest_wrmsr(MSR_SFMASK, SFMASK_TEST);
	guest_wrmsr(MSR_GS_BASE, GSBASE_TEST);
	guest_wrmsr(MSR_KERNEL_GS_BASE, KGSBASE_TEST);
	GUEST_SYNC(0);				/* one exit to userspace and back */
	/* Exits the kernel handles, until the host had this CPU for a while. */
	for (i = 0; i < max_spins && !rival_ran; i++)
		guest_cpuid(0, 0, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_LSTAR), LSTAR_TEST);
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_STAR), STAR_TEST);
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_SFMASK), SFMASK_TEST);
	asm volatile("swapgs" ::: "memory");
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_KERNEL_GS_BASE), GSBASE_TEST);
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_GS_BASE), KGSBASE_TEST);
	GUEST_SYNC(1);
	asm volatile("swapgs" ::: "memory");	/* swapped back after userspace ran */
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_KERNEL_GS_BASE), KGSBASE_TEST);
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_GS_BASE), GSBASE_TEST);
}

/*
 * Another thread on the vCPU's CPU, making system calls whenever it runs;
 * once armed, after 1000 of them it tells the guest to stop spinning.
 */
struct rival {
	volatile int stop, armed;
	volatile unsigned long syscalls;
	unsigned long gs_changed;
	volatile uint64_t *guest_flag;
};

static void *rival_fn(void *arg)
{
	struct rival *r = arg;
	unsigned long gs0 = 0, gs = 0, at_arm = 0;

	syscall(SYS_arch_prctl, ARCH_GET_GS, &gs0);
	while (!r->stop) {
		syscall(SYS_arch_prctl, ARCH_GET_GS, &gs);
		r->gs_changed += gs != gs0;
		r->syscalls++;
		if (!r->armed)
			at_arm = r->syscalls;
		else if (r->syscalls - at_arm >= 1000)
			*r->guest_flag = 1;
	}
	return NULL;
}

TEST_F(run, c_guest_syscall_msrs_stay_the_guests)
{
	unsigned long fs0 = 0, gs0 = 0, fs1 = 0, gs1 = 0, before;
	struct rival r = { 0 };
	cpu_set_t one;
	pthread_t t;

	HVT_SKIPPED_IN_SETUP();
	/*
	 * Both threads on one CPU: the rival runs only when the scheduler
	 * takes the vCPU thread off the CPU, in RUN too, and its SYSCALLs
	 * would land in the guest's LSTAR if hvlab left it in the CPU then.
	 */
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(one), &one));
	ASSERT_EQ(0, syscall(SYS_arch_prctl, ARCH_GET_FS, &fs0));
	ASSERT_EQ(0, syscall(SYS_arch_prctl, ARCH_GET_GS, &gs0));
	ENTER_C(guest_syscall_msrs, 2000000, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	r.guest_flag = hvt_guest_ptr(self->vm, &rival_ran);
	ASSERT_EQ(0, pthread_create(&t, NULL, rival_fn, &r));
	ASSERT_EQ(0, pthread_setaffinity_np(t, sizeof(one), &one));
	while (!r.syscalls)
		sched_yield();
	r.armed = 1;
	before = r.syscalls;
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);	/* CPUID exits until the rival had its turn */
	EXPECT_EQ(1u, *r.guest_flag) TH_LOG("the rival never ran during RUN");
	EXPECT_LE(before + 1000, r.syscalls);
	r.stop = 1;
	pthread_join(t, NULL);
	EXPECT_EQ(0u, r.gs_changed) TH_LOG("the rival saw another GS base");
	HVT_RUN_EXPECT_DONE(self->vcpu);
	/* This thread's FS and GS bases came back intact. */
	ASSERT_EQ(0, syscall(SYS_arch_prctl, ARCH_GET_FS, &fs1));
	ASSERT_EQ(0, syscall(SYS_arch_prctl, ARCH_GET_GS, &gs1));
	EXPECT_EQ(fs0, fs1);
	EXPECT_EQ(gs0, gs1);
}

/* In 64-bit mode too: 8/16-bit IN keep RAX's other bits, 32-bit zero-extends. */
GUEST_CODE static void guest_in_rax(void)
{
	uint64_t rax;

	rax = ~0ull;
	asm volatile("inb $0x81, %%al" : "+a"(rax));
	GUEST_ASSERT_EQ(rax, 0xffffffffffffffa5ull);
	rax = ~0ull;
	asm volatile("inw $0x82, %%ax" : "+a"(rax));
	GUEST_ASSERT_EQ(rax, 0xffffffffffffbeefull);
	rax = ~0ull;
	asm volatile("inl $0x83, %%eax" : "+a"(rax));
	GUEST_ASSERT_EQ(rax, 0xdeadc0deull);
	/* OUT: only the low bytes of RAX leave. */
	rax = 0x1122334455667788ull;
	asm volatile("outl %%eax, $0x84" : : "a"(rax));
}

TEST_F(run, c_guest_in_rax_width)
{
	struct hvlab_run *run;
	const uint32_t answer[] = { 0xa5, 0xbeef, 0xdeadc0de };
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	run = self->vcpu->run;
	ENTER_C(guest_in_rax, 0, 0);
	for (i = 0; i < 3; i++) {
		HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
		ASSERT_EQ(HVLAB_IO_IN, run->io.direction);
		memset((char *)run + run->io.data_offset, 0xee, 8);
		hvt_io_set_data(run, answer[i]);
	}
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	EXPECT_EQ(HVLAB_IO_OUT, run->io.direction);
	EXPECT_EQ(4, run->io.size);
	EXPECT_EQ(0x55667788u, hvt_io_data(run));
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* --- RUN's refusals -------------------------------------------------------- */

GUEST_CODE static void guest_done(void)
{
	GUEST_DONE();
}

TEST_F(run, arg_einval)
{
	const unsigned long bad[] = { 1, 2, 0x80000000ul, 1ul << 32, ~0ul };
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_done, 0, 0);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->vcpu->fd, HVLAB_RUN, bad[i])) TH_LOG("arg %#lx", bad[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("arg %#lx", bad[i]);
	}
	/* Nothing ran: the guest is still at its first instruction. */
	EXPECT_EQ((uintptr_t)guest_done, get_rip(_metadata, self->vcpu));
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_F(run, immediate_exit)
{
	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_done, 0, 0);
	self->vcpu->run->immediate_exit = 1;
	EXPECT_EQ(-EINTR, hvt_vcpu_run(self->vcpu));
	EXPECT_EQ((uintptr_t)guest_done, get_rip(_metadata, self->vcpu));
	self->vcpu->run->immediate_exit = 0;
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

static volatile int spin_started, spin_stop;

GUEST_CODE static void guest_spin(void)
{
	spin_started = 1;
	while (!spin_stop)
		;
	GUEST_DONE();
}

struct runner {
	struct hvt_vcpu *vcpu;
	int ret;		/* RUN's result */
	int ucall;		/* hvt_get_ucall() after it */
	int done;		/* set (atomically) once the two above are */
};

static void *runner_thread(void *arg)
{
	struct runner *r = arg;
	struct ucall uc;

	r->ret = hvt_vcpu_run(r->vcpu);
	r->ucall = r->ret ? 0 : hvt_get_ucall(r->vcpu, &uc);
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* One vCPU, two threads calling RUN: the second is told EBUSY, not queued. */
TEST_F(run, two_threads_ebusy)
{
	volatile int *started, *stop;
	struct runner r = { 0 };
	pthread_t th;
	int i;

	HVT_SKIPPED_IN_SETUP();
	started = hvt_guest_ptr(self->vm, &spin_started);
	stop = hvt_guest_ptr(self->vm, &spin_stop);
	r.vcpu = self->vcpu;
	ENTER_C(guest_spin, 0, 0);
	ASSERT_EQ(0, pthread_create(&th, NULL, runner_thread, &r));
	/*
	 * Until the guest runs, or RUN came back without it: no deadline in
	 * host time (a busy host may take long to get there); a RUN that
	 * hangs before the guest starts is the harness timeout's to catch.
	 */
	while (!*started && !__atomic_load_n(&r.done, __ATOMIC_ACQUIRE))
		usleep(1000);
	if (!*started) {
		*stop = 1;
		pthread_join(th, NULL);
		ASSERT_TRUE(*started) TH_LOG("guest never started: RUN %d", r.ret);
	}
	/* The first thread is inside RUN now, in the guest. */
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(-EBUSY, hvt_vcpu_run(self->vcpu)) TH_LOG("try %d", i);
	}
	*stop = 1;
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, r.ret) TH_LOG("first RUN: %s", strerror(-r.ret));
	EXPECT_EQ(UCALL_DONE, r.ucall);
	/* The vCPU is free again. */
	ENTER_C(guest_done, 0, 0);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* --- entry failure ----------------------------------------------------------- */

/*
 * Where each vendor reports a broken CS: VMCB offset of save.cs (APM
 * Vol. 2 appendix B, Table B-2: the save area starts at 0x400, ES then CS
 * at 0x410) or the VMCS encoding of the guest CS access rights (SDM
 * Vol. 3D appendix B.3.3: 0x4816).
 */
#define VMCB_SAVE_CS		0x410
#define VMCS_GUEST_CS_AR	0x4816

/*
 * A state SET_SREGS accepts (it checks each register, not the entry
 * rules) but no entry may: 64-bit mode with CS.L=1 and CS.D=1 (APM Vol. 2
 * 15.5.1 VMRUN consistency checks; SDM Vol. 3C 27.3.1.2).  RUN reports
 * FAIL_ENTRY naming the rule and the field, on either vendor, and the
 * vCPU is not harmed: repaired, the same vCPU runs the guest.
 */
TEST_F(run, entry_failure_then_repair)
{
	int vendor = hvt_cpu_vendor();
	struct hvlab_exit_stats st0, st1;
	struct hvlab_run *run;
	struct hvlab_sregs sr;
	char buf[512];
	int ret;

	HVT_SKIPPED_IN_SETUP();
	run = self->vcpu->run;
	ENTER_C(guest_done, 0, 0);
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	ASSERT_EQ(1, sr.cs.l);
	sr.cs.db = 1;
	ASSERT_EQ(0, hvlab_set_sregs(self->vcpu->fd, &sr)) TH_LOG("SET_SREGS must accept it");
	ASSERT_EQ(0, ioctl(self->vcpu->fd, HVLAB_GET_EXIT_STATS, &st0));
	memset(run->fail_entry.rule, 0x55, sizeof(run->fail_entry.rule));

	ret = hvt_vcpu_run(self->vcpu);
	ASSERT_EQ(0, ret) TH_LOG("RUN: %s", strerror(-ret));
	ASSERT_EQ(HVLAB_EXIT_FAIL_ENTRY, run->exit_reason)
		TH_LOG("got %s", hvt_exit_str(self->vcpu, buf, sizeof(buf)));
	ASSERT_NE(NULL, memchr(run->fail_entry.rule, 0, sizeof(run->fail_entry.rule)))
		TH_LOG("rule not NUL-terminated");
	TH_LOG("refused: field %#x, '%s'", run->fail_entry.field, run->fail_entry.rule);
	EXPECT_LT(10u, strlen(run->fail_entry.rule)) TH_LOG("rule too short to say anything");
	if (vendor == HVLAB_VENDOR_AMD) {
		EXPECT_EQ(VMCB_SAVE_CS, run->fail_entry.field);
		EXPECT_EQ(0, strncmp(run->fail_entry.rule, "APM 15.5.1", 10));
	} else {
		EXPECT_EQ(VMCS_GUEST_CS_AR, run->fail_entry.field);
		EXPECT_EQ(0, strncmp(run->fail_entry.rule, "SDM 27.3.1.2", 12));
	}
	EXPECT_NE(NULL, strstr(run->fail_entry.rule, "CS.L")) TH_LOG("the rule names CS.L");
	/* Nothing ran. */
	EXPECT_EQ((uintptr_t)guest_done, get_rip(_metadata, self->vcpu));
	ASSERT_EQ(0, ioctl(self->vcpu->fd, HVLAB_GET_EXIT_STATS, &st1));
	/* A refusal by the software checks counts like one by the CPU. */
	EXPECT_EQ(st0.count[HVLAB_STAT_ENTRY_FAILURE] + 1, st1.count[HVLAB_STAT_ENTRY_FAILURE])
		TH_LOG("ENTRY_FAILURE count went %llu -> %llu",
		       (unsigned long long)st0.count[HVLAB_STAT_ENTRY_FAILURE],
		       (unsigned long long)st1.count[HVLAB_STAT_ENTRY_FAILURE]);

	/* Refused again while unchanged: nothing was half-entered. */
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_FAIL_ENTRY);

	/* Repaired: the same vCPU runs the guest to its end. */
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	sr.cs.db = 0;
	ASSERT_EQ(0, hvlab_set_sregs(self->vcpu->fd, &sr));
	HVT_RUN_EXPECT_DONE(self->vcpu);
	ENTER_C(guest_sync_args, 3, 4);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 3);
}

TEST_HARNESS_MAIN
