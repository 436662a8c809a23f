// SPDX-License-Identifier: GPL-2.0
/*
 * decode.c - x86 instruction decoder for MMIO exits and for intercepts
 * whose length the hardware does not report (SVM without NRIP save).
 *
 * A reader's tour: hv_decode() walks an instruction the way the CPU does
 * (SDM Vol. 2A chapter 2, APM Vol. 3 chapter 1): legacy prefixes and REX,
 * the opcode (one-byte map or 0F escape), ModRM/SIB/displacement, then the
 * immediates; two tables of per-opcode attributes (SDM Vol. 2D Appendix A)
 * say which of those follow.  hv_classify_one() and hv_classify_0f() then
 * name what the exit handlers emulate and fill the operand fields.  The rest of the file
 * applies the result to a register file: the data a store writes, and
 * hv_insn_complete(), the one place that writes a load's value, flags, the
 * string registers and RIP.
 *
 * Every input byte is guest-controlled: the decoder never reads past
 * @avail or HV_INSN_MAX_LEN and has no state besides its arguments.
 * Only <linux/types.h>, <linux/stddef.h> and <linux/errno.h> are used so
 * that selftests/unit/test_decode.c can compile this file in userspace.
 */
#include <linux/nospec.h>
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/errno.h>

#include "decode.h"

/* REX bits (SDM Vol. 2A 2.2.1, Figure 2-4). */
#define HV_REX_W	0x08
#define HV_REX_R	0x04
#define HV_REX_X	0x02
#define HV_REX_B	0x01

/*
 * RFLAGS bits besides the status flags (alu.h) that decoding and the
 * string instructions read (SDM Vol. 1 3.4.3).
 */
#define HV_FLAG_DF	(1ull << 10)
#define HV_FLAG_VM	(1ull << 17)

#define HV_CR0_PE	(1ull << 0)
#define HV_EFER_LMA	(1ull << 10)

/*
 * Per-opcode attributes: what follows the opcode byte.  Sizes marked
 * "by operand size" use the effective operand size after 66/REX.W.
 */
#define HV_OP_MODRM	0x0001	/* a ModRM byte (then SIB/displacement) */
#define HV_OP_IB	0x0002	/* imm8 (also rel8) */
#define HV_OP_IW	0x0004	/* imm16 */
/*
 * HV_OP_IZ also covers rel16/rel32 of near CALL/JMP/Jcc.  With 66 in
 * 64-bit mode AMD takes rel16 (APM Vol. 3 "CALL (Near)", "JMP (Near)")
 * while Intel ignores the 66 and takes rel32; this follows AMD, as
 * objdump does.  No exit needs a branch decoded, so it cannot matter.
 */
#define HV_OP_IZ	0x0008	/* imm16/imm32 by operand size */
#define HV_OP_IV	0x0010	/* imm16/32/64 by operand size: B8+r only */
#define HV_OP_MOFFS	0x0020	/* an offset of the address size: A0-A3 */
#define HV_OP_FAR	0x0040	/* ptr16:16 / ptr16:32 by operand size */
#define HV_OP_I64	0x0080	/* #UD in 64-bit mode */
#define HV_OP_BAD	0x0100	/* reserved: #UD in every mode */
#define HV_OP_MREG	0x0200	/* ModRM.mod is ignored: always a register */

/* Short names for the two tables only. */
#define M	HV_OP_MODRM
#define IB	HV_OP_IB
#define IW	HV_OP_IW
#define IZ	HV_OP_IZ
#define IV	HV_OP_IV
#define MO	HV_OP_MOFFS
#define FAR	HV_OP_FAR
#define I64	HV_OP_I64
#define BAD	HV_OP_BAD
#define MREG	HV_OP_MREG

/*
 * One-byte opcode map, SDM Vol. 2D Table A-2 (APM Vol. 3 Table A-1).
 * Prefix bytes (26 2E 36 3E 40-4F in 64-bit mode, 64-67, F0 F2 F3) and
 * the 0F escape never reach the table.  Group opcodes whose immediate or
 * validity depends on ModRM.reg (8F, C6, C7, F6, F7, FE, FF) are finished
 * in hv_decode_group().
 */
static const u16 hv_map_one[256] = {
	/* 00-3F: ALU Eb,Gb Ev,Gv Gb,Eb Gv,Ev AL,Ib rAX,Iz, then push/pop/BCD */
	[0x00 ... 0x03] = M, [0x04] = IB, [0x05] = IZ, [0x06 ... 0x07] = I64,
	[0x08 ... 0x0b] = M, [0x0c] = IB, [0x0d] = IZ, [0x0e] = I64,
	[0x10 ... 0x13] = M, [0x14] = IB, [0x15] = IZ, [0x16 ... 0x17] = I64,
	[0x18 ... 0x1b] = M, [0x1c] = IB, [0x1d] = IZ, [0x1e ... 0x1f] = I64,
	[0x20 ... 0x23] = M, [0x24] = IB, [0x25] = IZ, [0x27] = I64,
	[0x28 ... 0x2b] = M, [0x2c] = IB, [0x2d] = IZ, [0x2f] = I64,
	[0x30 ... 0x33] = M, [0x34] = IB, [0x35] = IZ, [0x37] = I64,
	[0x38 ... 0x3b] = M, [0x3c] = IB, [0x3d] = IZ, [0x3f] = I64,
	/* 40-5F: INC/DEC (REX in 64-bit mode), PUSH/POP r: no operand bytes */
	/* 60-6F: PUSHA POPA BOUND ARPL/MOVSXD, PUSH/IMUL imm, INS/OUTS */
	[0x60 ... 0x61] = I64, [0x62] = M | I64, [0x63] = M,
	[0x68] = IZ, [0x69] = M | IZ, [0x6a] = IB, [0x6b] = M | IB,
	/* 70-7F: Jcc rel8 */
	[0x70 ... 0x7f] = IB,
	/* 80-8F: group 1, TEST, XCHG, MOV, MOV Sreg, LEA, POP Ev */
	[0x80] = M | IB, [0x81] = M | IZ, [0x82] = M | IB | I64, [0x83] = M | IB,
	[0x84 ... 0x8f] = M,
	/* 90-9F: XCHG rAX/NOP/PAUSE, CBW, CWD, CALLF, FWAIT, PUSHF... */
	[0x9a] = FAR | I64,
	/* A0-AF: MOV moffs, MOVS CMPS, TEST rAX,imm, STOS LODS SCAS */
	[0xa0 ... 0xa3] = MO, [0xa8] = IB, [0xa9] = IZ,
	/* B0-BF: MOV r8,imm8 and MOV r,imm */
	[0xb0 ... 0xb7] = IB, [0xb8 ... 0xbf] = IV,
	/* C0-CF: shifts by imm8, RET imm16, LES/LDS, MOV imm (group 11)... */
	[0xc0 ... 0xc1] = M | IB, [0xc2] = IW, [0xc4 ... 0xc5] = M | I64,
	[0xc6] = M | IB, [0xc7] = M | IZ, [0xc8] = IW | IB, [0xca] = IW,
	[0xcd] = IB, [0xce] = I64,
	/* D0-DF: shifts by 1/CL, AAM AAD, (D6 reserved), XLAT, x87 escapes */
	[0xd0 ... 0xd3] = M, [0xd4 ... 0xd5] = IB | I64, [0xd6] = BAD,
	[0xd8 ... 0xdf] = M,
	/* E0-EF: LOOPcc JrCXZ, IN/OUT imm8, CALL JMP rel, JMPF, IN/OUT DX */
	[0xe0 ... 0xe7] = IB, [0xe8 ... 0xe9] = IZ, [0xea] = FAR | I64,
	[0xeb] = IB,
	/* F0-FF: INT1 HLT CMC, group 3, flag ops, groups 4 and 5 */
	[0xf6 ... 0xf7] = M, [0xfe ... 0xff] = M,
};

/*
 * Two-byte map 0F xx, SDM Vol. 2D Table A-3 (APM Vol. 3 Table A-2).
 * 0F 38 and 0F 3A are escapes to maps whose every opcode has a ModRM
 * (and, for 0F 3A, an imm8): they never reach the table.  Reserved here
 * though objdump knows them: 0F 24/26 (the 386's MOV TR) and 0F A6/A7
 * (VIA PadLock), #UD on every Intel and AMD CPU we run on.
 */
static const u16 hv_map_0f[256] = {
	/* 00-0F: groups 6/7, LAR LSL, SYSCALL CLTS SYSRET INVD WBINVD UD2 */
	[0x00 ... 0x03] = M, [0x04] = BAD, [0x0a] = BAD, [0x0c] = BAD,
	[0x0d] = M, [0x0f] = M | IB,		/* 0F 0F: 3DNow!, imm8 suffix */
	/* 10-1F: SSE moves, prefetch/hint NOPs, ENDBR */
	[0x10 ... 0x1f] = M,
	/* 20-2F: MOV CR/DR (mod ignored, SDM Vol. 2B "MOV"), SSE */
	[0x20 ... 0x23] = M | MREG, [0x24 ... 0x27] = BAD,
	[0x28 ... 0x2f] = M,
	/* 30-3F: WRMSR RDTSC RDMSR RDPMC SYSENTER SYSEXIT GETSEC */
	[0x36] = BAD, [0x39] = BAD, [0x3b ... 0x3f] = BAD,
	/* 40-6F: CMOVcc, SSE/MMX */
	[0x40 ... 0x6f] = M,
	/* 70-7F: PSHUF/shift groups with imm8, EMMS, VMREAD VMWRITE */
	[0x70 ... 0x73] = M | IB, [0x74 ... 0x76] = M, [0x78 ... 0x79] = M,
	[0x7a ... 0x7b] = BAD, [0x7c ... 0x7f] = M,
	/* 80-8F: Jcc rel16/32 */
	[0x80 ... 0x8f] = IZ,
	/* 90-9F: SETcc */
	[0x90 ... 0x9f] = M,
	/* A0-AF: PUSH/POP FS GS, CPUID, BT, SHLD/SHRD, RSM, group 15, IMUL */
	[0xa3] = M, [0xa4] = M | IB, [0xa5] = M, [0xa6 ... 0xa7] = BAD,
	[0xab] = M, [0xac] = M | IB, [0xad ... 0xaf] = M,
	/* B0-BF: CMPXCHG, LSS/LFS/LGS, BTx, MOVZX/MOVSX, POPCNT, group 8 */
	[0xb0 ... 0xb9] = M, [0xba] = M | IB, [0xbb ... 0xbf] = M,
	/* C0-CF: XADD, SSE with imm8, MOVNTI, group 9, BSWAP */
	[0xc0 ... 0xc1] = M, [0xc2] = M | IB, [0xc3] = M,
	[0xc4 ... 0xc6] = M | IB, [0xc7] = M,
	/* D0-FF: SSE/MMX, UD0 */
	[0xd0 ... 0xff] = M,
};

#undef M
#undef IB
#undef IW
#undef IZ
#undef IV
#undef MO
#undef FAR
#undef I64
#undef BAD
#undef MREG

/* ------------------------------------------------------------------
 * Small arithmetic helpers
 */

static u64 hv_mask(unsigned int bytes)
{
	return bytes >= 8 ? ~0ull : (1ull << (8 * bytes)) - 1;
}

/* Sign-extend the low @bytes of @val to 64 bits. */
static u64 hv_sext(u64 val, unsigned int bytes)
{
	u64 sign;

	if (!bytes)
		return 0;
	if (bytes >= 8)
		return val;
	sign = 1ull << (8 * bytes - 1);
	val &= hv_mask(bytes);
	return (val ^ sign) - sign;
}

/* ------------------------------------------------------------------
 * Fetching bytes: never past @avail nor HV_INSN_MAX_LEN.
 */

struct hv_dec {
	const u8 *bytes;
	unsigned int avail;	/* already capped at HV_INSN_MAX_LEN */
	unsigned int pos;	/* bytes consumed so far */
	bool p66, p67;		/* operand-/address-size prefixes seen */
};

/*
 * Check that @n more bytes exist.  Running over 15 bytes is the CPU's
 * #GP (SDM Vol. 2A 2.3.11), checked first so that a guest cannot make
 * the caller fetch more; running over @avail means more bytes are needed.
 */
static int hv_need(const struct hv_dec *d, unsigned int n)
{
	if (d->pos + n > HV_INSN_MAX_LEN)
		return -EINVAL;
	if (d->pos + n > d->avail)
		return -ENODATA;
	return 0;
}

static int hv_peek(const struct hv_dec *d, u8 *b)
{
	int err = hv_need(d, 1);

	if (!err)
		*b = d->bytes[d->pos];
	return err;
}

/* Fetch @n (<= 8) bytes as a little-endian value. */
static int hv_fetch(struct hv_dec *d, unsigned int n, u64 *val)
{
	int err = hv_need(d, n);
	unsigned int i;
	u64 v = 0;

	if (err)
		return err;
	for (i = 0; i < n; i++)
		v |= (u64)d->bytes[d->pos + i] << (8 * i);
	d->pos += n;
	*val = v;
	return 0;
}

static int hv_fetch_u8(struct hv_dec *d, u8 *b)
{
	int err = hv_peek(d, b);

	if (!err)
		d->pos++;
	return err;
}

/* ------------------------------------------------------------------
 * Prefixes and sizes
 */

/*
 * Legacy prefixes in any order and number, then optionally REX (SDM Vol.
 * 2A 2.1.1, 2.2.1).  A REX followed by another prefix is ignored: only one
 * immediately before the opcode counts.  Of two prefixes from one group
 * the last wins, which is what the CPUs do for segments and F2/F3.
 */
static int hv_decode_prefixes(struct hv_dec *d, struct hv_insn *insn)
{
	bool long64 = insn->mode == HV_MODE_LONG64;
	u8 b;
	int err;

	for (;;) {
		err = hv_peek(d, &b);
		if (err)
			return err;
		if (long64 && (b & 0xf0) == 0x40) {
			insn->rex = b;
			d->pos++;
			continue;
		}
		switch (b) {
		case 0x66:
			d->p66 = true;
			break;
		case 0x67:
			d->p67 = true;
			break;
		case 0x26: case 0x2e: case 0x36: case 0x3e:
			/*
			 * ES/CS/SS/DS overrides: bits 4:3 are the Sreg number.
			 * 64-bit mode ignores them (SDM Vol. 1 3.3.7.1, APM
			 * Vol. 3 1.2.4): the default segment stays.
			 */
			if (!long64) {
				insn->seg = (b >> 3) & 3;
				insn->seg_override = true;
			}
			break;
		case 0x64: case 0x65:
			insn->seg = b == 0x64 ? HV_SEG_FS : HV_SEG_GS;
			insn->seg_override = true;
			break;
		case 0xf0:
			insn->lock = true;
			break;
		case 0xf2: case 0xf3:
			insn->rep = b;
			break;
		default:
			return 0;
		}
		insn->rex = 0;
		d->pos++;
	}
}

/*
 * Effective operand and address sizes, SDM Vol. 1 3.6 Table 3-4 and Vol.
 * 2A 2.2.1.2 Table 2-4: 66/67 toggle the default of the mode; in 64-bit
 * mode REX.W selects 64-bit operands and wins over 66, and 67 selects
 * 32-bit addresses.  (Instructions that default to 64-bit operands in
 * 64-bit mode, PUSH/POP and near branches, differ only in the register
 * width, never in the encoded length, so they are not special here.)
 */
static void hv_decode_sizes(struct hv_dec *d, struct hv_insn *insn)
{
	switch (insn->mode) {
	case HV_MODE_LONG64:
		insn->op_size = (insn->rex & HV_REX_W) ? 8 : d->p66 ? 2 : 4;
		insn->addr_size = d->p67 ? 4 : 8;
		break;
	case HV_MODE_PROT32:
		insn->op_size = d->p66 ? 2 : 4;
		insn->addr_size = d->p67 ? 2 : 4;
		break;
	default:
		insn->op_size = d->p66 ? 4 : 2;
		insn->addr_size = d->p67 ? 4 : 2;
		break;
	}
}

static int hv_decode_opcode(struct hv_dec *d, struct hv_insn *insn)
{
	u8 b;
	int err;

	err = hv_fetch_u8(d, &b);
	if (err)
		return err;
	insn->map = HV_MAP_ONE;
	if (b != 0x0f) {
		insn->opcode = b;
		return 0;
	}
	err = hv_fetch_u8(d, &b);
	if (err)
		return err;
	insn->map = HV_MAP_0F;
	if (b == 0x38 || b == 0x3a) {
		insn->map = b == 0x38 ? HV_MAP_0F38 : HV_MAP_0F3A;
		err = hv_fetch_u8(d, &b);
		if (err)
			return err;
	}
	insn->opcode = b;
	return 0;
}

/*
 * C4/C5 (VEX), 62 (EVEX) and 8F (XOP) reuse the bytes of LES, LDS, BOUND
 * and POP Ev.  In 64-bit mode the first three are always VEX/EVEX.
 * Elsewhere they stay the legacy instructions unless the next byte has
 * ModRM.mod = 11, which no legal LES/LDS/BOUND has (SDM Vol. 2A 2.3.5,
 * 2.7.1); real and virtual-8086 mode have no VEX, so there mod = 11 is
 * plain #UD.  8F is XOP when the next byte's map-select field (bits 4:0)
 * is 8 or more (APM Vol. 3 1.8), POP Ev otherwise.
 */
static int hv_check_vex(const struct hv_dec *d, const struct hv_insn *insn)
{
	u8 op = insn->opcode;
	u8 next;
	int err;

	if (insn->map != HV_MAP_ONE ||
	    (op != 0xc4 && op != 0xc5 && op != 0x62 && op != 0x8f))
		return 0;
	if (op != 0x8f && insn->mode == HV_MODE_LONG64)
		return -EOPNOTSUPP;
	err = hv_peek(d, &next);
	if (err)
		return err;
	if (op == 0x8f)
		return (next & 0x1f) >= 8 ? -EOPNOTSUPP : 0;
	if ((next & 0xc0) != 0xc0)
		return 0;
	return insn->mode == HV_MODE_REAL ? -EINVAL : -EOPNOTSUPP;
}

/* ------------------------------------------------------------------
 * ModRM, SIB, displacement
 */

static int hv_fetch_disp(struct hv_dec *d, struct hv_insn *insn,
			 unsigned int bytes)
{
	u64 v;
	int err;

	if (!bytes)
		return 0;
	err = hv_fetch(d, bytes, &v);
	if (err)
		return err;
	insn->disp = (s64)hv_sext(v, bytes);
	insn->disp_size = bytes;
	return 0;
}

/* Memory through rBP or rSP defaults to SS (SDM Vol. 1 3.7.4.1). */
static void hv_default_ss(struct hv_insn *insn)
{
	if (!insn->seg_override)
		insn->seg = HV_SEG_SS;
}

/*
 * 16-bit addressing, SDM Vol. 2A Table 2-1: no SIB; mod=00 rm=110 is a
 * bare disp16; BP-based forms (rm 010, 011, and 110 with a displacement)
 * use SS.
 */
static int hv_decode_mem16(struct hv_dec *d, struct hv_insn *insn,
			   u8 mod, u8 rm)
{
	unsigned int disp = 0;

	if (mod == 1)
		disp = 1;
	else if (mod == 2 || (mod == 0 && rm == 6))
		disp = 2;
	if (rm == 2 || rm == 3 || (rm == 6 && mod != 0))
		hv_default_ss(insn);
	return hv_fetch_disp(d, insn, disp);
}

/*
 * 32- and 64-bit addressing, SDM Vol. 2A Tables 2-2, 2-3 and 2-5: rm=100
 * means a SIB follows; mod=00 rm=101 is a bare disp32, RIP-relative in
 * 64-bit mode (2.2.1.6); SIB base=101 with mod=00 means no base and a
 * disp32.  These special cases look at the 3-bit fields only, REX.B does
 * not change them.  A base of rSP or rBP (REX.B clear) defaults to SS.
 */
static int hv_decode_mem32(struct hv_dec *d, struct hv_insn *insn,
			   u8 mod, u8 rm)
{
	unsigned int disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;
	bool has_base = true;
	u8 base = rm;
	int err;

	if (rm == 4) {
		err = hv_fetch_u8(d, &insn->sib);
		if (err)
			return err;
		insn->has_sib = true;
		base = insn->sib & 7;
		if (mod == 0 && base == 5) {
			has_base = false;
			disp = 4;
		}
	} else if (mod == 0 && rm == 5) {
		has_base = false;
		disp = 4;
		insn->rip_rel = insn->mode == HV_MODE_LONG64;
	}
	if (has_base && !(insn->rex & HV_REX_B) && (base == 4 || base == 5))
		hv_default_ss(insn);
	return hv_fetch_disp(d, insn, disp);
}

static int hv_decode_modrm(struct hv_dec *d, struct hv_insn *insn, u16 attr)
{
	u8 mod, rm;
	int err;

	err = hv_fetch_u8(d, &insn->modrm);
	if (err)
		return err;
	insn->has_modrm = true;
	mod = insn->modrm >> 6;
	rm = insn->modrm & 7;
	if (mod == 3 || (attr & HV_OP_MREG))
		return 0;
	insn->has_mem = true;
	if (insn->addr_size == 2)
		return hv_decode_mem16(d, insn, mod, rm);
	return hv_decode_mem32(d, insn, mod, rm);
}

/* ModRM.reg without REX: the opcode extension of group opcodes. */
static u8 hv_modrm_ext(const struct hv_insn *insn)
{
	return (insn->modrm >> 3) & 7;
}

/*
 * Group opcodes whose immediate or validity depends on ModRM.reg (SDM
 * Vol. 2D Table A-6): TEST in group 3 carries an immediate, group 11
 * (C6/C7) is MOV only, or XABORT/XBEGIN as C6 F8 / C7 F8; 8F is POP only;
 * group 4 is INC/DEC only; FF /7 is reserved.  0F 78 is VMREAD, but with
 * 66 or F2 it is AMD's EXTRQ/INSERTQ with two imm8 (APM Vol. 4).
 */
static int hv_decode_group(struct hv_dec *d, struct hv_insn *insn, u16 *attr)
{
	u8 ext = hv_modrm_ext(insn);

	if (insn->map == HV_MAP_0F) {
		if (insn->opcode == 0x78 &&
		    (insn->rep == 0xf2 || (d->p66 && insn->rep != 0xf3)))
			*attr |= HV_OP_IW;
		return 0;
	}
	if (insn->map != HV_MAP_ONE)
		return 0;
	switch (insn->opcode) {
	case 0xf6:
		if (ext < 2)
			*attr |= HV_OP_IB;
		return 0;
	case 0xf7:
		if (ext < 2)
			*attr |= HV_OP_IZ;
		return 0;
	case 0xc6: case 0xc7:
		return ext == 0 || insn->modrm == 0xf8 ? 0 : -EINVAL;
	case 0x8f:
		return ext == 0 ? 0 : -EINVAL;
	case 0xfe:
		return ext < 2 ? 0 : -EINVAL;
	case 0xff:
		return ext != 7 ? 0 : -EINVAL;
	}
	return 0;
}

static u16 hv_opcode_attr(const struct hv_insn *insn)
{
	switch (insn->map) {
	case HV_MAP_ONE:
		return hv_map_one[insn->opcode];
	case HV_MAP_0F:
		return hv_map_0f[insn->opcode];
	case HV_MAP_0F38:
		return HV_OP_MODRM;
	default:
		return HV_OP_MODRM | HV_OP_IB;
	}
}

/* Immediate bytes after ModRM/SIB/displacement, in encoding order. */
static unsigned int hv_imm_bytes(const struct hv_insn *insn, u16 attr)
{
	unsigned int n = 0;

	if (attr & HV_OP_IB)
		n += 1;
	if (attr & HV_OP_IW)
		n += 2;
	if (attr & HV_OP_IZ)
		n += insn->op_size == 2 ? 2 : 4;
	if (attr & HV_OP_IV)
		n += insn->op_size;
	if (attr & HV_OP_FAR)
		n += insn->op_size == 2 ? 4 : 6;
	return n;
}

static int hv_decode_operands(struct hv_dec *d, struct hv_insn *insn)
{
	u16 attr = hv_opcode_attr(insn);
	unsigned int n;
	u64 v;
	int err;

	if (attr & HV_OP_BAD)
		return -EINVAL;
	if ((attr & HV_OP_I64) && insn->mode == HV_MODE_LONG64)
		return -EINVAL;
	if (attr & HV_OP_MODRM) {
		err = hv_decode_modrm(d, insn, attr);
		if (!err)
			err = hv_decode_group(d, insn, &attr);
		if (err)
			return err;
	}
	if (attr & HV_OP_MOFFS) {
		/* A0-A3: an absolute offset, zero-extended (SDM Vol. 2A 2.2.1.4). */
		err = hv_fetch(d, insn->addr_size, &v);
		if (err)
			return err;
		insn->disp = (s64)v;
		insn->disp_size = insn->addr_size;
		insn->has_mem = true;
	}
	n = hv_imm_bytes(insn, attr);
	if (n) {
		err = hv_fetch(d, n, &insn->imm);
		if (err)
			return err;
		insn->imm_size = n;
	}
	return 0;
}

/* ------------------------------------------------------------------
 * Classification: what the exit handlers emulate
 */

/* ModRM.reg and ModRM.rm extended by REX.R and REX.B. */
static u8 hv_modrm_reg(const struct hv_insn *insn)
{
	return hv_modrm_ext(insn) | ((insn->rex & HV_REX_R) ? 8 : 0);
}

static u8 hv_modrm_rm(const struct hv_insn *insn)
{
	return (insn->modrm & 7) | ((insn->rex & HV_REX_B) ? 8 : 0);
}

/*
 * A register operand of @size bytes.  Byte registers 4-7 are AH, CH, DH,
 * BH without a REX prefix and SPL, BPL, SIL, DIL with any REX, even 40
 * (SDM Vol. 2A 2.2.1.2, Table 3-1 note).
 */
static void hv_set_reg(struct hv_insn *insn, u8 reg, unsigned int size)
{
	insn->high_byte = size == 1 && !insn->rex && reg >= 4 && reg < 8;
	insn->reg = insn->high_byte ? reg - 4 : reg;
}

/* Opcode pairs: even = byte operand, odd = operand size. */
static unsigned int hv_size_bv(const struct hv_insn *insn)
{
	return (insn->opcode & 1) ? insn->op_size : 1;
}

/* Port I/O and string I/O: 1, 2 or 4 bytes; REX.W is ignored. */
static unsigned int hv_size_io(const struct hv_insn *insn)
{
	if (!(insn->opcode & 1))
		return 1;
	return insn->op_size == 2 ? 2 : 4;
}

static void hv_classify_mov(struct hv_insn *insn, bool is_write,
			    unsigned int size)
{
	insn->kind = HV_INSN_MOV;
	insn->is_write = is_write;
	insn->size = size;
	insn->dst_size = size;
	insn->ext = HV_EXT_NONE;
}

/* 88-8B, C6/C7 /0, A0-A3, 63 (MOVSXD). */
static void hv_classify_mov_one(struct hv_insn *insn)
{
	u8 op = insn->opcode;

	switch (op) {
	case 0x88: case 0x89:		/* MOV Eb,Gb / Ev,Gv */
	case 0x8a: case 0x8b:		/* MOV Gb,Eb / Gv,Ev */
		hv_classify_mov(insn, op < 0x8a, hv_size_bv(insn));
		hv_set_reg(insn, hv_modrm_reg(insn), insn->size);
		break;
	case 0xc6: case 0xc7:		/* MOV Eb,Ib / Ev,Iz */
		hv_classify_mov(insn, true, hv_size_bv(insn));
		insn->src_imm = true;
		break;
	case 0xa0 ... 0xa3:		/* MOV AL/rAX <-> moffs */
		hv_classify_mov(insn, op >= 0xa2, hv_size_bv(insn));
		insn->reg = HV_GPR_RAX;
		break;
	case 0x63:
		/*
		 * MOVSXD (SDM Vol. 2B "MOVSX/MOVSXD"): with REX.W a 32-bit
		 * read sign-extended to 64; without it a plain 16/32-bit
		 * MOV (Intel's reading; AMD documents only the REX.W form).
		 */
		hv_classify_mov(insn, false, insn->op_size == 8 ? 4 : insn->op_size);
		insn->dst_size = insn->op_size;
		if (insn->op_size == 8)
			insn->ext = HV_EXT_SIGN;
		hv_set_reg(insn, hv_modrm_reg(insn), insn->dst_size);
		break;
	}
}

/*
 * An ALU form with a memory operand: CMP and TEST only read it (and
 * keep their own kinds), BT reads it, the other operations read it and
 * write the result back when memory is the destination.
 */
static void hv_classify_alu(struct hv_insn *insn, enum hv_alu_op alu,
			    bool mem_first, unsigned int size)
{
	insn->kind = alu == HV_ALU_CMP ? HV_INSN_CMP :
		     alu == HV_ALU_TEST ? HV_INSN_TEST : HV_INSN_ALU;
	insn->alu = alu;
	insn->mem_first = mem_first;
	insn->rmw = mem_first && alu != HV_ALU_CMP && alu != HV_ALU_TEST &&
		    alu != HV_ALU_BT;
	insn->size = size;
}

/*
 * The one-byte map's ALU and exchange forms on memory (SDM Vol. 2D
 * Tables; each instruction's page in Vol. 2A/2B):
 *   00-3B, low 3 bits 0-3: op Eb,Gb / Ev,Gv (memory is the destination)
 *                         and op Gb,Eb / Gv,Ev (the register is), with
 *                         op = opcode >> 3 (ADD OR ADC SBB AND SUB XOR CMP)
 *   80-83 /op: op E,imm (83: imm8 sign-extended to the operand size;
 *              81 with REX.W: imm32 sign-extended, Vol. 2A 2.2.1.5)
 *   84/85 TEST E,G; F6/F7 /0 (/1 aliases it) TEST E,imm; /2 NOT; /3 NEG
 *   86/87 XCHG E,G; FE/FF /0 INC, /1 DEC
 * What KVM does the same with: emulate.c's opcode_table entries for
 * em_add ... em_cmp, em_test, em_not, em_neg, em_inc, em_dec, em_xchg.
 */
static void hv_classify_alu_one(struct hv_insn *insn)
{
	u8 op = insn->opcode;
	u8 ext = hv_modrm_ext(insn);
	unsigned int size = hv_size_bv(insn);

	switch (op) {
	case 0x00 ... 0x3b:
		if ((op & 7) > 3)
			return;		/* AL/rAX,imm, prefixes, PUSH/POP, BCD */
		hv_classify_alu(insn, op >> 3, !(op & 2), size);
		hv_set_reg(insn, hv_modrm_reg(insn), size);
		break;
	case 0x80 ... 0x83:
		/* 82 is 80 outside 64-bit mode (#UD there, I64). */
		hv_classify_alu(insn, ext, true, op & 1 ? insn->op_size : 1);
		insn->src_imm = true;
		break;
	case 0x84: case 0x85:
		hv_classify_alu(insn, HV_ALU_TEST, true, size);
		hv_set_reg(insn, hv_modrm_reg(insn), size);
		break;
	case 0x86: case 0x87:
		insn->kind = HV_INSN_XCHG;
		insn->rmw = true;
		insn->size = size;
		hv_set_reg(insn, hv_modrm_reg(insn), size);
		break;
	case 0xf6: case 0xf7:
		if (ext < 2) {
			hv_classify_alu(insn, HV_ALU_TEST, true, size);
			insn->src_imm = true;
		} else if (ext < 4) {
			hv_classify_alu(insn, ext == 2 ? HV_ALU_NOT : HV_ALU_NEG, true, size);
		}
		break;
	case 0xfe: case 0xff:
		if (ext < 2)
			hv_classify_alu(insn, ext ? HV_ALU_DEC : HV_ALU_INC, true, size);
		break;
	}
}

/*
 * String and port instructions (SDM Vol. 1 7.3.9, 19.3).  The source
 * DS:rSI takes segment overrides, the destination ES:rDI never does;
 * @seg is the segment of the rSI side, or ES for STOS/INS.
 */
static void hv_classify_string_io(struct hv_insn *insn)
{
	u8 op = insn->opcode;

	switch (op) {
	case 0xa4: case 0xa5:
		insn->kind = HV_INSN_MOVS;
		break;
	case 0xaa: case 0xab:
		insn->kind = HV_INSN_STOS;
		insn->is_write = true;
		break;
	case 0xac: case 0xad:
		insn->kind = HV_INSN_LODS;
		break;
	case 0x6c: case 0x6d:
		insn->kind = HV_INSN_INS;
		break;
	case 0x6e: case 0x6f:
		insn->kind = HV_INSN_OUTS;
		insn->is_write = true;
		break;
	case 0xe4: case 0xe5: case 0xec: case 0xed:
		insn->kind = HV_INSN_IN;
		break;
	case 0xe6: case 0xe7: case 0xee: case 0xef:
		insn->kind = HV_INSN_OUT;
		insn->is_write = true;
		break;
	}
	insn->reg = HV_GPR_RAX;
	if (op >= 0xe4) {
		insn->size = hv_size_io(insn);
		insn->port_dx = op >= 0xec;
		return;
	}
	insn->size = op < 0x70 ? hv_size_io(insn) : hv_size_bv(insn);
	insn->has_mem = true;
	if (insn->kind == HV_INSN_STOS || insn->kind == HV_INSN_INS)
		insn->seg = HV_SEG_ES;
}

static void hv_classify_one(struct hv_insn *insn)
{
	u8 op = insn->opcode;
	u8 ext = hv_modrm_ext(insn);

	switch (op) {
	case 0x88 ... 0x8b:
	case 0xa0 ... 0xa3:
		hv_classify_mov_one(insn);
		break;
	case 0xc6: case 0xc7:
		if (ext == 0 && insn->has_mem)
			hv_classify_mov_one(insn);
		break;
	case 0x63:
		if (insn->mode == HV_MODE_LONG64 && insn->has_mem)
			hv_classify_mov_one(insn);
		break;
	case 0x00 ... 0x3b:
	case 0x80 ... 0x87:
	case 0xf6: case 0xf7:
	case 0xfe: case 0xff:
		if (insn->has_mem)
			hv_classify_alu_one(insn);
		break;
	case 0x6c ... 0x6f:
	case 0xa4: case 0xa5:
	case 0xaa ... 0xad:
	case 0xe4 ... 0xe7:
	case 0xec ... 0xef:
		hv_classify_string_io(insn);
		break;
	case 0xa6: case 0xa7: case 0xae: case 0xaf:
		insn->has_mem = true;	/* CMPS, SCAS: unsupported */
		break;
	}
	/* Register-only MOV forms are never MMIO. */
	if (insn->kind == HV_INSN_MOV && !insn->has_mem)
		insn->kind = HV_INSN_OTHER;
}

/*
 * The 0F map's bit tests and compare/exchange forms on memory (SDM Vol.
 * 2A "BT", "BTC", "BTR", "BTS", "CMPXCHG"; Vol. 2B "XADD"):
 *   0F A3/AB/B3/BB: BT/BTS/BTR/BTC Ev,Gv; 0F BA /4../7: the same, Ev,Ib
 *   0F B0/B1: CMPXCHG Eb,Gb / Ev,Gv; 0F C0/C1: XADD Eb,Gb / Ev,Gv
 *
 * BT with a register bit offset and a memory operand addresses beyond
 * the operand: the register is a signed offset, and the CPU accesses
 * the operand-size unit at EA + size * (offset SAR log2(8 * size)) (the
 * "bit-offset addressing" of the BT page and Vol. 1 3.5.1 / Figure
 * 3-17).  That unit is what faulted, so the exit's guest-physical
 * address already includes the displacement: the emulation uses that
 * address and only the bit number within the unit, offset modulo
 * 8 * size, which hv_alu() takes.  An immediate offset is taken modulo
 * the operand width and never moves the address.  KVM: em_bt ...
 * em_btc, with the displacement added by fetch_bit_operand(),
 * since it emulates from the linear address rather than from the fault.
 */
static void hv_classify_bt_cmpxchg(struct hv_insn *insn)
{
	u8 op = insn->opcode;
	u8 ext = hv_modrm_ext(insn);

	switch (op) {
	case 0xa3: case 0xab: case 0xb3: case 0xbb:
		hv_classify_alu(insn, HV_ALU_BT + ((op >> 3) & 3), true, insn->op_size);
		hv_set_reg(insn, hv_modrm_reg(insn), insn->op_size);
		break;
	case 0xba:
		if (ext < 4)
			return;		/* #UD (SDM Vol. 2D Table A-6, group 8) */
		hv_classify_alu(insn, HV_ALU_BT + ext - 4, true, insn->op_size);
		insn->src_imm = true;
		break;
	case 0xb0: case 0xb1:
	case 0xc0: case 0xc1:
		insn->kind = op < 0xc0 ? HV_INSN_CMPXCHG : HV_INSN_XADD;
		insn->rmw = true;
		insn->size = hv_size_bv(insn);
		hv_set_reg(insn, hv_modrm_reg(insn), insn->size);
		break;
	}
}

static void hv_classify_0f(struct hv_insn *insn)
{
	u8 op = insn->opcode;

	switch (op) {
	case 0xa3: case 0xab: case 0xb3: case 0xbb: case 0xba:
	case 0xb0: case 0xb1: case 0xc0: case 0xc1:
		if (insn->has_mem)
			hv_classify_bt_cmpxchg(insn);
		break;
	case 0xb6: case 0xb7:		/* MOVZX Gv,Eb / Gv,Ew */
	case 0xbe: case 0xbf:		/* MOVSX Gv,Eb / Gv,Ew */
		if (!insn->has_mem)
			break;
		hv_classify_mov(insn, false, (op & 1) ? 2 : 1);
		insn->dst_size = insn->op_size;
		insn->ext = op < 0xbe ? HV_EXT_ZERO : HV_EXT_SIGN;
		hv_set_reg(insn, hv_modrm_reg(insn), insn->dst_size);
		break;
	case 0x20 ... 0x23:
		/*
		 * MOV to/from CR/DR (SDM Vol. 2B "MOV-Move to/from Control
		 * Registers"): the GPR is ModRM.rm, the CR/DR ModRM.reg;
		 * 64-bit wide in 64-bit mode, else 32, whatever 66/REX.W
		 * say.  AMD's LOCK MOV CR0 reaches CR8 (APM Vol. 3 "MOV
		 * CRn"); Intel raises #UD for it before any exit.
		 */
		insn->kind = (op & 1) ? HV_INSN_MOV_DR : HV_INSN_MOV_CR;
		insn->is_write = op & 2;
		insn->reg = hv_modrm_rm(insn);
		insn->ctl = hv_modrm_reg(insn);
		if (insn->kind == HV_INSN_MOV_CR && insn->lock && insn->ctl == 0)
			insn->ctl = 8;
		insn->size = insn->mode == HV_MODE_LONG64 ? 8 : 4;
		break;
	}
}

/* ------------------------------------------------------------------
 * Entry points
 */

int hv_decode(const u8 *bytes, unsigned int avail, enum hv_cpu_mode mode,
	      struct hv_insn *insn)
{
	struct hv_dec d = {
		.bytes = bytes,
		.avail = avail < HV_INSN_MAX_LEN ? avail : HV_INSN_MAX_LEN,
	};
	int err;

	*insn = (struct hv_insn) { .mode = mode, .seg = HV_SEG_DS };
	if (mode > HV_MODE_LONG64)
		return -EINVAL;

	err = hv_decode_prefixes(&d, insn);
	if (!err) {
		hv_decode_sizes(&d, insn);
		err = hv_decode_opcode(&d, insn);
	}
	if (!err)
		err = hv_check_vex(&d, insn);
	if (!err)
		err = hv_decode_operands(&d, insn);
	if (err)
		return err;

	insn->len = d.pos;
	if (insn->map == HV_MAP_ONE)
		hv_classify_one(insn);
	else if (insn->map == HV_MAP_0F)
		hv_classify_0f(insn);
	return 0;
}

int hv_decode_mmio(const u8 *bytes, unsigned int avail, enum hv_cpu_mode mode,
		   struct hv_insn *insn)
{
	int err = hv_decode(bytes, avail, mode, insn);

	if (err)
		return err;
	switch (insn->kind) {
	case HV_INSN_MOV:
	case HV_INSN_CMP:
	case HV_INSN_TEST:
	case HV_INSN_MOVS:
	case HV_INSN_STOS:
	case HV_INSN_LODS:
		/* LOCK with these is #UD (SDM Vol. 2B "LOCK"), never an exit. */
		return insn->lock ? -EINVAL : 0;
	case HV_INSN_ALU:
		/*
		 * LOCK takes ADD ADC AND BTC BTR BTS DEC INC NEG NOT OR SBB
		 * SUB XOR with a memory destination, i.e. the @rmw ones;
		 * BT and the register-destination forms raise #UD.
		 */
		return insn->lock && !insn->rmw ? -EINVAL : 0;
	case HV_INSN_XCHG:		/* locked with or without the prefix */
	case HV_INSN_CMPXCHG:
	case HV_INSN_XADD:
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

/*
 * SDM Vol. 3A 9.1 / 2.2, APM Vol. 2 1.2: real mode while CR0.PE = 0,
 * virtual-8086 with RFLAGS.VM; 64-bit mode needs EFER.LMA and CS.L;
 * otherwise (legacy protected or compatibility mode) CS.D picks 16/32.
 */
enum hv_cpu_mode hv_cpu_mode(const struct hvlab_sregs *sregs, u64 rflags)
{
	if (!(sregs->cr0 & HV_CR0_PE) || (rflags & HV_FLAG_VM))
		return HV_MODE_REAL;
	if ((sregs->efer & HV_EFER_LMA) && sregs->cs.l)
		return HV_MODE_LONG64;
	return sregs->cs.db ? HV_MODE_PROT32 : HV_MODE_PROT16;
}

/* ------------------------------------------------------------------
 * Registers
 */

static const u8 hv_gpr_offset[HV_NR_GPRS] = {
	[HV_GPR_RAX] = offsetof(struct hvlab_regs, rax),
	[HV_GPR_RCX] = offsetof(struct hvlab_regs, rcx),
	[HV_GPR_RDX] = offsetof(struct hvlab_regs, rdx),
	[HV_GPR_RBX] = offsetof(struct hvlab_regs, rbx),
	[HV_GPR_RSP] = offsetof(struct hvlab_regs, rsp),
	[HV_GPR_RBP] = offsetof(struct hvlab_regs, rbp),
	[HV_GPR_RSI] = offsetof(struct hvlab_regs, rsi),
	[HV_GPR_RDI] = offsetof(struct hvlab_regs, rdi),
	[HV_GPR_R8]  = offsetof(struct hvlab_regs, r8),
	[HV_GPR_R9]  = offsetof(struct hvlab_regs, r9),
	[HV_GPR_R10] = offsetof(struct hvlab_regs, r10),
	[HV_GPR_R11] = offsetof(struct hvlab_regs, r11),
	[HV_GPR_R12] = offsetof(struct hvlab_regs, r12),
	[HV_GPR_R13] = offsetof(struct hvlab_regs, r13),
	[HV_GPR_R14] = offsetof(struct hvlab_regs, r14),
	[HV_GPR_R15] = offsetof(struct hvlab_regs, r15),
};

u64 *hv_gpr(struct hvlab_regs *regs, unsigned int gpr)
{
	if (gpr >= HV_NR_GPRS)
		return NULL;
	/* @gpr comes from guest bytes: no out-of-table load under speculation. */
	gpr = array_index_nospec(gpr, HV_NR_GPRS);
	return (u64 *)((u8 *)regs + hv_gpr_offset[gpr]);
}

u64 hv_gpr_read(const struct hvlab_regs *regs, unsigned int gpr,
		unsigned int size, bool high_byte)
{
	u64 val;

	if (gpr >= HV_NR_GPRS)
		return 0;
	val = *(const u64 *)((const u8 *)regs + hv_gpr_offset[gpr]);
	if (size == 1 && high_byte)
		val >>= 8;
	return val & hv_mask(size);
}

void hv_gpr_write(struct hvlab_regs *regs, unsigned int gpr,
		  unsigned int size, bool high_byte, u64 val)
{
	u64 *r = hv_gpr(regs, gpr);

	if (!r)
		return;
	switch (size) {
	case 1:
		if (high_byte)
			*r = (*r & ~0xff00ull) | ((val & 0xff) << 8);
		else
			*r = (*r & ~0xffull) | (val & 0xff);
		break;
	case 2:
		*r = (*r & ~0xffffull) | (val & 0xffff);
		break;
	case 4:
		/* 32-bit results are zero-extended to 64 (SDM Vol. 1 3.4.1.1). */
		*r = val & 0xffffffffull;
		break;
	default:
		*r = val;
		break;
	}
}

/*
 * An immediate operand narrower than the operation (83's imm8, imm32 with
 * REX.W) is sign-extended to it (SDM Vol. 2A 2.2.1.5).
 */
static u64 hv_imm_operand(const struct hv_insn *insn)
{
	return hv_sext(insn->imm, insn->imm_size) & hv_mask(insn->size);
}

/* The non-memory operand of MOV store, CMP, TEST. */
static u64 hv_src_operand(const struct hv_insn *insn,
			  const struct hvlab_regs *regs)
{
	if (insn->src_imm)
		return hv_imm_operand(insn);
	return hv_gpr_read(regs, insn->reg, insn->size, insn->high_byte);
}

u64 hv_insn_store_data(const struct hv_insn *insn,
		       const struct hvlab_regs *regs)
{
	switch (insn->kind) {
	case HV_INSN_MOV:
		return insn->is_write ? hv_src_operand(insn, regs) : 0;
	case HV_INSN_STOS:
	case HV_INSN_OUT:
		return hv_gpr_read(regs, HV_GPR_RAX, insn->size, false);
	default:
		return 0;
	}
}

static bool hv_insn_is_string(const struct hv_insn *insn)
{
	switch (insn->kind) {
	case HV_INSN_MOVS:
	case HV_INSN_STOS:
	case HV_INSN_LODS:
	case HV_INSN_INS:
	case HV_INSN_OUTS:
		return true;
	default:
		return false;
	}
}

/*
 * F3 and F2 both repeat MOVS/STOS/LODS/INS/OUTS (F2 there is undefined
 * in the SDM but behaves as REP); the count is rCX of the address size
 * (SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ").
 */
u64 hv_insn_rep_count(const struct hv_insn *insn,
		      const struct hvlab_regs *regs)
{
	if (!insn->rep || !hv_insn_is_string(insn))
		return 1;
	return hv_gpr_read(regs, HV_GPR_RCX, insn->addr_size, false);
}

/* SDM Vol. 2A Table 2-1: base and index of each 16-bit rm. */
static const s8 hv_ea16_base[8] = {
	HV_GPR_RBX, HV_GPR_RBX, HV_GPR_RBP, HV_GPR_RBP, -1, -1, HV_GPR_RBP, HV_GPR_RBX,
};
static const s8 hv_ea16_index[8] = {
	HV_GPR_RSI, HV_GPR_RDI, HV_GPR_RSI, HV_GPR_RDI, HV_GPR_RSI, HV_GPR_RDI, -1, -1,
};

static u64 hv_ea16(const struct hv_insn *insn, const struct hvlab_regs *regs)
{
	u8 mod = insn->modrm >> 6, rm = insn->modrm & 7;
	u64 ea = (u64)insn->disp;

	if (hv_ea16_base[rm] >= 0 && !(mod == 0 && rm == 6))
		ea += hv_gpr_read(regs, hv_ea16_base[rm], 2, false);
	if (hv_ea16_index[rm] >= 0)
		ea += hv_gpr_read(regs, hv_ea16_index[rm], 2, false);
	return ea;
}

static u64 hv_ea32(const struct hv_insn *insn, const struct hvlab_regs *regs)
{
	u8 mod = insn->modrm >> 6, rm = insn->modrm & 7;
	u64 ea = (u64)insn->disp;
	u8 base, index;

	if (insn->has_sib) {
		base = (insn->sib & 7) | ((insn->rex & HV_REX_B) ? 8 : 0);
		index = ((insn->sib >> 3) & 7) | ((insn->rex & HV_REX_X) ? 8 : 0);
		if (!(mod == 0 && (insn->sib & 7) == 5))
			ea += hv_gpr_read(regs, base, 8, false);
		/* Index 100 means none; with REX.X it is R12 (Table 2-5). */
		if (index != 4)
			ea += hv_gpr_read(regs, index, 8, false) << (insn->sib >> 6);
	} else if (mod == 0 && rm == 5) {
		/* RIP-relative counts from the next instruction (2.2.1.6). */
		if (insn->rip_rel)
			ea += regs->rip + insn->len;
	} else {
		ea += hv_gpr_read(regs, hv_modrm_rm(insn), 8, false);
	}
	return ea;
}

u64 hv_insn_ea(const struct hv_insn *insn, const struct hvlab_regs *regs)
{
	u64 ea;

	switch (insn->kind) {
	case HV_INSN_STOS:
	case HV_INSN_INS:
		return hv_gpr_read(regs, HV_GPR_RDI, insn->addr_size, false);
	case HV_INSN_MOVS:
	case HV_INSN_LODS:
	case HV_INSN_OUTS:
		return hv_gpr_read(regs, HV_GPR_RSI, insn->addr_size, false);
	default:
		break;
	}
	if (!insn->has_mem)
		return 0;
	if (!insn->has_modrm)
		ea = (u64)insn->disp;			/* moffs */
	else if (insn->addr_size == 2)
		ea = hv_ea16(insn, regs);
	else
		ea = hv_ea32(insn, regs);
	/* Offsets wrap at the address size (SDM Vol. 1 3.3.7). */
	return ea & hv_mask(insn->addr_size);
}

/* ------------------------------------------------------------------
 * Completion
 */

static void hv_complete_load(const struct hv_insn *insn,
			     struct hvlab_regs *regs, u64 data)
{
	u64 val = data & hv_mask(insn->size);

	if (insn->ext == HV_EXT_SIGN)
		val = hv_sext(val, insn->size);
	hv_gpr_write(regs, insn->reg, insn->dst_size, insn->high_byte, val);
}

/*
 * CMP, TEST and the RMW kinds once the memory operand @data was read:
 * registers and flags as the instruction leaves them; returns what it
 * writes to memory (meaningful when @insn->rmw).  The arithmetic and
 * flags are hv_alu()'s (module/alu.c).
 */
static u64 hv_complete_alu(const struct hv_insn *insn, struct hvlab_regs *regs,
			   u64 data)
{
	unsigned int size = insn->size;
	u64 mem = data & hv_mask(size), other, res;

	switch (insn->kind) {
	case HV_INSN_XCHG:
		/* SDM Vol. 2B "XCHG": the two operands swap, no flags. */
		other = hv_gpr_read(regs, insn->reg, size, insn->high_byte);
		hv_gpr_write(regs, insn->reg, size, insn->high_byte, mem);
		return other;
	case HV_INSN_XADD:
		/* Vol. 2B "XADD": memory gets the sum, the register the old value. */
		other = hv_gpr_read(regs, insn->reg, size, insn->high_byte);
		res = hv_alu(HV_ALU_ADD, size, mem, other, &regs->rflags);
		hv_gpr_write(regs, insn->reg, size, insn->high_byte, mem);
		return res;
	case HV_INSN_CMPXCHG:
		/*
		 * Vol. 2A "CMPXCHG": flags of CMP accumulator, memory.  Equal:
		 * memory gets the register.  Not equal: the accumulator gets
		 * memory, and memory still receives a write cycle of its own
		 * value ("the destination operand is written back if the
		 * comparison fails"), so the device model sees the write as
		 * the bus would.  KVM's em_cmpxchg writes back the same way.
		 */
		other = hv_gpr_read(regs, HV_GPR_RAX, size, false);
		hv_alu(HV_ALU_CMP, size, other, mem, &regs->rflags);
		if (regs->rflags & HV_FLAG_ZF)
			return hv_gpr_read(regs, insn->reg, size, insn->high_byte);
		hv_gpr_write(regs, HV_GPR_RAX, size, false, mem);
		return mem;
	default:
		break;
	}
	other = hv_src_operand(insn, regs);
	if (insn->mem_first)
		return hv_alu(insn->alu, size, mem, other, &regs->rflags);
	res = hv_alu(insn->alu, size, other, mem, &regs->rflags);
	/* CMP, TEST leave the register alone (a 4-byte write would zero-extend). */
	if (insn->alu != HV_ALU_CMP && insn->alu != HV_ALU_TEST)
		hv_gpr_write(regs, insn->reg, size, insn->high_byte, res);
	return mem;
}

/* Add @delta to @gpr at @size bytes, as the CPU updates rSI/rDI/rCX. */
static void hv_gpr_add(struct hvlab_regs *regs, unsigned int gpr,
		       unsigned int size, s64 delta)
{
	u64 val = hv_gpr_read(regs, gpr, size, false);

	hv_gpr_write(regs, gpr, size, false, val + (u64)delta);
}

/*
 * One element of a string instruction: rSI/rDI step by the element size,
 * down when RFLAGS.DF is set (SDM Vol. 1 7.3.9.1); with REP, rCX counts
 * down.  All three are used at the address size (SDM Vol. 2B "MOVS").
 */
static void hv_string_step(const struct hv_insn *insn, struct hvlab_regs *regs)
{
	s64 delta = (regs->rflags & HV_FLAG_DF) ? -(s64)insn->size : insn->size;

	switch (insn->kind) {
	case HV_INSN_MOVS:
		hv_gpr_add(regs, HV_GPR_RSI, insn->addr_size, delta);
		hv_gpr_add(regs, HV_GPR_RDI, insn->addr_size, delta);
		break;
	case HV_INSN_LODS:
	case HV_INSN_OUTS:
		hv_gpr_add(regs, HV_GPR_RSI, insn->addr_size, delta);
		break;
	default:
		hv_gpr_add(regs, HV_GPR_RDI, insn->addr_size, delta);
		break;
	}
	if (insn->rep)
		hv_gpr_add(regs, HV_GPR_RCX, insn->addr_size, -1);
}

/*
 * RIP moves past the instruction, wrapping at the width of the code
 * segment: 16 bits in 16-bit code, 32 in 32-bit code (SDM Vol. 1 3.5).
 */
static void hv_advance_rip(const struct hv_insn *insn, struct hvlab_regs *regs)
{
	u64 rip = regs->rip + insn->len;

	switch (insn->mode) {
	case HV_MODE_LONG64:
		break;
	case HV_MODE_PROT32:
		rip &= 0xffffffffull;
		break;
	default:
		rip &= 0xffffull;
		break;
	}
	regs->rip = rip;
}

bool hv_insn_complete(const struct hv_insn *insn, struct hvlab_regs *regs,
		      u64 data)
{
	bool string = hv_insn_is_string(insn);

	/* REP with rCX = 0 does nothing at all but retire. */
	if (string && hv_insn_rep_count(insn, regs) == 0) {
		hv_advance_rip(insn, regs);
		return true;
	}

	switch (insn->kind) {
	case HV_INSN_MOV:
		if (!insn->is_write)
			hv_complete_load(insn, regs, data);
		break;
	case HV_INSN_CMP:
	case HV_INSN_TEST:
	case HV_INSN_ALU:
	case HV_INSN_XCHG:
	case HV_INSN_CMPXCHG:
	case HV_INSN_XADD:
		hv_complete_alu(insn, regs, data);
		break;
	case HV_INSN_IN:
	case HV_INSN_LODS:
		hv_gpr_write(regs, HV_GPR_RAX, insn->size, false, data);
		break;
	default:
		break;
	}

	if (string) {
		hv_string_step(insn, regs);
		/* Re-enter on the same RIP for the next element. */
		if (hv_insn_rep_count(insn, regs) != 0 && insn->rep)
			return false;
	}
	hv_advance_rip(insn, regs);
	return true;
}

bool hv_insn_complete_rmw(const struct hv_insn *insn, struct hvlab_regs *regs,
			  u64 data, u64 *store)
{
	*store = hv_complete_alu(insn, regs, data);
	hv_advance_rip(insn, regs);
	return insn->rmw;
}
