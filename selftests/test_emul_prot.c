// SPDX-License-Identifier: GPL-2.0
/*
 * test_emul_prot.c - what hvlab reads and writes for the guest (the RAM
 * side of an MMIO MOVS, INS/OUTS data, instruction bytes it decodes) obeys
 * the guest's own paging and segmentation, on both vendors:
 *
 *   movs_user_to_sup  CPL 3 REP MOVSB from MMIO into a supervisor page:
 *                     #PF, error code P|W|U, CR2 = the page; page unchanged,
 *                     and the device saw no read
 *   movs_ro_wp        into a read-only page: CPL 3 #PF P|W|U; CPL 0 with
 *                     CR0.WP = 1 #PF P|W; CPL 0 with WP = 0 the copy is done
 *   smap              CPL 0, CR4.SMAP, into a user page: #PF P|W with
 *                     EFLAGS.AC = 0, done with AC = 1
 *   insb_user_to_sup  CPL 3, IOPL 3, REP INSB into a supervisor page:
 *                     #PF P|W|U and no port access reaches the VMM
 *   ad_bits           an emulated write (INS) sets the PTE's accessed and
 *                     dirty bits, an emulated read (OUTS) only accessed
 *   rsvd_bit          CPL 0 REP MOVSB from MMIO into a large page whose
 *                     directory entry has a reserved bit set (bit 21 of a
 *                     4 MiB PDE, bit 13 of a 2 MiB PDE): #PF with error
 *                     code P|W|RSVD, CR2 = the page, and the device saw
 *                     no read (SDM Vol. 3A 4.3-4.5, 4.7; APM Vol. 2 5.3)
 *   fetch_cross       an MMIO load whose bytes run into a page the guest
 *                     just unmapped (its TLB may still hold it): #PF with
 *                     CR2 at that page and I/D where the CPU sets it
 *   seg_limit         32-bit mode, REP OUTSB across the DS limit: the
 *                     bytes inside go out, then #GP(0)
 *   base64            64-bit mode: a DS base is ignored, an FS base used
 *
 * Each of the first seven runs under 32-bit paging, PAE paging and 4-level
 * paging (the variants), with the test's own tables: 4 KiB pages for the
 * first 4 MiB, large pages above.  Rules: Intel SDM Vol. 3A 4.6 (access
 * rights), 4.7 (error code), 4.8 (accessed/dirty), 5.3-5.4 (limits,
 * types), 3.4.4 (64-bit segment bases); AMD APM Vol. 2 5.6, 8.4.2, 4.5.3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "kselftest_harness.h"
#include "guest.h"
#include "x86.h"

#define PF_P		0x1
#define PF_W		0x2
#define PF_U		0x4
#define PF_RSVD		0x8
#define PF_I		0x10
#define PF_PK		0x20
#define SS_VECTOR	12

/* The test's page tables and target pages, in RAM between the PC hole and the binary. */
#define PD32		0x200000ull	/* 32-bit paging: directory ... */
#define PT32		0x201000ull	/* ... and the table for 0-4 MiB */
#define PDPT_PAE	0x202000ull
#define PD64		0x203000ull	/* PAE and 4-level share the PD and PT */
#define PT64		0x204000ull	/* 4 KiB pages for 0-2 MiB */
#define PML4		0x205000ull
#define PDPT64		0x206000ull
#define SUP_PAGE	0x110000ull	/* supervisor, writable */
#define RO_PAGE		0x111000ull	/* user, read-only */
#define USER_PAGE	0x112000ull	/* user, writable */
#define AD_PAGE		0x113000ull	/* user, writable, A = D = 0 */
#define AD2_PAGE	0x114000ull	/* the same, read by OUTS */
#define PK_PAGE		0x115000ull	/* user, writable, protection key 1 */
#define STACK3		0x7800ull	/* CPL 3 stack, in the user page 0x7000 */

#define MMIO_USER	0xb0000ull	/* MMIO (the PC hole), user pages */
#define MMIO_SUP	0xb8000ull	/* MMIO, supervisor pages */
#define IO_PORT		0x80
#define FILL		0x5a

/* The device: MMIO byte g reads 0x80 | (g & 0x7f); IN byte i reads 0xc0 + i. */
static uint8_t mmio_byte(uint64_t gpa)
{
	return 0x80 | (gpa & 0x7f);
}

enum paging { PG32, PGPAE, PG64 };

static uint64_t page_flags(uint64_t gpa)
{
	switch (gpa) {
	case SUP_PAGE:
		return PTE_P | PTE_RW | PTE_A | PTE_D;
	case RO_PAGE:
		return PTE_P | PTE_US | PTE_A | PTE_D;
	case USER_PAGE:
		return PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D;
	case AD_PAGE:
	case AD2_PAGE:
		return PTE_P | PTE_RW | PTE_US;
	case PK_PAGE:	/* key in bits 62:59 (SDM Vol. 3A 4.5.4); 32-bit tables drop it */
		return PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | (1ull << 59);
	}
	/* CPL 3 code (raw code pages), stack, MMIO for CPL 3. */
	if ((gpa >= 0x7000 && gpa < 0x10000) || (gpa >= MMIO_USER && gpa < MMIO_SUP))
		return PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D;
	/* Everything else supervisor: the IDT, GDT, TSS, stubs stay SMAP-safe. */
	return PTE_P | PTE_RW | PTE_A | PTE_D;
}

/* Build all three formats' tables; identity mapping. */
static void build_tables(struct hvt_vm *vm)
{
	uint32_t *pd32 = hvt_gpa2hva(vm, PD32, 4096), *pt32 = hvt_gpa2hva(vm, PT32, 4096);
	uint64_t *pdpt = hvt_gpa2hva(vm, PDPT_PAE, 4096), *pd = hvt_gpa2hva(vm, PD64, 4096);
	uint64_t *pt = hvt_gpa2hva(vm, PT64, 4096), *pml4 = hvt_gpa2hva(vm, PML4, 4096);
	uint64_t *pdpt64 = hvt_gpa2hva(vm, PDPT64, 4096);
	unsigned int i;

	memset(pd32, 0, 4096);
	memset(pdpt, 0, 4096);
	memset(pml4, 0, 4096);
	memset(pdpt64, 0, 4096);
	for (i = 0; i < 1024; i++)
		pt32[i] = (uint32_t)(i * 4096ull | page_flags(i * 4096ull));
	pd32[0] = PT32 | PTE_P | PTE_RW | PTE_US | PTE_A;
	for (i = 1; i < 1024; i++)	/* 4 MiB pages, supervisor (CR4.PSE) */
		pd32[i] = (uint32_t)((uint64_t)i << 22) | PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D;
	for (i = 0; i < 512; i++)
		pt[i] = i * 4096ull | page_flags(i * 4096ull);
	pd[0] = PT64 | PTE_P | PTE_RW | PTE_US | PTE_A;
	for (i = 1; i < 512; i++)	/* 2 MiB pages, supervisor */
		pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D;
	pdpt[0] = PD64 | PTE_P;		/* PAE PDPTE: no R/W, U/S, A (SDM 4.4.1) */
	pdpt64[0] = PD64 | PTE_P | PTE_RW | PTE_US | PTE_A;
	pml4[0] = PDPT64 | PTE_P | PTE_RW | PTE_US | PTE_A;
}

/* Guest address of the PTE (its low 4 bytes) that maps @gpa (below 2 MiB). */
static uint64_t pte_addr(enum paging pg, uint64_t gpa)
{
	return pg == PG32 ? PT32 + (gpa >> 12) * 4 : PT64 + (gpa >> 12) * 8;
}

static uint64_t read_pte(struct hvt_vm *vm, enum paging pg, uint64_t gpa)
{
	void *p = hvt_gpa2hva(vm, pte_addr(pg, gpa), 8);

	return pg == PG32 ? *(uint32_t *)p : *(uint64_t *)p;
}

/* The string instructions, the same text for 32- and 64-bit code. */
#define MOVS_BODY(p)	"rep movsb\n" HVT_ASM_UCALL(UCALL_SYNC) "hlt\n"
#define INS_BODY(p)	"rep insb\n" HVT_ASM_UCALL(UCALL_SYNC) "hlt\n"
#define OUTS_BODY(p)	"rep outsb\n" HVT_ASM_UCALL(UCALL_SYNC) "hlt\n"
#define FSOUTS_BODY(p)	"fs rep outsb\n" HVT_ASM_UCALL(UCALL_SYNC) "hlt\n"
HVT_ASM_MODES(movs_code, MOVS_BODY);
HVT_ASM_MODES(ins_code, INS_BODY);
HVT_ASM_MODES(outs_code, OUTS_BODY);
HVT_ASM_MODES(fsouts_code, FSOUTS_BODY);

/* pkey: WRPKRU EBX (ECX = EDX = 0), then REP INSB as above. */
#define PKEY_BODY(p)	"mov %ebx, %eax\n" "push %rcx\n" "push %rdx\n" "xor %ecx, %ecx\n"	\
			"xor %edx, %edx\n" "wrpkru\n" "pop %rdx\n" "pop %rcx\n" INS_BODY(p)
HVT_ASM(pkey64, 64, PKEY_BODY(pkey64));

/*
 * fetch_cross: touch the PTE at ECX (a write), the byte at EDX and the
 * page at EBX, so that none of them takes a nested page fault later (an
 * exit, after which QEMU's TLB is empty), then clear the PTE's present
 * bit without INVLPG and jump to EDX: the CPU may still hold the
 * translation of EBX's page.
 */
HVT_ASM(fetch32, 32, "orl $0, (%ecx)\n" "mov (%edx), %al\n" "mov (%ebx), %al\n"
		     "andl $~1, (%ecx)\n" "jmp *%edx\n");
HVT_ASM(fetch64, 64, "orl $0, (%rcx)\n" "mov (%rdx), %al\n" "mov (%rbx), %al\n"
		     "andl $~1, (%rcx)\n" "jmp *%rdx\n");

static bool under_qemu_tcg(void)
{
	uint32_t a, sig[3];

	hvt_cpuid(0x40000000, 0, &a, &sig[0], &sig[1], &sig[2]);
	return !memcmp(sig, "TCGTCGTCGTCG", 12);
}

FIXTURE(prot) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_VARIANT(prot) {
	enum paging pg;
};
FIXTURE_VARIANT_ADD(prot, paging32) { .pg = PG32 };
FIXTURE_VARIANT_ADD(prot, pae) { .pg = PGPAE };
FIXTURE_VARIANT_ADD(prot, long64) { .pg = PG64 };

FIXTURE_SETUP(prot)
{
	HVT_SETUP_VM_VCPU(HVT_VM_PC_HOLE);
	ASSERT_GE(PD32, self->vm->next_page) TH_LOG("library tables reach the test's");
	build_tables(self->vm);
}

FIXTURE_TEARDOWN(prot)
{
	hvt_vm_free(self->vm);
}

/*
 * Enter @code (HVT_ASM_MODES) with the variant's paging, at @cpl (3:
 * IOPL 3 too, and the stack in a user page), with @cr0_wp, @cr4_extra
 * (e.g. SMAP), @rflags_extra, RSI/RDI/RCX/RDX as given.  Returns false
 * (and the test SKIPs) if SET_SREGS refuses @cr4_extra.
 */
struct entry {
	unsigned int cpl;
	bool wp;
	uint64_t cr4, rflags, rsi, rdi, rcx, rdx;
};

static bool enter(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu, enum paging pg,
		  const struct hvt_code *code3, const struct entry *e)
{
	enum hvt_mode mode = pg == PG64 ? HVT_MODE_LONG64 : HVT_MODE_PROT32_PAGING;
	struct hvt_vm *vm = vcpu->vm;
	struct hvlab_sregs sr;
	struct hvlab_regs r;
	int ret;

	ASSERT_EQ(0, hvt_vcpu_enter_raw(vcpu, mode, hvt_code_for(code3, mode)));
	ASSERT_EQ(0, hvlab_get_sregs(vcpu->fd, &sr));
	sr.cr0 = e->wp ? sr.cr0 | CR0_WP : sr.cr0 & ~CR0_WP;
	switch (pg) {
	case PG32:
		sr.cr3 = PD32;
		sr.cr4 = (sr.cr4 & ~CR4_PAE) | CR4_PSE;
		break;
	case PGPAE:
		sr.cr3 = PDPT_PAE;
		sr.cr4 |= CR4_PAE;
		sr.efer |= EFER_NXE;
		break;
	case PG64:
		sr.cr3 = PML4;
		sr.efer |= EFER_NXE;
		break;
	}
	sr.cr4 |= e->cr4;
	/* Exceptions from CPL 3 switch to the TSS's stack (SDM Vol. 3A 6.12.1). */
	if (pg == PG64)
		*(uint64_t *)(vm->mem + vm->tss + 4) = vcpu->stack_top;
	else {
		*(uint32_t *)(vm->mem + vm->tss + 4) = vcpu->stack_top;
		*(uint32_t *)(vm->mem + vm->tss + 8) = 0x10;
	}
	/* QEMU 7.2 aborts delivering through a busy TSS (shared/emulators.md). */
	if (under_qemu_tcg())
		sr.tr.type = 9;
	if (e->cpl == 3) {
		sr.cs.selector |= 3;
		sr.cs.dpl = 3;
		sr.ss.selector |= 3;
		sr.ss.dpl = 3;
		if (pg != PG64)
			sr.ds = sr.es = sr.fs = sr.gs = sr.ss;
	}
	ret = hvlab_set_sregs(vcpu->fd, &sr);
	if (ret && e->cr4) {
		SKIP(return false, "the guest cannot set CR4 %#llx here: %s",
		     (unsigned long long)e->cr4, strerror(-ret));
	}
	ASSERT_EQ(0, ret) TH_LOG("SET_SREGS: %s", strerror(-ret));
	ASSERT_EQ(0, hvlab_get_regs(vcpu->fd, &r));
	r.rflags |= e->rflags | (e->cpl == 3 ? RFLAGS_IOPL3 : 0);
	if (e->cpl == 3)
		r.rsp = STACK3;
	r.rsi = e->rsi;
	r.rdi = e->rdi;
	r.rcx = e->rcx;
	r.rdx = e->rdx;
	ASSERT_EQ(0, hvlab_set_regs(vcpu->fd, &r));
	return true;
}

/*
 * RUN until a ucall, answering MMIO reads and IN on IO_PORT as the device
 * does; OUT data on IO_PORT is appended to @out.  Counts the accesses.
 */
struct seen {
	unsigned int mmio_reads, mmio_writes, ins, outs;
	uint8_t out[64];
	unsigned int nout;
};

static int run_to_ucall(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu,
			struct ucall *uc, struct seen *s)
{
	struct hvlab_run *run = vcpu->run;
	char buf[512];
	int cmd, i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < 1000; i++) {
		ASSERT_EQ(0, hvt_vcpu_run(vcpu));
		cmd = hvt_get_ucall(vcpu, uc);
		if (cmd > 0)
			return cmd;
		if (run->exit_reason == HVLAB_EXIT_MMIO && !run->mmio.is_write) {
			unsigned int j;

			for (j = 0; j < run->mmio.len; j++)
				run->mmio.data[j] = mmio_byte(run->mmio.phys_addr + j);
			s->mmio_reads++;
			continue;
		}
		if (run->exit_reason == HVLAB_EXIT_MMIO) {
			s->mmio_writes++;
			continue;
		}
		if (run->exit_reason == HVLAB_EXIT_IO && run->io.port == IO_PORT) {
			uint8_t *d = (uint8_t *)run + run->io.data_offset;
			unsigned int j;

			for (j = 0; j < run->io.count * run->io.size; j++) {
				if (run->io.direction == HVLAB_IO_IN) {
					d[j] = 0xc0 + s->ins++;
				} else if (s->nout < sizeof(s->out)) {
					s->out[s->nout++] = d[j];
					s->outs++;
				}
			}
			continue;
		}
		ASSERT_TRUE(false) TH_LOG("unexpected exit: %s", hvt_exit_str(vcpu, buf, sizeof(buf)));
	}
	ASSERT_TRUE(false) TH_LOG("no ucall after 1000 exits");
	return -1;
}

/* The exit must be UCALL_EXCEPTION @vector/@err at @rip (and CR2 for #PF). */
#define EXPECT_FAULT(cmd, uc, vector, err, rip, cr2) do {				\
	char __b[512];									\
	ASSERT_EQ(UCALL_EXCEPTION, cmd) TH_LOG("expected %s, got %s",			\
		hvt_vector_name(vector), hvt_ucall_str(&(uc), __b, sizeof(__b)));	\
	EXPECT_EQ((uint64_t)(vector), (uc).args[0])					\
		TH_LOG("vector %s", hvt_vector_name((uc).args[0]));			\
	EXPECT_EQ((uint64_t)(err), (uc).args[1]) TH_LOG("error code %#llx",		\
		(unsigned long long)(uc).args[1]);					\
	EXPECT_EQ((uint64_t)(rip), (uc).args[2]) TH_LOG("at %#llx",			\
		(unsigned long long)(uc).args[2]);					\
	if ((vector) == PF_VECTOR)							\
		EXPECT_EQ((uint64_t)(cr2), (uc).args[3]) TH_LOG("CR2 %#llx",		\
			(unsigned long long)(uc).args[3]);				\
} while (0)

static bool page_is(struct hvt_vm *vm, uint64_t gpa, unsigned int n, uint8_t fill,
		    uint64_t mmio)
{
	uint8_t *p = hvt_gpa2hva(vm, gpa, n);
	unsigned int i;

	for (i = 0; i < n; i++)
		if (p[i] != (mmio ? mmio_byte(mmio + i) : fill))
			return false;
	return true;
}

/* REP MOVSB of 4 bytes from MMIO @src into @dst; returns the ucall. */
static int movs(struct __test_metadata *_metadata, FIXTURE_DATA(prot) *self, enum paging pg,
		struct entry *e, uint64_t src, uint64_t dst, struct ucall *uc, struct seen *s)
{
	memset(hvt_gpa2hva(self->vm, dst, 4096), FILL, 4096);
	e->rsi = src;
	e->rdi = dst;
	e->rcx = 4;
	if (!enter(_metadata, self->vcpu, pg, movs_code, e))
		return -1;
	return run_to_ucall(_metadata, self->vcpu, uc, s);
}

TEST_F(prot, movs_user_to_sup)
{
	struct entry e = { .cpl = 3, .wp = true };
	struct ucall uc;
	struct seen s;
	int cmd;

	HVT_SKIPPED_IN_SETUP();
	cmd = movs(_metadata, self, variant->pg, &e, MMIO_USER, SUP_PAGE, &uc, &s);
	if (_metadata->skip)
		return;
	EXPECT_FAULT(cmd, uc, PF_VECTOR, PF_P | PF_W | PF_U, HVT_RAW_CODE_GPA, SUP_PAGE);
	EXPECT_TRUE(page_is(self->vm, SUP_PAGE, 4096, FILL, 0)) TH_LOG("the supervisor page was written");
	EXPECT_EQ(0, s.mmio_reads) TH_LOG("the device saw %u reads for a MOVS that faults",
					  s.mmio_reads);
}

TEST_F(prot, movs_ro_wp)
{
	struct entry e3 = { .cpl = 3, .wp = true }, e0 = { .wp = true }, e0nowp = { .wp = false };
	struct ucall uc;
	struct seen s;
	int cmd;

	HVT_SKIPPED_IN_SETUP();
	cmd = movs(_metadata, self, variant->pg, &e3, MMIO_USER, RO_PAGE, &uc, &s);
	EXPECT_FAULT(cmd, uc, PF_VECTOR, PF_P | PF_W | PF_U, HVT_RAW_CODE_GPA, RO_PAGE);
	EXPECT_TRUE(page_is(self->vm, RO_PAGE, 4096, FILL, 0)) TH_LOG("CPL 3 wrote a read-only page");

	cmd = movs(_metadata, self, variant->pg, &e0, MMIO_SUP, RO_PAGE, &uc, &s);
	EXPECT_FAULT(cmd, uc, PF_VECTOR, PF_P | PF_W, HVT_RAW_CODE_GPA, RO_PAGE);
	EXPECT_TRUE(page_is(self->vm, RO_PAGE, 4096, FILL, 0)) TH_LOG("CPL 0 with WP wrote a read-only page");

	cmd = movs(_metadata, self, variant->pg, &e0nowp, MMIO_SUP, RO_PAGE, &uc, &s);
	ASSERT_EQ(UCALL_SYNC, cmd) TH_LOG("CPL 0 without WP: vector %llu err %#llx",
					  (unsigned long long)uc.args[0], (unsigned long long)uc.args[1]);
	EXPECT_EQ(4, s.mmio_reads);
	EXPECT_TRUE(page_is(self->vm, RO_PAGE, 4, 0, MMIO_SUP)) TH_LOG("the copy did not land");
}

TEST_F(prot, smap)
{
	struct entry e = { .wp = true, .cr4 = CR4_SMAP };
	struct entry eac = { .wp = true, .cr4 = CR4_SMAP, .rflags = RFLAGS_AC };
	struct ucall uc;
	struct seen s;
	int cmd;

	HVT_SKIPPED_IN_SETUP();
	cmd = movs(_metadata, self, variant->pg, &e, MMIO_SUP, USER_PAGE, &uc, &s);
	if (_metadata->skip)
		return;
	EXPECT_FAULT(cmd, uc, PF_VECTOR, PF_P | PF_W, HVT_RAW_CODE_GPA, USER_PAGE);
	EXPECT_TRUE(page_is(self->vm, USER_PAGE, 4096, FILL, 0)) TH_LOG("SMAP: the user page was written");

	cmd = movs(_metadata, self, variant->pg, &eac, MMIO_SUP, USER_PAGE, &uc, &s);
	ASSERT_EQ(UCALL_SYNC, cmd) TH_LOG("SMAP with AC: vector %llu err %#llx",
					  (unsigned long long)uc.args[0], (unsigned long long)uc.args[1]);
	EXPECT_TRUE(page_is(self->vm, USER_PAGE, 4, 0, MMIO_SUP)) TH_LOG("the copy did not land");
}

TEST_F(prot, insb_user_to_sup)
{
	struct entry e = { .cpl = 3, .wp = true, .rdi = SUP_PAGE, .rcx = 4, .rdx = IO_PORT };
	struct ucall uc;
	struct seen s;
	int cmd;

	HVT_SKIPPED_IN_SETUP();
	memset(hvt_gpa2hva(self->vm, SUP_PAGE, 4096), FILL, 4096);
	ASSERT_TRUE(enter(_metadata, self->vcpu, variant->pg, ins_code, &e));
	cmd = run_to_ucall(_metadata, self->vcpu, &uc, &s);
	EXPECT_FAULT(cmd, uc, PF_VECTOR, PF_P | PF_W | PF_U, HVT_RAW_CODE_GPA, SUP_PAGE);
	EXPECT_EQ(0, s.ins) TH_LOG("the VMM was asked for %u bytes of a faulting INS", s.ins);
	EXPECT_TRUE(page_is(self->vm, SUP_PAGE, 4096, FILL, 0)) TH_LOG("the supervisor page was written");
}

TEST_F(prot, ad_bits)
{
	struct entry in = { .cpl = 3, .wp = true, .rdi = AD_PAGE, .rcx = 4, .rdx = IO_PORT };
	struct entry out = { .cpl = 3, .wp = true, .rsi = AD2_PAGE, .rcx = 4, .rdx = IO_PORT };
	enum paging pg = variant->pg;
	struct ucall uc;
	struct seen s;
	int cmd;

	HVT_SKIPPED_IN_SETUP();
	EXPECT_EQ(0, read_pte(self->vm, pg, AD_PAGE) & (PTE_A | PTE_D));
	ASSERT_TRUE(enter(_metadata, self->vcpu, pg, ins_code, &in));
	cmd = run_to_ucall(_metadata, self->vcpu, &uc, &s);
	ASSERT_EQ(UCALL_SYNC, cmd);
	EXPECT_EQ(4, s.ins);
	EXPECT_EQ(PTE_A | PTE_D, read_pte(self->vm, pg, AD_PAGE) & (PTE_A | PTE_D))
		TH_LOG("INS destination PTE %#llx", (unsigned long long)read_pte(self->vm, pg, AD_PAGE));

	ASSERT_TRUE(enter(_metadata, self->vcpu, pg, outs_code, &out));
	cmd = run_to_ucall(_metadata, self->vcpu, &uc, &s);
	ASSERT_EQ(UCALL_SYNC, cmd);
	EXPECT_EQ(4, s.outs);
	EXPECT_EQ(PTE_A, read_pte(self->vm, pg, AD2_PAGE) & (PTE_A | PTE_D))
		TH_LOG("OUTS source PTE %#llx", (unsigned long long)read_pte(self->vm, pg, AD2_PAGE));
}

/*
 * Protection keys (4-level paging only, SDM Vol. 3A 4.6.2): PKRU.WD of
 * key 1 refuses a CPL 3 INS into a page with key 1: P|W|U|PK.  Skips
 * where the guest cannot set CR4.PKE (module/cr4.c: CPUID PKU and a host
 * that uses PKRU), which is so on both emulated PCs as of 2026-12-06.
 */
TEST_F(prot, pkey)
{
	static const struct hvt_code pk = { pkey64, pkey64_end };
	struct hvt_code modes[3] = { pk, pk, pk };
	struct entry e = { .cpl = 3, .wp = true, .cr4 = CR4_PKE, .rdi = PK_PAGE, .rcx = 4,
			   .rdx = IO_PORT };
	struct hvlab_regs r;
	struct ucall uc;
	struct seen s;
	int cmd;

	HVT_SKIPPED_IN_SETUP();
	if (variant->pg != PG64)
		SKIP(return, "protection keys exist only with 4-level paging");
	memset(hvt_gpa2hva(self->vm, PK_PAGE, 4096), FILL, 4096);
	if (!enter(_metadata, self->vcpu, variant->pg, modes, &e))
		return;
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &r));
	r.rbx = 2u << 2;	/* PKRU.WD1 (bit 2 * key + 1) */
	ASSERT_EQ(0, hvlab_set_regs(self->vcpu->fd, &r));
	cmd = run_to_ucall(_metadata, self->vcpu, &uc, &s);
	EXPECT_FAULT(cmd, uc, PF_VECTOR, PF_P | PF_W | PF_U | PF_PK,
		     HVT_RAW_CODE_GPA + (pkey64_end - pkey64) - 7, PK_PAGE);	/* rep insb; ucall; hlt */
	EXPECT_EQ(0, s.ins);
	EXPECT_TRUE(page_is(self->vm, PK_PAGE, 4096, FILL, 0)) TH_LOG("the key's page was written");
}

/*
 * An MMIO load that starts on the last byte of page 0x9000 and runs into
 * 0xa000, whose PTE the guest cleared right before (without INVLPG).  A
 * CPU that still holds the translation runs the load and exits; hvlab
 * then fetches the bytes through the guest's tables and must raise the
 * #PF the CPU would (CR2 = 0xa000, I/D with NXE).  A CPU that walks
 * again raises it itself: the same exception either way.
 */
/*
 * The large page at 60 MiB (a 4 MiB PDE in 32-bit paging, a 2 MiB one in
 * PAE and 4-level paging, both supervisor and writable) with a bit set
 * that the format reserves (Table 4-4: bit 21; Tables 4-10/4-17: bits
 * 20:13): hvlab's walk for the MOVS destination must stop there with
 * RSVD as the CPU's would.  No RAM needs to be behind that page: the
 * walk never gets that far, and if it did the write would show up as an
 * MMIO write.  The CPU does not translate the destination itself: the
 * MMIO read comes first and exits.
 */
#define RSVD_LARGE	0x3c00000ull	/* 60 MiB: far above this binary (0x400000 on) */

TEST_F(prot, rsvd_bit)
{
	struct entry e = { .wp = true };
	struct ucall uc;
	struct seen s;
	int cmd;

	HVT_SKIPPED_IN_SETUP();
	if (variant->pg == PG32)
		((uint32_t *)hvt_gpa2hva(self->vm, PD32, 4096))[RSVD_LARGE >> 22] |= 1u << 21;
	else
		((uint64_t *)hvt_gpa2hva(self->vm, PD64, 4096))[RSVD_LARGE >> 21] |= 1ull << 13;
	e.rsi = MMIO_SUP;
	e.rdi = RSVD_LARGE;
	e.rcx = 4;
	if (!enter(_metadata, self->vcpu, variant->pg, movs_code, &e))
		return;
	cmd = run_to_ucall(_metadata, self->vcpu, &uc, &s);
	EXPECT_FAULT(cmd, uc, PF_VECTOR, PF_P | PF_W | PF_RSVD, HVT_RAW_CODE_GPA, RSVD_LARGE);
	EXPECT_EQ(0, s.mmio_reads) TH_LOG("the device saw %u reads for a MOVS that faults",
					  s.mmio_reads);
	EXPECT_EQ(0, s.mmio_writes) TH_LOG("%u writes went through the reserved entry",
					   s.mmio_writes);
}

TEST_F(prot, fetch_cross)
{
	static const uint8_t load32[] = { 0xa1, 0x00, 0x80, 0x0b, 0x00 };	/* mov 0xb8000, %eax */
	static const uint8_t load64[] = { 0x8b, 0x04, 0x25, 0x00, 0x80, 0x0b, 0x00 };
	static const uint8_t tail[] = { 0xb0, UCALL_SYNC, 0xe6, UCALL_PORT, 0xf4 };
	static const struct hvt_code f32 = { fetch32, fetch32_end }, f64 = { fetch64, fetch64_end };
	enum paging pg = variant->pg;
	const uint8_t *load = pg == PG64 ? load64 : load32;
	size_t len = pg == PG64 ? sizeof(load64) : sizeof(load32);
	const struct hvt_code *fc = pg == PG64 ? &f64 : &f32;
	struct hvt_code modes[3] = { *fc, *fc, *fc };
	struct entry e = { .wp = true };
	struct hvlab_exit_stats st;
	uint8_t *at = hvt_gpa2hva(self->vm, 0x9fff, 16);
	struct ucall uc;
	struct seen s;
	int cmd;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_TRUE(enter(_metadata, self->vcpu, pg, modes, &e));
	memcpy(at, load, len);
	memcpy(at + len, tail, sizeof(tail));
	{
		struct hvlab_regs r;

		ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &r));
		r.rbx = 0xa000;
		r.rcx = pte_addr(pg, 0xa000);
		r.rdx = 0x9fff;
		ASSERT_EQ(0, hvlab_set_regs(self->vcpu->fd, &r));
	}
	cmd = run_to_ucall(_metadata, self->vcpu, &uc, &s);
	EXPECT_FAULT(cmd, uc, PF_VECTOR, pg == PG32 ? 0 : PF_I, 0x9fff, 0xa000);
	EXPECT_EQ(0, s.mmio_reads);
	if (!hvlab_get_exit_stats(self->vcpu->fd, &st))
		TH_LOG("%s raised it (%llu MMIO exits)",
		       st.count[HVLAB_STAT_MMIO] ? "hvlab" : "the CPU",
		       (unsigned long long)st.count[HVLAB_STAT_MMIO]);
}

/* ---------------------------------------------------------------------------
 * Segments: 32-bit limits, 64-bit bases
 */

FIXTURE(seg) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_SETUP(seg)
{
	HVT_SETUP_VM_VCPU(0);
}

FIXTURE_TEARDOWN(seg)
{
	hvt_vm_free(self->vm);
}

/* DS limit 0x7001: of four bytes from 0x7000, two go out, the third is #GP(0). */
TEST_F(seg, seg_limit32)
{
	uint8_t *src = hvt_gpa2hva(self->vm, HVT_RAW_DATA_GPA, 16);
	struct hvlab_sregs sr;
	struct hvlab_regs r;
	struct ucall uc;
	struct seen s;
	int cmd;

	HVT_SKIPPED_IN_SETUP();
	memcpy(src, "\x11\x22\x33\x44", 4);
	ASSERT_EQ(0, hvt_vcpu_enter_raw(self->vcpu, HVT_MODE_PROT32,
					hvt_code_for(outs_code, HVT_MODE_PROT32)));
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	sr.ds.limit = HVT_RAW_DATA_GPA + 1;
	sr.ds.g = 0;
	ASSERT_EQ(0, hvlab_set_sregs(self->vcpu->fd, &sr));
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &r));
	r.rsi = HVT_RAW_DATA_GPA;
	r.rcx = 4;
	r.rdx = IO_PORT;
	ASSERT_EQ(0, hvlab_set_regs(self->vcpu->fd, &r));
	cmd = run_to_ucall(_metadata, self->vcpu, &uc, &s);
	EXPECT_FAULT(cmd, uc, GP_VECTOR, 0, HVT_RAW_CODE_GPA, 0);
	ASSERT_EQ(2, s.outs) TH_LOG("%u bytes went out, not the 2 inside the limit", s.outs);
	EXPECT_EQ(0x11, s.out[0]);
	EXPECT_EQ(0x22, s.out[1]);
}

/* 64-bit mode: DS.base 1 MiB is ignored (SDM Vol. 3A 3.4.4); FS.base counts. */
TEST_F(seg, base64)
{
	uint8_t *src = hvt_gpa2hva(self->vm, HVT_RAW_DATA_GPA, 16);
	struct hvlab_sregs sr;
	struct hvlab_regs r;
	struct ucall uc;
	struct seen s;
	int cmd, fs;

	HVT_SKIPPED_IN_SETUP();
	memcpy(src, "\x11\x22\x33\x44", 4);
	for (fs = 0; fs < 2; fs++) {
		const struct hvt_code *c = hvt_code_for(fs ? fsouts_code : outs_code, HVT_MODE_LONG64);

		ASSERT_EQ(0, hvt_vcpu_enter_raw(self->vcpu, HVT_MODE_LONG64, c));
		ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
		sr.ds.base = 0x100000;
		sr.fs.base = HVT_RAW_DATA_GPA - 0x100;
		ASSERT_EQ(0, hvlab_set_sregs(self->vcpu->fd, &sr));
		ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &r));
		r.rsi = fs ? 0x100 : HVT_RAW_DATA_GPA;
		r.rcx = 4;
		r.rdx = IO_PORT;
		ASSERT_EQ(0, hvlab_set_regs(self->vcpu->fd, &r));
		cmd = run_to_ucall(_metadata, self->vcpu, &uc, &s);
		ASSERT_EQ(UCALL_SYNC, cmd);
		ASSERT_EQ(4, s.outs);
		EXPECT_EQ(0, memcmp(s.out, "\x11\x22\x33\x44", 4))
			TH_LOG("%s: read %02x %02x %02x %02x", fs ? "FS" : "DS",
			       s.out[0], s.out[1], s.out[2], s.out[3]);
	}
}

TEST_HARNESS_MAIN
