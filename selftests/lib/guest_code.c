// SPDX-License-Identifier: GPL-2.0
/*
 * guest_code.c - the guest half of the selftests' guest library (guest.h):
 * ucall, the exception entry stubs for 64-bit, 32-bit and real mode, the
 * 64-bit exception dispatcher, and what runs when a guest function returns.
 *
 * Everything here runs inside guests, never on the host: selftests/Makefile
 * builds this file with GUEST_CFLAGS and -mgeneral-regs-only.
 */
#include "guest.h"

#ifndef HVT_GUEST_CFLAGS
#error "guest_code.c must be built with GUEST_CFLAGS (see selftests/Makefile)"
#endif

guest_handler_t guest_exception_handlers[256];

/*
 * The struct lives on the guest stack, which is below 4 GiB, so a 32-bit
 * OUT carries its address.  The "memory" clobber of guest_outl() makes the
 * stores land before the exit.
 */
void guest_ucall(uint64_t cmd, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4)
{
	struct guest_ucall uc = {
		.cmd = cmd,
		.args = { a0, a1, a2, a3, a4 },
	};

	guest_outl(UCALL_PORT, (uint32_t)(uintptr_t)&uc);
}

void guest_ucall_assert(const char *file, uint64_t line, const char *expr,
			bool has_values, uint64_t a, uint64_t b)
{
	struct guest_ucall uc = {
		.cmd = UCALL_ABORT,
		.args = { a, b },
		.file = (uintptr_t)file,
		.expr = (uintptr_t)expr,
		.line = line,
		.has_values = has_values,
	};

	/* The test is over: a host that runs us again finds us halted. */
	for (;;) {
		guest_outl(UCALL_PORT, (uint32_t)(uintptr_t)&uc);
		guest_hlt();
	}
}

void guest_memset(void *dst, int c, size_t n)
{
	volatile uint8_t *d = dst;

	while (n--)
		*d++ = c;
}

void guest_memcpy(void *dst, const void *src, size_t n)
{
	volatile uint8_t *d = dst;
	const volatile uint8_t *s = src;

	while (n--)
		*d++ = *s++;
}

/* Called by guest_stubs64_common with the frame it built. */
void guest_exception_dispatch(struct guest_ex_regs *regs);
void guest_exception_dispatch(struct guest_ex_regs *regs)
{
	guest_handler_t handler = guest_exception_handlers[regs->vector & 0xff];
	uint64_t cr2;

	if (handler) {
		handler(regs);
		return;
	}
	/* GUEST_ASM_SAFE(): skip the instruction, hand back vector and code. */
	if (regs->r9 == GUEST_EX_MAGIC && regs->rip == regs->r10) {
		regs->rip = regs->r11;
		regs->r9 = regs->vector;
		regs->r10 = regs->error_code;
		return;
	}
	asm volatile("mov %%cr2, %0" : "=r"(cr2));
	for (;;) {
		guest_ucall(UCALL_EXCEPTION, regs->vector, regs->error_code, regs->rip, cr2, 0);
		guest_hlt();
	}
}

/* A guest function returned: that is GUEST_DONE(). */
void guest_returned(void);
void guest_returned(void)
{
	for (;;) {
		GUEST_DONE();
		guest_hlt();
	}
}

/*
 * The exception entry stubs, one per vector, 16 bytes apart so a gate's
 * offset is stubs + 16 * vector.  Each pushes a zero error code when the
 * CPU pushes none (so every frame looks alike) and its vector.
 *
 * 64-bit: save the GPRs as struct guest_ex_regs, call the dispatcher,
 * restore (it may have changed RIP and registers), IRETQ.  The CPU aligned
 * RSP to 16 before pushing its frame (SDM Vol. 3A 6.14.2); frame + error
 * code + vector + 15 GPRs = 22 quadwords keeps it aligned for the call.
 *
 * 32-bit and real mode have no dispatcher: the stub reports a register-form
 * UCALL_EXCEPTION (EBX vector, ECX error code, EDX EIP/IP, ESI CR2) and
 * halts.  The 16-bit blob is position independent: the VM loader copies it
 * below 1 MiB and points the IVT at it.
 */
#define STR(x)	__hvt_str(x)
#define ERRCODE_COND "(vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)"

asm(
	".pushsection .text.hvt_guest, \"ax\", @progbits\n"

	/* ---- 64-bit ---- */
	".code64\n"
	".balign 16\n"
	".globl guest_stubs64\n"
	"guest_stubs64:\n"
	".set vec, 0\n"
	".rept 256\n"
	"	.balign 16\n"
	"	.if " ERRCODE_COND "\n"
	"	.else\n"
	"	pushq $0\n"
	"	.endif\n"
	"	pushq $vec\n"
	"	jmp guest_stubs64_common\n"
	"	.set vec, vec + 1\n"
	".endr\n"
	"guest_stubs64_common:\n"
	"	push %r15\n	push %r14\n	push %r13\n	push %r12\n"
	"	push %r11\n	push %r10\n	push %r9\n	push %r8\n"
	"	push %rdi\n	push %rsi\n	push %rbp\n	push %rbx\n"
	"	push %rdx\n	push %rcx\n	push %rax\n"
	"	mov %rsp, %rdi\n"
	"	cld\n"
	"	call guest_exception_dispatch\n"
	"	pop %rax\n	pop %rcx\n	pop %rdx\n	pop %rbx\n"
	"	pop %rbp\n	pop %rsi\n	pop %rdi\n	pop %r8\n"
	"	pop %r9\n	pop %r10\n	pop %r11\n	pop %r12\n"
	"	pop %r13\n	pop %r14\n	pop %r15\n"
	"	add $16, %rsp\n"
	"	iretq\n"

	/* Return address of every guest function started by hvt_vcpu_enter_c(). */
	".balign 16\n"
	".globl guest_return_stub\n"
	"guest_return_stub:\n"
	"	and $-16, %rsp\n"
	"	call guest_returned\n"
	"1:	hlt\n"
	"	jmp 1b\n"

	/* ---- 32-bit ---- */
	".code32\n"
	".balign 16\n"
	".globl guest_stubs32\n"
	"guest_stubs32:\n"
	".set vec, 0\n"
	".rept 256\n"
	"	.balign 16\n"
	"	.if " ERRCODE_COND "\n"
	"	.else\n"
	"	pushl $0\n"
	"	.endif\n"
	"	pushl $vec\n"
	"	jmp guest_stubs32_common\n"
	"	.set vec, vec + 1\n"
	".endr\n"
	"guest_stubs32_common:\n"
	"	pop %ebx\n"			/* vector */
	"	pop %ecx\n"			/* error code */
	"	pop %edx\n"			/* EIP */
	"	mov %cr2, %esi\n"
	"	xor %edi, %edi\n"
	"1:	mov $" STR(UCALL_EXCEPTION) ", %al\n"
	"	out %al, $" STR(UCALL_PORT) "\n"
	"	hlt\n"
	"	jmp 1b\n"

	/* ---- 16-bit (real mode), copied below 1 MiB ---- */
	".code16\n"
	".balign 16\n"
	".globl guest_stubs16\n"
	"guest_stubs16:\n"
	".set vec, 0\n"
	".rept 256\n"
	"	.balign 16\n"
	"	pushw $vec\n"
	"	jmp guest_stubs16_common\n"
	"	.set vec, vec + 1\n"
	".endr\n"
	"guest_stubs16_common:\n"
	"	xor %ebx, %ebx\n"
	"	pop %bx\n"			/* vector */
	"	xor %edx, %edx\n"
	"	pop %dx\n"			/* IP; CS and FLAGS stay */
	"	xor %ecx, %ecx\n"		/* real mode pushes no error code */
	"	mov %cr2, %esi\n"
	"	xor %edi, %edi\n"
	"1:	mov $" STR(UCALL_EXCEPTION) ", %al\n"
	"	out %al, $" STR(UCALL_PORT) "\n"
	"	hlt\n"
	"	jmp 1b\n"
	".globl guest_stubs16_end\n"
	"guest_stubs16_end:\n"

	".code64\n"
	".popsection\n");
