// SPDX-License-Identifier: GPL-2.0
/*
 * test_mmio.c - guest accesses to guest-physical addresses without RAM
 * (MMIO exits, decoded by module/decode.c) and to read-only slots.
 *
 * The VMs have the PC hole: no RAM in [0xa0000, 0x100000), so every CPU
 * mode reaches MMIO at 0xb0000 (real mode through a segment base) and a
 * read-only slot at 0xc0000, like option ROMs.  The "mode" fixture runs
 * the same assembler text in real mode, 32-bit protected mode with and
 * without paging, and 64-bit mode; the "mmio64" fixture runs C guests for
 * what only 64-bit mode has (8-byte accesses, REX, MOVSXD, 64-bit moffs,
 * addresses above 4 GiB).
 *
 * The "device" the host plays: reading byte g of MMIO gives 0x80 | (g &
 * 0x7f), so every read has bit 7 set in its top byte (sign extension
 * shows) and consecutive bytes differ.  Each test lists the exact MMIO
 * exits it expects, in order: one per access, one per string element.
 *
 * MOVZX/MOVSX: SDM Vol. 2B; string instructions and DF: SDM Vol. 2B
 * REP/STOS/MOVS, Vol. 1 3.4.3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "guest.h"

#define MMIO_GPA	0xb0000ull
#define ROM_GPA		0xc0000ull
#define ROM_SIZE	0x4000ull
#define HIGH_MMIO_GPA	0x123456000ull	/* above 4 GiB, 64-bit mode only */
#define RAW_DATA	HVT_RAW_DATA_GPA	/* RAM: MOVS source/destination */

static uint8_t mmio_byte(uint64_t gpa)
{
	return 0x80 | (gpa & 0x7f);
}

static uint64_t mmio_value(uint64_t gpa, unsigned int len)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < len; i++)
		v |= (uint64_t)mmio_byte(gpa + i) << (8 * i);
	return v;
}

/* One expected MMIO exit: offset from the base the test uses. */
struct mmio_op {
	uint32_t off;
	uint8_t len;
	bool write;
	uint64_t data;		/* writes only */
};
#define RD(o, l)	{ .off = (o), .len = (l) }
#define WR(o, l, d)	{ .off = (o), .len = (l), .write = true, .data = (d) }

/*
 * RUN until the next ucall; the MMIO exits on the way must be exactly
 * @ops, in order.  Reads get the device's bytes.  The ucall must be @cmd.
 */
static void run_mmio(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu,
		     uint64_t base, const struct mmio_op *ops, unsigned int n,
		     int cmd, struct ucall *uc)
{
	struct hvlab_run *run = vcpu->run;
	unsigned int i = 0;
	char buf[512];
	int ret;

	for (;;) {
		ret = hvt_vcpu_run(vcpu);
		ASSERT_EQ(0, ret) TH_LOG("RUN: %s", strerror(-ret));
		if (run->exit_reason != HVLAB_EXIT_MMIO)
			break;
		ASSERT_LT(i, n) TH_LOG("MMIO access #%u, only %u expected: %s", i + 1, n,
				       hvt_exit_str(vcpu, buf, sizeof(buf)));
		EXPECT_EQ(base + ops[i].off, run->mmio.phys_addr) TH_LOG("access #%u", i + 1);
		EXPECT_EQ(ops[i].len, run->mmio.len) TH_LOG("access #%u", i + 1);
		EXPECT_EQ(ops[i].write, run->mmio.is_write) TH_LOG("access #%u", i + 1);
		if (ops[i].write) {
			uint64_t d = 0;

			memcpy(&d, run->mmio.data, sizeof(d));
			if (ops[i].len < 8)
				d &= (1ull << (8 * ops[i].len)) - 1;
			EXPECT_EQ(ops[i].data, d) TH_LOG("access #%u: data written", i + 1);
		} else {
			uint64_t v = mmio_value(run->mmio.phys_addr, run->mmio.len);

			/* Junk past len: the module must use only len bytes. */
			memset(run->mmio.data, 0xee, sizeof(run->mmio.data));
			memcpy(run->mmio.data, &v, run->mmio.len <= 8 ? run->mmio.len : 8);
		}
		i++;
	}
	ASSERT_EQ(n, i) TH_LOG("%u MMIO accesses expected, %u seen, then %s", n, i,
			       hvt_exit_str(vcpu, buf, sizeof(buf)));
	HVT_EXPECT_UCALL(vcpu, cmd, uc);
}

/* ---------------------------------------------------------------------------
 * The same text in every mode.  The host sets EDI (and ESI) to offsets in
 * DS/ES: flat in protected and 64-bit mode, segment base + offset in real
 * mode.  In 16-bit code "(%edi)" is a 32-bit address (67h prefix), and in
 * 64-bit code too: the decoder must honour the address size.
 */

/* Loads of 1, 2, 4 bytes, into low and high byte registers, MOVZX, MOVSX. */
#define LOAD_BODY(p)					\
	"mov $0x11111111, %ebx\n"			\
	"mov (%edi), %bl\n"				\
	"mov $0x22222222, %ecx\n"			\
	"mov 2(%edi), %cx\n"				\
	"mov 4(%edi), %edx\n"				\
	"mov $0x33333333, %esi\n"			\
	"movzbl 1(%edi), %esi\n"			\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"movsbl 1(%edi), %ebx\n"			\
	"movswl 2(%edi), %ecx\n"			\
	"movzwl 2(%edi), %edx\n"			\
	"mov $0x44444444, %esi\n"			\
	"movsbw 1(%edi), %si\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"mov $0x55555555, %ebx\n"			\
	"mov 3(%edi), %bh\n"				\
	"mov $0x66666666, %ecx\n"			\
	"movzbw 5(%edi), %cx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(load_code, LOAD_BODY);

/* Stores from registers (low and high byte) and immediates, ModRM+SIB. */
#define STORE_BODY(p)					\
	"mov $0x11223344, %ebx\n"			\
	"mov %bl, (%edi)\n"				\
	"mov %bx, 2(%edi)\n"				\
	"mov %ebx, 4(%edi)\n"				\
	"mov %bh, 1(%edi)\n"				\
	"movb $0x5a, (%edi)\n"				\
	"movw $0x5a6b, 2(%edi)\n"			\
	"movl $0x5a6b7c8d, 4(%edi)\n"			\
	"mov $2, %esi\n"				\
	"mov %ebx, 8(%edi,%esi,4)\n"			\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(store_code, STORE_BODY);

/* REP STOSB and REP STOSD to MMIO, forwards, then STOSB backwards (DF=1). */
#define STOS_BODY(p)					\
	"cld\n"						\
	"mov $0x77, %al\n"				\
	"mov $4, %ecx\n"				\
	"rep stosb\n"					\
	"mov %edi, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"mov $0xdeadbeef, %eax\n"			\
	"mov $3, %ecx\n"				\
	"rep stosl\n"					\
	"mov %edi, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"std\n"						\
	"mov $0x66, %al\n"				\
	"mov $2, %ecx\n"				\
	"rep stosb\n"					\
	"cld\n"						\
	"mov %edi, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(stos_code, STOS_BODY);

/* REP MOVSB of 4 bytes, DS:ESI -> ES:EDI; the host says which side is MMIO. */
#define MOVS_BODY(p)					\
	"cld\n"						\
	"mov $4, %ecx\n"				\
	"rep movsb\n"					\
	"mov %esi, %ebx\n"				\
	"mov %edi, %edx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(movs_code, MOVS_BODY);

/*
 * STOS without REP, one of each size, then REP STOSW: ES:EDI is MMIO.
 * Reported: EDI (and ECX) after each group.
 */
#define STOS1_BODY(p)					\
	"cld\n"						\
	"mov $0x44332211, %eax\n"			\
	"stosb\n"					\
	"stosw\n"					\
	"stosl\n"					\
	"mov %edi, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"mov $0x5a6b7c8d, %eax\n"			\
	"mov $3, %ecx\n"				\
	"rep stosw\n"					\
	"mov %edi, %ebx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(stos1_code, STOS1_BODY);

/*
 * MOVS without REP, one of each size, then REP MOVSW and REP MOVSD:
 * DS:ESI -> ES:EDI, the host says which side is MMIO.  19 bytes in all.
 */
#define MOVS1_BODY(p)					\
	"cld\n"						\
	"movsb\n"					\
	"movsw\n"					\
	"movsl\n"					\
	"mov %esi, %ebx\n"				\
	"mov %edi, %edx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"mov $2, %ecx\n"				\
	"rep movsw\n"					\
	"mov $2, %ecx\n"				\
	"rep movsl\n"					\
	"mov %esi, %ebx\n"				\
	"mov %edi, %edx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(movs1_code, MOVS1_BODY);
#define MOVS1_BYTES	19

/* A read-only slot: reads see its memory, writes exit, memory stays. */
#define ROM_BODY(p)					\
	"mov (%edi), %ebx\n"				\
	"mov 4(%edi), %ecx\n"				\
	"mov $0x12345678, %edx\n"			\
	"mov %edx, (%edi)\n"				\
	"movb $0x99, 5(%edi)\n"				\
	"mov (%edi), %esi\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	"mov 4(%edi), %ecx\n"				\
	HVT_ASM_UCALL(UCALL_SYNC)			\
	HVT_ASM_UCALL(UCALL_DONE)
HVT_ASM_MODES(rom_code, ROM_BODY);

HVT_MODE_FIXTURE(mode, HVT_VM_PC_HOLE);

/*
 * Point DS (@es false) or ES at @gpa: in real mode the segment base is
 * @gpa rounded down to 4 KiB and the offset returned is the rest; in the
 * flat modes the offset is @gpa.
 */
static uint64_t aim(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu,
		    enum hvt_mode mode, bool es, uint64_t gpa)
{
	struct hvlab_sregs sr;
	struct hvlab_segment *s = es ? &sr.es : &sr.ds;
	uint64_t base = gpa & ~0xfffull;

	if (mode != HVT_MODE_REAL)
		return gpa;
	EXPECT_EQ(0, hvlab_get_sregs(vcpu->fd, &sr));
	s->base = base;
	s->selector = base >> 4;
	EXPECT_EQ(0, hvlab_set_sregs(vcpu->fd, &sr));
	return gpa - base;
}

static void set_regs(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu,
		     uint64_t rsi, uint64_t rdi)
{
	struct hvlab_regs regs;

	ASSERT_EQ(0, hvlab_get_regs(vcpu->fd, &regs));
	regs.rsi = rsi;
	regs.rdi = rdi;
	ASSERT_EQ(0, hvlab_set_regs(vcpu->fd, &regs));
}

/*
 * Run movs1_code from @src_gpa to @dst_gpa through its two ucalls: @ops are
 * the MMIO accesses it makes, the first MOVS1_SPLIT of them (MOVSB, MOVSW,
 * MOVSD) before the first ucall, and ESI/EDI/ECX are checked at each.
 */
#define MOVS1_SPLIT	3
static void movs1_run(struct __test_metadata *_metadata, struct hvt_vcpu *vcpu,
		      enum hvt_mode mode, uint64_t src_gpa, uint64_t dst_gpa,
		      const struct mmio_op *ops, unsigned int nops)
{
	uint64_t src = aim(_metadata, vcpu, mode, false, src_gpa);
	uint64_t dst = aim(_metadata, vcpu, mode, true, dst_gpa);
	struct ucall uc;

	set_regs(_metadata, vcpu, src, dst);
	run_mmio(_metadata, vcpu, MMIO_GPA, ops, MOVS1_SPLIT, UCALL_SYNC, &uc);
	EXPECT_EQ(src + 7, (uint32_t)uc.args[0]) TH_LOG("ESI after MOVSB, MOVSW, MOVSD");
	EXPECT_EQ(dst + 7, (uint32_t)uc.args[2]) TH_LOG("EDI after MOVSB, MOVSW, MOVSD");
	run_mmio(_metadata, vcpu, MMIO_GPA, ops + MOVS1_SPLIT, nops - MOVS1_SPLIT, UCALL_SYNC, &uc);
	EXPECT_EQ(src + MOVS1_BYTES, (uint32_t)uc.args[0]) TH_LOG("ESI after REP MOVSW, MOVSD");
	EXPECT_EQ(dst + MOVS1_BYTES, (uint32_t)uc.args[2]) TH_LOG("EDI after REP MOVSW, MOVSD");
	EXPECT_EQ(0u, (uint32_t)uc.args[1]) TH_LOG("ECX after REP MOVSD");
}

TEST_F(mode, loads)
{
	static const struct mmio_op ops1[] = { RD(0, 1), RD(2, 2), RD(4, 4), RD(1, 1) };
	static const struct mmio_op ops2[] = { RD(1, 1), RD(2, 2), RD(2, 2), RD(1, 1) };
	static const struct mmio_op ops3[] = { RD(3, 1), RD(5, 1) };
	struct ucall uc;
	uint64_t off;

	HVT_SKIPPED_IN_SETUP();
	HVT_MODE_ENTER(load_code);
	off = aim(_metadata, self->vcpu, variant->mode, false, MMIO_GPA);
	set_regs(_metadata, self->vcpu, 0, off);

	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops1, ARRAY_SIZE(ops1), UCALL_SYNC, &uc);
	EXPECT_EQ(0x11111180u, (uint32_t)uc.args[0]) TH_LOG("MOV BL: EBX[31:8] kept");
	EXPECT_EQ(0x22228382u, (uint32_t)uc.args[1]) TH_LOG("MOV CX: ECX[31:16] kept");
	EXPECT_EQ(0x87868584u, (uint32_t)uc.args[2]) TH_LOG("MOV EDX");
	EXPECT_EQ(0x00000081u, (uint32_t)uc.args[3]) TH_LOG("MOVZX ESI, byte");

	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops2, ARRAY_SIZE(ops2), UCALL_SYNC, &uc);
	EXPECT_EQ(0xffffff81u, (uint32_t)uc.args[0]) TH_LOG("MOVSX EBX, byte");
	EXPECT_EQ(0xffff8382u, (uint32_t)uc.args[1]) TH_LOG("MOVSX ECX, word");
	EXPECT_EQ(0x00008382u, (uint32_t)uc.args[2]) TH_LOG("MOVZX EDX, word");
	EXPECT_EQ(0x4444ff81u, (uint32_t)uc.args[3]) TH_LOG("MOVSX SI, byte: ESI[31:16] kept");

	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops3, ARRAY_SIZE(ops3), UCALL_SYNC, &uc);
	EXPECT_EQ(0x55558355u, (uint32_t)uc.args[0]) TH_LOG("MOV BH");
	EXPECT_EQ(0x66660085u, (uint32_t)uc.args[1]) TH_LOG("MOVZX CX, byte: ECX[31:16] kept");
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_F(mode, stores)
{
	static const struct mmio_op ops[] = {
		WR(0, 1, 0x44), WR(2, 2, 0x3344), WR(4, 4, 0x11223344), WR(1, 1, 0x33),
		WR(0, 1, 0x5a), WR(2, 2, 0x5a6b), WR(4, 4, 0x5a6b7c8d),
		WR(16, 4, 0x11223344),
	};
	struct ucall uc;
	uint64_t off;

	HVT_SKIPPED_IN_SETUP();
	HVT_MODE_ENTER(store_code);
	off = aim(_metadata, self->vcpu, variant->mode, false, MMIO_GPA);
	set_regs(_metadata, self->vcpu, 0, off);
	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops, ARRAY_SIZE(ops), UCALL_DONE, &uc);
}

TEST_F(mode, rep_stos)
{
	static const struct mmio_op ops1[] = {
		WR(0, 1, 0x77), WR(1, 1, 0x77), WR(2, 1, 0x77), WR(3, 1, 0x77),
	};
	static const struct mmio_op ops2[] = {
		WR(4, 4, 0xdeadbeef), WR(8, 4, 0xdeadbeef), WR(12, 4, 0xdeadbeef),
	};
	static const struct mmio_op ops3[] = { WR(16, 1, 0x66), WR(15, 1, 0x66) };
	struct ucall uc;
	uint64_t off;

	HVT_SKIPPED_IN_SETUP();
	HVT_MODE_ENTER(stos_code);
	off = aim(_metadata, self->vcpu, variant->mode, true, MMIO_GPA);
	set_regs(_metadata, self->vcpu, 0, off);
	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops1, ARRAY_SIZE(ops1), UCALL_SYNC, &uc);
	EXPECT_EQ(off + 4, (uint32_t)uc.args[0]) TH_LOG("EDI after REP STOSB");
	EXPECT_EQ(0u, (uint32_t)uc.args[1]) TH_LOG("ECX after REP STOSB");
	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops2, ARRAY_SIZE(ops2), UCALL_SYNC, &uc);
	EXPECT_EQ(off + 16, (uint32_t)uc.args[0]) TH_LOG("EDI after REP STOSD");
	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops3, ARRAY_SIZE(ops3), UCALL_SYNC, &uc);
	EXPECT_EQ(off + 14, (uint32_t)uc.args[0]) TH_LOG("EDI after REP STOSB with DF=1");
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_F(mode, rep_movsb_from_mmio)
{
	static const struct mmio_op ops[] = { RD(0, 1), RD(1, 1), RD(2, 1), RD(3, 1) };
	uint8_t *ram;
	uint64_t src, dst;
	struct ucall uc;
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	ram = hvt_gpa2hva(self->vm, RAW_DATA, 8);
	memset(ram, 0xcc, 8);
	HVT_MODE_ENTER(movs_code);
	src = aim(_metadata, self->vcpu, variant->mode, false, MMIO_GPA);
	dst = aim(_metadata, self->vcpu, variant->mode, true, RAW_DATA);
	set_regs(_metadata, self->vcpu, src, dst);
	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops, ARRAY_SIZE(ops), UCALL_SYNC, &uc);
	EXPECT_EQ(src + 4, (uint32_t)uc.args[0]) TH_LOG("ESI");
	EXPECT_EQ(dst + 4, (uint32_t)uc.args[2]) TH_LOG("EDI");
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(mmio_byte(MMIO_GPA + i), ram[i]) TH_LOG("RAM byte %u", i);
	}
	EXPECT_EQ(0xcc, ram[4]) TH_LOG("one byte too many");
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_F(mode, rep_movsb_to_mmio)
{
	static const struct mmio_op ops[] = {
		WR(0, 1, 'h'), WR(1, 1, 'v'), WR(2, 1, 'l'), WR(3, 1, 'b'),
	};
	uint8_t *ram;
	uint64_t src, dst;
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	ram = hvt_gpa2hva(self->vm, RAW_DATA, 8);
	memcpy(ram, "hvlbXXXX", 8);
	HVT_MODE_ENTER(movs_code);
	src = aim(_metadata, self->vcpu, variant->mode, false, RAW_DATA);
	dst = aim(_metadata, self->vcpu, variant->mode, true, MMIO_GPA);
	set_regs(_metadata, self->vcpu, src, dst);
	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops, ARRAY_SIZE(ops), UCALL_SYNC, &uc);
	EXPECT_EQ(src + 4, (uint32_t)uc.args[0]) TH_LOG("ESI");
	EXPECT_EQ(dst + 4, (uint32_t)uc.args[2]) TH_LOG("EDI");
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* STOSB, STOSW, STOSD one at a time, then REP STOSW. */
TEST_F(mode, stos_sizes)
{
	static const struct mmio_op ops1[] = {
		WR(0, 1, 0x11), WR(1, 2, 0x2211), WR(3, 4, 0x44332211),
	};
	static const struct mmio_op ops2[] = {
		WR(7, 2, 0x7c8d), WR(9, 2, 0x7c8d), WR(11, 2, 0x7c8d),
	};
	struct ucall uc;
	uint64_t off;

	HVT_SKIPPED_IN_SETUP();
	HVT_MODE_ENTER(stos1_code);
	off = aim(_metadata, self->vcpu, variant->mode, true, MMIO_GPA);
	set_regs(_metadata, self->vcpu, 0, off);
	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops1, ARRAY_SIZE(ops1), UCALL_SYNC, &uc);
	EXPECT_EQ(off + 7, (uint32_t)uc.args[0]) TH_LOG("EDI after STOSB, STOSW, STOSD");
	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops2, ARRAY_SIZE(ops2), UCALL_SYNC, &uc);
	EXPECT_EQ(off + 13, (uint32_t)uc.args[0]) TH_LOG("EDI after REP STOSW");
	EXPECT_EQ(0u, (uint32_t)uc.args[1]) TH_LOG("ECX after REP STOSW");
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* The accesses of MOVS1_BODY, at the MMIO side. */
#define MOVS1_OPS(OP)							\
	OP(0, 1), OP(1, 2), OP(3, 4),		/* MOVSB, MOVSW, MOVSD */	\
	OP(7, 2), OP(9, 2),			/* REP MOVSW, ECX = 2 */	\
	OP(11, 4), OP(15, 4)			/* REP MOVSD, ECX = 2 */

TEST_F(mode, movs_sizes_from_mmio)
{
#define MOVS1_RD(o, l)	RD(o, l)
	static const struct mmio_op ops[] = { MOVS1_OPS(MOVS1_RD) };
	unsigned int i;
	uint8_t *ram;

	HVT_SKIPPED_IN_SETUP();
	ram = hvt_gpa2hva(self->vm, RAW_DATA, 32);
	memset(ram, 0xcc, 32);
	HVT_MODE_ENTER(movs1_code);
	movs1_run(_metadata, self->vcpu, variant->mode, MMIO_GPA, RAW_DATA, ops, ARRAY_SIZE(ops));
	for (i = 0; i < MOVS1_BYTES; i++) {
		EXPECT_EQ(mmio_byte(MMIO_GPA + i), ram[i]) TH_LOG("RAM byte %u", i);
	}
	EXPECT_EQ(0xcc, ram[MOVS1_BYTES]) TH_LOG("one byte too many");
	HVT_RUN_EXPECT_DONE(self->vcpu);
#undef MOVS1_RD
}

TEST_F(mode, movs_sizes_to_mmio)
{
	/* RAM byte i is 0x31 + i: each write carries those bytes, little-endian. */
#define B(i)		(0x31ull + (i))
#define MOVS1_WR(o, l)	WR(o, l, (l) == 1 ? B(o) : (l) == 2 ? B(o) | B(o + 1) << 8 :	\
			   B(o) | B(o + 1) << 8 | B(o + 2) << 16 | B(o + 3) << 24)
	static const struct mmio_op ops[] = { MOVS1_OPS(MOVS1_WR) };
	unsigned int i;
	uint8_t *ram;

	HVT_SKIPPED_IN_SETUP();
	ram = hvt_gpa2hva(self->vm, RAW_DATA, 32);
	for (i = 0; i < 32; i++)
		ram[i] = B(i);
	HVT_MODE_ENTER(movs1_code);
	movs1_run(_metadata, self->vcpu, variant->mode, RAW_DATA, MMIO_GPA, ops, ARRAY_SIZE(ops));
	HVT_RUN_EXPECT_DONE(self->vcpu);
#undef MOVS1_WR
#undef B
}

TEST_F(mode, readonly_slot)
{
	static const struct mmio_op ops[] = { WR(0, 4, 0x12345678), WR(5, 1, 0x99) };
	uint8_t *rom, want[ROM_SIZE];
	struct ucall uc;
	uint64_t off;
	int ret;

	HVT_SKIPPED_IN_SETUP();
	ret = hvt_cap(self->vm->sys_fd, HVLAB_CAP_READONLY_MEM);
	ASSERT_LE(0, ret);
	if (!ret)
		SKIP(return, "no HVLAB_CAP_READONLY_MEM");
	rom = hvt_alloc_guest_mem(ROM_SIZE);
	ASSERT_NE(NULL, rom);
	for (ret = 0; ret < (int)ROM_SIZE; ret++)
		rom[ret] = ret * 7 + 1;
	memcpy(want, rom, ROM_SIZE);
	ret = hvt_set_region(self->vm->fd, HVT_FIRST_FREE_SLOT, HVLAB_MEM_READONLY, ROM_GPA,
			     ROM_SIZE, (uintptr_t)rom);
	ASSERT_EQ(0, ret) TH_LOG("read-only slot: %s", strerror(-ret));

	HVT_MODE_ENTER(rom_code);
	off = aim(_metadata, self->vcpu, variant->mode, false, ROM_GPA);
	set_regs(_metadata, self->vcpu, 0, off);
	run_mmio(_metadata, self->vcpu, ROM_GPA, ops, ARRAY_SIZE(ops), UCALL_SYNC, &uc);
	EXPECT_EQ(*(uint32_t *)want, (uint32_t)uc.args[0]) TH_LOG("read before the writes");
	EXPECT_EQ(*(uint32_t *)(want + 4), (uint32_t)uc.args[1]);
	EXPECT_EQ(*(uint32_t *)want, (uint32_t)uc.args[3]) TH_LOG("read after the write");
	/* The host writes its memory: the guest sees it (no copy anywhere). */
	rom[4] = 0xab;
	run_mmio(_metadata, self->vcpu, ROM_GPA, NULL, 0, UCALL_SYNC, &uc);
	EXPECT_EQ((*(uint32_t *)(want + 4) & ~0xffu) | 0xab, (uint32_t)uc.args[1]);
	HVT_RUN_EXPECT_DONE(self->vcpu);
	rom[4] = want[4];
	EXPECT_EQ(0, memcmp(want, rom, ROM_SIZE)) TH_LOG("the guest changed read-only memory");
	munmap(rom, ROM_SIZE);
}

/* ---------------------------------------------------------------------------
 * 64-bit only, in C
 */

FIXTURE(mmio64) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_SETUP(mmio64)
{
	HVT_SETUP_VM_VCPU(HVT_VM_PC_HOLE);
}

FIXTURE_TEARDOWN(mmio64)
{
	hvt_vm_free(self->vm);
}

#define ENTER_C(fn, a0, a1) do {						\
	int __r = hvt_vcpu_enter_c(self->vcpu, (void *)(fn), (a0), (a1));	\
	ASSERT_EQ(0, __r) TH_LOG("enter: %s", strerror(-__r));			\
} while (0)

/* The guest checks every value itself; the host checks the accesses. */
GUEST_CODE static void guest_loads64(uint64_t base)
{
	uint64_t v;

	asm volatile("mov (%1), %0" : "=r"(v) : "r"(base) : "memory");
	GUEST_ASSERT_EQ(v, 0x8786858483828180ull);
	v = ~0ull;
	asm volatile("movl 4(%1), %k0" : "+r"(v) : "r"(base) : "memory");
	GUEST_ASSERT_EQ(v, 0x87868584ull);		/* 32-bit load zero-extends */
	asm volatile("movslq 4(%1), %0" : "=r"(v) : "r"(base) : "memory");
	GUEST_ASSERT_EQ(v, 0xffffffff87868584ull);	/* MOVSXD */
	asm volatile("movsbq 1(%1), %0" : "=r"(v) : "r"(base) : "memory");
	GUEST_ASSERT_EQ(v, 0xffffffffffffff81ull);
	asm volatile("movswq 2(%1), %0" : "=r"(v) : "r"(base) : "memory");
	GUEST_ASSERT_EQ(v, 0xffffffffffff8382ull);
	v = ~0ull;
	asm volatile("movzbl 3(%1), %k0" : "+r"(v) : "r"(base) : "memory");
	GUEST_ASSERT_EQ(v, 0x83ull);
	v = ~0ull;
	asm volatile("movzwq 6(%1), %0" : "+r"(v) : "r"(base) : "memory");
	GUEST_ASSERT_EQ(v, 0x8786ull);
	/* REX registers, as destination and as index. */
	asm volatile("mov $1, %%r11\n\t"
		     "mov 8(%1,%%r11,8), %%r14\n\t"
		     "mov %%r14, %0" : "=r"(v) : "r"(base) : "r11", "r14", "memory");
	GUEST_ASSERT_EQ(v, 0x9796959493929190ull);
	/* MOV RAX, moffs64 (A1 with a 64-bit address). */
	asm volatile("movabs 0xb0008, %%rax" : "=a"(v) : : "memory");
	GUEST_ASSERT_EQ(v, 0x8f8e8d8c8b8a8988ull);
	GUEST_DONE();
}

TEST_F(mmio64, loads)
{
	static const struct mmio_op ops[] = {
		RD(0, 8), RD(4, 4), RD(4, 4), RD(1, 1), RD(2, 2), RD(3, 1), RD(6, 2),
		RD(16, 8), RD(8, 8),
	};
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_loads64, MMIO_GPA, 0);
	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops, ARRAY_SIZE(ops), UCALL_DONE, &uc);
}

GUEST_CODE static void guest_stores64(uint64_t base)
{
	asm volatile("mov %0, (%1)" : : "r"(0x1122334455667788ull), "r"(base) : "memory");
	asm volatile("movq $-2, 8(%0)" : : "r"(base) : "memory");
	asm volatile("movl $0x89abcdef, 16(%0)" : : "r"(base) : "memory");
	asm volatile("mov $0x42, %%r9d\n\t"
		     "mov %%r9b, 24(%0)" : : "r"(base) : "r9", "memory");
	asm volatile("mov $0xa1a2a3a4a5a6a7a8, %%rax\n\t"
		     "movabs %%rax, 0xb0020" : : : "rax", "memory");
	GUEST_DONE();
}

TEST_F(mmio64, stores)
{
	static const struct mmio_op ops[] = {
		WR(0, 8, 0x1122334455667788ull),
		WR(8, 8, 0xfffffffffffffffeull),	/* imm32 sign-extended */
		WR(16, 4, 0x89abcdef),
		WR(24, 1, 0x42),
		WR(32, 8, 0xa1a2a3a4a5a6a7a8ull),
	};
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_stores64, MMIO_GPA, 0);
	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops, ARRAY_SIZE(ops), UCALL_DONE, &uc);
}

/* Above 4 GiB: the address must reach userspace whole. */
GUEST_CODE static void guest_high(uint64_t base)
{
	uint64_t v;

	asm volatile("movl (%1), %k0" : "=r"(v) : "r"(base) : "memory");
	GUEST_ASSERT_EQ(v, 0x83828180ull);
	asm volatile("movw $0x1234, 0x7e(%0)" : : "r"(base) : "memory");
	GUEST_DONE();
}

TEST_F(mmio64, above_4g)
{
	static const struct mmio_op ops[] = { RD(0, 4), WR(0x7e, 2, 0x1234) };
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	ENTER_C(guest_high, HIGH_MMIO_GPA, 0);
	run_mmio(_metadata, self->vcpu, HIGH_MMIO_GPA, ops, ARRAY_SIZE(ops), UCALL_DONE, &uc);
}

/* REP MOVSQ RAM -> MMIO with 64-bit RSI/RDI/RCX. */
GUEST_CODE static void guest_movsq(uint64_t base, uint64_t src)
{
	uint64_t rcx = 2, rsi = src, rdi = base;

	asm volatile("cld\n\trep movsq" : "+c"(rcx), "+S"(rsi), "+D"(rdi) : : "memory");
	GUEST_ASSERT_EQ(rcx, 0);
	GUEST_ASSERT_EQ(rsi, src + 16);
	GUEST_ASSERT_EQ(rdi, base + 16);
	GUEST_DONE();
}

TEST_F(mmio64, rep_movsq_to_mmio)
{
	static const struct mmio_op ops[] = {
		WR(0, 8, 0x0807060504030201ull), WR(8, 8, 0x100f0e0d0c0b0a09ull),
	};
	uint8_t *ram;
	struct ucall uc;
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	ram = hvt_gpa2hva(self->vm, RAW_DATA, 16);
	for (i = 0; i < 16; i++)
		ram[i] = i + 1;
	ENTER_C(guest_movsq, HIGH_MMIO_GPA, RAW_DATA);
	run_mmio(_metadata, self->vcpu, HIGH_MMIO_GPA, ops, ARRAY_SIZE(ops), UCALL_DONE, &uc);
}

/*
 * The 8-byte string forms: STOSQ, REP STOSQ, MOVSQ both ways and REP
 * MOVSQ from MMIO.  RAM is the scratch page at RAW_DATA.  Device bytes at
 * offset o of MMIO_GPA read as 0x80 + o (mmio_byte(), o < 128).
 */
GUEST_CODE static void guest_strings64(uint64_t base, uint64_t ram)
{
	volatile uint64_t *r = (volatile uint64_t *)ram;
	uint64_t rdi = base, rsi, rcx;

	asm volatile("cld\n\tstosq" : "+D"(rdi) : "a"(0x1122334455667788ull) : "memory");
	GUEST_ASSERT_EQ(rdi, base + 8);
	rcx = 2;
	asm volatile("rep stosq" : "+D"(rdi), "+c"(rcx) : "a"(0xa5a4a3a2a1a0a9a8ull) : "memory");
	GUEST_ASSERT_EQ(rcx, 0);
	GUEST_ASSERT_EQ(rdi, base + 24);
	/* MOVSQ RAM -> MMIO. */
	rsi = ram;
	asm volatile("movsq" : "+S"(rsi), "+D"(rdi) : : "memory");
	GUEST_ASSERT_EQ(rsi, ram + 8);
	GUEST_ASSERT_EQ(rdi, base + 32);
	/* MOVSQ MMIO -> RAM. */
	rsi = base + 32;
	rdi = ram + 8;
	asm volatile("movsq" : "+S"(rsi), "+D"(rdi) : : "memory");
	GUEST_ASSERT_EQ(rsi, base + 40);
	GUEST_ASSERT_EQ(rdi, ram + 16);
	GUEST_ASSERT_EQ(r[1], 0xa7a6a5a4a3a2a1a0ull);
	/* REP MOVSQ MMIO -> RAM. */
	rcx = 2;
	asm volatile("rep movsq" : "+S"(rsi), "+D"(rdi), "+c"(rcx) : : "memory");
	GUEST_ASSERT_EQ(rcx, 0);
	GUEST_ASSERT_EQ(rsi, base + 56);
	GUEST_ASSERT_EQ(rdi, ram + 32);
	GUEST_ASSERT_EQ(r[2], 0xafaeadacabaaa9a8ull);
	GUEST_ASSERT_EQ(r[3], 0xb7b6b5b4b3b2b1b0ull);
	GUEST_ASSERT_EQ(r[4], 0xccccccccccccccccull);
	GUEST_DONE();
}

TEST_F(mmio64, string_forms_8_bytes)
{
	static const struct mmio_op ops[] = {
		WR(0, 8, 0x1122334455667788ull),			/* STOSQ */
		WR(8, 8, 0xa5a4a3a2a1a0a9a8ull), WR(16, 8, 0xa5a4a3a2a1a0a9a8ull), /* REP STOSQ */
		WR(24, 8, 0x0807060504030201ull),			/* MOVSQ to MMIO */
		RD(32, 8),						/* MOVSQ from MMIO */
		RD(40, 8), RD(48, 8),					/* REP MOVSQ from MMIO */
	};
	uint64_t *ram;
	struct ucall uc;
	unsigned int i;

	HVT_SKIPPED_IN_SETUP();
	ram = hvt_gpa2hva(self->vm, RAW_DATA, 48);
	memset(ram, 0xcc, 48);
	for (i = 0; i < 8; i++)
		((uint8_t *)ram)[i] = i + 1;
	ENTER_C(guest_strings64, MMIO_GPA, RAW_DATA);
	run_mmio(_metadata, self->vcpu, MMIO_GPA, ops, ARRAY_SIZE(ops), UCALL_DONE, &uc);
	EXPECT_EQ(mmio_value(MMIO_GPA + 32, 8), ram[1]);
	EXPECT_EQ(mmio_value(MMIO_GPA + 40, 8), ram[2]);
	EXPECT_EQ(mmio_value(MMIO_GPA + 48, 8), ram[3]);
	EXPECT_EQ(0xccccccccccccccccull, ram[4]) TH_LOG("one qword too many");
}

TEST_HARNESS_MAIN
