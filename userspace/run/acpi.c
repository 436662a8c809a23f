// SPDX-License-Identifier: GPL-2.0
/*
 * acpi.c - the firmware tables of the APIC board: just enough ACPI for a
 * stock kernel to find the CPUs, the I/O APIC, the ISA interrupt routing
 * and the power-off register, with its default command line.
 *
 * What is written (ACPI 6.5 section numbers), all in the BIOS area at
 * ACPI_BASE, which the e820 map already reports as reserved
 * (loader.c: 0x9FC00-0x100000), 16-byte aligned where Linux's RSDP scan
 * of 0xE0000-0xFFFFF looks (5.2.5.1):
 *   RSDP (5.2.5, revision 0: ACPI 1.0, RSDT only) -> RSDT (5.2.7) ->
 *     FADT (5.2.9, revision 1, 116 bytes) -> FACS (5.2.10), DSDT (5.2.11.1)
 *     MADT (5.2.12): N processor local APICs (IDs 0..N-1), the I/O APIC,
 *       two interrupt source overrides and the LINT1 NMI entry.
 * The DSDT holds one object, \_S5 (7.4.2.4), so that Linux offers ACPI
 * power-off: the guest writes SLP_TYP = 5 with SLP_EN to PM1a_CNT
 * (4.8.3.2.1), which devices.c turns into "powered off".  The PM timer
 * (4.8.3.3, 24 bits at 3.579545 MHz) is there because Linux calibrates
 * the TSC against it when the PIT calibration fails, which it does when
 * port reads take uneven time (several vCPU threads share the board
 * lock).  No GPE block and no SMI command port: SMI_CMD = 0 tells the OS
 * the machine is in ACPI mode already (4.8.2.1, 5.2.9).
 *
 * The same layout as QEMU/KVM PCs where it matters to Linux: ISA IRQ 0 is
 * GSI 2 (the PIT on the I/O APIC's pin 2), IRQ 9 (the SCI) is level,
 * active high; every other ISA IRQ n is GSI n, edge, active high.
 */
#include <stdio.h>
#include <string.h>

#include "run.h"

#define ACPI_BASE	0xe0000u
#define RSDP_AT		(ACPI_BASE + 0x000)
#define RSDT_AT		(ACPI_BASE + 0x040)
#define FACS_AT		(ACPI_BASE + 0x100)	/* 64-byte aligned (5.2.10) */
#define FADT_AT		(ACPI_BASE + 0x140)
#define DSDT_AT		(ACPI_BASE + 0x200)
#define MADT_AT		(ACPI_BASE + 0x300)
#define ACPI_END	(ACPI_BASE + 0x1000)

#define SCI_IRQ		9
#define S5_SLP_TYP	5

static void put8(uint8_t *p, unsigned int off, uint8_t v)
{
	p[off] = v;
}

static void put16(uint8_t *p, unsigned int off, uint16_t v)
{
	memcpy(p + off, &v, 2);
}

static void put32(uint8_t *p, unsigned int off, uint32_t v)
{
	memcpy(p + off, &v, 4);
}

/* The byte that makes @len bytes sum to zero (5.2.5.3, 5.2.6). */
static uint8_t acpi_checksum(const uint8_t *p, unsigned int len)
{
	uint8_t sum = 0;

	for (unsigned int i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

/* The common 36-byte header (5.2.6); the checksum is filled in last. */
static void acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t, 4, len);
	put8(t, 8, rev);
	memcpy(t + 10, "HVLAB ", 6);		/* OEM ID */
	memcpy(t + 16, "HVLABRUN", 8);		/* OEM table ID */
	put32(t, 24, 1);			/* OEM revision */
	memcpy(t + 28, "HVLR", 4);		/* creator ID */
	put32(t, 32, 1);			/* creator revision */
}

static void acpi_seal(uint8_t *t)
{
	uint32_t len;

	memcpy(&len, t + 4, 4);
	t[9] = 0;
	t[9] = acpi_checksum(t, len);
}

/* Name (_S5, Package () { 5, 5, 0, 0 }) in AML (ACPI 6.5, 20.2.5). */
static const uint8_t dsdt_aml[] = {
	0x08, '_', 'S', '5', '_',		/* NameOp, NameSeg */
	0x12, 0x08, 0x04,			/* PackageOp, PkgLength 8, 4 elements */
	0x0a, S5_SLP_TYP, 0x0a, S5_SLP_TYP,	/* BytePrefix 5 (SLP_TYPa, SLP_TYPb) */
	0x00, 0x00,				/* ZeroOp, ZeroOp (reserved) */
};

int acpi_write_tables(struct guest *g, unsigned int ncpus, uint64_t *rsdp)
{
	uint8_t *m = g->ram;
	uint8_t *t;
	uint32_t len, off;

	if (!guest_range_ok(g, ACPI_BASE, ACPI_END - ACPI_BASE)) {
		fprintf(stderr, "hvlab-run: the ACPI tables at 0x%x need at least 1 MiB of guest RAM\n",
			ACPI_BASE);
		return RUN_NOMEM;
	}
	/* the image loaders never put anything here; refuse an image that did */
	for (uint32_t i = ACPI_BASE; i < ACPI_END; i++) {
		if (m[i]) {
			fprintf(stderr, "hvlab-run: the image overlaps the ACPI tables at 0x%x-0x%x\n",
				ACPI_BASE, ACPI_END - 1);
			return RUN_IMAGE;
		}
	}

	/* FACS: no firmware waking vector, no global lock owner */
	t = m + FACS_AT;
	memcpy(t, "FACS", 4);
	put32(t, 4, 64);

	/* DSDT: the \_S5 package only */
	t = m + DSDT_AT;
	len = 36 + sizeof(dsdt_aml);
	acpi_header(t, "DSDT", len, 1);
	memcpy(t + 36, dsdt_aml, sizeof(dsdt_aml));
	acpi_seal(t);

	/* FADT, ACPI 1.0 layout (revision 1, 116 bytes) */
	t = m + FADT_AT;
	acpi_header(t, "FACP", 116, 1);
	put32(t, 36, FACS_AT);			/* FIRMWARE_CTRL */
	put32(t, 40, DSDT_AT);			/* DSDT */
	put16(t, 46, SCI_IRQ);			/* SCI_INT */
	put32(t, 48, 0);			/* SMI_CMD: none, ACPI mode already */
	put32(t, 56, ACPI_PM1A_EVT);		/* PM1a_EVT_BLK */
	put32(t, 64, ACPI_PM1A_CNT);		/* PM1a_CNT_BLK */
	put32(t, 76, ACPI_PM_TMR);		/* PM_TMR_BLK */
	put8(t, 88, 4);				/* PM1_EVT_LEN: status + enable */
	put8(t, 89, 2);				/* PM1_CNT_LEN */
	put8(t, 91, 4);				/* PM_TMR_LEN */
	put16(t, 96, 101);			/* P_LVL2_LAT > 100: no C2 */
	put16(t, 98, 1001);			/* P_LVL3_LAT > 1000: no C3 */
	put8(t, 108, 0x32);			/* CENTURY: CMOS index (devices.c) */
	/*
	 * Flags: WBINVD works (bit 0); the power and sleep buttons are not
	 * fixed features (bits 4, 5), so no fixed-event handler waits on them.
	 */
	put32(t, 112, 1u << 0 | 1u << 4 | 1u << 5);
	acpi_seal(t);

	/* MADT */
	t = m + MADT_AT;
	put32(t, 36, 0xfee00000u);		/* local APIC address */
	put32(t, 40, 1);			/* PCAT_COMPAT: 8259 pair present */
	off = 44;
	for (unsigned int i = 0; i < ncpus; i++, off += 8) {
		put8(t, off, 0);		/* processor local APIC */
		put8(t, off + 1, 8);
		put8(t, off + 2, (uint8_t)i);	/* ACPI processor UID */
		put8(t, off + 3, (uint8_t)i);	/* APIC ID = vCPU id */
		put32(t, off + 4, 1);		/* enabled */
	}
	put8(t, off, 1);			/* I/O APIC */
	put8(t, off + 1, 12);
	put8(t, off + 2, 0);			/* I/O APIC ID (as QEMU's PCs) */
	put32(t, off + 4, IOAPIC_BASE);
	put32(t, off + 8, 0);			/* GSI base */
	off += 12;
	put8(t, off, 2);			/* override: ISA IRQ 0 -> GSI 2 */
	put8(t, off + 1, 10);
	put8(t, off + 2, 0);			/* ISA bus */
	put8(t, off + 3, 0);
	put32(t, off + 4, 2);
	put16(t, off + 8, 0);			/* conforming: edge, high */
	off += 10;
	put8(t, off, 2);			/* override: SCI, level, active high */
	put8(t, off + 1, 10);
	put8(t, off + 2, 0);
	put8(t, off + 3, SCI_IRQ);
	put32(t, off + 4, SCI_IRQ);
	put16(t, off + 8, 0x1 | 0x3 << 2);	/* polarity 01 high, trigger 11 level */
	off += 10;
	put8(t, off, 4);			/* local APIC NMI: every CPU's LINT1 */
	put8(t, off + 1, 6);
	put8(t, off + 2, 0xff);
	put16(t, off + 3, 0);
	put8(t, off + 5, 1);
	off += 6;
	acpi_header(t, "APIC", off, 1);
	acpi_seal(t);

	/* RSDT: the FADT and the MADT */
	t = m + RSDT_AT;
	acpi_header(t, "RSDT", 36 + 8, 1);
	put32(t, 36, FADT_AT);
	put32(t, 40, MADT_AT);
	acpi_seal(t);

	/* RSDP, revision 0: checksum over its 20 bytes */
	t = m + RSDP_AT;
	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, "HVLAB ", 6);
	put8(t, 15, 0);
	put32(t, 16, RSDT_AT);
	put8(t, 8, acpi_checksum(t, 20));
	*rsdp = RSDP_AT;
	return 0;
}
