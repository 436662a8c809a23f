// SPDX-License-Identifier: GPL-2.0
/*
 * ioapic.c - the board's I/O APIC (Intel 82093AA register set, 24 pins),
 * in userspace beside the 8259 pair.  It turns pin levels into MSI
 * messages for the local APICs, which live in the accelerator (KVM's
 * in-kernel LAPIC with KVM_CAP_SPLIT_IRQCHIP; hvlab's once the module has
 * one), the "split irqchip" of design.md.
 *
 * The facts used (82093AA datasheet, "Register Description"; Intel SDM
 * Vol. 3A 11.11 "Message Signalled Interrupts" for the message format):
 *   - two MMIO registers at the base: IOREGSEL (+0x00) picks an indirect
 *     register, IOWIN (+0x10) reads/writes it; version 0x20 parts (the
 *     ICH's, and QEMU's default) add an EOI register at +0x40;
 *   - indirect registers: 0x00 ID (bits 27:24), 0x01 version (bits 7:0
 *     version, 23:16 highest redirection entry), 0x02 arbitration ID,
 *     0x10 + 2n / 0x11 + 2n the low / high dword of redirection entry n;
 *   - a redirection entry: vector 7:0, delivery mode 10:8, destination mode
 *     11, delivery status 12 (RO), polarity 13, remote IRR 14 (RO),
 *     trigger mode 15 (1 = level), mask 16, destination 63:56;
 *   - edge: a rising edge on an unmasked pin sends one message; an edge on
 *     a masked pin is lost.  Level: an asserted, unmasked pin sends when
 *     remote IRR is clear and sets it; the local APIC's EOI of that vector
 *     clears it, and a line still asserted then sends again.
 *   - the message: address 0xFEE00000 | destination << 12 | destination
 *     mode << 2; data = vector | delivery mode << 8 | assert << 14 |
 *     trigger mode << 15.
 * KVM's own (in-kernel) I/O APIC is arch/x86/kvm/ioapic.c
 * (ioapic_service, kvm_ioapic_update_eoi_one); QEMU's split-irqchip one is
 * hw/intc/ioapic.c.  Like QEMU's, this one keeps pin levels logical
 * ("asserted"), so polarity is stored but not applied: every source on
 * this board is active high.
 *
 * Not thread-safe by itself: hvlab-run calls it with the board lock held.
 */
#include <stdio.h>
#include <string.h>

#include "run.h"

#define IOAPIC_VERSION		0x20
#define IOAPIC_MAX_ENTRY	(IOAPIC_PINS - 1)

#define RTE_VECTOR(e)		((uint8_t)(e))
#define RTE_DELMODE(e)		(((e) >> 8) & 7)
#define RTE_DESTMODE		(1ull << 11)
#define RTE_DELIVS		(1ull << 12)
#define RTE_REMOTE_IRR		(1ull << 14)
#define RTE_LEVEL		(1ull << 15)
#define RTE_MASK		(1ull << 16)
#define RTE_DEST(e)		((uint8_t)((e) >> 56))
#define RTE_RO_BITS		(RTE_DELIVS | RTE_REMOTE_IRR)

#define DELMODE_SMI		2
#define DELMODE_EXTINT		7

void ioapic_init(struct ioapic *io, const struct ioapic_sink *sink)
{
	memset(io, 0, sizeof(*io));
	io->sink = *sink;
	/* reset: every entry masked (82093AA, "IOREDTBL": mask set at reset) */
	for (int i = 0; i < IOAPIC_PINS; i++)
		io->redir[i] = RTE_MASK;
}

/* The MSI message of entry @e (SDM Vol. 3A 11.11.1 and 11.11.2). */
static void ioapic_send(struct ioapic *io, int pin)
{
	uint64_t e = io->redir[pin];
	uint64_t addr = 0xfee00000ull | (uint64_t)RTE_DEST(e) << 12 |
			(e & RTE_DESTMODE ? 1u << 2 : 0);
	uint32_t data = RTE_VECTOR(e) | RTE_DELMODE(e) << 8 | 1u << 14 |
			(e & RTE_LEVEL ? 1u << 15 : 0);

	switch (RTE_DELMODE(e)) {
	case DELMODE_SMI:
		return;		/* no SMM on this board */
	case DELMODE_EXTINT:
		/*
		 * ExtINT asks the CPU to fetch the vector from an 8259 with an
		 * INTA cycle; an MSI cannot carry that.  Linux programs it only
		 * in check_timer()'s fallbacks, after pin 2 failed.
		 */
		if (!io->extint_warned) {
			io->extint_warned = true;
			fprintf(stderr, "hvlab-run: I/O APIC pin %d: ExtINT delivery is not modelled; dropped\r\n", pin);
		}
		return;
	}
	if (e & RTE_LEVEL)
		io->redir[pin] |= RTE_REMOTE_IRR;
	io->sent++;
	io->sink.msi(io->sink.ctx, addr, data);
}

/* A level pin that is asserted, unmasked and not in service: send it. */
static void ioapic_service_level(struct ioapic *io, int pin)
{
	uint64_t e = io->redir[pin];

	if ((e & RTE_LEVEL) && !(e & (RTE_MASK | RTE_REMOTE_IRR)) && (io->lines & 1u << pin))
		ioapic_send(io, pin);
}

void ioapic_set_pin(struct ioapic *io, int pin, bool level)
{
	uint32_t bit;
	bool was;

	if (pin < 0 || pin >= IOAPIC_PINS)
		return;
	bit = 1u << pin;
	was = io->lines & bit;
	if (level)
		io->lines |= bit;
	else
		io->lines &= ~bit;
	if (io->redir[pin] & RTE_LEVEL)
		ioapic_service_level(io, pin);
	else if (level && !was && !(io->redir[pin] & RTE_MASK))
		ioapic_send(io, pin);
}

/*
 * The local APIC's EOI of @vector reached us (KVM_EXIT_IOAPIC_EOI, or a
 * write to the EOI register): every level entry with that vector leaves
 * service, and one still asserted is sent again (KVM: kvm_ioapic_update_eoi_one).
 */
void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	for (int pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t e = io->redir[pin];

		if (RTE_VECTOR(e) != vector || !(e & RTE_LEVEL) || !(e & RTE_REMOTE_IRR))
			continue;
		io->redir[pin] &= ~RTE_REMOTE_IRR;
		ioapic_service_level(io, pin);
	}
}

/* The accelerator wants to know which vectors are level-triggered, and for whom. */
static void ioapic_routes_changed(struct ioapic *io)
{
	struct ioapic_route r[IOAPIC_PINS];
	unsigned int n = 0;

	if (!io->sink.level_routes)
		return;
	for (int pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t e = io->redir[pin];

		if (!(e & RTE_LEVEL))
			continue;
		r[n].pin = pin;
		r[n].addr = 0xfee00000ull | (uint64_t)RTE_DEST(e) << 12 |
			    (e & RTE_DESTMODE ? 1u << 2 : 0);
		r[n].data = RTE_VECTOR(e) | RTE_DELMODE(e) << 8 | 1u << 14 | 1u << 15;
		n++;
	}
	io->sink.level_routes(io->sink.ctx, r, n);
}

static uint32_t ioapic_read_reg(struct ioapic *io)
{
	uint8_t sel = io->sel;

	switch (sel) {
	case 0x00:
		return io->id << 24;
	case 0x01:
		return IOAPIC_VERSION | IOAPIC_MAX_ENTRY << 16;
	case 0x02:
		return io->id << 24;	/* arbitration ID: the APIC ID after reset */
	}
	if (sel >= 0x10 && sel < 0x10 + 2 * IOAPIC_PINS) {
		uint64_t e = io->redir[(sel - 0x10) / 2];

		return sel & 1 ? (uint32_t)(e >> 32) : (uint32_t)e;
	}
	return 0;	/* reserved registers read as zero */
}

static void ioapic_write_reg(struct ioapic *io, uint32_t v)
{
	uint8_t sel = io->sel;
	int pin;
	uint64_t old, e;

	if (sel == 0x00) {
		io->id = (v >> 24) & 0xf;
		return;
	}
	if (sel < 0x10 || sel >= 0x10 + 2 * IOAPIC_PINS)
		return;		/* version, arbitration, reserved: read-only */
	pin = (sel - 0x10) / 2;
	old = io->redir[pin];
	if (sel & 1)
		e = (old & 0xffffffffull) | (uint64_t)(v & 0xff000000u) << 32;
	else
		e = (old & ~0xffffffffull & ~RTE_RO_BITS) | (v & ~(uint32_t)RTE_RO_BITS) |
		    (old & RTE_RO_BITS);
	/* an entry made edge-triggered has nothing in service (as QEMU and KVM) */
	if (!(e & RTE_LEVEL))
		e &= ~RTE_REMOTE_IRR;
	io->redir[pin] = e;
	if ((e ^ old) & (RTE_LEVEL | 0xff | 0x700 | RTE_DESTMODE | 0xff00000000000000ull))
		ioapic_routes_changed(io);
	/* unmasking an asserted level line delivers it now */
	ioapic_service_level(io, pin);
}

void ioapic_mmio(struct ioapic *io, uint64_t off, bool write, uint8_t *data, uint32_t len)
{
	uint32_t v = 0;

	if (len > 4)
		len = 4;
	if (write)
		memcpy(&v, data, len);
	switch (off & ~3ull) {
	case 0x00:		/* IOREGSEL: bits 7:0 */
		if (write)
			io->sel = (uint8_t)v;
		else
			v = io->sel;
		break;
	case 0x10:		/* IOWIN: whole dwords only in the datasheet */
		if (write)
			ioapic_write_reg(io, v);
		else
			v = ioapic_read_reg(io);
		break;
	case 0x40:		/* EOI (version 0x20): the vector */
		if (write)
			ioapic_eoi(io, (uint8_t)v);
		break;
	default:
		break;
	}
	if (!write) {
		v >>= (off & 3) * 8;	/* a narrower read takes its bytes */
		memcpy(data, &v, len);
	}
}

void ioapic_dump(const struct ioapic *io)
{
	fprintf(stderr, "  I/O APIC: id %u, lines %06x, %llu messages sent\n", io->id, io->lines,
		(unsigned long long)io->sent);
	for (int pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t e = io->redir[pin];

		if (e & RTE_MASK)
			continue;
		fprintf(stderr, "    pin %2d: vector %02x mode %u dest %02x%s %s%s\n", pin,
			RTE_VECTOR(e), (unsigned int)RTE_DELMODE(e), RTE_DEST(e),
			e & RTE_DESTMODE ? " (logical)" : "", e & RTE_LEVEL ? "level" : "edge",
			e & RTE_REMOTE_IRR ? ", remote IRR" : "");
	}
}
