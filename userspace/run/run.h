/* SPDX-License-Identifier: GPL-2.0 */
/*
 * run.h - the pieces of hvlab-run and how they meet: the accelerator layer
 * (one small ops table, filled by accel_hvlab.c and accel_kvm.c), the image
 * loaders (loader.c) and the userspace device model (devices.c).
 *
 * The device model never knows which accelerator runs the guest: both
 * report exits in the neutral struct vm_exit below and take interrupts
 * through accel_ops.inject_irq().  That is what makes --accel kvm a
 * reference for hvlab: only the hypervisor differs.
 */
#ifndef HVLAB_RUN_H
#define HVLAB_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hvlab.h>

/*
 * Exit statuses of hvlab-run (README, "hvlab-run").  A guest that writes
 * to the debug-exit port (0xF4) chooses the status itself (the byte it
 * wrote), so a test kernel should stay clear of 70-79.
 */
enum run_status {
	RUN_OK		= 0,	/* guest powered off (HLT with interrupts off) */
	RUN_USAGE	= 2,	/* bad command line */
	RUN_ACCEL	= 70,	/* accelerator missing or failing (/dev/hvlab, /dev/kvm) */
	RUN_IMAGE	= 71,	/* kernel/initrd missing, malformed, unsupported protocol */
	RUN_NOMEM	= 72,	/* --mem too small for the image, or too large */
	RUN_TRIPLE	= 73,	/* guest triple-faulted (shutdown) */
	RUN_RESET	= 74,	/* guest asked for a reset (0xCF9, 0x64, 0x92) */
	RUN_INTERNAL	= 75,	/* entry failure, internal error, unexpected exit */
	RUN_QUIT	= 76,	/* Ctrl-A x on the console */
	RUN_KILLED	= 77,	/* SIGTERM/SIGINT/SIGHUP: the guest's state is printed */
};

/* ---- the I/O APIC (ioapic.c) and the ACPI tables (acpi.c) */

#define IOAPIC_PINS	24
#define IOAPIC_BASE	0xfec00000u
#define IOAPIC_SIZE	0x1000u
#define ACPI_PM1A_EVT	0x600	/* PM1 status (2 bytes), enable (2 bytes) */
#define ACPI_PM1A_CNT	0x604	/* PM1 control (2 bytes) */
#define ACPI_PM_TMR	0x608	/* PM timer (4 bytes, 24 bits count) */

/* One level-triggered redirection entry as the MSI message it sends. */
struct ioapic_route {
	unsigned int pin;
	uint64_t addr;
	uint32_t data;
};

/* Where the I/O APIC's messages go (the accelerator, through hvlab-run.c). */
struct ioapic_sink {
	void (*msi)(void *ctx, uint64_t addr, uint32_t data);
	void (*level_routes)(void *ctx, const struct ioapic_route *r, unsigned int n);
	void *ctx;
};

struct ioapic {
	struct ioapic_sink sink;
	uint8_t id;		/* 4-bit APIC ID */
	uint8_t sel;		/* IOREGSEL */
	uint32_t lines;		/* pins asserted now */
	uint64_t redir[IOAPIC_PINS];
	uint64_t sent;		/* messages, for the post-mortem */
	bool extint_warned;
};

void ioapic_init(struct ioapic *io, const struct ioapic_sink *sink);
void ioapic_set_pin(struct ioapic *io, int pin, bool level);
void ioapic_eoi(struct ioapic *io, uint8_t vector);
void ioapic_mmio(struct ioapic *io, uint64_t off, bool write, uint8_t *data, uint32_t len);
void ioapic_dump(const struct ioapic *io);

struct guest;
/* RSDP, RSDT, FADT, FACS, DSDT, MADT for @ncpus CPUs; 0 or a RUN_* status */
int acpi_write_tables(struct guest *g, unsigned int ncpus, uint64_t *rsdp);

/* ---- accelerator layer */

enum vm_exit_kind {
	VMX_IO,		/* port I/O: io */
	VMX_MMIO,	/* access with no RAM behind it: mmio */
	VMX_HLT,	/* @if_flag: whether RFLAGS.IF was set */
	VMX_IRQ_WINDOW,	/* the guest can take an interrupt now */
	VMX_INTR,	/* RUN was interrupted (signal, immediate exit) */
	VMX_SHUTDOWN,	/* triple fault */
	VMX_MSR,	/* RDMSR/WRMSR the accelerator left to us: msr */
	VMX_EOI,	/* the local APIC's EOI of a level vector: eoi_vector */
	VMX_FAIL,	/* entry failure, internal error, anything else: @why */
};

struct vm_exit {
	enum vm_exit_kind kind;
	bool if_flag;
	struct {
		bool out;
		uint8_t size;		/* 1, 2, 4 */
		uint16_t port;
		uint32_t count;
		uint8_t *data;		/* count * size bytes in the run page */
	} io;
	struct {
		uint64_t addr;
		uint8_t *data;		/* 8 bytes in the run page */
		uint32_t len;
		bool write;
	} mmio;
	struct {
		uint32_t index;
		bool write;
		uint64_t *data;		/* the value written, or ours for a read */
		uint8_t *error;		/* set to 1: the guest takes #GP */
	} msr;
	uint8_t eoi_vector;
	char why[160];
};

struct accel;

/*
 * Registers travel in hvlab's own structs (uapi/hvlab.h): the KVM side
 * converts, field for field (struct kvm_segment has the same shape).
 */
struct accel_ops {
	const char *name;
	/* open the device, create a VM and one vCPU; 0 or -errno, @err says what */
	int (*create)(struct accel *a, char *err, size_t errlen);
	int (*add_ram)(struct accel *a, uint32_t slot, uint64_t gpa, uint64_t size, void *hva);
	int (*get_regs)(struct accel *a, struct hvlab_regs *r);
	int (*set_regs)(struct accel *a, const struct hvlab_regs *r);
	int (*get_sregs)(struct accel *a, struct hvlab_sregs *s);
	int (*set_sregs)(struct accel *a, const struct hvlab_sregs *s);
	/*
	 * Hide CPUID features the device model does not provide: @fix is
	 * called on every entry of the accelerator's table before it is set
	 * (with this vCPU, for its APIC ID).  Returns 0 or -errno.
	 */
	int (*fix_cpuid)(struct accel *a,
			 void (*fix)(struct hvlab_cpuid_entry *e, const struct accel *a));
	/* enter the guest until an exit the device model must see */
	int (*run)(struct accel *a, struct vm_exit *ex);
	/*
	 * Deliver external interrupt @vector when the guest can take it;
	 * -EBUSY if it cannot be accepted now (then the accelerator has been
	 * asked for an interrupt-window exit, and the caller retries then).
	 */
	int (*inject_irq)(struct accel *a, uint8_t vector);
	/* ask for (or stop asking for) an exit when interrupts can be taken */
	void (*want_irq_window)(struct accel *a, bool on);
	/* make the current or next run() return VMX_INTR at once (signal-safe) */
	void (*kick)(struct accel *a);
	/* optional: all exits, kernel-handled ones too; 0 or -errno */
	int (*count_exits)(struct accel *a, uint64_t *exits);
	void (*destroy)(struct accel *a);

	/*
	 * The APIC board (a->apic set before create(): in-kernel local APICs,
	 * the I/O APIC in userspace).  Optional: an accelerator without them
	 * refuses a->apic in create() and says why.
	 */
	/* vCPU @id of @vm's VM into @cpu (shares the VM fds); 0 or -errno */
	int (*add_vcpu)(struct accel *vm, struct accel *cpu, unsigned int id,
			char *err, size_t errlen);
	/* an MSI message to the local APICs; 0 or -errno (thread-safe) */
	int (*signal_msi)(struct accel *a, uint64_t addr, uint32_t data);
	/*
	 * The I/O APIC's level-triggered entries, as messages: the local APIC
	 * must report the EOI of these vectors (VMX_EOI).  0 or -errno.
	 */
	int (*set_level_routes)(struct accel *a, const struct ioapic_route *r, unsigned int n);
};

struct accel {
	const struct accel_ops *ops;
	int sys_fd, vm_fd, vcpu_fd;
	void *run;
	size_t run_size;
	void *priv;
	unsigned int id;	/* vCPU id = initial APIC ID */
	bool apic;		/* the APIC board (else the 8259-only PC) */
	bool vcpu_only;		/* an extra vCPU: destroy() leaves the VM fds */
};

extern const struct accel_ops accel_hvlab_ops;
extern const struct accel_ops accel_kvm_ops;

/*
 * The first half of every accelerator's add_vcpu: @cpu, a further vCPU of
 * @vm's VM, shares its ops, system and VM fds and board; it maps its own
 * vCPU fd and run area afterwards.
 */
static inline void accel_vcpu_of(const struct accel *vm, struct accel *cpu)
{
	cpu->ops = vm->ops;
	cpu->sys_fd = vm->sys_fd;
	cpu->vm_fd = vm->vm_fd;
	cpu->apic = vm->apic;
	cpu->vcpu_only = true;
	cpu->run = NULL;
}

/* ---- guest memory and the loaders */

struct guest {
	uint8_t *ram;		/* guest-physical 0 .. mem_size */
	uint64_t mem_size;
};

/*
 * Read up to @len bytes at guest-linear @va through the guest's page
 * tables as @s has them (hvlab-run.c); returns how many were mapped.
 */
size_t guest_read_virt(const struct hvlab_sregs *s, uint64_t va, void *buf, size_t len);

/* ---- --trace, --trace-summary (trace.c) */
struct trace;
int trace_check_reasons(const char *list);
int trace_open(struct trace **t, struct accel *a, const struct guest *g, const char *reasons,
	       const char *file, bool lines, bool summary);
void trace_after_run(struct trace *t);	/* NULL: no trace */
void trace_finish(struct trace *t);

/* Is [gpa, gpa+len) inside guest RAM?  (overflow-safe) */
static inline bool guest_range_ok(const struct guest *g, uint64_t gpa, uint64_t len)
{
	return gpa <= g->mem_size && len <= g->mem_size - gpa;
}

enum entry_mode { ENTRY_REAL, ENTRY_PROT32 };

/* What a loader leaves for the vCPU: where and how the guest starts. */
struct boot_state {
	enum entry_mode mode;
	uint64_t rip;
	uint32_t eax, ebx, esi;	/* boot protocol registers */
	uint64_t rsp;
	uint16_t real_cs;	/* ENTRY_REAL: CS selector (base = sel << 4) */
	const char *kind;	/* "linux", "multiboot", "elf", "flat" */
};

struct load_args {
	const char *kernel, *initrd, *append;
	int64_t flat_addr;	/* -1: detect the format; else load raw here */
	int64_t entry;		/* -1: the image's own entry */
	enum entry_mode flat_mode;
	bool verbose;
};

/* The GDT hvlab-run leaves in guest memory for 32-bit entries. */
#define BOOT_GDT	0x500
#define BOOT_CS		0x10	/* flat 32-bit code, as Linux's __BOOT_CS */
#define BOOT_DS		0x18	/* flat data, __BOOT_DS */
#define BOOT_TSS	0x20

/* Load the image into @g; 0, or a RUN_* status after printing why. */
int load_image(struct guest *g, const struct load_args *la, struct boot_state *bs);
/* Tell a Linux image where the RSDP is (boot_params.acpi_rsdp_addr). */
void load_set_rsdp(struct guest *g, const struct boot_state *bs, uint64_t rsdp);

/* ---- device model */

struct devices;

struct devices *devices_new(int console_in, int console_out);
/* The APIC board: an I/O APIC beside the 8259s, and the ACPI PM1 ports. */
int devices_enable_apic(struct devices *d, const struct ioapic_sink *sink);
/* The local APIC's EOI of a level-triggered @vector (VMX_EOI). */
void devices_eoi(struct devices *d, uint8_t vector);
/* Stop the machine with @status (the first reason wins). */
void devices_stop(struct devices *d, int status, const char *why);
/* Console input for a board thread's own poll: the fd, or -1 if not wanted now. */
int devices_input_fd(struct devices *d);
/* Console input may be there: look at it at the next devices_poll(). */
void devices_input_ready(struct devices *d);
void devices_free(struct devices *d);
/* One port access of @size bytes at @data (filled for IN). */
void devices_io(struct devices *d, bool out, uint16_t port, uint8_t size, uint8_t *data);
/* MMIO with nothing behind it: reads as all ones, writes ignored. */
void devices_mmio(struct devices *d, uint64_t addr, bool write, uint8_t *data, uint32_t len);
/* Advance timers and read the console. */
void devices_poll(struct devices *d, uint64_t now_ns);
/* The vector the PICs offer the CPU now, or -1. */
int devices_irq_pending(struct devices *d);
/* The CPU took that vector (INTA). */
void devices_irq_ack(struct devices *d);
/* Next time (CLOCK_MONOTONIC ns) a device needs devices_poll(), or UINT64_MAX. */
uint64_t devices_next_deadline(struct devices *d);
/* Did the guest ask to stop?  RUN_* status or the debug-exit value; -1: no. */
int devices_stop_status(struct devices *d, const char **why);
/* Wait (guest halted) until a deadline or console input; 0 or -errno. */
int devices_wait(struct devices *d, uint64_t until_ns);

/* Write out buffered console output. */
void devices_flush(struct devices *d);
/* The PICs', PIT's and UART's state on stderr (post-mortem of a stuck guest). */
void devices_dump(struct devices *d);
/* Note the time (and TSC) when the console first prints @mark. */
void devices_set_mark(struct devices *d, const char *mark);
bool devices_mark_seen(struct devices *d, uint64_t *ns, uint64_t *tsc);

uint64_t now_ns(void);

#endif /* HVLAB_RUN_H */
