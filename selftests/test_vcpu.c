// SPDX-License-Identifier: GPL-2.0
/*
 * test_vcpu.c - vCPU creation, the architectural reset state, register
 * round-trips, every register value HVLAB_SET_REGS/SET_SREGS must refuse,
 * the run page mmap, and HVLAB_RUN's argument.
 *
 * Reset state: Intel SDM Vol. 3A 10.1.1, Table 10-1 "IA-32 and Intel 64
 * Processor States Following Power-up, Reset, or INIT"; AMD APM Vol. 2
 * 14.1.3 gives the same values.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hvtest.h"
#include "x86.h"

#define APIC_BSP	(1ull << 8)
#define APIC_EN		(1ull << 11)

FIXTURE(vcpu) {
	int sys_fd, vm_fd, vcpu_fd;
	unsigned int max_vcpus, gpa_bits;
	int mmap_size;
};

FIXTURE_SETUP(vcpu)
{
	int ret;

	self->sys_fd = self->vm_fd = self->vcpu_fd = -1;
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	self->vm_fd = hvt_open_vm(&self->sys_fd);
	ASSERT_LE(0, self->vm_fd) TH_LOG("open VM: %s", strerror(-self->vm_fd));
	ret = hvt_cap(self->sys_fd, HVLAB_CAP_MAX_VCPUS);
	ASSERT_LT(1, ret);
	self->max_vcpus = ret;
	ret = hvt_cap(self->sys_fd, HVLAB_CAP_MAX_GPA_BITS);
	ASSERT_LE(36, ret);
	self->gpa_bits = ret;
	self->mmap_size = hvlab_vcpu_mmap_size(self->sys_fd);
	ASSERT_EQ(4096, self->mmap_size);
	self->vcpu_fd = hvlab_create_vcpu(self->vm_fd, 0);
	ASSERT_LE(0, self->vcpu_fd) TH_LOG("CREATE_VCPU 0: %s", strerror(-self->vcpu_fd));
}

FIXTURE_TEARDOWN(vcpu)
{
	hvt_close(&self->vcpu_fd);
	hvt_close(&self->vm_fd);
	hvt_close(&self->sys_fd);
}

/* --- comparing register files, field by field so a failure names it ---- */

static void expect_seg_eq(struct __test_metadata *_metadata, const char *name,
			  const struct hvlab_segment *want,
			  const struct hvlab_segment *got)
{
#define F(f) EXPECT_EQ(want->f, got->f) TH_LOG("%s." #f, name)
	F(base); F(limit); F(selector); F(type); F(present); F(dpl);
	F(db); F(s); F(l); F(g); F(avl); F(unusable); F(padding);
#undef F
}

static void expect_sregs_eq(struct __test_metadata *_metadata,
			    const struct hvlab_sregs *want,
			    const struct hvlab_sregs *got)
{
#define SEG(r) expect_seg_eq(_metadata, #r, &want->r, &got->r)
#define F(f) EXPECT_EQ(want->f, got->f) TH_LOG(#f)
	SEG(cs); SEG(ds); SEG(es); SEG(fs); SEG(gs); SEG(ss); SEG(tr); SEG(ldt);
	F(gdt.base); F(gdt.limit); F(idt.base); F(idt.limit);
	F(cr0); F(cr2); F(cr3); F(cr4); F(cr8); F(efer); F(apic_base);
#undef F
#undef SEG
	/* Anything not covered above: padding and reserved read back as 0. */
	EXPECT_EQ(0, memcmp(want, got, sizeof(*want))) TH_LOG("padding/reserved differ");
}

static void expect_regs_eq(struct __test_metadata *_metadata,
			   const struct hvlab_regs *want,
			   const struct hvlab_regs *got)
{
#define F(f) EXPECT_EQ(want->f, got->f) TH_LOG(#f)
	F(rax); F(rbx); F(rcx); F(rdx); F(rsi); F(rdi); F(rsp); F(rbp);
	F(r8); F(r9); F(r10); F(r11); F(r12); F(r13); F(r14); F(r15);
	F(rip); F(rflags);
#undef F
}

/* --- creation ------------------------------------------------------------ */

TEST_F(vcpu, create_all_ids)
{
	unsigned int id;
	int fd;

	for (id = 1; id < self->max_vcpus; id++) {
		fd = hvlab_create_vcpu(self->vm_fd, id);
		ASSERT_LE(0, fd) TH_LOG("vCPU %u of %u: %s", id, self->max_vcpus,
					strerror(-fd));
	}
}

TEST_F(vcpu, create_id_eq_max_einval)
{
	ASSERT_EQ(-EINVAL, hvlab_create_vcpu(self->vm_fd, self->max_vcpus));
	/* The refusal used nothing up: the highest valid id still works. */
	ASSERT_LE(0, hvlab_create_vcpu(self->vm_fd, self->max_vcpus - 1));
}

/* Ids are unsigned long: 1 << 32 must not be truncated into id 0. */
TEST_F(vcpu, create_id_huge_einval)
{
	EXPECT_EQ(-EINVAL, hvlab_create_vcpu(self->vm_fd, 1ul << 32));
	EXPECT_EQ(-EINVAL, hvlab_create_vcpu(self->vm_fd, (1ul << 32) + 1));
	EXPECT_EQ(-EINVAL, hvlab_create_vcpu(self->vm_fd, ~0ul));
	EXPECT_EQ(-EINVAL, hvlab_create_vcpu(self->vm_fd, 0x80000000ul));
}

TEST_F(vcpu, create_duplicate_eexist)
{
	ASSERT_EQ(-EEXIST, hvlab_create_vcpu(self->vm_fd, 0));
	ASSERT_LE(0, hvlab_create_vcpu(self->vm_fd, 1));
	ASSERT_EQ(-EEXIST, hvlab_create_vcpu(self->vm_fd, 1));
	/* Ids are per VM. */
	{
		int vm2 = hvlab_create_vm(self->sys_fd, 0);

		ASSERT_LE(0, vm2);
		ASSERT_LE(0, hvlab_create_vcpu(vm2, 0));
		close(vm2);
	}
}

/* --- reset state ----------------------------------------------------------- */

static void check_reset(struct __test_metadata *_metadata, int fd, unsigned int id)
{
	struct hvlab_regs regs;
	struct hvlab_sregs sregs;
	const struct { const char *name; const struct hvlab_segment *s; } data[] = {
		{ "ds", &sregs.ds }, { "es", &sregs.es }, { "fs", &sregs.fs },
		{ "gs", &sregs.gs }, { "ss", &sregs.ss },
	};
	unsigned int i;

	memset(&regs, 0xa5, sizeof(regs));
	memset(&sregs, 0xa5, sizeof(sregs));
	ASSERT_EQ(0, hvlab_get_regs(fd, &regs));
	ASSERT_EQ(0, hvlab_get_sregs(fd, &sregs));

	EXPECT_EQ(0xfff0ull, regs.rip);
	EXPECT_EQ(0x2ull, regs.rflags);
	EXPECT_NE(0ull, regs.rdx) TH_LOG("rdx: processor signature");
	TH_LOG("vCPU %u rdx %#llx (host CPUID.1:EAX %#x)", id,
	       (unsigned long long)regs.rdx, hvt_cpu_signature());
#define Z(f) EXPECT_EQ(0ull, regs.f) TH_LOG(#f)
	Z(rax); Z(rbx); Z(rcx); Z(rsi); Z(rdi); Z(rsp); Z(rbp);
	Z(r8); Z(r9); Z(r10); Z(r11); Z(r12); Z(r13); Z(r14); Z(r15);
#undef Z

	EXPECT_EQ(0xf000, sregs.cs.selector);
	EXPECT_EQ(0xffff0000ull, sregs.cs.base);
	EXPECT_EQ(0xffffu, sregs.cs.limit);
	for (i = 0; i < ARRAY_SIZE(data); i++) {
		EXPECT_EQ(0, data[i].s->selector) TH_LOG("%s", data[i].name);
		EXPECT_EQ(0ull, data[i].s->base) TH_LOG("%s", data[i].name);
		EXPECT_EQ(0xffffu, data[i].s->limit) TH_LOG("%s", data[i].name);
	}
	EXPECT_EQ(0x60000010ull, sregs.cr0);
	EXPECT_EQ(0ull, sregs.cr2);
	EXPECT_EQ(0ull, sregs.cr3);
	EXPECT_EQ(0ull, sregs.cr4);
	EXPECT_EQ(0ull, sregs.efer);
	EXPECT_EQ(0ull, sregs.gdt.base);
	EXPECT_EQ(0xffff, sregs.gdt.limit);
	EXPECT_EQ(0ull, sregs.idt.base);
	EXPECT_EQ(0xffff, sregs.idt.limit);
	/* vCPU 0 is the bootstrap processor (IA32_APIC_BASE bit 8). */
	EXPECT_EQ(id == 0 ? 0xfee00900ull : 0xfee00800ull, sregs.apic_base);
	/* Padding and reserved fields read back as zero. */
	for (i = 0; i < ARRAY_SIZE(sregs.reserved); i++) {
		EXPECT_EQ(0ull, sregs.reserved[i]) TH_LOG("reserved[%u]", i);
	}
	EXPECT_EQ(0, sregs.cs.padding);
	EXPECT_EQ(0, sregs.gdt.padding[0] | sregs.gdt.padding[1] | sregs.gdt.padding[2]);
}

TEST_F(vcpu, reset_state_bsp)
{
	check_reset(_metadata, self->vcpu_fd, 0);
}

TEST_F(vcpu, reset_state_ap)
{
	int fd = hvlab_create_vcpu(self->vm_fd, self->max_vcpus - 1);

	ASSERT_LE(0, fd);
	check_reset(_metadata, fd, self->max_vcpus - 1);
	close(fd);
}

/* vCPUs are independent: writing one leaves the other at reset. */
TEST_F(vcpu, state_is_per_vcpu)
{
	struct hvlab_regs regs;
	int fd;

	ASSERT_EQ(0, hvlab_get_regs(self->vcpu_fd, &regs));
	regs.rip = 0x1234;
	regs.rax = 42;
	ASSERT_EQ(0, hvlab_set_regs(self->vcpu_fd, &regs));
	fd = hvlab_create_vcpu(self->vm_fd, 1);
	ASSERT_LE(0, fd);
	check_reset(_metadata, fd, 1);
	close(fd);
}

/* --- general-purpose registers -------------------------------------------- */

/* RFLAGS bits a guest can hold: all but 1 (always 1), 3, 5, 15, 22-63. */
#define RFLAGS_FIXED1	0x2ull
#define RFLAGS_VALID	0x3f7fd7ull

TEST_F(vcpu, regs_roundtrip)
{
	struct hvlab_regs set, got;
	uint64_t *p = (uint64_t *)&set;
	unsigned int i;

	for (i = 0; i < sizeof(set) / sizeof(*p); i++)
		p[i] = 0x0101010101010101ull * (i + 1) ^ (1ull << (63 - i));
	set.rip = 0xffffffff81000000ull;
	set.rflags = RFLAGS_VALID;
	ASSERT_EQ(0, hvlab_set_regs(self->vcpu_fd, &set));
	memset(&got, 0, sizeof(got));
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu_fd, &got));
	expect_regs_eq(_metadata, &set, &got);

	/* And the minimal RFLAGS, all other registers 0. */
	memset(&set, 0, sizeof(set));
	set.rflags = RFLAGS_FIXED1;
	ASSERT_EQ(0, hvlab_set_regs(self->vcpu_fd, &set));
	memset(&got, 0xff, sizeof(got));
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu_fd, &got));
	expect_regs_eq(_metadata, &set, &got);
}

FIXTURE(rflags) {
	int sys_fd, vm_fd, vcpu_fd;
};

FIXTURE_VARIANT(rflags) {
	uint64_t rflags;
};

FIXTURE_VARIANT_ADD(rflags, bit1_clear)	{ .rflags = 0x0 };
FIXTURE_VARIANT_ADD(rflags, bit3)	{ .rflags = 0x2 | 1ull << 3 };
FIXTURE_VARIANT_ADD(rflags, bit5)	{ .rflags = 0x2 | 1ull << 5 };
FIXTURE_VARIANT_ADD(rflags, bit15)	{ .rflags = 0x2 | 1ull << 15 };
FIXTURE_VARIANT_ADD(rflags, bit22)	{ .rflags = 0x2 | 1ull << 22 };
FIXTURE_VARIANT_ADD(rflags, bit32)	{ .rflags = 0x2 | 1ull << 32 };
FIXTURE_VARIANT_ADD(rflags, bit63)	{ .rflags = 0x2 | 1ull << 63 };

FIXTURE_SETUP(rflags)
{
	self->sys_fd = self->vm_fd = self->vcpu_fd = -1;
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	self->vm_fd = hvt_open_vm(&self->sys_fd);
	ASSERT_LE(0, self->vm_fd);
	self->vcpu_fd = hvlab_create_vcpu(self->vm_fd, 0);
	ASSERT_LE(0, self->vcpu_fd);
}

FIXTURE_TEARDOWN(rflags)
{
	hvt_close(&self->vcpu_fd);
	hvt_close(&self->vm_fd);
	hvt_close(&self->sys_fd);
}

TEST_F(rflags, set_regs_einval)
{
	struct hvlab_regs regs, got;

	ASSERT_EQ(0, hvlab_get_regs(self->vcpu_fd, &regs));
	regs.rflags = variant->rflags;
	regs.rax = 0x1111;
	ASSERT_EQ(-EINVAL, hvlab_set_regs(self->vcpu_fd, &regs))
		TH_LOG("rflags %#llx", (unsigned long long)variant->rflags);
	/* Refused as a whole: not even rax changed. */
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu_fd, &got));
	EXPECT_EQ(0ull, got.rax);
	EXPECT_EQ(0x2ull, got.rflags);
}

/* --- system registers: valid states round-trip exactly --------------------- */

static struct hvlab_segment seg(uint64_t base, uint32_t limit, uint16_t sel,
				uint8_t type, uint8_t s, uint8_t dpl, uint8_t db,
				uint8_t l, uint8_t g)
{
	return (struct hvlab_segment) {
		.base = base, .limit = limit, .selector = sel, .type = type,
		.present = 1, .dpl = dpl, .db = db, .s = s, .l = l, .g = g,
	};
}

/* A null LDT, as after loading selector 0 in protected mode. */
static const struct hvlab_segment null_ldt = { .type = 2, .unusable = 1 };

static void flat32(struct hvlab_sregs *s)
{
	s->cs = seg(0, 0xffffffff, 0x08, 0xb, 1, 0, 1, 0, 1);
	s->ds = seg(0, 0xffffffff, 0x10, 0x3, 1, 0, 1, 0, 1);
	s->es = s->ss = s->fs = s->gs = s->ds;
	s->fs.selector = 0x23;
	s->fs.dpl = 3;
	s->fs.avl = 1;
	s->gs.base = 0x12345000;
	s->tr = seg(0x8000, 0x67, 0x28, 0xb, 0, 0, 0, 0, 0);
	s->ldt = null_ldt;
	s->gdt = (struct hvlab_dtable) { .base = 0x9000, .limit = 0x2f };
	s->idt = (struct hvlab_dtable) { .base = 0xa000, .limit = 0x7ff };
}

static void mk_reset(struct hvlab_sregs *s, unsigned int gpa_bits)
{
	(void)s; (void)gpa_bits;
}

static void mk_real_mode(struct hvlab_sregs *s, unsigned int gpa_bits)
{
	(void)gpa_bits;
	s->cs.selector = 0x1234;
	s->cs.base = 0x12340;
	s->ds.selector = 0x40;
	s->ds.base = 0x400;
	s->ss.selector = 0x9000;
	s->ss.base = 0x90000;
	s->cr0 = CR0_ET;			/* caches on: CD = NW = 0 */
	s->apic_base = 0xfee00000ull | APIC_EN;	/* no longer the BSP */
}

static void mk_protected32(struct hvlab_sregs *s, unsigned int gpa_bits)
{
	(void)gpa_bits;
	flat32(s);
	s->cr0 = CR0_PE | CR0_ET | CR0_NE;
}

static void mk_pae_paging(struct hvlab_sregs *s, unsigned int gpa_bits)
{
	(void)gpa_bits;
	flat32(s);
	s->cr0 = CR0_PG | CR0_PE | CR0_ET | CR0_NE | CR0_WP;
	s->cr3 = 0x5020;
	s->cr4 = CR4_PAE | CR4_PGE;
	s->cr2 = 0xbfff1234;
	s->efer = EFER_NXE;
}

/* Between setting EFER.LME and CR0.PG: LME = 1, LMA = 0 is valid. */
static void mk_lme_before_paging(struct hvlab_sregs *s, unsigned int gpa_bits)
{
	(void)gpa_bits;
	flat32(s);
	s->cr0 = CR0_PE | CR0_ET;
	s->cr4 = CR4_PAE;
	s->efer = EFER_LME;
}

static void mk_long_mode(struct hvlab_sregs *s, unsigned int gpa_bits)
{
	(void)gpa_bits;
	s->cs = seg(0, 0xffffffff, 0x10, 0xb, 1, 0, 0, 1, 1);
	s->ds = seg(0, 0xffffffff, 0x18, 0x3, 1, 0, 1, 0, 1);
	s->es = s->ss = s->ds;
	s->fs = s->ds;
	s->fs.base = 0x7f0000001000ull;
	s->gs = s->ds;
	s->gs.base = 0xffff888000000000ull;
	s->tr = seg(0xfffffe0000003000ull, 0x4087, 0x40, 0xb, 0, 0, 0, 0, 0);
	s->ldt = null_ldt;
	s->gdt = (struct hvlab_dtable) { .base = 0xfffffe0000001000ull, .limit = 0x7f };
	s->idt = (struct hvlab_dtable) { .base = 0xfffffe0000000000ull, .limit = 0xfff };
	s->cr0 = CR0_PG | CR0_AM | CR0_WP | CR0_NE | CR0_ET | CR0_PE;
	s->cr2 = 0x7fffdeadb000ull;
	s->cr3 = 0x1234000;
	s->cr4 = CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	s->cr8 = 0xa;
	s->efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
}

static void mk_caches_off(struct hvlab_sregs *s, unsigned int gpa_bits)
{
	(void)gpa_bits;
	s->cr0 = CR0_CD | CR0_NW | CR0_ET | CR0_PE;	/* CD = NW = 1 is valid */
	flat32(s);
}

/* APIC base at the last page below 1 << MAX_GPA_BITS. */
static void mk_apic_top(struct hvlab_sregs *s, unsigned int gpa_bits)
{
	s->apic_base = ((1ull << gpa_bits) - HVT_PAGE_SIZE) | APIC_EN | APIC_BSP;
}

static void mk_apic_disabled(struct hvlab_sregs *s, unsigned int gpa_bits)
{
	(void)gpa_bits;
	s->apic_base = 0xfee00000ull;
}

/*
 * The sregs_ok and sregs_bad fixtures both hold one VM with one vCPU and
 * the guest-physical address width the module reports.
 */
#define SREGS_FIXTURE_SETUP() do {						\
	int __bits;								\
										\
	self->sys_fd = self->vm_fd = self->vcpu_fd = -1;			\
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());				\
	self->vm_fd = hvt_open_vm(&self->sys_fd);				\
	ASSERT_LE(0, self->vm_fd);						\
	__bits = hvt_cap(self->sys_fd, HVLAB_CAP_MAX_GPA_BITS);			\
	ASSERT_LE(36, __bits);							\
	self->gpa_bits = __bits;						\
	self->vcpu_fd = hvlab_create_vcpu(self->vm_fd, 0);			\
	ASSERT_LE(0, self->vcpu_fd);						\
} while (0)

#define SREGS_FIXTURE_TEARDOWN() do {						\
	hvt_close(&self->vcpu_fd);						\
	hvt_close(&self->vm_fd);						\
	hvt_close(&self->sys_fd);						\
} while (0)

FIXTURE(sregs_ok) {
	int sys_fd, vm_fd, vcpu_fd;
	unsigned int gpa_bits;
};

FIXTURE_VARIANT(sregs_ok) {
	void (*make)(struct hvlab_sregs *s, unsigned int gpa_bits);
};

FIXTURE_VARIANT_ADD(sregs_ok, reset)		{ .make = mk_reset };
FIXTURE_VARIANT_ADD(sregs_ok, real_mode)	{ .make = mk_real_mode };
FIXTURE_VARIANT_ADD(sregs_ok, protected32)	{ .make = mk_protected32 };
FIXTURE_VARIANT_ADD(sregs_ok, pae_paging)	{ .make = mk_pae_paging };
FIXTURE_VARIANT_ADD(sregs_ok, lme_before_paging) { .make = mk_lme_before_paging };
FIXTURE_VARIANT_ADD(sregs_ok, long_mode)	{ .make = mk_long_mode };
FIXTURE_VARIANT_ADD(sregs_ok, caches_off)	{ .make = mk_caches_off };
FIXTURE_VARIANT_ADD(sregs_ok, apic_top)		{ .make = mk_apic_top };
FIXTURE_VARIANT_ADD(sregs_ok, apic_disabled)	{ .make = mk_apic_disabled };

FIXTURE_SETUP(sregs_ok)
{
	SREGS_FIXTURE_SETUP();
}

FIXTURE_TEARDOWN(sregs_ok)
{
	SREGS_FIXTURE_TEARDOWN();
}

TEST_F(sregs_ok, roundtrip)
{
	struct hvlab_sregs set, got;

	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu_fd, &set));
	variant->make(&set, self->gpa_bits);
	ASSERT_EQ(0, hvlab_set_sregs(self->vcpu_fd, &set));
	memset(&got, 0x5a, sizeof(got));
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu_fd, &got));
	expect_sregs_eq(_metadata, &set, &got);

	/* Setting what GET returned is accepted and changes nothing. */
	ASSERT_EQ(0, hvlab_set_sregs(self->vcpu_fd, &got));
	memset(&got, 0x5a, sizeof(got));
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu_fd, &got));
	expect_sregs_eq(_metadata, &set, &got);
}

/* --- system registers: refusals (-EINVAL each) ------------------------------ */

static void bad_seg_padding(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->ds.padding = 1; }
static void bad_gdt_padding(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->gdt.padding[0] = 1; }
static void bad_idt_padding(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->idt.padding[2] = 0x8000; }
static void bad_reserved0(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->reserved[0] = 1; }
static void bad_reserved3(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->reserved[3] = 1ull << 63; }
static void bad_type(struct hvlab_sregs *s, unsigned int b)		{ (void)b; s->ds.type = 16; }
static void bad_present(struct hvlab_sregs *s, unsigned int b)		{ (void)b; s->ss.present = 2; }
static void bad_dpl(struct hvlab_sregs *s, unsigned int b)		{ (void)b; s->es.dpl = 4; }
static void bad_db(struct hvlab_sregs *s, unsigned int b)		{ (void)b; s->cs.db = 2; }
static void bad_s(struct hvlab_sregs *s, unsigned int b)		{ (void)b; s->fs.s = 2; }
static void bad_l(struct hvlab_sregs *s, unsigned int b)		{ (void)b; s->cs.l = 0xff; }
static void bad_g(struct hvlab_sregs *s, unsigned int b)		{ (void)b; s->gs.g = 2; }
static void bad_avl(struct hvlab_sregs *s, unsigned int b)		{ (void)b; s->tr.avl = 2; }
static void bad_unusable(struct hvlab_sregs *s, unsigned int b)		{ (void)b; s->ldt.unusable = 2; }
/* SDM Vol. 3A 2.5: CR0.PG = 1 needs PE = 1; NW = 1 needs CD = 1; 63:32 reserved. */
static void bad_cr0_pg_no_pe(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->cr0 = CR0_PG | CR0_ET; }
static void bad_cr0_nw_no_cd(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->cr0 = CR0_NW | CR0_ET | CR0_PE; }
static void bad_cr0_bit32(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->cr0 |= 1ull << 32; }
static void bad_cr0_bit63(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->cr0 |= 1ull << 63; }
/* CR4 bit 15 is reserved on Intel and AMD alike, as are 63:32. */
static void bad_cr4_bit15(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->cr4 = 1ull << 15; }
static void bad_cr4_bit63(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->cr4 = 1ull << 63; }
static void bad_efer_bit1(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->efer = 1ull << 1; }
static void bad_efer_svme(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->efer = EFER_SVME; }
static void bad_efer_bit63(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->efer = 1ull << 63; }
/* EFER.LMA must equal EFER.LME && CR0.PG (SDM Vol. 3A 10.8.5, APM Vol. 2 14.6). */
static void bad_lma_alone(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->efer = EFER_LMA; }
static void bad_lma_no_pg(struct hvlab_sregs *s, unsigned int b)
{
	(void)b;
	flat32(s);
	s->cr0 = CR0_PE | CR0_ET;
	s->cr4 = CR4_PAE;
	s->efer = EFER_LME | EFER_LMA;
}
static void bad_lme_pg_no_lma(struct hvlab_sregs *s, unsigned int b)
{
	mk_long_mode(s, b);
	s->efer &= ~EFER_LMA;
}
static void bad_long_no_pae(struct hvlab_sregs *s, unsigned int b)
{
	mk_long_mode(s, b);
	s->cr4 &= ~CR4_PAE;
}
/* IA32_APIC_BASE: bits 7:0, 9 and MAXPHYADDR and up are reserved. */
static void bad_apic_bit0(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->apic_base |= 1; }
static void bad_apic_bit7(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->apic_base |= 1 << 7; }
static void bad_apic_bit9(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->apic_base |= 1 << 9; }
static void bad_apic_gpa_bit(struct hvlab_sregs *s, unsigned int b)	{ s->apic_base |= 1ull << b; }
static void bad_apic_bit63(struct hvlab_sregs *s, unsigned int b)	{ (void)b; s->apic_base |= 1ull << 63; }

FIXTURE(sregs_bad) {
	int sys_fd, vm_fd, vcpu_fd;
	unsigned int gpa_bits;
};

FIXTURE_VARIANT(sregs_bad) {
	void (*make)(struct hvlab_sregs *s, unsigned int gpa_bits);
};

#define BAD(name) FIXTURE_VARIANT_ADD(sregs_bad, name) { .make = bad_##name }
BAD(seg_padding);
BAD(gdt_padding);
BAD(idt_padding);
BAD(reserved0);
BAD(reserved3);
BAD(type);
BAD(present);
BAD(dpl);
BAD(db);
BAD(s);
BAD(l);
BAD(g);
BAD(avl);
BAD(unusable);
BAD(cr0_pg_no_pe);
BAD(cr0_nw_no_cd);
BAD(cr0_bit32);
BAD(cr0_bit63);
BAD(cr4_bit15);
BAD(cr4_bit63);
BAD(efer_bit1);
BAD(efer_svme);
BAD(efer_bit63);
BAD(lma_alone);
BAD(lma_no_pg);
BAD(lme_pg_no_lma);
BAD(long_no_pae);
BAD(apic_bit0);
BAD(apic_bit7);
BAD(apic_bit9);
BAD(apic_gpa_bit);
BAD(apic_bit63);
#undef BAD

FIXTURE_SETUP(sregs_bad)
{
	SREGS_FIXTURE_SETUP();
}

FIXTURE_TEARDOWN(sregs_bad)
{
	SREGS_FIXTURE_TEARDOWN();
}

TEST_F(sregs_bad, set_sregs_einval)
{
	struct hvlab_sregs before, bad, after;

	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu_fd, &before));
	bad = before;
	variant->make(&bad, self->gpa_bits);
	/* A change elsewhere that would be valid on its own. */
	bad.cr2 = 0xdead000;
	ASSERT_EQ(-EINVAL, hvlab_set_sregs(self->vcpu_fd, &bad))
		TH_LOG("cr0 %#llx cr4 %#llx efer %#llx apic_base %#llx",
		       (unsigned long long)bad.cr0, (unsigned long long)bad.cr4,
		       (unsigned long long)bad.efer, (unsigned long long)bad.apic_base);
	/* Refused as a whole: the state is what it was. */
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu_fd, &after));
	expect_sregs_eq(_metadata, &before, &after);
}

/* --- bad pointers ----------------------------------------------------------- */

TEST_F(vcpu, null_pointers_efault)
{
	EXPECT_EQ(-EFAULT, hvlab_get_regs(self->vcpu_fd, NULL));
	EXPECT_EQ(-EFAULT, hvlab_set_regs(self->vcpu_fd, NULL));
	EXPECT_EQ(-EFAULT, hvlab_get_sregs(self->vcpu_fd, NULL));
	EXPECT_EQ(-EFAULT, hvlab_set_sregs(self->vcpu_fd, NULL));
}

/* GET into a read-only page cannot be copied out. */
TEST_F(vcpu, get_into_readonly_efault)
{
	void *ro = mmap(NULL, HVT_PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-EFAULT, hvlab_get_regs(self->vcpu_fd, ro));
	EXPECT_EQ(-EFAULT, hvlab_get_sregs(self->vcpu_fd, ro));
	munmap(ro, HVT_PAGE_SIZE);
}

/* --- the run page ----------------------------------------------------------- */

TEST_F(vcpu, run_page_mmap)
{
	struct hvlab_run *run, *run2;
	uint8_t *p;
	int i;

	ASSERT_EQ(0, hvlab_map_run(self->vcpu_fd, self->mmap_size, &run));
	p = (uint8_t *)run;
	for (i = 0; i < self->mmap_size; i++) {
		ASSERT_EQ(0, p[i]) TH_LOG("run page byte %d not zero", i);
	}
	for (i = 0; i < self->mmap_size; i++)
		p[i] = (uint8_t)(i * 7 + 1);

	/* Shared: a second mapping sees the same page. */
	ASSERT_EQ(0, hvlab_map_run(self->vcpu_fd, self->mmap_size, &run2));
	ASSERT_EQ(0, memcmp(run, run2, self->mmap_size));
	run2->immediate_exit = 0;
	ASSERT_EQ(0, run->immediate_exit);
	ASSERT_EQ(0, hvlab_unmap_run(run2, self->mmap_size));
	ASSERT_EQ(0, hvlab_unmap_run(run, self->mmap_size));
}

/* Each vCPU has its own run page. */
TEST_F(vcpu, run_page_per_vcpu)
{
	struct hvlab_run *run0, *run1;
	int fd1 = hvlab_create_vcpu(self->vm_fd, 1);

	ASSERT_LE(0, fd1);
	ASSERT_EQ(0, hvlab_map_run(self->vcpu_fd, self->mmap_size, &run0));
	ASSERT_EQ(0, hvlab_map_run(fd1, self->mmap_size, &run1));
	run0->raw[0] = 0x77;
	EXPECT_EQ(0, run1->raw[0]);
	hvlab_unmap_run(run1, self->mmap_size);
	hvlab_unmap_run(run0, self->mmap_size);
	close(fd1);
}

static int try_mmap(int fd, size_t len, int flags, off_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, off);

	if (p == MAP_FAILED)
		return -errno;
	munmap(p, len);
	return 0;
}

TEST_F(vcpu, mmap_offset_einval)
{
	EXPECT_EQ(-EINVAL, try_mmap(self->vcpu_fd, 4096, MAP_SHARED, 4096));
	EXPECT_EQ(-EINVAL, try_mmap(self->vcpu_fd, 4096, MAP_SHARED, 1l << 32));
}

TEST_F(vcpu, mmap_too_long_einval)
{
	EXPECT_EQ(-EINVAL, try_mmap(self->vcpu_fd, 8192, MAP_SHARED, 0));
	EXPECT_EQ(-EINVAL, try_mmap(self->vcpu_fd, 1 << 20, MAP_SHARED, 0));
}

TEST_F(vcpu, mmap_private_einval)
{
	EXPECT_EQ(-EINVAL, try_mmap(self->vcpu_fd, 4096, MAP_PRIVATE, 0));
}

/* --- RUN --------------------------------------------------------------------- */

TEST_F(vcpu, run_arg_einval)
{
	EXPECT_EQ(-EINVAL, ioctl(self->vcpu_fd, HVLAB_RUN, 1ul) ? -errno : 0);
	EXPECT_EQ(-EINVAL, ioctl(self->vcpu_fd, HVLAB_RUN, 1ul << 32) ? -errno : 0);
}

TEST_HARNESS_MAIN
