// SPDX-License-Identifier: GPL-2.0
/*
 * smpkernel.c - a multiboot (v1) test kernel for hvlab-run's APIC board
 * (--smp N): freestanding 32-bit C, paging off, the APICs at their
 * default addresses.  In order, on the bootstrap processor (BSP):
 *   1. find the RSDP in 0xE0000-0xFFFFF and, through the RSDT, the MADT:
 *      the CPUs' APIC IDs, the I/O APIC, the ISA IRQ 0 override;
 *   2. start every application processor (AP) with INIT, SIPI, SIPI
 *      (SDM Vol. 3A 9.4.4.1, "Typical BSP Initialization Sequence") into a
 *      real-mode trampoline at 0x9000 that enters 32-bit protected mode;
 *   3. pass an IPI around the ring of CPUs three times (fixed delivery,
 *      physical destination), then one broadcast (the "all excluding
 *      self" shorthand); every CPU counts what it took;
 *   4. take 10 PIT interrupts through the I/O APIC's pin 2 (edge);
 *   5. program the UART's pin 4 level-triggered and let its "transmitter
 *      empty" line stay up through three EOIs: each EOI must bring the
 *      interrupt back (remote IRR cleared, line still asserted), and after
 *      the fourth, with the cause cleared first, none may follow.
 * The output depends only on N, so both accelerators must print the same.
 * It ends by writing exit=N (default 0) to the debug-exit port 0xF4, or 1
 * on the first failed check.  Waits are bounded in loop iterations.
 */
#include <stdint.h>

#include "mbio.h"

#define MB_MAGIC	0x1BADB002u
#define MB_FLAGS	0x00000003u
#define LAPIC		0xfee00000u
#define TRAMPOLINE	0x9000u		/* SIPI vector 0x09: CS = 0x0900, IP = 0 */
#define MAX_CPUS	16
#define SPIN_LIMIT	50000000u	/* loop iterations before a wait gives up */

#define VEC_RING	0x40
#define VEC_BCAST	0x41
#define VEC_PIT		0x50
#define VEC_UART	0x51
#define VEC_SPURIOUS	0xff

__attribute__((section(".multiboot"), used, aligned(4)))
static const uint32_t mb_header[3] = { MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS) };

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
};

uint8_t stack[8192] __attribute__((aligned(16), used));
uint8_t ap_stacks[MAX_CPUS][4096] __attribute__((aligned(16), used));

void mb_main(uint32_t magic, const struct mb_info *mi);
void ap_main(void);
void tramp_start(void);
void tramp_end(void);

__asm__(".text\n"
	".globl mb_entry\n"
	"mb_entry:\n"
	"	mov $stack + 8192, %esp\n"
	"	push %ebx\n"
	"	push %eax\n"
	"	call mb_main\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	/*
	 * The AP trampoline, copied to TRAMPOLINE: real mode with CS = 0x0900
	 * (SDM Vol. 3A 9.4.4.1), loads hvlab-run's GDT at 0x500 (flat code
	 * 0x10, data 0x18), sets CR0.PE and jumps to 32-bit code.
	 */
	".code16\n"
	".globl tramp_start, tramp_end\n"
	"tramp_start:\n"
	"	cli\n"
	"	mov %cs, %ax\n"
	"	mov %ax, %ds\n"
	"	lgdtl tramp_gdtr - tramp_start\n"
	"	mov %cr0, %eax\n"
	"	or $1, %eax\n"
	"	mov %eax, %cr0\n"
	"	ljmpl $0x10, $ap_entry32\n"
	"tramp_gdtr:\n"
	"	.word 5 * 8 - 1\n"
	"	.long 0x500\n"
	"tramp_end:\n"
	".code32\n"
	/* each AP's stack is picked by its APIC ID */
	"ap_entry32:\n"
	"	mov $0x18, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, %es\n"
	"	mov %ax, %ss\n"
	"	mov %ax, %fs\n"
	"	mov %ax, %gs\n"
	"	mov 0xfee00020, %eax\n"
	"	shr $24, %eax\n"
	"	and $15, %eax\n"
	"	inc %eax\n"
	"	shl $12, %eax\n"
	"	add $ap_stacks, %eax\n"
	"	mov %eax, %esp\n"
	"	call ap_main\n"
	"2:	cli\n"
	"	hlt\n"
	"	jmp 2b\n");

static uint8_t exit_code;

static __attribute__((noreturn)) void finish(uint8_t code)
{
	puts("smpkernel: exit ");
	putu(code);
	puts("\n");
	outb(0xf4, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

static __attribute__((noreturn)) void fail(const char *what, uint32_t v)
{
	puts("smpkernel: FAIL: ");
	puts(what);
	puts(" ");
	putu(v);
	puts("\n");
	finish(1);
}

/* ---- the local APIC (SDM Vol. 3A 11.4.1: registers at 16-byte offsets) */

static inline uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(LAPIC + reg);
}

static inline void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(LAPIC + reg) = v;
}

#define APIC_ID		0x20
#define APIC_EOI	0xb0
#define APIC_SVR	0xf0
#define APIC_ICR_LO	0x300
#define APIC_ICR_HI	0x310
#define ICR_BUSY	(1u << 12)	/* delivery status: send pending */
#define ICR_ASSERT	(1u << 14)
#define ICR_INIT	(5u << 8)
#define ICR_STARTUP	(6u << 8)
#define ICR_ALL_BUT_SELF (3u << 18)

static uint32_t apic_id(void)
{
	return lapic_read(APIC_ID) >> 24;
}

static void send_ipi(uint32_t dest, uint32_t lo)
{
	for (uint32_t i = 0; (lapic_read(APIC_ICR_LO) & ICR_BUSY) && i < SPIN_LIMIT; i++)
		__asm__ volatile("pause");
	lapic_write(APIC_ICR_HI, dest << 24);
	lapic_write(APIC_ICR_LO, lo);	/* the write of the low half sends */
}

/* Software-enable the local APIC with the spurious vector (SDM 11.9). */
static void lapic_enable(void)
{
	lapic_write(APIC_SVR, 0x100 | VEC_SPURIOUS);
}

/* ---- the I/O APIC (82093AA: IOREGSEL at +0, IOWIN at +0x10) */

static uint32_t ioapic_base;

static void ioapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)ioapic_base = reg;
	*(volatile uint32_t *)(ioapic_base + 0x10) = v;
}

static uint32_t ioapic_read(uint32_t reg)
{
	*(volatile uint32_t *)ioapic_base = reg;
	return *(volatile uint32_t *)(ioapic_base + 0x10);
}

static void ioapic_route(uint32_t pin, uint32_t lo, uint32_t dest)
{
	ioapic_write(0x11 + 2 * pin, dest << 24);
	ioapic_write(0x10 + 2 * pin, lo);
}

/* ---- ACPI: RSDP -> RSDT -> MADT (ACPI 6.5 5.2.5, 5.2.7, 5.2.12) */

static uint32_t ncpus, cpu_apic_id[MAX_CPUS], irq0_gsi = 0;

static int sum_ok(const uint8_t *p, uint32_t len)
{
	uint8_t s = 0;

	for (uint32_t i = 0; i < len; i++)
		s += p[i];
	return s == 0;
}

static int sig_is(const uint8_t *p, const char *sig)
{
	for (int i = 0; sig[i]; i++)
		if (p[i] != (uint8_t)sig[i])
			return 0;
	return 1;
}

static void parse_madt(void)
{
	const uint8_t *rsdp = 0, *rsdt, *madt = 0;
	uint32_t len;

	for (uint32_t a = 0xe0000; a < 0x100000; a += 16) {
		if (sig_is((const uint8_t *)a, "RSD PTR ") && sum_ok((const uint8_t *)a, 20)) {
			rsdp = (const uint8_t *)a;
			break;
		}
	}
	if (!rsdp)
		fail("no RSDP in 0xE0000-0xFFFFF", 0);
	rsdt = (const uint8_t *)*(const uint32_t *)(rsdp + 16);
	len = *(const uint32_t *)(rsdt + 4);
	if (!sig_is(rsdt, "RSDT") || !sum_ok(rsdt, len))
		fail("bad RSDT, length", len);
	for (uint32_t i = 36; i + 4 <= len; i += 4) {
		const uint8_t *t = (const uint8_t *)*(const uint32_t *)(rsdt + i);

		if (sig_is(t, "APIC"))
			madt = t;
	}
	if (!madt)
		fail("no MADT in the RSDT, entries", (len - 36) / 4);
	len = *(const uint32_t *)(madt + 4);
	if (!sum_ok(madt, len))
		fail("MADT checksum, length", len);
	for (uint32_t off = 44; off + 2 <= len && madt[off + 1]; off += madt[off + 1]) {
		const uint8_t *e = madt + off;

		switch (e[0]) {
		case 0:		/* processor local APIC: enabled ones only */
			if ((*(const uint32_t *)(e + 4) & 1) && ncpus < MAX_CPUS)
				cpu_apic_id[ncpus++] = e[3];
			break;
		case 1:		/* I/O APIC */
			ioapic_base = *(const uint32_t *)(e + 4);
			break;
		case 2:		/* interrupt source override */
			if (e[2] == 0 && e[3] == 0)
				irq0_gsi = *(const uint32_t *)(e + 4);
			break;
		}
	}
	if (!ncpus || !ioapic_base)
		fail("MADT lists no CPU or no I/O APIC, CPUs", ncpus);
}

/* ---- interrupts */

struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t zero, attr;
	uint16_t off_hi;
} __attribute__((packed));

static struct idt_entry idt[256];
static volatile uint32_t up[MAX_CPUS], ring_hits[MAX_CPUS], bcast_hits[MAX_CPUS];
static volatile uint32_t hops, hops_target, pit_ticks, uart_irqs;

void irq_ring(void);
void irq_bcast(void);
void irq_pit(void);
void irq_uart(void);
void irq_spurious(void);
void c_ring(void);
void c_bcast(void);
void c_pit(void);
void c_uart(void);

__asm__(".text\n"
	"irq_ring:	pusha\n	call c_ring\n	popa\n	iret\n"
	"irq_bcast:	pusha\n	call c_bcast\n	popa\n	iret\n"
	"irq_pit:	pusha\n	call c_pit\n	popa\n	iret\n"
	"irq_uart:	pusha\n	call c_uart\n	popa\n	iret\n"
	"irq_spurious:	iret\n");

/* Which entry of the MADT's CPU list this CPU is. */
static uint32_t my_index(void)
{
	uint32_t id = apic_id();

	for (uint32_t i = 0; i < ncpus; i++)
		if (cpu_apic_id[i] == id)
			return i;
	return 0;
}

/* The ring: count, pass the IPI on to the next CPU until the laps are done. */
void c_ring(void)
{
	uint32_t me = my_index();

	ring_hits[me]++;
	if (__atomic_add_fetch(&hops, 1, __ATOMIC_SEQ_CST) < hops_target)
		send_ipi(cpu_apic_id[(me + 1) % ncpus], ICR_ASSERT | VEC_RING);
	lapic_write(APIC_EOI, 0);
}

void c_bcast(void)
{
	bcast_hits[my_index()]++;
	lapic_write(APIC_EOI, 0);
}

/* The 10th tick masks the pin before its EOI, so the count stays 10. */
void c_pit(void)
{
	if (++pit_ticks == 10)
		ioapic_route(irq0_gsi, 1u << 16 | VEC_PIT, cpu_apic_id[0]);
	lapic_write(APIC_EOI, 0);
}

/*
 * The UART's THRE interrupt is a level that stays up until IIR is read.
 * The first three times only EOI: the I/O APIC must send again each time.
 * The fourth clears the cause (IIR read, IER off) before its EOI.
 */
void c_uart(void)
{
	if (++uart_irqs >= 4) {
		(void)inb(COM1 + 2);
		outb(COM1 + 1, 0);
	}
	lapic_write(APIC_EOI, 0);
}

static void set_gate(int vec, void (*fn)(void))
{
	uint32_t a = (uint32_t)fn;

	idt[vec] = (struct idt_entry){ (uint16_t)a, 0x10, 0, 0x8e, (uint16_t)(a >> 16) };
}

static void load_idt(void)
{
	struct { uint16_t limit; uint32_t base; } __attribute__((packed)) d = {
		sizeof(idt) - 1, (uint32_t)idt
	};

	__asm__ volatile("lidt %0" : : "m"(d));
}

/* An AP: APIC on, IDT, say "up", then take interrupts until the end. */
void ap_main(void)
{
	lapic_enable();
	load_idt();
	up[my_index()] = 1;
	for (;;)
		__asm__ volatile("sti; hlt");
}

/* Halt with interrupts on until @cond holds or SPIN_LIMIT wake-ups pass. */
#define WAIT_FOR(cond)							\
	do {								\
		for (uint32_t _i = 0; !(cond) && _i < SPIN_LIMIT; _i++)	\
			__asm__ volatile("sti; pause; cli");		\
	} while (0)

static void start_aps(void)
{
	const uint8_t *src = (const uint8_t *)tramp_start;
	uint8_t *dst = (uint8_t *)TRAMPOLINE;

	for (uint32_t i = 0; src + i < (const uint8_t *)tramp_end; i++)
		dst[i] = src[i];
	for (uint32_t i = 1; i < ncpus; i++) {
		send_ipi(cpu_apic_id[i], ICR_ASSERT | ICR_INIT);
		send_ipi(cpu_apic_id[i], ICR_STARTUP | TRAMPOLINE >> 12);
		/* the second SIPI of the MP protocol: ignored by an AP that runs */
		send_ipi(cpu_apic_id[i], ICR_STARTUP | TRAMPOLINE >> 12);
		WAIT_FOR(up[i]);
		if (!up[i])
			fail("an AP never came up; index", i);
		puts("smpkernel: cpu ");
		putu(i);
		puts(" (APIC ID ");
		putu(cpu_apic_id[i]);
		puts(") up\n");
	}
}

static void test_ipis(void)
{
	hops_target = 3 * ncpus;
	send_ipi(cpu_apic_id[1 % ncpus], ICR_ASSERT | VEC_RING);
	WAIT_FOR(hops >= hops_target);
	for (uint32_t i = 0; i < ncpus; i++)
		if (ring_hits[i] != 3)
			fail("ring IPIs taken by cpu (expected 3 each)", i);
	puts("smpkernel: IPI ring: 3 laps of ");
	putu(ncpus);
	puts(" CPUs, 3 IPIs taken by each\n");

	send_ipi(0, ICR_ALL_BUT_SELF | ICR_ASSERT | VEC_BCAST);
	for (uint32_t i = 1; i < ncpus; i++)
		WAIT_FOR(bcast_hits[i]);
	for (uint32_t i = 0; i < ncpus; i++)
		if (bcast_hits[i] != (i ? 1u : 0u))
			fail("broadcast IPIs wrong on cpu", i);
	puts("smpkernel: broadcast IPI (all but self): taken by the ");
	putu(ncpus - 1);
	puts(" other CPUs, not by the sender\n");
}

static void test_ioapic(void)
{
	uint16_t div = 1193;	/* 1 kHz */
	uint32_t ver = ioapic_read(0x01);

	puts("smpkernel: I/O APIC version ");
	puthex(ver & 0xff);
	puts(", ");
	putu(((ver >> 16) & 0xff) + 1);
	puts(" pins; ISA IRQ 0 is GSI ");
	putu(irq0_gsi);
	puts("\n");

	/* the PIT: edge, fixed, physical destination the BSP */
	ioapic_route(irq0_gsi, VEC_PIT, cpu_apic_id[0]);
	outb(0x43, 0x34);
	outb(0x40, (uint8_t)div);
	outb(0x40, (uint8_t)(div >> 8));
	WAIT_FOR(pit_ticks >= 10);
	outb(0x43, 0x30);	/* channel 0 to one-shot mode 0, never loaded: quiet */
	/*
	 * The 10th tick masks the pin, but the I/O APIC may have sent the
	 * 11th before that: masking a redirection entry does not recall an
	 * edge already in the local APIC's IRR (82093AA datasheet, 3.2.4;
	 * SDM Vol. 3A 11.8.4), so it is taken after the 10th's EOI.  10 or
	 * 11 are right; more would mean the mask was ignored.
	 */
	if (pit_ticks != 10 && pit_ticks != 11)
		fail("PIT ticks through the I/O APIC (expected 10 or 11)", pit_ticks);
	puts("smpkernel: I/O APIC: 10 PIT interrupts on pin ");
	putu(irq0_gsi);
	puts(" (edge)\n");

	/* the UART: level, active high; the remote IRR of the entry must be set */
	ioapic_route(4, 1u << 15 | VEC_UART, cpu_apic_id[0]);
	outb(COM1 + 4, 0x08);	/* OUT2: the IRQ line */
	outb(COM1 + 1, 0x02);	/* THRE interrupt: owed at once */
	WAIT_FOR(uart_irqs >= 4);
	for (uint32_t i = 0; i < 100000; i++)	/* a fifth would come now */
		__asm__ volatile("sti; pause; cli");
	if (ioapic_read(0x10 + 2 * 4) & (1u << 14))
		fail("remote IRR still set after the last EOI on pin", 4);
	ioapic_route(4, 1u << 16, 0);
	if (uart_irqs != 4)
		fail("UART level interrupts (expected 4)", uart_irqs);
	puts("smpkernel: I/O APIC: UART on pin 4 (level): 4 interrupts, 3 of them sent again at EOI\n");
}

void mb_main(uint32_t magic, const struct mb_info *mi)
{
	const char *cmdline = (mi->flags & 4) ? (const char *)mi->cmdline : "";

	puts("smpkernel: hello\n");
	if (magic != 0x2BADB002u)
		fail("bad boot magic", magic);
	for (const char *p = cmdline; *p; p++) {
		if (p[0] == 'e' && p[1] == 'x' && p[2] == 'i' && p[3] == 't' && p[4] == '=') {
			for (p += 5; *p >= '0' && *p <= '9'; p++)
				exit_code = (uint8_t)(exit_code * 10 + (*p - '0'));
			break;
		}
	}
	parse_madt();
	puts("smpkernel: MADT: ");
	putu(ncpus);
	puts(" CPUs, I/O APIC at ");
	puthex(ioapic_base);
	puts("\n");
	if (apic_id() != cpu_apic_id[0])
		fail("the BSP is not the MADT's first CPU; its APIC ID is", apic_id());
	for (int v = 0; v < 256; v++)
		set_gate(v, irq_spurious);
	set_gate(VEC_RING, irq_ring);
	set_gate(VEC_BCAST, irq_bcast);
	set_gate(VEC_PIT, irq_pit);
	set_gate(VEC_UART, irq_uart);
	load_idt();
	lapic_enable();
	/* the 8259s masked: every interrupt comes through the APICs */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	start_aps();
	test_ipis();
	test_ioapic();
	puts("smpkernel: all checks passed\n");
	finish(exit_code);
}
