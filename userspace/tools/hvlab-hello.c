// SPDX-License-Identifier: GPL-2.0
/*
 * hvlab-hello - the smallest complete hvlab program: one VM, one vCPU, a
 * 16-bit guest of a few bytes that prints a line through port 0x3f8 (the
 * COM1 data register), asks CPUID for the vendor, and halts.
 *
 * Read it top to bottom to see every step a VMM takes: open /dev/hvlab,
 * create a VM, give it memory, create a vCPU, map its run page, point the
 * vCPU at the code, then call RUN until the guest halts, answering each exit.
 *
 *   hvlab-hello [-v]      -v prints every exit as it is handled
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "libhvlab.h"

#define GUEST_MEM	0x10000		/* 64 KiB of guest RAM at guest-physical 0 */
#define GUEST_ENTRY	0x1000		/* where the code goes, and CS:IP = 0:1000 */
#define COM1		0x3f8

/*
 * The guest, in real mode (assembled by hand below):
 *
 *	mov si, msg		; msg at 0x1020: "Hello from a hvlab guest\n", 0
 *   next:
 *	lodsb
 *	test al, al
 *	jz done
 *	mov dx, 0x3f8
 *	out dx, al		; exits to us: we print the byte
 *	jmp next
 *   done:
 *	xor eax, eax
 *	cpuid			; exits to the kernel, which answers it
 *	mov [0x1100], ebx	; "Auth" or "Genu"
 *	hlt			; exits to us: we stop
 */
static const unsigned char guest_code[] = {
	0xbe, 0x20, 0x10,		/* mov si, 0x1020 */
	0xac,				/* lodsb */
	0x84, 0xc0,			/* test al, al */
	0x74, 0x06,			/* jz +6 */
	0xba, 0xf8, 0x03,		/* mov dx, 0x3f8 */
	0xee,				/* out dx, al */
	0xeb, 0xf5,			/* jmp -11 (to lodsb) */
	0x66, 0x31, 0xc0,		/* xor eax, eax */
	0x0f, 0xa2,			/* cpuid */
	0x66, 0x89, 0x1e, 0x00, 0x11,	/* mov [0x1100], ebx */
	0xf4,				/* hlt */
};
static const char guest_msg[] = "Hello from a hvlab guest\n";

static int die(const char *what, int err)
{
	fprintf(stderr, "hvlab-hello: %s: %s\n", what, strerror(-err));
	if (err == -ENOENT)
		fprintf(stderr, "hvlab-hello: is hvlab.ko loaded? (insmod hvlab.ko)\n");
	return 1;
}

/* The option list is kept in step with man/hvlab-hello.1 (a host test checks). */
static void usage(FILE *f)
{
	fprintf(f, "Usage: hvlab-hello [-v]\n\n"
		"Runs a 16-bit guest of a few bytes on /dev/hvlab: it prints a line\n"
		"through COM1, reads the CPU vendor with CPUID, and halts.\n\n"
		"  -v, --verbose   print every exit to userspace as it is handled\n"
		"  -h, --help      this help\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int verbose = 0, opt;
	struct hvlab_memory_region region = { 0 };
	struct hvlab_sregs sregs;
	struct hvlab_regs regs;
	struct hvlab_run *run;
	int sys, vm, vcpu, size, ret;
	unsigned char *mem;
	unsigned int exits = 0;
	char vendor[5] = { 0 };

	while ((opt = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	/* The guest's bytes should appear as it writes them, between the -v lines. */
	setvbuf(stdout, NULL, _IONBF, 0);
	sys = hvlab_open();
	if (sys < 0)
		return die("open /dev/hvlab", sys);
	vm = hvlab_create_vm(sys, 0);
	if (vm < 0)
		return die("create VM", vm);

	/* Guest RAM is ordinary memory of this process. */
	mem = mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return die("mmap guest memory", -errno);
	memcpy(mem + GUEST_ENTRY, guest_code, sizeof(guest_code));
	memcpy(mem + GUEST_ENTRY + 0x20, guest_msg, sizeof(guest_msg));
	region.slot = 0;
	region.guest_phys_addr = 0;
	region.memory_size = GUEST_MEM;
	region.userspace_addr = (unsigned long)mem;
	ret = hvlab_set_memory_region(vm, &region);
	if (ret)
		return die("add memory", ret);

	vcpu = hvlab_create_vcpu(vm, 0);
	if (vcpu < 0)
		return die("create vCPU", vcpu);
	size = hvlab_vcpu_mmap_size(sys);
	if (size < 0 || (ret = hvlab_map_run(vcpu, size, &run)))
		return die("map run page", size < 0 ? size : ret);

	/* The vCPU starts at F000:FFF0 like a real CPU; start it at 0:1000. */
	ret = hvlab_get_sregs(vcpu, &sregs);
	if (ret)
		return die("get sregs", ret);
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	ret = hvlab_set_sregs(vcpu, &sregs);
	if (ret)
		return die("set sregs", ret);
	ret = hvlab_get_regs(vcpu, &regs);
	if (ret)
		return die("get regs", ret);
	regs.rip = GUEST_ENTRY;
	ret = hvlab_set_regs(vcpu, &regs);
	if (ret)
		return die("set regs", ret);

	for (;;) {
		ret = hvlab_run(vcpu);
		if (ret)
			return die("run", ret);
		exits++;
		if (verbose)
			fprintf(stderr, "[exit %u: %s, vendor reason %#llx]\n", exits,
				hvlab_exit_name(run->exit_reason),
				(unsigned long long)run->vendor_reason);
		switch (run->exit_reason) {
		case HVLAB_EXIT_IO:
			/* Our whole "device model": bytes to COM1 go to stdout. */
			if (run->io.direction == HVLAB_IO_OUT && run->io.port == COM1)
				putchar(*((char *)run + run->io.data_offset));
			continue;
		case HVLAB_EXIT_HLT:
			memcpy(vendor, mem + 0x1100, 4);
			printf("guest halted after %u exits to userspace; CPUID(0).EBX = \"%s\"\n",
			       exits, vendor);
			return 0;
		default:
			fprintf(stderr, "hvlab-hello: unexpected exit %s\n",
				hvlab_exit_name(run->exit_reason));
			return 1;
		}
	}
}
