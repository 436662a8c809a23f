// SPDX-License-Identifier: GPL-2.0
/*
 * test_entry_rules.c - every VM entry the CPU would refuse is refused by
 * hvlab first, with its rule named: a seeded guest-state fuzzer, and the
 * EFER.LME=1 / CR4.PAE=0 / paging-off state that hangs QEMU's SVM.
 *
 * "state_fuzz" builds structured random guest states (a legal base in one
 * of seven CPU modes, then 0-5 mutations of CR0/CR3/CR4/EFER bits, segment
 * selectors, types, attributes, limits and bases, GDTR/IDTR, RFLAGS, RIP,
 * CR8 and an injected event), sets them with SET_SREGS/SET_REGS/INJECT
 * and runs each.  Every outcome is allowed but one: a refusal by the CPU
 * itself (SVM VMEXIT_INVALID, APM Vol. 2 15.5.1; VMX VMfailValid or a
 * VM-entry failure exit, SDM Vol. 3C 27.2-27.3), which hvlab's software
 * checks (svm_check_vmcb, vmx_check_vmcs) did not name before the entry.
 * The run page tells them apart: fail_entry.hardware_reason is 0 only
 * when hvlab refused the entry itself.  Reproducible: the seed and the
 * count are printed, and HVLAB_FUZZ_SEED=S HVLAB_FUZZ_STATES=N
 * HVLAB_FUZZ_ONLY=I replays state I alone (HVLAB_FUZZ_VERBOSE=1 prints
 * each state's outcome).
 *
 * Steering (only around emulator bugs, see /work/shared/emulators.md):
 * on AMD, a state with CPL > 0 or RFLAGS.VM=1 gets an available 32-bit TSS
 * in TR (type 9), because QEMU 7.2 aborts ("invalid tss type") when an
 * exception raised there is delivered through a busy one; on Intel a
 * real-mode CS selector keeps RPL 0, which Bochs 2.7 wrongly insists on.  DR6/DR7 are
 * not fuzzed: no ioctl sets them (the guest's MOV DR is emulated).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hvtest.h"
#include "x86.h"

/* Guest memory: 64 KiB filled with HLT, so a stray fetch exits. */
#define MEM_SIZE	0x10000
#define CODE		0x1000	/* out %al,$0x80; hlt (the same bytes in every mode) */
#define PD32		0x3000	/* 32-bit paging: PD -> PT32 */
#define PT32		0x4000
#define PDPT		0x5000	/* PAE: PDPT -> PD64 -> PT64; 4-level: PML4 -> PDPT64 -> PD64 */
#define PD64		0x6000
#define PT64		0x7000
#define PML4		0x8000
#define PDPT64		0x9000
#define FUZZ_PORT	0x80

/* Default number of states per run: about a minute of CI on each PC. */
#define STATES_AMD	40000
#define STATES_INTEL	10000
/*
 * The harness kills a test after 30 s of the PC's time: stop making new
 * states after this many seconds (HVLAB_FUZZ_SECONDS), whichever of the
 * two limits comes first.  How many states ran is printed.
 */
#define FUZZ_SECONDS	20

enum mode { M_REAL, M_PM16, M_PM32, M_PG32, M_PAE, M_LONG64, M_COMPAT, M_NR };
static const char * const mode_names[M_NR] = {
	"real", "pm16", "pm32", "pg32", "pae", "long64", "compat",
};

struct fz_vm {
	int sys_fd, vm_fd, vcpu_fd, mmap_size;
	struct hvlab_run *run;
	uint8_t *mem;
};

struct fz_state {
	struct hvlab_sregs sr;
	struct hvlab_regs r;
	struct hvlab_event ev;
	bool inject;
	enum mode mode;
	char what[160];	/* the mutations, for the report */
};

static void fz_alarm(int sig)
{
	(void)sig;	/* only to interrupt RUN */
}

/* xorshift64*: small, and the same sequence on every libc. */
static uint64_t fz_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t fz_below(uint64_t *s, uint64_t n)
{
	return fz_next(s) % n;
}

static bool fz_tcg(void)
{
	uint32_t a, b, c, d;
	char sig[13];

	hvt_cpuid(0x40000000, 0, &a, &b, &c, &d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = 0;
	return !strcmp(sig, "TCGTCGTCGTCG");
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

/* Identity maps of the first 64 KiB for the three paging modes. */
static void fz_tables(uint8_t *mem)
{
	uint32_t *pd32 = (uint32_t *)(mem + PD32), *pt32 = (uint32_t *)(mem + PT32);
	uint64_t *pdpt = (uint64_t *)(mem + PDPT), *pd64 = (uint64_t *)(mem + PD64);
	uint64_t *pt64 = (uint64_t *)(mem + PT64), *pml4 = (uint64_t *)(mem + PML4);
	uint64_t *pdpt64 = (uint64_t *)(mem + PDPT64);
	unsigned int i;

	memset(mem + PD32, 0, PDPT64 + 0x1000 - PD32);
	pd32[0] = PT32 | 0x7;			/* P, R/W, U/S */
	for (i = 0; i < MEM_SIZE / 0x1000; i++) {
		pt32[i] = i * 0x1000 | 0x7;
		pt64[i] = i * 0x1000 | 0x7;
	}
	pdpt[0] = PD64 | 0x1;			/* PAE PDPTEs: P only (4.4.1) */
	pd64[0] = PT64 | 0x7;
	pml4[0] = PDPT64 | 0x7;
	pdpt64[0] = PD64 | 0x7;
}

static void fz_vm_close(struct fz_vm *v)
{
	if (v->run)
		hvlab_unmap_run(v->run, v->mmap_size);
	v->run = NULL;
	hvt_close(&v->vcpu_fd);
	hvt_close(&v->vm_fd);
	hvt_close(&v->sys_fd);
}

static int fz_vm_open(struct fz_vm *v)
{
	v->sys_fd = v->vm_fd = v->vcpu_fd = -1;
	v->run = NULL;
	v->vm_fd = hvt_open_vm(&v->sys_fd);
	if (v->vm_fd < 0)
		return v->vm_fd;
	if (hvt_set_region(v->vm_fd, 0, 0, 0, MEM_SIZE, (uintptr_t)v->mem))
		return -1;
	v->vcpu_fd = hvlab_create_vcpu(v->vm_fd, 0);
	if (v->vcpu_fd < 0)
		return v->vcpu_fd;
	v->mmap_size = hvlab_vcpu_mmap_size(v->sys_fd);
	return hvlab_map_run(v->vcpu_fd, v->mmap_size, &v->run);
}

/* A legal state of @mode that runs CODE. */
static void fz_base(struct fz_state *st, enum mode mode)
{
	struct hvlab_sregs *sr = &st->sr;
	bool big = mode != M_REAL && mode != M_PM16;
	/* 32-bit modes: flat 4 GiB, so G=1 (a byte limit above 1 MiB needs it). */
	uint32_t limit = big ? 0xffffffff : 0xffff;

	memset(st, 0, sizeof(*st));
	st->mode = mode;
	hvt_seg_set(&sr->cs, mode == M_REAL ? 0 : 0x08, 0, limit, 0xb, 1, big, 0, big);
	hvt_seg_set(&sr->ss, mode == M_REAL ? 0 : 0x10, 0, limit, 0x3, 1, big, 0, big);
	sr->ds = sr->es = sr->fs = sr->gs = sr->ss;
	hvt_seg_set(&sr->tr, 0x28, 0, 0x67, 0xb, 0, 0, 0, 0);
	hvt_seg_set(&sr->ldt, 0, 0, 0xffff, 0x2, 0, 0, 0, 0);
	sr->ldt.present = 0;
	sr->ldt.unusable = 1;
	sr->gdt.limit = 0xffff;
	sr->idt.limit = mode == M_REAL ? 0x3ff : 0x7ff;
	sr->cr0 = CR0_ET | CR0_NE | (mode == M_REAL ? 0 : CR0_PE);
	sr->apic_base = 0xfee00900;	/* enabled, BSP */
	switch (mode) {
	case M_PG32:
		sr->cr0 |= CR0_PG;
		sr->cr3 = PD32;
		break;
	case M_PAE:
		sr->cr0 |= CR0_PG;
		sr->cr4 = CR4_PAE;
		sr->cr3 = PDPT;
		break;
	case M_LONG64:
	case M_COMPAT:
		sr->cr0 |= CR0_PG;
		sr->cr4 = CR4_PAE;
		sr->cr3 = PML4;
		sr->efer = EFER_LME | EFER_LMA | EFER_SCE | EFER_NXE;
		if (mode == M_LONG64) {
			sr->cs.l = 1;
			sr->cs.db = 0;
		}
		break;
	default:
		break;
	}
	st->r.rip = CODE;
	st->r.rsp = 0xf000;
	st->r.rax = 0x5a;
	st->r.rflags = 2;
	snprintf(st->what, sizeof(st->what), "%s", mode_names[mode]);
}

static void fz_note(struct fz_state *st, const char *fmt, unsigned long long a, unsigned long long b)
{
	size_t n = strlen(st->what);

	if (n + 2 < sizeof(st->what)) {
		st->what[n++] = ' ';
		snprintf(st->what + n, sizeof(st->what) - n, fmt, a, b);
	}
}

static const uint64_t cr0_bits[] = {
	CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_ET, CR0_NE, CR0_WP, CR0_AM, CR0_NW, CR0_CD, CR0_PG,
};
/* VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT UMIP FSGSBASE PCIDE OSXSAVE SMEP SMAP PKE */
static const uint8_t cr4_bits[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 20, 21, 22 };
static const uint64_t efer_bits[] = { EFER_SCE, EFER_LME, EFER_LMA, EFER_NXE };
static const uint8_t rflags_bits[] = { 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21 };
static const uint32_t limits[] = { 0, 0xfff, 0xffff, 0xfffff, 0x67, 0xffffffff, 0x000fffff, 0x12345 };
static const uint64_t bases[] = {
	0, 0x1000, 0xffff0000, 0x100000000ull, 0x0000800000000000ull, 0xffff800000000000ull,
	0xfffff00000000000ull, 0x8000000000000000ull,
};
static const uint64_t tables[] = { PD32, PDPT, PML4, 0, 0xfff, PML4 | 0x18, PML4 | 0x123 };

static void fz_mutate_seg(uint64_t *rs, struct fz_state *st)
{
	static const char * const names[] = { "cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt" };
	struct hvlab_segment *segs[] = {
		&st->sr.cs, &st->sr.ds, &st->sr.es, &st->sr.fs, &st->sr.gs, &st->sr.ss,
		&st->sr.tr, &st->sr.ldt,
	};
	unsigned int i = fz_below(rs, 8), f = fz_below(rs, 11);
	struct hvlab_segment *s = segs[i];
	char fmt[48];

	switch (f) {
	case 0: s->type = fz_below(rs, 16); break;
	case 1: s->s ^= 1; break;
	case 2: s->dpl = fz_below(rs, 4); break;
	case 3: s->present ^= 1; s->unusable = !s->present; break;
	case 4: s->db ^= 1; break;
	case 5: s->l ^= 1; break;
	case 6: s->g ^= 1; break;
	case 7: s->unusable ^= 1; break;
	case 8: s->limit = limits[fz_below(rs, sizeof(limits) / sizeof(limits[0]))]; break;
	case 9: s->base = bases[fz_below(rs, sizeof(bases) / sizeof(bases[0]))]; break;
	default: s->selector = fz_next(rs); break;
	}
	snprintf(fmt, sizeof(fmt), "%s.%s=%%#llx%%.0llu", names[i],
		 (const char *[]){ "type", "s", "dpl", "p", "db", "l", "g", "unusable", "limit",
				   "base", "sel" }[f]);
	fz_note(st, fmt,
		f == 0 ? s->type : f == 1 ? s->s : f == 2 ? s->dpl : f == 3 ? s->present :
		f == 4 ? s->db : f == 5 ? s->l : f == 6 ? s->g : f == 7 ? s->unusable :
		f == 8 ? s->limit : f == 9 ? s->base : s->selector, 0);
}

/* Has an error code (SDM Vol. 3A Table 6-1): 8, 10-14, 17, 21. */
static bool fz_errcode(unsigned int v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21;
}

static void fz_make(uint64_t seed, uint64_t index, bool amd, struct fz_state *st)
{
	uint64_t rs = seed * 0x9e3779b97f4a7c15ull + index * 0xbf58476d1ce4e5b9ull + 1;
	unsigned int n, i;

	fz_next(&rs);
	fz_base(st, fz_below(&rs, M_NR));
	n = fz_below(&rs, 6);
	for (i = 0; i < n; i++) {
		unsigned int k = fz_below(&rs, 14), b;

		switch (k) {
		case 0: case 1:
			b = fz_below(&rs, sizeof(cr0_bits) / sizeof(cr0_bits[0]));
			st->sr.cr0 ^= cr0_bits[b];
			fz_note(st, "cr0=%#llx%.0llu", st->sr.cr0, 0);
			break;
		case 2: case 3:
			b = cr4_bits[fz_below(&rs, sizeof(cr4_bits))];
			st->sr.cr4 ^= 1ull << b;
			fz_note(st, "cr4=%#llx%.0llu", st->sr.cr4, 0);
			break;
		case 4:
			st->sr.efer ^= efer_bits[fz_below(&rs, 4)];
			fz_note(st, "efer=%#llx%.0llu", st->sr.efer, 0);
			break;
		case 5:
			st->sr.cr3 = tables[fz_below(&rs, sizeof(tables) / sizeof(tables[0]))];
			fz_note(st, "cr3=%#llx%.0llu", st->sr.cr3, 0);
			break;
		case 6: case 7: case 8:
			fz_mutate_seg(&rs, st);
			break;
		case 9:
			if (fz_below(&rs, 2)) {
				st->sr.gdt.base = bases[fz_below(&rs, sizeof(bases) / sizeof(bases[0]))];
				st->sr.gdt.limit = fz_next(&rs);
				fz_note(st, "gdt=%#llx/%#llx", st->sr.gdt.base, st->sr.gdt.limit);
			} else {
				st->sr.idt.base = bases[fz_below(&rs, sizeof(bases) / sizeof(bases[0]))];
				st->sr.idt.limit = fz_next(&rs);
				fz_note(st, "idt=%#llx/%#llx", st->sr.idt.base, st->sr.idt.limit);
			}
			break;
		case 10:
			b = rflags_bits[fz_below(&rs, sizeof(rflags_bits))];
			st->r.rflags ^= 1ull << b;
			fz_note(st, "rflags=%#llx%.0llu", st->r.rflags, 0);
			break;
		case 11:
			/* A consistent CPL: CS and SS DPL and RPL together. */
			b = fz_below(&rs, 4);
			st->sr.cs.dpl = st->sr.ss.dpl = b;
			st->sr.cs.selector = (st->sr.cs.selector & ~3) | b;
			st->sr.ss.selector = (st->sr.ss.selector & ~3) | b;
			st->sr.ds.dpl = st->sr.es.dpl = st->sr.fs.dpl = st->sr.gs.dpl = 3;
			fz_note(st, "cpl=%llu%.0llu", b, 0);
			break;
		case 12: {
			static const uint64_t rips[] = {
				CODE, 0x100000000ull | CODE, 0x0000800000001000ull,
				0xffffffffffff1000ull, 0xffff, 0xfff0,
			};
			st->r.rip = rips[fz_below(&rs, sizeof(rips) / sizeof(rips[0]))];
			fz_note(st, "rip=%#llx%.0llu", st->r.rip, 0);
			break;
		}
		default:
			st->inject = true;
			memset(&st->ev, 0, sizeof(st->ev));
			if (fz_below(&rs, 2)) {
				do
					b = fz_below(&rs, 32);
				while (b == 2);
				st->ev.type = HVLAB_EVENT_EXCEPTION;
				st->ev.vector = b;
				st->ev.has_error_code = fz_errcode(b);
				st->ev.error_code = fz_below(&rs, 2) ? 0 : fz_next(&rs) & 0xffff;
			} else {
				st->ev.type = HVLAB_EVENT_INTERRUPT;
				st->ev.vector = 32 + fz_below(&rs, 224);
				st->r.rflags |= RFLAGS_IF;
			}
			fz_note(st, "inject=%llu/%llu", st->ev.type, st->ev.vector);
			break;
		}
	}
	st->sr.cr8 = fz_below(&rs, 4) ? 0 : fz_below(&rs, 16);
	/*
	 * Bochs 2.7 with unrestricted guest refuses a real-mode CS selector
	 * whose RPL is not CS.DPL (0), which SDM Vol. 3C 27.3.1.2 allows:
	 * a Bochs deviation (reported for emulators.md), steered around.
	 */
	if (!amd && !(st->sr.cr0 & CR0_PE))
		st->sr.cs.selector &= ~3;
	/* emulators.md: QEMU 7.2 aborts delivering from CPL > 0 through a busy TSS. */
	if (amd && (st->sr.ss.dpl || (st->r.rflags & RFLAGS_VM))) {
		st->sr.tr.type = 9;
		st->sr.tr.present = 1;
		st->sr.tr.s = 0;
		st->sr.tr.unusable = 0;
	}
}

struct fz_stats {
	unsigned long tried, core_refused, inject_refused, named, unnamed, ran, interrupted;
	unsigned long exits[16];
	char rules[64][96];
	unsigned long rule_count[64];
	unsigned int nr_rules;
};

static void fz_count_rule(struct fz_stats *fs, const char *rule)
{
	unsigned int i;

	for (i = 0; i < fs->nr_rules; i++)
		if (!strncmp(fs->rules[i], rule, sizeof(fs->rules[i]))) {
			fs->rule_count[i]++;
			return;
		}
	if (fs->nr_rules < 64) {
		snprintf(fs->rules[fs->nr_rules], sizeof(fs->rules[0]), "%s", rule);
		fs->rule_count[fs->nr_rules++] = 1;
	}
}

/* RUN, bounded: a guest that never exits is stopped by SIGALRM (-EINTR). */
static int fz_run(struct fz_vm *v)
{
	struct itimerval it = { .it_value = { .tv_sec = 2 } }, off = { 0 };
	int ret;

	setitimer(ITIMER_REAL, &it, NULL);
	ret = hvlab_run(v->vcpu_fd);
	setitimer(ITIMER_REAL, &off, NULL);
	return ret;
}

TEST(state_fuzz)
{
	bool amd = hvt_cpu_vendor() == HVLAB_VENDOR_AMD, verbose;
	uint64_t seed, states, only, i, budget;
	struct timespec t0, now;
	struct fz_stats *fs;
	struct sigaction sa;
	struct fz_vm v;
	unsigned int j;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	memset(&v, 0, sizeof(v));
	v.mem = hvt_alloc_guest_mem(MEM_SIZE);
	ASSERT_NE(NULL, v.mem);
	memset(v.mem, 0xf4, MEM_SIZE);			/* hlt everywhere */
	memcpy(v.mem + CODE, "\xe6\x80\xf4", 3);	/* out %al,$0x80; hlt */
	fz_tables(v.mem);
	ASSERT_EQ(0, fz_vm_open(&v));
	if (hvt_cap(v.sys_fd, HVLAB_CAP_RUN) != 1) {
		fz_vm_close(&v);
		SKIP(return, "HVLAB_CAP_RUN is 0");
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fz_alarm;		/* no SA_RESTART: RUN returns -EINTR */
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));

	seed = env_u64("HVLAB_FUZZ_SEED", 0x14);
	states = env_u64("HVLAB_FUZZ_STATES", amd ? STATES_AMD : STATES_INTEL);
	only = env_u64("HVLAB_FUZZ_ONLY", ~0ull);
	verbose = env_u64("HVLAB_FUZZ_VERBOSE", 0);
	budget = env_u64("HVLAB_FUZZ_SECONDS", FUZZ_SECONDS);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fs = calloc(1, sizeof(*fs));
	ASSERT_NE(NULL, fs);
	ksft_print_msg("state_fuzz: seed %#llx, %llu states%s (HVLAB_FUZZ_SEED/STATES/ONLY)\n",
		       (unsigned long long)seed, (unsigned long long)states,
		       amd && fz_tcg() ? ", QEMU TCG" : "");

	for (i = 0; i < states; i++) {
		struct fz_state st;
		int ret, round;

		if (only != ~0ull && i != only)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((uint64_t)(now.tv_sec - t0.tv_sec) >= budget) {
			ksft_print_msg("state_fuzz: %llu s spent, stopping after %llu states\n",
				       (unsigned long long)budget, (unsigned long long)i);
			break;
		}
		fz_make(seed, i, amd, &st);
		fs->tried++;
		if (hvlab_set_sregs(v.vcpu_fd, &st.sr) || hvlab_set_regs(v.vcpu_fd, &st.r)) {
			fs->core_refused++;
			if (verbose)
				ksft_print_msg("%llu: %s: core refused\n", (unsigned long long)i, st.what);
			continue;
		}
		if (st.inject && hvlab_inject(v.vcpu_fd, &st.ev))
			fs->inject_refused++;
		/* Twice: the second entry runs on the state the first exit saved. */
		for (round = 0; round < 2; round++) {
			struct hvlab_run *run = v.run;

			ret = fz_run(&v);
			if (ret) {
				fs->interrupted++;
				ASSERT_EQ(-EINTR, ret) TH_LOG("state %llu (%s): RUN %d",
							    (unsigned long long)i, st.what, ret);
				goto fresh;
			}
			if (verbose)
				ksft_print_msg("%llu: %s: round %d exit %s%s%s\n", (unsigned long long)i,
					       st.what, round, hvlab_exit_name(run->exit_reason),
					       run->exit_reason == HVLAB_EXIT_FAIL_ENTRY ? ": " : "",
					       run->exit_reason == HVLAB_EXIT_FAIL_ENTRY ?
					       run->fail_entry.rule : "");
			if (run->exit_reason == HVLAB_EXIT_FAIL_ENTRY) {
				if (run->fail_entry.hardware_reason) {
					fs->unnamed++;
					ksft_print_msg("UNNAMED state %llu round %d (%s): hardware reason %#llx, qualification %#llx, after the fact: %.96s\n",
						       (unsigned long long)i, round, st.what,
						       (unsigned long long)run->fail_entry.hardware_reason,
						       (unsigned long long)run->fail_entry.qualification,
						       run->fail_entry.rule);
				} else {
					fs->named++;
					fz_count_rule(fs, run->fail_entry.rule);
					EXPECT_TRUE(!strncmp(run->fail_entry.rule, "APM ", 4) ||
						    !strncmp(run->fail_entry.rule, "SDM ", 4) ||
						    !strncmp(run->fail_entry.rule, "QEMU TCG: ", 10))
						TH_LOG("rule without a manual section: %.96s",
						       run->fail_entry.rule);
				}
				break;
			}
			if (round == 0)
				fs->ran++;
			fs->exits[run->exit_reason & 15]++;
			/* Only an OUT or a HLT leaves nothing to complete: else start afresh. */
			if (run->exit_reason == HVLAB_EXIT_HLT)
				continue;
			if (run->exit_reason == HVLAB_EXIT_IO && run->io.direction == HVLAB_IO_OUT)
				continue;
			goto fresh;
		}
		/*
		 * An event not delivered yet (a refused entry gives it back,
		 * an interrupt waits for IF=1) would go to the next state.
		 */
		if (!st.inject)
			continue;
fresh:
		fz_vm_close(&v);
		ASSERT_EQ(0, fz_vm_open(&v));
	}

	ksft_print_msg("state_fuzz: %lu states: %lu refused by SET_SREGS/SET_REGS, %lu ran, %lu refused by hvlab's checks (named), %lu refused by the CPU unnamed, %lu RUNs interrupted, %lu injections refused\n",
		       fs->tried, fs->core_refused, fs->ran, fs->named, fs->unnamed,
		       fs->interrupted, fs->inject_refused);
	for (j = 0; j < 16; j++)
		if (fs->exits[j])
			ksft_print_msg("  exit %-12s %lu\n", hvlab_exit_name(j), fs->exits[j]);
	for (j = 0; j < fs->nr_rules; j++)
		ksft_print_msg("  %5lu x %s\n", fs->rule_count[j], fs->rules[j]);
	EXPECT_EQ(0, fs->unnamed) TH_LOG("the CPU refused entries hvlab's checks did not name");
	EXPECT_LT(0, fs->ran);
	free(fs);
	fz_vm_close(&v);
}

/*
 * A 32-bit protected-mode guest, paging off, with EFER.LME=1 and CR4.PAE=0:
 * legal (APM Vol. 2 14.6, SDM Vol. 3A 10.8.5: LME may be set before
 * paging is enabled; LMA stays 0).  It must run to its OUT and HLT, as on
 * hardware, or, where the CPU is QEMU's TCG, whose #VMEXIT hangs in this
 * state (emulators.md; kvm-amd hangs there too), be refused by hvlab's
 * check with its "QEMU TCG:" rule and a kernel log line.  @guest_wrmsr:
 * the guest sets LME itself (WRMSR, emulated by hvlab) rather than
 * SET_SREGS.
 */
static void lme_no_pae(struct __test_metadata *_metadata, bool guest_wrmsr)
{
	/* mov $0xc0000080,%ecx; rdmsr; or $0x100,%eax; wrmsr; mov $0x42,%al; out %al,$0x80; hlt */
	static const uint8_t wrmsr_code[] = {
		0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x0f, 0x30,
		0xb0, 0x42, 0xe6, 0x80, 0xf4,
	};
	bool tcg = hvt_cpu_vendor() == HVLAB_VENDOR_AMD && fz_tcg();
	struct fz_state st;
	struct fz_vm v;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	memset(&v, 0, sizeof(v));
	v.mem = hvt_alloc_guest_mem(MEM_SIZE);
	ASSERT_NE(NULL, v.mem);
	memset(v.mem, 0xf4, MEM_SIZE);
	memcpy(v.mem + CODE, wrmsr_code + (guest_wrmsr ? 0 : 14),
	       sizeof(wrmsr_code) - (guest_wrmsr ? 0 : 14));
	ASSERT_EQ(0, fz_vm_open(&v));
	if (hvt_cap(v.sys_fd, HVLAB_CAP_RUN) != 1) {
		fz_vm_close(&v);
		SKIP(return, "HVLAB_CAP_RUN is 0");
	}
	fz_base(&st, M_PM32);
	st.sr.efer = guest_wrmsr ? 0 : EFER_LME;
	ASSERT_EQ(0, hvlab_set_sregs(v.vcpu_fd, &st.sr)) TH_LOG("LME=1 with paging off is legal");
	ASSERT_EQ(0, hvlab_set_regs(v.vcpu_fd, &st.r));
	ASSERT_EQ(0, hvlab_run(v.vcpu_fd));
	if (tcg) {
		ASSERT_EQ(HVLAB_EXIT_FAIL_ENTRY, v.run->exit_reason)
			TH_LOG("exit %s", hvlab_exit_name(v.run->exit_reason));
		EXPECT_EQ(0, v.run->fail_entry.hardware_reason);
		EXPECT_EQ(0, strncmp(v.run->fail_entry.rule, "QEMU TCG: EFER.LME=1 with CR0.PG=0", 34))
			TH_LOG("rule '%s'", v.run->fail_entry.rule);
		EXPECT_EQ(0x4d0, v.run->fail_entry.field);	/* VMCB EFER: APM appendix B */
		TH_LOG("QEMU TCG: refused: %s", v.run->fail_entry.rule);
	} else {
		ASSERT_EQ(HVLAB_EXIT_IO, v.run->exit_reason)
			TH_LOG("exit %s: %s", hvlab_exit_name(v.run->exit_reason),
			       v.run->exit_reason == HVLAB_EXIT_FAIL_ENTRY ? v.run->fail_entry.rule : "");
		EXPECT_EQ(FUZZ_PORT, v.run->io.port);
		EXPECT_EQ(0x42, *((uint8_t *)v.run + v.run->io.data_offset));
		ASSERT_EQ(0, hvlab_run(v.vcpu_fd));
		EXPECT_EQ(HVLAB_EXIT_HLT, v.run->exit_reason);
		ASSERT_EQ(0, hvlab_get_sregs(v.vcpu_fd, &st.sr));
		EXPECT_EQ(EFER_LME, st.sr.efer & (EFER_LME | EFER_LMA));
	}
	/* With CR4.PAE=1 the same state runs everywhere. */
	fz_base(&st, M_PM32);
	st.sr.efer = EFER_LME;
	st.sr.cr4 = CR4_PAE;
	memcpy(v.mem + CODE, wrmsr_code + 14, sizeof(wrmsr_code) - 14);
	ASSERT_EQ(0, hvlab_set_sregs(v.vcpu_fd, &st.sr));
	ASSERT_EQ(0, hvlab_set_regs(v.vcpu_fd, &st.r));
	ASSERT_EQ(0, hvlab_run(v.vcpu_fd));
	EXPECT_EQ(HVLAB_EXIT_IO, v.run->exit_reason)
		TH_LOG("exit %s: %s", hvlab_exit_name(v.run->exit_reason),
		       v.run->exit_reason == HVLAB_EXIT_FAIL_ENTRY ? v.run->fail_entry.rule : "");
	fz_vm_close(&v);
}

TEST(lme_no_pae_sregs)
{
	lme_no_pae(_metadata, false);
}

TEST(lme_no_pae_guest_wrmsr)
{
	lme_no_pae(_metadata, true);
}

/*
 * Userspace sets RFLAGS.TF while the guest sits in an STI shadow (an exit
 * on the instruction after STI that did not complete, RIP unchanged).
 * VMX refuses such an entry unless the pending debug exceptions' BS bit
 * says a single-step trap is due (SDM Vol. 3C 27.3.1.5); hvlab must set it
 * (vmx_shadow_step) and enter, not refuse.  The instruction: FNSTCW to a
 * guest address with no memory, which the MMIO decoder does not emulate,
 * so RUN returns an internal error with RIP still on it.  SVM has no such
 * rule; the same steps must enter there too.
 */
TEST(shadow_then_tf)
{
	/* sti; fnstcw 0x20000; hlt */
	static const uint8_t code[] = { 0xfb, 0xd9, 0x3d, 0x00, 0x00, 0x02, 0x00, 0xf4 };
	struct fz_state st;
	struct fz_vm v;

	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	memset(&v, 0, sizeof(v));
	v.mem = hvt_alloc_guest_mem(MEM_SIZE);
	ASSERT_NE(NULL, v.mem);
	memset(v.mem, 0xf4, MEM_SIZE);
	memcpy(v.mem + CODE, code, sizeof(code));
	ASSERT_EQ(0, fz_vm_open(&v));
	if (hvt_cap(v.sys_fd, HVLAB_CAP_RUN) != 1) {
		fz_vm_close(&v);
		SKIP(return, "HVLAB_CAP_RUN is 0");
	}
	fz_base(&st, M_PM32);
	ASSERT_EQ(0, hvlab_set_sregs(v.vcpu_fd, &st.sr));
	ASSERT_EQ(0, hvlab_set_regs(v.vcpu_fd, &st.r));
	ASSERT_EQ(0, hvlab_run(v.vcpu_fd));
	if (v.run->exit_reason != HVLAB_EXIT_INTERNAL) {
		fz_vm_close(&v);
		SKIP(return, "FNSTCW to no memory gave exit %s, not an internal error",
		     hvlab_exit_name(v.run->exit_reason));
	}
	ASSERT_EQ(0, hvlab_get_regs(v.vcpu_fd, &st.r));
	ASSERT_EQ(CODE + 1, st.r.rip);
	ASSERT_TRUE(st.r.rflags & RFLAGS_IF);
	st.r.rflags |= 1ull << 8;	/* TF */
	ASSERT_EQ(0, hvlab_set_regs(v.vcpu_fd, &st.r));
	ASSERT_EQ(0, hvlab_run(v.vcpu_fd));
	/*
	 * Entered: the instruction exits again (QEMU), or the single-step
	 * trap now due is delivered through the empty IDT and the guest
	 * shuts down (Bochs).  Never a refused entry.
	 */
	EXPECT_NE(HVLAB_EXIT_FAIL_ENTRY, v.run->exit_reason)
		TH_LOG("refused: %s", v.run->fail_entry.rule);
	TH_LOG("after TF in the shadow: exit %s", hvlab_exit_name(v.run->exit_reason));
	fz_vm_close(&v);
}

TEST_HARNESS_MAIN
