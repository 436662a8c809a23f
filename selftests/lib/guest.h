/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guest.h - guest code for the selftests: VMs whose guest is part of the
 * test binary itself, as in KVM's selftests, and "ucall", the one port-I/O
 * instruction by which the guest talks back to the test.
 *
 * How it works.  hvt_vm_create() gives a VM guest RAM at guest-physical 0
 * and copies the test binary's own PT_LOAD segments into it at
 * guest-physical = virtual address (the tests are static, non-PIE, linked
 * at 0x400000).  Page tables map guest-linear = guest-physical, so a
 * function of the test binary runs in the guest at the same address, and
 * its globals and string literals are where the host expects them (in the
 * guest's own copy of them, taken when the VM was created).  Below the
 * binary the library builds what each CPU mode needs:
 *
 *   0x00000  real-mode IVT (256 far pointers to the 16-bit stubs)
 *   0x01000  16-bit exception stubs (copied there: real mode cannot reach
 *            the binary above 1 MiB)
 *   0x02200 .. 0x06fff  real-mode stack (SS:SP = 0:7000)
 *   0x07000  HVT_RAW_DATA_GPA: a scratch page for raw-code tests
 *   0x08000  HVT_RAW_CODE_GPA: raw code is copied here (32 KiB at most)
 *   0x10000  GDT, TSS, 64-bit IDT, 32-bit IDT, page tables (4-level with
 *            2 MiB pages covering max(8 GiB, RAM); a 32-bit PSE directory
 *            of 4 MiB pages covering 4 GiB), one 16 KiB stack per vCPU
 *   0x400000 the test binary
 * With HVT_VM_PC_HOLE, [0xa0000, 0x100000) has no RAM (as on a PC), so
 * every CPU mode, real mode included, can reach MMIO and ROM there.
 *
 * GDT: 0x08 64-bit code, 0x10 flat data, 0x18 flat 32-bit code, 0x28 TSS.
 * Every exception vector has a handler: in 64-bit mode a C dispatcher
 * that runs the handler installed with hvt_vm_install_handler(), else
 * honours a GUEST_ASM_SAFE() fixup, else reports UCALL_EXCEPTION; in
 * 32-bit and real mode a stub that reports UCALL_EXCEPTION.  The host sees
 * an unexpected exception as "unexpected exception #GP (13) ... at RIP".
 *
 * Writing guest code in C: mark the function GUEST_CODE and have the
 * test's .c file include this header.  selftests/Makefile compiles every
 * test_*.c that includes "guest.h" with GUEST_CFLAGS:
 *   -ffreestanding -fno-builtin -fno-stack-protector -mno-red-zone
 *   -fcf-protection=none -fno-tree-loop-distribute-patterns
 * which are harmless for the host code in the same file, and GUEST_CODE
 * adds target("general-regs-only") per function (the host code in the file
 * may still use floating point).  Without GUEST_CFLAGS, GUEST_CODE is a
 * compile error.  Why: the guest has no XSAVE/AVX state and no TLS, and
 * an exception in 64-bit mode pushes its frame below RSP (no red zone).
 * Rules for guest code:
 *   - no libc, not even memcpy/memset: glibc's are AVX ifunc variants.
 *     Use guest_memset()/guest_memcpy(); avoid copying big structs by value
 *     (gcc emits memcpy calls for those even when freestanding).
 *   - call only GUEST_CODE functions and the GUEST_INLINE helpers below.
 *   - RSP starts 16 KiB above the bottom of the vCPU's stack; returning
 *     from the guest function is GUEST_DONE().
 *   - globals are the guest's own copy: use hvt_guest_ptr() on the host.
 *
 * Raw code (real mode, 32-bit, or 64-bit asm): HVT_ASM() assembles text
 * for one mode into the test binary, HVT_ASM_MODES() the same text for
 * 16, 32 and 64 bits; hvt_vcpu_enter_raw() copies it to HVT_RAW_CODE_GPA
 * and starts it there in the mode asked for.  It must not refer to its
 * own labels by absolute address (relative jumps are fine).
 *
 * ucall, the guest-to-host call (port UCALL_PORT = 0xe8):
 *   OUT of 4 bytes: EAX is the guest address (below 4 GiB) of a
 *       struct guest_ucall (64-bit C guests: GUEST_SYNC() and friends)
 *   OUT of 1 byte: "register form" for asm guests: AL = the command,
 *       args[0..4] = RBX, RCX, RDX, RSI, RDI (HVT_ASM_UCALL(cmd))
 * The host decodes both with hvt_get_ucall() into a struct ucall.
 *
 * Host functions return 0 (or a value >= 0) or -errno, like libhvlab.
 * The HVT_* macros at the end are for kselftest-harness tests: they
 * ASSERT (so: only from the test's own thread) and print what the guest
 * did instead when an expectation fails.
 */
#ifndef HVT_GUEST_H
#define HVT_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hvtest.h"

/* ---------------------------------------------------------------------
 * Shared by guest and host
 */

#define UCALL_PORT		0xe8

/* Plain numbers: HVT_ASM_UCALL() pastes them into assembler text. */
#define UCALL_NONE		0
#define UCALL_SYNC		1	/* args: whatever the guest reports */
#define UCALL_DONE		2	/* the guest finished */
#define UCALL_ABORT		3	/* GUEST_ASSERT failed: file, line, expr, args[0..1] */
#define UCALL_EXCEPTION		4	/* args: vector, error code, RIP, CR2 */

#define UCALL_MAX_ARGS		5

/* What a 64-bit C guest puts in its memory for a 4-byte ucall. */
struct guest_ucall {
	uint64_t cmd;
	uint64_t args[UCALL_MAX_ARGS];
	uint64_t file;		/* guest address of a string, or 0 */
	uint64_t expr;		/* guest address of a string, or 0 */
	uint64_t line;
	uint64_t has_values;	/* ABORT: args[0..1] are the compared values */
};

/* Registers saved by the 64-bit exception entry, in push order reversed. */
struct guest_ex_regs {
	uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;	/* the CPU's frame */
};

typedef void (*guest_handler_t)(struct guest_ex_regs *regs);

/* CPU modes a vCPU can be started in. */
enum hvt_mode {
	HVT_MODE_REAL,			/* CS:IP = 0:8000, SS:SP = 0:7000 */
	HVT_MODE_PROT32,		/* flat 32-bit segments, paging off */
	HVT_MODE_PROT32_PAGING,		/* same, 4 MiB identity pages (CR4.PSE) */
	HVT_MODE_LONG64,		/* 64-bit mode, 2 MiB identity pages */
	HVT_NR_MODES
};

/* Vectors with an error code (SDM Vol. 3A 6.3.1 Table 6-1, APM Vol. 2 8.2). */
#define HVT_VEC_HAS_ERRCODE(v) \
	((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || \
	 (v) == 29 || (v) == 30)

#define GP_VECTOR	13
#define UD_VECTOR	6
#define PF_VECTOR	14

/* ---------------------------------------------------------------------
 * Guest side (64-bit C)
 */

#ifdef HVT_GUEST_CFLAGS
#define GUEST_CODE	__attribute__((target("general-regs-only"), no_stack_protector, noinline, used))
#else
#define GUEST_CODE	_Pragma("GCC error \"guest code needs GUEST_CFLAGS: see selftests/lib/guest.h\"")
#endif
/* Helpers guest code may inline (harmless in host code). */
#define GUEST_INLINE	static inline __attribute__((target("general-regs-only"), always_inline, unused))

/* In guest_code.c (compiled with the guest flags). */
void guest_ucall(uint64_t cmd, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4);
void guest_ucall_assert(const char *file, uint64_t line, const char *expr,
			bool has_values, uint64_t a, uint64_t b) __attribute__((noreturn));
void guest_memset(void *dst, int c, size_t n);
void guest_memcpy(void *dst, const void *src, size_t n);
/* The handler table the 64-bit dispatcher uses (the guest's copy!). */
extern guest_handler_t guest_exception_handlers[256];

#define GUEST_SYNC(arg)			guest_ucall(UCALL_SYNC, (uint64_t)(arg), 0, 0, 0, 0)
#define GUEST_SYNC_ARGS(a, b, c, d)	guest_ucall(UCALL_SYNC, (uint64_t)(a), (uint64_t)(b), \
						    (uint64_t)(c), (uint64_t)(d), 0)
#define GUEST_DONE()			guest_ucall(UCALL_DONE, 0, 0, 0, 0, 0)
#define GUEST_FAIL(msg)			guest_ucall_assert(__FILE__, __LINE__, msg, false, 0, 0)
#define GUEST_ASSERT(cond) do {							\
	if (!(cond))								\
		guest_ucall_assert(__FILE__, __LINE__, #cond, false, 0, 0);	\
} while (0)
#define __GUEST_ASSERT_CMP(a, op, b) do {					\
	uint64_t __ga = (uint64_t)(a), __gb = (uint64_t)(b);			\
	if (!(__ga op __gb))							\
		guest_ucall_assert(__FILE__, __LINE__, #a " " #op " " #b,	\
				   true, __ga, __gb);				\
} while (0)
#define GUEST_ASSERT_EQ(a, b)	__GUEST_ASSERT_CMP(a, ==, b)
#define GUEST_ASSERT_NE(a, b)	__GUEST_ASSERT_CMP(a, !=, b)

GUEST_INLINE void guest_outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory"); }
GUEST_INLINE void guest_outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory"); }
GUEST_INLINE void guest_outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory"); }
GUEST_INLINE uint8_t guest_inb(uint16_t port) { uint8_t v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory"); return v; }
GUEST_INLINE uint16_t guest_inw(uint16_t port) { uint16_t v; asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory"); return v; }
GUEST_INLINE uint32_t guest_inl(uint16_t port) { uint32_t v; asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory"); return v; }
GUEST_INLINE void guest_hlt(void) { asm volatile("hlt" : : : "memory"); }

GUEST_INLINE void guest_cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b,
			      uint32_t *c, uint32_t *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

GUEST_INLINE uint64_t guest_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
	return lo | (uint64_t)hi << 32;
}

GUEST_INLINE void guest_wrmsr(uint32_t msr, uint64_t v)
{
	asm volatile("wrmsr" : : "a"((uint32_t)v), "d"((uint32_t)(v >> 32)), "c"(msr) : "memory");
}

/*
 * GUEST_ASM_SAFE(insn): run one instruction; if it faults, the dispatcher
 * skips it and the vector comes back instead of a UCALL_EXCEPTION (the
 * idea of KVM selftests' KVM_ASM_SAFE).  R9 holds a magic value and R10/R11
 * the addresses of the instruction and of the resume point while it runs;
 * afterwards R9b is the vector (0: no fault) and R10 the error code.
 */
#define GUEST_EX_MAGIC	0x4856544558ull	/* "HVTEX" */
#define GUEST_ASM_SAFE(insn)					\
	"mov $" __hvt_str(GUEST_EX_MAGIC) ", %%r9\n\t"		\
	"lea 1f(%%rip), %%r10\n\t"				\
	"lea 2f(%%rip), %%r11\n\t"				\
	"1: " insn "\n\t"					\
	"xor %%r9d, %%r9d\n\t"					\
	"2:\n\t"						\
	"mov %%r9b, %[vector]\n\t"
#define GUEST_ASM_SAFE_CLOBBERS	"r9", "r10", "r11", "memory"
#define __hvt_str(x)	__hvt_str2(x)
#define __hvt_str2(x)	#x

/* RDMSR/WRMSR that return the exception vector (0: none) instead of dying. */
GUEST_INLINE uint8_t guest_rdmsr_safe(uint32_t msr, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;
	uint8_t vector;

	asm volatile(GUEST_ASM_SAFE("rdmsr")
		     : [vector] "=qm"(vector), "+a"(lo), "+d"(hi)
		     : "c"(msr) : GUEST_ASM_SAFE_CLOBBERS);
	*val = lo | (uint64_t)hi << 32;
	return vector;
}

GUEST_INLINE uint8_t guest_wrmsr_safe(uint32_t msr, uint64_t val)
{
	uint8_t vector;

	asm volatile(GUEST_ASM_SAFE("wrmsr")
		     : [vector] "=qm"(vector)
		     : "a"((uint32_t)val), "d"((uint32_t)(val >> 32)), "c"(msr)
		     : GUEST_ASM_SAFE_CLOBBERS);
	return vector;
}

/* ---------------------------------------------------------------------
 * Raw code: assembler text for one CPU mode, copied into the guest
 */

/* Where hvt_vcpu_enter_raw() puts the code, and a scratch data page. */
#define HVT_RAW_CODE_GPA	0x8000ull
#define HVT_RAW_CODE_MAX	0x8000ull
#define HVT_RAW_DATA_GPA	0x7000ull
/* Real-mode stack top (SS = 0). */
#define HVT_REAL_STACK_TOP	0x7000ull

struct hvt_code {
	const char *start, *end;
};

/*
 * Assemble @text as @bits-bit code (16, 32 or 64) between symbols @sym and
 * @sym_end in section .text.hvt_asm, and declare both for C.
 */
#define HVT_ASM(sym, bits, text)						\
	asm(".pushsection .text.hvt_asm, \"ax\", @progbits\n"			\
	    ".code" #bits "\n"							\
	    #sym ":\n"								\
	    text "\n"								\
	    #sym "_end:\n"							\
	    ".code64\n"								\
	    ".popsection\n");							\
	extern const char sym[], sym##_end[]

/* A label inside HVT_ASM text whose address the host wants: @p is the symbol. */
#define HVT_ASM_LABEL(p, l)	#p "_" #l ":\n"

/*
 * The same text, a function-like macro BODY(prefix), for all three code
 * sizes: defines name_16, name_32, name_64 and struct hvt_code name[3]
 * (index with hvt_code_for()).  Labels made with HVT_ASM_LABEL(p, l) in
 * BODY are declared for the host by HVT_ASM_MODES_LABEL(name, l).
 */
#define HVT_ASM_MODES(name, BODY)						\
	HVT_ASM(name##_16, 16, BODY(name##_16));				\
	HVT_ASM(name##_32, 32, BODY(name##_32));				\
	HVT_ASM(name##_64, 64, BODY(name##_64));				\
	static const struct hvt_code name[3] __attribute__((unused)) = {	\
		{ name##_16, name##_16_end },					\
		{ name##_32, name##_32_end },					\
		{ name##_64, name##_64_end },					\
	}
#define HVT_ASM_MODES_LABEL(name, l)						\
	extern const char name##_16_##l[], name##_32_##l[], name##_64_##l[];	\
	static const char *const name##_##l[3] __attribute__((unused)) = {	\
		name##_16_##l, name##_32_##l, name##_64_##l,			\
	}

/* Index into HVT_ASM_MODES arrays for @mode: 0 (16-bit), 1 (32), 2 (64). */
static inline unsigned int hvt_code_index(enum hvt_mode mode)
{
	return mode == HVT_MODE_REAL ? 0 : mode == HVT_MODE_LONG64 ? 2 : 1;
}
#define hvt_code_for(name, mode)	(&(name)[hvt_code_index(mode)])
#define hvt_label_for(name, l, mode)	((name##_##l)[hvt_code_index(mode)])

/* Guest address of @label inside @code once copied by hvt_vcpu_enter_raw(). */
static inline uint64_t hvt_raw_gpa(const struct hvt_code *code, const char *label)
{
	return HVT_RAW_CODE_GPA + (uint64_t)(label - code->start);
}

/* The register-form ucall, for assembler text (clobbers AL). */
#define HVT_ASM_UCALL(cmd)	"mov $" __hvt_str(cmd) ", %al\n\tout %al, $" __hvt_str(UCALL_PORT) "\n\t"

/* ---------------------------------------------------------------------
 * Host side
 */

#define HVT_MAX_VCPUS		16
#define HVT_STACK_SIZE		0x4000ull
/* What a test says when RUN cannot work here (Intel until VMX runs guests). */
#define HVT_NO_RUN_REASON	"VMX backend cannot run guests yet (HVLAB_CAP_RUN=0)"

/* hvt_vm_create() flags */
#define HVT_VM_PC_HOLE		(1u << 0)	/* no RAM in [0xa0000, 0x100000) */
#define HVT_VM_LAPIC		(1u << 1)	/* HVLAB_VM_LAPIC: in-kernel local APICs */
#define HVT_PC_HOLE_START	0xa0000ull
#define HVT_PC_HOLE_END		0x100000ull
/* Slots the VM helper uses; tests add theirs from HVT_FIRST_FREE_SLOT. */
#define HVT_FIRST_FREE_SLOT	2

struct hvt_vm;

struct hvt_vcpu {
	struct hvt_vm *vm;
	unsigned int id;
	int fd;
	struct hvlab_run *run;
	uint64_t stack_top;	/* guest address, 16-byte aligned */
};

struct hvt_vm {
	int sys_fd, fd;
	uint8_t *mem;		/* guest-physical 0 .. mem_size, one mapping */
	uint64_t mem_size;
	unsigned int flags;
	int run_size;
	uint64_t next_page;	/* bump allocator for the structures below */
	uint64_t gdt, tss, idt64, idt32, pml4, pd32;
	struct hvt_vcpu *vcpus[HVT_MAX_VCPUS];
};

/*
 * Open /dev/hvlab and create a VM with @mem_size bytes of RAM (rounded up
 * to 2 MiB, at least enough for the test binary) at guest-physical 0,
 * holding a copy of this binary and the structures described at the top.
 * Fails with -ENOEXEC if this binary is not a non-PIE executable.
 */
int hvt_vm_create(uint64_t mem_size, unsigned int flags, struct hvt_vm **vm);
/* Close every fd, unmap the run pages and guest RAM.  NULL is fine. */
void hvt_vm_free(struct hvt_vm *vm);
/* Create vCPU @id (with its guest stack and run page). */
int hvt_vcpu_add(struct hvt_vm *vm, unsigned int id, struct hvt_vcpu **vcpu);

/* Host pointer to guest-physical [@gpa, @gpa + @len) of RAM, or NULL. */
void *hvt_gpa2hva(struct hvt_vm *vm, uint64_t gpa, uint64_t len);
/* The guest's copy of an object of this binary, e.g. *hvt_guest_ptr(vm, &flag) = 1. */
#define hvt_guest_ptr(vm, ptr)	((__typeof__(ptr))hvt_gpa2hva((vm), (uintptr_t)(ptr), sizeof(*(ptr))))

/* 64-bit mode: vector @vector calls @handler (NULL: default behaviour). */
int hvt_vm_install_handler(struct hvt_vm *vm, unsigned int vector, guest_handler_t handler);

/*
 * Route vector @vector, in the IDT the library gives @mode (the IVT in
 * real mode), to guest address @gpa instead of the library's stub: a
 * 64-bit or 32-bit interrupt gate (IF cleared on entry) with the mode's
 * code selector, or IVT entry 0:@gpa (@gpa below 64 KiB).  For raw-code
 * handlers, e.g. at hvt_raw_gpa() of a label.
 */
int hvt_vm_set_gate(struct hvt_vm *vm, enum hvt_mode mode, unsigned int vector, uint64_t gpa);

/* Put the vCPU in @mode: segments, control registers, EFER, GDT/IDT. */
int hvt_vcpu_set_mode(struct hvt_vcpu *vcpu, enum hvt_mode mode);
/*
 * Start the 64-bit C function @fn(@arg0, @arg1) on its own stack: RIP,
 * RDI, RSI, RSP; other GPRs 0, RFLAGS 2.  Returning from @fn is a GUEST_DONE.
 */
int hvt_vcpu_enter_c(struct hvt_vcpu *vcpu, void *fn, uint64_t arg0, uint64_t arg1);
/*
 * Copy @code to HVT_RAW_CODE_GPA and start it there in @mode with every
 * GPR 0 except RSP (the vCPU's stack; SP = HVT_REAL_STACK_TOP in real mode).
 */
int hvt_vcpu_enter_raw(struct hvt_vcpu *vcpu, enum hvt_mode mode, const struct hvt_code *code);

/* HVLAB_RUN once. */
int hvt_vcpu_run(struct hvt_vcpu *vcpu);

/* A ucall as the host sees it; strings point into guest RAM (or ""). */
struct ucall {
	uint64_t cmd;			/* UCALL_* */
	uint64_t args[UCALL_MAX_ARGS];
	const char *file, *expr;
	uint64_t line;
	bool has_values;
	bool reg_form;			/* 1-byte OUT: args came from registers */
};

/*
 * Is the current exit a ucall?  Returns its command (> 0) and fills @uc,
 * UCALL_NONE (0) if the exit is something else, or -errno (e.g. -EFAULT:
 * the struct's address is outside guest RAM; -EPROTO: bad size).
 */
int hvt_get_ucall(struct hvt_vcpu *vcpu, struct ucall *uc);
/* RUN, then hvt_get_ucall(); a RUN failure is returned as its -errno. */
int hvt_vcpu_run_ucall(struct hvt_vcpu *vcpu, struct ucall *uc);

/* Human-readable text for the current exit (a ucall is decoded too). */
const char *hvt_exit_str(struct hvt_vcpu *vcpu, char *buf, size_t size);
const char *hvt_ucall_str(const struct ucall *uc, char *buf, size_t size);
/* "#GP" for 13, ... */
const char *hvt_vector_name(unsigned int vector);
const char *hvt_mode_name(enum hvt_mode mode);

/* Data of an IO exit, and a value of @size bytes (for OUT, or to answer an IN). */
uint64_t hvt_io_data(const struct hvlab_run *run);
void hvt_io_set_data(struct hvlab_run *run, uint64_t val);

/* The symbols of the 16-bit stub blob (guest_code.c), for the loader. */
extern const char guest_stubs16[], guest_stubs16_end[];
extern const char guest_stubs32[];
extern const char guest_stubs64[];
extern const char guest_return_stub[];

/* ---------------------------------------------------------------------
 * For kselftest-harness tests (need _metadata, the test's own thread)
 */

/* SKIP unless this module can run guests (a capability, not the vendor). */
#define HVT_REQUIRE_RUN() do {							\
	int __sys = hvlab_open(), __cap;					\
	ASSERT_LE(0, __sys) TH_LOG("open %s: %s", HVLAB_DEV_PATH, strerror(-__sys)); \
	__cap = hvlab_check_cap(__sys, HVLAB_CAP_RUN);				\
	close(__sys);								\
	ASSERT_LE(0, __cap) TH_LOG("CHECK_CAP(RUN): %s", strerror(-__cap));	\
	if (__cap == 0)								\
		SKIP(return, HVT_NO_RUN_REASON);				\
} while (0)

/*
 * A 6.1 harness runs the test body even after SKIP() in the setup: make
 * this the body's first statement, before anything touches self->.
 */
#define HVT_SKIPPED_IN_SETUP() do { if (_metadata->skip) return; } while (0)

/*
 * The usual FIXTURE_SETUP of a run test: hvlab loaded, RUN available (or
 * SKIP), self->vm created with hvt_vm_create(0, @flags) and self->vcpu as
 * its vCPU 0.
 */
#define HVT_SETUP_VM_VCPU(flags) do {						\
	int __sr;								\
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());				\
	HVT_REQUIRE_RUN();							\
	__sr = hvt_vm_create(0, (flags), &self->vm);				\
	ASSERT_EQ(0, __sr) TH_LOG("VM: %s", strerror(-__sr));			\
	__sr = hvt_vcpu_add(self->vm, 0, &self->vcpu);				\
	ASSERT_EQ(0, __sr) TH_LOG("vCPU: %s", strerror(-__sr));		\
} while (0)

/*
 * A fixture @name whose tests run once in each CPU mode (variant->mode):
 * real, 32-bit without and with paging, 64-bit; self->vm (created with
 * @vm_flags) and self->vcpu as in HVT_SETUP_VM_VCPU().  Raw code enters
 * with HVT_MODE_ENTER(code) and its labels are HVT_MODE_LABEL(code, l).
 */
#define HVT_MODE_FIXTURE(name, vm_flags)					\
FIXTURE(name) {								\
	struct hvt_vm *vm;						\
	struct hvt_vcpu *vcpu;						\
};									\
FIXTURE_VARIANT(name) {							\
	enum hvt_mode mode;						\
};									\
FIXTURE_VARIANT_ADD(name, real) { .mode = HVT_MODE_REAL };		\
FIXTURE_VARIANT_ADD(name, prot32) { .mode = HVT_MODE_PROT32 };		\
FIXTURE_VARIANT_ADD(name, prot32_paging) { .mode = HVT_MODE_PROT32_PAGING }; \
FIXTURE_VARIANT_ADD(name, long64) { .mode = HVT_MODE_LONG64 };		\
FIXTURE_SETUP(name)							\
{									\
	HVT_SETUP_VM_VCPU(vm_flags);					\
	TH_LOG("%s", hvt_mode_name(variant->mode));			\
}									\
FIXTURE_TEARDOWN(name)							\
{									\
	hvt_vm_free(self->vm);						\
}

#define HVT_MODE_ENTER(code) do {						\
	int __r = hvt_vcpu_enter_raw(self->vcpu, variant->mode,			\
				     hvt_code_for(code, variant->mode));	\
	ASSERT_EQ(0, __r) TH_LOG("enter: %s", strerror(-__r));			\
} while (0)

#define HVT_MODE_LABEL(code, l)	hvt_raw_gpa(hvt_code_for(code, variant->mode),	\
					    hvt_label_for(code, l, variant->mode))

/* RUN and expect exit @reason; on anything else, say what happened. */
#define HVT_RUN_EXPECT_EXIT(vcpu, reason) do {					\
	char __hb[512];								\
	int __hr = hvt_vcpu_run(vcpu);						\
	ASSERT_EQ(0, __hr) TH_LOG("RUN: %s", strerror(-__hr));			\
	ASSERT_EQ((unsigned int)(reason), (vcpu)->run->exit_reason)		\
		TH_LOG("expected exit %s, got %s", hvlab_exit_name(reason),	\
		       hvt_exit_str(vcpu, __hb, sizeof(__hb)));			\
} while (0)

/* The current exit must be ucall @cmd: fills *(ucp). */
#define HVT_EXPECT_UCALL(vcpu, want, ucp) do {					\
	char __hb[512];								\
	int __hc = hvt_get_ucall(vcpu, ucp);					\
	ASSERT_EQ((int)(want), __hc)						\
		TH_LOG("expected ucall %d, got %s", (int)(want),		\
		       hvt_exit_str(vcpu, __hb, sizeof(__hb)));			\
} while (0)

/* RUN, expect ucall @cmd. */
#define HVT_RUN_EXPECT_UCALL(vcpu, want, ucp) do {				\
	int __hr2 = hvt_vcpu_run(vcpu);						\
	ASSERT_EQ(0, __hr2) TH_LOG("RUN: %s", strerror(-__hr2));		\
	HVT_EXPECT_UCALL(vcpu, want, ucp);					\
} while (0)

/* RUN, expect GUEST_SYNC(@arg0). */
#define HVT_RUN_EXPECT_SYNC(vcpu, arg0) do {					\
	struct ucall __huc;							\
	HVT_RUN_EXPECT_UCALL(vcpu, UCALL_SYNC, &__huc);				\
	ASSERT_EQ((uint64_t)(arg0), __huc.args[0]);				\
} while (0)

#define HVT_RUN_EXPECT_DONE(vcpu) do {						\
	struct ucall __huc;							\
	HVT_RUN_EXPECT_UCALL(vcpu, UCALL_DONE, &__huc);				\
} while (0)

#endif /* HVT_GUEST_H */
