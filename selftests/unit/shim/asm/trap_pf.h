/* SPDX-License-Identifier: GPL-2.0 */
/*
 * trap_pf.h - stands in for the kernel header in host unit tests: the
 * page-fault error code bits (SDM Vol. 3A 4.7, APM Vol. 2 8.4.2).
 */
#ifndef HVLAB_SHIM_TRAP_PF_H
#define HVLAB_SHIM_TRAP_PF_H
#define X86_PF_PROT	(1UL << 0)
#define X86_PF_WRITE	(1UL << 1)
#define X86_PF_USER	(1UL << 2)
#define X86_PF_RSVD	(1UL << 3)
#define X86_PF_INSTR	(1UL << 4)
#define X86_PF_PK	(1UL << 5)
#endif
