/* SPDX-License-Identifier: GPL-2.0 */
/*
 * msr-index.h - stands in for the kernel header in host unit tests: the
 * EFER bits mmu/walk.c reads (SDM Vol. 3A 2.2.1, APM Vol. 2 3.1.7).
 */
#ifndef HVLAB_SHIM_MSR_INDEX_H
#define HVLAB_SHIM_MSR_INDEX_H
#define EFER_LME	(1 << 8)
#define EFER_LMA	(1 << 10)
#define EFER_NX		(1 << 11)
#endif
