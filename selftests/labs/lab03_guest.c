// SPDX-License-Identifier: GPL-2.0
/*
 * lab03_guest.c - the multiboot guest of docs/labs/03-hypercall.md, run
 * by hvlab-run: it makes hypercall 1 ("log a string") with VMCALL on
 * Intel or VMMCALL on AMD, and checks the answers:
 *   RAX=1, RBX=GPA, RCX=len (1..80)   -> 0, the string is in the host's log
 *   RCX=0 or RCX>80                   -> -EINVAL (-22)
 *   RBX outside guest RAM             -> -EFAULT (-14)
 *   RAX=2 (no such hypercall)         -> -ENOSYS (-38)
 * The string carries the word after "nonce=" on the command line, so the
 * check can tell this run's line from any other.  Exit code (port 0xF4):
 * 51 if every answer was right, else 1.
 */
#include <stdint.h>

/* mbio.h's console helpers are static; not every lab guest uses all of them. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../guest/mbio.h"

#define MB_MAGIC	0x1BADB002u
#define MB_FLAGS	0x00000003u

__attribute__((section(".multiboot"), used, aligned(4)))
static const uint32_t mb_header[3] = { MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS) };

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
};

uint8_t stack[8192] __attribute__((aligned(16), used));
void mb_main(uint32_t magic, const struct mb_info *mi);

__asm__(".text\n"
	".globl mb_entry\n"
	"mb_entry:\n"
	"	mov $stack + 8192, %esp\n"
	"	push %ebx\n"
	"	push %eax\n"
	"	call mb_main\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n");

static int amd;

/* VMCALL is 0F 01 C1 (SDM Vol. 2B), VMMCALL 0F 01 D9 (APM Vol. 3): each is #UD on the other vendor. */
static int32_t hypercall(uint32_t nr, uint32_t a0, uint32_t a1)
{
	uint32_t ret;

	if (amd)
		__asm__ volatile("vmmcall" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1) : "memory");
	else
		__asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1) : "memory");
	return (int32_t)ret;
}

static int expect(const char *what, int32_t got, int32_t want)
{
	puts("lab03: ");
	puts(what);
	puts(got == want ? ": ok (" : ": WRONG (");
	if (got < 0) {
		putc('-');
		putu((uint32_t)-got);
	} else {
		putu((uint32_t)got);
	}
	puts(")\n");
	return got == want;
}

static char msg[96] = "lab 3 hypercall from the guest, nonce ";

void mb_main(uint32_t magic, const struct mb_info *mi)
{
	uint32_t a, b, c, d, len = 0, ok = 1;
	const char *cl = "";

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	amd = b == 0x68747541;	/* "Auth"enticAMD */
	if (magic == 0x2BADB002u && (mi->flags & 4) && mi->cmdline)
		cl = (const char *)mi->cmdline;
	while (msg[len])
		len++;
	for (; *cl; cl++) {
		if (cl[0] == 'n' && cl[1] == 'o' && cl[2] == 'n' && cl[3] == 'c' && cl[4] == 'e' && cl[5] == '=') {
			for (cl += 6; *cl && *cl != ' ' && len < 80; cl++)
				msg[len++] = *cl;
			break;
		}
	}
	msg[len] = 0;
	ok &= expect("log a string", hypercall(1, (uint32_t)msg, len), 0);
	ok &= expect("length 0", hypercall(1, (uint32_t)msg, 0), -22);
	ok &= expect("length 81", hypercall(1, (uint32_t)msg, 81), -22);
	ok &= expect("string outside RAM", hypercall(1, 0xf0000000u, 8), -14);
	ok &= expect("hypercall 2", hypercall(2, 0, 0), -38);
	outb(0xf4, ok ? 51 : 1);
	for (;;)
		__asm__ volatile("cli; hlt");
}
