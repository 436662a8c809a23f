// SPDX-License-Identifier: GPL-2.0
/*
 * guest.c - the host half of the selftests' guest library (guest.h): build
 * a VM whose memory holds this very binary, the descriptor tables and page
 * tables of every CPU mode, start vCPUs in a mode, and decode ucalls.
 *
 * Descriptor and page-table formats: Intel SDM Vol. 3A 3.4.5 (segment
 * descriptors), 6.11 / 6.14.1 (IDT gates), 4.3 (32-bit paging, PSE),
 * 4.5 (4-level paging), 7.2.3 (64-bit TSS descriptor); AMD APM Vol. 2
 * 4.7-4.8, 5.3, 8.9 say the same.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest.h"
#include "x86.h"

#define PAGE		4096ull
#define SZ_2M		(2ull << 20)
#define SZ_1G		(1ull << 30)
#define SZ_4G		(4ull << 30)
#define MAP_MIN		(8ull << 30)	/* 64-bit identity map: MMIO above 4 GiB too */

/* Low-memory layout (see guest.h). */
#define IVT_GPA		0x0ull
#define STUBS16_GPA	0x1000ull
#define STUBS16_MAX	(0x2200ull - STUBS16_GPA)
#define TABLES_GPA	0x10000ull
#define TABLES_END	HVT_PC_HOLE_START	/* the bump allocator stays below */

/* GDT selectors. */
#define SEL_CODE64	0x08
#define SEL_DATA	0x10
#define SEL_CODE32	0x18
#define SEL_TSS		0x28
#define GDT_ENTRIES	7		/* TSS takes two in 64-bit mode */

/* --- guest memory ----------------------------------------------------------- */

void *hvt_gpa2hva(struct hvt_vm *vm, uint64_t gpa, uint64_t len)
{
	if (gpa >= vm->mem_size || len > vm->mem_size - gpa)
		return NULL;
	if ((vm->flags & HVT_VM_PC_HOLE) && gpa < HVT_PC_HOLE_END &&
	    gpa + len > HVT_PC_HOLE_START)
		return NULL;
	return vm->mem + gpa;
}

static uint64_t hvt_alloc_pages(struct hvt_vm *vm, unsigned int n)
{
	uint64_t gpa = vm->next_page;

	if (n * PAGE > TABLES_END - gpa)
		return 0;
	vm->next_page += n * PAGE;
	memset(vm->mem + gpa, 0, n * PAGE);
	return gpa;
}

struct hvt_load_ctx {
	struct hvt_vm *vm;
	int err;
};

/*
 * Copy this binary's PT_LOAD segments, as they are in memory now, to the
 * same guest-physical addresses.  The first object dl_iterate_phdr() shows
 * is the executable itself (static binaries too).
 */
static int hvt_load_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct hvt_load_ctx *ctx = data;
	struct hvt_vm *vm = ctx->vm;
	int i;

	(void)size;
	if (info->dlpi_addr) {
		ctx->err = -ENOEXEC;	/* PIE: not linked where the guest can run it */
		return 1;
	}
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		void *dst;

		if (ph->p_type != PT_LOAD || !ph->p_memsz)
			continue;
		if (ph->p_vaddr < TABLES_END) {
			ctx->err = -ENOEXEC;
			return 1;
		}
		dst = hvt_gpa2hva(vm, ph->p_vaddr, ph->p_memsz);
		if (!dst) {
			ctx->err = -E2BIG;
			return 1;
		}
		memcpy(dst, (const void *)(uintptr_t)ph->p_vaddr, ph->p_memsz);
	}
	ctx->err = 0;
	return 1;	/* the executable only */
}

struct hvt_end_ctx {
	uint64_t end;
};

static int hvt_end_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct hvt_end_ctx *ctx = data;
	int i;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && info->dlpi_addr + ph->p_vaddr + ph->p_memsz > ctx->end)
			ctx->end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	return 1;
}

/* --- descriptor tables and page tables ------------------------------------------ */

/* An interrupt gate (type 0xe, P, DPL 0): 16 bytes in 64-bit mode, 8 in 32-bit. */
static void idt_gate(uint8_t *idt, bool long_mode, unsigned int vector, uint64_t off)
{
	if (long_mode) {
		uint64_t *g = (uint64_t *)(idt + 16 * vector);

		g[0] = (off & 0xffff) | (uint64_t)SEL_CODE64 << 16 | 0x8eull << 40 |
		       ((off >> 16) & 0xffff) << 48;
		g[1] = off >> 32;
	} else {
		*(uint64_t *)(idt + 8 * vector) = (off & 0xffff) | (uint64_t)SEL_CODE32 << 16 |
						  0x8eull << 40 | ((off >> 16) & 0xffff) << 48;
	}
}

static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	return (limit & 0xffffull) | (uint64_t)(base & 0xffffff) << 16 |
	       (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
	       (uint64_t)(flags & 0xf) << 52 | (uint64_t)(base >> 24) << 56;
}

static void hvt_build_tables(struct hvt_vm *vm)
{
	uint64_t *gdt, *pml4, *pdpt, *pd;
	uint32_t *pd32;
	uint64_t pdpt_gpa, pd_gpa, stubs, span;
	unsigned int i, npd;
	uint8_t *idt;
	uint16_t *ivt;

	/* GDT: access = P | DPL0 | S | type; flags = G | D/B | L | AVL. */
	vm->gdt = hvt_alloc_pages(vm, 1);
	gdt = (uint64_t *)(vm->mem + vm->gdt);
	gdt[SEL_CODE64 / 8] = gdt_entry(0, 0xfffff, 0x9b, 0xa);	/* G, L */
	gdt[SEL_DATA / 8] = gdt_entry(0, 0xfffff, 0x93, 0xc);		/* G, D/B */
	gdt[SEL_CODE32 / 8] = gdt_entry(0, 0xfffff, 0x9b, 0xc);		/* G, D */
	/* A busy TSS of 104 bytes; base < 4 GiB, so the upper half is 0. */
	vm->tss = hvt_alloc_pages(vm, 1);
	*(uint16_t *)(vm->mem + vm->tss + 102) = 104;	/* no I/O bitmap */
	gdt[SEL_TSS / 8] = gdt_entry(vm->tss, 103, 0x8b, 0);
	gdt[SEL_TSS / 8 + 1] = 0;

	/* 64-bit IDT: interrupt gates (type 0xe, P, DPL 0) to guest_stubs64. */
	vm->idt64 = hvt_alloc_pages(vm, 1);
	idt = vm->mem + vm->idt64;
	stubs = (uintptr_t)guest_stubs64;
	for (i = 0; i < 256; i++)
		idt_gate(idt, true, i, stubs + 16 * i);
	/* 32-bit IDT: 32-bit interrupt gates to guest_stubs32. */
	vm->idt32 = hvt_alloc_pages(vm, 1);
	idt = vm->mem + vm->idt32;
	stubs = (uintptr_t)guest_stubs32;
	for (i = 0; i < 256; i++)
		idt_gate(idt, false, i, stubs + 16 * i);
	/* Real mode: the 16-bit stubs below 1 MiB, the IVT at 0 pointing there. */
	memcpy(vm->mem + STUBS16_GPA, guest_stubs16, guest_stubs16_end - guest_stubs16);
	ivt = (uint16_t *)(vm->mem + IVT_GPA);
	for (i = 0; i < 256; i++) {
		ivt[2 * i] = STUBS16_GPA + 16 * i;	/* offset */
		ivt[2 * i + 1] = 0;			/* segment */
	}

	/* 4-level identity map with 2 MiB pages over max(8 GiB, RAM). */
	span = vm->mem_size > MAP_MIN ? vm->mem_size : MAP_MIN;
	npd = (span + SZ_1G - 1) / SZ_1G;
	vm->pml4 = hvt_alloc_pages(vm, 1);
	pdpt_gpa = hvt_alloc_pages(vm, 1);
	pd_gpa = hvt_alloc_pages(vm, npd);
	pml4 = (uint64_t *)(vm->mem + vm->pml4);
	pdpt = (uint64_t *)(vm->mem + pdpt_gpa);
	pd = (uint64_t *)(vm->mem + pd_gpa);
	pml4[0] = pdpt_gpa | PTE_P | PTE_RW;
	for (i = 0; i < npd; i++)
		pdpt[i] = (pd_gpa + i * PAGE) | PTE_P | PTE_RW;
	for (i = 0; i < npd * 512; i++)
		pd[i] = (uint64_t)i * SZ_2M | PTE_P | PTE_RW | PTE_PS;

	/* 32-bit paging: one directory of 4 MiB pages (CR4.PSE) over 4 GiB. */
	vm->pd32 = hvt_alloc_pages(vm, 1);
	pd32 = (uint32_t *)(vm->mem + vm->pd32);
	for (i = 0; i < 1024; i++)
		pd32[i] = (uint32_t)(i << 22) | PTE_P | PTE_RW | PTE_PS;
}

/* --- VM and vCPU --------------------------------------------------------------- */

int hvt_vm_create(uint64_t mem_size, unsigned int flags, struct hvt_vm **vmp)
{
	struct hvt_end_ctx end = { 0 };
	struct hvt_load_ctx load;
	struct hvt_vm *vm;
	uint64_t need;
	int ret;

	*vmp = NULL;
	if (flags & ~(HVT_VM_PC_HOLE | HVT_VM_LAPIC))
		return -EINVAL;
	dl_iterate_phdr(hvt_end_cb, &end);
	need = (end.end + SZ_2M - 1) & ~(SZ_2M - 1);
	mem_size = (mem_size + SZ_2M - 1) & ~(SZ_2M - 1);
	if (mem_size < need)
		mem_size = need;

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->sys_fd = vm->fd = -1;
	vm->flags = flags;
	vm->mem_size = mem_size;
	vm->next_page = TABLES_GPA;
	vm->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		ret = -errno;
		goto fail;
	}

	ret = hvt_open_vm_flags(&vm->sys_fd, flags & HVT_VM_LAPIC ? HVLAB_VM_LAPIC : 0);
	if (ret < 0)
		goto fail;
	vm->fd = ret;
	ret = hvlab_vcpu_mmap_size(vm->sys_fd);
	if (ret < 0)
		goto fail;
	vm->run_size = ret;

	if (flags & HVT_VM_PC_HOLE) {
		ret = hvt_set_region(vm->fd, 0, 0, 0, HVT_PC_HOLE_START, (uintptr_t)vm->mem);
		if (!ret)
			ret = hvt_set_region(vm->fd, 1, 0, HVT_PC_HOLE_END,
					     mem_size - HVT_PC_HOLE_END,
					     (uintptr_t)vm->mem + HVT_PC_HOLE_END);
	} else {
		ret = hvt_set_region(vm->fd, 0, 0, 0, mem_size, (uintptr_t)vm->mem);
	}
	if (ret)
		goto fail;

	load.vm = vm;
	load.err = -ENOEXEC;
	dl_iterate_phdr(hvt_load_cb, &load);
	ret = load.err;
	if (ret)
		goto fail;
	hvt_build_tables(vm);
	*vmp = vm;
	return 0;

fail:
	hvt_vm_free(vm);
	return ret;
}

void hvt_vm_free(struct hvt_vm *vm)
{
	unsigned int i;

	if (!vm)
		return;
	for (i = 0; i < HVT_MAX_VCPUS; i++) {
		struct hvt_vcpu *vcpu = vm->vcpus[i];

		if (!vcpu)
			continue;
		if (vcpu->run)
			hvlab_unmap_run(vcpu->run, vm->run_size);
		hvt_close(&vcpu->fd);
		free(vcpu);
	}
	hvt_close(&vm->fd);
	hvt_close(&vm->sys_fd);
	if (vm->mem)
		munmap(vm->mem, vm->mem_size);
	free(vm);
}

int hvt_vcpu_add(struct hvt_vm *vm, unsigned int id, struct hvt_vcpu **vcpup)
{
	struct hvt_vcpu *vcpu;
	uint64_t stack;
	int ret;

	*vcpup = NULL;
	if (id >= HVT_MAX_VCPUS || vm->vcpus[id])
		return -EINVAL;
	stack = hvt_alloc_pages(vm, HVT_STACK_SIZE / PAGE);
	if (!stack)
		return -ENOSPC;
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->stack_top = stack + HVT_STACK_SIZE;
	ret = hvlab_create_vcpu(vm->fd, id);
	if (ret < 0) {
		free(vcpu);
		return ret;
	}
	vcpu->fd = ret;
	ret = hvlab_map_run(vcpu->fd, vm->run_size, &vcpu->run);
	if (ret) {
		close(vcpu->fd);
		free(vcpu);
		return ret;
	}
	vm->vcpus[id] = vcpu;
	*vcpup = vcpu;
	return 0;
}

int hvt_vm_install_handler(struct hvt_vm *vm, unsigned int vector, guest_handler_t handler)
{
	guest_handler_t *slot;

	if (vector > 255)
		return -EINVAL;
	slot = hvt_guest_ptr(vm, &guest_exception_handlers[vector]);
	if (!slot)
		return -EFAULT;
	*slot = handler;
	return 0;
}

int hvt_vm_set_gate(struct hvt_vm *vm, enum hvt_mode mode, unsigned int vector, uint64_t gpa)
{
	uint16_t *ivt = (uint16_t *)(vm->mem + IVT_GPA);

	if (vector > 255)
		return -EINVAL;
	switch (mode) {
	case HVT_MODE_REAL:
		if (gpa > 0xffff)
			return -ERANGE;
		ivt[2 * vector] = gpa;		/* offset */
		ivt[2 * vector + 1] = 0;	/* segment */
		return 0;
	case HVT_MODE_PROT32:
	case HVT_MODE_PROT32_PAGING:
		if (gpa >> 32)
			return -ERANGE;
		idt_gate(vm->mem + vm->idt32, false, vector, gpa);
		return 0;
	case HVT_MODE_LONG64:
		idt_gate(vm->mem + vm->idt64, true, vector, gpa);
		return 0;
	default:
		return -EINVAL;
	}
}

/* --- CPU modes ------------------------------------------------------------------ */

int hvt_vcpu_set_mode(struct hvt_vcpu *vcpu, enum hvt_mode mode)
{
	struct hvt_vm *vm = vcpu->vm;
	struct hvlab_sregs sr;
	struct hvlab_segment data;
	int ret;

	ret = hvlab_get_sregs(vcpu->fd, &sr);
	if (ret)
		return ret;
	sr.cr2 = 0;
	sr.cr8 = 0;
	sr.gdt.base = vm->gdt;
	sr.gdt.limit = GDT_ENTRIES * 8 - 1;

	switch (mode) {
	case HVT_MODE_REAL:
		hvt_seg_set(&sr.cs, 0, 0, 0xffff, 0xb, 1, 0, 0, 0);
		hvt_seg_set(&data, 0, 0, 0xffff, 0x3, 1, 0, 0, 0);
		hvt_seg_set(&sr.tr, 0, 0, 0xffff, 0xb, 0, 0, 0, 0);
		hvt_seg_set(&sr.ldt, 0, 0, 0xffff, 0x2, 0, 0, 0, 0);
		sr.idt.base = IVT_GPA;
		sr.idt.limit = 0x3ff;
		sr.cr0 = CR0_ET | CR0_NE;
		sr.cr3 = 0;
		sr.cr4 = 0;
		sr.efer = 0;
		break;
	case HVT_MODE_PROT32:
	case HVT_MODE_PROT32_PAGING:
		hvt_seg_set(&sr.cs, SEL_CODE32, 0, 0xffffffff, 0xb, 1, 1, 0, 1);
		hvt_seg_set(&data, SEL_DATA, 0, 0xffffffff, 0x3, 1, 1, 0, 1);
		hvt_seg_set(&sr.tr, SEL_TSS, vm->tss, 103, 0xb, 0, 0, 0, 0);
		hvt_seg_set(&sr.ldt, 0, 0, 0, 0x2, 0, 0, 0, 0);
		sr.ldt.present = 0;
		sr.ldt.unusable = 1;
		sr.idt.base = vm->idt32;
		sr.idt.limit = 256 * 8 - 1;
		sr.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE;
		sr.cr3 = 0;
		sr.cr4 = CR4_OSFXSR | CR4_OSXMMEXCPT;
		if (mode == HVT_MODE_PROT32_PAGING) {
			sr.cr0 |= CR0_PG | CR0_WP;
			sr.cr3 = vm->pd32;
			sr.cr4 |= CR4_PSE;
		}
		sr.efer = 0;
		break;
	case HVT_MODE_LONG64:
		hvt_seg_set(&sr.cs, SEL_CODE64, 0, 0xffffffff, 0xb, 1, 0, 1, 1);
		hvt_seg_set(&data, SEL_DATA, 0, 0xffffffff, 0x3, 1, 1, 0, 1);
		hvt_seg_set(&sr.tr, SEL_TSS, vm->tss, 103, 0xb, 0, 0, 0, 0);
		hvt_seg_set(&sr.ldt, 0, 0, 0, 0x2, 0, 0, 0, 0);
		sr.ldt.present = 0;
		sr.ldt.unusable = 1;
		sr.idt.base = vm->idt64;
		sr.idt.limit = 256 * 16 - 1;
		sr.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
		sr.cr3 = vm->pml4;
		sr.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
		sr.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
		break;
	default:
		return -EINVAL;
	}
	sr.ds = sr.es = sr.fs = sr.gs = sr.ss = data;
	return hvlab_set_sregs(vcpu->fd, &sr);
}

int hvt_vcpu_enter_c(struct hvt_vcpu *vcpu, void *fn, uint64_t arg0, uint64_t arg1)
{
	struct hvlab_regs regs = { 0 };
	uint64_t *ret_addr;
	int ret;

	ret = hvt_vcpu_set_mode(vcpu, HVT_MODE_LONG64);
	if (ret)
		return ret;
	/* As if called: the return address at RSP, RSP + 8 16-byte aligned. */
	regs.rsp = vcpu->stack_top - 8;
	ret_addr = hvt_gpa2hva(vcpu->vm, regs.rsp, 8);
	if (!ret_addr)
		return -EFAULT;
	*ret_addr = (uintptr_t)guest_return_stub;
	regs.rip = (uintptr_t)fn;
	regs.rdi = arg0;
	regs.rsi = arg1;
	regs.rflags = 2;
	return hvlab_set_regs(vcpu->fd, &regs);
}

int hvt_vcpu_enter_raw(struct hvt_vcpu *vcpu, enum hvt_mode mode, const struct hvt_code *code)
{
	uint64_t len = code->end - code->start;
	struct hvlab_regs regs = { 0 };
	int ret;

	if (len > HVT_RAW_CODE_MAX)
		return -E2BIG;
	memcpy(vcpu->vm->mem + HVT_RAW_CODE_GPA, code->start, len);
	ret = hvt_vcpu_set_mode(vcpu, mode);
	if (ret)
		return ret;
	regs.rip = HVT_RAW_CODE_GPA;
	regs.rsp = mode == HVT_MODE_REAL ? HVT_REAL_STACK_TOP : vcpu->stack_top;
	regs.rflags = 2;
	return hvlab_set_regs(vcpu->fd, &regs);
}

int hvt_vcpu_run(struct hvt_vcpu *vcpu)
{
	return hvlab_run(vcpu->fd);
}

/* --- ucall ------------------------------------------------------------------------ */

uint64_t hvt_io_data(const struct hvlab_run *run)
{
	uint64_t v = 0;

	memcpy(&v, (const char *)run + run->io.data_offset, run->io.size <= 8 ? run->io.size : 8);
	return v;
}

void hvt_io_set_data(struct hvlab_run *run, uint64_t val)
{
	memcpy((char *)run + run->io.data_offset, &val, run->io.size <= 8 ? run->io.size : 8);
}

/* A NUL-terminated string at guest address @gva, or "" if there is none. */
static const char *hvt_guest_str(struct hvt_vm *vm, uint64_t gva)
{
	const char *s, *end;

	if (!gva || gva >= vm->mem_size)
		return "";
	s = (const char *)vm->mem + gva;
	end = (const char *)vm->mem + vm->mem_size;
	if (!memchr(s, '\0', end - s))
		return "";
	return s;
}

int hvt_get_ucall(struct hvt_vcpu *vcpu, struct ucall *uc)
{
	struct hvlab_run *run = vcpu->run;
	int ret;

	memset(uc, 0, sizeof(*uc));
	uc->file = uc->expr = "";
	if (run->exit_reason != HVLAB_EXIT_IO || run->io.port != UCALL_PORT ||
	    run->io.direction != HVLAB_IO_OUT || run->io.count != 1)
		return UCALL_NONE;

	if (run->io.size == 4) {
		struct guest_ucall *g = hvt_gpa2hva(vcpu->vm, hvt_io_data(run), sizeof(*g));

		if (!g)
			return -EFAULT;
		uc->cmd = g->cmd;
		memcpy(uc->args, g->args, sizeof(uc->args));
		uc->file = hvt_guest_str(vcpu->vm, g->file);
		uc->expr = hvt_guest_str(vcpu->vm, g->expr);
		uc->line = g->line;
		uc->has_values = g->has_values;
	} else if (run->io.size == 1) {
		struct hvlab_regs regs;

		ret = hvlab_get_regs(vcpu->fd, &regs);
		if (ret)
			return ret;
		uc->reg_form = true;
		uc->cmd = hvt_io_data(run);
		uc->args[0] = regs.rbx;
		uc->args[1] = regs.rcx;
		uc->args[2] = regs.rdx;
		uc->args[3] = regs.rsi;
		uc->args[4] = regs.rdi;
	} else {
		return -EPROTO;
	}
	if (uc->cmd == UCALL_NONE || uc->cmd > 0x7fffffff)
		return -EPROTO;
	return uc->cmd;
}

int hvt_vcpu_run_ucall(struct hvt_vcpu *vcpu, struct ucall *uc)
{
	int ret = hvt_vcpu_run(vcpu);

	if (ret)
		return ret;
	return hvt_get_ucall(vcpu, uc);
}

/* --- words for logs ------------------------------------------------------------------ */

const char *hvt_vector_name(unsigned int v)
{
	static const char *const names[32] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
		"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "15",
		"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "22", "23",
		"24", "25", "26", "27", "#HV", "#VC", "#SX", "31",
	};

	return v < 32 ? names[v] : "interrupt";
}

const char *hvt_mode_name(enum hvt_mode mode)
{
	switch (mode) {
	case HVT_MODE_REAL:		return "real mode";
	case HVT_MODE_PROT32:		return "32-bit protected mode";
	case HVT_MODE_PROT32_PAGING:	return "32-bit protected mode with paging";
	case HVT_MODE_LONG64:		return "64-bit mode";
	default:			return "?";
	}
}

const char *hvt_ucall_str(const struct ucall *uc, char *buf, size_t size)
{
	switch (uc->cmd) {
	case UCALL_SYNC:
		snprintf(buf, size, "GUEST_SYNC(%#llx, %#llx, %#llx, %#llx, %#llx)",
			 (unsigned long long)uc->args[0], (unsigned long long)uc->args[1],
			 (unsigned long long)uc->args[2], (unsigned long long)uc->args[3],
			 (unsigned long long)uc->args[4]);
		break;
	case UCALL_DONE:
		snprintf(buf, size, "GUEST_DONE");
		break;
	case UCALL_ABORT:
		if (uc->has_values)
			snprintf(buf, size, "guest assertion failed at %s:%llu: %s (%#llx vs %#llx)",
				 uc->file, (unsigned long long)uc->line, uc->expr,
				 (unsigned long long)uc->args[0], (unsigned long long)uc->args[1]);
		else
			snprintf(buf, size, "guest assertion failed at %s:%llu: %s",
				 uc->file, (unsigned long long)uc->line, uc->expr);
		break;
	case UCALL_EXCEPTION:
		snprintf(buf, size, "unexpected exception %s (vector %llu), error code %#llx, at RIP %#llx (CR2 %#llx)",
			 hvt_vector_name(uc->args[0]), (unsigned long long)uc->args[0],
			 (unsigned long long)uc->args[1], (unsigned long long)uc->args[2],
			 (unsigned long long)uc->args[3]);
		break;
	default:
		snprintf(buf, size, "ucall %llu", (unsigned long long)uc->cmd);
		break;
	}
	return buf;
}

const char *hvt_exit_str(struct hvt_vcpu *vcpu, char *buf, size_t size)
{
	const struct hvlab_run *run = vcpu->run;
	struct hvlab_sregs sregs;
	struct hvlab_regs regs;
	struct ucall uc;
	char ubuf[384];
	size_t n = 0;
	unsigned int i;
	int ret;

#define ADD(...) do { if (n < size) n += snprintf(buf + n, size - n, __VA_ARGS__); } while (0)
	ADD("%s", hvlab_exit_name(run->exit_reason));
	switch (run->exit_reason) {
	case HVLAB_EXIT_IO:
		ret = hvt_get_ucall(vcpu, &uc);
		if (ret > 0) {
			ADD(" (ucall: %s)", hvt_ucall_str(&uc, ubuf, sizeof(ubuf)));
			break;
		}
		ADD(" %s port %#x size %u count %u", run->io.direction == HVLAB_IO_OUT ? "OUT" : "IN",
		    run->io.port, run->io.size, run->io.count);
		if (run->io.direction == HVLAB_IO_OUT)
			ADD(" data %#llx", (unsigned long long)hvt_io_data(run));
		if (ret < 0)
			ADD(" (bad ucall: %s)", strerror(-ret));
		break;
	case HVLAB_EXIT_MMIO: {
		uint64_t d = 0;

		memcpy(&d, run->mmio.data, sizeof(d));
		ADD(" %s gpa %#llx len %u", run->mmio.is_write ? "write" : "read",
		    (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		if (run->mmio.is_write)
			ADD(" data %#llx", (unsigned long long)d);
		break;
	}
	case HVLAB_EXIT_FAIL_ENTRY:
		ADD(" hardware reason %#llx qualification %#llx field %#x: %.96s",
		    (unsigned long long)run->fail_entry.hardware_reason,
		    (unsigned long long)run->fail_entry.qualification, run->fail_entry.field,
		    run->fail_entry.rule);
		break;
	case HVLAB_EXIT_INTERNAL:
		ADD(" suberror %u data", run->internal.suberror);
		for (i = 0; i < run->internal.ndata && i < 16; i++)
			ADD(" %#llx", (unsigned long long)run->internal.data[i]);
		break;
	default:
		break;
	}
	ADD(" (vendor reason %#llx)", (unsigned long long)run->vendor_reason);
	if (!hvlab_get_regs(vcpu->fd, &regs))
		ADD(" at RIP %#llx RSP %#llx", (unsigned long long)regs.rip,
		    (unsigned long long)regs.rsp);
	/* Where things went wrong, the mode the vCPU was in tells a lot. */
	if (run->exit_reason != HVLAB_EXIT_IO && run->exit_reason != HVLAB_EXIT_MMIO &&
	    run->exit_reason != HVLAB_EXIT_HLT && !hvlab_get_sregs(vcpu->fd, &sregs))
		ADD("; CS %#x base %#llx L%u D%u, CR0 %#llx CR3 %#llx CR4 %#llx EFER %#llx",
		    sregs.cs.selector, (unsigned long long)sregs.cs.base, sregs.cs.l, sregs.cs.db,
		    (unsigned long long)sregs.cr0, (unsigned long long)sregs.cr3,
		    (unsigned long long)sregs.cr4, (unsigned long long)sregs.efer);
#undef ADD
	return buf;
}
