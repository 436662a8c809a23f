// SPDX-License-Identifier: GPL-2.0
/*
 * mbkernel.c - a multiboot (v1) test kernel for hvlab-run: freestanding
 * 32-bit C, no libraries.  It prints over COM1 and ends by writing its
 * exit code to the debug-exit port 0xF4, which hvlab-run turns into its own
 * exit status.  The command line picks the test:
 *
 *   exit=N        the code to exit with (default 0)
 *   test=hello    (default) print the multiboot info and exit
 *   test=timer    program the PIT at 1 kHz and the 8259, take 20 timer
 *                 interrupts while halted (interrupt injection, HLT and the
 *                 interrupt window on the accelerator) and exit
 *   test=echo     read one line from COM1 by interrupt and print it back
 *   test=triple   load an empty IDT and raise #BP: a triple fault
 *   test=halt     cli; hlt (the "powered off" end)
 */
#include <stdint.h>

#include "mbio.h"

#define MB_MAGIC	0x1BADB002u
#define MB_FLAGS	0x00000003u	/* page-aligned modules, memory info */

/* The header hvlab-run (or GRUB) looks for in the first 8 KiB. */
__attribute__((section(".multiboot"), used, aligned(4)))
static const uint32_t mb_header[3] = { MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS) };

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
};

struct mb_mmap {
	uint32_t size;
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

uint8_t stack[8192] __attribute__((aligned(16), used));

void mb_main(uint32_t magic, const struct mb_info *mi);

/* Entry: EAX = boot magic, EBX = info; no stack yet (the spec leaves ESP undefined). */
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

static __attribute__((noreturn)) void exit_with(uint8_t code)
{
	puts("mbkernel: exit ");
	putu(code);
	puts("\n");
	outb(0xf4, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* "key=" in the command line: its value, up to a space, or NULL. */
static const char *arg(const char *cmdline, const char *key)
{
	for (const char *p = cmdline; p && *p; p++) {
		const char *k = key, *q = p;

		if (p != cmdline && p[-1] != ' ')
			continue;
		while (*k && *q == *k) {
			k++;
			q++;
		}
		if (!*k)
			return q;
	}
	return 0;
}

static int is(const char *v, const char *word)
{
	while (*word && *v == *word) {
		v++;
		word++;
	}
	return !*word && (!*v || *v == ' ');
}

/* ---- interrupts: an IDT with a timer and a serial handler */

struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t zero, attr;
	uint16_t off_hi;
} __attribute__((packed));

static struct idt_entry idt[256];
static volatile uint32_t ticks;
static volatile char line[64];
static volatile uint32_t line_len, line_done;

void irq_timer(void);
void irq_serial(void);
void c_timer(void);
void c_serial(void);

__asm__(".text\n"
	"irq_timer:\n"
	"	pusha\n"
	"	call c_timer\n"
	"	popa\n"
	"	iret\n"
	"irq_serial:\n"
	"	pusha\n"
	"	call c_serial\n"
	"	popa\n"
	"	iret\n");

/*
 * The 20th tick masks IRQ 0 before its EOI: on a slow host the PIT's next
 * edge is already latched by then and would otherwise arrive between the
 * IRET and the loop's CLI, making the count 21.
 */
void c_timer(void)
{
	if (++ticks == 20)
		outb(0x21, 0xff);
	outb(0x20, 0x20);	/* EOI */
}

void c_serial(void)
{
	while (inb(COM1 + 5) & 1) {
		char c = (char)inb(COM1);

		if (c == '\r' || c == '\n')
			line_done = 1;
		else if (line_len < sizeof(line) - 1)
			line[line_len++] = c;
	}
	outb(0x20, 0x20);
}

static void set_gate(int vec, void (*fn)(void))
{
	uint32_t a = (uint32_t)fn;
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[vec] = (struct idt_entry){ (uint16_t)a, cs, 0, 0x8e, (uint16_t)(a >> 16) };
}

static void load_idt(uint16_t limit)
{
	struct { uint16_t limit; uint32_t base; } __attribute__((packed)) d = { limit, (uint32_t)idt };

	__asm__ volatile("lidt %0" : : "m"(d));
}

/* Master PIC at vectors 0x20-0x27, slave 0x28-0x2f, all masked but @unmask. */
static void pic_init(uint8_t unmask)
{
	outb(0x20, 0x11); outb(0xa0, 0x11);
	outb(0x21, 0x20); outb(0xa1, 0x28);
	outb(0x21, 0x04); outb(0xa1, 0x02);
	outb(0x21, 0x01); outb(0xa1, 0x01);
	outb(0x21, (uint8_t)~unmask);
	outb(0xa1, 0xff);
}

static void test_timer(void)
{
	uint16_t div = 1193;	/* 1 kHz */

	set_gate(0x20, irq_timer);
	load_idt(sizeof(idt) - 1);
	pic_init(0x01);
	outb(0x43, 0x34);	/* channel 0, LSB/MSB, rate generator */
	outb(0x40, (uint8_t)div);
	outb(0x40, (uint8_t)(div >> 8));
	while (ticks < 20)
		__asm__ volatile("sti; hlt; cli");
	puts("mbkernel: timer: ");
	putu(ticks);
	puts(" ticks\n");
}

static void test_echo(void)
{
	set_gate(0x24, irq_serial);
	load_idt(sizeof(idt) - 1);
	pic_init(0x10);
	outb(COM1 + 4, 0x0b);	/* DTR, RTS, OUT2 (the IRQ line) */
	outb(COM1 + 1, 0x01);	/* receive-data interrupt */
	puts("mbkernel: echo: type a line\n");
	while (!line_done)
		__asm__ volatile("sti; hlt; cli");
	line[line_len] = 0;
	puts("mbkernel: echo: got '");
	puts((const char *)line);
	puts("'\n");
}

void mb_main(uint32_t magic, const struct mb_info *mi)
{
	const char *cmdline = (mi->flags & 4) ? (const char *)mi->cmdline : "";
	const char *v;
	uint8_t code = 0;

	puts("mbkernel: hello from a multiboot kernel\n");
	if (magic != 0x2BADB002u) {
		puts("mbkernel: bad boot magic ");
		puthex(magic);
		puts("\n");
		exit_with(99);
	}
	puts("mbkernel: mem_lower=");
	putu(mi->mem_lower);
	puts(" KiB mem_upper=");
	putu(mi->mem_upper);
	puts(" KiB cmdline='");
	puts(cmdline);
	puts("'\n");
	if (mi->flags & (1 << 6)) {
		for (uint32_t off = 0; off < mi->mmap_length;) {
			const struct mb_mmap *m = (const void *)(mi->mmap_addr + off);

			puts("mbkernel: mmap ");
			puthex((uint32_t)m->addr);
			puts(" len ");
			puthex((uint32_t)m->len);
			puts(" type ");
			putu(m->type);
			puts("\n");
			off += m->size + 4;
		}
	}
	if ((v = arg(cmdline, "exit=")))
		for (code = 0; *v >= '0' && *v <= '9'; v++)
			code = (uint8_t)(code * 10 + (*v - '0'));

	v = arg(cmdline, "test=");
	if (v && is(v, "timer")) {
		test_timer();
	} else if (v && is(v, "echo")) {
		test_echo();
	} else if (v && is(v, "triple")) {
		puts("mbkernel: triple fault next\n");
		load_idt(0);
		__asm__ volatile("int3");
	} else if (v && is(v, "halt")) {
		puts("mbkernel: halting with interrupts off\n");
		__asm__ volatile("cli; hlt");
	}
	exit_with(code);
}
