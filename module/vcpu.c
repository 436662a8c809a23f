// SPDX-License-Identifier: GPL-2.0
/*
 * vcpu.c - the vCPU object and its fd: registers, the run page, RUN.
 *
 * Userspace values are checked here, once, for everything that does not
 * depend on the vendor; the backends check the rest before entering.
 */
#define pr_fmt(fmt) "hvlab: " fmt

#include <linux/nospec.h>
#include <linux/anon_inodes.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>
#include <asm/cpufeature.h>

#include "hv.h"

/*
 * RFLAGS: bit 1 is always 1; bits 3, 5, 15 and 22-63 are reserved zero
 * (Intel SDM Vol. 1 3.4.3, AMD APM Vol. 2 3.1.6).
 */
#define HV_RFLAGS_FIXED1	X86_EFLAGS_FIXED
#define HV_RFLAGS_RESERVED	(BIT(3) | BIT(5) | BIT(15) | GENMASK_ULL(63, 22))

/* CR0 bits that exist (SDM Vol. 3A 2.5); all others are reserved. */
#define HV_CR0_VALID	(X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | \
			 X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_AM | \
			 X86_CR0_NW | X86_CR0_CD | X86_CR0_PG)

/* EFER bits a guest may hold: no SVME (no nested virtualization). */
#define HV_EFER_VALID	(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX)

/* IA32_APIC_BASE: bits 0-7 and 9 reserved (SDM Vol. 3A 11.4.4). */
#define HV_APIC_BASE_BSP	BIT(8)
#define HV_APIC_BASE_X2APIC	BIT(10)
#define HV_APIC_BASE_ENABLE	BIT(11)
#define HV_APIC_BASE_DEFAULT	0xfee00000ULL

static void hv_seg_set(struct hvlab_segment *s, u16 sel, u64 base, u32 limit, u8 type)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = base;
	s->limit = limit;
	s->type = type;
	s->present = 1;
	s->s = type != 2 && type != 3 ? 1 : 0;
}

/*
 * The state after power-up/RESET (Intel SDM Vol. 3A 10.1.1, Table 10-1;
 * AMD APM Vol. 2 14.1.3): real mode, CS:IP = F000:FFF0 with CS.base
 * FFFF0000 so the first fetch hits the top of the 4 GiB space.
 */
void hv_vcpu_reset(struct hv_vcpu *vcpu)
{
	struct hvlab_sregs *sr = &vcpu->sregs;

	memset(&vcpu->regs, 0, sizeof(vcpu->regs));
	vcpu->regs.rip = 0xfff0;
	vcpu->regs.rflags = HV_RFLAGS_FIXED1;
	vcpu->regs.rdx = cpuid_eax(1);	/* processor signature */
	vcpu->insn_rip = vcpu->regs.rip;

	memset(sr, 0, sizeof(*sr));
	/* Code: execute/read, accessed.  Data: read/write, accessed. */
	hv_seg_set(&sr->cs, 0xf000, 0xffff0000, 0xffff, 0xb);
	hv_seg_set(&sr->ds, 0, 0, 0xffff, 0x3);
	sr->ds.s = 1;
	sr->es = sr->ds;
	sr->fs = sr->ds;
	sr->gs = sr->ds;
	sr->ss = sr->ds;
	/* LDTR: LDT type; TR: busy 32-bit TSS, the only type VMX accepts here. */
	hv_seg_set(&sr->ldt, 0, 0, 0xffff, 0x2);
	hv_seg_set(&sr->tr, 0, 0, 0xffff, 0xb);
	sr->tr.s = 0;
	sr->gdt.limit = 0xffff;
	sr->idt.limit = 0xffff;
	sr->cr0 = X86_CR0_ET | X86_CR0_NW | X86_CR0_CD;
	sr->apic_base = HV_APIC_BASE_DEFAULT | HV_APIC_BASE_ENABLE |
			(vcpu->id == 0 ? HV_APIC_BASE_BSP : 0);
	vcpu->sregs_stale = false;
	vcpu->state_dirty = true;
}

static int hv_check_regs(const struct hvlab_regs *r)
{
	if (!(r->rflags & HV_RFLAGS_FIXED1) || (r->rflags & HV_RFLAGS_RESERVED))
		return hv_reject(-EINVAL, "rflags %#llx: bit 1 must be set, bits 3,5,15,22-63 clear",
				 r->rflags);
	return 0;
}

static int hv_check_segment(const struct hvlab_segment *s, const char *name)
{
	if (s->type > 15 || s->present > 1 || s->dpl > 3 || s->db > 1 ||
	    s->s > 1 || s->l > 1 || s->g > 1 || s->avl > 1 || s->unusable > 1 ||
	    s->padding)
		return hv_reject(-EINVAL, "segment %s: field out of range or padding set", name);
	return 0;
}

static int hv_check_sregs(struct hv_vcpu *vcpu, const struct hvlab_sregs *sr)
{
	const struct hvlab_segment *segs[] = {
		&sr->cs, &sr->ds, &sr->es, &sr->fs, &sr->gs, &sr->ss, &sr->tr, &sr->ldt,
	};
	static const char * const names[] = { "cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt" };
	bool pg = sr->cr0 & X86_CR0_PG;
	bool lme = sr->efer & EFER_LME;
	unsigned int i;
	int err;

	for (i = 0; i < ARRAY_SIZE(segs); i++) {
		err = hv_check_segment(segs[i], names[i]);
		if (err)
			return err;
	}
	if (sr->gdt.padding[0] || sr->gdt.padding[1] || sr->gdt.padding[2] ||
	    sr->idt.padding[0] || sr->idt.padding[1] || sr->idt.padding[2] ||
	    sr->reserved[0] || sr->reserved[1] || sr->reserved[2] || sr->reserved[3])
		return hv_reject(-EINVAL, "padding/reserved fields must be zero");

	/* CR0 (SDM Vol. 3A 2.5; MOV to CR0 raises #GP for these). */
	if (sr->cr0 & ~(u64)HV_CR0_VALID)
		return hv_reject(-EINVAL, "cr0 %#llx: reserved bits set", sr->cr0);
	if (pg && !(sr->cr0 & X86_CR0_PE))
		return hv_reject(-EINVAL, "cr0 %#llx: PG=1 needs PE=1", sr->cr0);
	if ((sr->cr0 & X86_CR0_NW) && !(sr->cr0 & X86_CR0_CD))
		return hv_reject(-EINVAL, "cr0 %#llx: NW=1 needs CD=1", sr->cr0);
	/* Only the bits the guest's CPUID offers and hvlab switches (cr4.c). */
	if (sr->cr4 & ~vcpu->cr4_allowed)
		return hv_reject(-EINVAL, "cr4 %#llx: bits %#llx not allowed for this guest",
				 sr->cr4, sr->cr4 & ~vcpu->cr4_allowed);
	if (sr->cr3 >> hv_gpa_bits)
		return hv_reject(-EINVAL, "cr3 %#llx: beyond %u address bits", sr->cr3, hv_gpa_bits);
	if (sr->cr8 > 15)
		return hv_reject(-EINVAL, "cr8 %#llx: only 4 bits (TPR[7:4])", sr->cr8);

	/* EFER (SDM Vol. 3A 2.2.1, 9.8.5; APM Vol. 2 14.6). */
	if (sr->efer & ~(u64)HV_EFER_VALID)
		return hv_reject(-EINVAL, "efer %#llx: unsupported bits", sr->efer);
	if (!!(sr->efer & EFER_LMA) != (lme && pg))
		return hv_reject(-EINVAL, "efer %#llx: LMA must equal LME && CR0.PG", sr->efer);
	if (lme && pg && !(sr->cr4 & X86_CR4_PAE))
		return hv_reject(-EINVAL, "long mode (EFER.LME, CR0.PG) needs CR4.PAE");
	/* CR4.PCIDE exists only in IA-32e mode (SDM Vol. 3A 4.10.1; VMX 27.3.1.1). */
	if ((sr->cr4 & X86_CR4_PCIDE) && !(lme && pg))
		return hv_reject(-EINVAL, "cr4.PCIDE needs long mode (EFER.LME, CR0.PG)");

	if ((sr->apic_base & (GENMASK_ULL(7, 0) | BIT(9))) || (sr->apic_base >> hv_gpa_bits))
		return hv_reject(-EINVAL, "apic_base %#llx: reserved bits set", sr->apic_base);
	if ((sr->apic_base & HV_APIC_BASE_X2APIC) && !(sr->apic_base & HV_APIC_BASE_ENABLE))
		return hv_reject(-EINVAL, "apic_base %#llx: x2APIC mode needs the APIC enabled",
				 sr->apic_base);
	return 0;
}

/* Vectors that push an error code (SDM Vol. 3A 6.15, Table 6-1; 21 is #CP). */
static bool hv_vector_has_error_code(u8 vector)
{
	return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21;
}

static int hv_vcpu_inject(struct hv_vcpu *vcpu, const struct hvlab_event *ev)
{
	if (ev->padding || ev->reserved || ev->has_error_code > 1)
		return hv_reject(-EINVAL, "padding/reserved must be zero, has_error_code 0 or 1");

	switch (ev->type) {
	case HVLAB_EVENT_EXCEPTION:
		if (ev->vector > 31 || ev->vector == 2)
			return hv_reject(-EINVAL, "exception vector %u: 0-31, not 2 (NMI)", ev->vector);
		if (ev->has_error_code != hv_vector_has_error_code(ev->vector))
			return hv_reject(-EINVAL, "exception %u %s an error code", ev->vector,
					 ev->has_error_code ? "has no" : "needs");
		if (vcpu->events.exc_pending)
			return hv_reject(-EBUSY, "an exception is queued already");
		hv_queue_exception(vcpu, ev->vector, ev->has_error_code, ev->error_code);
		return 0;
	case HVLAB_EVENT_INTERRUPT:
		if (ev->has_error_code || ev->error_code)
			return hv_reject(-EINVAL, "interrupts carry no error code");
		/*
		 * Flow control, not a mistake: a device model offers its next
		 * interrupt and retries at the window, so no dmesg line here.
		 */
		if (vcpu->events.irq_pending)
			return -EBUSY;
		vcpu->events.irq_pending = true;
		vcpu->events.irq_vector = ev->vector;
		return 0;
	default:
		return hv_reject(-EINVAL, "unknown event type %u", ev->type);
	}
}

static long hv_vcpu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct hv_vcpu *vcpu = file->private_data;
	void __user *argp = (void __user *)arg;
	long ret = 0;

	if (cmd == HVLAB_RUN) {
		if (arg)
			return -EINVAL;
		if (!hv_ops->vcpu_enter)
			return hv_reject(-EOPNOTSUPP, "the %s backend cannot run guests yet",
					 hv_ops->name);
		/* One runner at a time; a second thread is told, not queued. */
		if (!mutex_trylock(&vcpu->lock))
			return -EBUSY;
		ret = hv_vcpu_run(vcpu);
		mutex_unlock(&vcpu->lock);
		return ret;
	}

	if (mutex_lock_killable(&vcpu->lock))
		return -EINTR;
	switch (cmd) {
	case HVLAB_GET_REGS:
		if (copy_to_user(argp, &vcpu->regs, sizeof(vcpu->regs)))
			ret = -EFAULT;
		break;
	case HVLAB_SET_REGS: {
		struct hvlab_regs r;

		if (copy_from_user(&r, argp, sizeof(r))) {
			ret = -EFAULT;
			break;
		}
		ret = hv_check_regs(&r);
		if (!ret) {
			/*
			 * A RIP userspace moved is where the guest starts
			 * afresh, no single-step trap due; the same RIP (a
			 * GET/SET_REGS round trip) keeps one pending.
			 */
			if (r.rip != vcpu->regs.rip)
				vcpu->insn_rip = r.rip;
			vcpu->regs = r;
			vcpu->regs_dirty = true;	/* not state_dirty: see hv.h */
		}
		break;
	}
	case HVLAB_GET_SREGS:
		ret = hv_sync_sregs(vcpu);
		/* APIC VMs: CR8 is the APIC's TPR[7:4] (SDM Vol. 3A 11.8.6). */
		if (!ret && vcpu->lapic)
			vcpu->sregs.cr8 = hv_lapic_get_cr8(vcpu);
		if (!ret && copy_to_user(argp, &vcpu->sregs, sizeof(vcpu->sregs)))
			ret = -EFAULT;
		break;
	case HVLAB_SET_SREGS: {
		struct hvlab_sregs sr;

		if (copy_from_user(&sr, argp, sizeof(sr))) {
			ret = -EFAULT;
			break;
		}
		ret = hv_check_sregs(vcpu, &sr);
		if (!ret) {
			u64 base = vcpu->sregs.apic_base;

			vcpu->sregs = sr;
			vcpu->sregs_stale = false;	/* userspace's copy wins */
			vcpu->state_dirty = true;
			if (vcpu->lapic) {
				/* The APIC follows its base MSR and CR8. */
				vcpu->sregs.apic_base = base;
				hv_lapic_set_base(vcpu, sr.apic_base, true);
				hv_lapic_set_cr8(vcpu, sr.cr8);
			}
		}
		break;
	}
	case HVLAB_INJECT: {
		struct hvlab_event ev;

		if (copy_from_user(&ev, argp, sizeof(ev)))
			ret = -EFAULT;
		else
			ret = hv_vcpu_inject(vcpu, &ev);
		break;
	}
	case HVLAB_GET_CPUID:
		ret = hv_cpuid_get(vcpu, argp);
		break;
	case HVLAB_SET_CPUID:
		ret = hv_cpuid_set(vcpu, argp);
		break;
	case HVLAB_SET_MSR_POLICY:
		if (arg != HVLAB_MSR_UNKNOWN_GP && arg != HVLAB_MSR_UNKNOWN_USERSPACE)
			ret = hv_reject(-EINVAL, "unknown MSR policy %lu", arg);
		else
			vcpu->msr_policy = arg;
		break;
	case HVLAB_GET_EXIT_STATS: {
		struct hvlab_exit_stats st = { .exits = vcpu->exits };

		BUILD_BUG_ON(HVLAB_STAT_NR > ARRAY_SIZE(st.count));
		memcpy(st.count, vcpu->stat, sizeof(vcpu->stat));
		if (copy_to_user(argp, &st, sizeof(st)))
			ret = -EFAULT;
		break;
	}
	case HVLAB_SET_EXIT_ROUTE:
		ret = hv_route_set(vcpu, argp);
		break;
	case HVLAB_CAPTURE_STATE:
		ret = hv_vstate_capture(vcpu, arg);
		break;
	case HVLAB_GET_VENDOR_STATE:
		ret = hv_vstate_get(vcpu, argp);
		break;
	case HVLAB_GET_LAPIC:
		ret = hv_lapic_get_state(vcpu, argp);
		break;
	case HVLAB_SET_LAPIC:
		ret = hv_lapic_set_state(vcpu, argp);
		break;
	case HVLAB_GET_MP_STATE:
		ret = hv_lapic_get_mp_state(vcpu, argp);
		break;
	case HVLAB_SET_MP_STATE:
		ret = hv_lapic_set_mp_state(vcpu, argp);
		break;
	case HVLAB_GET_APIC_STATS:
		ret = hv_lapic_get_stats(vcpu, argp);
		break;
	case HVLAB_THAW_JOURNAL:
		if (arg)
			ret = hv_reject(-EINVAL, "THAW_JOURNAL takes no argument");
		else
			hv_journal_thaw(vcpu);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&vcpu->lock);
	return ret;
}

/* The run page is one page at offset 0, shared with the module. */
static vm_fault_t hv_run_page_fault(struct vm_fault *vmf)
{
	struct hv_vcpu *vcpu = vmf->vma->vm_file->private_data;
	struct page *page;

	if (vmf->pgoff != 0)
		return VM_FAULT_SIGBUS;
	page = virt_to_page(vcpu->run);
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct hv_run_vm_ops = {
	.fault = hv_run_page_fault,
};

static int hv_vcpu_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff == HVLAB_JOURNAL_OFFSET >> PAGE_SHIFT)
		return hv_journal_mmap(file->private_data, vma);
	if (vma->vm_pgoff != 0 || vma->vm_end - vma->vm_start > PAGE_SIZE)
		return hv_reject(-EINVAL, "the run page is %lu bytes at offset 0", PAGE_SIZE);
	if (!(vma->vm_flags & VM_SHARED))
		return hv_reject(-EINVAL, "the run page must be mapped MAP_SHARED");
	vma->vm_ops = &hv_run_vm_ops;
	return 0;
}

static int hv_vcpu_release(struct inode *inode, struct file *file)
{
	struct hv_vcpu *vcpu = file->private_data;

	/* The vCPU itself lives until its VM goes (hv_vm_free). */
	hv_vm_put(vcpu->vm);
	return 0;
}

static const struct file_operations hv_vcpu_fops = {
	.owner		= THIS_MODULE,
	.release	= hv_vcpu_release,
	.unlocked_ioctl	= hv_vcpu_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= hv_vcpu_mmap,
	.llseek		= noop_llseek,
};

/* Called from hv_vm_free only: no fd refers to @vcpu any more. */
void hv_vcpu_destroy(struct hv_vcpu *vcpu)
{
	hv_vstate_free(vcpu);
	hv_lapic_free(vcpu);
	hv_tele_vcpu_free(vcpu);
	kfree(vcpu->cpuid);
	hv_fpu_free(vcpu);
	free_page((unsigned long)vcpu->run);
	hv_ops->vcpu_free(vcpu);
}

int hv_vcpu_create(struct hv_vm *vm, unsigned long id)
{
	struct hv_vcpu *vcpu;
	int err, fd;

	if (id >= hv_max_vcpus)
		return hv_reject(-EINVAL, "vCPU id %lu >= max_vcpus %u", id, hv_max_vcpus);

	id = array_index_nospec(id, hv_max_vcpus);
	mutex_lock(&vm->lock);
	if (vm->vcpus[id]) {
		err = hv_reject(-EEXIST, "vCPU %lu exists already", id);
		goto err_unlock;
	}

	vcpu = hv_ops->vcpu_create(vm, id);
	if (IS_ERR(vcpu)) {
		err = PTR_ERR(vcpu);
		goto err_unlock;
	}
	vcpu->vm = vm;
	vcpu->id = id;
	mutex_init(&vcpu->lock);
	err = -ENOMEM;
	vcpu->run = (struct hvlab_run *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vcpu->run)
		goto err_backend;
	err = hv_fpu_alloc(vcpu);
	if (err)
		goto err_run;
	err = hv_tele_vcpu_init(vcpu);
	if (err)
		goto err_fpu;
	if (vm->lapic) {
		err = hv_lapic_create(vcpu);
		if (err)
			goto err_tele;
	}
	vcpu->cr4_allowed = hv_cr4_allowed(vcpu);	/* the default CPUID's */
	hv_vcpu_reset(vcpu);
	if (vcpu->lapic)
		hv_lapic_reset(vcpu, false);

	hv_vm_get(vm);		/* the vCPU fd's reference */
	fd = anon_inode_getfd("hvlab-vcpu", &hv_vcpu_fops, vcpu, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = fd;
		goto err_ref;
	}
	/* Netlink dumps read vcpus[] without vm->lock: publish it whole. */
	smp_store_release(&vm->vcpus[id], vcpu);
	vm->nr_vcpus++;
	mutex_unlock(&vm->lock);
	return fd;

err_ref:
	/* Never the last reference: the caller's VM fd holds one. */
	refcount_dec(&vm->ref.refcount);
	hv_lapic_free(vcpu);
err_tele:
	hv_tele_vcpu_free(vcpu);
err_fpu:
	hv_fpu_free(vcpu);
err_run:
	free_page((unsigned long)vcpu->run);
err_backend:
	hv_ops->vcpu_free(vcpu);
err_unlock:
	mutex_unlock(&vm->lock);
	return err;
}
