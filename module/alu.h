/* SPDX-License-Identifier: GPL-2.0 */
/*
 * alu.h - the result and RFLAGS of the x86 integer ALU instructions that
 * hvlab emulates on MMIO operands (module/decode.c), computed as the CPU
 * computes them.  Pure arithmetic, so selftests/unit/test_alu.c compiles
 * module/alu.c on the build host and compares every operation and size
 * with the host CPU's own result.
 */
#ifndef HVLAB_ALU_H
#define HVLAB_ALU_H

#include <linux/types.h>

/* The status flags (SDM Vol. 1 3.4.3.1, APM Vol. 1 3.1.6). */
#define HV_FLAG_CF	(1ull << 0)
#define HV_FLAG_PF	(1ull << 2)
#define HV_FLAG_AF	(1ull << 4)
#define HV_FLAG_ZF	(1ull << 6)
#define HV_FLAG_SF	(1ull << 7)
#define HV_FLAG_OF	(1ull << 11)
#define HV_FLAGS_STATUS	(HV_FLAG_CF | HV_FLAG_PF | HV_FLAG_AF | HV_FLAG_ZF | \
			 HV_FLAG_SF | HV_FLAG_OF)

/*
 * The first eight are group 1 in ModRM.reg order and the order of the
 * one-byte opcodes 00-3F (SDM Vol. 2D Table A-6), so opcode >> 3 and
 * ModRM.reg of 80-83 index them directly.  BT..BTC follow 0F BA /4../7.
 */
enum hv_alu_op {
	HV_ALU_ADD, HV_ALU_OR, HV_ALU_ADC, HV_ALU_SBB,
	HV_ALU_AND, HV_ALU_SUB, HV_ALU_XOR, HV_ALU_CMP,
	HV_ALU_TEST, HV_ALU_INC, HV_ALU_DEC, HV_ALU_NOT, HV_ALU_NEG,
	HV_ALU_BT, HV_ALU_BTS, HV_ALU_BTR, HV_ALU_BTC,
	HV_NR_ALU_OPS
};

/*
 * @op applied to the low @size bytes (1, 2, 4, 8) of @dst and @src, as
 * "op dst, src": returns the result (for CMP, TEST and BT: @dst, which
 * they do not change) and updates the status flags in *@rflags that @op
 * defines or leaves alone as the CPU does.  ADC/SBB take the carry from
 * *@rflags; INC/DEC/NOT/NEG ignore @src; the BT family takes the bit
 * number from @src modulo 8 * @size.
 */
u64 hv_alu(enum hv_alu_op op, unsigned int size, u64 dst, u64 src, u64 *rflags);

#endif /* HVLAB_ALU_H */
