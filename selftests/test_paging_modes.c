// SPDX-License-Identifier: GPL-2.0
/*
 * test_paging_modes.c - guest state that changes how the guest translates
 * or caches, on both vendors:
 *   - PAE paging (32-bit, CR4.PAE, no long mode; Intel SDM Vol. 3A 4.4,
 *     AMD APM Vol. 2 5.2): entered with SET_SREGS, and entered by the
 *     guest itself from 32-bit protected mode without paging, once with a
 *     MOV to CR0 the CPU runs alone and once with one hvlab emulates
 *     (on VT-x: it also flips CR0.NE, which hvlab owns).  With EPT the
 *     PDPTEs of PAE paging come from the VMCS at entry (SDM Vol. 3C
 *     27.3.2.4), so hvlab must put them there.  AMD has no such fields:
 *     there the same tests simply have to pass.
 *   - a new CR3 from SET_SREGS is used at once (no stale translations);
 *   - an interrupt queued before an entry that the module refuses is
 *     delivered once the state is repaired, exactly once;
 *   - the guest's DR7 survives exits;
 *   - an HVLAB_MEM_UNCACHED slot works as RAM.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "guest.h"
#include "x86.h"

#define SZ_2M		(2ull << 20)
#define SZ_1G		(1ull << 30)

/*
 * PAE tables the test builds in free guest RAM (guest.h: nothing lives
 * between the library's tables below 0xa0000 and the binary at 0x400000):
 * a PDPT and four page directories of 2 MiB pages, identity-mapping 4 GiB
 * except the last 2 MiB (HIGH_LA), which maps guest-physical 4 GiB, where
 * the test puts a slot of RAM.  MMIO_LA has no RAM behind it.
 */
#define PDPT_GPA	0x200000ull
#define PD_GPA		0x201000ull
#define HIGH_GPA	0x100000000ull
#define HIGH_LA		0xffe00000u
#define MMIO_LA		0xd0000000u
#define HIGH_SLOT	HVT_FIRST_FREE_SLOT

#define STR(x)		__hvt_str(x)

/*
 * PAE guest: OUT, CPUID (reported), an MMIO load and store, and a load and
 * store through a PAE mapping of guest-physical memory above 4 GiB.
 * EDI, if nonzero, is first XORed into CR0 with PG, to turn paging on
 * from inside (with CR3 and CR4.PAE set just before).
 */
HVT_ASM(pae_code, 32,
	"test %edi, %edi\n"
	"jz 1f\n"
	"mov $" STR(PDPT_GPA) ", %eax\n"
	"mov %eax, %cr3\n"
	"mov %cr4, %eax\n"
	"or $0x20, %eax\n"
	"mov %eax, %cr4\n"
	"mov %cr0, %eax\n"
	"xor %edi, %eax\n"
	"mov %eax, %cr0\n"
	"1:\n"
	"mov $0x12345678, %eax\n"
	"out %eax, $0x80\n"
	"xor %eax, %eax\n"
	"xor %ecx, %ecx\n"
	"cpuid\n"
	HVT_ASM_UCALL(UCALL_SYNC)
	"mov $" STR(MMIO_LA) ", %esi\n"
	"mov (%esi), %ebx\n"
	"movl $0xdeadbeef, 4(%esi)\n"
	"mov $" STR(HIGH_LA) ", %ecx\n"
	"mov (%ecx), %edx\n"
	"movl $0x5aa55aa5, 4(%ecx)\n"
	HVT_ASM_UCALL(UCALL_SYNC)
	HVT_ASM_UCALL(UCALL_DONE));

FIXTURE(paging) {
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
	void *high;		/* the RAM at HIGH_GPA */
};

FIXTURE_SETUP(paging)
{
	uint64_t *pdpt, *pd;
	unsigned int i;

	self->vm = NULL;
	self->high = MAP_FAILED;
	HVT_SETUP_VM_VCPU(0);

	self->high = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->high);
	ASSERT_EQ(0, hvt_set_region(self->vm->fd, HIGH_SLOT, 0, HIGH_GPA, SZ_2M,
				    (uintptr_t)self->high));

	pdpt = hvt_gpa2hva(self->vm, PDPT_GPA, 0x5000);
	ASSERT_NE(NULL, pdpt);
	memset(pdpt, 0, 0x5000);
	pd = hvt_gpa2hva(self->vm, PD_GPA, 0x4000);
	for (i = 0; i < 4; i++)
		pdpt[i] = (PD_GPA + 0x1000 * i) | PTE_P;	/* PDPTEs have no R/W (Table 4-8) */
	for (i = 0; i < 4 * 512; i++)
		pd[i] = (uint64_t)i * SZ_2M | PTE_P | PTE_RW | PTE_PS;
	pd[HIGH_LA / SZ_2M] = HIGH_GPA | PTE_P | PTE_RW | PTE_PS;
}

FIXTURE_TEARDOWN(paging)
{
	hvt_vm_free(self->vm);
	if (self->high != MAP_FAILED)
		munmap(self->high, SZ_2M);
}

/* Start pae_code in 32-bit protected mode; PAE paging already on unless @cr0_xor. */
static void enter_pae(struct __test_metadata *_metadata, FIXTURE_DATA(paging) *self,
		      uint32_t cr0_xor)
{
	struct hvlab_sregs sr;
	struct hvlab_regs regs;
	int ret;

	ret = hvt_vcpu_enter_raw(self->vcpu, HVT_MODE_PROT32, &(struct hvt_code){ pae_code, pae_code_end });
	ASSERT_EQ(0, ret) TH_LOG("enter: %s", strerror(-ret));
	if (!cr0_xor) {
		ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
		sr.cr0 |= CR0_PG;
		sr.cr4 |= CR4_PAE;
		sr.cr3 = PDPT_GPA;
		ASSERT_EQ(0, hvlab_set_sregs(self->vcpu->fd, &sr));
	}
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &regs));
	regs.rdi = cr0_xor;
	ASSERT_EQ(0, hvlab_set_regs(self->vcpu->fd, &regs));
}

/* Run pae_code to its end, checking every exit and what the guest saw. */
static void run_pae(struct __test_metadata *_metadata, FIXTURE_DATA(paging) *self)
{
	struct hvlab_run *run = self->vcpu->run;
	struct hvlab_sregs sr;
	uint32_t a, b, c, d;
	uint32_t val = 0xcafef00d;
	struct ucall uc;

	*(volatile uint32_t *)self->high = 0x600dcafe;

	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_IO);
	EXPECT_EQ(0x80, run->io.port);
	EXPECT_EQ(4, run->io.size);
	EXPECT_EQ(0x12345678u, hvt_io_data(run));

	/* CPUID leaf 0 in the guest: the vendor string the host's CPU has. */
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	hvt_cpuid(0, 0, &a, &b, &c, &d);
	EXPECT_EQ(b, uc.args[0]);
	EXPECT_EQ(c, uc.args[1]);
	EXPECT_EQ(d, uc.args[2]);

	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_MMIO);
	EXPECT_EQ(MMIO_LA, run->mmio.phys_addr);
	EXPECT_EQ(4, run->mmio.len);
	EXPECT_EQ(0, run->mmio.is_write);
	memcpy(run->mmio.data, &val, 4);
	HVT_RUN_EXPECT_EXIT(self->vcpu, HVLAB_EXIT_MMIO);
	EXPECT_EQ(MMIO_LA + 4, run->mmio.phys_addr);
	EXPECT_EQ(1, run->mmio.is_write);
	memcpy(&val, run->mmio.data, 4);
	EXPECT_EQ(0xdeadbeefu, val);

	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0xcafef00du, (uint32_t)uc.args[0]);	/* EBX: the MMIO load */
	EXPECT_EQ(0x600dcafeu, (uint32_t)uc.args[2]);	/* EDX: above 4 GiB */
	EXPECT_EQ(0x5aa55aa5u, ((volatile uint32_t *)self->high)[1]);
	HVT_RUN_EXPECT_DONE(self->vcpu);

	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	EXPECT_EQ(CR0_PG, sr.cr0 & CR0_PG);
	EXPECT_EQ(CR4_PAE, sr.cr4 & CR4_PAE);
	EXPECT_EQ(0, sr.efer & (1ull << 10));		/* no long mode */
}

/* SET_SREGS puts the vCPU straight into PAE paging. */
TEST_F(paging, pae_from_sregs)
{
	HVT_SKIPPED_IN_SETUP();
	enter_pae(_metadata, self, 0);
	run_pae(_metadata, self);
}

/* The guest turns PAE paging on itself; CR0.NE stays, so no exit on VT-x. */
TEST_F(paging, pae_by_guest)
{
	HVT_SKIPPED_IN_SETUP();
	enter_pae(_metadata, self, CR0_PG);
	run_pae(_metadata, self);
}

/* The same, also clearing CR0.NE: on VT-x the MOV exits and hvlab emulates it. */
TEST_F(paging, pae_by_guest_emulated)
{
	struct hvlab_sregs sr;

	HVT_SKIPPED_IN_SETUP();
	enter_pae(_metadata, self, CR0_PG | CR0_NE);
	run_pae(_metadata, self);
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	EXPECT_EQ(0, sr.cr0 & CR0_NE);
}

/*
 * A present PDPTE with a reserved bit: the MOV to CR0 that turns on PAE
 * paging must #GP and leave paging off (SDM Vol. 3A 4.4.1).  Intel only:
 * with nested paging AMD does not load PDPTEs at the MOV (APM Vol. 2
 * 15.25.10), it faults later on a walk through the bad entry.
 */
TEST_F(paging, pae_bad_pdpte_gp)
{
	uint64_t *pdpt;
	struct hvlab_sregs sr;
	struct ucall uc;

	HVT_SKIPPED_IN_SETUP();
	if (hvt_cpu_vendor() != HVLAB_VENDOR_INTEL)
		SKIP(return, "PDPTE checks at MOV to CR0: Intel only (AMD nested paging loads no PDPTEs)");
	pdpt = hvt_gpa2hva(self->vm, PDPT_GPA, 32);
	pdpt[2] |= 1ull << 5;		/* reserved in a PAE PDPTE (Table 4-8) */
	enter_pae(_metadata, self, CR0_PG | CR0_NE);
	HVT_RUN_EXPECT_UCALL(self->vcpu, UCALL_EXCEPTION, &uc);
	EXPECT_EQ(GP_VECTOR, uc.args[0]);
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	EXPECT_EQ(0, sr.cr0 & CR0_PG);
	EXPECT_EQ(CR0_NE, sr.cr0 & CR0_NE);
}

/*
 * A new CR3 from SET_SREGS: the guest reads the same linear address
 * before and after, and must see the page the new tables map, not a
 * translation left from the old ones (on VT-x with VPIDs, VM entry keeps
 * them: SDM Vol. 3C 27.3.2.5).
 */
#define ALIAS_LA	((512ull << 30) + 0x180000)	/* PML4 entry 1: unused by the library */
#define ALIAS_TABLES	0x300000ull			/* 2 x (PML4, PDPT, PD) */

GUEST_CODE static void guest_read_alias(void)
{
	GUEST_SYNC(*(volatile uint64_t *)ALIAS_LA);
	GUEST_SYNC(*(volatile uint64_t *)ALIAS_LA);
}

TEST_F(paging, new_cr3_from_sregs)
{
	struct hvlab_sregs sr;
	uint64_t t[2];
	unsigned int i;
	int ret;

	HVT_SKIPPED_IN_SETUP();
	ret = hvt_vcpu_enter_c(self->vcpu, guest_read_alias, 0, 0);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	for (i = 0; i < 2; i++) {
		uint64_t base = ALIAS_TABLES + i * 0x3000;
		uint64_t *pml4 = hvt_gpa2hva(self->vm, base, 0x3000);

		/* The library's PML4 (identity map), plus entry 1 -> this PDPT -> PD. */
		memcpy(pml4, hvt_gpa2hva(self->vm, sr.cr3, 0x1000), 0x1000);
		pml4[1] = (base + 0x1000) | PTE_P | PTE_RW;
		memset(pml4 + 512, 0, 0x2000);
		pml4[512] = (base + 0x2000) | PTE_P | PTE_RW;
		pml4[1024] = (i ? 0 : SZ_2M) | PTE_P | PTE_RW | PTE_PS;
		t[i] = base;
	}
	/* Tables A map the 2 MiB page at 2 MiB there, tables B the one at 0. */
	*(uint64_t *)hvt_gpa2hva(self->vm, SZ_2M + 0x180000, 8) = 0xaaaa;
	*(uint64_t *)hvt_gpa2hva(self->vm, 0x180000, 8) = 0xbbbb;
	sr.cr3 = t[0];
	ASSERT_EQ(0, hvlab_set_sregs(self->vcpu->fd, &sr));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xaaaa);
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	sr.cr3 = t[1];
	ASSERT_EQ(0, hvlab_set_sregs(self->vcpu->fd, &sr));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0xbbbb);
}

/*
 * An interrupt queued for an entry the module then refuses (here 64-bit
 * mode with CS.L=1 and CS.D=1: SDM Vol. 3C 27.3.1.2, APM Vol. 2 15.5.1)
 * must still be delivered once userspace repairs the state, and only once.
 */
#define IRQ_VECTOR	0x40
static volatile int irq_count;

GUEST_CODE static void guest_count_irq(struct guest_ex_regs *regs __attribute__((unused)))
{
	irq_count++;
}

GUEST_CODE static void guest_report_irqs(void)
{
	GUEST_SYNC(irq_count);
	asm volatile("sti; nop; nop; cli");
	GUEST_SYNC(irq_count);
}

TEST_F(paging, irq_survives_refused_entry)
{
	struct hvlab_event ev = { .type = HVLAB_EVENT_INTERRUPT, .vector = IRQ_VECTOR };
	struct hvlab_sregs sr;
	struct hvlab_regs regs;
	char buf[512];
	int ret;

	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, hvt_vm_install_handler(self->vm, IRQ_VECTOR, guest_count_irq));
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_report_irqs, 0, 0));
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu->fd, &regs));
	regs.rflags |= 1u << 9;		/* IF: the interrupt goes in with the entry */
	ASSERT_EQ(0, hvlab_set_regs(self->vcpu->fd, &regs));
	ASSERT_EQ(0, hvlab_inject(self->vcpu->fd, &ev));

	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu->fd, &sr));
	sr.cs.db = 1;
	ASSERT_EQ(0, hvlab_set_sregs(self->vcpu->fd, &sr));
	ret = hvt_vcpu_run(self->vcpu);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(HVLAB_EXIT_FAIL_ENTRY, self->vcpu->run->exit_reason)
		TH_LOG("%s", hvt_exit_str(self->vcpu, buf, sizeof(buf)));
	TH_LOG("refused: %s", self->vcpu->run->fail_entry.rule);
	EXPECT_EQ(0, self->vcpu->run->fail_entry.qualification);
	/* Still queued: a second one is -EBUSY. */
	ASSERT_EQ(-EBUSY, hvlab_inject(self->vcpu->fd, &ev)) TH_LOG("the refused entry lost the interrupt");

	sr.cs.db = 0;
	ASSERT_EQ(0, hvlab_set_sregs(self->vcpu->fd, &sr));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 1);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/*
 * The guest's DR7 is the guest's across exits (VT-x: the "load/save debug
 * controls" of SDM Vol. 3C 25.7.1, 25.8.1; AMD: DR7 is in the VMCB save
 * area).  LE (bit 8) changes nothing the guest could notice otherwise.
 */
GUEST_CODE static void guest_dr7(void)
{
	uint64_t dr7 = 0x500, out;
	uint32_t a, b, c, d;

	asm volatile("mov %0, %%dr7" : : "r"(dr7));
	guest_cpuid(0, 0, &a, &b, &c, &d);		/* an exit handled in the kernel */
	asm volatile("mov %%dr7, %0" : "=r"(out));
	GUEST_SYNC(out);				/* an exit to userspace */
	asm volatile("mov %%dr7, %0" : "=r"(out));
	GUEST_SYNC(out);
}

TEST_F(paging, dr7_survives_exits)
{
	HVT_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_dr7, 0, 0));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0x500);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0x500);
	HVT_RUN_EXPECT_DONE(self->vcpu);
}

/* HVLAB_MEM_UNCACHED: accepted, and the slot is ordinary RAM to the guest. */
#define UC_GPA		0x40000000ull
#define UC_SLOT		(HVT_FIRST_FREE_SLOT + 1)

GUEST_CODE static void guest_uc(void)
{
	volatile uint64_t *p = (volatile uint64_t *)UC_GPA;

	GUEST_SYNC(p[0]);
	p[1] = 0x1234567890abcdefull;
	p[512] = p[0] + 1;			/* the second page */
	GUEST_SYNC(p[512]);
}

TEST_F(paging, uncached_slot)
{
	uint64_t *mem;
	int sys_fd;

	HVT_SKIPPED_IN_SETUP();
	sys_fd = hvlab_open();
	ASSERT_LE(0, sys_fd);
	EXPECT_EQ(1, hvlab_check_cap(sys_fd, HVLAB_CAP_UNCACHED_MEM));
	close(sys_fd);

	mem = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	/* Unknown flag bits are still refused. */
	EXPECT_EQ(-EINVAL, hvt_set_region(self->vm->fd, UC_SLOT, 1u << 2, UC_GPA, SZ_2M,
					  (uintptr_t)mem));
	EXPECT_EQ(-EINVAL, hvt_set_region(self->vm->fd, UC_SLOT, HVLAB_MEM_UNCACHED | (1u << 31),
					  UC_GPA, SZ_2M, (uintptr_t)mem));
	ASSERT_EQ(0, hvt_set_region(self->vm->fd, UC_SLOT, HVLAB_MEM_UNCACHED, UC_GPA, SZ_2M,
				    (uintptr_t)mem));
	mem[0] = 0x77;
	ASSERT_EQ(0, hvt_vcpu_enter_c(self->vcpu, guest_uc, 0, 0));
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0x77);
	HVT_RUN_EXPECT_SYNC(self->vcpu, 0x78);
	EXPECT_EQ(0x1234567890abcdefull, mem[1]);
	EXPECT_EQ(0x78, mem[512]);
	HVT_RUN_EXPECT_DONE(self->vcpu);
	/* The flags of a slot cannot change in place (uapi), uncached or not. */
	EXPECT_EQ(-EINVAL, hvt_set_region(self->vm->fd, UC_SLOT, 0, UC_GPA, SZ_2M,
					  (uintptr_t)mem));
	munmap(mem, SZ_2M);
}

TEST_HARNESS_MAIN
