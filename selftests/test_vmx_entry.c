// SPDX-License-Identifier: GPL-2.0
/*
 * test_vmx_entry.c - guest states that hvlab's core accepts (SET_SREGS and
 * SET_REGS succeed) but that break a VM-entry rule of the Intel SDM
 * Vol. 3C 27.3.1 "Checks on the Guest State Area": RUN must refuse each
 * with HVLAB_EXIT_FAIL_ENTRY naming the VMCS field (encodings from SDM
 * Vol. 3C appendix B) and an "SDM 27..." rule, whatever Bochs would
 * accept.  A legal 32-bit protected-mode state, the base of every case,
 * must run (to a HLT), and after a refusal a repaired state must run.
 * Intel only: AMD has its own VMRUN rules (APM 15.5.1).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hvtest.h"
#include "x86.h"

/* VMCS field encodings (SDM Vol. 3C appendix B). */
#define F_TR_SELECTOR	0x080e
#define F_LDTR_AR	0x4820
#define F_CS_AR		0x4816
#define F_SS_AR		0x4818
#define F_DS_AR		0x481a
#define F_TR_AR		0x4822
#define F_CS_BASE	0x6808
#define F_FS_BASE	0x680e
#define F_IDTR_BASE	0x6818
#define F_RIP		0x681e
#define F_RFLAGS	0x6820
#define F_PDPTE2	0x280e

#define MEM_SIZE	0x10000
#define CODE		0x1000

FIXTURE(vmx_entry) {
	int sys_fd, vm_fd, vcpu_fd;
	struct hvlab_run *run;
	int mmap_size;
	void *mem;
	struct hvlab_sregs sregs;
	struct hvlab_regs regs;
};

FIXTURE_SETUP(vmx_entry)
{
	int ret;

	self->sys_fd = self->vm_fd = self->vcpu_fd = -1;
	self->run = NULL;
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	if (hvt_cpu_vendor() != HVLAB_VENDOR_INTEL)
		SKIP(return, "VMX entry rules: Intel only");
	self->vm_fd = hvt_open_vm(&self->sys_fd);
	ASSERT_LE(0, self->vm_fd);
	if (hvt_cap(self->sys_fd, HVLAB_CAP_RUN) != 1)
		SKIP(return, "HVLAB_CAP_RUN is 0");
	self->mem = hvt_alloc_guest_mem(MEM_SIZE);
	ASSERT_NE(NULL, self->mem);
	memset(self->mem, 0xf4, MEM_SIZE);	/* hlt everywhere */
	ASSERT_EQ(0, hvt_set_region(self->vm_fd, 0, 0, 0, MEM_SIZE, (uintptr_t)self->mem));
	self->vcpu_fd = hvlab_create_vcpu(self->vm_fd, 0);
	ASSERT_LE(0, self->vcpu_fd);
	self->mmap_size = hvlab_vcpu_mmap_size(self->sys_fd);
	ret = hvlab_map_run(self->vcpu_fd, self->mmap_size, &self->run);
	ASSERT_EQ(0, ret);

	/* The legal base: flat 32-bit protected mode, CS 0x08, data 0x10, TR 0x28. */
	ASSERT_EQ(0, hvlab_get_sregs(self->vcpu_fd, &self->sregs));
	hvt_seg_set(&self->sregs.cs, 0x08, 0, 0xffffffff, 0xb, 1, 1, 0, 1);
	hvt_seg_set(&self->sregs.ss, 0x10, 0, 0xffffffff, 0x3, 1, 1, 0, 1);
	self->sregs.ds = self->sregs.es = self->sregs.fs = self->sregs.gs = self->sregs.ss;
	hvt_seg_set(&self->sregs.tr, 0x28, 0, 0x67, 0xb, 0, 0, 0, 0);
	self->sregs.cr0 = CR0_PE | CR0_ET | CR0_NE;
	ASSERT_EQ(0, hvlab_get_regs(self->vcpu_fd, &self->regs));
	self->regs.rip = CODE;
	self->regs.rflags = 2;
}

FIXTURE_TEARDOWN(vmx_entry)
{
	if (self->run)
		hvlab_unmap_run(self->run, self->mmap_size);
	hvt_close(&self->vcpu_fd);
	hvt_close(&self->vm_fd);
	hvt_close(&self->sys_fd);
}

/* Set the state (the core must accept it), run, return the exit reason. */
static int set_and_run(struct __test_metadata *_metadata, FIXTURE_DATA(vmx_entry) *self)
{
	ASSERT_EQ(0, hvlab_set_sregs(self->vcpu_fd, &self->sregs)) TH_LOG("core refused the sregs");
	ASSERT_EQ(0, hvlab_set_regs(self->vcpu_fd, &self->regs)) TH_LOG("core refused the regs");
	ASSERT_EQ(0, hvlab_run(self->vcpu_fd));
	return self->run->exit_reason;
}

static void expect_fail(struct __test_metadata *_metadata, FIXTURE_DATA(vmx_entry) *self,
			uint32_t field)
{
	int reason = set_and_run(_metadata, self);

	ASSERT_EQ(HVLAB_EXIT_FAIL_ENTRY, reason)
		TH_LOG("exit %s, expected FAIL_ENTRY", hvlab_exit_name(reason));
	EXPECT_EQ(field, self->run->fail_entry.field)
		TH_LOG("field %#x (%s), expected %#x", self->run->fail_entry.field,
		       self->run->fail_entry.rule, field);
	EXPECT_EQ(0, strncmp(self->run->fail_entry.rule, "SDM 27.", 7))
		TH_LOG("rule '%s'", self->run->fail_entry.rule);
	TH_LOG("refused: %s", self->run->fail_entry.rule);
}

/* Long mode, 64-bit CS: the base of the IA-32e cases. */
static void long_mode(FIXTURE_DATA(vmx_entry) *self)
{
	self->sregs.efer = EFER_LME | EFER_LMA;
	self->sregs.cr0 |= CR0_PG;
	self->sregs.cr4 |= CR4_PAE;
	self->sregs.cs.l = 1;
	self->sregs.cs.db = 0;
}

TEST_F(vmx_entry, base_state_runs)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	ASSERT_EQ(HVLAB_EXIT_HLT, set_and_run(_metadata, self));
}

TEST_F(vmx_entry, repaired_state_runs)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.tr.type = 9;
	expect_fail(_metadata, self, F_TR_AR);
	self->sregs.tr.type = 0xb;
	ASSERT_EQ(HVLAB_EXIT_HLT, set_and_run(_metadata, self));
}

/* 27.3.1.2: CS must be usable. */
TEST_F(vmx_entry, cs_unusable)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.cs.unusable = 1;
	expect_fail(_metadata, self, F_CS_AR);
}

/* 27.3.1.2: TR type 11 (busy TSS); 9 is an available TSS. */
TEST_F(vmx_entry, tr_available_tss)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.tr.type = 9;
	expect_fail(_metadata, self, F_TR_AR);
}

/* 27.3.1.2: non-conforming CS needs DPL = SS.DPL. */
TEST_F(vmx_entry, ss_dpl_differs_from_cs_dpl)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.ss.dpl = 3;
	self->sregs.ss.selector = 0x13;
	expect_fail(_metadata, self, F_CS_AR);
}

/* 27.3.1.2: in IA-32e mode, CS.L=1 needs CS.D=0. */
TEST_F(vmx_entry, cs_l_and_d_in_ia32e)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	long_mode(self);
	self->sregs.cs.db = 1;
	expect_fail(_metadata, self, F_CS_AR);
}

/* 27.3.1.4: RFLAGS.VM must be 0 in IA-32e mode. */
TEST_F(vmx_entry, rflags_vm_in_ia32e)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	long_mode(self);
	self->regs.rflags |= RFLAGS_VM;
	expect_fail(_metadata, self, F_RFLAGS);
}

/* 27.3.1.2: a usable LDTR has type 2. */
TEST_F(vmx_entry, ldtr_wrong_type)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.ldt.type = 3;
	expect_fail(_metadata, self, F_LDTR_AR);
}

/* 27.3.1.2: TR is a system segment (S=0). */
TEST_F(vmx_entry, tr_code_data_descriptor)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.tr.s = 1;
	expect_fail(_metadata, self, F_TR_AR);
}

/* 27.3.1.2: the TR selector's TI flag must be 0 (TSS in the GDT). */
TEST_F(vmx_entry, tr_selector_in_ldt)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.tr.selector = 0x2c;
	expect_fail(_metadata, self, F_TR_SELECTOR);
}

/* 27.3.1.2: a usable data segment is present. */
TEST_F(vmx_entry, ds_usable_not_present)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.ds.present = 0;
	expect_fail(_metadata, self, F_DS_AR);
}

/* 27.3.1.2: G=1 needs limit[11:0] = FFFh. */
TEST_F(vmx_entry, cs_limit_disagrees_with_g)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.cs.limit = 0x1000;
	self->sregs.cs.g = 1;
	expect_fail(_metadata, self, F_CS_AR);
}

/* 27.3.1.2: SS type must be 3 or 7 (read/write data). */
TEST_F(vmx_entry, ss_code_segment)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.ss.type = 0xb;
	expect_fail(_metadata, self, F_SS_AR);
}

/* 27.3.1.4: outside 64-bit mode RIP[63:32] must be 0. */
TEST_F(vmx_entry, rip_above_4g_in_32bit_mode)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->regs.rip = 1ull << 32 | CODE;
	expect_fail(_metadata, self, F_RIP);
}

/* 27.3.1.2: CS base[63:32] must be 0. */
TEST_F(vmx_entry, cs_base_above_4g)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.cs.base = 1ull << 32;
	expect_fail(_metadata, self, F_CS_BASE);
}

/* 27.3.1.2: FS base must be canonical. */
TEST_F(vmx_entry, fs_base_not_canonical)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.fs.base = 0x0000800000000000ull;
	expect_fail(_metadata, self, F_FS_BASE);
}

/* 27.3.1.3: IDTR base must be canonical. */
TEST_F(vmx_entry, idtr_base_not_canonical)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.idt.base = 0x0000800000000000ull;
	expect_fail(_metadata, self, F_IDTR_BASE);
}

/* 27.3.1.2: TR must be usable. */
TEST_F(vmx_entry, tr_unusable)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.tr.unusable = 1;
	expect_fail(_metadata, self, F_TR_AR);
}

/* 27.3.1.2: unrestricted guest allows CS type 3 only with DPL 0. */
TEST_F(vmx_entry, real_mode_cs_type3_dpl3)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	self->sregs.cr0 = CR0_ET;
	self->sregs.cs.type = 3;
	self->sregs.cs.dpl = 3;
	self->sregs.cs.limit = 0xffff;
	self->sregs.cs.g = 0;
	self->sregs.cs.db = 0;
	expect_fail(_metadata, self, F_CS_AR);
}

/*
 * PAE paging straight from SET_SREGS: with EPT the entry takes the PDPTEs
 * from GUEST_PDPTR0-3 (27.3.2.4), which hvlab must load from the table at
 * CR3 as a MOV to CR3 would; a present PDPTE with a reserved bit fails
 * 27.3.1.6.  The good table maps the code with a 2 MiB page, so the vCPU
 * gets to its HLT only if the PDPTEs really were loaded.
 */
#define PDPT		0x3000
#define PD		0x4000

static void pae(FIXTURE_DATA(vmx_entry) *self)
{
	uint64_t *pdpt = (uint64_t *)((char *)self->mem + PDPT);
	uint64_t *pd = (uint64_t *)((char *)self->mem + PD);

	memset(pdpt, 0, 0x2000);
	pdpt[0] = PD | 1;			/* present; bits 2:1, 8:5 reserved */
	pd[0] = 0 | 1 | 2 | (1 << 7);		/* 2 MiB at 0, writable */
	self->sregs.cr0 |= CR0_PG;
	self->sregs.cr4 |= CR4_PAE;
	self->sregs.cr3 = PDPT;
}

TEST_F(vmx_entry, pae_paging_runs)
{
	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	pae(self);
	ASSERT_EQ(HVLAB_EXIT_HLT, set_and_run(_metadata, self))
		TH_LOG("exit %s", hvlab_exit_name(self->run->exit_reason));
}

TEST_F(vmx_entry, pae_pdpte_reserved_bit)
{
	uint64_t *pdpt = (uint64_t *)((char *)self->mem + PDPT);

	if (_metadata->skip)	/* the 6.1 harness runs the body after SKIP() */
		return;
	pae(self);
	pdpt[2] = 0x5000 | 1 | (1 << 6);	/* PDPTE2: bit 6 reserved */
	expect_fail(_metadata, self, F_PDPTE2);
	EXPECT_EQ(0, self->run->fail_entry.qualification);
	/* Repaired in guest memory only: SET_SREGS loads them again. */
	pdpt[2] = 0;
	ASSERT_EQ(HVLAB_EXIT_HLT, set_and_run(_metadata, self))
		TH_LOG("exit %s", hvlab_exit_name(self->run->exit_reason));
}

TEST_HARNESS_MAIN
