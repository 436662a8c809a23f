/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hvlab.h - the public ABI of /dev/hvlab.
 *
 * Included by the module and by everything in userspace/ and selftests/.
 * Layout rules: fixed-width __u32/__u64 fields, explicit padding, every
 * reserved/padding field must be zero on input (the module answers -EINVAL
 * otherwise) and is zero on output.  Structures only ever grow at the end,
 * behind a version or capability check.
 *
 * Three kinds of file descriptor, as in KVM:
 *   /dev/hvlab         system fd: version, capabilities, CREATE_VM
 *   VM fd              memory regions, CREATE_VCPU
 *   vCPU fd            registers, RUN, mmap of the run page
 * An ioctl sent to the wrong kind of fd fails with -ENOTTY.
 */
#ifndef _UAPI_HVLAB_H
#define _UAPI_HVLAB_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define HVLAB_API_VERSION	1

/* ioctl type byte; all numbers below live in this one space. */
#define HVLAB_IOC		0xBE

/* ---------------------------------------------------------------------
 * System fd (/dev/hvlab)
 */

/* Returns HVLAB_API_VERSION. */
#define HVLAB_GET_API_VERSION	_IO(HVLAB_IOC, 0x00)

/*
 * Returns the value of capability @arg (>= 0); 0 means "not supported"
 * for a capability this module does not know, so newer userspace can probe.
 */
#define HVLAB_CHECK_CAP		_IO(HVLAB_IOC, 0x01)

enum hvlab_cap {
	HVLAB_CAP_VENDOR	= 1,	/* enum hvlab_vendor */
	HVLAB_CAP_MAX_VMS	= 2,	/* module parameter max_vms */
	HVLAB_CAP_MAX_VCPUS	= 3,	/* vCPUs per VM (max_vcpus) */
	HVLAB_CAP_MAX_MEM_SLOTS	= 4,	/* memory slots per VM */
	HVLAB_CAP_READONLY_MEM	= 5,	/* HVLAB_MEM_READONLY is accepted */
	HVLAB_CAP_NESTED_PAGING	= 6,	/* 1: EPT (Intel) or NPT (AMD) */
	HVLAB_CAP_MAX_GPA_BITS	= 7,	/* guest-physical address width */
	HVLAB_CAP_RUN		= 8,	/* HVLAB_RUN enters the guest */
	HVLAB_CAP_UNCACHED_MEM	= 9,	/* HVLAB_MEM_UNCACHED is accepted */
	/*
	 * In-kernel local APICs (HVLAB_VM_LAPIC), MSI injection, EOI
	 * exits, APIC state and MP state: see "Local APIC" below.
	 */
	HVLAB_CAP_LAPIC		= 10,
};

enum hvlab_vendor {
	HVLAB_VENDOR_NONE	= 0,
	HVLAB_VENDOR_INTEL	= 1,	/* VT-x (VMX) */
	HVLAB_VENDOR_AMD	= 2,	/* AMD-V (SVM) */
};

/* Returns the size in bytes to mmap() from a vCPU fd (the run page). */
#define HVLAB_GET_VCPU_MMAP_SIZE _IO(HVLAB_IOC, 0x02)

/* @arg: HVLAB_VM_* flags (0: today's PC).  Returns a new VM fd. */
#define HVLAB_CREATE_VM		_IO(HVLAB_IOC, 0x03)

/*
 * Every vCPU of the VM gets a local APIC in the kernel (xAPIC page at
 * IA32_APIC_BASE, x2APIC MSRs, timer, IPIs, INIT/SIPI, HLT waiting in the
 * kernel): KVM's "split irqchip", the I/O APIC and 8259 stay in
 * userspace.  Without it a VM has no APIC at all (CPUID hides it).
 * Behind HVLAB_CAP_LAPIC.
 */
#define HVLAB_VM_LAPIC		(1u << 0)
#define HVLAB_VM_FLAGS_ALL	HVLAB_VM_LAPIC

/* ---------------------------------------------------------------------
 * VM fd
 */

/*
 * Add, move or delete a guest memory slot (flags cannot change in place).
 *   new slot, size > 0          add
 *   existing slot, size == 0    delete
 *   existing slot, same size and userspace_addr, other guest_phys_addr
 *                               move
 * guest_phys_addr, memory_size and userspace_addr must be page aligned;
 * [guest_phys_addr, +memory_size) must not overlap another slot (-EEXIST)
 * and must lie below 1 << HVLAB_CAP_MAX_GPA_BITS.  The memory mapped at
 * userspace_addr must be anonymous, shmem (memfd, tmpfs) or hugetlbfs
 * (-EOPNOTSUPP otherwise); the guest follows later changes of that
 * mapping (munmap, mremap, madvise, hole punching) as the VMM sees them.
 */
struct hvlab_memory_region {
	__u32 slot;
	__u32 flags;		/* HVLAB_MEM_* */
	__u64 guest_phys_addr;
	__u64 memory_size;	/* bytes; 0 deletes the slot */
	__u64 userspace_addr;	/* start of the userspace mapping */
	__u64 reserved[2];	/* must be zero */
};

#define HVLAB_MEM_READONLY	(1u << 0)	/* guest writes exit as MMIO */
/*
 * The slot is uncacheable for the guest, whatever its own page tables and
 * PAT say (e.g. memory shared with a device model that reads it without
 * the cache's help).  Without it guest RAM is write-back.  Behind
 * HVLAB_CAP_UNCACHED_MEM.
 */
#define HVLAB_MEM_UNCACHED	(1u << 1)
#define HVLAB_MEM_FLAGS_ALL	(HVLAB_MEM_READONLY | HVLAB_MEM_UNCACHED)

#define HVLAB_SET_MEMORY_REGION	_IOW(HVLAB_IOC, 0x10, struct hvlab_memory_region)

/* @arg is the vCPU id, below HVLAB_CAP_MAX_VCPUS.  Returns a vCPU fd. */
#define HVLAB_CREATE_VCPU	_IO(HVLAB_IOC, 0x11)

/* ---------------------------------------------------------------------
 * vCPU fd: registers
 */

struct hvlab_regs {
	__u64 rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	__u64 r8, r9, r10, r11, r12, r13, r14, r15;
	__u64 rip, rflags;
};

/*
 * A segment register in "unpacked" form.  The access-rights bits follow
 * the descriptor layout (Intel SDM Vol. 3A 3.4.5, AMD APM Vol. 2 4.7):
 * type, s, dpl, present, avl, l, db, g.  @unusable marks a null selector
 * loaded in protected mode.
 */
struct hvlab_segment {
	__u64 base;
	__u32 limit;
	__u16 selector;
	__u8  type;		/* 4 bits */
	__u8  present, dpl, db, s, l, g, avl;
	__u8  unusable;
	__u8  padding;		/* must be zero */
};

struct hvlab_dtable {
	__u64 base;
	__u16 limit;
	__u16 padding[3];	/* must be zero */
};

struct hvlab_sregs {
	struct hvlab_segment cs, ds, es, fs, gs, ss;
	struct hvlab_segment tr, ldt;
	struct hvlab_dtable gdt, idt;
	__u64 cr0, cr2, cr3, cr4, cr8;
	__u64 efer;
	__u64 apic_base;
	__u64 reserved[4];	/* must be zero */
};

#define HVLAB_GET_REGS		_IOR(HVLAB_IOC, 0x20, struct hvlab_regs)
#define HVLAB_SET_REGS		_IOW(HVLAB_IOC, 0x21, struct hvlab_regs)
#define HVLAB_GET_SREGS		_IOR(HVLAB_IOC, 0x22, struct hvlab_sregs)
#define HVLAB_SET_SREGS		_IOW(HVLAB_IOC, 0x23, struct hvlab_sregs)

/*
 * Queue an event for the guest (vCPU fd).
 * HVLAB_EVENT_EXCEPTION: vector 0-31 except 2, delivered at the next entry;
 *   has_error_code only for vectors that push one (8, 10-14, 17, 21) and
 *   ignored in real mode, as the CPU does.  -EBUSY if one is queued.
 * HVLAB_EVENT_INTERRUPT: an external interrupt, vector 0-255, delivered as
 *   soon as the guest can take it (RFLAGS.IF=1, no interrupt shadow); the
 *   module opens an interrupt window itself.  -EBUSY if one is queued.
 */
struct hvlab_event {
	__u8  type;		/* HVLAB_EVENT_* */
	__u8  vector;
	__u8  has_error_code;
	__u8  padding;		/* must be zero */
	__u32 error_code;
	__u64 reserved;		/* must be zero */
};

#define HVLAB_EVENT_EXCEPTION	1
#define HVLAB_EVENT_INTERRUPT	2

#define HVLAB_INJECT		_IOW(HVLAB_IOC, 0x24, struct hvlab_event)

/*
 * The CPUID answers of a vCPU (vCPU fd).  SET replaces the module's
 * default (host values minus what hvlab does not virtualize) with exactly
 * these entries; a leaf not listed reads as zeros.  GET returns the table
 * in use (the default until SET): set nent to the array size; -E2BIG (and
 * nent set to what is needed) if it is too small.
 */
struct hvlab_cpuid_entry {
	__u32 function;
	__u32 index;
	__u32 flags;		/* HVLAB_CPUID_INDEXED: @index matters */
	__u32 eax, ebx, ecx, edx;
	__u32 padding;		/* must be zero */
};

#define HVLAB_CPUID_INDEXED	(1u << 0)
#define HVLAB_CPUID_MAX_ENTRIES	256

struct hvlab_cpuid {
	__u32 nent;
	__u32 padding;		/* must be zero */
	struct hvlab_cpuid_entry entries[];
};

#define HVLAB_GET_CPUID		_IOWR(HVLAB_IOC, 0x25, struct hvlab_cpuid)
#define HVLAB_SET_CPUID		_IOW(HVLAB_IOC, 0x26, struct hvlab_cpuid)

/*
 * What happens to a guest RDMSR/WRMSR of an MSR the module does not
 * handle itself (vCPU fd, @arg): inject #GP (default), or exit to
 * userspace with HVLAB_EXIT_MSR (answer in run->msr.data for a read, or
 * set run->msr.error to make the guest take #GP).
 */
#define HVLAB_MSR_UNKNOWN_GP		0
#define HVLAB_MSR_UNKNOWN_USERSPACE	1
#define HVLAB_SET_MSR_POLICY	_IO(HVLAB_IOC, 0x27)

/*
 * Exit counts of a vCPU, by neutral reason (enum hvlab_stat), each exit
 * counted once whether it was handled in the kernel or in userspace.
 */
enum hvlab_stat {
	HVLAB_STAT_EXTERNAL_INTERRUPT,
	HVLAB_STAT_NMI,
	HVLAB_STAT_CPUID,
	HVLAB_STAT_HLT,
	HVLAB_STAT_IO,
	HVLAB_STAT_MMIO,
	HVLAB_STAT_MSR_READ,
	HVLAB_STAT_MSR_WRITE,
	HVLAB_STAT_NESTED_PAGE_FAULT,	/* filled from RAM, in the kernel */
	HVLAB_STAT_IRQ_WINDOW,
	HVLAB_STAT_SHUTDOWN,
	HVLAB_STAT_HYPERCALL,		/* VMCALL / VMMCALL */
	HVLAB_STAT_EXCEPTION,
	HVLAB_STAT_CR_ACCESS,
	HVLAB_STAT_OTHER,		/* INVD, XSETBV, VMX/SVM instructions... */
	HVLAB_STAT_ENTRY_FAILURE,
	HVLAB_STAT_TIMESLICE,		/* hvlab's own slice ended (VMX preemption timer) */
	/* Added for telemetry (issue 6); the values above never change. */
	HVLAB_STAT_INVD,		/* INVD, WBINVD, WBNOINVD: skipped, no host cache flush */
	HVLAB_STAT_XSETBV,
	HVLAB_STAT_VIRT_INSN,		/* VMX / SVM instructions the guest may not use */
	HVLAB_STAT_MONITOR_MWAIT,
	HVLAB_STAT_SMI,
	HVLAB_STAT_INTERNAL,		/* the module gave up: EPT misconfig, lost state, unknown */
	/*
	 * Local APIC (HVLAB_VM_LAPIC; issue 15).  Per register counts:
	 * HVLAB_GET_APIC_STATS.  An access is counted once, under the most
	 * specific of these reasons.
	 */
	HVLAB_STAT_APIC_ACCESS,		/* xAPIC page or x2APIC MSR, other registers */
	HVLAB_STAT_APIC_ICR,		/* ICR write: an IPI sent */
	HVLAB_STAT_APIC_EOI,		/* EOI write */
	HVLAB_STAT_APIC_TIMER,		/* LVT timer, initial count, divide, TSC deadline */
	HVLAB_STAT_NR,
};

struct hvlab_exit_stats {
	__u64 exits;			/* all exits */
	__u64 count[32];		/* by enum hvlab_stat; rest zero */
};

#define HVLAB_GET_EXIT_STATS	_IOR(HVLAB_IOC, 0x28, struct hvlab_exit_stats)

/*
 * Exit routing (vCPU fd): where an exit class is handled, chosen at run
 * time so the cost of both paths can be measured on the same guest.
 * Rules are checked newest first; the first whose class matches and whose
 * [first, last] holds the key decides; without a match the default holds.
 *
 *   class               key        default   HVLAB_ROUTE_TO_KERNEL     HVLAB_ROUTE_TO_USER
 *   HVLAB_ROUTE_CPUID   EAX leaf   kernel    the module's table        HVLAB_EXIT_CPUID: run->cpuid
 *                                                                      holds the module's answer,
 *                                                                      userspace may change it
 *   HVLAB_ROUTE_MSR     ECX index  kernel    the module's MSRs, the    HVLAB_EXIT_MSR, also for
 *                                            rest by MSR policy        MSRs the module knows
 *   HVLAB_ROUTE_IO      port       user      a 4-byte latch per vCPU:  HVLAB_EXIT_IO
 *                                            OUT stores (zero-extended), IN reads it
 *                                            back (size-truncated);
 *                                            string I/O always exits
 *   HVLAB_ROUTE_HLT     (none: 0)  user      the guest resumes at once HVLAB_EXIT_HLT
 *                                            (nothing in the kernel
 *                                            could wake it later)
 * class HVLAB_ROUTE_CLEAR (all other fields zero) removes every rule.
 * -ENOSPC beyond HVLAB_MAX_ROUTES rules; -EINVAL for an unknown class or
 * action, first > last, or nonzero reserved fields.
 */
#define HVLAB_ROUTE_CLEAR	0
#define HVLAB_ROUTE_CPUID	1
#define HVLAB_ROUTE_MSR		2
#define HVLAB_ROUTE_IO		3
#define HVLAB_ROUTE_HLT		4

#define HVLAB_ROUTE_TO_KERNEL	0
#define HVLAB_ROUTE_TO_USER	1

#define HVLAB_MAX_ROUTES	16

struct hvlab_exit_route {
	__u32 route_class;		/* HVLAB_ROUTE_* */
	__u32 action;			/* HVLAB_ROUTE_TO_* */
	__u32 first, last;		/* inclusive key range */
	__u64 reserved;			/* must be zero */
};

#define HVLAB_SET_EXIT_ROUTE	_IOW(HVLAB_IOC, 0x29, struct hvlab_exit_route)

/*
 * The exit journal (vCPU fd): the last HVLAB_JOURNAL_ENTRIES exits with
 * reason, qualification, RIP and key registers, mmap()ed read-only at
 * offset HVLAB_JOURNAL_OFFSET, HVLAB_JOURNAL_SIZE bytes: a struct
 * hvlab_journal, then the entries at HVLAB_JOURNAL_ENTRIES_OFFSET.
 * A triple fault (HVLAB_STAT_SHUTDOWN) or an entry failure freezes it
 * (that exit is the newest entry) until HVLAB_THAW_JOURNAL, so the exits
 * that led there survive a post-mortem.  Written only while the module
 * parameter "telemetry" is on.
 */
#define HVLAB_JOURNAL_ENTRIES		256
#define HVLAB_JOURNAL_OFFSET		0x10000	/* page 1 stays free for the run page to grow */
#define HVLAB_JOURNAL_ENTRIES_OFFSET	4096
#define HVLAB_JOURNAL_SIZE		(HVLAB_JOURNAL_ENTRIES_OFFSET + \
					 HVLAB_JOURNAL_ENTRIES * 128)

struct hvlab_journal {
	__u32 nent;			/* HVLAB_JOURNAL_ENTRIES */
	__u32 entry_size;		/* sizeof(struct hvlab_journal_entry) */
	__u64 head;			/* exits recorded, ever: the newest is
					 * entries[(head - 1) % nent] */
	__u32 frozen;			/* 1: nothing is recorded until thawed */
	__u32 frozen_stat;		/* the exit that froze it */
	__u64 reserved[5];
};

struct hvlab_journal_entry {
	__u64 seq;			/* 1 + its index in the vCPU's life; 0: empty */
	__u64 tsc;			/* host TSC at the exit */
	__u64 vendor_reason;		/* VMX exit reason / SVM exit code */
	__u64 qual;			/* VMX exit qualification / SVM EXITINFO1 */
	__u64 qual2;			/* VMX guest-physical address / SVM EXITINFO2 */
	__u64 rip, rsp, rflags;
	__u64 rax, rbx, rcx, rdx, rsi, rdi;
	__u32 stat;			/* enum hvlab_stat */
	__u32 padding;
	__u64 reserved;
};

#define HVLAB_THAW_JOURNAL	_IO(HVLAB_IOC, 0x2a)

/*
 * The vendor structure as it stood at an exit (vCPU fd), for post-mortems
 * and for reading what the hardware holds.  HVLAB_CAPTURE_STATE with @arg
 * 1 makes the module copy it at every exit from then on, @arg 0 stops
 * (off by default, so that exits do not pay for it).
 * HVLAB_GET_VENDOR_STATE returns the copy of the last exit (@index 0) or
 * of the exit before it (@index 1); -ENODATA if there is none (yet).
 *   Intel: @data holds @count struct hvlab_vmcs_field, every VMCS field
 *          uapi/hvlab_vmcs.h lists that this CPU has, read with VMREAD.
 *   AMD:   @data is the whole VMCB page (APM Vol. 2 appendix B), @count
 *          is 4096.
 * Entry failures are captured too (the state the entry refused, whether
 * the CPU or hvlab's own checks refused it), so a triple fault or an
 * entry failure can be read next to the frozen journal.
 */
struct hvlab_vmcs_field {
	__u32 encoding;			/* SDM Vol. 3C appendix B */
	__u32 reserved;
	__u64 value;
};

#define HVLAB_VENDOR_STATE_BYTES	4096

struct hvlab_vendor_state {
	__u32 index;			/* in: 0 the last exit, 1 the one before */
	__u32 vendor;			/* enum hvlab_vendor */
	__u64 seq;			/* 1 + captures before it since capture was switched on */
	__u64 vendor_reason;		/* VMX exit reason / SVM exit code; ~0: no exit (VMfail,
					 * or hvlab's own checks refused the entry) */
	__u32 count;			/* VMX: fields in @data; SVM: bytes */
	__u32 reserved0;
	__u64 reserved[3];
	__u8  data[HVLAB_VENDOR_STATE_BYTES];
};

#define HVLAB_CAPTURE_STATE	_IO(HVLAB_IOC, 0x31)
#define HVLAB_GET_VENDOR_STATE	_IOWR(HVLAB_IOC, 0x32, struct hvlab_vendor_state)

/* VM fd: the VM's id in telemetry (generic netlink, below); > 0. */
#define HVLAB_GET_VM_ID		_IO(HVLAB_IOC, 0x12)

/* ---------------------------------------------------------------------
 * vCPU fd: running
 */

/* Enter the guest until an exit that userspace must see.  @arg must be 0. */
#define HVLAB_RUN		_IO(HVLAB_IOC, 0x30)

/* Why HVLAB_RUN returned: hvlab_run.exit_reason. */
enum hvlab_exit_reason {
	HVLAB_EXIT_NONE		= 0,
	HVLAB_EXIT_IO		= 1,	/* port I/O: run->io */
	HVLAB_EXIT_MMIO		= 2,	/* access with no RAM behind it */
	HVLAB_EXIT_HLT		= 3,
	HVLAB_EXIT_SHUTDOWN	= 4,	/* triple fault */
	HVLAB_EXIT_FAIL_ENTRY	= 5,	/* run->fail_entry */
	HVLAB_EXIT_INTERNAL	= 6,	/* run->internal */
	HVLAB_EXIT_IRQ_WINDOW	= 7,	/* guest can take an interrupt now */
	HVLAB_EXIT_CPUID	= 8,	/* routed to userspace: run->cpuid, HVLAB_SET_EXIT_ROUTE */
	HVLAB_EXIT_MSR		= 9,	/* run->msr, see HVLAB_SET_MSR_POLICY */
	HVLAB_EXIT_EOI		= 10,	/* run->eoi: EOI of a level vector, HVLAB_SET_EOI_EXITS */
};

/* run->internal.suberror */
enum hvlab_internal_error {
	HVLAB_INTERNAL_UNHANDLED_EXIT	= 1,	/* data: vendor reason, qualification... */
	HVLAB_INTERNAL_MEMORY_FAULT	= 2,	/* data: gpa, -errno of the pin */
	HVLAB_INTERNAL_UNSUPPORTED	= 3,	/* data: vendor reason, qualification */
	HVLAB_INTERNAL_BAD_STATE	= 4,	/* data: vendor reason */
	HVLAB_INTERNAL_LOST_STATE	= 5,	/* data: vendor reason, qualification...; svm/exit.c */
	/*
	 * The guest's own page-table walk reached a guest-physical address
	 * with no RAM (or had to set an accessed/dirty bit in a read-only
	 * slot): no instruction accessed it, so it is no MMIO access.
	 * data: the gpa, vendor qualification (SVM EXITINFO1 / VMX exit
	 * qualification).
	 */
	HVLAB_INTERNAL_PAGE_WALK	= 6,
};

#define HVLAB_IO_IN		0
#define HVLAB_IO_OUT		1

/*
 * The run page, mmap()ed from the vCPU fd at offset 0.  The module writes
 * the exit record; userspace writes results (IN data, MMIO read data) in
 * place and calls HVLAB_RUN again to complete the instruction.
 */
struct hvlab_run {
	/* in: set by userspace */
	__u8  request_interrupt_window;
	__u8  immediate_exit;
	__u8  padding1[6];

	/* out: set by the module */
	__u32 exit_reason;		/* enum hvlab_exit_reason */
	__u8  ready_for_interrupt;
	__u8  if_flag;
	__u8  padding2[2];
	__u64 vendor_reason;		/* raw VMX exit reason / SVM exit code */

	union {
		/* HVLAB_EXIT_IO: @count items of @size bytes at run + data_offset */
		struct {
			__u8  direction;	/* HVLAB_IO_IN / HVLAB_IO_OUT */
			__u8  size;		/* 1, 2 or 4 */
			__u16 port;
			__u32 count;
			__u64 data_offset;
		} io;
		/* HVLAB_EXIT_MMIO */
		struct {
			__u64 phys_addr;
			__u8  data[8];
			__u32 len;		/* 1, 2, 4 or 8 */
			__u8  is_write;
			__u8  padding[3];
		} mmio;
		/* HVLAB_EXIT_FAIL_ENTRY: what the consistency check refused */
		struct {
			__u64 hardware_reason;	/* VM-instruction error / SVM exit code; 0: hvlab's own checks refused it */
			__u32 field;		/* VMCS encoding or VMCB offset */
			__u32 padding;
			char  rule[96];		/* e.g. "SDM 27.3.1.1: CR0.PG=1 needs CR0.PE=1" */
			/*
			 * VMX: the exit qualification of a VM-entry failure
			 * exit (SDM Vol. 3C 27.8: 2 PDPTE loading, 3 NMI
			 * injection, 4 VMCS link pointer; for MSR loading the
			 * failing entry's number); 0 when the module refused
			 * the entry itself, and on AMD.
			 */
			__u64 qualification;
		} fail_entry;
		/* HVLAB_EXIT_INTERNAL */
		struct {
			__u32 suberror;
			__u32 ndata;
			__u64 data[16];
		} internal;
		/*
		 * HVLAB_EXIT_CPUID: function/index from EAX/ECX, eax..edx the
		 * module's answer; the guest gets eax..edx as userspace leaves
		 * them when RUN is called again.
		 */
		struct {
			__u32 function, index;
			__u32 eax, ebx, ecx, edx;
		} cpuid;
		/* HVLAB_EXIT_MSR: data is the value written, or filled by userspace */
		struct {
			__u32 index;
			__u8  is_write;
			__u8  error;		/* set by userspace: inject #GP */
			__u8  padding[2];
			__u64 data;
		} msr;
		/*
		 * HVLAB_EXIT_EOI: the guest's EOI retired @vector, which was
		 * level-triggered (TMR set) and is in the VM's EOI-exit
		 * bitmap.  The EOI is complete (ISR bit cleared) and RIP is
		 * past it; userspace's I/O APIC clears Remote IRR and re-sends
		 * the line if it is still asserted.  Nothing to answer.
		 */
		struct {
			__u8  vector;
			__u8  padding[7];
		} eoi;
		__u8 raw[256];
	};
};

#define HVLAB_RUN_IO_DATA_OFFSET	1024	/* where run->io data lives */

/* ---------------------------------------------------------------------
 * Local APIC (VMs created with HVLAB_VM_LAPIC; -ENXIO on other VMs)
 *
 * Every vCPU has an xAPIC/x2APIC (Intel SDM Vol. 3A chapter 11) whose
 * APIC ID is the vCPU id.  HLT waits in the kernel until an interrupt is
 * deliverable; RUN returns -EINTR when a signal comes meanwhile.  vCPU 0
 * starts runnable; the others start in wait-for-SIPI (HVLAB_MP_WAIT_SIPI):
 * RUN on them sleeps until another vCPU sends INIT and SIPI.
 *
 * HVLAB_INJECT with HVLAB_EVENT_INTERRUPT is the 8259's INTR line: it
 * reaches the guest as ExtINT through LVT LINT0 (SDM Vol. 3A 11.5.1),
 * i.e. only while LINT0 is unmasked in ExtINT mode or the APIC is
 * disabled in IA32_APIC_BASE.  As KVM does (kvm_lapic_reset), vCPU 0's
 * LINT0 is ExtINT, unmasked, at reset, so a guest that never touches its
 * APIC still gets the 8259's interrupts.
 */

/*
 * VM fd: deliver a message-signalled interrupt (SDM Vol. 3A 11.11):
 * @address 0xFEExxxxx (bits 19:12 destination ID, bit 3 redirection hint
 * = lowest priority, bit 2 destination mode logical), @data (bits 7:0
 * vector, 10:8 delivery mode, 15 trigger mode level).  Like
 * KVM_SIGNAL_MSI: returns the number of APICs that accepted it (0: no
 * destination, or all of them disabled), -EINVAL for a bad address,
 * reserved delivery mode, or flags/padding set.
 */
struct hvlab_msi {
	__u64 address;
	__u32 data;
	__u32 flags;		/* must be zero */
	__u64 reserved;		/* must be zero */
};

#define HVLAB_SIGNAL_MSI	_IOW(HVLAB_IOC, 0x13, struct hvlab_msi)

/*
 * VM fd: the vectors whose EOI exits to userspace (HVLAB_EXIT_EOI) when
 * they were accepted level-triggered (TMR bit set): a userspace I/O APIC
 * sets the vectors of its level-triggered pins here (KVM's
 * KVM_EXIT_IOAPIC_EOI with the EOI-exit bitmap it computes from
 * KVM_CAP_SPLIT_IRQCHIP's routes).  Bit v of bitmap[v / 64] is vector v.
 * Replaces the previous set; all vCPUs see it at their next EOI.
 */
struct hvlab_eoi_exits {
	__u64 bitmap[4];
};

#define HVLAB_SET_EOI_EXITS	_IOW(HVLAB_IOC, 0x14, struct hvlab_eoi_exits)

/*
 * vCPU fd: the APIC's registers, for tests and migration.  @regs is the
 * xAPIC page's first KiB (register at offset r is the __u32 at regs + r;
 * SDM Vol. 3A Table 11-1).  In x2APIC mode, ID (0x20) holds the 32-bit
 * x2APIC ID and ICR's high half (0x310) the 32-bit destination, as KVM's
 * KVM_GET_LAPIC does.  GET fills the timer's current count (0x390) as the
 * guest would read it now; SET restarts the timer from initial count and
 * @tsc_deadline.  The APIC's mode comes from hvlab_sregs.apic_base (set
 * that first); SET checks reserved bits of the registers it takes: ID,
 * TPR, LDR, DFR, SVR, LVT*, initial count, divide, ESR (ISR/TMR/IRR as
 * given; PPR, APR, current count, EOI and read-only fields are derived).
 */
struct hvlab_lapic_state {
	__u8  regs[1024];
	__u64 tsc_deadline;	/* IA32_TSC_DEADLINE; 0: disarmed */
	__u64 reserved[7];	/* must be zero */
};

#define HVLAB_GET_LAPIC		_IOR(HVLAB_IOC, 0x2b, struct hvlab_lapic_state)
#define HVLAB_SET_LAPIC		_IOW(HVLAB_IOC, 0x2c, struct hvlab_lapic_state)

/*
 * vCPU fd: multiprocessor state (SDM Vol. 3A 9.4, 11.6.1 INIT/SIPI).
 *   RUNNABLE   executes instructions
 *   WAIT_SIPI  after INIT (and an AP's start): RUN sleeps until a SIPI,
 *              which starts it in real mode at CS = vector << 8, IP 0
 *   HALTED     HLT: RUN sleeps until an interrupt is deliverable
 * SET is for migration and tests: setting WAIT_SIPI does not reset
 * registers (INIT does).  -EINVAL for anything else or padding set.
 */
#define HVLAB_MP_RUNNABLE	0
#define HVLAB_MP_WAIT_SIPI	1
#define HVLAB_MP_HALTED		2

struct hvlab_mp_state {
	__u32 mp_state;		/* HVLAB_MP_* */
	__u32 padding;		/* must be zero */
};

#define HVLAB_GET_MP_STATE	_IOR(HVLAB_IOC, 0x2d, struct hvlab_mp_state)
#define HVLAB_SET_MP_STATE	_IOW(HVLAB_IOC, 0x2e, struct hvlab_mp_state)

/*
 * vCPU fd: APIC register accesses by register: index = xAPIC offset >> 4
 * (x2APIC MSR 0x800 + index counts at the same index; 0x30 is
 * TSC_DEADLINE, which has no xAPIC offset).  Reset with the telemetry
 * (HVLAB_NL_CMD_RESET) and never otherwise.
 */
#define HVLAB_APIC_STAT_TSC_DEADLINE	0x30
struct hvlab_apic_stats {
	__u64 reads[64];
	__u64 writes[64];
};

#define HVLAB_GET_APIC_STATS	_IOR(HVLAB_IOC, 0x2f, struct hvlab_apic_stats)

/* ---------------------------------------------------------------------
 * Exit telemetry over generic netlink: family HVLAB_GENL_NAME.
 *
 * Per VM, per vCPU, per exit reason (enum hvlab_stat): the count, and
 * log2 histograms of host TSC cycles from the VM exit to the next VM
 * entry, split by where the exit was handled.  Bucket b counts durations
 * d with fls64(d) == b, i.e. 2^(b-1) <= d < 2^b (bucket 0: d == 0); the
 * last bucket also holds everything longer.
 *   HIST_KERNEL  exits handled in the kernel (the guest re-entered
 *                without RUN returning)
 *   HIST_USER    exits RUN returned to userspace for, exit to the next
 *                entry, userspace round trip included
 *   HIST_RTT     the userspace round trip alone: RUN returned .. RUN
 *                called again
 * An exit is added to a histogram when the guest is entered again, so
 * while userspace handles one (OPEN = 1 on its reason), that reason's
 * COUNT is one more than HIST_KERNEL + HIST_USER.
 *
 * Commands (permission: the VM's owner, i.e. the effective uid that
 * created it, or CAP_SYS_ADMIN; others see no VMs and get -EPERM when
 * naming one):
 *   GET_STATS  dump; optional VM_ID filter.  One message per VM, vCPU
 *              and reason with a nonzero count: VM_ID, VCPU_ID, PID,
 *              OWNER_UID, STAT, COUNT, EXITS, N_KERNEL, N_USER,
 *              CYC_KERNEL, CYC_USER, CYC_RTT (sums), HIST_* (binary
 *              __u64[HVLAB_HIST_BUCKETS]), VENDOR_REASON (the last raw
 *              reason seen), OPEN.
 *   RESET      VM_ID: zero every count and histogram of that VM.
 *   SET_EVENTS VM_ID, SAMPLE: send every SAMPLE-th exit of the VM
 *              (1: all, 0: none) to multicast group HVLAB_GENL_MCGRP
 *              as EXIT_EVENT messages.  Binding the group needs
 *              CAP_SYS_ADMIN: it carries every VM's exits.
 *   EXIT_EVENT (multicast) VM_ID, VCPU_ID, STAT, VENDOR_REASON, RIP,
 *              QUAL, CYCLES, WHERE (HVLAB_WHERE_*), TSC, DROPPED
 *              (events lost so far because the listener was slow),
 *              QUAL2 (VMX guest-physical address / SVM EXITINFO2),
 *              RCX (the guest's RCX when the exit ended: the MSR
 *              index of RDMSR/WRMSR, which neither changes).
 */
#define HVLAB_GENL_NAME		"hvlab"
#define HVLAB_GENL_VERSION	1
#define HVLAB_GENL_MCGRP	"exits"
#define HVLAB_HIST_BUCKETS	32

enum hvlab_nl_cmd {
	HVLAB_NL_CMD_UNSPEC,
	HVLAB_NL_CMD_GET_STATS,
	HVLAB_NL_CMD_RESET,
	HVLAB_NL_CMD_SET_EVENTS,
	HVLAB_NL_CMD_EXIT_EVENT,
	__HVLAB_NL_CMD_MAX,
};
#define HVLAB_NL_CMD_MAX	(__HVLAB_NL_CMD_MAX - 1)

enum hvlab_nl_attr {
	HVLAB_NL_A_UNSPEC,
	HVLAB_NL_A_PAD,
	HVLAB_NL_A_VM_ID,		/* u32 */
	HVLAB_NL_A_VCPU_ID,		/* u32 */
	HVLAB_NL_A_PID,			/* u32: tgid of the VM's creator */
	HVLAB_NL_A_OWNER_UID,		/* u32 */
	HVLAB_NL_A_STAT,		/* u32: enum hvlab_stat */
	HVLAB_NL_A_COUNT,		/* u64 */
	HVLAB_NL_A_EXITS,		/* u64: all exits of the vCPU */
	HVLAB_NL_A_N_KERNEL,		/* u64 */
	HVLAB_NL_A_N_USER,		/* u64 */
	HVLAB_NL_A_CYC_KERNEL,		/* u64 */
	HVLAB_NL_A_CYC_USER,		/* u64 */
	HVLAB_NL_A_CYC_RTT,		/* u64 */
	HVLAB_NL_A_HIST_KERNEL,		/* binary: __u64[HVLAB_HIST_BUCKETS] */
	HVLAB_NL_A_HIST_USER,
	HVLAB_NL_A_HIST_RTT,
	HVLAB_NL_A_VENDOR_REASON,	/* u64 */
	HVLAB_NL_A_OPEN,		/* u8 */
	HVLAB_NL_A_SAMPLE,		/* u32 */
	HVLAB_NL_A_RIP,			/* u64 */
	HVLAB_NL_A_QUAL,		/* u64 */
	HVLAB_NL_A_CYCLES,		/* u64 */
	HVLAB_NL_A_WHERE,		/* u8: HVLAB_WHERE_* */
	HVLAB_NL_A_TSC,			/* u64 */
	HVLAB_NL_A_DROPPED,		/* u64 */
	HVLAB_NL_A_QUAL2,		/* u64 */
	HVLAB_NL_A_RCX,			/* u64 */
	__HVLAB_NL_A_MAX,
};
#define HVLAB_NL_A_MAX		(__HVLAB_NL_A_MAX - 1)

#define HVLAB_WHERE_KERNEL	0
#define HVLAB_WHERE_USER	1

#endif /* _UAPI_HVLAB_H */
