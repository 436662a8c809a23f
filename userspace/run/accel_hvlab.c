// SPDX-License-Identifier: GPL-2.0
/*
 * accel_hvlab.c - hvlab-run's accelerator ops on /dev/hvlab, through
 * libhvlab.  Interrupts go in with HVLAB_INJECT: the module keeps one
 * queued and opens the interrupt window itself (uapi/hvlab.h).
 *
 * The APIC board (a->apic): the VM is made with HVLAB_VM_LAPIC, so each
 * vCPU has its local APIC in the module, and the I/O APIC stays
 * hvlab-run's: the same split as accel_kvm.c's KVM_CAP_SPLIT_IRQCHIP.
 * The I/O APIC's messages go in with HVLAB_SIGNAL_MSI; the vectors of its
 * level-triggered entries become the EOI-exit bitmap
 * (HVLAB_SET_EOI_EXITS), whose EOIs come back as HVLAB_EXIT_EOI (KVM
 * learns the same vectors from its GSI routes, kvm_scan_ioapic_routes()).
 * vCPUs other than 0 start waiting for a SIPI in the module, and HLT
 * waits there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libhvlab.h"
#include "run.h"

static int hv_map_vcpu(struct accel *a, unsigned int id, char *err, size_t errlen);

static int hv_create(struct accel *a, char *err, size_t errlen)
{
	a->sys_fd = hvlab_open();
	if (a->sys_fd < 0) {
		snprintf(err, errlen, "open %s: %s (is hvlab.ko loaded?)", HVLAB_DEV_PATH,
			 strerror(-a->sys_fd));
		return a->sys_fd;
	}
	if (hvlab_check_cap(a->sys_fd, HVLAB_CAP_RUN) <= 0) {
		snprintf(err, errlen, "this hvlab.ko cannot run guests (HVLAB_CAP_RUN is 0)");
		return -ENOSYS;
	}
	/*
	 * The APIC board needs local APICs in the module: refuse an older
	 * hvlab.ko rather than boot a board whose interrupts could not
	 * reach a CPU.
	 */
	if (a->apic && hvlab_check_cap(a->sys_fd, HVLAB_CAP_LAPIC) <= 0) {
		snprintf(err, errlen, "this hvlab.ko has no in-kernel local APIC (HVLAB_CAP_LAPIC is 0), so it cannot run the APIC board (--smp); use --no-apic, or --accel kvm");
		return -ENOSYS;
	}
	a->vm_fd = hvlab_create_vm(a->sys_fd, a->apic ? HVLAB_VM_LAPIC : 0);
	if (a->vm_fd < 0) {
		snprintf(err, errlen, "HVLAB_CREATE_VM: %s%s", strerror(-a->vm_fd),
			 a->vm_fd == -EBUSY ? " (another hypervisor holds VT-x/SVM; see dmesg)" : "");
		return a->vm_fd;
	}
	return hv_map_vcpu(a, 0, err, errlen);
}

/* vCPU @id of a->vm_fd's VM: its fd, MSR policy and run page. */
static int hv_map_vcpu(struct accel *a, unsigned int id, char *err, size_t errlen)
{
	int ret, size;

	a->id = id;
	a->vcpu_fd = hvlab_create_vcpu(a->vm_fd, id);
	if (a->vcpu_fd < 0) {
		snprintf(err, errlen, "HVLAB_CREATE_VCPU: %s", strerror(-a->vcpu_fd));
		return a->vcpu_fd;
	}
	/*
	 * MSRs the module does not handle come to us (hvlab-run.c answers the
	 * few a stock kernel reads unguarded, IA32_MISC_ENABLE on Intel) rather
	 * than turning into #GP in the kernel.
	 */
	ret = hvlab_set_msr_policy(a->vcpu_fd, HVLAB_MSR_UNKNOWN_USERSPACE);
	if (ret) {
		snprintf(err, errlen, "HVLAB_SET_MSR_POLICY: %s", strerror(-ret));
		return ret;
	}
	size = hvlab_vcpu_mmap_size(a->sys_fd);
	if (size < 0) {
		snprintf(err, errlen, "HVLAB_GET_VCPU_MMAP_SIZE: %s", strerror(-size));
		return size;
	}
	ret = hvlab_map_run(a->vcpu_fd, size, (struct hvlab_run **)&a->run);
	if (ret) {
		a->run = NULL;
		snprintf(err, errlen, "mmap of the run page: %s", strerror(-ret));
		return ret;
	}
	a->run_size = size;
	return 0;
}

/* Another vCPU of @vm's VM: shares its system and VM fds. */
static int hv_add_vcpu(struct accel *vm, struct accel *cpu, unsigned int id,
		       char *err, size_t errlen)
{
	accel_vcpu_of(vm, cpu);
	return hv_map_vcpu(cpu, id, err, errlen);
}

static int hv_add_ram(struct accel *a, uint32_t slot, uint64_t gpa, uint64_t size, void *hva)
{
	struct hvlab_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (unsigned long)hva,
	};

	return hvlab_set_memory_region(a->vm_fd, &r);
}

static int hv_get_regs(struct accel *a, struct hvlab_regs *r)
{
	return hvlab_get_regs(a->vcpu_fd, r);
}

static int hv_set_regs(struct accel *a, const struct hvlab_regs *r)
{
	return hvlab_set_regs(a->vcpu_fd, r);
}

static int hv_get_sregs(struct accel *a, struct hvlab_sregs *s)
{
	return hvlab_get_sregs(a->vcpu_fd, s);
}

static int hv_set_sregs(struct accel *a, const struct hvlab_sregs *s)
{
	return hvlab_set_sregs(a->vcpu_fd, s);
}

static int hv_fix_cpuid(struct accel *a,
			void (*fix)(struct hvlab_cpuid_entry *e, const struct accel *a))
{
	struct hvlab_cpuid *c;
	int ret;

	c = calloc(1, sizeof(*c) + HVLAB_CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = HVLAB_CPUID_MAX_ENTRIES;
	ret = hvlab_get_cpuid(a->vcpu_fd, c);
	if (!ret) {
		for (unsigned int i = 0; i < c->nent; i++)
			fix(&c->entries[i], a);
		ret = hvlab_set_cpuid(a->vcpu_fd, c);
	}
	free(c);
	return ret;
}

static int hv_run(struct accel *a, struct vm_exit *ex)
{
	struct hvlab_run *run = a->run;
	int ret = hvlab_run(a->vcpu_fd);

	run->immediate_exit = 0;
	memset(ex, 0, sizeof(*ex));
	if (ret == -EINTR) {
		ex->kind = VMX_INTR;
		return 0;
	}
	if (ret)
		return ret;
	ex->if_flag = run->if_flag;
	switch (run->exit_reason) {
	case HVLAB_EXIT_IO:
		ex->kind = VMX_IO;
		ex->io.out = run->io.direction == HVLAB_IO_OUT;
		ex->io.size = run->io.size;
		ex->io.port = run->io.port;
		ex->io.count = run->io.count;
		ex->io.data = (uint8_t *)run + run->io.data_offset;
		break;
	case HVLAB_EXIT_MMIO:
		ex->kind = VMX_MMIO;
		ex->mmio.addr = run->mmio.phys_addr;
		ex->mmio.data = run->mmio.data;
		ex->mmio.len = run->mmio.len;
		ex->mmio.write = run->mmio.is_write;
		break;
	case HVLAB_EXIT_HLT:
		ex->kind = VMX_HLT;
		break;
	case HVLAB_EXIT_IRQ_WINDOW:
		ex->kind = VMX_IRQ_WINDOW;
		break;
	case HVLAB_EXIT_SHUTDOWN:
		ex->kind = VMX_SHUTDOWN;
		break;
	case HVLAB_EXIT_EOI:
		ex->kind = VMX_EOI;
		ex->eoi_vector = run->eoi.vector;
		break;
	case HVLAB_EXIT_MSR:
		ex->kind = VMX_MSR;
		ex->msr.index = run->msr.index;
		ex->msr.write = run->msr.is_write;
		ex->msr.data = (uint64_t *)&run->msr.data;
		ex->msr.error = &run->msr.error;
		run->msr.error = 0;
		break;
	case HVLAB_EXIT_FAIL_ENTRY:
		ex->kind = VMX_FAIL;
		snprintf(ex->why, sizeof(ex->why), "entry failed: %.96s (hardware reason 0x%llx, field 0x%x)",
			 run->fail_entry.rule, (unsigned long long)run->fail_entry.hardware_reason,
			 run->fail_entry.field);
		break;
	case HVLAB_EXIT_INTERNAL:
		ex->kind = VMX_FAIL;
		snprintf(ex->why, sizeof(ex->why), "internal error %u, data 0x%llx 0x%llx 0x%llx",
			 run->internal.suberror, (unsigned long long)run->internal.data[0],
			 (unsigned long long)run->internal.data[1], (unsigned long long)run->internal.data[2]);
		break;
	default:
		ex->kind = VMX_FAIL;
		snprintf(ex->why, sizeof(ex->why), "unexpected exit %s (%u, vendor reason 0x%llx)",
			 hvlab_exit_name(run->exit_reason), run->exit_reason,
			 (unsigned long long)run->vendor_reason);
	}
	return 0;
}

static int hv_inject_irq(struct accel *a, uint8_t vector)
{
	struct hvlab_event ev = { .type = HVLAB_EVENT_INTERRUPT, .vector = vector };

	return hvlab_inject(a->vcpu_fd, &ev);
}

static void hv_want_irq_window(struct accel *a, bool on)
{
	((struct hvlab_run *)a->run)->request_interrupt_window = on;
}

static void hv_kick(struct accel *a)
{
	((volatile struct hvlab_run *)a->run)->immediate_exit = 1;
}

static int hv_count_exits(struct accel *a, uint64_t *exits)
{
	struct hvlab_exit_stats st;
	int ret = hvlab_get_exit_stats(a->vcpu_fd, &st);

	if (!ret)
		*exits = st.exits;
	return ret;
}

static int hv_signal_msi(struct accel *a, uint64_t addr, uint32_t data)
{
	struct hvlab_msi msi = { .address = addr, .data = data };
	int ret = hvlab_signal_msi(a->vm_fd, &msi);

	/* >= 0: how many APICs took it (0: none, e.g. all disabled) */
	return ret < 0 ? ret : 0;
}

/*
 * The vectors of the level-triggered entries: their EOIs must reach the
 * I/O APIC (Remote IRR, and a line still asserted is sent again).  One
 * VM-wide map, where KVM keeps one per vCPU of the entries' destinations
 * (vcpu_scan_ioapic()): an EOI exit from a vCPU that was not a target
 * only makes ioapic_eoi() look for a Remote IRR that is not set.
 */
static int hv_set_level_routes(struct accel *a, const struct ioapic_route *r, unsigned int n)
{
	struct hvlab_eoi_exits eoi = { { 0 } };

	for (unsigned int i = 0; i < n; i++) {
		uint8_t v = r[i].data & 0xff;

		eoi.bitmap[v / 64] |= 1ull << (v % 64);
	}
	return hvlab_set_eoi_exits(a->vm_fd, &eoi);
}

static void hv_destroy(struct accel *a)
{
	if (a->run)
		hvlab_unmap_run(a->run, a->run_size);
	if (a->vcpu_fd >= 0)
		close(a->vcpu_fd);
	if (a->vcpu_only)
		return;
	if (a->vm_fd >= 0)
		close(a->vm_fd);
	if (a->sys_fd >= 0)
		close(a->sys_fd);
}

const struct accel_ops accel_hvlab_ops = {
	.name = "hvlab",
	.create = hv_create,
	.add_ram = hv_add_ram,
	.get_regs = hv_get_regs,
	.set_regs = hv_set_regs,
	.get_sregs = hv_get_sregs,
	.set_sregs = hv_set_sregs,
	.fix_cpuid = hv_fix_cpuid,
	.run = hv_run,
	.inject_irq = hv_inject_irq,
	.want_irq_window = hv_want_irq_window,
	.kick = hv_kick,
	.count_exits = hv_count_exits,
	.destroy = hv_destroy,
	.add_vcpu = hv_add_vcpu,
	.signal_msi = hv_signal_msi,
	.set_level_routes = hv_set_level_routes,
};
