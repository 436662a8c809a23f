// SPDX-License-Identifier: GPL-2.0
/*
 * hvlab-bench - exit-cost microbenchmarks, the same guest code and the same
 * userspace loop on hvlab (/dev/hvlab) and on KVM (/dev/kvm), so that the
 * only difference is the hypervisor.
 *
 * The guest is a few bytes of 16-bit code that reads the TSC, runs one
 * exiting instruction N times, reads the TSC again and reports the delta
 * through two port writes.  Under QEMU with -icount shift=0 the guest TSC
 * advances one per executed instruction, so TSC/N is the number of
 * instructions of one exit round trip (guest loop included, a handful);
 * elsewhere it is TSC cycles.  The wall time of the whole run (as the
 * machine, emulated or not, sees it) divided by N is printed too.
 *
 *   hvlab-bench [-n N] [-r R] [-a hvlab|kvm|both] [-t] [-s] [-j FILE] [BENCH...]
 *   BENCH: cpuid (handled in the kernel), cpuid-user (routed to userspace,
 *   hvlab only: KVM has no such exit), vmcall (VMCALL on Intel, VMMCALL
 *   on AMD; kernel), rdmsr (kernel), pio-kernel (OUT to a port handled in
 *   the kernel: hvlab's port latch, KVM's ioeventfd), pio (OUT, userspace),
 *   mmio (store to an address with no memory, userspace), hlt (userspace
 *   wakes the guest by calling RUN again), npf (first touch of a page:
 *   nested page fault, the page pinned and mapped in the kernel; at most
 *   NPF_MAX pages; the host allocates and zeroes each page inside the
 *   exit), npf-warm (the same with every page already faulted in by
 *   userspace: only the hypervisor's own nested-fault work is timed)
 *   The local APIC rows run two vCPUs with an in-kernel APIC on each side
 *   (the guest at hvb_apic_start): eoi, timer (TSC deadline to delivery),
 *   ipi (round trip), hlt-wake (IPI to a halted vCPU until its handler
 *   ran); their numbers are per operation, not per exit.
 *   -t also measures hvlab with the module parameter telemetry=0, for the
 *   cost of the exit telemetry per exit.
 *   -s also measures hvlab with the netlink event stream at sampling 1:
 *   once with nobody listening (what the stream costs when left on) and
 *   once with a thread of this process listening and draining every
 *   event (what streaming costs; on one CPU the listener's work lands in
 *   the guest's count too, as it should).
 *   -r R runs every measurement R times: the table gives the mean and the
 *   standard deviation, -j FILE writes every run as JSON as well.
 *
 * Prints a table: per exit, TSC ticks (instructions under -icount) on each
 * hypervisor and the hvlab/KVM ratio.  userspace/tools/hvlab-bench-plot
 * turns that table into a PNG chart.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>

#include "libhvlab.h"
#include "hvlab_nl.h"

#define MEM_SIZE	0xf0000		/* RAM below 0xf0000; 0xf0000 is MMIO */
#define CODE		0x1000
#define PORT_LO		0xe4		/* guest reports TSC delta low, high */
#define PORT_HI		0xe5
#define PORT_NOISE	0x80
#define PORT_KERNEL	0x90		/* pio-kernel: hvlab latch / KVM ioeventfd */
#define NPF_MAX		200		/* pages 0x10000.. still below MEM_SIZE */
#define TELEMETRY_PARAM	"/sys/module/hvlab/parameters/telemetry"
#define MAX_REPEAT	100

/* ---- the local APIC benchmarks (issue 15): two vCPUs, x2APIC, real mode */

/*
 * Guest memory the APIC guests share with userspace and with each other
 * (below CODE, above the real-mode IVT at 0).
 */
#define APIC_FLAG	0x500	/* BSP: interrupts its handler took */
#define APIC_AP_READY	0x504	/* AP: its APIC is on */
#define APIC_AP_COUNT	0x508	/* AP: interrupts its handler took */
#define APIC_MODE	0x50c	/* which loop (enum apic_mode), from userspace */
#define APIC_N		0x510	/* iterations, from userspace */
#define VEC_BSP		0x40	/* the timer's and the reply IPI's vector */
#define VEC_AP		0x41	/* the IPI the BSP sends the AP */
#define PORT_DONE	0xe6	/* the APIC guests' end (HLT stays in the kernel there) */

/* struct bench's .apic: which loop the APIC guest runs (0: not an APIC bench) */
#define APIC_EOI	1
#define APIC_TIMER	2
#define APIC_IPI	3	/* this one and the next need the AP */
#define APIC_HLT_WAKE	4

#define S_(x) #x
#define S(x) S_(x)

/*
 * The guest, 16-bit real mode, the same bytes on both hypervisors.  Both
 * vCPUs switch their APIC to x2APIC mode (IA32_APIC_BASE EN|EXTD, SDM
 * Vol. 3A 11.12.1) and enable it in SVR (11.4.7.2), so every APIC access
 * is one WRMSR: ICR 830h (11.12.9), EOI 80Bh, LVT timer 832h,
 * IA32_TSC_DEADLINE 6E0h (11.5.4.1).  Neither hypervisor's AMD side has
 * AVIC here, so each of those WRMSRs is one intercepted exit on both.
 *
 * Whoever waits for an interrupt waits with IF=1 in HLT (cli; check;
 * sti; hlt: the STI shadow keeps the check and the HLT atomic, SDM Vol.
 * 2B STI), never in a short sti/cli window.  The BSP's loops:
 *   eoi       N EOI writes with no vector in service: the EOI exit itself
 *   timer     deadline = TSC now (already due: "fires at once", 11.5.4.1),
 *             wait for the interrupt; the handler EOIs
 *   ipi       fixed IPI to the AP, which EOIs and sends one back; wait for it
 *   hlt-wake  fixed IPI to the AP halted in HLT, whose handler EOIs and
 *             counts; spin (IF=1) until it counted
 * The AP (hvb_apic_ap) only sets its APIC up and halts with IF=1.
 */
asm(".pushsection .rodata\n"
    ".code16\n"
    ".globl hvb_apic_start, hvb_apic_ap, hvb_apic_bsp_isr, hvb_apic_ap_isr, hvb_apic_end\n"
    "hvb_apic_start:\n"
    "	cli\n"
    "	xor %ax, %ax\n"
    "	mov %ax, %ds\n"
    "	mov %ax, %ss\n"
    "	mov $0x8000, %sp\n"
    "	mov $0x1b, %ecx\n"			/* IA32_APIC_BASE: EN, EXTD, BSP */
    "	mov $0xfee00d00, %eax\n"
    "	xor %edx, %edx\n"
    "	wrmsr\n"
    "	mov $0x80f, %ecx\n"			/* SVR: enabled, spurious vector FFh */
    "	mov $0x1ff, %eax\n"
    "	wrmsr\n"
    "	mov " S(APIC_MODE) ", %bx\n"
    "	cmp $" S(APIC_TIMER) ", %bx\n"
    "	jne 1f\n"
    "	mov $0x832, %ecx\n"			/* LVT timer: TSC-deadline mode (10b) */
    "	mov $(0x40000 | " S(VEC_BSP) "), %eax\n"
    "	wrmsr\n"
    "1:	cmp $" S(APIC_IPI) ", %bx\n"
    "	jb 2f\n"
    "3:	pause\n"				/* the AP's APIC must be on first */
    "	cmpl $0, " S(APIC_AP_READY) "\n"
    "	je 3b\n"
    "2:	mov " S(APIC_N) ", %ebp\n"
    "	mov %bx, %di\n"
    "	xor %ebx, %ebx\n"			/* interrupts expected so far */
    "	rdtsc\n"
    "	mov %eax, %esi\n"
    "	push %edx\n"
    "	cmp $" S(APIC_TIMER) ", %di\n"
    "	je .Lhvb_timer\n"
    "	cmp $" S(APIC_IPI) ", %di\n"
    "	je .Lhvb_ipi\n"
    "	cmp $" S(APIC_HLT_WAKE) ", %di\n"
    "	je .Lhvb_wake\n"
    ".Lhvb_eoi:\n"
    "	mov $0x80b, %ecx\n"
    "	xor %eax, %eax\n"
    "	xor %edx, %edx\n"
    "	wrmsr\n"
    "	dec %ebp\n"
    "	jnz .Lhvb_eoi\n"
    "	jmp .Lhvb_end\n"
    ".Lhvb_timer:\n"
    "	inc %ebx\n"
    "	sti\n"
    "	rdtsc\n"
    "	mov $0x6e0, %ecx\n"
    "	wrmsr\n"
    "	call .Lhvb_wait\n"
    "	dec %ebp\n"
    "	jnz .Lhvb_timer\n"
    "	jmp .Lhvb_end\n"
    ".Lhvb_ipi:\n"
    "	inc %ebx\n"
    "	sti\n"
    "	mov $0x830, %ecx\n"			/* ICR: fixed, physical, to APIC ID 1 */
    "	mov $" S(VEC_AP) ", %eax\n"
    "	mov $1, %edx\n"
    "	wrmsr\n"
    "	call .Lhvb_wait\n"
    "	dec %ebp\n"
    "	jnz .Lhvb_ipi\n"
    "	jmp .Lhvb_end\n"
    ".Lhvb_wake:\n"
    "	inc %ebx\n"
    "	sti\n"
    "	mov $0x830, %ecx\n"
    "	mov $" S(VEC_AP) ", %eax\n"
    "	mov $1, %edx\n"
    "	wrmsr\n"
    "4:	pause\n"
    "	cmp " S(APIC_AP_COUNT) ", %ebx\n"
    "	jne 4b\n"
    "	dec %ebp\n"
    "	jnz .Lhvb_wake\n"
    ".Lhvb_end:\n"
    "	cli\n"
    "	rdtsc\n"
    "	pop %edi\n"
    "	sub %esi, %eax\n"
    "	sbb %edi, %edx\n"
    "	out %eax, $" S(PORT_LO) "\n"
    "	mov %edx, %eax\n"
    "	out %eax, $" S(PORT_HI) "\n"
    "	out %al, $" S(PORT_DONE) "\n"
    "5:	hlt\n"
    "	jmp 5b\n"
    /* until the handler has counted %ebx interrupts: halted, IF=1 */
    ".Lhvb_wait:\n"
    "	cli\n"
    "	cmp " S(APIC_FLAG) ", %ebx\n"
    "	je 6f\n"
    "	sti\n"
    "	hlt\n"
    "	jmp .Lhvb_wait\n"
    "6:	ret\n"
    "hvb_apic_bsp_isr:\n"
    "	pushal\n"
    "	mov $0x80b, %ecx\n"			/* EOI */
    "	xor %eax, %eax\n"
    "	xor %edx, %edx\n"
    "	wrmsr\n"
    "	incl " S(APIC_FLAG) "\n"
    "	popal\n"
    "	iret\n"
    "hvb_apic_ap:\n"
    "	cli\n"
    "	xor %ax, %ax\n"
    "	mov %ax, %ds\n"
    "	mov %ax, %ss\n"
    "	mov $0x7000, %sp\n"
    "	mov $0x1b, %ecx\n"			/* EN, EXTD */
    "	mov $0xfee00c00, %eax\n"
    "	xor %edx, %edx\n"
    "	wrmsr\n"
    "	mov $0x80f, %ecx\n"
    "	mov $0x1ff, %eax\n"
    "	wrmsr\n"
    "	movl $1, " S(APIC_AP_READY) "\n"
    "	sti\n"
    "7:	hlt\n"
    "	jmp 7b\n"
    "hvb_apic_ap_isr:\n"
    "	pushal\n"
    "	mov $0x80b, %ecx\n"
    "	xor %eax, %eax\n"
    "	xor %edx, %edx\n"
    "	wrmsr\n"
    "	incl " S(APIC_AP_COUNT) "\n"
    "	cmpw $" S(APIC_IPI) ", " S(APIC_MODE) "\n"
    "	jne 8f\n"
    "	mov $0x830, %ecx\n"			/* the reply: to APIC ID 0 */
    "	mov $" S(VEC_BSP) ", %eax\n"
    "	wrmsr\n"
    "8:	popal\n"
    "	iret\n"
    "hvb_apic_end:\n"
    ".code64\n"
    ".popsection\n");

extern const unsigned char hvb_apic_start[], hvb_apic_ap[], hvb_apic_bsp_isr[],
	hvb_apic_ap_isr[], hvb_apic_end[];

/* -s: how hvlab's VM streams its exits in the current measurement. */
enum stream_mode { STREAM_OFF, STREAM_UNHEARD, STREAM_HEARD };
static enum stream_mode stream_mode;
static struct hvlab_nl *stream_ctl;	/* SET_EVENTS */

enum setup_kind { SETUP_NONE, SETUP_CPUID_USER, SETUP_PIO_KERNEL };

struct bench {
	const char *name;
	const char *where;
	unsigned char body[16];
	unsigned int body_len;
	unsigned char setup[16];
	unsigned int setup_len;
	enum setup_kind kind;
	int hvlab_only;
	int vendor_body;	/* vmcall: VMCALL (Intel) or VMMCALL (AMD) */
	int prefault;		/* userspace touches all guest RAM first */
	uint32_t max_n;
	int apic;		/* APIC_*: a local APIC VM running that loop */
};

static const struct bench benches[] = {
	{ .name = "cpuid", .where = "kernel",
	  .body = { 0x66, 0x31, 0xc0, 0x0f, 0xa2 }, .body_len = 5 },	/* xor eax,eax; cpuid */
	{ .name = "cpuid-user", .where = "userspace", .kind = SETUP_CPUID_USER, .hvlab_only = 1,
	  .body = { 0x66, 0x31, 0xc0, 0x0f, 0xa2 }, .body_len = 5 },
	{ .name = "vmcall", .where = "kernel", .vendor_body = 1,
	  .body = { 0x66, 0x31, 0xc0, 0x0f, 0x01, 0xc1 }, .body_len = 6 },	/* xor eax,eax; vmcall */
	{ .name = "rdmsr", .where = "kernel",
	  .setup = { 0x66, 0xb9, 0x77, 0x02, 0x00, 0x00 }, .setup_len = 6,	/* mov ecx, 0x277 (PAT) */
	  .body = { 0x0f, 0x32 }, .body_len = 2 },			/* rdmsr */
	{ .name = "pio-kernel", .where = "kernel", .kind = SETUP_PIO_KERNEL,
	  .body = { 0xe6, PORT_KERNEL }, .body_len = 2 },		/* out 0x90, al */
	{ .name = "pio", .where = "userspace",
	  .body = { 0xe6, PORT_NOISE }, .body_len = 2 },		/* out 0x80, al */
	{ .name = "mmio", .where = "userspace",
	  .setup = { 0xb8, 0x00, 0xf0, 0x8e, 0xd8 }, .setup_len = 5,	/* mov ax,0xf000; mov ds,ax */
	  .body = { 0xa2, 0x00, 0x00 }, .body_len = 3 },		/* mov [0], al */
	{ .name = "hlt", .where = "userspace",
	  .body = { 0xf4 }, .body_len = 1 },				/* hlt */
	{ .name = "npf", .where = "kernel", .max_n = NPF_MAX,
	  .setup = { 0xb8, 0x00, 0x10, 0x8e, 0xd8 }, .setup_len = 5,	/* mov ax,0x1000; mov ds,ax */
	  /* mov [0],al; mov ax,ds; add ax,0x100; mov ds,ax: the next page each time */
	  .body = { 0xa2, 0x00, 0x00, 0x8c, 0xd8, 0x05, 0x00, 0x01, 0x8e, 0xd8 }, .body_len = 10 },
	{ .name = "npf-warm", .where = "kernel", .max_n = NPF_MAX, .prefault = 1,
	  .setup = { 0xb8, 0x00, 0x10, 0x8e, 0xd8 }, .setup_len = 5,
	  .body = { 0xa2, 0x00, 0x00, 0x8c, 0xd8, 0x05, 0x00, 0x01, 0x8e, 0xd8 }, .body_len = 10 },
	{ .name = "eoi", .where = "kernel", .apic = APIC_EOI },
	{ .name = "timer", .where = "kernel", .apic = APIC_TIMER },
	{ .name = "ipi", .where = "kernel", .apic = APIC_IPI },
	{ .name = "hlt-wake", .where = "kernel", .apic = APIC_HLT_WAKE },
};

/* AMD's hypercall instruction is VMMCALL (0F 01 D9), Intel's VMCALL (0F 01 C1). */
static int cpu_is_amd(void)
{
	unsigned int a, b, c, d;

	asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	return b == 0x68747541;		/* "Auth"enticAMD */
}

/*
 * mov ebp, N; SETUP; rdtsc; mov esi,eax; mov edi,edx;
 * loop: BODY; dec ebp; jnz loop;
 * rdtsc; sub eax,esi; sbb edx,edi; out 0xe4,eax; mov eax,edx; out 0xe5,eax; hlt; jmp $
 */
static unsigned int build_guest(unsigned char *p, const struct bench *b, uint32_t n)
{
	unsigned int i = 0, loop;

	p[i++] = 0x66; p[i++] = 0xbd; memcpy(&p[i], &n, 4); i += 4;
	memcpy(&p[i], b->setup, b->setup_len); i += b->setup_len;
	p[i++] = 0x0f; p[i++] = 0x31;
	p[i++] = 0x66; p[i++] = 0x89; p[i++] = 0xc6;
	p[i++] = 0x66; p[i++] = 0x89; p[i++] = 0xd7;
	loop = i;
	memcpy(&p[i], b->body, b->body_len);
	if (b->vendor_body && cpu_is_amd())
		p[i + b->body_len - 1] = 0xd9;		/* VMMCALL */
	i += b->body_len;
	p[i++] = 0x66; p[i++] = 0x4d;
	p[i++] = 0x75; p[i] = (unsigned char)(loop - (i + 1)); i++;
	p[i++] = 0x0f; p[i++] = 0x31;
	p[i++] = 0x66; p[i++] = 0x29; p[i++] = 0xf0;
	p[i++] = 0x66; p[i++] = 0x19; p[i++] = 0xfa;
	p[i++] = 0x66; p[i++] = 0xe7; p[i++] = PORT_LO;
	p[i++] = 0x66; p[i++] = 0x89; p[i++] = 0xd0;
	p[i++] = 0x66; p[i++] = 0xe7; p[i++] = PORT_HI;
	p[i++] = 0xf4;
	p[i++] = 0xeb; p[i++] = 0xfe;
	return i;
}

/*
 * The APIC guest: the code at CODE, real-mode IVT entries (segment 0) for
 * the two handlers, the loop and the count.  The AP starts at CODE + ap.
 */
static void build_apic_guest(unsigned char *mem, const struct bench *b, uint32_t n)
{
	uint16_t bsp_isr = CODE + (hvb_apic_bsp_isr - hvb_apic_start);
	uint16_t ap_isr = CODE + (hvb_apic_ap_isr - hvb_apic_start);
	uint32_t mode = b->apic;

	memcpy(mem + CODE, hvb_apic_start, hvb_apic_end - hvb_apic_start);
	memset(mem + VEC_BSP * 4, 0, 4);
	memcpy(mem + VEC_BSP * 4, &bsp_isr, 2);
	memset(mem + VEC_AP * 4, 0, 4);
	memcpy(mem + VEC_AP * 4, &ap_isr, 2);
	memcpy(mem + APIC_MODE, &mode, 4);
	memcpy(mem + APIC_N, &n, 4);
}

static uint64_t apic_ap_entry(void)
{
	return CODE + (hvb_apic_ap - hvb_apic_start);
}

/* What the loop needs from a hypervisor: its answer to "why did RUN return". */
enum exit_kind { EX_PIO_OUT, EX_MMIO, EX_HLT, EX_CPUID, EX_OTHER };

struct vmm {
	const char *name;
	int sys, vm, vcpu, efd;
	void *run;
	size_t run_size;
	int vcpu1;		/* the APIC benches' AP (vCPU 1), or -1 */
	void *run1;
	int (*run_once)(struct vmm *v, enum exit_kind *kind, unsigned int *port, uint32_t *val);
};

static unsigned char *guest_mem(void)
{
	unsigned char *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return mem == MAP_FAILED ? NULL : mem;
}

/* ---- hvlab */

static int hv_run_once(struct vmm *v, enum exit_kind *kind, unsigned int *port, uint32_t *val)
{
	struct hvlab_run *run = v->run;
	int ret = hvlab_run(v->vcpu);

	if (ret)
		return ret;
	*kind = EX_OTHER;
	if (run->exit_reason == HVLAB_EXIT_IO && run->io.direction == HVLAB_IO_OUT) {
		*kind = EX_PIO_OUT;
		*port = run->io.port;
		*val = 0;
		memcpy(val, (char *)run + run->io.data_offset, run->io.size);
	} else if (run->exit_reason == HVLAB_EXIT_MMIO) {
		*kind = EX_MMIO;
	} else if (run->exit_reason == HVLAB_EXIT_HLT) {
		*kind = EX_HLT;
	} else if (run->exit_reason == HVLAB_EXIT_CPUID) {
		*kind = EX_CPUID;	/* the module's answer stands */
	}
	return 0;
}

/*
 * A vCPU from its reset state to real mode at CS:IP 0:@rip, where the
 * guest's code sits (reset leaves CS at F000h, base FFFF0000h).  The rest
 * of the reset state stays.  0 or -errno (a GET's failure too: writing
 * back a state that was never read would be garbage).
 */
static int hv_real_mode_at(int vcpu, uint64_t rip)
{
	struct hvlab_sregs sregs;
	struct hvlab_regs regs;
	int ret;

	ret = hvlab_get_sregs(vcpu, &sregs);
	if (ret)
		return ret;
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	ret = hvlab_set_sregs(vcpu, &sregs);
	if (ret)
		return ret;
	ret = hvlab_get_regs(vcpu, &regs);
	if (ret)
		return ret;
	regs.rip = rip;
	return hvlab_set_regs(vcpu, &regs);
}

/* vCPU 1 of an APIC bench: runnable at once (no INIT/SIPI), real mode at the AP's code. */
static int hv_setup_ap(struct vmm *v, int size)
{
	struct hvlab_mp_state mp = { .mp_state = HVLAB_MP_RUNNABLE };
	int ret;

	v->vcpu1 = hvlab_create_vcpu(v->vm, 1);
	if (v->vcpu1 < 0)
		return v->vcpu1;
	ret = hvlab_map_run(v->vcpu1, size, (struct hvlab_run **)&v->run1);
	if (ret)
		return ret;
	ret = hvlab_set_mp_state(v->vcpu1, &mp);
	if (ret)
		return ret;
	return hv_real_mode_at(v->vcpu1, apic_ap_entry());
}

static int hv_setup(struct vmm *v, unsigned char *mem, const struct bench *b)
{
	struct hvlab_memory_region r = { .memory_size = MEM_SIZE,
					 .userspace_addr = (unsigned long)mem };
	int size, ret;

	v->sys = hvlab_open();
	if (v->sys < 0)
		return v->sys;
	v->vm = hvlab_create_vm(v->sys, b->apic ? HVLAB_VM_LAPIC : 0);
	if (v->vm < 0)
		return v->vm;
	if (stream_mode != STREAM_OFF) {
		int id = hvlab_get_vm_id(v->vm);

		if (id < 0)
			return id;
		ret = hvlab_nl_set_events(stream_ctl, id, 1);
		if (ret)
			return ret;
	}
	ret = hvlab_set_memory_region(v->vm, &r);
	if (ret)
		return ret;
	v->vcpu = hvlab_create_vcpu(v->vm, 0);
	if (v->vcpu < 0)
		return v->vcpu;
	size = hvlab_vcpu_mmap_size(v->sys);
	if (size < 0)
		return size;
	v->run_size = size;
	ret = hvlab_map_run(v->vcpu, size, (struct hvlab_run **)&v->run);
	if (ret)
		return ret;
	ret = hv_real_mode_at(v->vcpu, CODE);
	if (ret)
		return ret;
	v->run_once = hv_run_once;
	if (b->kind != SETUP_NONE) {
		struct hvlab_exit_route r = { 0 };

		if (b->kind == SETUP_CPUID_USER) {
			r.route_class = HVLAB_ROUTE_CPUID;
			r.action = HVLAB_ROUTE_TO_USER;
		} else {
			r.route_class = HVLAB_ROUTE_IO;
			r.action = HVLAB_ROUTE_TO_KERNEL;
			r.first = r.last = PORT_KERNEL;
		}
		ret = hvlab_set_exit_route(v->vcpu, &r);
		if (ret)
			return ret;
	}
	return b->apic >= APIC_IPI ? hv_setup_ap(v, size) : 0;
}

/* ---- KVM (the reference) */

static int kvm_run_once(struct vmm *v, enum exit_kind *kind, unsigned int *port, uint32_t *val)
{
	struct kvm_run *run = v->run;

	if (ioctl(v->vcpu, KVM_RUN, 0))
		return -errno;
	*kind = EX_OTHER;
	if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT) {
		*kind = EX_PIO_OUT;
		*port = run->io.port;
		*val = 0;
		memcpy(val, (char *)run + run->io.data_offset, run->io.size);
	} else if (run->exit_reason == KVM_EXIT_MMIO) {
		*kind = EX_MMIO;
	} else if (run->exit_reason == KVM_EXIT_HLT) {
		*kind = EX_HLT;
	}
	return 0;
}

/*
 * The APIC benches' CPUID on KVM: what KVM supports, with x2APIC (KVM
 * emulates it whatever the host has) and TSC-deadline (KVM emulates the
 * timer mode; KVM_CAP_TSC_DEADLINE_TIMER tells VMMs to set the bit, as
 * QEMU does), which hvlab's APIC VMs show by default.  KVM gates the
 * x2APIC switch and the timer mode on these bits of the guest's CPUID.
 */
static int kvm_apic_cpuid(struct vmm *v, int vcpu)
{
	struct kvm_cpuid2 *c;
	unsigned int i;
	int ret = 0;

	c = calloc(1, sizeof(*c) + 256 * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = 256;
	if (ioctl(v->sys, KVM_GET_SUPPORTED_CPUID, c)) {
		ret = -errno;
		goto out_free;
	}
	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			c->entries[i].ecx |= 1u << 21 | 1u << 24;
	if (ioctl(vcpu, KVM_SET_CPUID2, c))
		ret = -errno;
out_free:
	free(c);
	return ret;
}

/* hv_real_mode_at() on KVM: real mode at 0:@rip, the other registers zero. */
static int kvm_real_mode_at(int vcpu, uint64_t rip)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs))
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rip = rip;
	regs.rflags = 2;	/* bit 1 is always set */
	return ioctl(vcpu, KVM_SET_REGS, &regs) ? -errno : 0;
}

/* KVM's AP: runnable at once, like hvlab's (KVM would wait for INIT/SIPI). */
static int kvm_setup_ap(struct vmm *v)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	int ret;

	v->vcpu1 = ioctl(v->vm, KVM_CREATE_VCPU, 1);
	if (v->vcpu1 < 0)
		return -errno;
	v->run1 = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu1, 0);
	if (v->run1 == MAP_FAILED) {
		v->run1 = NULL;
		return -errno;
	}
	ret = kvm_apic_cpuid(v, v->vcpu1);
	if (ret)
		return ret;
	if (ioctl(v->vcpu1, KVM_SET_MP_STATE, &mp))
		return -errno;
	return kvm_real_mode_at(v->vcpu1, apic_ap_entry());
}

static int kvm_setup(struct vmm *v, unsigned char *mem, const struct bench *b)
{
	struct kvm_userspace_memory_region r = { .memory_size = MEM_SIZE,
						 .userspace_addr = (unsigned long)mem };
	int size, ret;

	v->sys = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->sys < 0)
		return -errno;
	v->vm = ioctl(v->sys, KVM_CREATE_VM, 0);
	if (v->vm < 0 || ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &r))
		return -errno;
	if (b->kind == SETUP_PIO_KERNEL) {
		/* An OUT to an ioeventfd port is finished in KVM: no exit to us. */
		struct kvm_ioeventfd io = { .addr = PORT_KERNEL, .len = 1,
					    .flags = KVM_IOEVENTFD_FLAG_PIO };

		v->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		io.fd = v->efd;
		if (v->efd < 0 || ioctl(v->vm, KVM_IOEVENTFD, &io))
			return -errno;
	}
	if (b->apic) {
		/* KVM's in-kernel local APICs, the board in userspace: hvlab's model */
		struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args[0] = 24 };

		if (ioctl(v->vm, KVM_ENABLE_CAP, &cap))
			return -errno;
	}
	v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
	size = ioctl(v->sys, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (v->vcpu < 0 || size < 0)
		return -errno;
	v->run_size = size;
	v->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return -errno;
	}
	v->run_once = kvm_run_once;
	ret = kvm_real_mode_at(v->vcpu, CODE);
	if (ret)
		return ret;
	if (b->apic) {
		ret = kvm_apic_cpuid(v, v->vcpu);
		if (ret)
			return ret;
	}
	return b->apic >= APIC_IPI ? kvm_setup_ap(v) : 0;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * Everything goes, so the other hypervisor can have VT-x/SVM next: hvlab
 * and KVM each hold it while they have a VM.
 */
static void vmm_close(struct vmm *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->run1)
		munmap(v->run1, v->run_size);
	if (v->vcpu >= 0)
		close(v->vcpu);
	if (v->vcpu1 >= 0)
		close(v->vcpu1);
	if (v->vm >= 0)
		close(v->vm);
	if (v->efd >= 0)
		close(v->efd);
	if (v->sys >= 0)
		close(v->sys);
}

static int run_bench(struct vmm *v, uint32_t n, double *tsc_per, double *ns_per);
static int run_bsp(struct vmm *v, uint64_t *deltap, double *t0p);

/* Run one benchmark; fills per-exit TSC and wall ns.  0 or -errno. */
static int measure(const char *accel, const struct bench *b, uint32_t n,
		   double *tsc_per, double *ns_per)
{
	unsigned char *mem = guest_mem();
	struct vmm v = { .name = accel, .sys = -1, .vm = -1, .vcpu = -1, .efd = -1, .vcpu1 = -1 };
	int ret;

	if (!mem)
		return -ENOMEM;
	if (b->prefault)
		memset(mem, 0, MEM_SIZE);	/* every host page present before the guest runs */
	if (b->apic)
		build_apic_guest(mem, b, n);
	else
		build_guest(mem + CODE, b, n);
	ret = strcmp(accel, "kvm") ? hv_setup(&v, mem, b) : kvm_setup(&v, mem, b);
	if (!ret)
		ret = run_bench(&v, n, tsc_per, ns_per);
	vmm_close(&v);
	munmap(mem, MEM_SIZE);
	return ret;
}

/*
 * The AP's thread: RUN until told to stop.  Its guest never exits to
 * userspace (HLT, the APIC and its interrupts stay in the kernel on both
 * hypervisors); a signal (SIGUSR1 from ap_stop) ends each RUN with EINTR.
 */
struct ap_thread {
	struct vmm v;
	pthread_t thread;
	volatile int stop, done;
	int err;
};

static void *ap_main(void *arg)
{
	struct ap_thread *ap = arg;

	while (!ap->stop) {
		enum exit_kind kind;
		unsigned int port = 0;
		uint32_t val = 0;
		int ret = ap->v.run_once(&ap->v, &kind, &port, &val);

		if (ret == -EINTR)
			continue;
		/* any exit of the AP to userspace means the guest went wrong */
		if (!ap->stop)
			ap->err = ret ? ret : -EPROTO;
		break;
	}
	__atomic_store_n(&ap->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void ap_signal(int sig)
{
	(void)sig;
}

/* Stop and join the AP: signal it until it is out (it may be just entering RUN). */
static int ap_stop(struct ap_thread *ap)
{
	ap->stop = 1;
	while (!__atomic_load_n(&ap->done, __ATOMIC_ACQUIRE)) {
		pthread_kill(ap->thread, SIGUSR1);
		usleep(1000);
	}
	pthread_join(ap->thread, NULL);
	return ap->err;
}

static int run_bench(struct vmm *v, uint32_t n, double *tsc_per, double *ns_per)
{
	struct ap_thread ap = { .v = *v };
	uint64_t delta = 0;
	double t0 = 0;
	int ret;

	if (v->vcpu1 >= 0) {
		ap.v.vcpu = v->vcpu1;
		ap.v.run = v->run1;
		ret = -pthread_create(&ap.thread, NULL, ap_main, &ap);
		if (ret)
			return ret;
	}
	ret = run_bsp(v, &delta, &t0);
	if (v->vcpu1 >= 0) {
		int err = ap_stop(&ap);

		if (!ret)
			ret = err;
	}
	if (ret)
		return ret;
	*ns_per = (now_ns() - t0) / n;
	*tsc_per = (double)delta / n;
	return 0;
}

/* vCPU 0's loop: until the guest reported its TSC delta and stopped. */
static int run_bsp(struct vmm *v, uint64_t *deltap, double *t0p)
{
	uint64_t delta = 0;
	double t0;
	int ret;

	t0 = now_ns();
	for (;;) {
		enum exit_kind kind;
		unsigned int port = 0;
		uint32_t val = 0;

		ret = v->run_once(v, &kind, &port, &val);
		if (ret)
			return ret;
		if (kind == EX_PIO_OUT && port == PORT_LO)
			delta = val;
		else if (kind == EX_PIO_OUT && port == PORT_HI)
			delta |= (uint64_t)val << 32;
		else if (kind == EX_HLT && delta)
			break;		/* the final HLT, after the report */
		else if (kind == EX_PIO_OUT && port == PORT_DONE)
			break;		/* the APIC guests' end */
		else if (kind == EX_OTHER)
			return -EPROTO;
	}
	*deltap = delta;
	*t0p = t0;
	return 0;
}

static int set_telemetry(const char *val)
{
	FILE *f = fopen(TELEMETRY_PARAM, "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (fputs(val, f) < 0)
		ret = -EIO;
	if (fclose(f))
		ret = -errno;
	return ret;
}

/* ---- -s: a listener that drains the multicast group while hvlab runs */

struct listener {
	struct hvlab_nl *nl;
	pthread_t thread;
	volatile int stop;
	uint64_t events, dropped;
};

static int listener_event(const struct hvlab_nl_event *ev, void *arg)
{
	struct listener *l = arg;

	l->events++;
	if (ev->dropped > l->dropped)
		l->dropped = ev->dropped;
	return 0;
}

static void *listener_main(void *arg)
{
	struct listener *l = arg;
	struct pollfd pfd = { .fd = hvlab_nl_event_fd(l->nl), .events = POLLIN };

	while (!l->stop) {
		if (poll(&pfd, 1, 50) > 0)
			hvlab_nl_recv_events(l->nl, listener_event, l);
	}
	return NULL;
}

static int listener_start(struct listener *l)
{
	int ret;

	memset(l, 0, sizeof(*l));
	ret = hvlab_nl_open(&l->nl);
	if (ret)
		return ret;
	ret = hvlab_nl_subscribe(l->nl);
	if (!ret)
		ret = -pthread_create(&l->thread, NULL, listener_main, l);
	if (ret) {
		hvlab_nl_close(l->nl);
		l->nl = NULL;
	}
	return ret;
}

static void listener_stop(struct listener *l)
{
	if (!l->nl)
		return;
	usleep(100000);		/* the worker sends what RUN's return queued */
	l->stop = 1;
	pthread_join(l->thread, NULL);
	hvlab_nl_close(l->nl);
	l->nl = NULL;
}

/* ---- repeated runs: mean and spread */

struct series {
	unsigned int n;
	double v[MAX_REPEAT], ns[MAX_REPEAT];
	int err;
};

static double mean(const double *v, unsigned int n)
{
	double s = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		s += v[i];
	return n ? s / n : 0;
}

/* Sample standard deviation; 0 for fewer than two runs. */
static double stddev(const double *v, unsigned int n)
{
	double m = mean(v, n), s = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		s += (v[i] - m) * (v[i] - m);
	return n > 1 ? sqrt(s / (n - 1)) : 0;
}

static double vmin(const double *v, unsigned int n)
{
	double m = n ? v[0] : 0;
	unsigned int i;

	for (i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

static double vmax(const double *v, unsigned int n)
{
	double m = n ? v[0] : 0;
	unsigned int i;

	for (i = 1; i < n; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

static void series_run(struct series *sr, const char *accel, const struct bench *b,
		       uint32_t n, unsigned int repeat)
{
	unsigned int r;

	sr->n = 0;
	sr->err = 0;
	for (r = 0; r < repeat; r++) {
		int ret = measure(accel, b, n, &sr->v[sr->n], &sr->ns[sr->n]);

		if (ret) {
			sr->err = ret;
			return;
		}
		sr->n++;
	}
}

static double sr_mean(const struct series *sr)
{
	return sr->err ? 0 : mean(sr->v, sr->n);
}

static void json_series(FILE *f, const char *name, const struct series *sr, int *first)
{
	unsigned int i;

	if (sr->err == -ENOENT && !sr->n)
		return;		/* not measured */
	fprintf(f, "%s\n      \"%s\": { ", *first ? "" : ",", name);
	*first = 0;
	if (sr->err) {
		fprintf(f, "\"error\": \"%s\" }", strerror(-sr->err));
		return;
	}
	fprintf(f, "\"mean\": %.2f, \"sd\": %.2f, \"min\": %.2f, \"max\": %.2f, "
		"\"ns_mean\": %.1f, \"runs\": [", mean(sr->v, sr->n), stddev(sr->v, sr->n),
		vmin(sr->v, sr->n), vmax(sr->v, sr->n), mean(sr->ns, sr->n));
	for (i = 0; i < sr->n; i++)
		fprintf(f, "%s%.2f", i ? ", " : "", sr->v[i]);
	fprintf(f, "] }");
}

/* The option list is kept in step with man/hvlab-bench.1 (a host test checks). */
static void usage(FILE *f)
{
	unsigned int i;

	fprintf(f, "Usage: hvlab-bench [-n N] [-r R] [-a hvlab|kvm|both] [-t] [-s] [-j FILE] [BENCH...]\n\n"
		"Exit-cost microbenchmarks: the same 16-bit guest loop and the same\n"
		"userspace loop on hvlab (/dev/hvlab) and on KVM (/dev/kvm).\n\n"
		"  -n, --iterations N   exits per benchmark (default 10000)\n"
		"  -r, --repeat R       runs per measurement, mean and spread (default 1, max %d)\n"
		"  -a, --accel ACCEL    hvlab, kvm or both (default both)\n"
		"  -t, --telemetry-cost also run hvlab with telemetry=0 (needs root)\n"
		"  -s, --stream         also run hvlab with the event stream at sampling 1,\n"
		"                       unheard and with a listener (needs root)\n"
		"  -j, --json FILE      write every run as JSON to FILE too\n"
		"  -h, --help           this help\n\n"
		"BENCH (default: all):", MAX_REPEAT);
	for (i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
		fprintf(f, " %s", benches[i].name);
	fprintf(f, "\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iterations", required_argument, NULL, 'n' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "accel", required_argument, NULL, 'a' },
		{ "telemetry-cost", no_argument, NULL, 't' },
		{ "stream", no_argument, NULL, 's' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *accels = "both", *json_path = NULL;
	uint32_t n = 10000, repeat = 1;
	int opt, i, j, first_bench, tel_cost = 0, stream = 0, first_row = 1;
	FILE *json = NULL;
	char *end;

	/* ap_stop's SIGUSR1 only ends a RUN: no SA_RESTART */
	struct sigaction sa = { .sa_handler = ap_signal };

	sigaction(SIGUSR1, &sa, NULL);
	while ((opt = getopt_long(argc, argv, "n:r:a:tsj:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, &end, 0);
			if (*end)
				n = 0;
			break;
		case 'r':
			repeat = strtoul(optarg, &end, 0);
			if (*end || !repeat || repeat > MAX_REPEAT) {
				fprintf(stderr, "hvlab-bench: -r must be 1 to %d\n", MAX_REPEAT);
				return 2;
			}
			break;
		case 'a':
			accels = optarg;
			if (strcmp(accels, "hvlab") && strcmp(accels, "kvm") && strcmp(accels, "both")) {
				fprintf(stderr, "hvlab-bench: -a: hvlab, kvm or both\n");
				return 2;
			}
			break;
		case 't':
			tel_cost = 1;
			break;
		case 's':
			stream = 1;
			break;
		case 'j':
			json_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!n) {
		fprintf(stderr, "hvlab-bench: -n must be a number, at least 1\n");
		return 2;
	}
	first_bench = optind;
	for (j = first_bench; j < argc; j++) {
		for (i = 0; i < (int)(sizeof(benches) / sizeof(benches[0])); i++)
			if (!strcmp(argv[j], benches[i].name))
				break;
		if (i == (int)(sizeof(benches) / sizeof(benches[0]))) {
			fprintf(stderr, "hvlab-bench: unknown benchmark '%s'\n", argv[j]);
			usage(stderr);
			return 2;
		}
	}
	if (stream && strcmp(accels, "kvm")) {
		int ret = hvlab_nl_open(&stream_ctl);

		if (ret) {
			fprintf(stderr, "hvlab-bench: -s: netlink: %s\n", strerror(-ret));
			return 1;
		}
	}
	if (json_path) {
		json = fopen(json_path, "w");
		if (!json) {
			fprintf(stderr, "hvlab-bench: %s: %s\n", json_path, strerror(errno));
			return 1;
		}
		fprintf(json, "{\n  \"tool\": \"hvlab-bench\",\n  \"vendor\": \"%s\",\n"
			"  \"unit\": \"TSC ticks per exit round trip (instructions under -icount)\",\n"
			"  \"repeat\": %u,\n  \"rows\": [", cpu_is_amd() ? "amd" : "intel", repeat);
	}

	printf("%-10s %-9s %6s %12s %12s %7s %12s %12s %8s %8s", "bench", "handled", "n",
	       "hvlab/exit", "kvm/exit", "ratio", "hvlab ns", "kvm ns", "hvlab sd", "kvm sd");
	if (tel_cost)
		printf(" %12s %9s", "hvlab tel=0", "tel cost");
	if (stream)
		printf(" %12s %9s %12s %9s", "unheard", "cost", "streaming", "cost");
	printf("\n");
	for (i = 0; i < (int)(sizeof(benches) / sizeof(benches[0])); i++) {
		const struct bench *b = &benches[i];
		struct series h = { .err = -ENOENT }, k = { .err = -ENOENT }, o = { .err = -ENOENT };
		struct series su = { .err = -ENOENT }, sh = { .err = -ENOENT };
		uint32_t bn = b->max_n && n > b->max_n ? b->max_n : n;
		uint64_t events = 0, dropped = 0;
		int wanted = first_bench >= argc, first = 1;
		double hm, km;

		for (j = first_bench; j < argc; j++)
			wanted |= !strcmp(argv[j], b->name);
		if (!wanted)
			continue;
		if (strcmp(accels, "kvm")) {
			if (tel_cost) {
				o.err = set_telemetry("0");
				if (!o.err)
					series_run(&o, "hvlab", b, bn, repeat);
				set_telemetry("1");
			}
			if (stream) {
				struct listener l;

				stream_mode = STREAM_UNHEARD;
				series_run(&su, "hvlab", b, bn, repeat);
				sh.err = listener_start(&l);
				if (!sh.err) {
					stream_mode = STREAM_HEARD;
					series_run(&sh, "hvlab", b, bn, repeat);
					listener_stop(&l);
					events = l.events;
					dropped = l.dropped;
				}
				stream_mode = STREAM_OFF;
			}
			series_run(&h, "hvlab", b, bn, repeat);
		}
		if (strcmp(accels, "hvlab") && !b->hvlab_only)
			series_run(&k, "kvm", b, bn, repeat);
		if (h.err && h.err != -ENOENT)
			fprintf(stderr, "hvlab-bench: %s on hvlab: %s\n", b->name, strerror(-h.err));
		if (k.err && k.err != -ENOENT)
			fprintf(stderr, "hvlab-bench: %s on kvm: %s\n", b->name, strerror(-k.err));
		if (o.err && o.err != -ENOENT)
			fprintf(stderr, "hvlab-bench: %s on hvlab, telemetry off: %s\n", b->name,
				strerror(-o.err));
		if (su.err && su.err != -ENOENT)
			fprintf(stderr, "hvlab-bench: %s on hvlab, stream unheard: %s\n", b->name,
				strerror(-su.err));
		if (sh.err && sh.err != -ENOENT)
			fprintf(stderr, "hvlab-bench: %s on hvlab, streaming: %s\n", b->name,
				strerror(-sh.err));
		hm = sr_mean(&h);
		km = sr_mean(&k);
		printf("%-10s %-9s %6u %12.0f %12.0f %7.2f %12.0f %12.0f %8.1f %8.1f", b->name, b->where,
		       bn, hm, km, hm > 0 && km > 0 ? hm / km : 0, h.err ? 0 : mean(h.ns, h.n),
		       k.err ? 0 : mean(k.ns, k.n), h.err ? 0 : stddev(h.v, h.n),
		       k.err ? 0 : stddev(k.v, k.n));
		if (tel_cost)
			printf(" %12.0f %9.0f", sr_mean(&o), !o.err && !h.err ? hm - sr_mean(&o) : 0);
		if (stream)
			printf(" %12.0f %9.0f %12.0f %9.0f", sr_mean(&su),
			       !su.err && !h.err ? sr_mean(&su) - hm : 0, sr_mean(&sh),
			       !sh.err && !h.err ? sr_mean(&sh) - hm : 0);
		printf("\n");
		fflush(stdout);
		if (json) {
			fprintf(json, "%s\n    { \"bench\": \"%s\", \"handled\": \"%s\", \"n\": %u,",
				first_row ? "" : ",", b->name, b->where, bn);
			first_row = 0;
			json_series(json, "hvlab", &h, &first);
			json_series(json, "kvm", &k, &first);
			json_series(json, "hvlab_telemetry_off", &o, &first);
			json_series(json, "hvlab_stream_unheard", &su, &first);
			json_series(json, "hvlab_streaming", &sh, &first);
			if (stream)
				fprintf(json, ",\n      \"stream_events\": %llu, \"stream_dropped\": %llu",
					(unsigned long long)events, (unsigned long long)dropped);
			fprintf(json, " }");
		}
		if (stream && !sh.err && events + dropped < (uint64_t)bn * sh.n)
			fprintf(stderr, "hvlab-bench: %s: %llu events heard, %llu dropped, for %llu exits\n",
				b->name, (unsigned long long)events, (unsigned long long)dropped,
				(unsigned long long)bn * sh.n);
	}
	if (json) {
		fprintf(json, "\n  ]\n}\n");
		if (fclose(json)) {
			fprintf(stderr, "hvlab-bench: %s: %s\n", json_path, strerror(errno));
			return 1;
		}
	}
	if (stream_ctl)
		hvlab_nl_close(stream_ctl);
	return 0;
}
