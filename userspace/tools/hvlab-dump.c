// SPDX-License-Identifier: GPL-2.0
/*
 * hvlab-dump - print the VMCS (Intel) or VMCB (AMD) of a vCPU as it stood
 * at its last exit, grouped and named as the manuals do, from the file
 * hvlab-run --dump-state wrote (lib/statefile.h); with --diff only what
 * changed since the exit before.  The exit journal's last exits follow,
 * so a triple fault or an entry failure is read in one command.
 *
 * VMCS groups (SDM Vol. 3C 25.3): guest-state area, host-state area,
 * VM-execution, VM-exit and VM-entry control fields, VM-exit information
 * fields; the encoding's bits 11:10 give the area (appendix B), the
 * field's name whether a control is the VM-exit's or the VM-entry's.
 * VMCB (APM Vol. 2 appendix B): the control area, then the state save
 * area at 400h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libhvlab.h"
#include "statefile.h"
#include "hvlab_vmcb.h"

struct vmcs_name {
	uint32_t enc;
	const char *id, *sdm;
};

static const struct vmcs_name vmcs_names[] = {
#define HVLAB_VMCS_FIELD(name, enc, need, sdm) { enc, #name, sdm },
#include "hvlab_vmcs.h"
#undef HVLAB_VMCS_FIELD
};

struct vmcb_name {
	unsigned int off, size;
	const char *id, *apm;
};

static const struct vmcb_name vmcb_names[] = {
#define HVLAB_VMCB_FIELD(id, off, size, name) { off, size, #id, name },
	HVLAB_VMCB_CONTROL_FIELDS
	HVLAB_VMCB_SAVE_FIELDS
#undef HVLAB_VMCB_FIELD
};

enum { G_GUEST, G_HOST, G_EXEC, G_EXIT_CTL, G_ENTRY_CTL, G_EXIT_INFO, G_NR };
static const char *const group_title[G_NR] = {
	[G_GUEST] = "Guest-state area (SDM Vol. 3C 25.4)",
	[G_HOST] = "Host-state area (25.5)",
	[G_EXEC] = "VM-execution control fields (25.6)",
	[G_EXIT_CTL] = "VM-exit control fields (25.7)",
	[G_ENTRY_CTL] = "VM-entry control fields (25.8)",
	[G_EXIT_INFO] = "VM-exit information fields (25.9)",
};

static int vmcs_group(const struct vmcs_name *n)
{
	switch ((n->enc >> 10) & 3) {
	case 1: return G_EXIT_INFO;
	case 2: return G_GUEST;
	case 3: return G_HOST;
	}
	if (!strncmp(n->id, "VM_EXIT_", 8))
		return G_EXIT_CTL;
	if (!strncmp(n->id, "VM_ENTRY_", 9))
		return G_ENTRY_CTL;
	return G_EXEC;
}

static bool vmcs_value(const struct hvlab_vendor_state *st, uint32_t enc, uint64_t *v)
{
	const struct hvlab_vmcs_field *f = (const void *)st->data;

	for (uint32_t i = 0; i < st->count && i < HVLAB_VENDOR_STATE_BYTES / sizeof(*f); i++) {
		if (f[i].encoding == enc) {
			*v = f[i].value;
			return true;
		}
	}
	return false;
}

/* Every field in the manual's order, group by group; @prev: only changes. */
static unsigned int print_vmcs(const struct hvlab_vendor_state *st, const struct hvlab_vendor_state *prev)
{
	unsigned int changed = 0;

	for (int g = 0; g < G_NR; g++) {
		bool title = false;

		for (size_t i = 0; i < sizeof(vmcs_names) / sizeof(vmcs_names[0]); i++) {
			const struct vmcs_name *n = &vmcs_names[i];
			uint64_t v, old = 0;
			bool had;

			if (vmcs_group(n) != g || !vmcs_value(st, n->enc, &v))
				continue;
			had = prev && vmcs_value(prev, n->enc, &old);
			if (prev && had && old == v)
				continue;
			if (!title) {
				printf("%s\n", group_title[g]);
				title = true;
			}
			changed++;
			if (prev && had)
				printf("  %04x %-48s 0x%llx -> 0x%llx\n", n->enc, n->sdm,
				       (unsigned long long)old, (unsigned long long)v);
			else
				printf("  %04x %-48s 0x%llx\n", n->enc, n->sdm, (unsigned long long)v);
		}
	}
	return changed;
}

static uint64_t vmcb_value(const struct hvlab_vendor_state *st, const struct vmcb_name *n)
{
	uint64_t v = 0;

	memcpy(&v, st->data + n->off, n->size > 8 ? 8 : n->size);
	return v;
}

static void print_vmcb_value(const struct hvlab_vendor_state *st, const struct vmcb_name *n)
{
	if (n->size > 8) {		/* the guest instruction bytes */
		for (unsigned int i = 0; i < n->size; i++)
			printf("%s%02x", i ? " " : "", st->data[n->off + i]);
	} else {
		printf("0x%llx", (unsigned long long)vmcb_value(st, n));
	}
}

static unsigned int print_vmcb(const struct hvlab_vendor_state *st, const struct hvlab_vendor_state *prev)
{
	unsigned int changed = 0;

	for (int area = 0; area < 2; area++) {
		bool title = false;

		for (size_t i = 0; i < sizeof(vmcb_names) / sizeof(vmcb_names[0]); i++) {
			const struct vmcb_name *n = &vmcb_names[i];

			if ((n->off >= HVLAB_VMCB_SAVE_AREA) != area)
				continue;
			if (prev && !memcmp(st->data + n->off, prev->data + n->off, n->size))
				continue;
			if (!title) {
				printf("%s\n", area ? "VMCB state save area (APM Vol. 2 table B-2, at 400h)" :
				       "VMCB control area (APM Vol. 2 table B-1)");
				title = true;
			}
			changed++;
			printf("  %03x %-48s ", n->off, n->apm);
			if (prev) {
				print_vmcb_value(prev, n);
				printf(" -> ");
			}
			print_vmcb_value(st, n);
			printf("\n");
		}
	}
	return changed;
}

static const char *stat_name(uint32_t s)
{
	static const char *const names[] = {
		"extint", "nmi", "cpuid", "hlt", "io", "mmio", "rdmsr", "wrmsr", "npf", "irqwin",
		"shutdown", "hypercall", "exception", "cr", "other", "entryfail", "timeslice",
		"invd", "xsetbv", "virtinsn", "mwait", "smi", "internal",
	};

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static void print_journal(const void *buf, int vendor, unsigned int last)
{
	const struct hvlab_journal *j = buf;
	const struct hvlab_journal_entry *e = (const void *)((const char *)buf + HVLAB_JOURNAL_ENTRIES_OFFSET);
	uint64_t from = j->head > last ? j->head - last : 0;

	printf("Exit journal: %llu exits recorded%s; the last %llu, oldest first:\n",
	       (unsigned long long)j->head, j->frozen ? ", frozen by the last one" : "",
	       (unsigned long long)(j->head - from));
	for (uint64_t s = from; s < j->head; s++) {
		const struct hvlab_journal_entry *x = &e[s % HVLAB_JOURNAL_ENTRIES];

		if (x->seq != s + 1)
			continue;
		printf("  #%-8llu %-9s 0x%-5llx %-20s rip 0x%llx qual 0x%llx 0x%llx rax 0x%llx rcx 0x%llx\n",
		       (unsigned long long)x->seq, stat_name(x->stat), (unsigned long long)x->vendor_reason,
		       hvlab_vendor_reason_name(vendor, x->vendor_reason), (unsigned long long)x->rip,
		       (unsigned long long)x->qual, (unsigned long long)x->qual2,
		       (unsigned long long)x->rax, (unsigned long long)x->rcx);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: hvlab-dump [--diff] [--journal N] FILE\n"
"\n"
"Prints the VMCS (Intel) or the VMCB (AMD) of a vCPU as it stood at its last\n"
"exit, from FILE as hvlab-run saved it when the guest stopped (its dump-state\n"
"option, hvlab-run(1)): every VMCS field the CPU has, grouped as the Intel\n"
"SDM groups them (guest state, host state, execution, exit and entry\n"
"controls, exit information), or every VMCB field (control area, state save\n"
"area) with the AMD APM's names; then the last exits of the exit journal.\n"
"\n"
"  --diff          only the fields that changed since the exit before\n"
"  --journal N     how many journal exits to print (default 16, 0: none)\n"
"  -h, --help      this help\n"
"\n"
"Exit status: 0, 1 if FILE cannot be read or is not such a file, 2 for bad\n"
"usage.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "diff", no_argument, NULL, 'd' },
		{ "journal", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct hvlab_vendor_state st[2];
	static char journal[HVLAB_JOURNAL_SIZE];
	struct hvlab_statefile h;
	bool diff = false;
	unsigned long nj = 16;
	char *end;
	FILE *f;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': diff = true; break;
		case 'j':
			nj = strtoul(optarg, &end, 10);
			if (end == optarg || *end || nj > HVLAB_JOURNAL_ENTRIES) {
				fprintf(stderr, "hvlab-dump: --journal '%s': 0 to %d\n", optarg, HVLAB_JOURNAL_ENTRIES);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	f = fopen(argv[optind], "r");
	if (!f) {
		fprintf(stderr, "hvlab-dump: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	if (fread(&h, sizeof(h), 1, f) != 1 || memcmp(h.magic, HVLAB_STATEFILE_MAGIC, 8) ||
	    h.state_size != sizeof(st[0]) || h.nstates > 2 ||
	    fread(st, sizeof(st[0]), h.nstates, f) != h.nstates ||
	    (h.journal && fread(journal, sizeof(journal), 1, f) != 1)) {
		fprintf(stderr, "hvlab-dump: %s: not a file of hvlab-run --dump-state (this version)\n",
			argv[optind]);
		fclose(f);
		return 1;
	}
	fclose(f);
	if (!h.nstates) {
		printf("No VMCS/VMCB was captured (the vCPU never exited).\n");
	} else {
		const struct hvlab_vendor_state *s = &st[0], *p = NULL;
		unsigned int n;

		printf("%s at exit %llu: %s 0x%llx %s\n",
		       s->vendor == HVLAB_VENDOR_INTEL ? "VMCS" : "VMCB", (unsigned long long)s->seq,
		       s->vendor == HVLAB_VENDOR_INTEL ? "exit reason" : "exit code",
		       (unsigned long long)s->vendor_reason,
		       s->vendor_reason == ~0ull ? "(no exit: the entry was refused)" :
		       hvlab_vendor_reason_name(s->vendor, s->vendor_reason));
		if (diff) {
			if (h.nstates < 2) {
				printf("(no exit before it was captured: nothing to compare)\n");
				return 0;
			}
			p = &st[1];
			printf("changes since exit %llu (%s 0x%llx %s):\n", (unsigned long long)p->seq,
			       p->vendor == HVLAB_VENDOR_INTEL ? "exit reason" : "exit code",
			       (unsigned long long)p->vendor_reason,
			       hvlab_vendor_reason_name(p->vendor, p->vendor_reason));
		}
		n = s->vendor == HVLAB_VENDOR_INTEL ? print_vmcs(s, p) : print_vmcb(s, p);
		if (diff)
			printf("%u field%s changed\n", n, n == 1 ? "" : "s");
		if (h.journal && nj)
			print_journal(journal, s->vendor, nj);
	}
	return 0;
}
