// SPDX-License-Identifier: GPL-2.0
/*
 * devices.c - hvlab-run's PC, in userspace: a 16550A UART on COM1 (the
 * console), the i8259 PIC pair, the i8254 PIT with port 0x61, the CMOS RTC,
 * the reset paths (0xCF9, keyboard controller 0x64, port 0x92), a debug-exit
 * port (0xF4) and an empty PCI configuration space.
 *
 * Two boards share this code.  The 8259-only PC (--no-apic, the default)
 * has no local APIC or I/O APIC: hvlab-run clears the APIC bit in CPUID,
 * so Linux drives its tick from the PIT through the 8259 (README,
 * "hvlab-run", says why).  The APIC board (--smp N) adds the I/O APIC
 * (ioapic.c) at 0xFEC00000, wired as QEMU/KVM PCs wire theirs: ISA IRQ 0
 * (the PIT) on pin 2, every other ISA IRQ n on pin n (the UART's 4 on 4),
 * plus the ACPI PM1 registers whose S5 write powers the board off.  The
 * 8259s stay (Linux programs and masks them) but their output reaches no
 * CPU there: Linux leaves LINT0 masked once it uses the I/O APIC.
 *
 * Time is CLOCK_MONOTONIC of the machine hvlab-run runs on (in the emulated
 * PCs: their emulated time), so PIT counters and the RTC move with it.
 * Nothing here locks: on the 8259-only PC everything runs on the one vCPU
 * thread; on the APIC board hvlab-run.c holds its board lock around every
 * call.
 */
#define _GNU_SOURCE	/* ppoll */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ------------------------------------------------------------ i8259 PIC -- */

struct pic {
	uint8_t irr, isr, imr;
	uint8_t lines;		/* input levels, for edge detection */
	uint8_t base;		/* ICW2: vector of IRQ 0 */
	uint8_t icw_step;	/* 0: ready; 2..4: next ICW expected */
	bool icw4_needed, auto_eoi, read_isr;
	uint8_t elcr;		/* edge/level register (0x4D0/0x4D1), kept only */
};

/* Highest-priority (lowest number) bit of @bits, or -1.  Fixed priority. */
static int lowest_bit(uint8_t bits)
{
	return bits ? __builtin_ctz(bits) : -1;
}

/* The IRQ this PIC would raise now, or -1: requested, unmasked, and of
 * higher priority than every interrupt in service. */
static int pic_output(const struct pic *p)
{
	int req = lowest_bit(p->irr & ~p->imr), svc = lowest_bit(p->isr);

	if (req < 0 || (svc >= 0 && svc <= req))
		return -1;
	return req;
}

/* Edge-triggered input (the ISA default): a rising edge requests. */
static void pic_set_line(struct pic *p, int irq, bool level)
{
	uint8_t bit = 1u << irq;

	if (level && !(p->lines & bit))
		p->irr |= bit;
	if (level)
		p->lines |= bit;
	else
		p->lines &= ~bit;
}

static void pic_write(struct pic *p, int port, uint8_t v)
{
	if (port == 0) {
		if (v & 0x10) {		/* ICW1 */
			p->icw_step = 2;
			p->icw4_needed = v & 1;
			p->imr = p->isr = p->irr = 0;
			p->auto_eoi = false;
			p->read_isr = false;
		} else if ((v & 0x18) == 0x08) {	/* OCW3 */
			if (v & 2)
				p->read_isr = v & 1;
		} else {		/* OCW2 */
			switch (v >> 5) {
			case 1:		/* non-specific EOI */
			case 5: {	/* rotate on non-specific EOI: treated as EOI */
				int i = lowest_bit(p->isr);

				if (i >= 0)
					p->isr &= ~(1u << i);
				break;
			}
			case 3:		/* specific EOI */
			case 7:
				p->isr &= ~(1u << (v & 7));
				break;
			default:	/* priority rotation: not modelled */
				break;
			}
		}
		return;
	}
	switch (p->icw_step) {
	case 2:
		p->base = v & 0xf8;
		p->icw_step = 3;
		return;
	case 3:		/* cascade wiring: fixed (slave on IRQ 2) */
		p->icw_step = p->icw4_needed ? 4 : 0;
		return;
	case 4:
		p->auto_eoi = v & 2;
		p->icw_step = 0;
		return;
	default:
		p->imr = v;
	}
}

static uint8_t pic_read(struct pic *p, int port)
{
	if (port)
		return p->imr;
	return p->read_isr ? p->isr : p->irr;
}

/* ------------------------------------------------------------ i8254 PIT -- */

#define PIT_HZ		1193182ull

struct pit_channel {
	uint16_t reload;	/* count written (0 = 65536) */
	uint8_t mode;		/* 0-5 */
	uint8_t rw;		/* 1 LSB, 2 MSB, 3 LSB then MSB */
	bool write_msb_next, read_msb_next;
	uint8_t write_lsb;
	bool latched;
	uint16_t latch;
	bool armed;		/* count loaded, counting */
	uint64_t start_ns;	/* when counting started */
	uint64_t fired;		/* channel 0: periods already signalled */
};

struct pit {
	struct pit_channel ch[3];
	bool gate2, speaker;
};

static uint64_t pit_period(const struct pit_channel *c)
{
	return c->reload ? c->reload : 65536;
}

static uint64_t pit_ticks(const struct pit_channel *c, uint64_t now)
{
	if (!c->armed || now < c->start_ns)
		return 0;
	return (now - c->start_ns) * PIT_HZ / 1000000000ull;
}

static uint64_t pit_tick_time(const struct pit_channel *c, uint64_t ticks)
{
	return c->start_ns + (ticks * 1000000000ull + PIT_HZ - 1) / PIT_HZ;
}

static uint16_t pit_count(const struct pit_channel *c, uint64_t now)
{
	uint64_t t = pit_ticks(c, now), p = pit_period(c);

	if (!c->armed)
		return c->reload;
	switch (c->mode) {
	case 2:
	case 3:
		return (uint16_t)(p - t % p);
	default:		/* 0, 1, 4, 5: count down, wrap past zero */
		return (uint16_t)(p - t);
	}
}

/* OUT of a channel (used for channel 2 through port 0x61). */
static bool pit_out(const struct pit_channel *c, uint64_t now)
{
	uint64_t t = pit_ticks(c, now), p = pit_period(c);

	if (!c->armed)
		return c->mode != 0;
	switch (c->mode) {
	case 0:
		return t >= p;
	case 2:
		return t % p != p - 1;
	case 3:
		return t % p < p / 2 + (p & 1);
	default:
		return t != p;
	}
}

static void pit_write(struct pit *pit, int port, uint8_t v, uint64_t now)
{
	struct pit_channel *c;

	if (port == 3) {
		int sel = v >> 6;

		if (sel == 3) {		/* read-back: latch counts of selected channels */
			for (int i = 0; i < 3; i++) {
				if (!(v & 0x20) && (v & (2 << i))) {
					pit->ch[i].latched = true;
					pit->ch[i].latch = pit_count(&pit->ch[i], now);
				}
			}
			return;
		}
		c = &pit->ch[sel];
		if (!(v & 0x30)) {	/* counter latch */
			if (!c->latched) {
				c->latched = true;
				c->latch = pit_count(c, now);
				c->read_msb_next = false;
			}
			return;
		}
		c->rw = (v >> 4) & 3;
		c->mode = (v >> 1) & 7;
		if (c->mode > 5)
			c->mode -= 4;	/* 6, 7 alias 2, 3 */
		c->write_msb_next = c->read_msb_next = false;
		c->latched = false;
		c->armed = false;
		return;
	}
	c = &pit->ch[port];
	if (c->rw == 3 && !c->write_msb_next) {
		c->write_lsb = v;
		c->write_msb_next = true;
		return;
	}
	if (c->rw == 1)
		c->reload = v;
	else if (c->rw == 2)
		c->reload = (uint16_t)v << 8;
	else
		c->reload = c->write_lsb | (uint16_t)v << 8;
	c->write_msb_next = false;
	c->armed = true;
	c->start_ns = now;
	c->fired = 0;
}

static uint8_t pit_read(struct pit *pit, int port, uint64_t now)
{
	struct pit_channel *c = &pit->ch[port];
	uint16_t v = c->latched ? c->latch : pit_count(c, now);
	bool msb;

	if (c->rw == 3) {
		msb = c->read_msb_next;
		c->read_msb_next = !msb;
		if (msb)
			c->latched = false;
	} else {
		msb = c->rw == 2;
		c->latched = false;
	}
	return msb ? v >> 8 : v & 0xff;
}

/* --------------------------------------------------------- 16550A UART -- */

#define UART_FIFO	16

struct uart {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thre_pending;	/* the "transmitter empty" interrupt is owed */
	uint8_t rx[UART_FIFO];
	unsigned int rx_head, rx_len;
	int irq_level;
};

static void uart_rx_push(struct uart *u, uint8_t c)
{
	if (u->rx_len < UART_FIFO)
		u->rx[(u->rx_head + u->rx_len++) % UART_FIFO] = c;
}

/* IIR: the highest-priority pending cause (16550A: data, then THRE). */
static uint8_t uart_iir(const struct uart *u)
{
	uint8_t fifo = (u->fcr & 1) ? 0xc0 : 0;

	if ((u->ier & 1) && u->rx_len)
		return fifo | 0x04;
	if ((u->ier & 2) && u->thre_pending)
		return fifo | 0x02;
	return fifo | 0x01;
}

/* ------------------------------------------------------------- the PC -- */

struct devices {
	struct pic pic[2];
	struct pit pit;
	struct uart com1;
	uint8_t cmos_index;
	uint32_t pci_addr;
	int in_fd, out_fd;
	bool in_eof, escape;
	uint64_t last_console_poll;
	uint8_t out[4096];
	size_t out_len;
	const char *mark;	/* report when the console first prints this */
	size_t mark_len, mark_matched;
	uint64_t mark_ns, mark_tsc;
	bool mark_seen;
	int stop;		/* -1 or the status to exit with */
	const char *stop_why;
	uint64_t last_warn_port;
	struct ioapic *ioapic;	/* the APIC board only */
	uint16_t pm1_sts, pm1_en, pm1_cnt;
};

static void stop(struct devices *d, int status, const char *why)
{
	if (d->stop < 0) {
		d->stop = status;
		d->stop_why = why;
	}
}

void devices_stop(struct devices *d, int status, const char *why)
{
	stop(d, status, why);
}

/* ISA IRQ @irq to the 8259s and, on the APIC board, to its I/O APIC pin. */
static void set_irq(struct devices *d, int irq, bool level)
{
	if (irq < 8)
		pic_set_line(&d->pic[0], irq, level);
	else
		pic_set_line(&d->pic[1], irq - 8, level);
	/* the MADT's interrupt source override: IRQ 0 is GSI 2 (acpi.c) */
	if (d->ioapic)
		ioapic_set_pin(d->ioapic, irq == 0 ? 2 : irq, level);
}

static void uart_update_irq(struct devices *d)
{
	struct uart *u = &d->com1;
	/* OUT2 gates the UART's interrupt onto the ISA bus on PCs */
	bool level = !(uart_iir(u) & 1) && (u->mcr & 0x08);

	set_irq(d, 4, level);
}

void devices_flush(struct devices *d)
{
	size_t done = 0;
	ssize_t n;

	while (done < d->out_len) {
		n = write(d->out_fd, d->out + done, d->out_len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* console gone: the guest keeps running */
		done += n;
	}
	d->out_len = 0;
}

/* Naive matching is enough: the mark is short and matched once. */
static void mark_feed(struct devices *d, uint8_t c)
{
	if (!d->mark || d->mark_seen)
		return;
	while (d->mark_matched && d->mark[d->mark_matched] != c) {
		/* restart: find the longest prefix that is also a suffix */
		size_t k = d->mark_matched - 1;

		while (k && memcmp(d->mark, d->mark + d->mark_matched - k, k))
			k--;
		d->mark_matched = k;
	}
	if (d->mark[d->mark_matched] == c)
		d->mark_matched++;
	if (d->mark_matched == d->mark_len) {
		d->mark_seen = true;
		d->mark_ns = now_ns();
		d->mark_tsc = __builtin_ia32_rdtsc();
	}
}

static void console_write(struct devices *d, uint8_t c)
{
	d->out[d->out_len++] = c;
	mark_feed(d, c);
	if (c == '\n' || d->out_len == sizeof(d->out))
		devices_flush(d);
}

static void uart_write(struct devices *d, int reg, uint8_t v)
{
	struct uart *u = &d->com1;
	bool dlab = u->lcr & 0x80;

	switch (reg) {
	case 0:
		if (dlab) {
			u->dll = v;
			break;
		}
		if (u->mcr & 0x10)	/* loopback: back into our own receiver */
			uart_rx_push(u, v);
		else
			console_write(d, v);
		u->thre_pending = true;	/* sent at once: empty again */
		break;
	case 1:
		if (dlab) {
			u->dlm = v;
			break;
		}
		/* enabling THRI while the holding register is empty owes an interrupt */
		if ((v & 2) && !(u->ier & 2))
			u->thre_pending = true;
		u->ier = v & 0x0f;
		break;
	case 2:
		u->fcr = v & 0xc9;
		if (v & 2)
			u->rx_len = 0;	/* clear the receive FIFO */
		break;
	case 3:
		u->lcr = v;
		break;
	case 4:
		u->mcr = v & 0x1f;
		break;
	case 7:
		u->scr = v;
		break;
	default:		/* LSR, MSR: read-only */
		break;
	}
	uart_update_irq(d);
}

static uint8_t uart_read(struct devices *d, int reg)
{
	struct uart *u = &d->com1;
	bool dlab = u->lcr & 0x80;
	uint8_t v = 0;

	switch (reg) {
	case 0:
		if (dlab) {
			v = u->dll;
		} else if (u->rx_len) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_FIFO;
			u->rx_len--;
		}
		break;
	case 1:
		v = dlab ? u->dlm : u->ier;
		break;
	case 2:
		v = uart_iir(u);
		if ((v & 0x0f) == 0x02)	/* reading IIR acknowledges THRE */
			u->thre_pending = false;
		break;
	case 3:
		v = u->lcr;
		break;
	case 4:
		v = u->mcr;
		break;
	case 5:			/* LSR: THRE and TEMT always; DR with data */
		v = 0x60 | (u->rx_len ? 1 : 0);
		break;
	case 6:			/* MSR: loopback reflects MCR; else carrier, DSR, CTS */
		if (u->mcr & 0x10)
			v = ((u->mcr & 1) << 5) | ((u->mcr & 2) << 3) |
			    ((u->mcr & 4) << 4) | ((u->mcr & 8) << 4);
		else
			v = 0xb0;
		break;
	case 7:
		v = u->scr;
		break;
	}
	uart_update_irq(d);
	return v;
}

/*
 * Console input: read what fits into the receive FIFO (the rest waits in
 * the pipe or terminal).  Ctrl-A x quits; Ctrl-A Ctrl-A sends one Ctrl-A.
 */
static void console_poll(struct devices *d)
{
	struct uart *u = &d->com1;
	uint8_t buf[UART_FIFO];
	ssize_t n;

	struct pollfd pfd = { .fd = d->in_fd, .events = POLLIN };

	if (d->in_fd < 0 || d->in_eof || u->rx_len >= UART_FIFO)
		return;
	/* a poll() first: stdin stays blocking (it may be the user's terminal) */
	if (poll(&pfd, 1, 0) <= 0)
		return;
	n = read(d->in_fd, buf, UART_FIFO - u->rx_len);
	if (n == 0) {
		d->in_eof = true;
		return;
	}
	if (n < 0)
		return;		/* EAGAIN, EINTR: nothing now */
	for (ssize_t i = 0; i < n; i++) {
		if (d->escape) {
			d->escape = false;
			if (buf[i] == 'x' || buf[i] == 'X') {
				stop(d, RUN_QUIT, "quit from the console (Ctrl-A x)");
				return;
			}
			if (buf[i] != 0x01)
				continue;
		} else if (buf[i] == 0x01) {
			d->escape = true;
			continue;
		}
		if (!(u->mcr & 0x10))
			uart_rx_push(u, buf[i]);
	}
	uart_update_irq(d);
}

/* ------------------------------------------------------------ CMOS RTC -- */

static uint8_t bcd(int v)
{
	return (uint8_t)((v / 10) << 4 | (v % 10));
}

static uint8_t cmos_read(struct devices *d)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	switch (d->cmos_index) {
	case 0x00: return bcd(tm.tm_sec);
	case 0x02: return bcd(tm.tm_min);
	case 0x04: return bcd(tm.tm_hour);
	case 0x06: return bcd(tm.tm_wday + 1);
	case 0x07: return bcd(tm.tm_mday);
	case 0x08: return bcd(tm.tm_mon + 1);
	case 0x09: return bcd(tm.tm_year % 100);
	case 0x32: return bcd(1900 + tm.tm_year / 100);	/* century */
	case 0x0a: return 0x26;		/* 32.768 kHz base, 1024 Hz; never UIP */
	case 0x0b: return 0x02;		/* 24-hour, BCD, no interrupts */
	case 0x0c: return 0x00;
	case 0x0d: return 0x80;		/* valid RAM and time */
	default:   return 0x00;
	}
}

/* ------------------------------------------------------ ACPI PM1 block -- */

/*
 * PM1 status and enable (ACPI 6.5 4.8.3.1) and control (4.8.3.2.1): no
 * event ever fires here, so status reads zero and enable is kept.  In
 * control, SCI_EN (bit 0) reads 1: the board is always in ACPI mode.
 * SLP_EN (bit 13) with SLP_TYP (12:10) = 5, the \_S5 value in acpi.c's
 * DSDT, is the power-off; other sleep types are not offered, so a write
 * of one is ignored.
 */
static void acpi_pm_io(struct devices *d, bool out, uint16_t port, uint8_t size, uint8_t *data)
{
	uint16_t *reg, v = 0;
	unsigned int shift;

	if (port >= ACPI_PM1A_CNT) {
		reg = &d->pm1_cnt;
		shift = port - ACPI_PM1A_CNT;
	} else if (port >= ACPI_PM1A_EVT + 2) {
		reg = &d->pm1_en;
		shift = port - ACPI_PM1A_EVT - 2;
	} else {
		reg = &d->pm1_sts;
		shift = port - ACPI_PM1A_EVT;
	}
	if (size > 2 - shift)
		size = (uint8_t)(2 - shift);
	if (!out) {
		v = (uint16_t)(*reg | (reg == &d->pm1_cnt ? 1 : 0)) >> (shift * 8);
		memcpy(data, &v, size);
		return;
	}
	memcpy(&v, data, size);
	if (reg == &d->pm1_sts) {
		*reg &= (uint16_t)~(v << (shift * 8));	/* write 1 to clear */
		return;
	}
	if (size == 2)
		*reg = v;
	else
		*reg = (uint16_t)((*reg & ~(0xffu << (shift * 8))) | (v & 0xff) << (shift * 8));
	if (reg == &d->pm1_cnt && (*reg & 1u << 13)) {
		if (((*reg >> 10) & 7) == 5)
			stop(d, RUN_OK, "the guest powered off (ACPI S5 through PM1a_CNT)");
		*reg &= (uint16_t)~(1u << 13);	/* SLP_EN reads as zero */
	}
}

/* --------------------------------------------------------------- ports -- */

void devices_io(struct devices *d, bool out, uint16_t port, uint8_t size, uint8_t *data)
{
	uint64_t now = now_ns();
	uint8_t v = out ? data[0] : 0xff;

	/* PCI configuration mechanism #1: an empty bus (every read all ones) */
	if (port == 0xcf8 && size == 4) {
		if (out)
			memcpy(&d->pci_addr, data, 4);
		else
			memcpy(data, &d->pci_addr, 4);
		return;
	}
	if (port >= 0xcfc && port <= 0xcff) {
		if (!out)
			memset(data, 0xff, size);
		return;
	}
	if (!out)
		memset(data, 0xff, size);	/* no device: the bus floats high */

	switch (port) {
	case 0x20: case 0x21:
		if (out)
			pic_write(&d->pic[0], port & 1, v);
		else
			data[0] = pic_read(&d->pic[0], port & 1);
		break;
	case 0xa0: case 0xa1:
		if (out)
			pic_write(&d->pic[1], port & 1, v);
		else
			data[0] = pic_read(&d->pic[1], port & 1);
		break;
	case 0x4d0: case 0x4d1:
		if (out)
			d->pic[port & 1].elcr = v;
		else
			data[0] = d->pic[port & 1].elcr;
		break;
	case 0x40: case 0x41: case 0x42: case 0x43:
		if (out)
			pit_write(&d->pit, port - 0x40, v, now);
		else if (port != 0x43)
			data[0] = pit_read(&d->pit, port - 0x40, now);
		break;
	case 0x61:
		if (out) {
			bool gate = v & 1;

			/* a rising gate restarts channel 2 (modes 0/1/5 and periodic) */
			if (gate && !d->pit.gate2 && d->pit.ch[2].armed) {
				d->pit.ch[2].start_ns = now;
			}
			d->pit.gate2 = gate;
			d->pit.speaker = v & 2;
		} else {
			/* bit 5: channel 2 OUT; bit 4: refresh toggle (every 15 us) */
			data[0] = (d->pit.gate2 ? 1 : 0) | (d->pit.speaker ? 2 : 0) |
				  ((now / 15000) & 1) << 4 |
				  (pit_out(&d->pit.ch[2], now) ? 0x20 : 0);
		}
		break;
	case 0x70:
		if (out)
			d->cmos_index = v & 0x7f;	/* bit 7: NMI mask */
		break;
	case 0x71:
		if (!out)
			data[0] = cmos_read(d);
		break;
	case 0x3f8: case 0x3f9: case 0x3fa: case 0x3fb:
	case 0x3fc: case 0x3fd: case 0x3fe: case 0x3ff:
		if (out)
			uart_write(d, port - 0x3f8, v);
		else
			data[0] = uart_read(d, port - 0x3f8);
		break;
	case 0x60:
		if (!out)
			data[0] = 0;
		break;
	case 0x64:		/* keyboard controller: never busy; 0xFE pulses reset */
		if (out && v == 0xfe)
			stop(d, RUN_RESET, "reset through the keyboard controller (port 0x64)");
		else if (!out)
			data[0] = 0;
		break;
	case 0x92:		/* fast A20 and reset */
		if (out && (v & 1))
			stop(d, RUN_RESET, "reset through port 0x92");
		else if (!out)
			data[0] = 0x02;
		break;
	case 0xcf9:		/* reset control register */
		if (out && (v & 4))
			stop(d, RUN_RESET, "reset through port 0xCF9");
		else if (!out)
			data[0] = 0;
		break;
	case ACPI_PM1A_EVT: case ACPI_PM1A_EVT + 1:
	case ACPI_PM1A_EVT + 2: case ACPI_PM1A_EVT + 3:
	case ACPI_PM1A_CNT: case ACPI_PM1A_CNT + 1:
		if (d->ioapic)
			acpi_pm_io(d, out, port, size, data);
		break;
	case ACPI_PM_TMR:	/* 3.579545 MHz, 24 bits (ACPI 6.5 4.8.3.3) */
		if (d->ioapic && !out) {
			uint32_t t = (uint32_t)((unsigned __int128)now * 3579545 / 1000000000u) & 0xffffff;

			memcpy(data, &t, size);
		}
		break;
	case 0xf4:		/* debug exit: the value is hvlab-run's exit status */
		if (out)
			stop(d, v, "the guest wrote to the debug-exit port 0xF4");
		break;
	default:		/* 0x80 (delay), VGA, floppy, other COMs: nothing there */
		break;
	}
}

void devices_mmio(struct devices *d, uint64_t addr, bool write, uint8_t *data, uint32_t len)
{
	if (d->ioapic && addr >= IOAPIC_BASE && addr - IOAPIC_BASE < IOAPIC_SIZE) {
		ioapic_mmio(d->ioapic, addr - IOAPIC_BASE, write, data, len);
		return;
	}
	if (!write)
		memset(data, 0xff, len);
}

int devices_enable_apic(struct devices *d, const struct ioapic_sink *sink)
{
	d->ioapic = malloc(sizeof(*d->ioapic));
	if (!d->ioapic)
		return -ENOMEM;
	ioapic_init(d->ioapic, sink);
	return 0;
}

void devices_eoi(struct devices *d, uint8_t vector)
{
	if (d->ioapic)
		ioapic_eoi(d->ioapic, vector);
}

int devices_input_fd(struct devices *d)
{
	if (d->in_fd < 0 || d->in_eof || d->com1.rx_len >= UART_FIFO)
		return -1;
	return d->in_fd;
}

void devices_input_ready(struct devices *d)
{
	d->last_console_poll = 0;
}

/* Channel 0 drives IRQ 0: one pulse per period that ended (coalesced). */
static void pit_poll(struct devices *d, uint64_t now)
{
	struct pit_channel *c = &d->pit.ch[0];
	uint64_t t, p, periods;

	if (!c->armed)
		return;
	t = pit_ticks(c, now);
	p = pit_period(c);
	if (c->mode == 2 || c->mode == 3) {
		periods = t / p;
		if (periods > c->fired) {
			c->fired = periods;
			set_irq(d, 0, true);
			set_irq(d, 0, false);
		}
	} else if (!c->fired && t >= p) {	/* one-shot modes fire once */
		c->fired = 1;
		set_irq(d, 0, true);
		set_irq(d, 0, false);
	}
}

void devices_poll(struct devices *d, uint64_t now)
{
	pit_poll(d, now);
	/* the console at most every millisecond: a poll() per exit costs */
	if (now - d->last_console_poll >= 1000000) {
		d->last_console_poll = now;
		console_poll(d);
	}
}

void devices_set_mark(struct devices *d, const char *mark)
{
	d->mark = mark && *mark ? mark : NULL;
	d->mark_len = d->mark ? strlen(mark) : 0;
}

bool devices_mark_seen(struct devices *d, uint64_t *ns, uint64_t *tsc)
{
	*ns = d->mark_ns;
	*tsc = d->mark_tsc;
	return d->mark_seen;
}

uint64_t devices_next_deadline(struct devices *d)
{
	struct pit_channel *c = &d->pit.ch[0];
	uint64_t p = pit_period(c);

	if (!c->armed)
		return UINT64_MAX;
	if (c->mode == 2 || c->mode == 3)
		return pit_tick_time(c, (c->fired + 1) * p);
	return c->fired ? UINT64_MAX : pit_tick_time(c, p);
}

int devices_irq_pending(struct devices *d)
{
	int m, s;

	/* the slave's INT output is the master's IRQ 2 input (a level) */
	s = pic_output(&d->pic[1]);
	pic_set_line(&d->pic[0], 2, s >= 0);
	m = pic_output(&d->pic[0]);
	if (m < 0)
		return -1;
	if (m == 2 && s >= 0)
		return d->pic[1].base + s;
	if (m == 2)
		return d->pic[0].base + 7;	/* spurious */
	return d->pic[0].base + m;
}

static void pic_ack(struct pic *p, int irq)
{
	uint8_t bit = 1u << irq;

	p->irr &= ~bit;
	if (!p->auto_eoi)
		p->isr |= bit;
}

void devices_irq_ack(struct devices *d)
{
	int m = pic_output(&d->pic[0]), s;

	if (m < 0)
		return;
	pic_ack(&d->pic[0], m);
	if (m == 2) {
		s = pic_output(&d->pic[1]);
		if (s >= 0)
			pic_ack(&d->pic[1], s);
		/* IRQ 2 is level-driven by the slave: let it re-request */
		d->pic[0].lines &= ~(1u << 2);
	}
}

int devices_stop_status(struct devices *d, const char **why)
{
	if (why)
		*why = d->stop_why;
	return d->stop;
}

int devices_wait(struct devices *d, uint64_t until_ns)
{
	struct pollfd pfd = { .fd = d->in_fd, .events = POLLIN };
	struct timespec ts;
	uint64_t now = now_ns();
	bool want_input = d->in_fd >= 0 && !d->in_eof && d->com1.rx_len < UART_FIFO;

	devices_flush(d);
	if (until_ns <= now)
		return 0;
	if (until_ns == UINT64_MAX && !want_input)
		return -EDEADLK;	/* nothing can ever wake the guest */
	if (until_ns != UINT64_MAX) {
		uint64_t dt = until_ns - now;

		ts.tv_sec = dt / 1000000000ull;
		ts.tv_nsec = dt % 1000000000ull;
	}
	if (ppoll(want_input ? &pfd : NULL, want_input ? 1 : 0,
		  until_ns == UINT64_MAX ? NULL : &ts, NULL) < 0 && errno != EINTR)
		return -errno;
	d->last_console_poll = 0;	/* look at the console now */
	return 0;
}

void devices_dump(struct devices *d)
{
	const struct pit_channel *c = &d->pit.ch[0];
	const struct uart *u = &d->com1;

	for (int i = 0; i < 2; i++)
		fprintf(stderr, "  8259 %s: irr %02x isr %02x imr %02x base %02x%s\n",
			i ? "slave " : "master", d->pic[i].irr, d->pic[i].isr, d->pic[i].imr,
			d->pic[i].base, d->pic[i].icw_step ? " (in initialization)" : "");
	fprintf(stderr, "  8254 ch0: mode %u reload %u %s, %llu periods signalled\n",
		c->mode, c->reload, c->armed ? "counting" : "stopped", (unsigned long long)c->fired);
	fprintf(stderr, "  16550A: ier %02x iir %02x mcr %02x, %u bytes received, unread\n",
		u->ier, uart_iir(u), u->mcr, u->rx_len);
	if (d->ioapic)
		ioapic_dump(d->ioapic);
}

struct devices *devices_new(int console_in, int console_out)
{
	struct devices *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->in_fd = console_in;
	d->out_fd = console_out;
	d->stop = -1;
	d->pic[0].imr = d->pic[1].imr = 0xff;
	d->pit.ch[0].rw = d->pit.ch[1].rw = d->pit.ch[2].rw = 3;
	return d;
}

void devices_free(struct devices *d)
{
	if (!d)
		return;
	devices_flush(d);
	free(d->ioapic);
	free(d);
}
