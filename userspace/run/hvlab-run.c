// SPDX-License-Identifier: GPL-2.0
/*
 * hvlab-run - boot a Linux bzImage, a multiboot kernel, an ELF or a flat
 * binary on hvlab (/dev/hvlab) or, as the reference, on KVM (/dev/kvm),
 * with the same userspace PC either way (devices.c).
 *
 *   hvlab-run --kernel IMAGE [--initrd FILE] [--append CMDLINE] [--mem SIZE]
 *             [--accel hvlab|kvm] [--smp N | --no-apic]
 *             [--load-addr A [--entry A] [--entry-mode real|pm32]]
 *             [--mark STRING] [-v]
 *
 * The reading order: main() sets up memory, the image (loader.c), the
 * vCPU's entry state and CPUID, then one of two boards runs the guest.
 *
 * The 8259-only PC (--no-apic, the default): vcpu_loop() runs the one
 * vCPU on the main thread: one switch on the exit kind, the device model
 * answering, and interrupts from the 8259 pair offered to the CPU after
 * every exit.  A one-shot timer signal (armed for the next PIT deadline)
 * pulls the vCPU out of a guest that runs without exiting, so timer
 * interrupts arrive on time.
 *
 * The APIC board (--smp N): local APICs in the accelerator, the I/O APIC
 * and ACPI tables here (ioapic.c, acpi.c).  One thread per vCPU runs
 * apic_vcpu_thread(): it answers port I/O and MMIO under the board lock
 * and passes EOIs of level vectors to the I/O APIC.  The main thread is
 * the board's clock: board_loop() sleeps until the next device deadline
 * or console input, then lets the devices raise their lines, which the
 * I/O APIC turns into MSI messages.  Nothing is injected per vCPU: the
 * accelerator's local APICs take the messages.
 */
#define _GNU_SOURCE	/* ppoll */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "libhvlab.h"
#include "statefile.h"
#include "run.h"

#define DEFAULT_MEM	(128ull << 20)
#define MIN_MEM		(1ull << 20)
#define MAX_MEM		(3072ull << 20)	/* below the PCI hole; no RAM above 4 GiB */
#define MAX_SMP		16		/* the I/O APIC's 4-bit IDs; xAPIC physical mode */

static struct accel *the_accel;		/* for the signal handler */
static struct termios saved_tio;
static bool tio_saved;

static void usage(FILE *f)
{
	fprintf(f,
"Usage: hvlab-run --kernel IMAGE [OPTIONS]\n"
"\n"
"Boots IMAGE in a small PC (16550A on COM1 as the console, 8259 PICs, 8254 PIT,\n"
"CMOS RTC; no APIC unless --smp) on hvlab or on KVM, with the same devices\n"
"either way.\n"
"IMAGE is a Linux bzImage (32-bit boot protocol), a multiboot v1 kernel (ELF\n"
"or a.out kludge), an ELF32 (entered at e_entry in 32-bit protected mode), or\n"
"with --load-addr a flat binary.\n"
"\n"
"  --kernel IMAGE        the image to boot (required)\n"
"  --initrd FILE         Linux: the initramfs; multiboot: module 0\n"
"  --append CMDLINE      kernel command line (Linux: e.g. \"console=ttyS0\")\n"
"  --mem SIZE            guest RAM, e.g. 128M (default), 1G; bare numbers are MiB\n"
"  --accel hvlab|kvm     /dev/hvlab (default) or /dev/kvm\n"
"  --smp N               the APIC board with N vCPUs (1-16): a local APIC per\n"
"                        vCPU in the accelerator, an I/O APIC, ACPI tables\n"
"                        (MADT, FADT with S5 power-off)\n"
"  --no-apic             the 8259-only uniprocessor PC (the default): no local\n"
"                        APIC in CPUID, no I/O APIC, no ACPI tables\n"
"  --load-addr ADDR      load IMAGE as a flat binary at guest-physical ADDR\n"
"  --entry ADDR          start here instead of the image's entry (ELF, flat)\n"
"  --entry-mode MODE     flat binaries: real (16-bit, CS = ADDR>>4 & 0xf000)\n"
"                        or pm32 (flat 32-bit protected mode, the default)\n"
"  --mark STRING         report on stderr when the console first prints STRING\n"
"                        (seconds since the guest started, and TSC ticks)\n"
"  --trace[=REASONS]     print every VM exit (hvlab only): vCPU, neutral reason,\n"
"                        VMX exit reason / SVM exit code and its name, RIP, the\n"
"                        instruction there, the qualification in words, where it\n"
"                        was handled and its cycles; REASONS: a comma list of\n"
"                        neutral reasons to print (io,npf,cpuid,...), default all\n"
"  --trace-file FILE     write the --trace lines to FILE instead of stderr\n"
"  --trace-summary       at the end, a table of exit reasons: count, share,\n"
"                        mean and p99 cycles, handled in kernel / userspace\n"
"  --dump-state FILE     capture the VMCS/VMCB at every exit; at the end write the\n"
"                        last two and the exit journal to FILE for hvlab-dump\n"
"  -v, --verbose         say what was loaded where, and why the guest stopped\n"
"  -h, --help            this help\n"
"\n"
"Console: stdin goes to the guest's COM1 (raw mode on a terminal); Ctrl-A x\n"
"quits, Ctrl-A Ctrl-A sends a Ctrl-A.\n"
"\n"
"Exit status:\n"
"  0    the guest powered off (HLT with interrupts disabled, as Linux's\n"
"       poweroff does without ACPI; with --smp: ACPI S5, or every vCPU so)\n"
"  N    the guest wrote N to the debug-exit port 0xF4 (any byte, 0-255)\n"
"  2    bad usage\n"
"  70   accelerator unavailable or failing (/dev/hvlab, /dev/kvm)\n"
"  71   image missing, unreadable, malformed, or unsupported boot protocol\n"
"  72   --mem too small for the image (or above 3072M)\n"
"  73   the guest triple-faulted (its registers are printed)\n"
"  74   the guest reset the machine (ports 0xCF9, 0x64, 0x92)\n"
"  75   entry failure, internal error or unexpected exit (registers printed)\n"
"  76   quit with Ctrl-A x\n"
"  77   stopped by SIGTERM/SIGINT/SIGHUP (guest registers and devices printed)\n");
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case '\0':
	case 'M': case 'm':
		v <<= 20;
		break;
	case 'G': case 'g':
		v <<= 30;
		break;
	case 'K': case 'k':
		v <<= 10;
		break;
	default:
		return -1;
	}
	if (*end && end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
		return -1;
	*out = v;
	return 0;
}

static int parse_addr(const char *s, int64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > 0xffffffffull)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static void restore_terminal(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	tio_saved = false;
}

/* Raw mode: every key (Ctrl-C too) goes to the guest; Ctrl-A x quits. */
static void raw_terminal(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio))
		return;
	tio_saved = true;
	t = saved_tio;
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR;	/* our own messages stay readable */
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
	atexit(restore_terminal);
}

static void on_timer(int sig)
{
	(void)sig;
	if (the_accel)
		the_accel->ops->kick(the_accel);
}

/* SIGTERM, SIGINT, SIGHUP: leave the guest and say where it was. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
	if (the_accel)
		the_accel->ops->kick(the_accel);
}

/*
 * Only what the device model provides: no nesting, no PMU, no MONITOR;
 * on the 8259-only PC no APIC, x2APIC or TSC-deadline either.
 */
static void fix_cpuid_entry(struct hvlab_cpuid_entry *e, const struct accel *a)
{
	switch (e->function) {
	case 1:
		e->ecx &= ~(1u << 5 | 1u << 3);	/* VMX, MONITOR */
		if (!a->apic) {
			e->edx &= ~(1u << 9);	/* APIC: none, the 8259s instead */
			e->ecx &= ~(1u << 21 | 1u << 24);	/* x2APIC, TSC-deadline */
			break;
		}
		/*
		 * The APIC board: every vCPU a package of one core, one thread,
		 * as QEMU's "-smp N,sockets=N" (SDM Vol. 2A CPUID leaf 1:
		 * EBX[31:24] initial APIC ID, EBX[23:16] logical processors
		 * per package, meaningful only with HTT, EDX bit 28).
		 */
		e->ebx = (e->ebx & 0xffff) | a->id << 24;
		e->edx &= ~(1u << 28);		/* HTT */
		break;
	case 4:			/* deterministic cache parameters: one core, one thread */
		if (a->apic)
			e->eax &= ~(0x3fu << 26 | 0xfffu << 14);
		break;
	case 0xa:			/* architectural PMU: not offered */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0xb:			/* extended topology: the host's would not */
	case 0x1f:			/* match our APIC IDs; EBX = 0 means "none" */
	case 0x8000001e:		/* AMD topology extensions, likewise */
		if (a->apic)
			e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0x80000001:
		e->ecx &= ~(1u << 2);		/* SVM */
		if (a->apic)
			e->ecx &= ~(1u << 1 | 1u << 22);	/* CmpLegacy, TopologyExtensions */
		break;
	case 0x80000008:		/* AMD: NC (cores - 1) and ApicIdSize: one core */
		if (a->apic)
			e->ecx &= ~0xf0ffu;
		break;
	}
}

static void flat_seg(struct hvlab_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->s = 1;
	s->present = 1;
	s->db = 1;
	s->g = 1;
}

static int set_entry_state(struct accel *a, const struct boot_state *bs)
{
	struct hvlab_sregs s;
	struct hvlab_regs r;
	int ret;

	ret = a->ops->get_sregs(a, &s);
	if (ret)
		return ret;
	if (bs->mode == ENTRY_PROT32) {
		flat_seg(&s.cs, BOOT_CS, 0xb);
		flat_seg(&s.ds, BOOT_DS, 0x3);
		s.es = s.fs = s.gs = s.ss = s.ds;
		memset(&s.tr, 0, sizeof(s.tr));
		s.tr.selector = BOOT_TSS;
		s.tr.base = 0x600;
		s.tr.limit = 0x67;
		s.tr.type = 0xb;	/* busy 32-bit TSS */
		s.tr.present = 1;
		s.gdt.base = BOOT_GDT;
		s.gdt.limit = 5 * 8 - 1;
		s.idt.base = 0;
		s.idt.limit = 0;
		s.cr0 = 0x11;		/* PE, ET; paging off */
		s.cr4 = 0;
		s.efer = 0;
	} else {
		s.cs.selector = bs->real_cs;
		s.cs.base = (uint64_t)bs->real_cs << 4;
	}
	ret = a->ops->set_sregs(a, &s);
	if (ret)
		return ret;
	memset(&r, 0, sizeof(r));
	r.rip = bs->rip;
	r.rflags = 2;			/* IF clear */
	r.rax = bs->eax;
	r.rbx = bs->ebx;
	r.rsi = bs->esi;
	r.rsp = bs->rsp;
	return a->ops->set_regs(a, &r);
}

static void print_seg(const char *n, const struct hvlab_segment *s)
{
	fprintf(stderr, "  %-3s sel %04x base %016llx limit %08x type %x s%u dpl%u p%u l%u db%u g%u\n",
		n, s->selector, (unsigned long long)s->base, s->limit, s->type, s->s, s->dpl,
		s->present, s->l, s->db, s->g);
}

/* The guest's last registers, for triple faults and failures (forensics). */
static const struct guest *the_guest;	/* guest RAM, for the post-mortem */

/*
 * Guest-virtual to guest-physical through the guest's own page tables
 * (SDM Vol. 3A 4.3-4.5): paging off, 32-bit, PAE and 4-level paging, with
 * large pages.  Only for reading a stuck guest's stack; -1 if unmapped.
 */
static int64_t guest_virt_to_phys(const struct hvlab_sregs *s, uint64_t va)
{
	const struct guest *g = the_guest;
	bool pae = s->cr4 & (1u << 5), lm = s->efer & (1u << 10);
	int levels = !pae ? 2 : lm ? 4 : 3;
	int shift = !pae ? 22 : lm ? 39 : 30;
	uint64_t table = s->cr3 & (pae ? 0x000ffffffffff000ull : 0xfffff000ull), e = 0;

	if (!(s->cr0 & (1u << 31)))
		return (int64_t)(va & 0xffffffffull);
	if (pae && !lm)
		table = s->cr3 & 0xffffffe0ull;		/* the PDPT: 32-byte aligned */
	for (int l = levels; l > 0; l--, shift -= pae ? 9 : 10) {
		uint64_t idx = (va >> shift) & (pae ? (l == 3 && !lm ? 3 : 511) : 1023);
		uint64_t ea = table + idx * (pae ? 8 : 4);
		uint32_t e32;

		if (!guest_range_ok(g, ea, 8))
			return -1;
		if (pae) {
			memcpy(&e, g->ram + ea, 8);
		} else {
			memcpy(&e32, g->ram + ea, 4);
			e = e32;
		}
		if (!(e & 1))
			return -1;
		/* a large page: PS at the PD level (2/4 MiB) or at the PDPT (1 GiB) */
		if (l <= 2 + lm && l > 1 && (e & 0x80)) {
			uint64_t mask = (1ull << shift) - 1;

			return (int64_t)(((e & 0x000ffffffffff000ull) & ~mask) | (va & mask));
		}
		table = e & (pae ? 0x000ffffffffff000ull : 0xfffff000ull);
	}
	return (int64_t)(table | (va & 0xfff));
}

size_t guest_read_virt(const struct hvlab_sregs *s, uint64_t va, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len && the_guest) {
		int64_t pa = guest_virt_to_phys(s, va + done);
		size_t chunk = 0x1000 - ((va + done) & 0xfff);

		if (chunk > len - done)
			chunk = len - done;
		if (pa < 0 || !guest_range_ok(the_guest, (uint64_t)pa, chunk))
			break;
		memcpy((uint8_t *)buf + done, the_guest->ram + pa, chunk);
		done += chunk;
	}
	return done;
}

/* The words at the top of the guest's stack, for a post-mortem. */
static void dump_guest_stack(const struct hvlab_regs *r, const struct hvlab_sregs *s)
{
	bool lm = s->efer & (1u << 10);
	unsigned int w = lm ? 8 : 4;
	uint64_t sp = r->rsp + (lm ? 0 : s->ss.base);

	if (!the_guest)
		return;
	fprintf(stderr, "  stack at %016llx:", (unsigned long long)sp);
	for (unsigned int i = 0; i < 24; i++, sp += w) {
		int64_t pa = guest_virt_to_phys(s, sp);
		uint64_t v = 0;

		if (pa < 0 || !guest_range_ok(the_guest, (uint64_t)pa, w)) {
			fprintf(stderr, " (unmapped)");
			break;
		}
		memcpy(&v, the_guest->ram + pa, w);
		fprintf(stderr, "%s%0*llx", i % 4 ? " " : "\n   ", (int)w * 2, (unsigned long long)v);
	}
	fprintf(stderr, "\n");
}

static void dump_guest(struct accel *a)
{
	struct hvlab_regs r;
	struct hvlab_sregs s;

	if (a->ops->get_regs(a, &r) || a->ops->get_sregs(a, &s)) {
		fprintf(stderr, "hvlab-run: (cannot read the guest's registers)\n");
		return;
	}
	fprintf(stderr, "hvlab-run: last guest registers:\n"
		"  rip %016llx rflags %016llx\n"
		"  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		"  rsi %016llx rdi %016llx rsp %016llx rbp %016llx\n"
		"  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
		"  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
		"  cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %016llx\n",
		(unsigned long long)r.rip, (unsigned long long)r.rflags,
		(unsigned long long)r.rax, (unsigned long long)r.rbx, (unsigned long long)r.rcx,
		(unsigned long long)r.rdx, (unsigned long long)r.rsi, (unsigned long long)r.rdi,
		(unsigned long long)r.rsp, (unsigned long long)r.rbp, (unsigned long long)r.r8,
		(unsigned long long)r.r9, (unsigned long long)r.r10, (unsigned long long)r.r11,
		(unsigned long long)r.r12, (unsigned long long)r.r13, (unsigned long long)r.r14,
		(unsigned long long)r.r15, (unsigned long long)s.cr0, (unsigned long long)s.cr2,
		(unsigned long long)s.cr3, (unsigned long long)s.cr4, (unsigned long long)s.efer);
	print_seg("cs", &s.cs);
	print_seg("ss", &s.ss);
	print_seg("ds", &s.ds);
	print_seg("tr", &s.tr);
	fprintf(stderr, "  gdt %016llx/%04x idt %016llx/%04x\n",
		(unsigned long long)s.gdt.base, s.gdt.limit,
		(unsigned long long)s.idt.base, s.idt.limit);
	dump_guest_stack(&r, &s);
}

/*
 * MSRs the accelerator handed to us.  IA32_MISC_ENABLE (0x1A0): Linux's
 * verify_cpu reads it without a fixup on Intel CPUs (to clear XD disable)
 * before it has an IDT, so a #GP there is a triple fault.  We answer as
 * KVM does: BTS and PEBS unavailable (bits 11, 12), writes kept.  Every
 * other MSR: #GP, which is what the module would have injected.
 */
#define MSR_IA32_MISC_ENABLE	0x1a0

static uint64_t misc_enable = 1u << 11 | 1u << 12;

static void handle_msr(struct vm_exit *ex, bool verbose)
{
	if (ex->msr.index == MSR_IA32_MISC_ENABLE) {
		if (ex->msr.write)
			misc_enable = *ex->msr.data;
		else
			*ex->msr.data = misc_enable;
		return;
	}
	*ex->msr.error = 1;
	if (verbose)
		fprintf(stderr, "hvlab-run: %s of MSR 0x%x: #GP\r\n",
			ex->msr.write ? "wrmsr" : "rdmsr", ex->msr.index);
}

/* Offer the PICs' interrupt to the CPU; ask for a window if it must wait. */
static void deliver_irq(struct accel *a, struct devices *d)
{
	int v = devices_irq_pending(d);

	if (v < 0) {
		a->ops->want_irq_window(a, false);
		return;
	}
	if (a->ops->inject_irq(a, (uint8_t)v) == 0) {
		devices_irq_ack(d);
		/* another one waiting: come back when the guest can take it */
		a->ops->want_irq_window(a, devices_irq_pending(d) >= 0);
	} else {
		a->ops->want_irq_window(a, true);
	}
}

struct timer_state {
	timer_t id;
	uint64_t armed;		/* absolute ns, UINT64_MAX: disarmed */
};

static void arm_timer(struct timer_state *t, uint64_t deadline)
{
	struct itimerspec its = { 0 };

	if (deadline == t->armed)
		return;
	t->armed = deadline;
	if (deadline != UINT64_MAX) {
		its.it_value.tv_sec = deadline / 1000000000ull;
		its.it_value.tv_nsec = deadline % 1000000000ull;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timer_settime(t->id, TIMER_ABSTIME, &its, NULL);
}

/* Exits that reached hvlab-run, by kind (the same count on either accelerator). */
static uint64_t exit_count[VMX_FAIL + 1];
static const char *const exit_kind_name[VMX_FAIL + 1] = {
	[VMX_IO] = "io", [VMX_MMIO] = "mmio", [VMX_HLT] = "hlt",
	[VMX_IRQ_WINDOW] = "irq-window", [VMX_INTR] = "signal",
	[VMX_SHUTDOWN] = "shutdown", [VMX_MSR] = "msr", [VMX_EOI] = "eoi",
	[VMX_FAIL] = "failure",
};

static void print_exit_counts(struct accel *a)
{
	uint64_t total = 0, all;

	for (int i = 0; i <= VMX_FAIL; i++)
		total += exit_count[i];
	fprintf(stderr, "hvlab-run: %llu exits to userspace (", (unsigned long long)total);
	for (int i = 0, first = 1; i <= VMX_FAIL; i++) {
		if (!exit_count[i])
			continue;
		fprintf(stderr, "%s%s %llu", first ? "" : ", ", exit_kind_name[i],
			(unsigned long long)exit_count[i]);
		first = 0;
	}
	fprintf(stderr, ")");
	if (a->ops->count_exits && !a->ops->count_exits(a, &all))
		fprintf(stderr, "; %llu exits in all", (unsigned long long)all);
	fprintf(stderr, "\n");
}

static struct trace *the_trace;		/* --trace, --trace-summary */

/*
 * --dump-state FILE: the VMCS/VMCB at the last two exits and the exit
 * journal, for hvlab-dump (lib/statefile.h).
 */
static void write_state_file(struct accel *a, const char *path)
{
	static struct hvlab_vendor_state st[2];
	struct hvlab_statefile h = { .magic = HVLAB_STATEFILE_MAGIC, .state_size = sizeof(st[0]) };
	const struct hvlab_journal *j = NULL;
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "hvlab-run: --dump-state %s: %s\n", path, strerror(errno));
		return;
	}
	while (h.nstates < 2 && !hvlab_get_vendor_state(a->vcpu_fd, h.nstates, &st[h.nstates]))
		h.nstates++;
	h.journal = !hvlab_map_journal(a->vcpu_fd, &j);
	if (fwrite(&h, sizeof(h), 1, f) != 1 ||
	    (h.nstates && fwrite(st, sizeof(st[0]), h.nstates, f) != h.nstates) ||
	    (h.journal && fwrite(j, HVLAB_JOURNAL_SIZE, 1, f) != 1))
		fprintf(stderr, "hvlab-run: --dump-state %s: write: %s\n", path, strerror(errno));
	if (j)
		hvlab_unmap_journal(j);
	if (fclose(f))
		fprintf(stderr, "hvlab-run: --dump-state %s: %s\n", path, strerror(errno));
}

static int vcpu_loop(struct accel *a, struct devices *d, struct timer_state *tm, bool verbose)
{
	struct vm_exit ex;
	const char *why;
	int ret, st;

	for (;;) {
		if (stop_signal) {
			devices_flush(d);
			fprintf(stderr, "\r\nhvlab-run: stopped by signal %d (%s); exit status %d\n",
				stop_signal, strsignal(stop_signal), RUN_KILLED);
			dump_guest(a);
			devices_dump(d);
			return RUN_KILLED;
		}
		devices_poll(d, now_ns());
		st = devices_stop_status(d, &why);
		if (st >= 0) {
			if (verbose || st >= RUN_ACCEL)
				fprintf(stderr, "\r\nhvlab-run: %s; exit status %d\n", why, st);
			return st;
		}
		deliver_irq(a, d);
		arm_timer(tm, devices_next_deadline(d));

		ret = a->ops->run(a, &ex);
		if (ret) {
			fprintf(stderr, "\r\nhvlab-run: %s run: %s\n", a->ops->name, strerror(-ret));
			return RUN_ACCEL;
		}
		trace_after_run(the_trace);
		exit_count[ex.kind]++;
		switch (ex.kind) {
		case VMX_IO:
			for (uint32_t i = 0; i < ex.io.count; i++)
				devices_io(d, ex.io.out, ex.io.port, ex.io.size,
					   ex.io.data + (size_t)i * ex.io.size);
			break;
		case VMX_MMIO:
			if (verbose && exit_count[VMX_MMIO] <= 8)
				fprintf(stderr, "hvlab-run: mmio %s 0x%llx len %u (nothing there)%s\r\n",
					ex.mmio.write ? "write" : "read",
					(unsigned long long)ex.mmio.addr, ex.mmio.len,
					exit_count[VMX_MMIO] == 8 ? "; no more of these reported" : "");
			devices_mmio(d, ex.mmio.addr, ex.mmio.write, ex.mmio.data,
				     ex.mmio.len > 8 ? 8 : ex.mmio.len);
			break;
		case VMX_HLT:
			if (!ex.if_flag) {
				/* nothing but an NMI wakes this CPU, and we have no NMI source */
				devices_flush(d);
				if (verbose)
					fprintf(stderr, "\r\nhvlab-run: the guest halted with interrupts disabled: powered off\n");
				return RUN_OK;
			}
			/* idle: sleep until the next timer deadline or console input */
			for (;;) {
				uint64_t now = now_ns();

				devices_poll(d, now);
				if (devices_irq_pending(d) >= 0 || devices_stop_status(d, NULL) >= 0 ||
				    stop_signal)
					break;
				ret = devices_wait(d, devices_next_deadline(d));
				if (ret == -EDEADLK) {
					fprintf(stderr, "\r\nhvlab-run: the guest halted with nothing left to wake it (no timer armed, no console input)\n");
					dump_guest(a);
					return RUN_INTERNAL;
				}
			}
			break;
		case VMX_IRQ_WINDOW:
		case VMX_INTR:
		case VMX_EOI:		/* only with local APICs: not on this board */
			break;
		case VMX_MSR:
			handle_msr(&ex, verbose);
			break;
		case VMX_SHUTDOWN:
			devices_flush(d);
			fprintf(stderr, "\r\nhvlab-run: the guest triple-faulted (shutdown)\n");
			dump_guest(a);
			return RUN_TRIPLE;
		case VMX_FAIL:
			devices_flush(d);
			fprintf(stderr, "\r\nhvlab-run: %s: %s\n", a->ops->name, ex.why);
			dump_guest(a);
			return RUN_INTERNAL;
		}
	}
}


/* ------------------------------------------------------ the APIC board -- */

struct board {
	struct accel *cpu[MAX_SMP];	/* cpu[0] made by create(), the rest by add_vcpu() */
	pthread_t thread[MAX_SMP];
	unsigned int ncpus, started, halted;
	struct devices *d;
	pthread_mutex_t lock;		/* every devices_*() call, and the fields below */
	int wake_fd;			/* eventfd: the board loop must look again */
	uint64_t board_deadline;	/* what board_loop() sleeps until */
	volatile int stopping;		/* vCPU threads: leave RUN and end */
	bool verbose;
};

/* The vCPU this thread runs, for the kick signal. */
static __thread struct accel *this_vcpu;

static void on_kick(int sig)
{
	(void)sig;
	if (this_vcpu)
		this_vcpu->ops->kick(this_vcpu);
}

static void board_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct accel *a = ctx;
	int ret = a->ops->signal_msi(a, addr, data);
	static bool warned;

	if (ret && !warned) {
		warned = true;
		fprintf(stderr, "hvlab-run: %s: MSI 0x%llx/0x%x: %s\r\n", a->ops->name,
			(unsigned long long)addr, data, strerror(-ret));
	}
}

static void board_level_routes(void *ctx, const struct ioapic_route *r, unsigned int n)
{
	struct accel *a = ctx;
	int ret = a->ops->set_level_routes(a, r, n);
	static bool warned;

	if (ret && !warned) {
		warned = true;
		fprintf(stderr, "hvlab-run: %s: level-triggered routes: %s\r\n", a->ops->name,
			strerror(-ret));
	}
}

/* Called with the lock held after a vCPU touched the devices. */
static void board_notify(struct board *b)
{
	uint64_t one = 1;

	if (devices_stop_status(b->d, NULL) >= 0 || devices_next_deadline(b->d) < b->board_deadline)
		if (write(b->wake_fd, &one, sizeof(one)) < 0)
			return;		/* the counter is non-zero already: awake anyway */
}

/* A vCPU's end: its reason for stopping the board, and its registers. */
static void board_vcpu_fails(struct board *b, struct accel *a, int status, const char *what)
{
	pthread_mutex_lock(&b->lock);
	devices_flush(b->d);
	fprintf(stderr, "\r\nhvlab-run: vCPU %u: %s\n", a->id, what);
	dump_guest(a);
	devices_stop(b->d, status, "a vCPU stopped the machine");
	board_notify(b);
	pthread_mutex_unlock(&b->lock);
}

static void *apic_vcpu_thread(void *arg)
{
	struct accel *a = arg;
	struct board *b = a->priv;
	struct vm_exit ex;
	char what[200];
	int ret;

	this_vcpu = a;
	while (!b->stopping) {
		ret = a->ops->run(a, &ex);
		if (ret) {
			snprintf(what, sizeof(what), "%s run: %s", a->ops->name, strerror(-ret));
			board_vcpu_fails(b, a, RUN_ACCEL, what);
			break;
		}
		__atomic_add_fetch(&exit_count[ex.kind], 1, __ATOMIC_RELAXED);
		switch (ex.kind) {
		case VMX_IO:
			pthread_mutex_lock(&b->lock);
			for (uint32_t i = 0; i < ex.io.count; i++)
				devices_io(b->d, ex.io.out, ex.io.port, ex.io.size,
					   ex.io.data + (size_t)i * ex.io.size);
			board_notify(b);
			pthread_mutex_unlock(&b->lock);
			continue;
		case VMX_MMIO:
			pthread_mutex_lock(&b->lock);
			devices_mmio(b->d, ex.mmio.addr, ex.mmio.write, ex.mmio.data,
				     ex.mmio.len > 8 ? 8 : ex.mmio.len);
			pthread_mutex_unlock(&b->lock);
			continue;
		case VMX_EOI:
			pthread_mutex_lock(&b->lock);
			devices_eoi(b->d, ex.eoi_vector);
			pthread_mutex_unlock(&b->lock);
			continue;
		case VMX_MSR:
			pthread_mutex_lock(&b->lock);
			handle_msr(&ex, b->verbose);
			pthread_mutex_unlock(&b->lock);
			continue;
		case VMX_HLT:
			/* the local APIC waits in the accelerator; an exit means IF=0 */
			if (ex.if_flag)
				continue;
			break;
		case VMX_IRQ_WINDOW:
		case VMX_INTR:
			continue;
		case VMX_SHUTDOWN:
			board_vcpu_fails(b, a, RUN_TRIPLE, "the guest triple-faulted (shutdown)");
			return NULL;
		case VMX_FAIL:
			board_vcpu_fails(b, a, RUN_INTERNAL, ex.why);
			return NULL;
		}
		/*
		 * HLT with interrupts off: only NMI, INIT or SMI could wake this
		 * CPU, and the board has no source of them.  It rests; when all
		 * have, the machine is off (Linux's power-off without ACPI).
		 */
		pthread_mutex_lock(&b->lock);
		if (++b->halted == b->ncpus)
			devices_stop(b->d, RUN_OK, "every vCPU halted with interrupts disabled: powered off");
		board_notify(b);
		pthread_mutex_unlock(&b->lock);
		while (!b->stopping) {
			struct timespec ts = { 0, 10000000 };

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* The board's clock: device deadlines and console input, until a stop. */
static void board_loop(struct board *b)
{
	for (;;) {
		struct pollfd pfd[2] = { { .fd = b->wake_fd, .events = POLLIN } };
		uint64_t now, deadline, dt, v;
		struct timespec ts;
		int in_fd, n = 1;

		pthread_mutex_lock(&b->lock);
		now = now_ns();
		devices_poll(b->d, now);
		deadline = devices_next_deadline(b->d);
		in_fd = devices_input_fd(b->d);
		b->board_deadline = deadline;
		devices_flush(b->d);
		if (devices_stop_status(b->d, NULL) >= 0 || stop_signal) {
			pthread_mutex_unlock(&b->lock);
			return;
		}
		pthread_mutex_unlock(&b->lock);
		if (in_fd >= 0) {
			pfd[1] = (struct pollfd){ .fd = in_fd, .events = POLLIN };
			n = 2;
		}
		/*
		 * At most 20 ms: a receive FIFO the guest has drained wants
		 * input again, and no vCPU exit says so.
		 */
		dt = deadline > now ? deadline - now : 0;
		if (dt > 20000000)
			dt = 20000000;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)dt;
		if (ppoll(pfd, n, &ts, NULL) <= 0)
			continue;
		if (pfd[0].revents & POLLIN)
			if (read(b->wake_fd, &v, sizeof(v)) < 0)
				continue;
		if (n == 2 && pfd[1].revents) {
			pthread_mutex_lock(&b->lock);
			devices_input_ready(b->d);
			pthread_mutex_unlock(&b->lock);
		}
	}
}

/* Make vCPUs 1..N-1 and their CPUID; vCPU 0 exists and is set up. */
static int board_add_vcpus(struct board *b, char *err, size_t errlen)
{
	struct accel *vm = b->cpu[0];
	int ret;

	for (unsigned int i = 1; i < b->ncpus; i++) {
		struct accel *c = calloc(1, sizeof(*c));

		if (!c)
			return -ENOMEM;
		c->vcpu_fd = -1;
		b->cpu[i] = c;
		ret = vm->ops->add_vcpu(vm, c, i, err, errlen);
		if (ret)
			return ret;
		ret = c->ops->fix_cpuid(c, fix_cpuid_entry);
		if (ret) {
			snprintf(err, errlen, "vCPU %u: CPUID: %s", i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Run the APIC board: threads up, the board loop, threads down. */
static int board_run(struct board *b)
{
	struct sigaction sa = { .sa_handler = on_kick };
	sigset_t stops, old;
	const char *why;
	int st;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	/* SIGTERM and friends go to this thread only: block them in the vCPU threads */
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stops, &old);
	for (unsigned int i = 0; i < b->ncpus; i++) {
		b->cpu[i]->priv = b;
		if (pthread_create(&b->thread[i], NULL, apic_vcpu_thread, b->cpu[i])) {
			fprintf(stderr, "hvlab-run: cannot start the thread of vCPU %u\n", i);
			devices_stop(b->d, RUN_INTERNAL, "no thread for a vCPU");
			break;
		}
		b->started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	board_loop(b);

	b->stopping = 1;
	for (unsigned int i = 0; i < b->started; i++)
		pthread_kill(b->thread[i], SIGUSR1);
	for (unsigned int i = 0; i < b->started; i++)
		pthread_join(b->thread[i], NULL);

	devices_flush(b->d);
	if (stop_signal) {
		fprintf(stderr, "\r\nhvlab-run: stopped by signal %d (%s); exit status %d\n",
			stop_signal, strsignal(stop_signal), RUN_KILLED);
		for (unsigned int i = 0; i < b->ncpus; i++) {
			fprintf(stderr, "hvlab-run: vCPU %u:\n", i);
			dump_guest(b->cpu[i]);
		}
		devices_dump(b->d);
		return RUN_KILLED;
	}
	st = devices_stop_status(b->d, &why);
	if (b->verbose || st >= RUN_ACCEL)
		fprintf(stderr, "\r\nhvlab-run: %s; exit status %d\n", why, st);
	return st;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "append", required_argument, NULL, 'a' },
		{ "mem", required_argument, NULL, 'm' },
		{ "accel", required_argument, NULL, 'A' },
		{ "load-addr", required_argument, NULL, 'L' },
		{ "entry", required_argument, NULL, 'E' },
		{ "entry-mode", required_argument, NULL, 'M' },
		{ "mark", required_argument, NULL, 'K' },
		{ "smp", required_argument, NULL, 'S' },
		{ "no-apic", no_argument, NULL, 'N' },
		{ "trace", optional_argument, NULL, 'T' },
		{ "trace-file", required_argument, NULL, 'F' },
		{ "trace-summary", no_argument, NULL, 'U' },
		{ "dump-state", required_argument, NULL, 'D' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct load_args la = { .flat_addr = -1, .entry = -1, .flat_mode = ENTRY_PROT32 };
	struct accel acc = { .sys_fd = -1, .vm_fd = -1, .vcpu_fd = -1 };
	struct timer_state tm = { .armed = UINT64_MAX };
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };
	struct sigaction sa = { .sa_handler = on_timer };
	struct guest g = { .mem_size = DEFAULT_MEM };
	struct boot_state bs;
	struct devices *dev = NULL;
	const char *accel = "hvlab", *mark = NULL;
	struct board board = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake_fd = -1 };
	struct ioapic_sink sink;
	unsigned long smp = 0;
	bool no_apic = false, trace = false, trace_summary = false;
	const char *trace_reasons = NULL, *trace_file = NULL, *dump_state = NULL;
	uint64_t rsdp = 0;
	char *end;
	uint64_t t0, tsc0, mark_ns, mark_tsc;
	char err[256] = "";
	int opt, ret, status;

	while ((opt = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'k': la.kernel = optarg; break;
		case 'i': la.initrd = optarg; break;
		case 'a': la.append = optarg; break;
		case 'A': accel = optarg; break;
		case 'K': mark = optarg; break;
		case 'v': la.verbose = true; break;
		case 'N': no_apic = true; break;
		case 'T':
			trace = true;
			trace_reasons = optarg;
			if (trace_check_reasons(optarg))
				return RUN_USAGE;
			break;
		case 'F': trace_file = optarg; break;
		case 'U': trace_summary = true; break;
		case 'D': dump_state = optarg; break;
		case 'S':
			errno = 0;
			smp = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || smp < 1 || smp > MAX_SMP) {
				fprintf(stderr, "hvlab-run: --smp '%s': a number of vCPUs, 1 to %d\n",
					optarg, MAX_SMP);
				return RUN_USAGE;
			}
			break;
		case 'm':
			if (parse_size(optarg, &g.mem_size)) {
				fprintf(stderr, "hvlab-run: --mem '%s': not a size (e.g. 128M, 1G)\n", optarg);
				return RUN_USAGE;
			}
			break;
		case 'L':
		case 'E':
			if (parse_addr(optarg, opt == 'L' ? &la.flat_addr : &la.entry)) {
				fprintf(stderr, "hvlab-run: %s '%s': not a 32-bit address\n",
					opt == 'L' ? "--load-addr" : "--entry", optarg);
				return RUN_USAGE;
			}
			break;
		case 'M':
			if (!strcmp(optarg, "real")) {
				la.flat_mode = ENTRY_REAL;
			} else if (!strcmp(optarg, "pm32")) {
				la.flat_mode = ENTRY_PROT32;
			} else {
				fprintf(stderr, "hvlab-run: --entry-mode '%s': real or pm32\n", optarg);
				return RUN_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return RUN_USAGE;
		}
	}
	if (optind < argc || !la.kernel) {
		fprintf(stderr, "hvlab-run: %s (see --help)\n",
			la.kernel ? "unexpected arguments" : "--kernel IMAGE is required");
		return RUN_USAGE;
	}
	if (!strcmp(accel, "hvlab")) {
		acc.ops = &accel_hvlab_ops;
	} else if (!strcmp(accel, "kvm")) {
		acc.ops = &accel_kvm_ops;
	} else {
		fprintf(stderr, "hvlab-run: --accel '%s': hvlab or kvm\n", accel);
		return RUN_USAGE;
	}
	if ((trace || trace_summary || trace_file || dump_state) && (acc.ops != &accel_hvlab_ops || smp)) {
		fprintf(stderr, "hvlab-run: --trace, --trace-summary, --trace-file and --dump-state read hvlab.ko's own exit stream and VMCS/VMCB: --accel hvlab, without --smp\n");
		return RUN_USAGE;
	}
	if (trace_file && !trace) {
		fprintf(stderr, "hvlab-run: --trace-file F goes with --trace\n");
		return RUN_USAGE;
	}
	if (smp && no_apic) {
		fprintf(stderr, "hvlab-run: --smp needs the APIC board; --no-apic is the uniprocessor 8259 PC\n");
		return RUN_USAGE;
	}
	/* the default stays the 8259-only PC: the simplest one to teach with */
	acc.apic = smp > 0;
	board.ncpus = smp ? (unsigned int)smp : 1;
	board.verbose = la.verbose;
	if (la.flat_addr < 0 && la.flat_mode == ENTRY_REAL) {
		fprintf(stderr, "hvlab-run: --entry-mode real needs --load-addr\n");
		return RUN_USAGE;
	}
	g.mem_size &= ~0xfffull;
	if (g.mem_size < MIN_MEM || g.mem_size > MAX_MEM) {
		fprintf(stderr, "hvlab-run: --mem %lluM: hvlab-run gives a guest between 1M and 3072M\n",
			(unsigned long long)(g.mem_size >> 20));
		return RUN_NOMEM;
	}

	g.ram = mmap(NULL, g.mem_size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (g.ram == MAP_FAILED) {
		fprintf(stderr, "hvlab-run: cannot map %llu MiB of guest RAM: %s\n",
			(unsigned long long)(g.mem_size >> 20), strerror(errno));
		return RUN_NOMEM;
	}
	status = load_image(&g, &la, &bs);
	if (status)
		goto out_unmap;
	if (acc.apic) {
		status = acpi_write_tables(&g, board.ncpus, &rsdp);
		if (status)
			goto out_unmap;
		load_set_rsdp(&g, &bs, rsdp);
	}

	status = RUN_ACCEL;
	ret = acc.ops->create(&acc, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "hvlab-run: --accel %s: %s\n", acc.ops->name, err);
		goto out_accel;
	}
	ret = acc.ops->add_ram(&acc, 0, 0, g.mem_size, g.ram);
	if (!ret)
		ret = acc.ops->fix_cpuid(&acc, fix_cpuid_entry);
	if (!ret)
		ret = set_entry_state(&acc, &bs);
	if (ret) {
		fprintf(stderr, "hvlab-run: --accel %s: setting up the vCPU: %s\n",
			acc.ops->name, strerror(-ret));
		goto out_accel;
	}
	/* Before the first entry, so that every exit is seen. */
	if (dump_state) {
		ret = hvlab_capture_state(acc.vcpu_fd, 1);
		if (ret) {
			fprintf(stderr, "hvlab-run: --dump-state: HVLAB_CAPTURE_STATE: %s\n", strerror(-ret));
			goto out_accel;
		}
	}
	if ((trace || trace_summary) &&
	    trace_open(&the_trace, &acc, &g, trace_reasons, trace_file, trace, trace_summary))
		goto out_accel;
	board.cpu[0] = &acc;
	if (acc.apic) {
		ret = board_add_vcpus(&board, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "hvlab-run: --accel %s: %s\n", acc.ops->name,
				*err ? err : strerror(-ret));
			goto out_vcpus;
		}
		board.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (board.wake_fd < 0) {
			fprintf(stderr, "hvlab-run: eventfd: %s\n", strerror(errno));
			goto out_vcpus;
		}
	}

	dev = devices_new(STDIN_FILENO, STDOUT_FILENO);
	if (!dev) {
		fprintf(stderr, "hvlab-run: out of memory\n");
		goto out_vcpus;
	}
	devices_set_mark(dev, mark);
	board.d = dev;
	if (acc.apic) {
		sink = (struct ioapic_sink){ board_msi, board_level_routes, &acc };
		if (devices_enable_apic(dev, &sink)) {
			fprintf(stderr, "hvlab-run: out of memory\n");
			goto out_devices;
		}
	}

	/* the PIT's deadline timer: SIGALRM kicks the vCPU out of the guest */
	the_accel = &acc;
	the_guest = &g;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) || timer_create(CLOCK_MONOTONIC, &sev, &tm.id)) {
		fprintf(stderr, "hvlab-run: timer: %s\n", strerror(errno));
		goto out_devices;
	}
	sa.sa_handler = on_stop_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (la.verbose)
		fprintf(stderr, "hvlab-run: %s image, %llu MiB, entry 0x%llx (%s), accel %s, %s\n",
			bs.kind, (unsigned long long)(g.mem_size >> 20), (unsigned long long)bs.rip,
			bs.mode == ENTRY_REAL ? "real mode" : "32-bit protected mode", acc.ops->name,
			acc.apic ? "APIC board" : "8259 PC");
	if (la.verbose && acc.apic)
		fprintf(stderr, "hvlab-run: %u vCPUs, I/O APIC at 0x%x, ACPI RSDP at 0x%llx\n",
			board.ncpus, IOAPIC_BASE, (unsigned long long)rsdp);
	raw_terminal();
	t0 = now_ns();
	tsc0 = __builtin_ia32_rdtsc();
	if (acc.apic)
		status = board_run(&board);
	else
		status = vcpu_loop(&acc, dev, &tm, la.verbose);
	restore_terminal();
	trace_finish(the_trace);
	the_trace = NULL;
	if (dump_state)
		write_state_file(&acc, dump_state);
	if (mark) {
		if (devices_mark_seen(dev, &mark_ns, &mark_tsc))
			fprintf(stderr, "hvlab-run: mark '%s' after %.3f s, %llu TSC ticks (accel %s)\n",
				mark, (mark_ns - t0) / 1e9, (unsigned long long)(mark_tsc - tsc0),
				acc.ops->name);
		else
			fprintf(stderr, "hvlab-run: mark '%s' never seen\n", mark);
	}
	if (la.verbose)
		print_exit_counts(&acc);
	timer_delete(tm.id);
out_devices:
	the_accel = NULL;
	devices_free(dev);
out_vcpus:
	if (board.wake_fd >= 0)
		close(board.wake_fd);
	for (unsigned int i = 1; i < board.ncpus; i++) {
		if (board.cpu[i]) {
			board.cpu[i]->ops->destroy(board.cpu[i]);
			free(board.cpu[i]);
		}
	}
out_accel:
	acc.ops->destroy(&acc);
out_unmap:
	munmap(g.ram, g.mem_size);
	return status;
}
