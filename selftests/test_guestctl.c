// SPDX-License-Identifier: GPL-2.0
/*
 * test_guestctl - control registers and instructions a guest must not
 * own (issue 13): the CR4 allowlist, WBINVD/WBNOINVD skipped, RDPRU #UD,
 * RDPID never reading the host's TSC_AUX, no speculation control offered
 * whose MSRs #GP, no XFD.  Every test runs on both vendors; where the
 * hardware path exists on one vendor only (the TSC_AUX switch: SVM),
 * the test says so and checks the other vendor's side of the promise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "libhvlab.h"
#include "hvtest.h"
#include "guest.h"
#include "x86.h"

#define MSR_IA32_SPEC_CTRL	0x48
#define MSR_IA32_PRED_CMD	0x49
#define MSR_IA32_XFD		0x1c4
#define MSR_IA32_XFD_ERR	0x1c5
#define MSR_TSC_AUX		0xc0000103
#define MSR_AMD_VIRT_SPEC_CTRL	0xc001011f

FIXTURE(gc) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_SETUP(gc)
{
	HVT_SETUP_VM_VCPU(0);
}

FIXTURE_TEARDOWN(gc)
{
	hvt_vm_free(self->vm);
}

#define ENTER_C(fn, a0, a1) do {						\
	int __r = hvt_vcpu_enter_c(self->vcpu, (void *)(fn), (a0), (a1));	\
	ASSERT_EQ(0, __r) TH_LOG("enter: %s", strerror(-__r));			\
} while (0)

/* ---- the vCPU's CPUID table, as the guest sees it */

struct cpuid_table {
	struct hvlab_cpuid hdr;
	struct hvlab_cpuid_entry e[HVLAB_CPUID_MAX_ENTRIES];
};

static int table_get(int fd, struct cpuid_table *t)
{
	memset(t, 0, sizeof(*t));
	t->hdr.nent = HVLAB_CPUID_MAX_ENTRIES;
	return hvlab_get_cpuid(fd, &t->hdr);
}

static struct hvlab_cpuid_entry *table_find(struct cpuid_table *t, uint32_t fn, uint32_t idx)
{
	unsigned int i;

	for (i = 0; i < t->hdr.nent; i++)
		if (t->e[i].function == fn &&
		    (!(t->e[i].flags & HVLAB_CPUID_INDEXED) || t->e[i].index == idx))
			return &t->e[i];
	return NULL;
}

static uint32_t table_reg(struct cpuid_table *t, uint32_t fn, uint32_t idx, char reg)
{
	struct hvlab_cpuid_entry *e = table_find(t, fn, idx);

	if (!e)
		return 0;
	return reg == 'a' ? e->eax : reg == 'b' ? e->ebx : reg == 'c' ? e->ecx : e->edx;
}

/*
 * Does the PC's kernel use feature @flag (a word of /proc/cpuinfo's
 * "flags")?  Not raw CPUID: the kernel may have turned a feature off
 * (the Bochs PC's 6.1 kernel drops XSAVE on an XSAVE size mismatch), and
 * hvlab goes by the kernel's view (boot_cpu_has()).
 */
static bool host_flag(const char *flag)
{
	static char line[8192];
	char *p, *save = NULL;
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		p = strchr(line, ':');
		for (p = p ? strtok_r(p + 1, " \n", &save) : NULL; p; p = strtok_r(NULL, " \n", &save))
			if (!strcmp(p, flag))
				found = true;
		break;
	}
	fclose(f);
	return found;
}

/*
 * The CR4 bits the guest may set, written down from the rule of issue 13
 * (and module/cr4.c) independently of the module: the architectural base
 * set, plus each feature bit its CPUID offers, the host kernel uses and
 * hvlab switches state for.  PKE needs the host to use protection keys
 * ("ospke").  Never: LA57, VMXE, SMXE, Key Locker (19), CET (23), PKS
 * (24), UINTR (25), LAM (28), FRED (32) and every reserved bit.
 */
static uint64_t expected_allowed(struct cpuid_table *t)
{
	uint32_t c1 = table_reg(t, 1, 0, 'c'), b7 = table_reg(t, 7, 0, 'b');
	uint32_t c7 = table_reg(t, 7, 0, 'c');
	uint64_t ok = 0x7ff;	/* VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT */

	if ((c7 & (1u << 2)) && host_flag("umip"))
		ok |= 1ull << 11;	/* UMIP */
	if ((b7 & (1u << 0)) && host_flag("fsgsbase"))
		ok |= 1ull << 16;	/* FSGSBASE */
	if ((c1 & (1u << 17)) && host_flag("pcid"))
		ok |= 1ull << 17;	/* PCIDE */
	if ((c1 & (1u << 26)) && host_flag("xsave"))
		ok |= 1ull << 18;	/* OSXSAVE */
	if ((b7 & (1u << 7)) && host_flag("smep"))
		ok |= 1ull << 20;	/* SMEP */
	if ((b7 & (1u << 20)) && host_flag("smap"))
		ok |= 1ull << 21;	/* SMAP */
	if ((c7 & (1u << 3)) && host_flag("ospke"))
		ok |= 1ull << 22;	/* PKE */
	return ok;
}

/* ---- CR4, bit by bit */

GUEST_INLINE uint64_t guest_read_cr4(void)
{
	uint64_t v;

	asm volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

GUEST_INLINE uint8_t guest_write_cr4_safe(uint64_t v)
{
	uint8_t vector;

	asm volatile(GUEST_ASM_SAFE("mov %[v], %%cr4")
		     : [vector] "=qm"(vector) : [v] "r"(v) : GUEST_ASM_SAFE_CLOBBERS);
	return vector;
}

/*
 * Toggle each CR4 bit in turn (64-bit mode, CPL 0, CR3[11:0] = 0, pages
 * supervisor-only so SMEP/SMAP change nothing for this code), read CR4
 * back, and put the old value back when the write was taken.  Then set
 * @set (allowed bits) and report; last, read what userspace set.
 */
GUEST_CODE static void guest_cr4_bits(uint64_t set)
{
	uint64_t old, got, after;
	uint8_t vector;
	unsigned int i;

	for (i = 0; i < 64; i++) {
		old = guest_read_cr4();
		vector = guest_write_cr4_safe(old ^ (1ull << i));
		got = guest_read_cr4();
		if (!vector && guest_write_cr4_safe(old))
			GUEST_FAIL("the old CR4 could not be written back");
		after = guest_read_cr4();
		guest_ucall(UCALL_SYNC, i, vector, got, old, after);
	}
	old = guest_read_cr4();
	vector = guest_write_cr4_safe(old | set);
	guest_ucall(UCALL_SYNC, 64, vector, guest_read_cr4(), old | set, 0);
	guest_ucall(UCALL_SYNC, 65, 0, guest_read_cr4(), 0, 0);
}

static void run_cr4_bits(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu,
			 struct cpuid_table *t)
{
	uint64_t allowed = expected_allowed(t), set, bad;
	struct hvlab_sregs sr;
	struct ucall uc;
	unsigned int i, accepted = 0;
	int r;

	/* The bits to set at the end: every allowed one (PCIDE would need CR3 = PCID 0: it is). */
	set = allowed;
	r = hvt_vcpu_enter_c(vcpu, (void *)guest_cr4_bits, set, 0);
	ASSERT_EQ(0, r);
	for (i = 0; i < 64; i++) {
		uint64_t bit = 1ull << i, old, got, after;
		bool ok;

		HVT_RUN_EXPECT_UCALL(vcpu, UCALL_SYNC, &uc);
		ASSERT_EQ(i, uc.args[0]);
		got = uc.args[2];
		old = uc.args[3];
		after = uc.args[4];
		/* Allowed, and not IA-32e mode clearing PAE (SDM Vol. 2B MOV CRn). */
		ok = (allowed & bit) && !(bit == CR4_PAE && (old & CR4_PAE));
		if (ok) {
			accepted++;
			EXPECT_EQ(0, uc.args[1]) TH_LOG("CR4 bit %u (%#llx -> %#llx): %s, expected no fault",
							 i, (unsigned long long)old,
							 (unsigned long long)(old ^ bit),
							 hvt_vector_name(uc.args[1]));
			EXPECT_EQ(old ^ bit, got) TH_LOG("CR4 bit %u: wrote %#llx, read back %#llx", i,
							  (unsigned long long)(old ^ bit),
							  (unsigned long long)got);
		} else {
			EXPECT_EQ(GP_VECTOR, uc.args[1]) TH_LOG("CR4 bit %u (%#llx -> %#llx): %s, expected #GP",
								 i, (unsigned long long)old,
								 (unsigned long long)(old ^ bit),
								 uc.args[1] ? hvt_vector_name(uc.args[1]) : "no fault");
			EXPECT_EQ(old, got) TH_LOG("CR4 bit %u: refused, yet CR4 reads %#llx", i,
						    (unsigned long long)got);
		}
		EXPECT_EQ(old, after) TH_LOG("CR4 bit %u: %#llx not restored (%#llx)", i,
					      (unsigned long long)old, (unsigned long long)after);
	}
	TH_LOG("%u of 64 CR4 bits toggled (allowlist %#llx)", accepted, (unsigned long long)allowed);

	/* Every allowed bit at once: read back, and the same through GET_SREGS. */
	HVT_RUN_EXPECT_UCALL(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(64, uc.args[0]);
	EXPECT_EQ(0, uc.args[1]) TH_LOG("setting all allowed bits %#llx: %s",
					(unsigned long long)uc.args[3], hvt_vector_name(uc.args[1]));
	EXPECT_EQ(uc.args[3], uc.args[2]);
	ASSERT_EQ(0, hvlab_get_sregs(vcpu->fd, &sr));
	EXPECT_EQ(uc.args[2], sr.cr4) TH_LOG("GET_SREGS cr4 %#llx, the guest reads %#llx",
					     (unsigned long long)sr.cr4, (unsigned long long)uc.args[2]);

	/* SET_SREGS: every bit outside the allowlist is refused, CR4 stays. */
	for (i = 0; i < 64; i++) {
		struct hvlab_sregs bad_sr = sr;

		if (allowed & (1ull << i))
			continue;
		bad_sr.cr4 |= 1ull << i;
		EXPECT_EQ(-EINVAL, hvlab_set_sregs(vcpu->fd, &bad_sr))
			TH_LOG("SET_SREGS took CR4 bit %u", i);
	}
	/* An allowed value is taken and is what the guest reads next. */
	bad = sr.cr4 & ~CR4_PGE;
	sr.cr4 = bad;
	ASSERT_EQ(0, hvlab_set_sregs(vcpu->fd, &sr));
	HVT_RUN_EXPECT_UCALL(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(65, uc.args[0]);
	EXPECT_EQ(bad, uc.args[2]) TH_LOG("SET_SREGS cr4 %#llx, the guest reads %#llx",
					  (unsigned long long)bad, (unsigned long long)uc.args[2]);
	HVT_RUN_EXPECT_DONE(vcpu);
}

/*
 * Every CR4 bit 0-63 with the default CPUID: the allowlist decides
 * (accepted and read back as written, or #GP and unchanged), then
 * GET_SREGS agrees with the guest, SET_SREGS refuses each other bit with
 * -EINVAL, and the guest reads what SET_SREGS set.
 */
TEST_F(gc, cr4_each_bit)
{
	struct cpuid_table t;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, table_get(self->vcpu->fd, &t));
	run_cr4_bits(_metadata, self->vcpu, &t);
}

/*
 * The same with a CPUID table userspace changed: XSAVE and PKU offered
 * where the host has them (OSXSAVE and PKE become the guest's), SMEP,
 * FSGSBASE and PCID taken away (their CR4 bits #GP again).
 */
TEST_F(gc, cr4_follows_cpuid)
{
	struct hvlab_cpuid_entry *l1, *l7;
	uint32_t a, b, c, d;
	struct cpuid_table t;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, table_get(self->vcpu->fd, &t));
	l1 = table_find(&t, 1, 0);
	l7 = table_find(&t, 7, 0);
	ASSERT_NE(NULL, l1);
	ASSERT_NE(NULL, l7);
	hvt_cpuid(1, 0, &a, &b, &c, &d);
	l1->ecx = (l1->ecx | (c & (1u << 26))) & ~(1u << 17);	/* +XSAVE, -PCID */
	hvt_cpuid(7, 0, &a, &b, &c, &d);
	l7->ecx |= c & (1u << 3);				/* +PKU */
	TH_LOG("OSXSAVE %s, PKE %s", host_flag("xsave") ? "offered" : "offered but the host kernel has no XSAVE",
	       host_flag("ospke") ? "offered" : "offered but the host kernel uses no PKU");
	l7->ebx &= ~((1u << 7) | (1u << 0));			/* -SMEP, -FSGSBASE */
	ASSERT_EQ(0, hvlab_set_cpuid(self->vcpu->fd, &t.hdr));
	run_cr4_bits(_metadata, self->vcpu, &t);
}

/*
 * MOV to CR4 setting PCIDE with CR3[11:0] != 0 raises #GP (SDM Vol. 2B
 * MOV CRn, 64-bit mode exceptions); with CR3[11:0] = 0 it is taken.
 */
GUEST_CODE static void guest_pcide(void)
{
	uint64_t cr3, cr4 = guest_read_cr4();
	uint8_t v1, v2;

	asm volatile("mov %%cr3, %0" : "=r"(cr3));
	asm volatile("mov %0, %%cr3" : : "r"(cr3 | 0x8) : "memory");	/* PWT */
	v1 = guest_write_cr4_safe(cr4 | CR4_PCIDE);
	asm volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
	v2 = guest_write_cr4_safe(cr4 | CR4_PCIDE);
	if (!v2)
		guest_write_cr4_safe(cr4);
	GUEST_SYNC_ARGS(v1, v2, 0, 0);
}

TEST_F(gc, cr4_pcide_needs_cr3_low_bits_clear)
{
	struct cpuid_table t;
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, table_get(self->vcpu->fd, &t));
	if (!(table_reg(&t, 1, 0, 'c') & (1u << 17)))
		SKIP(return, "the guest's CPUID offers no PCID (CPUID.1:ECX[17] = 0)");
	ENTER_C(guest_pcide, 0, 0);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(GP_VECTOR, uc.args[0]) TH_LOG("PCIDE with CR3[11:0] = 8: %s, expected #GP",
					       uc.args[0] ? hvt_vector_name(uc.args[0]) : "no fault");
	EXPECT_EQ(0, uc.args[1]) TH_LOG("PCIDE with CR3[11:0] = 0: %s",
					hvt_vector_name(uc.args[1]));
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* ---- WBINVD and WBNOINVD */

#define N_WBINVD	5
#define N_WBNOINVD	3

GUEST_CODE static void guest_wbinvd(void)
{
	int i;

	for (i = 0; i < N_WBINVD; i++)
		asm volatile("wbinvd" ::: "memory");
	for (i = 0; i < N_WBNOINVD; i++)
		asm volatile(".byte 0xf3, 0x0f, 0x09" ::: "memory");	/* WBNOINVD */
	asm volatile(".byte 0x2e, 0x0f, 0x09" ::: "memory");		/* CS: WBINVD, 3 bytes */
	GUEST_SYNC(0);
}

/*
 * Each WBINVD and WBNOINVD exits (counted as HVLAB_STAT_INVD) and is
 * skipped with its whole length, prefixes included: the guest reaches
 * its ucall, and the count says no instruction ran natively (which would
 * have flushed the host CPU's caches).  On a CPU without WBNOINVD,
 * F3 0F 09 is WBINVD; either way the same exit.
 */
TEST_F(gc, wbinvd_exits_and_is_skipped)
{
	struct hvlab_exit_stats before, after;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, hvlab_get_exit_stats(self->vcpu->fd, &before));
	ENTER_C(guest_wbinvd, 0, 0);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0);
	ASSERT_EQ(0, hvlab_get_exit_stats(self->vcpu->fd, &after));
	EXPECT_EQ(N_WBINVD + N_WBNOINVD + 1, after.count[HVLAB_STAT_INVD] - before.count[HVLAB_STAT_INVD])
		TH_LOG("%llu cache-flush exits, expected %d",
		       (unsigned long long)(after.count[HVLAB_STAT_INVD] - before.count[HVLAB_STAT_INVD]),
		       N_WBINVD + N_WBNOINVD + 1);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* ---- RDPRU */

GUEST_CODE static void guest_rdpru(void)
{
	uint32_t a, b, c, d, lo = 0x5a5a5a5a, hi = 0xa5a5a5a5;
	uint8_t vector;

	guest_cpuid(0x80000000, 0, &a, &b, &c, &d);
	b = 0;
	if (a >= 0x80000008)
		guest_cpuid(0x80000008, 0, &a, &b, &c, &d);
	asm volatile(GUEST_ASM_SAFE(".byte 0x0f, 0x01, 0xfd")		/* RDPRU, ECX = 0: MPERF */
		     : [vector] "=qm"(vector), "+a"(lo), "+d"(hi)
		     : "c"(0) : GUEST_ASM_SAFE_CLOBBERS);
	GUEST_SYNC_ARGS(b & (1u << 4), vector, lo, hi);
}

/*
 * RDPRU reads the host's MPERF/APERF: CPUID 8000_0008h EBX[4] is 0 and
 * the instruction raises #UD (SVM: the RDPRU intercept; Intel CPUs have
 * no RDPRU, so #UD there too).
 */
TEST_F(gc, rdpru_ud)
{
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_rdpru, 0, 0);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0, uc.args[0]) TH_LOG("CPUID offers RDPRU");
	EXPECT_EQ(UD_VECTOR, uc.args[1]) TH_LOG("RDPRU: %s, expected #UD",
					       uc.args[1] ? hvt_vector_name(uc.args[1]) : "no fault");
	EXPECT_EQ(0x5a5a5a5a, uc.args[2]);
	EXPECT_EQ(0xa5a5a5a5, uc.args[3]);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* ---- RDPID and TSC_AUX */

#define GUEST_TSC_AUX	0x5a17

GUEST_CODE static void guest_rdpid(void)
{
	uint32_t a, b, c, d;
	uint64_t aux = 0, val = 0x77;
	bool offered;
	uint8_t vw, vr, vp;

	guest_cpuid(7, 0, &a, &b, &c, &d);
	offered = c & (1u << 22);
	guest_cpuid(0x80000001, 0, &a, &b, &c, &d);
	offered |= !!(d & (1u << 27));				/* RDTSCP */
	vw = guest_wrmsr_safe(MSR_TSC_AUX, GUEST_TSC_AUX);
	vr = guest_rdmsr_safe(MSR_TSC_AUX, &aux);
	GUEST_SYNC_ARGS(offered, vw, vr, aux);
	/* RDPID %rax (F3 0F C7 /7) */
	asm volatile(GUEST_ASM_SAFE(".byte 0xf3, 0x0f, 0xc7, 0xf8")
		     : [vector] "=qm"(vp), "+a"(val) : : GUEST_ASM_SAFE_CLOBBERS);
	guest_cpuid(7, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(!!(c & (1u << 22)), vp, val, 0);
}

/* RDPID in the VMM itself: the host's TSC_AUX of this CPU. */
static uint64_t host_rdpid(void)
{
	uint64_t v = 0;

	asm volatile(".byte 0xf3, 0x0f, 0xc7, 0xf8" : "+a"(v));
	return v;
}

/*
 * On each host CPU in turn (CPU 1's TSC_AUX is 1, not 0): if the guest's
 * CPUID offers RDPID or RDTSCP, its TSC_AUX is its own (WRMSR/RDMSR) and
 * RDPID returns that, never the host's; if it does not, WRMSR/RDMSR #GP
 * and RDPID raises #UD.  CPUID must tell the truth: RDPID offered exactly
 * when it works.  The switch of TSC_AUX is SVM's (RDPID has no SVM
 * intercept); under VT-x hvlab leaves "enable RDTSCP" off, so RDPID is
 * #UD and hidden.  Afterwards the VMM's own RDPID still reads its CPU.
 */
TEST_F(gc, rdpid_reads_guest_tsc_aux)
{
	uint32_t a, b, c, d;
	bool host_rdpid_ok;
	int cpu, ncpus = hvt_cpus_online() > 1 ? 2 : 1;

	HVT_SKIPPED_IN_SETUP();
	hvt_cpuid(7, 0, &a, &b, &c, &d);
	host_rdpid_ok = c & (1u << 22);
	TH_LOG("host CPU %s RDPID", host_rdpid_ok ? "has" : "has no");
	for (cpu = 0; cpu < ncpus; cpu++) {
		struct ucall uc;
		unsigned int hcpu, hnode;

		ASSERT_EQ(0, hvt_pin_to_cpu(cpu));
		ENTER_C(guest_rdpid, 0, 0);
		HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
		if (uc.args[0]) {
			EXPECT_EQ(0, uc.args[1]) TH_LOG("WRMSR TSC_AUX: %s", hvt_vector_name(uc.args[1]));
			EXPECT_EQ(0, uc.args[2]) TH_LOG("RDMSR TSC_AUX: %s", hvt_vector_name(uc.args[2]));
			EXPECT_EQ(GUEST_TSC_AUX, uc.args[3]);
		} else {
			EXPECT_EQ(GP_VECTOR, uc.args[1]) TH_LOG("WRMSR TSC_AUX without RDTSCP/RDPID");
			EXPECT_EQ(GP_VECTOR, uc.args[2]) TH_LOG("RDMSR TSC_AUX without RDTSCP/RDPID");
		}
		HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
		if (uc.args[0]) {
			EXPECT_EQ(0, uc.args[1]) TH_LOG("CPU %d: CPUID offers RDPID, RDPID raised %s",
							cpu, hvt_vector_name(uc.args[1]));
			EXPECT_EQ(GUEST_TSC_AUX, uc.args[2]) TH_LOG("CPU %d: RDPID read %#llx, not the guest's %#x",
								     cpu, (unsigned long long)uc.args[2],
								     GUEST_TSC_AUX);
		} else {
			EXPECT_EQ(UD_VECTOR, uc.args[1])
				TH_LOG("CPU %d: CPUID hides RDPID, yet it %s (read %#llx)", cpu,
				       uc.args[1] ? hvt_vector_name(uc.args[1]) : "ran",
				       (unsigned long long)uc.args[2]);
		}
		HVT_RUN_EXPECT_DONE(self->vcpu);
		if (host_rdpid_ok && !syscall(SYS_getcpu, &hcpu, &hnode, NULL)) {
			EXPECT_EQ(((uint64_t)hnode << 12) | hcpu, host_rdpid())
				TH_LOG("CPU %d: the VMM's RDPID after RUN", cpu);
		}
	}
}

GUEST_CODE static void guest_rdtscp(void)
{
	uint32_t lo, hi, aux = 0x77;
	uint8_t vw, vp;

	vw = guest_wrmsr_safe(MSR_TSC_AUX, GUEST_TSC_AUX);
	asm volatile(GUEST_ASM_SAFE("rdtscp")
		     : [vector] "=qm"(vp), "=a"(lo), "=d"(hi), "+c"(aux) : : GUEST_ASM_SAFE_CLOBBERS);
	GUEST_SYNC_ARGS(vw, vp, aux, 0);
}

/*
 * With RDTSCP offered by userspace (SET_CPUID), the guest's TSC_AUX is
 * its own: WRMSR takes it, and RDTSCP either raises #UD (hvlab
 * intercepts it on SVM; VT-x without "enable RDTSCP" raises #UD, SDM
 * Vol. 3C 26.3) or, on QEMU, which ignores the RDTSCP intercept, reads
 * the guest's value: never the host's CPU number.  Run on each host CPU
 * (CPU 1's TSC_AUX is not 0).  This is the path that shows the TSC_AUX
 * switch on the AMD PC, whose CPU has no RDPID.
 */
TEST_F(gc, rdtscp_reads_guest_tsc_aux)
{
	struct hvlab_cpuid_entry *lx1;
	struct cpuid_table t;
	int cpu, ncpus = hvt_cpus_online() > 1 ? 2 : 1;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, table_get(self->vcpu->fd, &t));
	lx1 = table_find(&t, 0x80000001, 0);
	ASSERT_NE(NULL, lx1);
	lx1->edx |= 1u << 27;
	ASSERT_EQ(0, hvlab_set_cpuid(self->vcpu->fd, &t.hdr));
	for (cpu = 0; cpu < ncpus; cpu++) {
		struct ucall uc;

		ASSERT_EQ(0, hvt_pin_to_cpu(cpu));
		ENTER_C(guest_rdtscp, 0, 0);
		HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
		EXPECT_EQ(0, uc.args[0]) TH_LOG("WRMSR TSC_AUX with RDTSCP offered: %s",
						hvt_vector_name(uc.args[0]));
		if (uc.args[1]) {
			EXPECT_EQ(UD_VECTOR, uc.args[1]) TH_LOG("RDTSCP: %s", hvt_vector_name(uc.args[1]));
		} else {
			TH_LOG("CPU %d: RDTSCP ran in the guest (the intercept was ignored)", cpu);
			EXPECT_EQ(GUEST_TSC_AUX, uc.args[2]) TH_LOG("CPU %d: RDTSCP read TSC_AUX %#llx, not the guest's %#x",
								     cpu, (unsigned long long)uc.args[2],
								     GUEST_TSC_AUX);
		}
		HVT_RUN_EXPECT_DONE(self->vcpu);
	}
}

/* ---- speculation control and XFD */

/* CPUID 8000_0008h EBX: IBPB, IBRS, STIBP, their "always on"/"preferred"/"same mode", SSBD, VIRT_SSBD, IBPB_RET. */
#define LX8_SPEC	((1u << 12) | (1u << 14) | (1u << 15) | (1u << 16) | (1u << 17) | \
			 (1u << 18) | (1u << 19) | (1u << 24) | (1u << 25) | (1u << 30))
/* CPUID 7.0 EDX: MD_CLEAR, IBRS/IBPB, STIBP, L1D_FLUSH, ARCH_CAPABILITIES, CORE_CAPABILITIES, SSBD. */
#define L7D_SPEC	((1u << 10) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 29) | \
			 (1u << 30) | (1u << 31))
/* CPUID 8000_0021h EAX: AutoIBRS, SBPB, IBPB_BRTYPE. */
#define LX21_SPEC	((1u << 8) | (1u << 27) | (1u << 28))

GUEST_CODE static void guest_spec(void)
{
	uint32_t a, b, c, d, max, lx8 = 0, lx21 = 0;
	uint64_t v;
	uint8_t g1, g2, g3;

	guest_cpuid(0x80000000, 0, &max, &b, &c, &d);
	if (max >= 0x80000008)
		guest_cpuid(0x80000008, 0, &a, &lx8, &c, &d);
	if (max >= 0x80000021)
		guest_cpuid(0x80000021, 0, &lx21, &b, &c, &d);
	guest_cpuid(7, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(lx8 & LX8_SPEC, d & L7D_SPEC, lx21 & LX21_SPEC, 0);
	g1 = guest_rdmsr_safe(MSR_IA32_SPEC_CTRL, &v);
	g2 = guest_wrmsr_safe(MSR_IA32_PRED_CMD, 1);
	g3 = guest_wrmsr_safe(MSR_AMD_VIRT_SPEC_CTRL, 0);
	GUEST_SYNC_ARGS(g1, g2, g3, 0);
}

/*
 * No speculation control is offered whose MSR then raises #GP: the
 * CPUID bits are all 0 (8000_0008h EBX, 7.0 EDX, 8000_0021h EAX), and
 * the MSRs they would name #GP, consistently.
 */
TEST_F(gc, no_speculation_control_offered)
{
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_spec, 0, 0);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0, uc.args[0]) TH_LOG("CPUID 8000_0008h EBX offers %#llx", (unsigned long long)uc.args[0]);
	EXPECT_EQ(0, uc.args[1]) TH_LOG("CPUID 7.0 EDX offers %#llx", (unsigned long long)uc.args[1]);
	EXPECT_EQ(0, uc.args[2]) TH_LOG("CPUID 8000_0021h EAX offers %#llx", (unsigned long long)uc.args[2]);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(GP_VECTOR, uc.args[0]) TH_LOG("RDMSR SPEC_CTRL");
	EXPECT_EQ(GP_VECTOR, uc.args[1]) TH_LOG("WRMSR PRED_CMD");
	EXPECT_EQ(GP_VECTOR, uc.args[2]) TH_LOG("WRMSR VIRT_SPEC_CTRL");
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

GUEST_CODE static void guest_xfd(void)
{
	uint32_t a, b, c, d;
	uint64_t v;

	guest_cpuid(0xd, 1, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(a & (1u << 4), guest_rdmsr_safe(MSR_IA32_XFD, &v),
			guest_rdmsr_safe(MSR_IA32_XFD_ERR, &v), 0);
}

/*
 * The guest has no XFD (CPUID.(EAX=0Dh,ECX=1):EAX[4] = 0; IA32_XFD and
 * IA32_XFD_ERR #GP).  The host side, clearing an XFD_ERR a guest left
 * set (hv_xfd_err_clear()), needs a CPU with XFD (AMX): neither emulated
 * PC has one, which the test reports.
 */
TEST_F(gc, xfd_hidden)
{
	uint32_t a, b, c, d;
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	hvt_cpuid(0xd, 1, &a, &b, &c, &d);
	TH_LOG("host CPU %s XFD", (a & (1u << 4)) ? "has" : "has no");
	ENTER_C(guest_xfd, 0, 0);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0, uc.args[0]) TH_LOG("CPUID offers XFD");
	EXPECT_EQ(GP_VECTOR, uc.args[1]) TH_LOG("RDMSR IA32_XFD");
	EXPECT_EQ(GP_VECTOR, uc.args[2]) TH_LOG("RDMSR IA32_XFD_ERR");
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_HARNESS_MAIN
