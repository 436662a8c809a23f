/* SPDX-License-Identifier: GPL-2.0 */
/*
 * decode.h - the x86 instruction decoder for exits the hardware does not
 * describe: MMIO (nested page fault / EPT violation on a guest-physical
 * address with no RAM behind it) and, on SVM without NRIP save, the length
 * of any intercepted instruction.
 *
 * Covers the legacy encodings: prefixes, REX, the one-byte map and the 0F
 * map (0F 38 / 0F 3A for length only).  VEX, EVEX and XOP are refused.
 * Pure computation on bytes and a register file: no locks, no allocation,
 * no guest memory access, so it also builds in the userspace unit test
 * (selftests/unit/test_decode.c).
 *
 * Typical MMIO use:
 *	hv_decode_mmio(bytes, n, hv_cpu_mode(&sregs, regs.rflags), &insn);
 *	store: data = hv_insn_store_data(&insn, &regs), report insn.size bytes
 *	load:  after userspace answers, hv_insn_complete(&insn, &regs, data)
 *	RMW:   after the read, hv_insn_complete_rmw(), then report the write
 * and for an SVM intercept without NRIP: hv_decode() then
 * hv_insn_complete(&insn, &regs, 0) once the exit is handled.
 */
#ifndef HVLAB_DECODE_H
#define HVLAB_DECODE_H

#include <linux/types.h>

#include "hvlab.h"
#include "alu.h"

/* SDM Vol. 2A 2.3.11 / APM Vol. 3 1.1: longer encodings raise #GP. */
#define HV_INSN_MAX_LEN		15

/*
 * How the CPU decodes: default operand/address size and whether REX and
 * VEX exist.  hv_cpu_mode() derives it from CR0.PE, RFLAGS.VM, EFER.LMA
 * and CS.L/CS.D.
 */
enum hv_cpu_mode {
	HV_MODE_REAL,		/* real or virtual-8086: 16-bit, no VEX */
	HV_MODE_PROT16,		/* protected or compatibility, CS.D = 0 */
	HV_MODE_PROT32,		/* protected or compatibility, CS.D = 1 */
	HV_MODE_LONG64,		/* 64-bit mode: EFER.LMA = 1 and CS.L = 1 */
};

/*
 * General-purpose registers in the hardware's encoding order (ModRM.reg,
 * ModRM.rm, SIB, opcode+r; SDM Vol. 2A Table 2-1 / 3.1.1.1), which is also
 * the order VMX exit qualifications and SVM EXITINFO use.  struct
 * hvlab_regs is laid out differently: reach it through hv_gpr().
 */
enum hv_gpr {
	HV_GPR_RAX, HV_GPR_RCX, HV_GPR_RDX, HV_GPR_RBX,
	HV_GPR_RSP, HV_GPR_RBP, HV_GPR_RSI, HV_GPR_RDI,
	HV_GPR_R8,  HV_GPR_R9,  HV_GPR_R10, HV_GPR_R11,
	HV_GPR_R12, HV_GPR_R13, HV_GPR_R14, HV_GPR_R15,
	HV_NR_GPRS
};

/* Segment registers in the Sreg encoding order (SDM Vol. 2A 3.1.1.3). */
enum hv_seg {
	HV_SEG_ES, HV_SEG_CS, HV_SEG_SS, HV_SEG_DS, HV_SEG_FS, HV_SEG_GS,
};

/* Which opcode map @opcode belongs to (SDM Vol. 2D Appendix A.3). */
enum hv_opmap {
	HV_MAP_ONE,		/* one-byte map */
	HV_MAP_0F,		/* 0F xx */
	HV_MAP_0F38,		/* 0F 38 xx: length only */
	HV_MAP_0F3A,		/* 0F 3A xx: length only */
};

/*
 * What the instruction does, as far as an exit handler cares.  Every kind
 * has a valid length; the fields each kind fills are listed with
 * struct hv_insn.  HV_INSN_OTHER covers everything else of the legacy maps
 * (CPUID, RDMSR, HLT, INVLPG, MUL, x87, SSE...): only the encoding
 * fields are valid.  The kinds marked "RMW" (and CMP, TEST) read the
 * memory operand first; those with @rmw set then write it back: on MMIO
 * that is one exit for the read and, once userspace answered, one for
 * the write.
 */
enum hv_insn_kind {
	HV_INSN_OTHER,
	HV_INSN_MOV,		/* MOV/MOVZX/MOVSX/MOVSXD reg<->mem, MOV mem<-imm */
	HV_INSN_CMP,		/* CMP with a memory operand: reads, sets flags */
	HV_INSN_TEST,		/* TEST with a memory operand: reads, sets flags */
	HV_INSN_ALU,		/* RMW: @alu with a memory operand, see @mem_first */
	HV_INSN_XCHG,		/* RMW: 86/87 with memory */
	HV_INSN_CMPXCHG,	/* RMW: 0F B0/B1 with memory */
	HV_INSN_XADD,		/* RMW: 0F C0/C1 with memory */
	HV_INSN_MOVS,		/* A4/A5, one element per completion */
	HV_INSN_STOS,		/* AA/AB */
	HV_INSN_LODS,		/* AC/AD */
	HV_INSN_IN,		/* E4/E5/EC/ED */
	HV_INSN_OUT,		/* E6/E7/EE/EF */
	HV_INSN_INS,		/* 6C/6D */
	HV_INSN_OUTS,		/* 6E/6F */
	HV_INSN_MOV_CR,		/* 0F 20 / 0F 22 */
	HV_INSN_MOV_DR,		/* 0F 21 / 0F 23 */
};

/* How a load widens the @size bytes read into @dst_size bytes. */
enum hv_ext {
	HV_EXT_NONE,		/* size == dst_size */
	HV_EXT_ZERO,		/* MOVZX */
	HV_EXT_SIGN,		/* MOVSX, MOVSXD with REX.W */
};

struct hv_insn {
	/* ---- Encoding: valid whenever @len is non-zero. */
	u8 len;			/* bytes, prefixes included; 0 = unknown */
	u8 mode;		/* enum hv_cpu_mode it was decoded in */
	u8 map;			/* enum hv_opmap */
	u8 opcode;		/* the opcode byte within @map */
	u8 modrm;		/* if @has_modrm */
	u8 sib;			/* if @has_sib */
	u8 rex;			/* 0x40-0x4f if a REX prefix counts, else 0 */
	u8 rep;			/* last of F2/F3 seen, else 0 */
	u8 op_size;		/* effective operand size: 2, 4 or 8 */
	u8 addr_size;		/* effective address size: 2, 4 or 8 */
	u8 seg;			/* enum hv_seg of the memory operand */
	u8 disp_size;		/* 0, 1, 2, 4 (8: 64-bit moffs) */
	u8 imm_size;		/* bytes of immediate, all immediates summed */
	bool has_modrm;
	bool has_sib;
	bool lock;		/* F0 seen */
	bool seg_override;	/* @seg comes from a prefix that counts */
	bool has_mem;		/* ModRM memory form, moffs, or string */
	bool rip_rel;		/* 64-bit mode ModRM mod=00 rm=101 */
	s64 disp;		/* sign-extended displacement, or moffs offset */
	u64 imm;		/* all immediate bytes, little-endian, zero-extended */

	/* ---- Operands: by @kind. */
	enum hv_insn_kind kind;
	/*
	 * Bytes the memory (or port) access moves: 1, 2, 4 or 8.  MOV, CMP,
	 * TEST, RMW, string and port kinds; MOV_CR/MOV_DR: GPR width.
	 */
	u8 size;
	/*
	 * MOV/STOS/OUT/OUTS: memory/port is written.  MOV_CR/MOV_DR: the
	 * control/debug register is written.  MOVS reads DS:rSI and writes
	 * ES:rDI: @is_write is false and the fault's access type says which
	 * side is the MMIO one; the caller copies the other side from or to
	 * guest memory itself (hv_insn_ea() gives the rSI offset).
	 */
	bool is_write;
	/*
	 * The memory operand is read, and then written back with what the
	 * instruction computed (ALU with memory destination except BT,
	 * XCHG, CMPXCHG, XADD); @is_write stays false.
	 */
	bool rmw;
	/* CMP, TEST, ALU: the operation (enum hv_alu_op). */
	u8 alu;
	/* MOV store, CMP, TEST, ALU: the other operand is @imm, not @reg. */
	bool src_imm;
	/*
	 * CMP, TEST, ALU: memory is the first ("destination") operand:
	 * flags are of (memory op other) and an ALU result goes to memory;
	 * else (other op memory) and an ALU result goes to @reg.
	 */
	bool mem_first;
	/*
	 * MOV, CMP, TEST, RMW: the register operand (enum hv_gpr); with
	 * @high_byte it is bits 15:8 of that register (AH, CH, DH, BH).
	 * String, IN, LODS: HV_GPR_RAX.  MOV_CR/MOV_DR: the GPR.
	 */
	u8 reg;
	bool high_byte;
	/* MOV loads: bytes written to @reg, and how @size widens to it. */
	u8 dst_size;
	u8 ext;			/* enum hv_ext */
	/* IN/OUT/INS/OUTS: the port is DX, else @imm. */
	bool port_dx;
	/* MOV_CR/MOV_DR: register number (LOCK MOV CR0 = CR8 on AMD). */
	u8 ctl;
};

/*
 * Decode the instruction at @bytes (@avail bytes fetched from guest RIP,
 * at most HV_INSN_MAX_LEN are looked at).
 * Returns 0 and fills @insn; -ENODATA when the bytes end before the
 * instruction does; -EINVAL for an encoding the CPU would refuse (#UD,
 * over 15 bytes); -EOPNOTSUPP for VEX, EVEX and XOP (len 0).
 */
int hv_decode(const u8 *bytes, unsigned int avail, enum hv_cpu_mode mode,
	      struct hv_insn *insn);

/*
 * hv_decode() for a nested page fault / EPT violation on MMIO: also
 * -EOPNOTSUPP unless @insn is a kind the MMIO path emulates (MOV, CMP,
 * TEST, RMW, MOVS, STOS, LODS with a memory operand); @insn->len is
 * still set then when known, for the internal-error report.  -EINVAL
 * for LOCK where the CPU raises #UD (SDM Vol. 2B "LOCK": only the RMW
 * forms with a memory destination take it).
 */
int hv_decode_mmio(const u8 *bytes, unsigned int avail, enum hv_cpu_mode mode,
		   struct hv_insn *insn);

/* The decoding mode for a vCPU's segment and control state. */
enum hv_cpu_mode hv_cpu_mode(const struct hvlab_sregs *sregs, u64 rflags);

/* The struct hvlab_regs field of GPR @gpr (enum hv_gpr), NULL if >= 16. */
u64 *hv_gpr(struct hvlab_regs *regs, unsigned int gpr);

/* Read @size bytes of @gpr (bits 15:8 with @high_byte), zero-extended. */
u64 hv_gpr_read(const struct hvlab_regs *regs, unsigned int gpr,
		unsigned int size, bool high_byte);

/*
 * Write @size bytes of @gpr as the CPU does (SDM Vol. 1 3.4.1.1): 1 and 2
 * byte writes keep the other bits, a 4-byte write zeroes bits 63:32.
 */
void hv_gpr_write(struct hvlab_regs *regs, unsigned int gpr,
		  unsigned int size, bool high_byte, u64 val);

/*
 * The @insn->size bytes a MOV, STOS or OUT writes, taken from the
 * register or immediate (sign-extended as the CPU does).  MOVS and OUTS
 * write what they read from guest memory: the caller fetches that.
 */
u64 hv_insn_store_data(const struct hv_insn *insn,
		       const struct hvlab_regs *regs);

/*
 * Iterations left for a string instruction: rCX at @insn->addr_size with
 * a REP prefix, 1 without.  0 means the CPU does nothing but advance RIP.
 */
u64 hv_insn_rep_count(const struct hv_insn *insn,
		      const struct hvlab_regs *regs);

/*
 * The effective address (offset in @insn->seg, before the segment base)
 * of a ModRM or moffs memory operand, wrapped to the address size.
 * String kinds: the rSI (LODS, OUTS, MOVS source) or rDI (STOS, INS)
 * offset.  RIP-relative uses the RIP of @insn's first byte.
 */
u64 hv_insn_ea(const struct hv_insn *insn, const struct hvlab_regs *regs);

/*
 * Finish @insn after the exit was handled: write @data (a value read from
 * the device or port) to its register with the width/extension rules, set
 * flags for CMP/TEST, step rSI/rDI/rCX for one string element, advance RIP.
 * For stores, OUT and HV_INSN_OTHER @data is ignored: only registers and
 * RIP change.  Returns true when the instruction retired (RIP advanced),
 * false when a REP string instruction has iterations left and must be
 * re-entered with RIP unchanged.
 */
bool hv_insn_complete(const struct hv_insn *insn, struct hvlab_regs *regs,
		      u64 data);

/*
 * hv_insn_complete() for the CMP, TEST and RMW kinds, which also gives
 * in *@store the value the instruction writes to memory.  Returns true
 * when memory is written (@insn->rmw), false when it is only read.
 */
bool hv_insn_complete_rmw(const struct hv_insn *insn, struct hvlab_regs *regs,
			  u64 data, u64 *store);

#endif /* HVLAB_DECODE_H */
