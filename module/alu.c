// SPDX-License-Identifier: GPL-2.0
/*
 * alu.c - result and status flags of the integer ALU instructions the
 * MMIO emulation performs (ADD OR ADC SBB AND SUB XOR CMP TEST INC DEC
 * NOT NEG BT BTS BTR BTC), in C.
 *
 * KVM runs the instruction itself on the host CPU with the guest's flags
 * loaded (arch/x86/kvm/emulate.c, the FASTOP* stubs behind em_add ...
 * em_btc, em_test, em_not, em_neg, em_inc, em_dec), so its "undefined"
 * flags are whatever the host model does.  hvlab computes them, so the
 * code stays plain C that the unit test (selftests/unit/test_alu.c) can
 * check against the host CPU for random operands, every operation and
 * size, flags in and out.  Each rule below is the instruction's page in
 * SDM Vol. 2A/2B ("Flags Affected"); where that page says "undefined",
 * the choice is the one that the host CPU, QEMU and Bochs agree on, and
 * it is said at the case.
 */
#include <linux/types.h>

#include "alu.h"

static u64 hv_alu_mask(unsigned int size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* PF: the low byte of the result has an even number of set bits. */
static bool hv_alu_parity_even(u64 val)
{
	u8 b = val;

	b ^= b >> 4;
	b ^= b >> 2;
	b ^= b >> 1;
	return !(b & 1);
}

/* SF, ZF, PF of a result of @size bytes (SDM Vol. 1 3.4.3.1). */
static u64 hv_alu_szp(u64 res, unsigned int size)
{
	u64 flags = 0;

	if (!(res & hv_alu_mask(size)))
		flags |= HV_FLAG_ZF;
	if (res & (1ull << (8 * size - 1)))
		flags |= HV_FLAG_SF;
	if (hv_alu_parity_even(res))
		flags |= HV_FLAG_PF;
	return flags;
}

/*
 * a + b + carry.  CF is the carry out of the top bit: with both operands
 * masked to the size, the sum wrapped iff it is below a (or equal to a
 * when a carry came in, which covers b = all ones).  OF: operands of one
 * sign, result of the other.  AF: carry out of bit 3.
 */
static u64 hv_alu_add(unsigned int size, u64 a, u64 b, u64 carry, u64 *flags)
{
	u64 mask = hv_alu_mask(size), msb = 1ull << (8 * size - 1);
	u64 res = (a + b + carry) & mask;

	*flags = hv_alu_szp(res, size);
	if (res < a || (carry && res == a))
		*flags |= HV_FLAG_CF;
	if (~(a ^ b) & (a ^ res) & msb)
		*flags |= HV_FLAG_OF;
	if ((a ^ b ^ res) & 0x10)
		*flags |= HV_FLAG_AF;
	return res;
}

/*
 * a - b - borrow.  CF is the borrow: b (plus the borrow in) exceeds a.
 * OF: operands of different sign and the result's sign is not a's.
 * AF: borrow into bit 3.
 */
static u64 hv_alu_sub(unsigned int size, u64 a, u64 b, u64 borrow, u64 *flags)
{
	u64 mask = hv_alu_mask(size), msb = 1ull << (8 * size - 1);
	u64 res = (a - b - borrow) & mask;

	*flags = hv_alu_szp(res, size);
	if (a < b || (borrow && a == b))
		*flags |= HV_FLAG_CF;
	if ((a ^ b) & (a ^ res) & msb)
		*flags |= HV_FLAG_OF;
	if ((a ^ b ^ res) & 0x10)
		*flags |= HV_FLAG_AF;
	return res;
}

u64 hv_alu(enum hv_alu_op op, unsigned int size, u64 dst, u64 src, u64 *rflags)
{
	u64 mask = hv_alu_mask(size);
	u64 carry = !!(*rflags & HV_FLAG_CF);
	u64 changed = HV_FLAGS_STATUS, flags = 0, res;
	unsigned int bit;

	dst &= mask;
	src &= mask;
	switch (op) {
	case HV_ALU_ADD:	/* SDM Vol. 2A "ADD": OF SF ZF AF CF PF */
		res = hv_alu_add(size, dst, src, 0, &flags);
		break;
	case HV_ALU_ADC:	/* "ADC": dst + src + CF, same flags */
		res = hv_alu_add(size, dst, src, carry, &flags);
		break;
	case HV_ALU_INC:	/* "INC": as ADD 1, but CF is not affected */
		res = hv_alu_add(size, dst, 1, 0, &flags);
		changed &= ~HV_FLAG_CF;
		break;
	case HV_ALU_SUB:	/* Vol. 2B "SUB": OF SF ZF AF PF CF */
	case HV_ALU_CMP:	/* Vol. 2A "CMP": as SUB, result discarded */
		res = hv_alu_sub(size, dst, src, 0, &flags);
		break;
	case HV_ALU_SBB:	/* Vol. 2B "SBB": dst - (src + CF) */
		res = hv_alu_sub(size, dst, src, carry, &flags);
		break;
	case HV_ALU_DEC:	/* Vol. 2A "DEC": as SUB 1, CF not affected */
		res = hv_alu_sub(size, dst, 1, 0, &flags);
		changed &= ~HV_FLAG_CF;
		break;
	case HV_ALU_NEG:
		/* Vol. 2B "NEG": 0 - dst; CF = (dst != 0), which is SUB's borrow. */
		res = hv_alu_sub(size, 0, dst, 0, &flags);
		break;
	case HV_ALU_AND:
	case HV_ALU_TEST:
	case HV_ALU_OR:
	case HV_ALU_XOR:
		/*
		 * Vol. 2A "AND", Vol. 2B "OR", "XOR", "TEST": OF = CF = 0,
		 * SF ZF PF by the result, AF undefined.  AF is cleared: the
		 * AMD host of the unit test, QEMU TCG (its "logic" flags)
		 * and Bochs all clear it.
		 */
		if (op == HV_ALU_OR)
			res = dst | src;
		else if (op == HV_ALU_XOR)
			res = dst ^ src;
		else
			res = dst & src;
		flags = hv_alu_szp(res, size);
		break;
	case HV_ALU_NOT:	/* Vol. 2B "NOT": no flags affected */
		res = ~dst & mask;
		changed = 0;
		break;
	case HV_ALU_BT:
	case HV_ALU_BTS:
	case HV_ALU_BTR:
	case HV_ALU_BTC:
		/*
		 * Vol. 2A "BT", "BTC", "BTR", "BTS": CF = the selected bit
		 * (before any change), ZF unaffected, OF SF AF PF undefined.
		 * Those are left unchanged: that is what the AMD host of the
		 * unit test does, and the emulated CPUs of the rig (Bochs;
		 * QEMU when the flags were last set by POPF), as the
		 * selftest test_mmio_rmw compares.  The bit number is taken modulo the operand
		 * width; a memory operand's displacement by the rest of a
		 * register bit offset is the caller's (see decode.c).
		 */
		bit = src & (8 * size - 1);
		changed = HV_FLAG_CF;
		if (dst & (1ull << bit))
			flags = HV_FLAG_CF;
		if (op == HV_ALU_BTS)
			res = dst | (1ull << bit);
		else if (op == HV_ALU_BTR)
			res = dst & ~(1ull << bit);
		else if (op == HV_ALU_BTC)
			res = dst ^ (1ull << bit);
		else
			res = dst;
		break;
	default:
		return dst;
	}
	if (op == HV_ALU_CMP || op == HV_ALU_TEST)
		res = dst;
	*rflags = (*rflags & ~changed) | (flags & changed);
	return res;
}
