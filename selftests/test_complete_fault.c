// SPDX-License-Identifier: GPL-2.0
/*
 * test_complete_fault.c - a RUN that fails while completing a pending
 * access must not make the device model see the access twice.
 *
 * MOVS from MMIO to RAM and INS complete on the next RUN by writing the
 * value userspace supplied into guest memory (module/mem.c
 * hv_complete_mmio, hv_complete_string_in).  If the VMM has unmapped the
 * destination page in between, that write fails and RUN returns -EFAULT.
 * The device model has already performed the access (a read with side
 * effects, a FIFO pop), so the answer must stay pending and be delivered
 * when the page is back: the guest goes on past the instruction, with no
 * second MMIO or port exit for it.  Before the fix the answer was
 * dropped, the guest executed the instruction again, and the device saw
 * a second read.  (KVM keeps the same state in vcpu->mmio_needed and
 * vcpu->arch.complete_userspace_io.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "guest.h"

#define MMIO_GPA	0xb0000ull		/* in the PC hole: no RAM */
#define DST_GPA		0x7000		/* RAM page the VMM takes away */
_Static_assert(DST_GPA == HVT_RAW_DATA_GPA, "the raw-code scratch page");
#define PORT		0x5e

/* MOVSB from MMIO, then REP INSB of 4 bytes; registers reported after each. */
HVT_ASM(fault_code, 64,
	"cld\n\t"
	"movsb\n\t"
	"mov %rsi, %rbx\n\t"
	"mov %rdi, %rcx\n\t"
	HVT_ASM_UCALL(UCALL_SYNC)
	"mov $(" __hvt_str(DST_GPA) " + 0x10), %edi\n\t"
	"mov $4, %ecx\n\t"
	"mov $" __hvt_str(PORT) ", %dx\n\t"
	"rep insb\n\t"
	"mov %rdi, %rbx\n\t"
	HVT_ASM_UCALL(UCALL_SYNC)
	HVT_ASM_UCALL(UCALL_DONE));

FIXTURE(complete) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
};

FIXTURE_SETUP(complete)
{
	HVT_SETUP_VM_VCPU(HVT_VM_PC_HOLE);
}

FIXTURE_TEARDOWN(complete)
{
	hvt_vm_free(self->vm);
}

/* The device: counts its accesses. */
struct dev {
	unsigned int mmio_reads, port_reads;
};

/*
 * RUN until a ucall, answering MMIO reads at MMIO_GPA with 0x5a and
 * port reads with "abcd"; returns RUN's error (0 once a ucall came).
 */
static int run_dev(struct hvt_vcpu *vcpu, struct dev *d, struct ucall *uc)
{
	struct hvlab_run *run = vcpu->run;
	int ret;

	for (;;) {
		ret = hvt_vcpu_run(vcpu);
		if (ret)
			return ret;
		if (run->exit_reason == HVLAB_EXIT_MMIO && !run->mmio.is_write) {
			d->mmio_reads++;
			memset(run->mmio.data, 0, sizeof(run->mmio.data));
			run->mmio.data[0] = 0x5a;
			continue;
		}
		if (run->exit_reason == HVLAB_EXIT_IO && run->io.port == PORT &&
		    run->io.direction == HVLAB_IO_IN) {
			d->port_reads++;
			memcpy((uint8_t *)run + run->io.data_offset, "abcd",
			       run->io.size * run->io.count < 4 ? run->io.size * run->io.count : 4);
			continue;
		}
		ret = hvt_get_ucall(vcpu, uc);
		return ret > 0 ? 0 : -EPROTO;
	}
}

/* Take the destination page away from the VMM's mapping, or give it back. */
static void *page_of(struct hvt_vm *vm)
{
	return hvt_gpa2hva(vm, DST_GPA, HVT_PAGE_SIZE);
}

static void unmap_dst(struct __test_metadata *_metadata, struct hvt_vm *vm)
{
	ASSERT_EQ(0, munmap(page_of(vm), HVT_PAGE_SIZE));
}

static void remap_dst(struct __test_metadata *_metadata, struct hvt_vm *vm)
{
	void *p = page_of(vm);

	ASSERT_EQ(p, mmap(p, HVT_PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
}

/*
 * The first RUN exits for the read; the VMM answers, then unmaps the
 * page the answer goes to: RUN fails with -EFAULT, twice (the retry
 * fails as long as the page is away, and the device is not asked
 * again); with the page back, RUN completes the instruction and the
 * guest reaches its next ucall.  Exactly one device access each.
 */
TEST_F(complete, efault_keeps_pending)
{
	struct hvlab_regs regs;
	struct dev d = { 0 };
	struct hvlab_run *run;
	struct ucall uc;
	uint8_t *page;
	int ret;

	HVT_SKIPPED_IN_SETUP();
	run = self->vcpu->run;
	ASSERT_EQ(0, hvt_vcpu_enter_raw(self->vcpu, HVT_MODE_LONG64, &(struct hvt_code){
		fault_code, fault_code_end }));
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &regs));
	regs.rsi = MMIO_GPA;
	regs.rdi = DST_GPA;
	ASSERT_EQ(0, hvlab_set_regs(self->vcpu->fd, &regs));

	/* MOVSB: the read exit. */
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_MMIO);
	ASSERT_FALSE(run->mmio.is_write);
	ASSERT_EQ(MMIO_GPA, run->mmio.phys_addr);
	d.mmio_reads++;
	run->mmio.data[0] = 0x5a;
	unmap_dst(_metadata, self->vm);
	ret = hvt_vcpu_run(self->vcpu);
	ASSERT_EQ(-EFAULT, ret) TH_LOG("RUN with the destination unmapped: %s", strerror(-ret));
	ret = hvt_vcpu_run(self->vcpu);
	/* Before the fix: RUN 0, the guest ran MOVSB again, a second read. */
	if (!ret && run->exit_reason == HVLAB_EXIT_MMIO && !run->mmio.is_write)
		d.mmio_reads++;
	ASSERT_EQ(-EFAULT, ret) TH_LOG("retry with the page still away: %s; the device saw %u reads",
				       strerror(-ret), d.mmio_reads);
	remap_dst(_metadata, self->vm);
	ret = run_dev(self->vcpu, &d, &uc);
	ASSERT_EQ(0, ret) TH_LOG("RUN with the page back: %s", strerror(-ret));
	ASSERT_EQ(UCALL_SYNC, uc.cmd);
	EXPECT_EQ(1u, d.mmio_reads) TH_LOG("the device saw the MOVSB read %u times", d.mmio_reads);
	EXPECT_EQ(MMIO_GPA + 1, uc.args[0]) TH_LOG("RSI");
	EXPECT_EQ(DST_GPA + 1, uc.args[1]) TH_LOG("RDI");
	page = page_of(self->vm);
	EXPECT_EQ(0x5a, page[0]) TH_LOG("the byte MOVSB stored");

	/* REP INSB: one port exit for the 4 bytes. */
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	ASSERT_EQ(PORT, run->io.port);
	ASSERT_EQ(HVLAB_IO_IN, run->io.direction);
	ASSERT_EQ(4u, run->io.count);
	d.port_reads++;
	memcpy((uint8_t *)run + run->io.data_offset, "abcd", 4);
	unmap_dst(_metadata, self->vm);
	ret = hvt_vcpu_run(self->vcpu);
	ASSERT_EQ(-EFAULT, ret) TH_LOG("RUN with the destination unmapped: %s", strerror(-ret));
	remap_dst(_metadata, self->vm);
	ret = run_dev(self->vcpu, &d, &uc);
	ASSERT_EQ(0, ret) TH_LOG("RUN with the page back: %s", strerror(-ret));
	ASSERT_EQ(UCALL_SYNC, uc.cmd);
	EXPECT_EQ(1u, d.port_reads) TH_LOG("the device saw the INSB read %u times", d.port_reads);
	EXPECT_EQ(DST_GPA + 0x14, uc.args[0]) TH_LOG("RDI");
	page = page_of(self->vm);
	EXPECT_EQ(0, memcmp(page + 0x10, "abcd", 4)) TH_LOG("the bytes INSB stored");
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

TEST_HARNESS_MAIN
