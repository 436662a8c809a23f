// SPDX-License-Identifier: GPL-2.0
/*
 * trace.c - hvlab-run --trace and --trace-summary: one line per VM exit,
 * and a table of exit reasons at the end.
 *
 * Where the exits come from.  The module streams every exit of the VM
 * (the ones it handled itself too) over generic netlink once it is over,
 * i.e. at the next VM entry, with its neutral reason, raw reason,
 * qualification(s), RIP, RCX, where it was handled and its cycles from
 * exit to entry (uapi/hvlab.h, EXIT_EVENT).  This file sets the VM's
 * sample rate to 1, reads the stream after every RUN that returns (the
 * vCPU thread, so GET_SREGS does not wait for a running vCPU), and prints.
 * The last exit, the one that ended the guest, is never "over": it comes
 * from the exit journal instead.  The trace's line count is the module's
 * exit count for the VM, which trace_finish() checks and says.
 *
 * The instruction at RIP is read through hvlab-run's own view of guest
 * memory: RIP (plus the CS base outside 64-bit mode) translated through
 * the guest's page tables (guest_read_virt() in hvlab-run.c) with the
 * control registers as they are when the line is printed, not as they
 * were at the exit; for a guest that switches page tables between (user
 * processes) an in-kernel exit's bytes may come from the wrong mapping.
 * Disassembly: Debian's libcapstone, AT&T syntax.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <asm/svm.h>
#include <asm/vmx.h>
#include <capstone/capstone.h>

#include "libhvlab.h"
#include "hvlab_nl.h"
#include "run.h"

struct trace_stat {
	uint64_t n, n_kernel, n_user, open;
	uint64_t *cyc;			/* every closed exit's cycles, for p99 */
	size_t ncyc, cap;
	double sum;
};

struct trace {
	struct hvlab_nl *nl;
	FILE *out;
	bool lines, summary;
	const char *eol;		/* "\r" on a terminal in raw mode (the guest's console) */
	bool want[HVLAB_STAT_NR];	/* --trace=REASONS */
	uint32_t vm_id;
	int vendor;
	const struct guest *g;
	csh cs[3];			/* 16, 32, 64-bit */
	bool cs_ok;
	uint64_t received, dropped, printed;
	uint64_t last_tsc;		/* of the last event received */
	unsigned int recv_errors;	/* the socket overflowed (ENOBUFS) or failed */
	struct hvlab_sregs sr;		/* for the instruction fetch of this drain */
	bool sr_ok;
	struct accel *a;
	struct trace_stat st[HVLAB_STAT_NR];
};

/* MSRs a boot touches, by <asm/msr-index.h> name. */
static const char *msr_name(uint32_t i)
{
	static const struct { uint32_t i; const char *n; } t[] = {
		{ 0x10, "IA32_TSC" }, { 0x1b, "IA32_APIC_BASE" }, { 0x3a, "IA32_FEAT_CTL" },
		{ 0x3b, "IA32_TSC_ADJUST" }, { 0x48, "IA32_SPEC_CTRL" }, { 0x49, "IA32_PRED_CMD" },
		{ 0x8b, "IA32_UCODE_REV" }, { 0xce, "PLATFORM_INFO" }, { 0xe7, "IA32_MPERF" },
		{ 0xe8, "IA32_APERF" }, { 0xfe, "MTRRcap" }, { 0x10a, "IA32_ARCH_CAPABILITIES" },
		{ 0x174, "IA32_SYSENTER_CS" }, { 0x175, "IA32_SYSENTER_ESP" },
		{ 0x176, "IA32_SYSENTER_EIP" }, { 0x179, "IA32_MCG_CAP" }, { 0x17a, "IA32_MCG_STATUS" },
		{ 0x1a0, "IA32_MISC_ENABLE" }, { 0x1d9, "IA32_DEBUGCTL" }, { 0x277, "IA32_CR_PAT" },
		{ 0x2ff, "MTRRdefType" }, { 0x6e0, "IA32_TSC_DEADLINE" },
		{ 0xc0000080, "EFER" }, { 0xc0000081, "STAR" }, { 0xc0000082, "LSTAR" },
		{ 0xc0000083, "CSTAR" }, { 0xc0000084, "SYSCALL_MASK" }, { 0xc0000100, "FS_BASE" },
		{ 0xc0000101, "GS_BASE" }, { 0xc0000102, "KERNEL_GS_BASE" }, { 0xc0000103, "TSC_AUX" },
		{ 0xc0010015, "K7_HWCR" }, { 0xc0010114, "VM_CR" }, { 0xc0011029, "F10H_DECFG" },
	};
	size_t k;

	if (i >= 0x200 && i < 0x210)
		return i & 1 ? "IA32_MTRR_PHYSMASK" : "IA32_MTRR_PHYSBASE";
	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++)
		if (t[k].i == i)
			return t[k].n;
	return NULL;
}

static const char *const gpr[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

/* The qualification in words (SDM Vol. 3C 28.2.1; APM Vol. 2 15.9-15.25). */
static void decode_qual(const struct trace *t, const struct hvlab_nl_event *e, char *b, size_t n)
{
	uint64_t q = e->qual, r = e->vendor_reason;
	const char *m;

	b[0] = 0;
	if (e->stat == HVLAB_STAT_MSR_READ || e->stat == HVLAB_STAT_MSR_WRITE) {
		m = msr_name((uint32_t)e->rcx);
		snprintf(b, n, "msr 0x%x%s%s", (uint32_t)e->rcx, m ? " " : "", m ? m : "");
		return;
	}
	if (t->vendor == HVLAB_VENDOR_INTEL) {
		switch ((uint16_t)r) {
		case EXIT_REASON_IO_INSTRUCTION:
			snprintf(b, n, "port 0x%llx %s %llu byte%s%s%s", (unsigned long long)(q >> 16),
				 q & 8 ? "in" : "out", (unsigned long long)(q & 7) + 1, q & 7 ? "s" : "",
				 q & 16 ? " string" : "", q & 32 ? " rep" : "");
			return;
		case EXIT_REASON_CR_ACCESS: {
			static const char *const how[] = { "mov to", "mov from", "clts", "lmsw" };
			unsigned int type = (q >> 4) & 3;

			if (type < 2)
				snprintf(b, n, "%s cr%llu, register %s", how[type],
					 (unsigned long long)(q & 15), gpr[(q >> 8) & 15]);
			else
				snprintf(b, n, "%s cr0%s", how[type], type == 3 ? " (source data in bits 31:16)" : "");
			return;
		}
		case EXIT_REASON_DR_ACCESS:
			snprintf(b, n, "mov %s dr%llu, register %s", q & 16 ? "from" : "to",
				 (unsigned long long)(q & 7), gpr[(q >> 8) & 15]);
			return;
		case EXIT_REASON_EPT_VIOLATION:
			/* A read-modify-write sets both bits 0 and 1. */
			snprintf(b, n, "gpa 0x%llx %s%s%s, entry allows %s%s%s%s",
				 (unsigned long long)e->qual2, q & 4 ? "fetch" : q & 1 ? "read" : "",
				 (q & 3) == 3 ? "+" : "", q & 2 ? "write" : "",
				 q & 8 ? "r" : "-", q & 16 ? "w" : "-", q & 32 ? "x" : "-",
				 q & 128 ? (q & 256 ? ", final address" : ", during the guest's page walk") : "");
			return;
		case EXIT_REASON_EPT_MISCONFIG:
			snprintf(b, n, "gpa 0x%llx (misconfigured EPT entry)", (unsigned long long)e->qual2);
			return;
		}
	} else {
		if (r == SVM_EXIT_IOIO) {
			unsigned int size = q & 0x10 ? 1 : q & 0x20 ? 2 : 4;

			snprintf(b, n, "port 0x%llx %s %u byte%s%s%s", (unsigned long long)(q >> 16),
				 q & 1 ? "in" : "out", size, size > 1 ? "s" : "", q & 4 ? " string" : "",
				 q & 8 ? " rep" : "");
			return;
		}
		if (r == SVM_EXIT_NPF) {
			snprintf(b, n, "gpa 0x%llx %s%s%s%s%s", (unsigned long long)e->qual2,
				 q & 16 ? "fetch" : q & 2 ? "write" : "read",
				 q & 1 ? ", present" : ", not present", q & 4 ? ", user" : "",
				 q & (1ull << 32) ? ", final address" : "",
				 q & (1ull << 33) ? ", during the guest's page walk" : "");
			return;
		}
		if (r <= SVM_EXIT_WRITE_CR0 + 15) {
			/* Without decode assists (QEMU) EXITINFO1 holds no register: see the instruction. */
			snprintf(b, n, "%s cr%llu%s%s", r >= SVM_EXIT_WRITE_CR0 ? "write" : "read",
				 (unsigned long long)(r & 15), q >> 63 ? ", register " : "",
				 q >> 63 ? gpr[q & 15] : "");
			return;
		}
		if (r >= SVM_EXIT_EXCP_BASE && r < SVM_EXIT_EXCP_BASE + 32) {
			snprintf(b, n, "vector %llu, error code 0x%llx%s", (unsigned long long)(r - SVM_EXIT_EXCP_BASE),
				 (unsigned long long)q, r == SVM_EXIT_EXCP_BASE + 14 ? ", cr2 " : "");
			if (r == SVM_EXIT_EXCP_BASE + 14)
				snprintf(b + strlen(b), n - strlen(b), "0x%llx", (unsigned long long)e->qual2);
			return;
		}
	}
	if (q || e->qual2)
		snprintf(b, n, "qual 0x%llx 0x%llx", (unsigned long long)q, (unsigned long long)e->qual2);
}

/* The instruction at @rip, through the guest's page tables as they are now. */
static void disasm(struct trace *t, uint64_t rip, char *b, size_t n)
{
	uint8_t bytes[15];
	uint64_t la;
	cs_insn *insn;
	int mode;
	size_t got;

	snprintf(b, n, "?");
	if (!t->cs_ok || !t->sr_ok)
		return;
	mode = t->sr.cs.l && (t->sr.efer & (1u << 10)) ? 2 : t->sr.cs.db ? 1 : 0;
	la = mode == 2 ? rip : (t->sr.cs.base + rip) & 0xffffffffull;
	got = guest_read_virt(&t->sr, la, bytes, sizeof(bytes));
	if (!got) {
		snprintf(b, n, "(not mapped)");
		return;
	}
	if (cs_disasm(t->cs[mode], bytes, got, rip, 1, &insn) == 1) {
		snprintf(b, n, "%s%s%s", insn[0].mnemonic, insn[0].op_str[0] ? " " : "", insn[0].op_str);
		cs_free(insn, 1);
	} else {
		snprintf(b, n, "(bytes %02x %02x %02x: not an instruction)", bytes[0], bytes[1], bytes[2]);
	}
}

static void stat_add(struct trace *t, const struct hvlab_nl_event *e, bool open)
{
	struct trace_stat *s;

	if (e->stat >= HVLAB_STAT_NR)
		return;
	s = &t->st[e->stat];
	s->n++;
	if (open) {
		s->open++;
		return;
	}
	if (e->where == HVLAB_WHERE_USER)
		s->n_user++;
	else
		s->n_kernel++;
	s->sum += e->cycles;
	if (s->ncyc == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		uint64_t *c = realloc(s->cyc, cap * sizeof(*c));

		if (!c)
			return;
		s->cyc = c;
		s->cap = cap;
	}
	s->cyc[s->ncyc++] = e->cycles;
}

static void print_line(struct trace *t, const struct hvlab_nl_event *e, bool open)
{
	char q[160], ins[224], cost[48];

	t->printed++;
	stat_add(t, e, open);
	if (!t->lines || e->stat >= HVLAB_STAT_NR || !t->want[e->stat])
		return;
	decode_qual(t, e, q, sizeof(q));
	disasm(t, e->rip, ins, sizeof(ins));
	if (open)
		snprintf(cost, sizeof(cost), "user (ended the run)");
	else
		snprintf(cost, sizeof(cost), "%s %llu cyc", e->where == HVLAB_WHERE_USER ? "user" : "kernel",
			 (unsigned long long)e->cycles);
	fprintf(t->out, "exit vcpu%u %-9s %s 0x%llx %-20s rip 0x%llx %-32s %s; %s%s\n",
		e->vcpu_id, hvlab_stat_name(e->stat), t->vendor == HVLAB_VENDOR_INTEL ? "vmx" : "svm",
		(unsigned long long)e->vendor_reason, hvlab_vendor_reason_name(t->vendor, e->vendor_reason),
		(unsigned long long)e->rip, ins, q[0] ? q : "-", cost, t->eol);
}

static int on_event(const struct hvlab_nl_event *e, void *arg)
{
	struct trace *t = arg;

	if (e->vm_id != t->vm_id)
		return 0;
	t->received++;
	t->dropped = e->dropped;
	t->last_tsc = e->tsc;
	print_line(t, e, false);
	return 0;
}

/*
 * Everything the socket holds now; @wait_ms for the first batch.  The
 * control registers for the instruction fetch are read once per drain,
 * and only when there is something to print.
 */
static void drain(struct trace *t, int wait_ms)
{
	struct pollfd p = { .fd = hvlab_nl_event_fd(t->nl), .events = POLLIN };
	bool sregs = false;

	while (poll(&p, 1, wait_ms) > 0) {
		if (!sregs) {
			t->sr_ok = !hvlab_get_sregs(t->a->vcpu_fd, &t->sr);
			sregs = true;
		}
		if (hvlab_nl_recv_events(t->nl, on_event, t) < 0) {
			t->recv_errors++;
			break;
		}
		wait_ms = 0;
	}
}

static int parse_reasons(struct trace *t, const char *list)
{
	char *dup, *tok, *save = NULL;
	unsigned int i;
	int ret = 0;

	if (!list || !*list) {
		for (i = 0; i < HVLAB_STAT_NR; i++)
			t->want[i] = true;
		return 0;
	}
	dup = strdup(list);
	if (!dup)
		return -ENOMEM;
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < HVLAB_STAT_NR; i++)
			if (!strcmp(tok, hvlab_stat_name(i)))
				break;
		if (i == HVLAB_STAT_NR) {
			fprintf(stderr, "hvlab-run: --trace: unknown reason \"%s\"; known:", tok);
			for (i = 0; i < HVLAB_STAT_NR; i++)
				fprintf(stderr, " %s", hvlab_stat_name(i));
			fprintf(stderr, "\n");
			ret = -EINVAL;
			break;
		}
		t->want[i] = true;
	}
	free(dup);
	return ret;
}

int trace_check_reasons(const char *list)
{
	struct trace t;

	memset(&t, 0, sizeof(t));
	return parse_reasons(&t, list);
}

int trace_open(struct trace **out, struct accel *a, const struct guest *g, const char *reasons,
	       const char *file, bool lines, bool summary)
{
	struct trace *t = calloc(1, sizeof(*t));
	int ret, bufsize = 32 << 20, fd, i;
	char tel = '1';

	if (!t)
		return -ENOMEM;
	t->a = a;
	t->g = g;
	t->lines = lines;
	t->summary = summary;
	t->out = stderr;
	ret = parse_reasons(t, reasons);
	if (ret)
		goto err_free;
	/* The stream, histograms and journal exist only with the module's telemetry on. */
	fd = open("/sys/module/hvlab/parameters/telemetry", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &tel, 1) != 1)
			tel = '1';
		close(fd);
	}
	if (tel == '0' || tel == 'N') {
		fprintf(stderr, "hvlab-run: --trace needs the module's telemetry (/sys/module/hvlab/parameters/telemetry is off)\n");
		ret = -ENODATA;
		goto err_free;
	}
	if (file) {
		t->out = fopen(file, "w");
		if (!t->out) {
			ret = -errno;
			fprintf(stderr, "hvlab-run: --trace-file %s: %s\n", file, strerror(errno));
			goto err_free;
		}
	}
	setvbuf(t->out, NULL, _IOLBF, 0);
	t->eol = isatty(fileno(t->out)) ? "\r" : "";
	t->vendor = hvlab_check_cap(a->sys_fd, HVLAB_CAP_VENDOR);
	ret = hvlab_get_vm_id(a->vm_fd);
	if (ret <= 0) {
		fprintf(stderr, "hvlab-run: HVLAB_GET_VM_ID: %s\n", strerror(-ret));
		goto err_close;
	}
	t->vm_id = ret;
	ret = hvlab_nl_open(&t->nl);
	if (!ret)
		ret = hvlab_nl_subscribe(t->nl);
	if (ret) {
		fprintf(stderr, "hvlab-run: --trace: the exit stream (netlink family hvlab, group exits): %s%s\n",
			strerror(-ret), ret == -EPERM ? " (needs CAP_SYS_ADMIN)" : "");
		goto err_nl;
	}
	/*
	 * A Linux boot makes tens of thousands of in-kernel exits between two
	 * returns of RUN: room for them in the socket (FORCE: root may exceed
	 * rmem_max), or the kernel drops messages.
	 */
	fd = hvlab_nl_event_fd(t->nl);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof(bufsize)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	ret = hvlab_nl_set_events(t->nl, t->vm_id, 1);
	if (ret) {
		fprintf(stderr, "hvlab-run: --trace: SET_EVENTS: %s\n", strerror(-ret));
		goto err_nl;
	}
	t->cs_ok = true;
	for (i = 0; i < 3; i++) {
		static const cs_mode modes[3] = { CS_MODE_16, CS_MODE_32, CS_MODE_64 };

		if (cs_open(CS_ARCH_X86, modes[i], &t->cs[i]) != CS_ERR_OK) {
			t->cs_ok = false;
			break;
		}
		cs_option(t->cs[i], CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
	}
	*out = t;
	return 0;

err_nl:
	hvlab_nl_close(t->nl);
err_close:
	if (t->out != stderr)
		fclose(t->out);
err_free:
	free(t);
	return ret ? ret : -EIO;
}

void trace_after_run(struct trace *t)
{
	if (t)
		drain(t, 0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void print_summary(struct trace *t)
{
	uint64_t total = 0;
	unsigned int i;

	for (i = 0; i < HVLAB_STAT_NR; i++)
		total += t->st[i].n;
	fprintf(t->out, "trace summary: %llu exits (cycles: host TSC from the exit to the next entry)\n",
		(unsigned long long)total);
	fprintf(t->out, "  %-10s %10s %7s %12s %12s %10s %10s\n",
		"reason", "count", "share", "mean cyc", "p99 cyc", "kernel", "user");
	for (i = 0; i < HVLAB_STAT_NR; i++) {
		struct trace_stat *s = &t->st[i];
		uint64_t p99 = 0;

		if (!s->n)
			continue;
		if (s->ncyc) {
			qsort(s->cyc, s->ncyc, sizeof(*s->cyc), cmp_u64);
			p99 = s->cyc[(s->ncyc * 99 + 99) / 100 - 1];
		}
		fprintf(t->out, "  %-10s %10llu %6.2f%% %12.0f %12llu %10llu %10llu\n",
			hvlab_stat_name(i), (unsigned long long)s->n, total ? 100.0 * s->n / total : 0,
			s->ncyc ? s->sum / s->ncyc : 0, (unsigned long long)p99,
			(unsigned long long)s->n_kernel, (unsigned long long)(s->n_user + s->open));
	}
}

/*
 * The guest stopped: wait for the stream to bring every exit but the
 * open last one(s), print those from the journal, say whether the count
 * matches the module's, print the summary.
 */
void trace_finish(struct trace *t)
{
	const struct hvlab_journal *j = NULL;
	struct hvlab_exit_stats es;
	uint64_t exits = 0, seq;
	int i;

	if (!t)
		return;
	if (!hvlab_get_exit_stats(t->a->vcpu_fd, &es))
		exits = es.exits;
	/* The worker sends what the ring holds once RUN returned: give it time. */
	for (i = 0; i < 50 && t->received + 1 < exits; i++)
		drain(t, 100);
	drain(t, 0);
	t->sr_ok = !hvlab_get_sregs(t->a->vcpu_fd, &t->sr);
	if (t->received < exits && !hvlab_map_journal(t->a->vcpu_fd, &j)) {
		const struct hvlab_journal_entry *e = (const void *)((const char *)j + HVLAB_JOURNAL_ENTRIES_OFFSET);

		/*
		 * After the ones the stream brought or lost: lost ones stay
		 * missing.  The journal's entry before must be the last event
		 * (the same exit TSC), or the socket lost some unseen.
		 */
		seq = t->received + t->dropped;
		if (seq && seq + HVLAB_JOURNAL_ENTRIES > j->head && e[(seq - 1) % j->nent].seq == seq &&
		    e[(seq - 1) % j->nent].tsc != t->last_tsc)
			t->recv_errors++;
		for (seq++; !t->recv_errors && seq <= exits && seq <= j->head; seq++) {
			const struct hvlab_journal_entry *x = &e[(seq - 1) % j->nent];
			struct hvlab_nl_event ev = {
				.vm_id = t->vm_id, .stat = x->stat, .where = HVLAB_WHERE_USER,
				.vendor_reason = x->vendor_reason, .rip = x->rip, .qual = x->qual,
				.qual2 = x->qual2, .rcx = x->rcx,
			};

			if (x->seq != seq || seq + HVLAB_JOURNAL_ENTRIES <= j->head)
				continue;
			print_line(t, &ev, true);
		}
		hvlab_unmap_journal(j);
	}
	fprintf(t->out, "trace: %llu exits traced, the module counted %llu%s",
		(unsigned long long)t->printed, (unsigned long long)exits,
		t->printed == exits ? "" : " (MISMATCH)");
	if (t->dropped)
		fprintf(t->out, "; %llu events lost in the module (the stream fell behind)",
			(unsigned long long)t->dropped);
	if (t->recv_errors)
		fprintf(t->out, "; events lost in the socket (%u receive errors or a gap)", t->recv_errors);
	fprintf(t->out, "\n");
	if (t->summary)
		print_summary(t);
	hvlab_nl_set_events(t->nl, t->vm_id, 0);
	hvlab_nl_close(t->nl);
	for (i = 0; i < 3 && t->cs_ok; i++)
		cs_close(&t->cs[i]);
	for (i = 0; i < HVLAB_STAT_NR; i++)
		free(t->st[i].cyc);
	if (t->out != stderr)
		fclose(t->out);
	free(t);
}
