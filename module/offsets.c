// SPDX-License-Identifier: GPL-2.0
/*
 * offsets.c - struct offsets for the world-switch assembly, generated at
 * build time (Kbuild turns this into hv_offsets.h) so no .S file carries a
 * hand-typed number.
 */
#include <linux/stddef.h>
#include <linux/kbuild.h>

#include "hv.h"

#define REG(name) OFFSET(HV_REGS_##name, hvlab_regs, name)

void hv_offsets(void);
void hv_offsets(void)
{
	REG(rax); REG(rbx); REG(rcx); REG(rdx); REG(rsi); REG(rdi); REG(rsp); REG(rbp);
	REG(r8); REG(r9); REG(r10); REG(r11); REG(r12); REG(r13); REG(r14); REG(r15);
}
