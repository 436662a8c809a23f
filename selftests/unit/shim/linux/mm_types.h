/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mm_types.h - stands in for the kernel header mmu/mmu.h includes: the
 * EPT/NPT entry formats need only struct page as an incomplete type.
 */
#ifndef HVLAB_SHIM_MM_TYPES_H
#define HVLAB_SHIM_MM_TYPES_H
struct page;
#endif
