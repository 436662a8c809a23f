/* SPDX-License-Identifier: GPL-2.0 */
/*
 * x86.h - the architectural bits the selftests write into guest control
 * registers, EFER, RFLAGS and page-table entries, defined once for every
 * test.  Numbers from the Intel SDM Vol. 3A 2.5 (CR0, CR4), 2.2.1 (EFER),
 * Vol. 1 3.4.3 (EFLAGS) and 4.5 (paging-structure entries); AMD APM Vol. 2
 * 3.1 and 5.3 agree.  The tests keep their own copy rather than the
 * kernel's, so that a wrong bit in the module is not hidden by the same
 * wrong bit in the test.
 */
#ifndef HVT_X86_H
#define HVT_X86_H

#define CR0_PE		(1ull << 0)
#define CR0_MP		(1ull << 1)
#define CR0_EM		(1ull << 2)
#define CR0_TS		(1ull << 3)
#define CR0_ET		(1ull << 4)
#define CR0_NE		(1ull << 5)
#define CR0_WP		(1ull << 16)
#define CR0_AM		(1ull << 18)
#define CR0_NW		(1ull << 29)
#define CR0_CD		(1ull << 30)
#define CR0_PG		(1ull << 31)

#define CR4_PSE		(1ull << 4)
#define CR4_PAE		(1ull << 5)
#define CR4_PGE		(1ull << 7)
#define CR4_OSFXSR	(1ull << 9)
#define CR4_OSXMMEXCPT	(1ull << 10)
#define CR4_PCIDE	(1ull << 17)
#define CR4_OSXSAVE	(1ull << 18)
#define CR4_SMAP	(1ull << 21)
#define CR4_PKE		(1ull << 22)

#define EFER_SCE	(1ull << 0)
#define EFER_LME	(1ull << 8)
#define EFER_LMA	(1ull << 10)
#define EFER_NXE	(1ull << 11)
#define EFER_SVME	(1ull << 12)

#define RFLAGS_IF	(1ull << 9)
#define RFLAGS_IOPL3	(3ull << 12)
#define RFLAGS_VM	(1ull << 17)
#define RFLAGS_AC	(1ull << 18)

#define PTE_P		(1ull << 0)
#define PTE_RW		(1ull << 1)
#define PTE_US		(1ull << 2)
#define PTE_A		(1ull << 5)
#define PTE_D		(1ull << 6)
#define PTE_PS		(1ull << 7)

#endif
