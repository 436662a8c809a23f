// SPDX-License-Identifier: GPL-2.0
/*
 * test_isolation - host state a guest must neither see nor change: the
 * registers that VM entry and exit do not switch, or that a guest can
 * reach without an exit unless the hypervisor intercepts it.  Each test
 * runs a 64-bit C guest on either vendor and checks the VMM thread's own
 * state around it.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <asm/ldt.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>

#include "kselftest_harness.h"
#include "libhvlab.h"
#include "hvtest.h"
#include "guest.h"
#include "x86.h"

#define X86_CR4_PKE	(1ull << 22)

FIXTURE(iso) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_SETUP(iso)
{
	HVT_SETUP_VM_VCPU(0);
}

FIXTURE_TEARDOWN(iso)
{
	hvt_vm_free(self->vm);
}

#define ENTER_C(fn, a0, a1) do {						\
	int __r = hvt_vcpu_enter_c(self->vcpu, (void *)(fn), (a0), (a1));	\
	ASSERT_EQ(0, __r) TH_LOG("enter: %s", strerror(-__r));			\
} while (0)

/* Give the scheduler a chance to switch this thread out and back in. */
static void host_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- PKRU */

/* Offer PKU (CPUID.7.0:ECX[3]) in the vCPU's CPUID, which hides it by default. */
static void offer_pku(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu)
{
	static struct {
		struct hvlab_cpuid hdr;
		struct hvlab_cpuid_entry e[HVLAB_CPUID_MAX_ENTRIES];
	} t;
	unsigned int i;

	t.hdr.nent = HVLAB_CPUID_MAX_ENTRIES;
	ASSERT_EQ(0, hvlab_get_cpuid(vcpu->fd, &t.hdr));
	for (i = 0; i < t.hdr.nent; i++)
		if (t.e[i].function == 7 && t.e[i].index == 0)
			t.e[i].ecx |= 1u << 3;
	ASSERT_EQ(0, hvlab_set_cpuid(vcpu->fd, &t.hdr));
}

/* The guest's PKRU: write-disable for keys 1-15, key 0 untouched. */
#define GUEST_PKRU	0xaaaaaaa8u

static inline uint32_t host_rdpkru(void)
{
	uint32_t eax, edx;

	asm volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

GUEST_INLINE uint32_t guest_rdpkru(void)
{
	uint32_t eax, edx;

	asm volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

GUEST_CODE static void guest_pkru(void)
{
	uint64_t cr4;

	asm volatile("mov %%cr4, %0" : "=r"(cr4));
	asm volatile("mov %0, %%cr4" : : "r"(cr4 | X86_CR4_PKE) : "memory");
	GUEST_SYNC(guest_rdpkru());		/* the reset value, 0 */
	asm volatile(".byte 0x0f, 0x01, 0xef" : : "a"(GUEST_PKRU), "c"(0), "d"(0));
	GUEST_SYNC(1);				/* host looks at its own PKRU */
	GUEST_SYNC(guest_rdpkru());		/* still ours after the host ran */
}

/*
 * The guest turns on protection keys itself (offered in its CPUID, as
 * CR4.PKE needs since the CR4 allowlist, module/cr4.c) and loads PKRU
 * with WRPKRU: the VMM thread must come
 * back from RUN with its own PKRU, and the guest keep its value across
 * RUNs and a sleep of the host thread.  PKRU switches nothing by itself
 * on VM entry or exit (SDM Vol. 3C 27.3/28.5, APM Vol. 2 15.5).
 */
TEST_F(iso, pkru)
{
	uint32_t a, b, c, d, host;
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	hvt_cpuid(7, 0, &a, &b, &c, &d);
	if (!(c & (1u << 3)))
		SKIP(return, "the emulated CPU has no protection keys (CPUID.7.0:ECX.PKU = 0)");
	if (!(c & (1u << 4)))
		SKIP(return, "the PC's kernel does not use protection keys (CPUID.7.0:ECX.OSPKE = 0)");
	host = host_rdpkru();
	ASSERT_NE(GUEST_PKRU, host) TH_LOG("pick another guest value: the host has %#x", host);
	offer_pku(_metadata, self->vcpu);

	ENTER_C(guest_pkru, 0, 0);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0, uc.args[0]) TH_LOG("the guest's PKRU starts at 0, not the host's %#x", host);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);
	EXPECT_EQ(host, host_rdpkru()) TH_LOG("RUN came back with the guest's PKRU");
	host_sleep_ms(20);
	EXPECT_EQ(host, host_rdpkru());
	HVT_RUN_EXPECT_SYNC(self->vcpu, GUEST_PKRU);
	HVT_RUN_EXPECT_DONE(self->vcpu);
	EXPECT_EQ(host, host_rdpkru());
}

/* ---- debug registers */

#define GUEST_GET_DR(n) ({ uint64_t __v; asm volatile("mov %%dr" #n ", %0" : "=r"(__v)); __v; })
#define GUEST_SET_DR(n, v) asm volatile("mov %0, %%dr" #n : : "r"((uint64_t)(v)) : "memory")

/* Distinct values, no breakpoint enabled (DR7 bits 7:0 clear). */
static const uint64_t guest_db[4] = {
	0x0000123456789000ull, 0xffff800012345678ull, 0x00007ffffffff000ull, 0xdeadbee0ull,
};
#define GUEST_DR6	0xffff4ff1ull		/* B0 and BS set */
#define GUEST_DR7	0xd5d50400ull		/* R/W and LEN fields only (no I/O ones) */

GUEST_CODE static void guest_debug_regs(void)
{
	uint32_t a, b, c, d;
	int i;

	/* Nothing written yet: the reset values, whatever the host has. */
	GUEST_SYNC_ARGS(GUEST_GET_DR(0), GUEST_GET_DR(1), GUEST_GET_DR(2), GUEST_GET_DR(3));
	GUEST_SYNC_ARGS(GUEST_GET_DR(6), GUEST_GET_DR(7), 0, 0);
	GUEST_SET_DR(0, guest_db[0]);
	GUEST_SET_DR(1, guest_db[1]);
	GUEST_SET_DR(2, guest_db[2]);
	GUEST_SET_DR(3, guest_db[3]);
	GUEST_SET_DR(6, GUEST_DR6);
	GUEST_SET_DR(7, GUEST_DR7);
	for (i = 0; i < 16; i++)		/* exits handled in the kernel */
		guest_cpuid(0, 0, &a, &b, &c, &d);
	GUEST_SYNC(0);				/* the host thread sleeps */
	GUEST_SYNC_ARGS(GUEST_GET_DR(0), GUEST_GET_DR(1), GUEST_GET_DR(2), GUEST_GET_DR(3));
	GUEST_SYNC_ARGS(GUEST_GET_DR(6), GUEST_GET_DR(7), 0, 0);
}

static void check_debug_regs(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu)
{
	struct ucall uc;
	int i;

	HVT_RUN_EXPECT_UCALL(vcpu, UCALL_SYNC, &uc);
	for (i = 0; i < 4; i++) {	/* braces: EXPECT_*() TH_LOG() is two statements */
		EXPECT_EQ(0, uc.args[i]) TH_LOG("DR%d before any write: %#llx, not 0", i,
						(unsigned long long)uc.args[i]);
	}
	HVT_RUN_EXPECT_UCALL(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0xffff0ff0ull, uc.args[0]) TH_LOG("DR6 reset value");
	EXPECT_EQ(0x400ull, uc.args[1]) TH_LOG("DR7 reset value");
	HVT_RUN_EXPECT_SYNC(vcpu, 0);
	host_sleep_ms(20);
	sched_yield();
	HVT_RUN_EXPECT_UCALL(vcpu, UCALL_SYNC, &uc);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(guest_db[i], uc.args[i]) TH_LOG("DR%d: wrote %#llx, read %#llx", i,
							   (unsigned long long)guest_db[i],
							   (unsigned long long)uc.args[i]);
	}
	HVT_RUN_EXPECT_UCALL(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(GUEST_DR6, uc.args[0]);
	EXPECT_EQ(GUEST_DR7, uc.args[1]);
	HVT_RUN_EXPECT_DONE(vcpu);
}

/*
 * The guest's debug registers are its own: DR0-3 start at 0 and keep
 * what it wrote across exits and a sleep of the VMM thread; DR6/DR7 read
 * back as written.  The host thread has no breakpoints.
 */
TEST_F(iso, debug_regs)
{
	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_debug_regs, 0, 0);
	check_debug_regs(_metadata, self->vcpu);
}

static volatile uint32_t host_watch;

/*
 * The same while the VMM thread has a hardware watchpoint (perf), so its
 * DR0-3 and DR7 are live around every entry and the host puts them back
 * after every exit: the guest must neither read the host's address nor
 * lose its own values to hw_breakpoint_restore(), and the host's
 * watchpoint must still fire afterwards.
 */
TEST_F(iso, debug_regs_host_watchpoint)
{
	struct perf_event_attr attr;
	uint64_t hits = 0;
	int fd;

	HVT_SKIPPED_IN_SETUP();
	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_BREAKPOINT;
	attr.size = sizeof(attr);
	attr.bp_type = HW_BREAKPOINT_W;
	attr.bp_addr = (uintptr_t)&host_watch;
	attr.bp_len = HW_BREAKPOINT_LEN_4;
	attr.sample_period = 1;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	fd = syscall(__NR_perf_event_open, &attr, 0, -1, -1, 0);
	if (fd < 0)
		SKIP(return, "perf_event_open(PERF_TYPE_BREAKPOINT): %s", strerror(errno));

	ENTER_C(guest_debug_regs, 0, 0);
	check_debug_regs(_metadata, self->vcpu);
	host_watch = 1;
	host_watch = 2;
	ASSERT_EQ(sizeof(hits), read(fd, &hits, sizeof(hits)));
	EXPECT_EQ(2, hits) TH_LOG("the host's watchpoint stopped working after the guest ran");
	close(fd);
}

/* ---- LDTR */

#define LDT_MAGIC	0x4c445421u
static uint32_t ldt_data[4] = { LDT_MAGIC, 0, 0, 0 };
static sigjmp_buf ldt_jmp;

static void ldt_segv(int sig __attribute__((unused)))
{
	siglongjmp(ldt_jmp, 1);
}

/*
 * Load selector 7 (LDT entry 0, RPL 3) into GS, read a dword through it
 * and put the old GS back (64-bit glibc keeps TLS in FS, not GS).  With
 * no LDT loaded, the MOV to GS raises #GP: -EFAULT instead of SIGSEGV.
 */
static int read_through_ldt(uint32_t *val)
{
	struct sigaction sa = { .sa_handler = ldt_segv }, old_sa;
	uint16_t sel = 7, old_gs;
	int ret = 0;

	sigaction(SIGSEGV, &sa, &old_sa);
	asm volatile("mov %%gs, %0" : "=r"(old_gs));
	if (sigsetjmp(ldt_jmp, 1))
		ret = -EFAULT;
	else
		asm volatile("mov %1, %%gs\n\t"
			     "movl %%gs:0, %0\n\t"
			     "mov %2, %%gs"
			     : "=&r"(*val) : "r"(sel), "r"(old_gs) : "memory");
	sigaction(SIGSEGV, &old_sa, NULL);
	return ret;
}

GUEST_CODE static void guest_sync_loop(uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		GUEST_SYNC(i);
}

/*
 * A VMM that uses modify_ldt() keeps its LDT through RUN: VMX exits
 * leave LDTR null (SDM Vol. 3C 28.5.2) and nothing reloads it before the
 * thread returns to user mode; SVM's VMLOAD puts the host's back.
 */
TEST_F(iso, ldt_survives_run)
{
	struct user_desc d = {
		.entry_number = 0,
		.base_addr = (uintptr_t)ldt_data,
		.limit = sizeof(ldt_data) - 1,
		.seg_32bit = 1,
		.useable = 1,
	};
	uint32_t val = 0;
	int i;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_GT((uintptr_t)1 << 32, (uintptr_t)ldt_data) TH_LOG("a segment base has 32 bits");
	ASSERT_EQ(0, syscall(SYS_modify_ldt, 1, &d, sizeof(d))) TH_LOG("modify_ldt: %s", strerror(errno));
	ASSERT_EQ(0, read_through_ldt(&val)) TH_LOG("the LDT does not work even before RUN");
	ASSERT_EQ(LDT_MAGIC, val);

	ENTER_C(guest_sync_loop, 4, 0);
	for (i = 0; i < 4; i++) {
		HVT_RUN_EXPECT_SYNC(self->vcpu, i);
		val = 0;
		EXPECT_EQ(0, read_through_ldt(&val)) TH_LOG("after RUN %d: no LDT (LDTR null)", i);
		EXPECT_EQ(LDT_MAGIC, val);
		host_sleep_ms(5);
	}
	HVT_RUN_EXPECT_DONE(self->vcpu);
	EXPECT_EQ(0, read_through_ldt(&val));
}

/* ---- RDPMC */

#define X86_CR4_PCE	(1ull << 8)

GUEST_CODE static void guest_rdpmc(void)
{
	uint32_t lo = 0x5a5a5a5a, hi = 0xa5a5a5a5;
	uint64_t cr4;
	uint8_t vector;

	asm volatile("mov %%cr4, %0" : "=r"(cr4));
	asm volatile("mov %0, %%cr4" : : "r"(cr4 | X86_CR4_PCE) : "memory");
	asm volatile(GUEST_ASM_SAFE("rdpmc")
		     : [vector] "=qm"(vector), "+a"(lo), "+d"(hi)
		     : "c"(0) : GUEST_ASM_SAFE_CLOBBERS);
	GUEST_SYNC_ARGS(vector, lo, hi, 0);
}

/*
 * hvlab has no PMU for guests (CPUID leaf 0Ah reads 0): RDPMC of counter
 * 0, with CR4.PCE set, raises #GP(0) and never returns a host counter.
 */
TEST_F(iso, rdpmc_gp)
{
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_rdpmc, 0, 0);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(GP_VECTOR, uc.args[0]) TH_LOG("RDPMC raised %s (vector %llu), not #GP",
					       hvt_vector_name(uc.args[0]),
					       (unsigned long long)uc.args[0]);
	EXPECT_EQ(0x5a5a5a5a, uc.args[1]) TH_LOG("EAX changed: a counter was read");
	EXPECT_EQ(0xa5a5a5a5, uc.args[2]) TH_LOG("EDX changed: a counter was read");
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* ---- a refused VM entry never shows the host's state */

GUEST_CODE static void guest_cr0_nw(void)
{
	uint64_t cr0;
	uint8_t vector;

	asm volatile("mov %%cr0, %0" : "=r"(cr0));
	asm volatile(GUEST_ASM_SAFE("mov %[v], %%cr0")
		     : [vector] "=qm"(vector)
		     : [v] "r"((cr0 | CR0_NW) & ~CR0_CD)
		     : GUEST_ASM_SAFE_CLOBBERS);
	GUEST_SYNC_ARGS(vector, 0, 0, 0);
	GUEST_DONE();
}

/*
 * MOV to CR0 with NW=1 and CD=0 raises #GP(0) (SDM Vol. 3A 2.5, "CR0.NW
 * ... clearing CD while setting NW"; APM Vol. 2 3.1.1), and a VMCB holding
 * that CR0 is refused by VMRUN (APM 15.5.1).  Hardware and Bochs raise the
 * #GP; QEMU's MOV lets it through and its next VMRUN then refuses the VMCB
 * before loading any guest state, leaving its CPU state (the host's) in
 * the VMCB (svm/exit.c, svm_host_state_out()).  Whichever happens, the
 * RUN after the guest's exit must end defined (the #GP, a refused entry or
 * the lost-state report) and no register read afterwards may hold the
 * host's RIP or CR3: the guest's code runs below 4 GiB, at the CR3 set up.
 */
TEST_F(iso, refused_entry_shows_no_host_state)
{
	struct hvlab_sregs sr0, sr;
	struct hvlab_regs rg;
	struct ucall uc;
	unsigned int why;
	int r;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_cr0_nw, 0, 0);
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr0));
	/*
	 * Up to two RUNs: the guest's ucall, then the entry after it.  Any
	 * exit handled in the kernel after the MOV (a first touch of a page,
	 * a host interrupt) can meet the refused entry in the first one.
	 */
	r = hvt_vcpu_run(self->vcpu);
	ASSERT_EQ(0, r) TH_LOG("RUN: %s", strerror(-r));
	if (hvt_get_ucall(self->vcpu, &uc) == UCALL_SYNC) {
		if (uc.args[0] == GP_VECTOR) {
			TH_LOG("MOV to CR0 with NW=1, CD=0 raised #GP, as on hardware");
			HVT_RUN_EXPECT_DONE(self->vcpu);
			return;
		}
		ASSERT_EQ(0, uc.args[0]) TH_LOG("MOV to CR0 raised %s",
						hvt_vector_name(uc.args[0]));
		r = hvt_vcpu_run(self->vcpu);
		ASSERT_EQ(0, r) TH_LOG("RUN: %s", strerror(-r));
	}
	why = self->vcpu->run->exit_reason;
	ASSERT_TRUE(why == HVLAB_EXIT_FAIL_ENTRY || why == HVLAB_EXIT_INTERNAL)
		TH_LOG("the guest ran on with CR0.NW=1, CD=0: exit %s",
		       hvlab_exit_name(why));
	TH_LOG("MOV to CR0 with NW=1, CD=0 went through (an emulator's leniency); the next entry: %s",
	       why == HVLAB_EXIT_FAIL_ENTRY ? self->vcpu->run->fail_entry.rule : "the lost-state report");
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &rg));
	EXPECT_GT(1ull << 32, rg.rip) TH_LOG("RIP %#llx after the refused entry",
					     (unsigned long long)rg.rip);
	EXPECT_TRUE(sr.cr3 == sr0.cr3 || sr.cr3 == 0)
		TH_LOG("CR3 %#llx after the refused entry; the guest's is %#llx",
		       (unsigned long long)sr.cr3, (unsigned long long)sr0.cr3);
	EXPECT_GT(1ull << 32, sr.gdt.base) TH_LOG("GDT base %#llx after the refused entry",
						  (unsigned long long)sr.gdt.base);
}

TEST_HARNESS_MAIN
