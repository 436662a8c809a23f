// SPDX-License-Identifier: GPL-2.0
/*
 * test_alu.c - unit test of module/alu.c: every operation at every
 * operand size, for random operands and random incoming status flags,
 * against the same instruction executed by the host CPU (register form,
 * flags loaded with POPF, read back with PUSHF).  All six status flags
 * are compared, so both the flags an instruction defines and the ones it
 * leaves alone are checked; the "undefined" ones are compared too, so a
 * host that differs from alu.c's documented choice shows up as a failure
 * naming the flag.
 *
 *   test_alu [SEED] [ROUNDS]    default: a seed from the time, printed
 *
 * Reproduce a failure with the printed seed.  Built with -mno-red-zone:
 * the PUSH/POP in the inline assembly writes below the stack pointer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kshim.h"
#include "alu.c"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

typedef u64 (*host_fn)(u64 dst, u64 src, u64 *flags);

/* Flags in (the six status flags and the reserved bit 1), flags out. */
#define HOST_ASM(text, T, cons)						\
	T d = dst, s = src;						\
	u64 f = *flags;							\
	asm volatile("push %[f]\n\tpopfq\n\t" text "\n\tpushfq\n\tpop %[f]"	\
		     : [d] "+" cons(d), [f] "+r"(f)			\
		     : [s] cons(s) : "cc");				\
	(void)s;							\
	*flags = f;							\
	return d

#define HOST2(name, T, cons)						\
static u64 host_##name##_##T(u64 dst, u64 src, u64 *flags)		\
{									\
	HOST_ASM(#name " %[s], %[d]", T, cons);				\
}
#define HOST1(name, T, cons)						\
static u64 host_##name##_##T(u64 dst, u64 src, u64 *flags)		\
{									\
	HOST_ASM(#name " %[d]", T, cons);				\
}

#define HOST_ALL(T, cons)						\
	HOST2(add, T, cons) HOST2(or, T, cons) HOST2(adc, T, cons)	\
	HOST2(sbb, T, cons) HOST2(and, T, cons) HOST2(sub, T, cons)	\
	HOST2(xor, T, cons) HOST2(cmp, T, cons) HOST2(test, T, cons)	\
	HOST1(inc, T, cons) HOST1(dec, T, cons) HOST1(not, T, cons)	\
	HOST1(neg, T, cons)
/* BT has no byte form (SDM Vol. 2A "BT"). */
#define HOST_BT(T, cons)						\
	HOST2(bt, T, cons) HOST2(bts, T, cons) HOST2(btr, T, cons)	\
	HOST2(btc, T, cons)

HOST_ALL(u8, "q")
HOST_ALL(u16, "r")
HOST_ALL(u32, "r")
HOST_ALL(u64, "r")
HOST_BT(u16, "r")
HOST_BT(u32, "r")
HOST_BT(u64, "r")

struct form {
	const char *name;
	enum hv_alu_op op;
	unsigned int size;
	host_fn host;
};

#define F(name, OP, T)	{ #name, HV_ALU_##OP, sizeof(T), host_##name##_##T }
#define F_ALL(T)							\
	F(add, ADD, T), F(or, OR, T), F(adc, ADC, T), F(sbb, SBB, T),	\
	F(and, AND, T), F(sub, SUB, T), F(xor, XOR, T), F(cmp, CMP, T),	\
	F(test, TEST, T), F(inc, INC, T), F(dec, DEC, T), F(not, NOT, T), \
	F(neg, NEG, T)
#define F_BT(T)								\
	F(bt, BT, T), F(bts, BTS, T), F(btr, BTR, T), F(btc, BTC, T)

static const struct form forms[] = {
	F_ALL(u8), F_ALL(u16), F_ALL(u32), F_ALL(u64),
	F_BT(u16), F_BT(u32), F_BT(u64),
};

/* xorshift64*: small, seeded, the same sequence everywhere. */
static u64 rng_state;

static u64 rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/*
 * Operands: half uniformly random, half from the edges where carries,
 * overflows and sign changes happen (0, 1, -1, the sign bit and its
 * neighbours, nibble boundaries for AF).
 */
static u64 operand(unsigned int size)
{
	static const u64 edges[] = {
		0, 1, 2, 0xf, 0x10, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
		0x7fffffff, 0x80000000, 0xffffffff, 0x7fffffffffffffffull,
		0x8000000000000000ull, ~0ull, ~0ull - 1,
	};
	u64 v = rnd();

	if (v & 1)
		v = edges[(v >> 1) % ARRAY_SIZE(edges)] + ((v >> 8) & 3) - 1;
	else
		v = rnd();
	return size == 8 ? v : v & ((1ull << (8 * size)) - 1);
}

static const struct {
	u64 bit;
	const char *name;
} flag_names[] = {
	{ HV_FLAG_CF, "CF" }, { HV_FLAG_PF, "PF" }, { HV_FLAG_AF, "AF" },
	{ HV_FLAG_ZF, "ZF" }, { HV_FLAG_SF, "SF" }, { HV_FLAG_OF, "OF" },
};

static void flag_str(u64 diff, char *buf)
{
	unsigned int i;

	buf[0] = 0;
	for (i = 0; i < ARRAY_SIZE(flag_names); i++)
		if (diff & flag_names[i].bit)
			strcat(strcat(buf, " "), flag_names[i].name);
}

int main(int argc, char **argv)
{
	u64 seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (u64)time(NULL);
	unsigned long rounds = argc > 2 ? strtoul(argv[2], NULL, 0) : 20000;
	unsigned int i, nfail = 0;
	unsigned long n;

	printf("TAP version 13\n1..%zu\n# seed %llu, %lu rounds per form\n",
	       ARRAY_SIZE(forms), (unsigned long long)seed, rounds);
	for (i = 0; i < ARRAY_SIZE(forms); i++) {
		const struct form *fm = &forms[i];
		unsigned int bad = 0;

		rng_state = seed * 0x9e3779b97f4a7c15ull + i + 1;
		for (n = 0; n < rounds; n++) {
			u64 dst = operand(fm->size), src = operand(fm->size);
			u64 fin = 0x2 | (rnd() & HV_FLAGS_STATUS);
			u64 hf = fin, ef = fin, hr, er;
			char diff[32];

			hr = fm->host(dst, src, &hf);
			er = hv_alu(fm->op, fm->size, dst, src, &ef);
			hf &= HV_FLAGS_STATUS | 0x2;
			if (hr == er && hf == ef)
				continue;
			flag_str(hf ^ ef, diff);
			if (bad++ < 5)
				printf("# %s%u dst=%#llx src=%#llx flags in %#llx: cpu %#llx/%#llx, alu.c %#llx/%#llx%s%s\n",
				       fm->name, 8 * fm->size, (unsigned long long)dst,
				       (unsigned long long)src, (unsigned long long)fin,
				       (unsigned long long)hr, (unsigned long long)hf,
				       (unsigned long long)er, (unsigned long long)ef,
				       diff[0] ? ", flags differ:" : "", diff);
		}
		printf("%s %u - %s%u: %lu random operand pairs%s\n", bad ? "not ok" : "ok",
		       i + 1, fm->name, 8 * fm->size, rounds, bad ? ", mismatches above" : "");
		nfail += !!bad;
	}
	printf("# Totals: pass:%zu fail:%u\n", ARRAY_SIZE(forms) - nfail, nfail);
	return nfail ? 1 : 0;
}
