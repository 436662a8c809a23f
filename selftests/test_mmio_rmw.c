// SPDX-License-Identifier: GPL-2.0
/*
 * test_mmio_rmw.c - the read-modify-write instructions on MMIO (ADD OR
 * ADC SBB AND SUB XOR CMP with a register or an immediate, in both
 * directions; TEST; INC DEC NOT NEG; XCHG CMPXCHG XADD; BT BTS BTR BTC
 * with a register or an immediate bit offset; LOCK where the CPU takes
 * it; every operand size) give what the CPU gives on RAM.
 *
 * The guest (64-bit C) runs each form many times with random operands
 * and random incoming status flags: once on a RAM buffer, once on an
 * MMIO page whose device model (the host) behaves like memory, and
 * compares the resulting registers, RFLAGS and the 32 bytes around the
 * operand.  The CPU's own execution on RAM is the reference, so the
 * emulation must match the emulated CPU of each vendor (QEMU TCG on
 * AMD, Bochs on Intel), "undefined" flags included.  The device model
 * also checks the accesses each instruction makes: one read of the
 * operand's size, then, for the forms that write, one write of the same
 * size at the same address (CMP, TEST and BT only read).
 *
 * BT with a register bit offset reaches outside the operand (SDM Vol. 2A
 * "BT": the offset is signed and moves the access by whole operand-size
 * units): those forms use offsets from one unit below the operand to two
 * above, so the window compared covers every unit touched.
 *
 * Decoder: module/decode.c; arithmetic and flags: module/alu.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "kselftest_harness.h"
#include "guest.h"

#define MMIO_GPA	0xb0000ull	/* in the PC hole: no RAM behind it */
#define MMIO_OP		(MMIO_GPA + 0x800)	/* operand; window from -8 to +24 */
#define MMIO_MARK	(MMIO_GPA + 0xff8)	/* the guest's marker register */
#define ROM_GPA		0xc0000ull
#define ROM_SIZE	0x1000ull
#define ITERS		4

#define F_RMW		1	/* the form writes memory back */
#define F_BTREG		2	/* BT family with a register bit offset */
#define F_CMPXCHG	4	/* equal half of the time */

/*
 * X(name, instruction, operand size, F_*).  The operand is (%rdi); the
 * register operand is RCX (CL, CH, CX, ECX), CMPXCHG's accumulator RAX.
 */
#define ALU_FORMS(X, op)							\
	X(op##_mr8, #op "b %cl,(%rdi)", 1, F_RMW)				\
	X(op##_mr16, #op "w %cx,(%rdi)", 2, F_RMW)				\
	X(op##_mr32, #op "l %ecx,(%rdi)", 4, F_RMW)				\
	X(op##_mr64, #op "q %rcx,(%rdi)", 8, F_RMW)				\
	X(op##_rm8, #op "b (%rdi),%cl", 1, 0)					\
	X(op##_rm16, #op "w (%rdi),%cx", 2, 0)					\
	X(op##_rm32, #op "l (%rdi),%ecx", 4, 0)					\
	X(op##_rm64, #op "q (%rdi),%rcx", 8, 0)					\
	X(op##_mi8, #op "b $0x85,(%rdi)", 1, F_RMW)				\
	X(op##_mi16, #op "w $0x8765,(%rdi)", 2, F_RMW)				\
	X(op##_mi32, #op "l $0x87654321,(%rdi)", 4, F_RMW)			\
	X(op##_mi64, #op "q $-0x789abcdf,(%rdi)", 8, F_RMW)			\
	X(op##_mib16, #op "w $-3,(%rdi)", 2, F_RMW)				\
	X(op##_mib32, #op "l $0x7f,(%rdi)", 4, F_RMW)				\
	X(op##_mib64, #op "q $-0x80,(%rdi)", 8, F_RMW)
#define UNARY_FORMS(X, op)							\
	X(op##8, #op "b (%rdi)", 1, F_RMW)					\
	X(op##16, #op "w (%rdi)", 2, F_RMW)					\
	X(op##32, #op "l (%rdi)", 4, F_RMW)					\
	X(op##64, #op "q (%rdi)", 8, F_RMW)
#define XCHG_FORMS(X, op, f)							\
	X(op##8, #op "b %cl,(%rdi)", 1, F_RMW | (f))				\
	X(op##16, #op "w %cx,(%rdi)", 2, F_RMW | (f))				\
	X(op##32, #op "l %ecx,(%rdi)", 4, F_RMW | (f))				\
	X(op##64, #op "q %rcx,(%rdi)", 8, F_RMW | (f))
#define BT_FORMS(X, op, f)							\
	X(op##_r16, #op "w %cx,(%rdi)", 2, F_BTREG | (f))			\
	X(op##_r32, #op "l %ecx,(%rdi)", 4, F_BTREG | (f))			\
	X(op##_r64, #op "q %rcx,(%rdi)", 8, F_BTREG | (f))			\
	X(op##_i16, #op "w $0x1d,(%rdi)", 2, (f))				\
	X(op##_i32, #op "l $0x5,(%rdi)", 4, (f))				\
	X(op##_i64, #op "q $0x3f,(%rdi)", 8, (f))

#define RMW_FORMS(X)								\
	ALU_FORMS(X, add) ALU_FORMS(X, or) ALU_FORMS(X, adc)			\
	ALU_FORMS(X, sbb) ALU_FORMS(X, and) ALU_FORMS(X, sub)			\
	ALU_FORMS(X, xor)							\
	X(cmp_mr8, "cmpb %cl,(%rdi)", 1, 0)					\
	X(cmp_mr64, "cmpq %rcx,(%rdi)", 8, 0)					\
	X(cmp_rm16, "cmpw (%rdi),%cx", 2, 0)					\
	X(cmp_rm32, "cmpl (%rdi),%ecx", 4, 0)					\
	X(cmp_mi32, "cmpl $0x87654321,(%rdi)", 4, 0)				\
	X(cmp_mib64, "cmpq $-0x80,(%rdi)", 8, 0)				\
	X(test_mr8, "testb %cl,(%rdi)", 1, 0)					\
	X(test_mr16, "testw %cx,(%rdi)", 2, 0)					\
	X(test_mr32, "testl %ecx,(%rdi)", 4, 0)					\
	X(test_mr64, "testq %rcx,(%rdi)", 8, 0)					\
	X(test_mi8, "testb $0xa5,(%rdi)", 1, 0)					\
	X(test_mi16, "testw $0x8001,(%rdi)", 2, 0)				\
	X(test_mi32, "testl $0x80000101,(%rdi)", 4, 0)				\
	X(test_mi64, "testq $-0x1000,(%rdi)", 8, 0)				\
	UNARY_FORMS(X, inc) UNARY_FORMS(X, dec)					\
	UNARY_FORMS(X, not) UNARY_FORMS(X, neg)					\
	X(add_ch, "addb %ch,(%rdi)", 1, F_RMW)					\
	X(sub_ch_rm, "subb (%rdi),%ch", 1, 0)					\
	X(xchg_ch, "xchgb %ch,(%rdi)", 1, F_RMW)				\
	XCHG_FORMS(X, xchg, 0)							\
	XCHG_FORMS(X, cmpxchg, F_CMPXCHG)					\
	XCHG_FORMS(X, xadd, 0)							\
	BT_FORMS(X, bt, 0) BT_FORMS(X, bts, F_RMW)				\
	BT_FORMS(X, btr, F_RMW) BT_FORMS(X, btc, F_RMW)				\
	X(lock_add32, "lock addl %ecx,(%rdi)", 4, F_RMW)			\
	X(lock_sbb8, "lock sbbb $0x85,(%rdi)", 1, F_RMW)			\
	X(lock_inc16, "lock incw (%rdi)", 2, F_RMW)				\
	X(lock_neg64, "lock negq (%rdi)", 8, F_RMW)				\
	X(lock_not8, "lock notb (%rdi)", 1, F_RMW)				\
	X(lock_xadd64, "lock xaddq %rcx,(%rdi)", 8, F_RMW)			\
	X(lock_cmpxchg32, "lock cmpxchgl %ecx,(%rdi)", 4, F_RMW | F_CMPXCHG)	\
	X(lock_bts64, "lock btsq %rcx,(%rdi)", 8, F_RMW | F_BTREG)		\
	X(lock_btc16, "lock btcw $0x13,(%rdi)", 2, F_RMW)

/* What a stub loads before and stores after the instruction. */
struct rmw_regs {
	uint64_t rax, rcx, rflags;
};

/*
 * One stub per form: rmw_NAME(mem = RDI, regs = RSI).  Loads RAX, RCX
 * and RFLAGS from *regs, runs the instruction on (%rdi), stores them
 * back.  Runs in the guest (plain code of the test binary).
 */
#define STUB(name, text, size, f)						\
	".globl rmw_" #name "\n"						\
	"rmw_" #name ":\n\t"							\
	"mov 0(%rsi), %rax\n\t"							\
	"mov 8(%rsi), %rcx\n\t"							\
	"pushq 16(%rsi)\n\t"							\
	"popfq\n\t"								\
	text "\n\t"								\
	"pushfq\n\t"								\
	"popq 16(%rsi)\n\t"							\
	"mov %rax, 0(%rsi)\n\t"							\
	"mov %rcx, 8(%rsi)\n\t"							\
	"ret\n"
asm(".pushsection .text.hvt_rmw, \"ax\", @progbits\n"
    RMW_FORMS(STUB)
    ".popsection\n");

typedef void (*rmw_stub)(volatile uint64_t *mem, struct rmw_regs *regs);
#define DECL(name, text, size, f)	void rmw_##name(volatile uint64_t *, struct rmw_regs *);
RMW_FORMS(DECL)

struct rmw_form {
	rmw_stub fn;
	const char *name;	/* host only: the guest's string pointers are fine too */
	uint8_t size, flags;
};
#define FORM(name, text, size, f)	{ rmw_##name, text, size, f },
static const struct rmw_form forms[] = { RMW_FORMS(FORM) };
#define NR_FORMS	ARRAY_SIZE(forms)

/* The RAM side: a window of four qwords, the operand is the second. */
static volatile uint64_t ram_win[4];

/* Guest PRNG (xorshift64), seeded by the host. */
GUEST_INLINE uint64_t guest_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Mismatch report: UCALL_SYNC args = form, what, RAM's value, MMIO's. */
#define WHAT_RAX	1
#define WHAT_RCX	2
#define WHAT_RFLAGS	3
#define WHAT_MEM	4	/* + window index */

GUEST_CODE static void guest_rmw(uint64_t seed, uint64_t iters)
{
	volatile uint64_t *mmio = (volatile uint64_t *)(MMIO_OP - 8);
	volatile uint64_t *mark = (volatile uint64_t *)MMIO_MARK;
	uint64_t s = seed | 1;
	unsigned int i, k;
	uint64_t it;

	for (i = 0; i < NR_FORMS; i++) {
		const struct rmw_form *f = &forms[i];

		for (it = 0; it < iters; it++) {
			struct rmw_regs st0, r, m;
			uint64_t win[4], bits = 8 * f->size;

			for (k = 0; k < 4; k++)
				win[k] = guest_rnd(&s);
			st0.rax = guest_rnd(&s);
			st0.rcx = guest_rnd(&s);
			/* Status flags random; IF, TF, DF clear; bit 1 set. */
			st0.rflags = 0x2 | (guest_rnd(&s) & 0x8d5);
			if ((f->flags & F_CMPXCHG) && (it & 1))
				st0.rax = win[1];	/* the equal case */
			if (f->flags & F_BTREG)		/* -bits .. 2 * bits - 1 */
				st0.rcx = guest_rnd(&s) % (3 * bits) - bits;

			for (k = 0; k < 4; k++)
				ram_win[k] = win[k];
			r = st0;
			f->fn(&ram_win[1], &r);

			for (k = 0; k < 4; k++)
				mmio[k] = win[k];
			*mark = 1 | (uint64_t)i << 8;
			m = st0;
			f->fn(&mmio[1], &m);
			*mark = 0;

			if (r.rax != m.rax)
				guest_ucall(UCALL_SYNC, i, WHAT_RAX, r.rax, m.rax, it);
			if (r.rcx != m.rcx)
				guest_ucall(UCALL_SYNC, i, WHAT_RCX, r.rcx, m.rcx, it);
			if (r.rflags != m.rflags)
				guest_ucall(UCALL_SYNC, i, WHAT_RFLAGS, r.rflags, m.rflags, it);
			for (k = 0; k < 4; k++) {
				uint64_t a = ram_win[k], b = mmio[k];

				if (a != b)
					guest_ucall(UCALL_SYNC, i, WHAT_MEM + k, a, b, it);
			}
		}
	}
	GUEST_DONE();
}

FIXTURE(rmw) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_SETUP(rmw)
{
	HVT_SETUP_VM_VCPU(HVT_VM_PC_HOLE);
}

FIXTURE_TEARDOWN(rmw)
{
	hvt_vm_free(self->vm);
}

/* An MMIO access the device model saw between two markers. */
struct access {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* Check the accesses form @i made: one read, then one write if it writes. */
static void check_accesses(struct __test_metadata *_metadata, unsigned int i,
			   const struct access *acc, unsigned int n)
{
	const struct rmw_form *f = &forms[i];
	unsigned int want = (f->flags & F_RMW) ? 2 : 1;

	EXPECT_EQ(want, n) TH_LOG("%s: %u MMIO accesses, want %u", f->name, n, want);
	if (n < 1)
		return;
	EXPECT_FALSE(acc[0].write) TH_LOG("%s: the first access must be the read", f->name);
	EXPECT_EQ(f->size, acc[0].len) TH_LOG("%s: read size", f->name);
	if (!(f->flags & F_BTREG))
		EXPECT_EQ(MMIO_OP, acc[0].gpa) TH_LOG("%s: read address", f->name);
	if (n < 2 || want < 2)
		return;
	EXPECT_TRUE(acc[1].write) TH_LOG("%s: the second access must be the write", f->name);
	EXPECT_EQ(f->size, acc[1].len) TH_LOG("%s: write size", f->name);
	EXPECT_EQ(acc[0].gpa, acc[1].gpa) TH_LOG("%s: the write goes where the read went", f->name);
}

/*
 * Every form, ITERS times: the device model is a page of memory (with
 * the marker register at MMIO_MARK); each mismatch the guest reports
 * is one failure naming the form.
 */
TEST_F(rmw, same_as_ram)
{
	struct hvlab_run *run;
	static uint8_t dev[4096];
	struct access acc[8];
	unsigned int n = 0, nmis = 0, nforms_seen = 0;
	int cur = -1, ret;
	struct ucall uc;
	char buf[512];

	HVT_SKIPPED_IN_SETUP();
	run = self->vcpu->run;
	ret = hvt_vcpu_enter_c(self->vcpu, guest_rmw, 0x5eed1234abcdull, ITERS);
	ASSERT_EQ(0, ret);
	TH_LOG("%zu forms, %d iterations each", NR_FORMS, ITERS);
	for (;;) {
		ret = hvt_vcpu_run(self->vcpu);
		ASSERT_EQ(0, ret) TH_LOG("RUN: %s", strerror(-ret));
		if (run->exit_reason == HVLAB_EXIT_MMIO) {
			uint64_t gpa = run->mmio.phys_addr, off = gpa - MMIO_GPA, v = 0;
			uint32_t len = run->mmio.len;

			ASSERT_TRUE(len == 1 || len == 2 || len == 4 || len == 8);
			ASSERT_LE(off + len, sizeof(dev)) TH_LOG("MMIO at %#llx",
								(unsigned long long)gpa);
			if (gpa == MMIO_MARK) {
				ASSERT_TRUE(run->mmio.is_write && len == 8);
				memcpy(&v, run->mmio.data, 8);
				if (v) {
					cur = v >> 8;
					ASSERT_LT((unsigned int)cur, NR_FORMS);
					n = 0;
				} else {
					ASSERT_LE(0, cur);
					check_accesses(_metadata, cur, acc, n);
					nforms_seen++;
					cur = -1;
				}
				continue;
			}
			if (cur >= 0) {
				ASSERT_LT(n, ARRAY_SIZE(acc));
				acc[n++] = (struct access){ gpa, len, run->mmio.is_write };
			}
			if (run->mmio.is_write)
				memcpy(dev + off, run->mmio.data, len);
			else
				memcpy(run->mmio.data, dev + off, len);
			continue;
		}
		ret = hvt_get_ucall(self->vcpu, &uc);
		if (ret == UCALL_SYNC) {
			ASSERT_LT(uc.args[0], NR_FORMS);
			nmis++;
			EXPECT_EQ(uc.args[2], uc.args[3])
				TH_LOG("%s (iteration %llu): %s%s differs: RAM %#llx, MMIO %#llx",
				       forms[uc.args[0]].name, (unsigned long long)uc.args[4],
				       uc.args[1] == WHAT_RAX ? "RAX" : uc.args[1] == WHAT_RCX ? "RCX" :
				       uc.args[1] == WHAT_RFLAGS ? "RFLAGS" : "memory qword ",
				       uc.args[1] >= WHAT_MEM ? (uc.args[1] == WHAT_MEM + 1 ? "1 (operand)" :
								 uc.args[1] == WHAT_MEM ? "0" :
								 uc.args[1] == WHAT_MEM + 2 ? "2" : "3") : "",
				       (unsigned long long)uc.args[2], (unsigned long long)uc.args[3]);
			continue;
		}
		ASSERT_EQ(UCALL_DONE, ret) TH_LOG("%s", hvt_exit_str(self->vcpu, buf, sizeof(buf)));
		break;
	}
	EXPECT_EQ(NR_FORMS * ITERS, nforms_seen);
	TH_LOG("%u executions compared, %u mismatches", nforms_seen, nmis);
}

/*
 * An RMW on a read-only slot (a ROM): the CPU reads the RAM behind it,
 * only the write exits.  So userspace sees exactly one access, the
 * write, with the value computed from the ROM's contents, and the ROM
 * stays as it was.
 */
GUEST_CODE static void guest_rom(void)
{
	volatile uint32_t *rom = (volatile uint32_t *)(ROM_GPA + 0x40);
	uint32_t v;

	asm volatile("lock addl $0x10, %0" : "+m"(*rom) : : "cc", "memory");
	v = *rom;
	GUEST_SYNC(v);
	GUEST_DONE();
}

TEST_F(rmw, rom_write_only)
{
	struct hvlab_run *run;
	uint32_t *rom;
	struct ucall uc;
	uint32_t d = 0;
	int ret;

	HVT_SKIPPED_IN_SETUP();
	run = self->vcpu->run;
	rom = hvt_alloc_guest_mem(ROM_SIZE);
	ASSERT_NE(NULL, rom);
	rom[0x10] = 0x12345678;
	ret = hvt_set_region(self->vm->fd, HVT_FIRST_FREE_SLOT, HVLAB_MEM_READONLY,
			     ROM_GPA, ROM_SIZE, (uintptr_t)rom);
	ASSERT_EQ(0, ret) TH_LOG("read-only slot: %s", strerror(-ret));
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_rom, 0, 0));

	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_MMIO);
	EXPECT_EQ(ROM_GPA + 0x40, run->mmio.phys_addr);
	EXPECT_EQ(4u, run->mmio.len);
	EXPECT_TRUE(run->mmio.is_write) TH_LOG("the read is of the ROM's RAM: no read exit");
	memcpy(&d, run->mmio.data, 4);
	EXPECT_EQ(0x12345688u, d) TH_LOG("the value written");
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0x12345678u, (uint32_t)uc.args[0]) TH_LOG("ROM unchanged");
	EXPECT_EQ(0x12345678u, rom[0x10]);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_HARNESS_MAIN
