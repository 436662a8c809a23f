/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bits.h - stands in for the kernel header in host unit tests: the bit
 * and mask macros mmu/walk.c uses.
 */
#ifndef HVLAB_SHIM_BITS_H
#define HVLAB_SHIM_BITS_H
#define BIT(n)			(1UL << (n))
#define BIT_ULL(n)		(1ULL << (n))
#define GENMASK_ULL(h, l)	((~0ULL << (l)) & (~0ULL >> (63 - (h))))
#endif
