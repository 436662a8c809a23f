// SPDX-License-Identifier: GPL-2.0
/*
 * lab06_guest.c - the multiboot guest of docs/labs/06-cheaper-exit.md,
 * run by hvlab-run: it does what Linux's outb_p()/inb_p() do around slow
 * ISA devices (the 8259, the PIT, the CMOS clock): 4096 writes to port
 * 0x80, the POST-code port, which no device answers (a "delay"; Debian's
 * kernels have CONFIG_IO_DELAY_0X80=y).  Then it exits with code 54
 * through the debug-exit port 0xF4.
 */
#include <stdint.h>

/* mbio.h's console helpers are static; not every lab guest uses all of them. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../guest/mbio.h"

#define MB_MAGIC	0x1BADB002u
#define MB_FLAGS	0x00000003u

__attribute__((section(".multiboot"), used, aligned(4)))
static const uint32_t mb_header[3] = { MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS) };

uint8_t stack[4096] __attribute__((aligned(16), used));
void mb_main(void);

__asm__(".text\n"
	".globl mb_entry\n"
	"mb_entry:\n"
	"	mov $stack + 4096, %esp\n"
	"	call mb_main\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n");

void mb_main(void)
{
	for (uint32_t i = 0; i < 4096; i++)
		outb(0x80, (uint8_t)i);
	puts("lab06: 4096 writes to port 0x80 done\n");
	outb(0xf4, 54);
	for (;;)
		__asm__ volatile("cli; hlt");
}
