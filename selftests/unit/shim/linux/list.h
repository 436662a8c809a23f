/* SPDX-License-Identifier: GPL-2.0 */
/*
 * list.h - stands in for the kernel header mmu/mmu.h includes: its
 * prototypes need struct list_head only as an incomplete type.
 */
#ifndef HVLAB_SHIM_LIST_H
#define HVLAB_SHIM_LIST_H
struct list_head;
#endif
