// SPDX-License-Identifier: GPL-2.0
/*
 * accel_kvm.c - the same accelerator ops on /dev/kvm, the reference.
 *
 * The 8259-only PC: no in-kernel irqchip, PIT or local APIC (no
 * KVM_CREATE_IRQCHIP): the devices are hvlab-run's own, exactly as under
 * hvlab, and interrupts go in with KVM_INTERRUPT when kvm_run says the
 * guest can take one (ready_for_interrupt_injection), else after an
 * interrupt-window exit (request_interrupt_window).  The APIC is disabled
 * in IA32_APIC_BASE so that CPUID hides it (see kvm_set_sregs).
 *
 * The APIC board (a->apic): KVM's "split irqchip" (KVM_CAP_SPLIT_IRQCHIP,
 * Documentation/virt/kvm/api.rst): local APICs in KVM, one per vCPU,
 * the I/O APIC and the rest of the board still hvlab-run's.  Interrupts go
 * in as MSI messages (KVM_SIGNAL_MSI); the I/O APIC's level-triggered
 * entries are also handed to KVM as MSI routes (KVM_SET_GSI_ROUTING),
 * because that table is where KVM learns which vectors' EOIs to report
 * (kvm_scan_ioapic_routes()), as KVM_EXIT_IOAPIC_EOI.  vCPUs other than 0
 * start in KVM's wait-for-SIPI state (kvm_arch_vcpu_create() does that
 * whenever the local APIC is in the kernel), and HLT waits in KVM.
 *
 * Either way KVM's paravirtual CPUID leaves are hidden, so the guest uses
 * the same clocks as under hvlab (no kvm-clock).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>

#include "run.h"

static int kvm_map_vcpu(struct accel *a, unsigned int id, char *err, size_t errlen);

static int kvm_create(struct accel *a, char *err, size_t errlen)
{
	a->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (a->sys_fd < 0) {
		snprintf(err, errlen, "open /dev/kvm: %s (are the KVM modules loaded?)", strerror(errno));
		return -errno;
	}
	if (ioctl(a->sys_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm speaks another API version");
		return -EINVAL;
	}
	a->vm_fd = ioctl(a->sys_fd, KVM_CREATE_VM, 0);
	if (a->vm_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s%s", strerror(errno),
			 errno == EBUSY ? " (another hypervisor holds VT-x/SVM)" : "");
		return -errno;
	}
	/* VMX needs a TSS for real mode without unrestricted guest; harmless on SVM */
	ioctl(a->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	if (a->apic) {
		/* before any vCPU exists: their local APICs are made in the kernel then */
		struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args[0] = IOAPIC_PINS };

		if (ioctl(a->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SPLIT_IRQCHIP) <= 0) {
			snprintf(err, errlen, "this KVM has no KVM_CAP_SPLIT_IRQCHIP (needed for --smp)");
			return -ENOSYS;
		}
		if (ioctl(a->vm_fd, KVM_ENABLE_CAP, &cap)) {
			snprintf(err, errlen, "KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP): %s", strerror(errno));
			return -errno;
		}
	}
	return kvm_map_vcpu(a, 0, err, errlen);
}

static int kvm_map_vcpu(struct accel *a, unsigned int id, char *err, size_t errlen)
{
	int size;

	a->id = id;
	a->vcpu_fd = ioctl(a->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (a->vcpu_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VCPU: %s", strerror(errno));
		return -errno;
	}
	size = ioctl(a->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < 0) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -errno;
	}
	a->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, a->vcpu_fd, 0);
	if (a->run == MAP_FAILED) {
		a->run = NULL;
		snprintf(err, errlen, "mmap of kvm_run: %s", strerror(errno));
		return -errno;
	}
	a->run_size = size;
	return 0;
}

static int kvm_add_vcpu(struct accel *vm, struct accel *cpu, unsigned int id,
			char *err, size_t errlen)
{
	accel_vcpu_of(vm, cpu);
	return kvm_map_vcpu(cpu, id, err, errlen);
}

static int kvm_add_ram(struct accel *a, uint32_t slot, uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (unsigned long)hva,
	};

	return ioctl(a->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

/* struct kvm_regs and struct hvlab_regs: the same 18 registers, same order */
static int kvm_get_regs(struct accel *a, struct hvlab_regs *r)
{
	struct kvm_regs k;

	if (ioctl(a->vcpu_fd, KVM_GET_REGS, &k))
		return -errno;
	_Static_assert(sizeof(k) == sizeof(*r), "kvm_regs and hvlab_regs differ");
	memcpy(r, &k, sizeof(*r));
	return 0;
}

static int kvm_set_regs(struct accel *a, const struct hvlab_regs *r)
{
	struct kvm_regs k;

	memcpy(&k, r, sizeof(k));
	return ioctl(a->vcpu_fd, KVM_SET_REGS, &k) ? -errno : 0;
}

static void seg_from_kvm(struct hvlab_segment *h, const struct kvm_segment *k)
{
	memset(h, 0, sizeof(*h));
	h->base = k->base;
	h->limit = k->limit;
	h->selector = k->selector;
	h->type = k->type;
	h->present = k->present;
	h->dpl = k->dpl;
	h->db = k->db;
	h->s = k->s;
	h->l = k->l;
	h->g = k->g;
	h->avl = k->avl;
	h->unusable = k->unusable;
}

static void seg_to_kvm(struct kvm_segment *k, const struct hvlab_segment *h)
{
	memset(k, 0, sizeof(*k));
	k->base = h->base;
	k->limit = h->limit;
	k->selector = h->selector;
	k->type = h->type;
	k->present = h->present;
	k->dpl = h->dpl;
	k->db = h->db;
	k->s = h->s;
	k->l = h->l;
	k->g = h->g;
	k->avl = h->avl;
	k->unusable = h->unusable;
}

static int kvm_get_sregs(struct accel *a, struct hvlab_sregs *s)
{
	struct kvm_sregs k;

	if (ioctl(a->vcpu_fd, KVM_GET_SREGS, &k))
		return -errno;
	memset(s, 0, sizeof(*s));
	seg_from_kvm(&s->cs, &k.cs);
	seg_from_kvm(&s->ds, &k.ds);
	seg_from_kvm(&s->es, &k.es);
	seg_from_kvm(&s->fs, &k.fs);
	seg_from_kvm(&s->gs, &k.gs);
	seg_from_kvm(&s->ss, &k.ss);
	seg_from_kvm(&s->tr, &k.tr);
	seg_from_kvm(&s->ldt, &k.ldt);
	s->gdt.base = k.gdt.base;
	s->gdt.limit = k.gdt.limit;
	s->idt.base = k.idt.base;
	s->idt.limit = k.idt.limit;
	s->cr0 = k.cr0;
	s->cr2 = k.cr2;
	s->cr3 = k.cr3;
	s->cr4 = k.cr4;
	s->cr8 = k.cr8;
	s->efer = k.efer;
	s->apic_base = k.apic_base;
	return 0;
}

static int kvm_set_sregs(struct accel *a, const struct hvlab_sregs *s)
{
	struct kvm_sregs k;

	/* start from KVM's own (apic_base, interrupt bitmap), then ours */
	if (ioctl(a->vcpu_fd, KVM_GET_SREGS, &k))
		return -errno;
	seg_to_kvm(&k.cs, &s->cs);
	seg_to_kvm(&k.ds, &s->ds);
	seg_to_kvm(&k.es, &s->es);
	seg_to_kvm(&k.fs, &s->fs);
	seg_to_kvm(&k.gs, &s->gs);
	seg_to_kvm(&k.ss, &s->ss);
	seg_to_kvm(&k.tr, &s->tr);
	seg_to_kvm(&k.ldt, &s->ldt);
	k.gdt.base = s->gdt.base;
	k.gdt.limit = s->gdt.limit;
	k.idt.base = s->idt.base;
	k.idt.limit = s->idt.limit;
	k.cr0 = s->cr0;
	k.cr2 = s->cr2;
	k.cr3 = s->cr3;
	k.cr4 = s->cr4;
	k.cr8 = s->cr8;
	k.efer = s->efer;
	/*
	 * The local APIC globally disabled (IA32_APIC_BASE.EN = 0): KVM sets
	 * CPUID.1:EDX.APIC from that bit whatever KVM_SET_CPUID2 said, and
	 * without an in-kernel irqchip there is no APIC behind 0xFEE00000, so
	 * a guest that saw the bit would poke MMIO that leads nowhere.  On
	 * the APIC board KVM's own value stays (enabled, BSP flag on vCPU 0).
	 */
	if (!a->apic)
		k.apic_base = 0;
	return ioctl(a->vcpu_fd, KVM_SET_SREGS, &k) ? -errno : 0;
}

static int kvm_fix_cpuid(struct accel *a,
			 void (*fix)(struct hvlab_cpuid_entry *e, const struct accel *a))
{
	struct kvm_cpuid2 *c;
	unsigned int i, n = 0;
	int ret = 0;

	c = calloc(1, sizeof(*c) + HVLAB_CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = HVLAB_CPUID_MAX_ENTRIES;
	if (ioctl(a->sys_fd, KVM_GET_SUPPORTED_CPUID, c)) {
		ret = -errno;
		goto out_free;
	}
	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *k = &c->entries[i];
		struct hvlab_cpuid_entry h = {
			.function = k->function, .index = k->index,
			.flags = k->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX ? HVLAB_CPUID_INDEXED : 0,
			.eax = k->eax, .ebx = k->ebx, .ecx = k->ecx, .edx = k->edx,
		};

		/* KVM's paravirtual leaves: hvlab has none, so neither does this guest */
		if (k->function >= 0x40000000 && k->function < 0x50000000)
			continue;
		fix(&h, a);
		k->eax = h.eax;
		k->ebx = h.ebx;
		k->ecx = h.ecx;
		k->edx = h.edx;
		c->entries[n++] = *k;
	}
	c->nent = n;
	if (ioctl(a->vcpu_fd, KVM_SET_CPUID2, c))
		ret = -errno;
out_free:
	free(c);
	return ret;
}

static int kvm_run_vcpu(struct accel *a, struct vm_exit *ex)
{
	struct kvm_run *run = a->run;
	int ret = ioctl(a->vcpu_fd, KVM_RUN, 0);

	run->immediate_exit = 0;
	memset(ex, 0, sizeof(*ex));
	/*
	 * EAGAIN: an AP that waited for its SIPI in KVM_RUN got an event
	 * (INIT or SIPI) and wants KVM_RUN again (kvm_arch_vcpu_ioctl_run()
	 * returns it after kvm_vcpu_block() for KVM_MP_STATE_UNINITIALIZED).
	 */
	if (ret && (errno == EINTR || errno == EAGAIN)) {
		ex->kind = VMX_INTR;
		return 0;
	}
	if (ret)
		return -errno;
	ex->if_flag = run->if_flag;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		ex->kind = VMX_IO;
		ex->io.out = run->io.direction == KVM_EXIT_IO_OUT;
		ex->io.size = run->io.size;
		ex->io.port = run->io.port;
		ex->io.count = run->io.count;
		ex->io.data = (uint8_t *)run + run->io.data_offset;
		break;
	case KVM_EXIT_MMIO:
		ex->kind = VMX_MMIO;
		ex->mmio.addr = run->mmio.phys_addr;
		ex->mmio.data = run->mmio.data;
		ex->mmio.len = run->mmio.len;
		ex->mmio.write = run->mmio.is_write;
		break;
	case KVM_EXIT_HLT:
		ex->kind = VMX_HLT;
		break;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		ex->kind = VMX_IRQ_WINDOW;
		break;
	case KVM_EXIT_INTR:
		ex->kind = VMX_INTR;
		break;
	case KVM_EXIT_SHUTDOWN:
		ex->kind = VMX_SHUTDOWN;
		break;
	case KVM_EXIT_IOAPIC_EOI:
		ex->kind = VMX_EOI;
		ex->eoi_vector = run->eoi.vector;
		break;
	case KVM_EXIT_FAIL_ENTRY:
		ex->kind = VMX_FAIL;
		snprintf(ex->why, sizeof(ex->why), "KVM entry failed, hardware reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		ex->kind = VMX_FAIL;
		snprintf(ex->why, sizeof(ex->why), "KVM internal error %u (ndata %u, 0x%llx 0x%llx)",
			 run->internal.suberror, run->internal.ndata,
			 (unsigned long long)run->internal.data[0],
			 (unsigned long long)run->internal.data[1]);
		break;
	default:
		ex->kind = VMX_FAIL;
		snprintf(ex->why, sizeof(ex->why), "unexpected KVM exit %u", run->exit_reason);
	}
	return 0;
}

static int kvm_inject_irq(struct accel *a, uint8_t vector)
{
	struct kvm_run *run = a->run;
	struct kvm_interrupt irq = { .irq = vector };

	if (!run->ready_for_interrupt_injection) {
		run->request_interrupt_window = 1;
		return -EBUSY;
	}
	return ioctl(a->vcpu_fd, KVM_INTERRUPT, &irq) ? -errno : 0;
}

static void kvm_want_irq_window(struct accel *a, bool on)
{
	((struct kvm_run *)a->run)->request_interrupt_window = on;
}

static void kvm_kick(struct accel *a)
{
	((volatile struct kvm_run *)a->run)->immediate_exit = 1;
}

static int kvm_signal_msi(struct accel *a, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data,
	};

	/* > 0: delivered; 0: the guest's APICs refused it (e.g. disabled) */
	return ioctl(a->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}

/* GSI n = I/O APIC pin n, as QEMU's split-irqchip PCs number them. */
static int kvm_set_level_routes(struct accel *a, const struct ioapic_route *r, unsigned int n)
{
	struct kvm_irq_routing *t;
	int ret = 0;

	t = calloc(1, sizeof(*t) + n * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	t->nr = n;
	for (unsigned int i = 0; i < n; i++) {
		t->entries[i].gsi = r[i].pin;
		t->entries[i].type = KVM_IRQ_ROUTING_MSI;
		t->entries[i].u.msi.address_lo = (uint32_t)r[i].addr;
		t->entries[i].u.msi.address_hi = (uint32_t)(r[i].addr >> 32);
		t->entries[i].u.msi.data = r[i].data;
	}
	if (ioctl(a->vm_fd, KVM_SET_GSI_ROUTING, t))
		ret = -errno;
	free(t);
	return ret;
}

static void kvm_destroy(struct accel *a)
{
	if (a->run)
		munmap(a->run, a->run_size);
	if (a->vcpu_fd >= 0)
		close(a->vcpu_fd);
	if (a->vcpu_only)
		return;
	if (a->vm_fd >= 0)
		close(a->vm_fd);
	if (a->sys_fd >= 0)
		close(a->sys_fd);
}

const struct accel_ops accel_kvm_ops = {
	.name = "kvm",
	.create = kvm_create,
	.add_ram = kvm_add_ram,
	.get_regs = kvm_get_regs,
	.set_regs = kvm_set_regs,
	.get_sregs = kvm_get_sregs,
	.set_sregs = kvm_set_sregs,
	.fix_cpuid = kvm_fix_cpuid,
	.run = kvm_run_vcpu,
	.inject_irq = kvm_inject_irq,
	.want_irq_window = kvm_want_irq_window,
	.kick = kvm_kick,
	.destroy = kvm_destroy,
	.add_vcpu = kvm_add_vcpu,
	.signal_msi = kvm_signal_msi,
	.set_level_routes = kvm_set_level_routes,
};
