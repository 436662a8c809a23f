// SPDX-License-Identifier: GPL-2.0
/*
 * test_decode.c - unit test of the MMIO/length decoder (module/decode.c),
 * compiled into this program and run on the build host.
 *
 * Each vector is an encoding with the length, kind and operands the Intel
 * SDM Vol. 2 / AMD APM Vol. 3 give for it.  The lengths are also checked
 * against GNU objdump (`make -C selftests/unit xcheck` runs this program
 * with --objdump), so they are not only this file's belief.
 *
 *   test_decode              run every test, TAP-style output
 *   test_decode --objdump    compare each decodable vector's length with
 *                            objdump's and print objdump's disassembly
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kshim.h"
#include "alu.c"
#include "decode.c"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define R16	HV_MODE_REAL
#define P16	HV_MODE_PROT16
#define P32	HV_MODE_PROT32
#define L64	HV_MODE_LONG64

static const char *const mode_name[] = { "real", "prot16", "prot32", "long64" };

/* Optional fields are checked when non-zero; enum values are stored +1. */
struct vec {
	const char *what;	/* objdump's AT&T spelling, for the reader */
	enum hv_cpu_mode mode;
	const u8 *bytes;
	unsigned int n;
	int ret;		/* hv_decode() */
	int mret;		/* hv_decode_mmio() */
	u8 len;
	enum hv_insn_kind kind;
	/* operands, checked for every kind but OTHER */
	u8 size;
	bool wr;
	u8 reg;
	bool hi;
	u8 dst;			/* loads: 0 means == size */
	u8 ext;
	bool src_imm;
	bool rmw;		/* memory written back after the read */
	/* optional */
	u8 alu1;		/* enum hv_alu_op + 1; also checks mem_first */
	bool mfirst;
	u8 seg1;		/* enum hv_seg + 1 */
	u8 osz, asz;
	bool rep, rip, port_dx, has_mem;
	u8 ctl1;		/* ctl + 1 */
	bool chk_disp, chk_data;
	s64 disp;
	u64 data;		/* hv_insn_store_data() with pattern regs */
	/* why objdump's length differs from the CPU's, for --objdump */
	const char *objdump_differs;
};

#define B(s)		.bytes = (const u8 *)(s), .n = sizeof(s) - 1
#define NOT_MMIO	.mret = -EOPNOTSUPP
#define ERR(e)		.ret = (e), .mret = (e)
#define SEG(s)		.seg1 = HV_SEG_##s + 1
#define DISP(v)		.chk_disp = true, .disp = (v)
#define DATA(v)		.chk_data = true, .data = (v)
#define MOV		HV_INSN_MOV
/* An ALU-family vector: kind, operation, memory as first operand or not. */
#define ALU(op, first)	.kind = HV_INSN_ALU, .alu1 = HV_ALU_##op + 1, .mfirst = (first)

/*
 * Register pattern for store data: GPR i (encoding order) holds
 * fedcba98_7654 (i+1) (0x10+i), so AL=10 AH=01 CL=11 CH=02 SPL=14 BH=04
 * R15B=1f, ECX=76540211 and so on.
 */
static u64 pat(unsigned int i)
{
	return 0xfedcba9876540000ull | ((u64)(i + 1) << 8) | (0x10 + i);
}

static void pattern_regs(struct hvlab_regs *regs)
{
	unsigned int i;

	memset(regs, 0, sizeof(*regs));
	for (i = 0; i < HV_NR_GPRS; i++)
		*hv_gpr(regs, i) = pat(i);
}

static const struct vec vecs[] = {
	/* ---- 64-bit mode: MOV loads and stores, REX */
	{ "mov (%rax),%ecx", L64, B("\x8b\x08"), .len = 2, .kind = MOV,
	  .size = 4, .reg = HV_GPR_RCX, .osz = 4, .asz = 8, SEG(DS) },
	{ "mov (%rax),%rcx", L64, B("\x48\x8b\x08"), .len = 3, .kind = MOV,
	  .size = 8, .reg = HV_GPR_RCX },
	{ "mov (%rax),%r9", L64, B("\x4c\x8b\x08"), .len = 3, .kind = MOV,
	  .size = 8, .reg = HV_GPR_R9 },
	{ "mov (%rax),%r9d", L64, B("\x44\x8b\x08"), .len = 3, .kind = MOV,
	  .size = 4, .reg = HV_GPR_R9 },
	{ "mov (%r8),%ecx", L64, B("\x41\x8b\x08"), .len = 3, .kind = MOV,
	  .size = 4, .reg = HV_GPR_RCX },
	{ "mov %ecx,(%rax)", L64, B("\x89\x08"), .len = 2, .kind = MOV,
	  .size = 4, .wr = true, .reg = HV_GPR_RCX, DATA(0x76540211) },
	{ "mov %cx,(%rax)", L64, B("\x66\x89\x08"), .len = 3, .kind = MOV,
	  .size = 2, .wr = true, .reg = HV_GPR_RCX, .osz = 2, DATA(0x0211) },
	{ "mov %rcx,(%rax) (66 then REX.W: W wins)", L64, B("\x66\x48\x89\x08"),
	  .len = 4, .kind = MOV, .size = 8, .wr = true, .reg = HV_GPR_RCX,
	  DATA(0xfedcba9876540211ull) },
	{ "rex.W mov %cx,(%rax) (REX before 66 is ignored)", L64,
	  B("\x48\x66\x89\x08"), .len = 4, .kind = MOV, .size = 2, .wr = true,
	  .reg = HV_GPR_RCX, DATA(0x0211),
	  .objdump_differs = "objdump prints an ignored REX as an instruction" },
	{ "mov %ah,(%rax)", L64, B("\x88\x20"), .len = 2, .kind = MOV,
	  .size = 1, .wr = true, .reg = HV_GPR_RAX, .hi = true, DATA(0x01) },
	{ "mov %spl,(%rax) (REX 40)", L64, B("\x40\x88\x20"), .len = 3,
	  .kind = MOV, .size = 1, .wr = true, .reg = HV_GPR_RSP, DATA(0x14) },
	{ "mov %r15b,(%rax)", L64, B("\x44\x88\x38"), .len = 3, .kind = MOV,
	  .size = 1, .wr = true, .reg = HV_GPR_R15, DATA(0x1f) },
	{ "mov (%rsp),%bh", L64, B("\x8a\x3c\x24"), .len = 3, .kind = MOV,
	  .size = 1, .reg = HV_GPR_RBX, .hi = true, SEG(SS) },
	{ "mov (%rsp),%dil", L64, B("\x40\x8a\x3c\x24"), .len = 4, .kind = MOV,
	  .size = 1, .reg = HV_GPR_RDI, SEG(SS) },
	{ "mov 0x12345678(%rip),%eax", L64, B("\x8b\x05\x78\x56\x34\x12"),
	  .len = 6, .kind = MOV, .size = 4, .rip = true, DISP(0x12345678) },
	{ "mov 0x12345678(%eip),%eax", L64, B("\x67\x8b\x05\x78\x56\x34\x12"),
	  .len = 7, .kind = MOV, .size = 4, .rip = true, .asz = 4 },
	{ "mov 0xfffffffffee00000,%eax (SIB, no base, no index)", L64,
	  B("\x8b\x04\x25\x00\x00\xe0\xfe"), .len = 7, .kind = MOV, .size = 4,
	  DISP((s64)0xfffffffffee00000ull) },
	{ "mov 0x1000(,%r12,1),%eax (REX.X: index 100 is r12)", L64,
	  B("\x42\x8b\x04\x25\x00\x10\x00\x00"), .len = 8, .kind = MOV,
	  .size = 4 },
	{ "mov 0x0(%r13),%eax (r13 base needs mod 01)", L64,
	  B("\x41\x8b\x45\x00"), .len = 4, .kind = MOV, .size = 4, SEG(DS) },
	{ "mov -0x8(%rbp),%eax", L64, B("\x8b\x45\xf8"), .len = 3, .kind = MOV,
	  .size = 4, SEG(SS), DISP(-8) },
	{ "mov 0x100(%rax,%rcx,4),%rax", L64,
	  B("\x48\x8b\x84\x88\x00\x01\x00\x00"), .len = 8, .kind = MOV,
	  .size = 8, DISP(0x100) },
	{ "mov %fs:0x28,%rax", L64, B("\x64\x48\x8b\x04\x25\x28\x00\x00\x00"),
	  .len = 9, .kind = MOV, .size = 8, SEG(FS) },
	{ "cs mov (%rax),%eax (CS override ignored)", L64, B("\x2e\x8b\x00"),
	  .len = 3, .kind = MOV, .size = 4, SEG(DS) },
	{ "mov %gs:0x0(%rbp),%eax (override beats SS)", L64, B("\x65\x8b\x45\x00"),
	  .len = 4, .kind = MOV, .size = 4, SEG(GS) },

	/* ---- 64-bit: MOV imm, moffs, MOVZX/MOVSX/MOVSXD */
	{ "movl $0x12345678,(%rax)", L64, B("\xc7\x00\x78\x56\x34\x12"),
	  .len = 6, .kind = MOV, .size = 4, .wr = true, .src_imm = true,
	  DATA(0x12345678) },
	{ "movq $0xffffffffffffffff,(%rax)", L64, B("\x48\xc7\x00\xff\xff\xff\xff"),
	  .len = 7, .kind = MOV, .size = 8, .wr = true, .src_imm = true,
	  DATA(~0ull) },
	{ "movq $0x7fffffff,(%rax)", L64, B("\x48\xc7\x00\xff\xff\xff\x7f"),
	  .len = 7, .kind = MOV, .size = 8, .wr = true, .src_imm = true,
	  DATA(0x7fffffff) },
	{ "movw $0x1234,(%rax)", L64, B("\x66\xc7\x00\x34\x12"), .len = 5,
	  .kind = MOV, .size = 2, .wr = true, .src_imm = true, DATA(0x1234) },
	{ "movb $0xab,0x10(%rax)", L64, B("\xc6\x40\x10\xab"), .len = 4,
	  .kind = MOV, .size = 1, .wr = true, .src_imm = true, DATA(0xab) },
	{ "movl $0x1,0x100(%rax)", L64,
	  B("\xc7\x80\x00\x01\x00\x00\x01\x00\x00\x00"), .len = 10, .kind = MOV,
	  .size = 4, .wr = true, .src_imm = true, DATA(1) },
	{ "movabs 0x1122334455667788,%eax", L64,
	  B("\xa1\x88\x77\x66\x55\x44\x33\x22\x11"), .len = 9, .kind = MOV,
	  .size = 4, .reg = HV_GPR_RAX, .asz = 8, DISP(0x1122334455667788) },
	{ "movabs %rax,0x1122334455667788", L64,
	  B("\x48\xa3\x88\x77\x66\x55\x44\x33\x22\x11"), .len = 10, .kind = MOV,
	  .size = 8, .wr = true, .reg = HV_GPR_RAX, DATA(0xfedcba9876540110ull) },
	{ "addr32 mov 0x12345678,%al (67: 4-byte moffs)", L64,
	  B("\x67\xa0\x78\x56\x34\x12"), .len = 6, .kind = MOV, .size = 1,
	  .reg = HV_GPR_RAX, .asz = 4, DISP(0x12345678) },
	{ "mov %ax,%gs:0x1000 (65 66 a3, 8-byte moffs)", L64,
	  B("\x65\x66\xa3\x00\x10\x00\x00\x00\x00\x00\x00"), .len = 11,
	  .kind = MOV, .size = 2, .wr = true, SEG(GS), DATA(0x0110) },
	{ "movzbl (%rax),%eax", L64, B("\x0f\xb6\x00"), .len = 3, .kind = MOV,
	  .size = 1, .dst = 4, .ext = HV_EXT_ZERO },
	{ "movzwq (%rax),%rcx", L64, B("\x48\x0f\xb7\x08"), .len = 4,
	  .kind = MOV, .size = 2, .dst = 8, .reg = HV_GPR_RCX,
	  .ext = HV_EXT_ZERO },
	{ "movsbl (%rax),%ecx", L64, B("\x0f\xbe\x08"), .len = 3, .kind = MOV,
	  .size = 1, .dst = 4, .reg = HV_GPR_RCX, .ext = HV_EXT_SIGN },
	{ "movsbw (%rax),%cx", L64, B("\x66\x0f\xbe\x08"), .len = 4,
	  .kind = MOV, .size = 1, .dst = 2, .reg = HV_GPR_RCX,
	  .ext = HV_EXT_SIGN },
	{ "movswq 0x10(%rbx),%r10", L64, B("\x4c\x0f\xbf\x53\x10"), .len = 5,
	  .kind = MOV, .size = 2, .dst = 8, .reg = HV_GPR_R10,
	  .ext = HV_EXT_SIGN },
	{ "movslq (%rax),%rcx", L64, B("\x48\x63\x08"), .len = 3, .kind = MOV,
	  .size = 4, .dst = 8, .reg = HV_GPR_RCX, .ext = HV_EXT_SIGN },
	{ "movsxd (%rax),%ecx (no REX.W: plain 32-bit)", L64, B("\x63\x08"),
	  .len = 2, .kind = MOV, .size = 4, .reg = HV_GPR_RCX },

	/* ---- 64-bit: string, CMP/TEST, unsupported and non-MMIO */
	{ "rep movsq", L64, B("\xf3\x48\xa5"), .len = 3, .kind = HV_INSN_MOVS,
	  .size = 8, .rep = true, .asz = 8, .has_mem = true, SEG(DS) },
	{ "rep stos %al,%es:(%rdi)", L64, B("\xf3\xaa"), .len = 2,
	  .kind = HV_INSN_STOS, .size = 1, .wr = true, .rep = true, SEG(ES),
	  DATA(0x10) },
	{ "rep stos %eax,%es:(%edi) (67)", L64, B("\x67\xf3\xab"), .len = 3,
	  .kind = HV_INSN_STOS, .size = 4, .wr = true, .rep = true, .asz = 4 },
	{ "lods %ds:(%rsi),%ax", L64, B("\x66\xad"), .len = 2,
	  .kind = HV_INSN_LODS, .size = 2 },
	{ "movsb %fs:(%rsi),%es:(%rdi)", L64, B("\x64\xa4"), .len = 2,
	  .kind = HV_INSN_MOVS, .size = 1, SEG(FS) },
	{ "cmp (%rax),%ecx", L64, B("\x3b\x08"), .len = 2, .kind = HV_INSN_CMP,
	  .size = 4, .reg = HV_GPR_RCX },
	{ "cmpb $0x5,(%rax)", L64, B("\x80\x38\x05"), .len = 3,
	  .kind = HV_INSN_CMP, .size = 1, .src_imm = true },
	{ "cmpq $0xffffffffffffffff,0x8(%rax)", L64, B("\x48\x83\x78\x08\xff"),
	  .len = 5, .kind = HV_INSN_CMP, .size = 8, .src_imm = true },
	{ "testb $0x1,(%rax)", L64, B("\xf6\x00\x01"), .len = 3,
	  .kind = HV_INSN_TEST, .size = 1, .src_imm = true },
	{ "testl $0x80000000,0x4(%rdx)", L64, B("\xf7\x42\x04\x00\x00\x00\x80"),
	  .len = 7, .kind = HV_INSN_TEST, .size = 4, .src_imm = true },
	{ "test %ecx,(%rax)", L64, B("\x85\x08"), .len = 2,
	  .kind = HV_INSN_TEST, .size = 4, .reg = HV_GPR_RCX },

	/* ---- 64-bit: read-modify-write forms (SDM Vol. 2A/2B, each page) */
	{ "add %ecx,(%rax)", L64, B("\x01\x08"), .len = 2, ALU(ADD, true),
	  .size = 4, .reg = HV_GPR_RCX, .rmw = true, .has_mem = true },
	{ "add (%rax),%ecx (register destination: read only)", L64,
	  B("\x03\x08"), .len = 2, ALU(ADD, false), .size = 4, .reg = HV_GPR_RCX },
	{ "lock orl $0x1,0x10(%rax)", L64, B("\xf0\x83\x48\x10\x01"), .len = 5,
	  ALU(OR, true), .size = 4, .src_imm = true, .rmw = true },
	{ "lock add (%rax),%ecx (#UD: register destination)", L64,
	  B("\xf0\x03\x08"), .len = 3, ALU(ADD, false), .mret = -EINVAL,
	  .size = 4, .reg = HV_GPR_RCX },
	{ "adc %ah,(%rbx)", L64, B("\x10\x23"), .len = 2, ALU(ADC, true),
	  .size = 1, .reg = HV_GPR_RAX, .hi = true, .rmw = true },
	{ "adc %spl,(%rbx) (REX: SPL, not AH)", L64, B("\x40\x10\x23"), .len = 3,
	  ALU(ADC, true), .size = 1, .reg = HV_GPR_RSP, .rmw = true },
	{ "sbb %r9,(%rax)", L64, B("\x4c\x19\x08"), .len = 3, ALU(SBB, true),
	  .size = 8, .reg = HV_GPR_R9, .rmw = true },
	{ "andw $0x1234,(%rax)", L64, B("\x66\x81\x20\x34\x12"), .len = 5,
	  ALU(AND, true), .size = 2, .src_imm = true, .rmw = true },
	{ "subq $0xffffffffffffffff,(%rax) (imm32, sign-extended)", L64,
	  B("\x48\x81\x28\xff\xff\xff\xff"), .len = 7, ALU(SUB, true),
	  .size = 8, .src_imm = true, .rmw = true },
	{ "subl $0xffffff80,(%rax) (83: imm8, sign-extended)", L64,
	  B("\x83\x28\x80"), .len = 3, ALU(SUB, true), .size = 4,
	  .src_imm = true, .rmw = true },
	{ "xor (%rax),%dl", L64, B("\x32\x10"), .len = 2, ALU(XOR, false),
	  .size = 1, .reg = HV_GPR_RDX },
	{ "lock cmp %ecx,(%rax) (#UD)", L64, B("\xf0\x39\x08"), .len = 3,
	  .kind = HV_INSN_CMP, .mret = -EINVAL, .size = 4, .reg = HV_GPR_RCX },
	{ "lock test %ecx,(%rax) (#UD)", L64, B("\xf0\x85\x08"), .len = 3,
	  .kind = HV_INSN_TEST, .mret = -EINVAL, .size = 4, .reg = HV_GPR_RCX },
	{ "incl (%rax)", L64, B("\xff\x00"), .len = 2, ALU(INC, true),
	  .size = 4, .rmw = true },
	{ "lock decb (%rax)", L64, B("\xf0\xfe\x08"), .len = 3, ALU(DEC, true),
	  .size = 1, .rmw = true },
	{ "notw (%rax)", L64, B("\x66\xf7\x10"), .len = 3, ALU(NOT, true),
	  .size = 2, .rmw = true },
	{ "negq 0x8(%rax)", L64, B("\x48\xf7\x58\x08"), .len = 4, ALU(NEG, true),
	  .size = 8, .rmw = true },
	{ "mull (%rax) (unsupported)", L64, B("\xf7\x20"), .len = 2, NOT_MMIO },
	{ "xchg %ecx,(%rax)", L64, B("\x87\x08"), .len = 2, .kind = HV_INSN_XCHG,
	  .size = 4, .reg = HV_GPR_RCX, .rmw = true },
	{ "xchg %bh,(%rax)", L64, B("\x86\x38"), .len = 2, .kind = HV_INSN_XCHG,
	  .size = 1, .reg = HV_GPR_RBX, .hi = true, .rmw = true },
	{ "lock cmpxchg %cl,(%rax)", L64, B("\xf0\x0f\xb0\x08"), .len = 4,
	  .kind = HV_INSN_CMPXCHG, .size = 1, .reg = HV_GPR_RCX, .rmw = true },
	{ "cmpxchg %r10,(%rax)", L64, B("\x4c\x0f\xb1\x10"), .len = 4,
	  .kind = HV_INSN_CMPXCHG, .size = 8, .reg = HV_GPR_R10, .rmw = true },
	{ "xadd %cx,(%rax)", L64, B("\x66\x0f\xc1\x08"), .len = 4,
	  .kind = HV_INSN_XADD, .size = 2, .reg = HV_GPR_RCX, .rmw = true },
	{ "bt %ecx,(%rax)", L64, B("\x0f\xa3\x08"), .len = 3, ALU(BT, true),
	  .size = 4, .reg = HV_GPR_RCX },
	{ "lock bt %ecx,(%rax) (#UD)", L64, B("\xf0\x0f\xa3\x08"), .len = 4,
	  ALU(BT, true), .mret = -EINVAL, .size = 4, .reg = HV_GPR_RCX },
	{ "bts %cx,(%rax)", L64, B("\x66\x0f\xab\x08"), .len = 4, ALU(BTS, true),
	  .size = 2, .reg = HV_GPR_RCX, .rmw = true },
	{ "lock btr %rcx,(%rax)", L64, B("\xf0\x48\x0f\xb3\x08"), .len = 5,
	  ALU(BTR, true), .size = 8, .reg = HV_GPR_RCX, .rmw = true },
	{ "btc %ecx,(%rax)", L64, B("\x0f\xbb\x08"), .len = 3, ALU(BTC, true),
	  .size = 4, .reg = HV_GPR_RCX, .rmw = true },
	{ "btl $0x5,(%rax)", L64, B("\x0f\xba\x20\x05"), .len = 4, ALU(BT, true),
	  .size = 4, .src_imm = true },
	{ "btsq $0x3f,(%rax)", L64, B("\x48\x0f\xba\x28\x3f"), .len = 5,
	  ALU(BTS, true), .size = 8, .src_imm = true, .rmw = true },
	{ "btcw $0x11,(%rax)", L64, B("\x66\x0f\xba\x38\x11"), .len = 5,
	  ALU(BTC, true), .size = 2, .src_imm = true, .rmw = true },
	{ "add %ecx,%eax (no memory)", L64, B("\x01\xc8"), .len = 2, NOT_MMIO },
	{ "add %bl,(%esi) in 16-bit code", R16, B("\x67\x00\x1e"), .len = 3,
	  ALU(ADD, true), .size = 1, .reg = HV_GPR_RBX, .rmw = true },
	{ "orw $0xff80,(%bx) in 16-bit code (83)", R16, B("\x83\x0f\x80"),
	  .len = 3, ALU(OR, true), .size = 2, .src_imm = true, .rmw = true },
	{ "lock mov %ecx,(%rax) (#UD)", L64, B("\xf0\x89\x08"), .len = 3,
	  .kind = MOV, .mret = -EINVAL, .size = 4, .wr = true,
	  .reg = HV_GPR_RCX },
	{ "mov %ecx,%eax (no memory)", L64, B("\x89\xc8"), .len = 2, NOT_MMIO },
	{ "repz cmpsb (unsupported)", L64, B("\xf3\xa6"), .len = 2, NOT_MMIO,
	  .has_mem = true },
	{ "movabs $0x1122334455667788,%rax", L64,
	  B("\x48\xb8\x88\x77\x66\x55\x44\x33\x22\x11"), .len = 10, NOT_MMIO },
	{ "movups (%rax),%xmm0 (SSE: unsupported)", L64, B("\x0f\x10\x00"),
	  .len = 3, NOT_MMIO },

	/* ---- 64-bit: intercepted instructions (SVM without NRIP) */
	{ "cpuid", L64, B("\x0f\xa2"), .len = 2, NOT_MMIO },
	{ "rdmsr", L64, B("\x0f\x32"), .len = 2, NOT_MMIO },
	{ "wrmsr", L64, B("\x0f\x30"), .len = 2, NOT_MMIO },
	{ "rdtsc", L64, B("\x0f\x31"), .len = 2, NOT_MMIO },
	{ "rdtscp", L64, B("\x0f\x01\xf9"), .len = 3, NOT_MMIO },
	{ "hlt", L64, B("\xf4"), .len = 1, NOT_MMIO },
	{ "vmmcall", L64, B("\x0f\x01\xd9"), .len = 3, NOT_MMIO },
	{ "xsetbv", L64, B("\x0f\x01\xd1"), .len = 3, NOT_MMIO },
	{ "invlpg (%rax)", L64, B("\x0f\x01\x38"), .len = 3, NOT_MMIO },
	{ "invlpg 0x100(%rsp)", L64, B("\x0f\x01\xbc\x24\x00\x01\x00\x00"),
	  .len = 8, NOT_MMIO },
	{ "mov %rax,%cr3", L64, B("\x0f\x22\xd8"), .len = 3,
	  .kind = HV_INSN_MOV_CR, NOT_MMIO, .size = 8, .wr = true,
	  .reg = HV_GPR_RAX, .ctl1 = 3 + 1 },
	{ "mov %cr8,%r9", L64, B("\x45\x0f\x20\xc1"), .len = 4,
	  .kind = HV_INSN_MOV_CR, NOT_MMIO, .size = 8, .reg = HV_GPR_R9,
	  .ctl1 = 8 + 1 },
	{ "mov %cr0,%rax (mod 00 ignored)", L64, B("\x0f\x20\x00"), .len = 3,
	  .kind = HV_INSN_MOV_CR, NOT_MMIO, .size = 8, .ctl1 = 0 + 1 },
	{ "mov %rdx,%db7", L64, B("\x0f\x23\xfa"), .len = 3,
	  .kind = HV_INSN_MOV_DR, NOT_MMIO, .size = 8, .wr = true,
	  .reg = HV_GPR_RDX, .ctl1 = 7 + 1 },
	{ "in (%dx),%al", L64, B("\xec"), .len = 1, .kind = HV_INSN_IN,
	  NOT_MMIO, .size = 1, .port_dx = true },
	{ "in $0x60,%eax", L64, B("\xe5\x60"), .len = 2, .kind = HV_INSN_IN,
	  NOT_MMIO, .size = 4 },
	{ "rex.W in (%dx),%eax (REX.W ignored)", L64, B("\x48\xed"), .len = 2,
	  .kind = HV_INSN_IN, NOT_MMIO, .size = 4, .port_dx = true },
	{ "out %ax,(%dx)", L64, B("\x66\xef"), .len = 2, .kind = HV_INSN_OUT,
	  NOT_MMIO, .size = 2, .wr = true, .port_dx = true, DATA(0x0110) },
	{ "rep insl (%dx),%es:(%rdi)", L64, B("\xf3\x6d"), .len = 2,
	  .kind = HV_INSN_INS, NOT_MMIO, .size = 4, .rep = true, SEG(ES) },
	{ "rep outsw %ds:(%rsi),(%dx)", L64, B("\x66\xf3\x6f"), .len = 3,
	  .kind = HV_INSN_OUTS, NOT_MMIO, .size = 2, .wr = true, .rep = true },
	{ "pop (%rax)", L64, B("\x8f\x00"), .len = 2, NOT_MMIO },
	{ "endbr64", L64, B("\xf3\x0f\x1e\xfa"), .len = 4, NOT_MMIO },
	{ "pshufb (%rax),%xmm0 (0F 38)", L64, B("\x66\x0f\x38\x00\x00"),
	  .len = 5, NOT_MMIO },
	{ "roundss $0x4,0x10(%rax),%xmm1 (0F 3A)", L64,
	  B("\x66\x0f\x3a\x0a\x48\x10\x04"), .len = 7, NOT_MMIO },

	/* ---- 64-bit: refusals */
	{ "VEX3 vbroadcastss (%rax),%xmm0", L64, B("\xc4\xe2\x79\x18\x00"),
	  ERR(-EOPNOTSUPP) },
	{ "VEX2 vmovups (%rax),%xmm0", L64, B("\xc5\xf8\x10\x00"),
	  ERR(-EOPNOTSUPP) },
	{ "EVEX vmovups (%rax),%zmm0", L64, B("\x62\xf1\x7c\x48\x10\x00"),
	  ERR(-EOPNOTSUPP) },
	{ "XOP vpcmov", L64, B("\x8f\xe8\x78\xa2\x00\x10"), ERR(-EOPNOTSUPP) },
	{ "push %es (#UD in 64-bit mode)", L64, B("\x06"), ERR(-EINVAL) },
	{ "movb $0x1,(%rax) with C6 /1 (#UD)", L64, B("\xc6\x08\x01"),
	  ERR(-EINVAL) },
	{ "truncated SIB", L64, B("\x48\x8b\x04"), ERR(-ENODATA) },
	{ "truncated moffs", L64, B("\xa1\x00\x00\x00"), ERR(-ENODATA) },
	{ "REX then nothing", L64, B("\x48"), ERR(-ENODATA) },
	{ "empty", L64, B(""), ERR(-ENODATA) },
	{ "16 bytes: 14 x 66 + mov (%rax),%cx", L64,
	  B("\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x8b\x08"),
	  ERR(-EINVAL) },
	{ "15 bytes: 13 x 66 + mov (%rax),%cx", L64,
	  B("\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x8b\x08"),
	  .len = 15, .kind = MOV, .size = 2, .reg = HV_GPR_RCX },

	/* ---- 32-bit protected mode */
	{ "mov (%eax),%ecx", P32, B("\x8b\x08"), .len = 2, .kind = MOV,
	  .size = 4, .reg = HV_GPR_RCX, .osz = 4, .asz = 4 },
	{ "mov (%eax),%cx", P32, B("\x66\x8b\x08"), .len = 3, .kind = MOV,
	  .size = 2, .reg = HV_GPR_RCX, .osz = 2 },
	{ "mov (%bx,%si),%ecx (67: 16-bit addressing)", P32, B("\x67\x8b\x08"),
	  .len = 3, .kind = MOV, .size = 4, .reg = HV_GPR_RCX, .asz = 2 },
	{ "mov 0x1234,%ecx (67, mod 00 rm 110: disp16)", P32,
	  B("\x67\x8b\x0e\x34\x12"), .len = 5, .kind = MOV, .size = 4,
	  .reg = HV_GPR_RCX, DISP(0x1234) },
	{ "mov 0x12345678,%ecx (mod 00 rm 101: disp32, not RIP)", P32,
	  B("\x8b\x0d\x78\x56\x34\x12"), .len = 6, .kind = MOV, .size = 4,
	  .reg = HV_GPR_RCX, DISP(0x12345678) },
	{ "mov 0x1000(,%ecx,4),%eax", P32, B("\x8b\x04\x8d\x00\x10\x00\x00"),
	  .len = 7, .kind = MOV, .size = 4 },
	{ "mov %bh,0x0", P32, B("\x88\x3d\x00\x00\x00\x00"), .len = 6,
	  .kind = MOV, .size = 1, .wr = true, .reg = HV_GPR_RBX, .hi = true,
	  DATA(0x04) },
	{ "dec %eax (48 is not REX outside 64-bit mode)", P32,
	  B("\x48\x8b\x08"), .len = 1, NOT_MMIO },
	{ "mov 0x12345678,%eax", P32, B("\xa1\x78\x56\x34\x12"), .len = 5,
	  .kind = MOV, .size = 4, DISP(0x12345678) },
	{ "mov 0x12345678,%ax", P32, B("\x66\xa1\x78\x56\x34\x12"), .len = 6,
	  .kind = MOV, .size = 2 },
	{ "addr16 mov 0x1234,%eax", P32, B("\x67\xa1\x34\x12"), .len = 4,
	  .kind = MOV, .size = 4, .asz = 2, DISP(0x1234) },
	{ "mov %es:(%eax),%eax", P32, B("\x26\x8b\x00"), .len = 3, .kind = MOV,
	  .size = 4, SEG(ES) },
	{ "mov 0x0(%ebp),%eax (SS by default)", P32, B("\x8b\x45\x00"),
	  .len = 3, .kind = MOV, .size = 4, SEG(SS) },
	{ "mov %ds:0x0(%ebp),%eax", P32, B("\x3e\x8b\x45\x00"), .len = 4,
	  .kind = MOV, .size = 4, SEG(DS) },
	{ "movw $0xabcd,0x10(%esi,%edi,2)", P32,
	  B("\x66\xc7\x44\x7e\x10\xcd\xab"), .len = 7, .kind = MOV, .size = 2,
	  .wr = true, .src_imm = true, DATA(0xabcd) },
	{ "movzwl 0x8(%ebx),%edx", P32, B("\x0f\xb7\x53\x08"), .len = 4,
	  .kind = MOV, .size = 2, .dst = 4, .reg = HV_GPR_RDX,
	  .ext = HV_EXT_ZERO },
	{ "arpl %cx,(%eax) (63 outside 64-bit mode)", P32, B("\x63\x08"),
	  .len = 2, NOT_MMIO },
	{ "rep movsl", P32, B("\xf3\xa5"), .len = 2, .kind = HV_INSN_MOVS,
	  .size = 4, .rep = true, .asz = 4 },
	{ "les (%eax),%ecx", P32, B("\xc4\x08"), .len = 2, NOT_MMIO },
	{ "VEX vzeroupper (C5, mod 11)", P32, B("\xc5\xf8\x77"),
	  ERR(-EOPNOTSUPP) },
	{ "bound %ecx,(%eax)", P32, B("\x62\x08"), .len = 2, NOT_MMIO },
	{ "mov %cr0,%eax", P32, B("\x0f\x20\xc0"), .len = 3,
	  .kind = HV_INSN_MOV_CR, NOT_MMIO, .size = 4, .ctl1 = 0 + 1 },
	{ "lock mov %cr0,%eax = mov %cr8,%eax (AMD)", P32,
	  B("\xf0\x0f\x20\xc0"), .len = 4, .kind = HV_INSN_MOV_CR, NOT_MMIO,
	  .size = 4, .ctl1 = 8 + 1 },
	{ "lcall $0x1000,$0x12345678", P32, B("\x9a\x78\x56\x34\x12\x00\x10"),
	  .len = 7, NOT_MMIO },
	{ "lcallw $0x1000,$0x1234", P32, B("\x66\x9a\x34\x12\x00\x10"),
	  .len = 6, NOT_MMIO },
	{ "enter $0x10,$0x1", P32, B("\xc8\x10\x00\x01"), .len = 4, NOT_MMIO },
	{ "pfadd %mm0,%mm0 (3DNow! suffix)", P32, B("\x0f\x0f\xc0\x9e"),
	  .len = 4, NOT_MMIO },
	{ "extrq $0x2,$0x1,%xmm0 (66 0F 78 ib ib)", P32,
	  B("\x66\x0f\x78\xc0\x01\x02"), .len = 6, NOT_MMIO },
	{ "vmread %eax,(%ecx) (0F 78 without 66)", P32, B("\x0f\x78\x01"),
	  .len = 3, NOT_MMIO },
	{ "jne rel32", P32, B("\x0f\x85\x00\x01\x00\x00"), .len = 6, NOT_MMIO },
	{ "out %al,$0x80", P32, B("\xe6\x80"), .len = 2, .kind = HV_INSN_OUT,
	  NOT_MMIO, .size = 1, .wr = true, DATA(0x10) },

	/* ---- 16-bit: real mode and 16-bit protected mode */
	{ "mov (%bx),%ax", R16, B("\x8b\x07"), .len = 2, .kind = MOV,
	  .size = 2, .osz = 2, .asz = 2, SEG(DS) },
	{ "mov 0x1234,%cx (mod 00 rm 110: disp16)", R16, B("\x8b\x0e\x34\x12"),
	  .len = 4, .kind = MOV, .size = 2, .reg = HV_GPR_RCX, DISP(0x1234) },
	{ "mov -0x2(%bp),%ax (SS)", R16, B("\x8b\x46\xfe"), .len = 3,
	  .kind = MOV, .size = 2, SEG(SS), DISP(-2) },
	{ "mov (%bp,%si),%ax (SS)", P16, B("\x8b\x02"), .len = 2, .kind = MOV,
	  .size = 2, SEG(SS) },
	{ "mov 0x1234(%bx,%di),%dl", R16, B("\x8a\x91\x34\x12"), .len = 4,
	  .kind = MOV, .size = 1, .reg = HV_GPR_RDX },
	{ "mov (%bx),%eax (66)", R16, B("\x66\x8b\x07"), .len = 3, .kind = MOV,
	  .size = 4, .osz = 4 },
	{ "mov (%esp),%ax (67: SIB)", P16, B("\x67\x8b\x04\x24"), .len = 4,
	  .kind = MOV, .size = 2, .asz = 4, SEG(SS) },
	{ "mov 0x12345678,%ax (67: disp32)", R16,
	  B("\x67\x8b\x05\x78\x56\x34\x12"), .len = 7, .kind = MOV, .size = 2,
	  DISP(0x12345678) },
	{ "mov 0x8000,%al", R16, B("\xa0\x00\x80"), .len = 3, .kind = MOV,
	  .size = 1, .asz = 2, DISP(0x8000) },
	{ "mov 0x12345678,%eax (66 67 moffs)", R16,
	  B("\x67\x66\xa1\x78\x56\x34\x12"), .len = 7, .kind = MOV, .size = 4,
	  .asz = 4 },
	{ "movw $0xabcd,0x1234", R16, B("\xc7\x06\x34\x12\xcd\xab"), .len = 6,
	  .kind = MOV, .size = 2, .wr = true, .src_imm = true, DATA(0xabcd) },
	{ "movl $0x12345678,0x1234", R16,
	  B("\x66\xc7\x06\x34\x12\x78\x56\x34\x12"), .len = 9, .kind = MOV,
	  .size = 4, .wr = true, .src_imm = true, DATA(0x12345678) },
	{ "mov %ah,0x1000", R16, B("\x88\x26\x00\x10"), .len = 4, .kind = MOV,
	  .size = 1, .wr = true, .reg = HV_GPR_RAX, .hi = true, DATA(0x01) },
	{ "mov %al,%es:(%di)", P16, B("\x26\x88\x05"), .len = 3, .kind = MOV,
	  .size = 1, .wr = true, SEG(ES) },
	{ "movzbw (%si),%ax", R16, B("\x0f\xb6\x04"), .len = 3, .kind = MOV,
	  .size = 1, .dst = 2, .ext = HV_EXT_ZERO },
	{ "rep movsb", R16, B("\xf3\xa4"), .len = 2, .kind = HV_INSN_MOVS,
	  .size = 1, .rep = true, .asz = 2 },
	{ "rep stosl %eax,%es:(%edi) (66 67)", R16, B("\x66\x67\xf3\xab"),
	  .len = 4, .kind = HV_INSN_STOS, .size = 4, .wr = true, .rep = true,
	  .asz = 4, SEG(ES) },
	{ "les (%bx),%ax", R16, B("\xc4\x07"), .len = 2, NOT_MMIO },
	{ "C4 C0 in real mode: LES with a register (#UD, no VEX)", R16,
	  B("\xc4\xc0\x00"), ERR(-EINVAL) },
	{ "C4 C0 in 16-bit protected mode: VEX", P16, B("\xc4\xc1\x78\x10\x00"),
	  ERR(-EOPNOTSUPP) },
	{ "call rel16", R16, B("\xe8\x00\x00"), .len = 3, NOT_MMIO },
	{ "calll rel32 (66)", R16, B("\x66\xe8\x00\x00\x00\x00"), .len = 6,
	  NOT_MMIO },
	{ "ljmp $0xf000,$0xe05b", R16, B("\xea\x5b\xe0\x00\xf0"), .len = 5,
	  NOT_MMIO },
	{ "mov %cr0,%eax", R16, B("\x0f\x20\xc0"), .len = 3,
	  .kind = HV_INSN_MOV_CR, NOT_MMIO, .size = 4, .ctl1 = 0 + 1 },
	{ "in $0x71,%al", R16, B("\xe4\x71"), .len = 2, .kind = HV_INSN_IN,
	  NOT_MMIO, .size = 1 },
	{ "cpuid", P16, B("\x0f\xa2"), .len = 2, NOT_MMIO },
	{ "truncated disp16", R16, B("\x8b\x0e\x34"), ERR(-ENODATA) },
};

/* ------------------------------------------------------------------
 * Tiny TAP
 */

static unsigned int nr_test, nr_pass, nr_fail, nr_xfail;

static void result(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void result(bool ok, const char *fmt, ...)
{
	va_list ap;

	nr_test++;
	if (ok)
		nr_pass++;
	else
		nr_fail++;
	printf("%s %u ", ok ? "ok" : "not ok", nr_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static bool check(bool *ok, const char *field, u64 got, u64 want)
{
	if (got == want)
		return true;
	printf("# %s: got %#llx, want %#llx\n", field,
	       (unsigned long long)got, (unsigned long long)want);
	*ok = false;
	return false;
}

static bool is_operand_kind(enum hv_insn_kind kind)
{
	return kind != HV_INSN_OTHER;
}

static bool run_vec(const struct vec *v)
{
	struct hvlab_regs regs;
	struct hv_insn insn, minsn;
	bool ok = true;
	int ret, mret;

	ret = hv_decode(v->bytes, v->n, v->mode, &insn);
	mret = hv_decode_mmio(v->bytes, v->n, v->mode, &minsn);
	check(&ok, "hv_decode", (u64)ret, (u64)v->ret);
	check(&ok, "hv_decode_mmio", (u64)mret, (u64)v->mret);
	check(&ok, "len", insn.len, v->len);
	check(&ok, "mmio len", minsn.len, v->len);
	if (ret)
		return ok;

	check(&ok, "kind", insn.kind, v->kind);
	if (is_operand_kind(v->kind)) {
		check(&ok, "size", insn.size, v->size);
		check(&ok, "is_write", insn.is_write, v->wr);
		check(&ok, "reg", insn.reg, v->reg);
		check(&ok, "high_byte", insn.high_byte, v->hi);
		check(&ok, "src_imm", insn.src_imm, v->src_imm);
		check(&ok, "rmw", insn.rmw, v->rmw);
		if (v->alu1) {
			check(&ok, "alu", insn.alu, v->alu1 - 1u);
			check(&ok, "mem_first", insn.mem_first, v->mfirst);
		}
		if (v->kind == HV_INSN_MOV && !v->wr) {
			check(&ok, "dst_size", insn.dst_size,
			      v->dst ? v->dst : v->size);
			check(&ok, "ext", insn.ext, v->ext);
		}
	}
	if (v->seg1)
		check(&ok, "seg", insn.seg, v->seg1 - 1u);
	if (v->osz)
		check(&ok, "op_size", insn.op_size, v->osz);
	if (v->asz)
		check(&ok, "addr_size", insn.addr_size, v->asz);
	if (v->rep)
		check(&ok, "rep", insn.rep != 0, true);
	if (v->rip)
		check(&ok, "rip_rel", insn.rip_rel, true);
	else
		check(&ok, "rip_rel", insn.rip_rel, false);
	if (v->port_dx)
		check(&ok, "port_dx", insn.port_dx, true);
	if (v->has_mem)
		check(&ok, "has_mem", insn.has_mem, true);
	if (v->ctl1)
		check(&ok, "ctl", insn.ctl, v->ctl1 - 1u);
	if (v->chk_disp)
		check(&ok, "disp", (u64)insn.disp, (u64)v->disp);
	if (v->chk_data) {
		pattern_regs(&regs);
		check(&ok, "store data", hv_insn_store_data(&insn, &regs),
		      v->data);
	}
	return ok;
}

/* ------------------------------------------------------------------
 * Completion: register write-back, flags, string steps, RIP
 */

/* Decode @bytes in @mode, complete with @data on @regs; return retired. */
static bool run(enum hv_cpu_mode mode, const char *bytes, unsigned int n,
		struct hvlab_regs *regs, u64 data, bool *ok)
{
	struct hv_insn insn;
	int err = hv_decode(bytes ? (const u8 *)bytes : NULL, n, mode, &insn);

	if (!check(ok, "decode", (u64)err, 0))
		return false;
	return hv_insn_complete(&insn, regs, data);
}

#define RUN(mode, s, regs, data, ok) run(mode, s, sizeof(s) - 1, regs, data, ok)

static bool t_load32_zero_extends(void)
{
	struct hvlab_regs r = { .rcx = ~0ull, .rip = 0x1000 };
	bool ok = true;

	check(&ok, "retired", RUN(L64, "\x8b\x08", &r, 0x12345678, &ok), true);
	check(&ok, "rcx", r.rcx, 0x12345678);
	check(&ok, "rip", r.rip, 0x1002);
	return ok;
}

static bool t_load16_preserves(void)
{
	struct hvlab_regs r = { .rcx = 0x1111222233334444ull };
	bool ok = true;

	RUN(L64, "\x66\x8b\x08", &r, 0xffffabcd, &ok);
	check(&ok, "rcx", r.rcx, 0x111122223333abcdull);
	return ok;
}

static bool t_load_ah(void)
{
	struct hvlab_regs r = { .rax = 0x1122334455667788ull };
	bool ok = true;

	RUN(L64, "\x8a\x20", &r, 0xab, &ok);
	check(&ok, "rax", r.rax, 0x112233445566ab88ull);
	return ok;
}

static bool t_load_spl(void)
{
	struct hvlab_regs r = { .rax = 0x1122334455667788ull, .rsp = 0x7ffe0000ull };
	bool ok = true;

	RUN(L64, "\x40\x8a\x20", &r, 0xab, &ok);
	check(&ok, "rsp", r.rsp, 0x7ffe00abull);
	check(&ok, "rax untouched", r.rax, 0x1122334455667788ull);
	return ok;
}

static bool t_load64_r9(void)
{
	struct hvlab_regs r = { 0 };
	bool ok = true;

	RUN(L64, "\x4c\x8b\x08", &r, 0x8877665544332211ull, &ok);
	check(&ok, "r9", r.r9, 0x8877665544332211ull);
	return ok;
}

static bool t_movzx_movsx(void)
{
	struct hvlab_regs r = { .rax = ~0ull, .rcx = ~0ull, .rdx = ~0ull };
	bool ok = true;

	RUN(L64, "\x0f\xb6\x00", &r, 0x1ff, &ok);		/* movzbl */
	check(&ok, "movzbl eax", r.rax, 0xff);
	RUN(L64, "\x48\x0f\xbe\x08", &r, 0x80, &ok);		/* movsbq */
	check(&ok, "movsbq rcx", r.rcx, 0xffffffffffffff80ull);
	RUN(L64, "\x0f\xbf\x10", &r, 0x8000, &ok);		/* movswl */
	check(&ok, "movswl edx", r.rdx, 0xffff8000ull);
	r.rdx = 0x1234567890abcdefull;
	RUN(L64, "\x66\x0f\xbe\x10", &r, 0x7f, &ok);		/* movsbw */
	check(&ok, "movsbw dx", r.rdx, 0x1234567890ab007full);
	return ok;
}

static bool t_movsxd(void)
{
	struct hvlab_regs r = { 0 };
	bool ok = true;

	RUN(L64, "\x48\x63\x08", &r, 0x80000000, &ok);
	check(&ok, "rcx", r.rcx, 0xffffffff80000000ull);
	return ok;
}

static bool t_store_no_reg_change(void)
{
	struct hvlab_regs r = { .rcx = 5, .rip = 0x2000 };
	bool ok = true;

	RUN(L64, "\x89\x08", &r, 0xdead, &ok);
	check(&ok, "rcx", r.rcx, 5);
	check(&ok, "rip", r.rip, 0x2002);
	return ok;
}

#define FL(f)	HV_FLAG_##f

static bool t_cmp_flags(void)
{
	struct hvlab_regs r = { .rcx = 1, .rflags = 0x2 };
	bool ok = true;

	/* cmp (%rax),%ecx: ecx - mem = 1 - 2 = 0xffffffff */
	RUN(L64, "\x3b\x08", &r, 2, &ok);
	check(&ok, "1-2", r.rflags, 0x2 | FL(CF) | FL(SF) | FL(PF) | FL(AF));
	/* equal */
	r.rflags = 0x2 | FL(CF) | FL(OF);
	RUN(L64, "\x3b\x08", &r, 1, &ok);
	check(&ok, "1-1", r.rflags, 0x2 | FL(ZF) | FL(PF));
	/* cmpb $1,(%rax) with mem 0x80: 0x80 - 1 = 0x7f overflows */
	r.rflags = 0x2;
	RUN(L64, "\x80\x38\x01", &r, 0x80, &ok);
	check(&ok, "0x80-1", r.rflags, 0x2 | FL(OF) | FL(AF));
	/* cmpq $-1,8(%rax) with mem 0: 0 - (-1) borrows */
	r.rflags = 0x2;
	RUN(L64, "\x48\x83\x78\x08\xff", &r, 0, &ok);
	check(&ok, "0-(-1)", r.rflags, 0x2 | FL(CF) | FL(AF));
	return ok;
}

static bool t_test_flags(void)
{
	struct hvlab_regs r = { .rflags = 0x2 | FL(CF) | FL(OF) | FL(AF) };
	bool ok = true;

	/* testb $1,(%rax) with mem 3: result 1, odd parity */
	RUN(L64, "\xf6\x00\x01", &r, 0x3, &ok);
	check(&ok, "3&1", r.rflags, 0x2);	/* AF cleared, as CPUs do */
	/* testl $0x80000000,4(%rdx) with the bit set: SF, PF (low byte 0) */
	r.rflags = 0x2;
	RUN(L64, "\xf7\x42\x04\x00\x00\x00\x80", &r, 0x80000000, &ok);
	check(&ok, "sign", r.rflags, 0x2 | FL(SF) | FL(PF));
	/* test %ch,(%rax) -> 84 28: AH=... uses CH */
	r.rcx = 0x0f00;
	r.rflags = 0x2;
	RUN(L64, "\x84\x28", &r, 0xf0, &ok);
	check(&ok, "ch&mem", r.rflags, 0x2 | FL(ZF) | FL(PF));
	return ok;
}

/* Decode @bytes in 64-bit mode, complete an RMW with @data; *@store, rmw. */
static bool rmw(const char *bytes, unsigned int n, struct hvlab_regs *regs,
		u64 data, u64 *store, bool *ok)
{
	struct hv_insn insn;
	int err = hv_decode_mmio((const u8 *)bytes, n, L64, &insn);

	if (!check(ok, "decode", (u64)err, 0))
		return false;
	return hv_insn_complete_rmw(&insn, regs, data, store);
}
#define RMW(s, regs, data, store, ok) rmw(s, sizeof(s) - 1, regs, data, store, ok)

static bool t_rmw(void)
{
	struct hvlab_regs r = { .rflags = 0x2 };
	bool ok = true, w;
	u64 st;

	/* add %ecx,(%rax): 0xffffffff + 1 = 0, CF ZF PF AF; memory written */
	r.rcx = 0xabcd00000001ull;
	w = RMW("\x01\x08", &r, 0xffffffff, &st, &ok);
	check(&ok, "add: write", w, true);
	check(&ok, "add: stored", st, 0);
	check(&ok, "add: flags", r.rflags, 0x2 | FL(CF) | FL(ZF) | FL(PF) | FL(AF));
	check(&ok, "add: rcx kept", r.rcx, 0xabcd00000001ull);
	check(&ok, "add: rip", r.rip, 2);
	/* add (%rax),%ecx: register destination, 32-bit write zero-extends */
	r = (struct hvlab_regs){ .rflags = 0x2, .rcx = 0xffffffff00000001ull };
	w = RMW("\x03\x08", &r, 2, &st, &ok);
	check(&ok, "add r: no write", w, false);
	check(&ok, "add r: ecx", r.rcx, 3);
	/* cmp (%rax),%ecx: register untouched, even its high half */
	r = (struct hvlab_regs){ .rflags = 0x2, .rcx = 0xffffffff00000001ull };
	w = RMW("\x3b\x08", &r, 2, &st, &ok);
	check(&ok, "cmp: no write", w, false);
	check(&ok, "cmp: rcx", r.rcx, 0xffffffff00000001ull);
	check(&ok, "cmp: flags", r.rflags, 0x2 | FL(CF) | FL(SF) | FL(PF) | FL(AF));
	/* subq $-1,(%rax): imm32 sign-extended to 64; 5 - (-1) = 6 with a borrow */
	r = (struct hvlab_regs){ .rflags = 0x2 };
	RMW("\x48\x81\x28\xff\xff\xff\xff", &r, 5, &st, &ok);
	check(&ok, "sub imm: stored", st, 6);
	check(&ok, "sub imm: flags", r.rflags, 0x2 | FL(CF) | FL(PF) | FL(AF));
	/* adc %ah,(%rbx) with CF in: 0x10 + 0x0f + 1 */
	r = (struct hvlab_regs){ .rflags = 0x2 | FL(CF), .rax = 0x0f00 };
	RMW("\x10\x23", &r, 0x10, &st, &ok);
	check(&ok, "adc: stored", st, 0x20);
	/* notw (%rax): flags untouched */
	r = (struct hvlab_regs){ .rflags = 0x2 | FL(ZF) | FL(CF) };
	RMW("\x66\xf7\x10", &r, 0x00ff, &st, &ok);
	check(&ok, "not: stored", st, 0xff00);
	check(&ok, "not: flags", r.rflags, 0x2 | FL(ZF) | FL(CF));
	/* incl (%rax): CF kept */
	r = (struct hvlab_regs){ .rflags = 0x2 | FL(CF) };
	RMW("\xff\x00", &r, 0x7fffffff, &st, &ok);
	check(&ok, "inc: stored", st, 0x80000000);
	check(&ok, "inc: flags", r.rflags, 0x2 | FL(CF) | FL(OF) | FL(SF) | FL(PF) | FL(AF));
	/* xchg %bh,(%rax) */
	r = (struct hvlab_regs){ .rflags = 0x2, .rbx = 0x1234 };
	w = RMW("\x86\x38", &r, 0xab, &st, &ok);
	check(&ok, "xchg: write", w, true);
	check(&ok, "xchg: stored", st, 0x12);
	check(&ok, "xchg: bx", r.rbx, 0xab34);
	/* cmpxchg %ecx,(%rax): equal stores ECX, RAX untouched */
	r = (struct hvlab_regs){ .rflags = 0x2, .rax = 0xffffffff00000007ull, .rcx = 9 };
	RMW("\x0f\xb1\x08", &r, 7, &st, &ok);
	check(&ok, "cmpxchg eq: stored", st, 9);
	check(&ok, "cmpxchg eq: rax", r.rax, 0xffffffff00000007ull);
	check(&ok, "cmpxchg eq: ZF", r.rflags & FL(ZF), FL(ZF));
	/* not equal: EAX gets memory (zero-extended), memory its own value back */
	r = (struct hvlab_regs){ .rflags = 0x2, .rax = 0xffffffff00000007ull, .rcx = 9 };
	w = RMW("\x0f\xb1\x08", &r, 8, &st, &ok);
	check(&ok, "cmpxchg ne: write", w, true);
	check(&ok, "cmpxchg ne: stored", st, 8);
	check(&ok, "cmpxchg ne: rax", r.rax, 8);
	check(&ok, "cmpxchg ne: flags", r.rflags, 0x2 | FL(CF) | FL(SF) | FL(PF) | FL(AF));
	/* xadd %cx,(%rax) */
	r = (struct hvlab_regs){ .rflags = 0x2, .rcx = 0x10002 };
	RMW("\x66\x0f\xc1\x08", &r, 0xffff, &st, &ok);
	check(&ok, "xadd: stored", st, 1);
	check(&ok, "xadd: rcx", r.rcx, 0x1ffff);
	check(&ok, "xadd: CF", r.rflags & FL(CF), FL(CF));
	/* bt %ecx,(%rax), ECX = 35: bit 3 of the dword the CPU read (at EA + 4) */
	r = (struct hvlab_regs){ .rflags = 0x2 | FL(ZF), .rcx = 35 };
	w = RMW("\x0f\xa3\x08", &r, 0x8, &st, &ok);
	check(&ok, "bt: no write", w, false);
	check(&ok, "bt: flags", r.rflags, 0x2 | FL(ZF) | FL(CF));
	/* bt with a negative offset, -1: bit 31 of the dword at EA - 4 */
	r = (struct hvlab_regs){ .rflags = 0x2, .rcx = 0xffffffff };
	RMW("\x0f\xa3\x08", &r, 0x80000000, &st, &ok);
	check(&ok, "bt -1: CF", r.rflags, 0x2 | FL(CF));
	/* btsq $0x3f,(%rax) */
	r = (struct hvlab_regs){ .rflags = 0x2 | FL(CF) };
	w = RMW("\x48\x0f\xba\x28\x3f", &r, 1, &st, &ok);
	check(&ok, "bts: write", w, true);
	check(&ok, "bts: stored", st, 0x8000000000000001ull);
	check(&ok, "bts: CF clear", r.rflags, 0x2);
	/* btcw $0x11,(%rax): 17 mod 16 = bit 1 */
	r = (struct hvlab_regs){ .rflags = 0x2 };
	RMW("\x66\x0f\xba\x38\x11", &r, 0xffff, &st, &ok);
	check(&ok, "btc: stored", st, 0xfffd);
	check(&ok, "btc: CF", r.rflags, 0x2 | FL(CF));
	return ok;
}

static bool t_rep_stos(void)
{
	struct hvlab_regs r = { .rcx = 2, .rdi = 0x1000, .rip = 0x500, .rflags = 0x2 };
	bool ok = true;

	check(&ok, "first not retired", RUN(L64, "\xf3\xaa", &r, 0, &ok), false);
	check(&ok, "rdi", r.rdi, 0x1001);
	check(&ok, "rcx", r.rcx, 1);
	check(&ok, "rip kept", r.rip, 0x500);
	check(&ok, "second retired", RUN(L64, "\xf3\xaa", &r, 0, &ok), true);
	check(&ok, "rcx", r.rcx, 0);
	check(&ok, "rip", r.rip, 0x502);
	/* rCX = 0: nothing but RIP */
	r.rip = 0x500;
	check(&ok, "count 0 retired", RUN(L64, "\xf3\xaa", &r, 0, &ok), true);
	check(&ok, "rdi unchanged", r.rdi, 0x1002);
	check(&ok, "rip", r.rip, 0x502);
	return ok;
}

static bool t_stos_df(void)
{
	struct hvlab_regs r = { .rdi = 0x1000, .rflags = 0x2 | FL(DF) };
	bool ok = true;

	RUN(L64, "\x48\xab", &r, 0, &ok);
	check(&ok, "rdi", r.rdi, 0x1000 - 8);
	return ok;
}

static bool t_movs16_wraps(void)
{
	struct hvlab_regs r = { .rsi = 0x1234ffffull, .rdi = 0xabcdfffeull,
				.rcx = 0x50000, .rip = 0x100, .rflags = 0x2 };
	bool ok = true;

	/* rep movsw in real mode: 16-bit SI, DI, CX; CX = 0 -> no-op */
	check(&ok, "cx 0 retired", RUN(R16, "\xf3\xa5", &r, 0, &ok), true);
	check(&ok, "si untouched", r.rsi, 0x1234ffffull);
	r.rcx = 0x50001;
	check(&ok, "retired", RUN(R16, "\xf3\xa5", &r, 0, &ok), true);
	check(&ok, "si wraps in 16 bits", r.rsi, 0x12340001ull);
	check(&ok, "di wraps in 16 bits", r.rdi, 0xabcd0000ull);
	check(&ok, "cx", r.rcx, 0x50000);
	check(&ok, "ip", r.rip, 0x104);
	return ok;
}

static bool t_stos_addr32_in_64(void)
{
	struct hvlab_regs r = { .rdi = 0xfffffffffffffffcull, .rflags = 0x2 };
	bool ok = true;

	RUN(L64, "\x67\xab", &r, 0, &ok);
	check(&ok, "edi wraps and zero-extends", r.rdi, 0);
	return ok;
}

static bool t_lods_in(void)
{
	struct hvlab_regs r = { .rax = ~0ull, .rsi = 0x10, .rflags = 0x2 };
	bool ok = true;

	RUN(P32, "\xad", &r, 0x12345678, &ok);
	check(&ok, "eax", r.rax, 0x12345678);
	check(&ok, "esi", r.rsi, 0x14);
	r.rax = ~0ull;
	RUN(L64, "\xec", &r, 0x5a, &ok);
	check(&ok, "in al", r.rax, 0xffffffffffffff5aull);
	RUN(L64, "\xed", &r, 0xcafef00d, &ok);
	check(&ok, "in eax", r.rax, 0xcafef00dull);
	return ok;
}

static bool t_rip_wrap(void)
{
	struct hvlab_regs r = { .rip = 0xfffe };
	bool ok = true;

	RUN(R16, "\x0f\xa2", &r, 0, &ok);
	check(&ok, "ip 16", r.rip, 0);
	r.rip = 0xfffffffe;
	RUN(P32, "\x0f\x01\xd9", &r, 0, &ok);
	check(&ok, "eip 32", r.rip, 1);
	r.rip = 0xfffffffe;
	RUN(L64, "\x0f\x01\xd9", &r, 0, &ok);
	check(&ok, "rip 64", r.rip, 0x100000001ull);
	return ok;
}

static u64 ea_of(enum hv_cpu_mode mode, const char *bytes, unsigned int n,
		 const struct hvlab_regs *regs, bool *ok)
{
	struct hv_insn insn;

	check(ok, "decode", (u64)hv_decode((const u8 *)bytes, n, mode, &insn), 0);
	return hv_insn_ea(&insn, regs);
}

#define EA(mode, s, regs, ok) ea_of(mode, s, sizeof(s) - 1, regs, ok)

static bool t_ea(void)
{
	struct hvlab_regs r = { .rax = 0x1000, .rcx = 0x10, .rip = 0x400000,
				.rbp = 0x100, .rsi = 0x3, .r12 = 0x20 };
	bool ok = true;

	check(&ok, "0x100(%rax,%rcx,4)",
	      EA(L64, "\x48\x8b\x84\x88\x00\x01\x00\x00", &r, &ok), 0x1140);
	check(&ok, "0x10(%rip)",
	      EA(L64, "\x8b\x05\x10\x00\x00\x00", &r, &ok), 0x400016);
	check(&ok, "0x1000(,%r12,1)",
	      EA(L64, "\x42\x8b\x04\x25\x00\x10\x00\x00", &r, &ok), 0x1020);
	check(&ok, "-0x2(%bp,%si)", EA(R16, "\x8b\x42\xfe", &r, &ok), 0x101);
	r.rbp = 0;
	r.rsi = 0;
	check(&ok, "-0x2(%bp,%si) wraps", EA(R16, "\x8b\x42\xfe", &r, &ok),
	      0xfffe);
	check(&ok, "disp16", EA(R16, "\x8b\x0e\x34\x12", &r, &ok), 0x1234);
	r.rax = 0xffffffff;
	r.rcx = 1;
	check(&ok, "(%eax,%ecx,4) wraps at 32",
	      EA(L64, "\x67\x8b\x04\x88", &r, &ok), 3);
	check(&ok, "moffs64",
	      EA(L64, "\xa1\x88\x77\x66\x55\x44\x33\x22\x11", &r, &ok),
	      0x1122334455667788ull);
	check(&ok, "-0x8(%rbp)", EA(L64, "\x8b\x45\xf8", &r, &ok),
	      (u64)-8);
	r.rdi = 0xabcd1234;
	check(&ok, "stos: di", EA(R16, "\xaa", &r, &ok), 0x1234);
	return ok;
}

static bool t_cpu_mode(void)
{
	struct hvlab_sregs s = { 0 };
	bool ok = true;

	check(&ok, "PE=0", hv_cpu_mode(&s, 0x2), HV_MODE_REAL);
	s.cr0 = 1;
	check(&ok, "PE=1 D=0", hv_cpu_mode(&s, 0x2), HV_MODE_PROT16);
	s.cs.db = 1;
	check(&ok, "PE=1 D=1", hv_cpu_mode(&s, 0x2), HV_MODE_PROT32);
	check(&ok, "VM=1", hv_cpu_mode(&s, 0x2 | (1u << 17)), HV_MODE_REAL);
	s.efer = 1u << 10;
	check(&ok, "LMA, L=0 D=1: compat32", hv_cpu_mode(&s, 0x2), HV_MODE_PROT32);
	s.cs.db = 0;
	s.cs.l = 1;
	check(&ok, "LMA, L=1", hv_cpu_mode(&s, 0x2), HV_MODE_LONG64);
	s.efer = 0;
	check(&ok, "L=1 without LMA", hv_cpu_mode(&s, 0x2), HV_MODE_PROT16);
	return ok;
}

static bool t_gpr_map(void)
{
	struct hvlab_regs r;
	bool ok = true;

	pattern_regs(&r);
	check(&ok, "rax", r.rax, pat(HV_GPR_RAX));
	check(&ok, "rcx", r.rcx, pat(HV_GPR_RCX));
	check(&ok, "rbx", r.rbx, pat(HV_GPR_RBX));
	check(&ok, "rsp", r.rsp, pat(HV_GPR_RSP));
	check(&ok, "rdi", r.rdi, pat(HV_GPR_RDI));
	check(&ok, "r8", r.r8, pat(HV_GPR_R8));
	check(&ok, "r15", r.r15, pat(HV_GPR_R15));
	check(&ok, "out of range", hv_gpr(&r, 16) == NULL, true);
	return ok;
}

static bool t_rep_count(void)
{
	struct hvlab_regs r = { .rcx = 0xffffffff00000000ull };
	struct hv_insn insn;
	bool ok = true;

	hv_decode((const u8 *)"\x67\xf3\xa4", 3, L64, &insn);
	check(&ok, "ecx = 0", hv_insn_rep_count(&insn, &r), 0);
	hv_decode((const u8 *)"\xf3\xa4", 2, L64, &insn);
	check(&ok, "rcx", hv_insn_rep_count(&insn, &r), 0xffffffff00000000ull);
	hv_decode((const u8 *)"\xa4", 1, L64, &insn);
	check(&ok, "no rep", hv_insn_rep_count(&insn, &r), 1);
	return ok;
}

static const struct {
	const char *name;
	bool (*fn)(void);
} ctests[] = {
	{ "complete: 32-bit load zero-extends to 64", t_load32_zero_extends },
	{ "complete: 16-bit load keeps bits 63:16", t_load16_preserves },
	{ "complete: load into AH", t_load_ah },
	{ "complete: load into SPL (REX)", t_load_spl },
	{ "complete: 64-bit load into R9", t_load64_r9 },
	{ "complete: MOVZX/MOVSX widths", t_movzx_movsx },
	{ "complete: MOVSXD sign-extends", t_movsxd },
	{ "complete: store leaves registers, advances RIP", t_store_no_reg_change },
	{ "complete: CMP flags", t_cmp_flags },
	{ "complete: read-modify-write forms", t_rmw },
	{ "complete: TEST flags", t_test_flags },
	{ "complete: REP STOS one element per exit", t_rep_stos },
	{ "complete: STOS with DF=1", t_stos_df },
	{ "complete: REP MOVSW in real mode wraps SI/DI/CX", t_movs16_wraps },
	{ "complete: STOS with 67 in 64-bit mode", t_stos_addr32_in_64 },
	{ "complete: LODS and IN", t_lods_in },
	{ "complete: RIP wraps at the code size", t_rip_wrap },
	{ "hv_insn_ea: addressing forms", t_ea },
	{ "hv_cpu_mode: from CR0, RFLAGS, EFER, CS", t_cpu_mode },
	{ "hv_gpr: encoding order to struct hvlab_regs", t_gpr_map },
	{ "hv_insn_rep_count: address-size rCX", t_rep_count },
};

/* ------------------------------------------------------------------
 * Cross-check with objdump
 */

static const char *const objdump_arch[] = {
	[R16] = "-mi8086", [P16] = "-mi8086", [P32] = "-mi386",
	[L64] = "-mi386:x86-64",
};

/*
 * Disassemble the vector followed by NOPs; the second instruction's
 * address is objdump's length of the first.  Returns 0 or -1.
 */
static int objdump_len(const struct vec *v, unsigned int *len, char *text,
		       size_t textlen)
{
	char path[] = "/tmp/test_decode.XXXXXX";
	static const u8 nops[2] = { 0x90, 0x90 };
	char cmd[256], line[256];
	unsigned int addr;
	int fd, nr = 0;
	FILE *p;

	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, v->bytes, v->n) != (ssize_t)v->n ||
	    write(fd, nops, sizeof(nops)) != sizeof(nops)) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "objdump -D -b binary %s --insn-width=16 %s 2>/dev/null",
		 objdump_arch[v->mode], path);
	p = popen(cmd, "r");
	if (!p) {
		unlink(path);
		return -1;
	}
	*len = 0;
	text[0] = '\0';
	while (fgets(line, sizeof(line), p)) {
		char *tab;

		if (sscanf(line, " %x:\t", &addr) != 1 || !strstr(line, ":\t"))
			continue;
		if (nr++ == 0) {
			tab = strrchr(line, '\t');
			snprintf(text, textlen, "%s", tab ? tab + 1 : line);
			text[strcspn(text, "\n")] = '\0';
		} else if (nr == 2) {
			*len = addr;
		}
	}
	pclose(p);
	unlink(path);
	return nr >= 2 ? 0 : -1;
}

static int xcheck(void)
{
	unsigned int i, len;
	char text[256];

	printf("TAP version 13\n");
	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		const struct vec *v = &vecs[i];

		if (v->ret)
			continue;
		if (objdump_len(v, &len, text, sizeof(text))) {
			printf("# objdump failed: is binutils installed?\n");
			return 4;	/* kselftest skip */
		}
		if (v->objdump_differs && len != v->len) {
			/* Known disagreement: counted apart, as an xfail. */
			nr_test++;
			nr_xfail++;
			printf("ok %u objdump %-6s %2u bytes, we say %2u: %s # XFAIL %s\n",
			       nr_test, mode_name[v->mode], len, v->len, v->what,
			       v->objdump_differs);
			continue;
		}
		result(len == v->len && !strstr(text, "(bad)"),
		       "objdump %-6s %2u bytes, we say %2u: %-40s | %s",
		       mode_name[v->mode], len, v->len, text, v->what);
	}
	printf("# Totals: pass:%u fail:%u xfail:%u xpass:0 skip:0 error:0\n",
	       nr_pass, nr_fail, nr_xfail);
	return nr_fail ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned int i;

	if (argc > 1 && !strcmp(argv[1], "--objdump"))
		return xcheck();

	printf("TAP version 13\n1..%zu\n", ARRAY_SIZE(vecs) + ARRAY_SIZE(ctests));
	for (i = 0; i < ARRAY_SIZE(vecs); i++)
		result(run_vec(&vecs[i]), "decode %s: %s",
		       mode_name[vecs[i].mode], vecs[i].what);
	for (i = 0; i < ARRAY_SIZE(ctests); i++)
		result(ctests[i].fn(), "%s", ctests[i].name);
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:0 error:0\n",
	       nr_pass, nr_fail);
	return nr_fail ? 1 : 0;
}
