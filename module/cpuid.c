// SPDX-License-Identifier: GPL-2.0
/*
 * cpuid.c - what CPUID tells a guest, for both vendors.
 *
 * The default is the host's answer with every feature hvlab does not
 * virtualize taken out, so a guest never tries to use what would fault
 * or leak host state: no VMX/SVM (no nesting), no XSAVE/AVX (guest XCR0
 * is not switched), no MONITOR/MWAIT, no MCE/MTRR MSRs, no x2APIC or
 * TSC-deadline timer, no RDTSCP, RDPID only on AMD (below), no RDPRU,
 * no speculation-control MSRs; the hypervisor bit is set and leaf
 * 0x40000000 names hvlab.  A VM with the in-kernel APIC (HVLAB_VM_LAPIC)
 * is told about it: APIC while IA32_APIC_BASE enables it, x2APIC and the
 * TSC-deadline timer always (module/lapic.c emulates both).
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/processor.h>

#include "hv.h"

/* Leaf 1 (SDM Vol. 2A CPUID, Table 3-10/3-11). */
#define L1_ECX_HIDE (BIT(3) /* MONITOR */ | BIT(4) /* DS-CPL */ | BIT(5) /* VMX */ | \
		     BIT(6) /* SMX */ | BIT(7) /* EIST */ | BIT(8) /* TM2 */ | \
		     BIT(11) /* SDBG */ | BIT(15) /* PDCM */ | BIT(18) /* DCA */ | \
		     BIT(21) /* x2APIC */ | BIT(24) /* TSC-deadline */ | BIT(26) /* XSAVE */ | \
		     BIT(27) /* OSXSAVE */ | BIT(28) /* AVX */ | BIT(29) /* F16C */)
#define L1_ECX_HYPERVISOR BIT(31)
#define L1_EDX_HIDE (BIT(7) /* MCE */ | BIT(12) /* MTRR */ | BIT(14) /* MCA */ | \
		     BIT(18) /* PSN */ | BIT(21) /* DS */ | BIT(22) /* ACPI */ | \
		     BIT(29) /* TM */ | BIT(31) /* PBE */)
/* Leaf 7.0: keep what needs no VMM support (SDM Vol. 2A Table 3-8). */
#define L7_EBX_KEEP (BIT(0) /* FSGSBASE */ | BIT(1) /* TSC_ADJUST, msr.c */ | \
		     BIT(3) /* BMI1 */ | BIT(7) /* SMEP */ | \
		     BIT(8) /* BMI2 */ | BIT(9) /* ERMS */ | BIT(18) /* RDSEED */ | \
		     BIT(19) /* ADX */ | BIT(20) /* SMAP */ | BIT(23) /* CLFLUSHOPT */ | \
		     BIT(29) /* SHA */)
#define L7_ECX_KEEP (BIT(2) /* UMIP */)
/*
 * RDPID reads IA32_TSC_AUX.  SVM cannot intercept it, so a guest runs it
 * whenever the CPU has it: svm/exit.c loads the guest's TSC_AUX around
 * VMRUN, and CPUID says so.  Under VT-x without "enable RDTSCP" it
 * raises #UD (SDM Vol. 3C 26.3), so it stays hidden there.
 */
#define L7_ECX_RDPID BIT(22)
/* Leaf 8000_0001h (APM Vol. 3 E.4.2). */
#define LX1_ECX_HIDE (BIT(2) /* SVM */ | BIT(3) /* ExtApicSpace */ | BIT(9) /* OSVW */ | \
		      BIT(10) /* IBS */ | BIT(12) /* SKINIT */ | BIT(13) /* WDT */ | \
		      BIT(15) /* LWP */ | BIT(22) /* TopologyExtensions */ | \
		      BIT(23) /* PerfCtrExtCore */ | BIT(24) /* PerfCtrExtNB */ | \
		      BIT(28) /* PerfCtrExtLLC */)
/*
 * RDTSCP reads IA32_TSC_AUX: under VT-x it raises #UD unless "enable
 * RDTSCP" is set (SDM Vol. 3C 26.3), and SVM intercepts it with the same
 * #UD, so both vendors agree.  Hidden, so Linux reads the TSC with
 * LFENCE; RDTSC instead.
 */
#define LX1_EDX_HIDE BIT(27) /* RDTSCP */
/*
 * Leaf 8000_0008h EBX (APM Vol. 3 E.4.7): only instructions and "not
 * affected" facts that need no MSR.  Gone: IBPB, IBRS, STIBP, SSBD,
 * VIRT_SSBD and the rest of speculation control, whose MSRs (SPEC_CTRL,
 * PRED_CMD, VIRT_SPEC_CTRL) raise #GP here; IRPERF and PPIN (MSRs too);
 * RDPRU (intercepted: #UD); INVLPGB, MCOMMIT.  Leaf 7 EDX, the Intel
 * side of speculation control, is zero already.  KVM offers them because
 * it emulates those MSRs; hvlab does not.
 */
#define LX8_EBX_KEEP (BIT(0) /* CLZERO */ | BIT(2) /* XSaveErPtr */ | BIT(9) /* WBNOINVD */ | \
		      BIT(26) /* SSB_NO */ | BIT(29) /* BTC_NO */)
/*
 * Leaf 8000_0021h EAX: the same for AutoIBRS (an EFER bit hvlab refuses),
 * SBPB and IBPB_BRTYPE (PRED_CMD), PrefetchCtl and SRSO_MSR_FIX (MSRs).
 */
#define LX21_EAX_KEEP (BIT(0) /* NoNestedDataBp */ | BIT(2) /* LFenceAlwaysSerializing */ | \
		       BIT(6) /* NullSelectClearsBase */ | BIT(29) /* SRSO_NO */ | \
		       BIT(30) /* SRSO_USER_KERNEL_NO */)

static void hv_cpuid_default(struct hv_vcpu *vcpu, u32 fn, u32 idx,
			     u32 *a, u32 *b, u32 *c, u32 *d)
{
	/* The maxima the kernel read at boot: no host CPUID for them on every exit. */
	u32 max_basic = boot_cpu_data.cpuid_level, max_ext = boot_cpu_data.extended_cpuid_level;

	*a = *b = *c = *d = 0;
	if (fn == 0x40000000) {
		*a = 0x40000000;
		memcpy(b, "hvla", 4);
		memcpy(c, "bhvl", 4);
		memcpy(d, "ab\0\0", 4);
		return;
	}
	if ((fn < 0x80000000 && fn > max_basic) ||
	    (fn >= 0x80000000 && fn > max_ext) || (fn > 0x40000000 && fn < 0x80000000))
		return;

	cpuid_count(fn, idx, a, b, c, d);
	switch (fn) {
	case 1:
		*c = (*c & ~L1_ECX_HIDE) | L1_ECX_HYPERVISOR;
		*d &= ~L1_EDX_HIDE;
		/* Initial APIC ID = vCPU id, one logical processor per package. */
		*b = (*b & 0x0000ffff) | (1 << 16) | (vcpu->id << 24);
		if (vcpu->vm->lapic) {
			/*
			 * CPUID.1:EDX.APIC follows IA32_APIC_BASE.EN (SDM Vol. 3A
			 * 11.4.3), as KVM's kvm_update_cpuid_runtime makes it.
			 */
			*c |= BIT(21) /* x2APIC */ | BIT(24) /* TSC-deadline */;
			if (vcpu->sregs.apic_base & BIT(11))
				*d |= BIT(9);
			else
				*d &= ~BIT(9);
		}
		break;
	case 5:			/* MONITOR/MWAIT */
	case 6:			/* thermal and power */
	case 0xa:		/* performance monitoring */
	case 0xd:		/* XSAVE */
		*a = *b = *c = *d = 0;
		break;
	case 7:
		if (idx == 0) {
			*a = 0;
			*b &= L7_EBX_KEEP;
			*c &= L7_ECX_KEEP |
			      (hv_ops->vendor == HVLAB_VENDOR_AMD ? L7_ECX_RDPID : 0);
			*d = 0;
		} else {
			*a = *b = *c = *d = 0;
		}
		break;
	case 0xb:		/* x2APIC topology: the id is ours */
	case 0x1f:
		*d = vcpu->id;
		break;
	case 0x80000001:
		*c &= ~LX1_ECX_HIDE;
		*d &= ~LX1_EDX_HIDE;
		/* AMD's copy of the APIC bit (APM Vol. 3 E.4.2) says the same. */
		if (vcpu->vm->lapic && (*d & BIT(9)) && !(vcpu->sregs.apic_base & BIT(11)))
			*d &= ~BIT(9);
		break;
	case 0x8000000a:	/* SVM features: no nesting */
		*a = *b = *c = *d = 0;
		break;
	case 0x80000008:
		*b &= LX8_EBX_KEEP;
		break;
	case 0x80000021:
		*a &= LX21_EAX_KEEP;
		break;
	default:
		break;
	}
}

/* Leaves whose answer depends on ECX (SDM Vol. 2A CPUID). */
static bool hv_cpuid_indexed(u32 fn)
{
	return fn == 4 || fn == 7 || fn == 0xb || fn == 0xd || fn == 0xf ||
	       fn == 0x10 || fn == 0x12 || fn == 0x14 || fn == 0x17 ||
	       fn == 0x18 || fn == 0x1f || fn == 0x8000001d;
}

void hv_cpuid(struct hv_vcpu *vcpu, u32 fn, u32 idx, u32 *a, u32 *b, u32 *c, u32 *d)
{
	unsigned int i;

	if (!vcpu->cpuid) {
		hv_cpuid_default(vcpu, fn, idx, a, b, c, d);
		return;
	}
	*a = *b = *c = *d = 0;
	for (i = 0; i < vcpu->cpuid_nent; i++) {
		const struct hvlab_cpuid_entry *e = &vcpu->cpuid[i];

		if (e->function == fn &&
		    (!(e->flags & HVLAB_CPUID_INDEXED) || e->index == idx)) {
			*a = e->eax;
			*b = e->ebx;
			*c = e->ecx;
			*d = e->edx;
			return;
		}
	}
}

/*
 * What the guest page-table walker (mmu/walk.c) needs from the guest's
 * CPUID, as KVM's cpuid_maxphyaddr() and guest_cpuid_has() give it:
 * MAXPHYADDR from leaf 8000_0008h EAX[7:0], or 36 without that leaf (SDM
 * Vol. 3A 4.1.4), kept within 32..52; 1 GiB pages (8000_0001h EDX[26]);
 * PSE-36 (01h EDX[17]).
 */
void hv_cpuid_paging(struct hv_vcpu *vcpu, u8 *maxphyaddr, bool *gbpages, bool *pse36)
{
	u32 a, b, c, d, max_ext;

	hv_cpuid(vcpu, 0x80000000, 0, &max_ext, &b, &c, &d);
	*maxphyaddr = 36;
	*gbpages = false;
	if (max_ext >= 0x80000008) {
		hv_cpuid(vcpu, 0x80000008, 0, &a, &b, &c, &d);
		*maxphyaddr = clamp_t(u32, a & 0xff, 32, 52);
	}
	if (max_ext >= 0x80000001) {
		hv_cpuid(vcpu, 0x80000001, 0, &a, &b, &c, &d);
		*gbpages = d & BIT(26);
	}
	hv_cpuid(vcpu, 1, 0, &a, &b, &c, &d);
	*pse36 = d & BIT(17);
}

/*
 * The default table as entries: every basic, hypervisor and extended leaf
 * up to the maxima, with subleaves 0-7 of the indexed leaves.
 */
static unsigned int hv_cpuid_fill_default(struct hv_vcpu *vcpu, struct hvlab_cpuid_entry *out,
					  unsigned int max)
{
	u32 ranges[3][2] = {
		{ 0, boot_cpu_data.cpuid_level },
		{ 0x40000000, 0x40000000 },
		{ 0x80000000, boot_cpu_data.extended_cpuid_level },
	};
	unsigned int n = 0, r;
	u32 fn, idx;

	for (r = 0; r < ARRAY_SIZE(ranges); r++) {
		for (fn = ranges[r][0]; fn <= ranges[r][1] && n < max; fn++) {
			bool indexed = hv_cpuid_indexed(fn);

			for (idx = 0; idx < (indexed ? 8 : 1) && n < max; idx++, n++) {
				struct hvlab_cpuid_entry *e = &out[n];

				memset(e, 0, sizeof(*e));
				e->function = fn;
				e->index = idx;
				e->flags = indexed ? HVLAB_CPUID_INDEXED : 0;
				hv_cpuid_default(vcpu, fn, idx, &e->eax, &e->ebx, &e->ecx, &e->edx);
			}
		}
	}
	return n;
}

long hv_cpuid_get(struct hv_vcpu *vcpu, struct hvlab_cpuid __user *uc)
{
	struct hvlab_cpuid_entry *tmp = NULL;
	const struct hvlab_cpuid_entry *src;
	unsigned int n;
	u32 nent;
	long ret = 0;

	if (get_user(nent, &uc->nent))
		return -EFAULT;
	if (vcpu->cpuid) {
		src = vcpu->cpuid;
		n = vcpu->cpuid_nent;
	} else {
		tmp = kcalloc(HVLAB_CPUID_MAX_ENTRIES, sizeof(*tmp), GFP_KERNEL);
		if (!tmp)
			return -ENOMEM;
		n = hv_cpuid_fill_default(vcpu, tmp, HVLAB_CPUID_MAX_ENTRIES);
		src = tmp;
	}
	if (put_user(n, &uc->nent))
		ret = -EFAULT;
	else if (nent < n)
		ret = -E2BIG;
	else if (copy_to_user(uc->entries, src, n * sizeof(*src)))
		ret = -EFAULT;
	kfree(tmp);
	return ret;
}

long hv_cpuid_set(struct hv_vcpu *vcpu, struct hvlab_cpuid __user *uc)
{
	struct hvlab_cpuid hdr;
	struct hvlab_cpuid_entry *table;
	unsigned int i;

	if (copy_from_user(&hdr, uc, sizeof(hdr)))
		return -EFAULT;
	if (hdr.padding)
		return hv_reject(-EINVAL, "padding must be zero");
	if (hdr.nent > HVLAB_CPUID_MAX_ENTRIES)
		return hv_reject(-E2BIG, "%u CPUID entries, at most %u", hdr.nent,
				 HVLAB_CPUID_MAX_ENTRIES);
	table = memdup_user(uc->entries, hdr.nent * sizeof(*table));
	if (IS_ERR(table))
		return PTR_ERR(table);
	for (i = 0; i < hdr.nent; i++) {
		if (table[i].padding || (table[i].flags & ~HVLAB_CPUID_INDEXED)) {
			kfree(table);
			return hv_reject(-EINVAL, "entry %u: unknown flags or padding set", i);
		}
	}
	kfree(vcpu->cpuid);
	vcpu->cpuid = table;
	vcpu->cpuid_nent = hdr.nent;
	/* CR4 bits follow the features offered; CR4 as it is stays (as KVM's). */
	vcpu->cr4_allowed = hv_cr4_allowed(vcpu);
	return 0;
}
