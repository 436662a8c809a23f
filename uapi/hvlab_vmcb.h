/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hvlab_vmcb.h - the fields of the VMCB page HVLAB_GET_VENDOR_STATE
 * returns on AMD, as AMD's APM Vol. 2 appendix B lays them out (Table
 * B-1, the control area at 000h; Table B-2, the state save area at 400h)
 * and names them.  Define HVLAB_VMCB_FIELD(id, offset, size, apm_name),
 * @offset from the start of the page, @size in bytes (1, 2, 4, 8, or 15
 * for the guest instruction bytes), and include this file.  The module
 * checks these offsets against <asm/svm.h> (svm/vmcb.c).
 */
#define HVLAB_VMCB_SAVE_AREA	0x400

#define HVLAB_VMCB_CONTROL_FIELDS \
	HVLAB_VMCB_FIELD(CTL_INTERCEPT_CR,      0x000,  4, "Intercept CR0-15 reads (15:0), writes (31:16)") \
	HVLAB_VMCB_FIELD(CTL_INTERCEPT_DR,      0x004,  4, "Intercept DR0-15 reads (15:0), writes (31:16)") \
	HVLAB_VMCB_FIELD(CTL_INTERCEPT_EXCEPTIONS, 0x008,  4, "Intercept exception vectors 0-31") \
	HVLAB_VMCB_FIELD(CTL_INTERCEPT_MISC1,   0x00c,  4, "Intercept vector 3 (INTR ... SHUTDOWN)") \
	HVLAB_VMCB_FIELD(CTL_INTERCEPT_MISC2,   0x010,  4, "Intercept vector 4 (VMRUN ... XSETBV)") \
	HVLAB_VMCB_FIELD(CTL_INTERCEPT_MISC3,   0x014,  4, "Intercept vector 5 (INVLPGB ...)") \
	HVLAB_VMCB_FIELD(CTL_PAUSE_FILTER_THRESHOLD, 0x03c,  2, "PAUSE filter threshold") \
	HVLAB_VMCB_FIELD(CTL_PAUSE_FILTER_COUNT, 0x03e,  2, "PAUSE filter count") \
	HVLAB_VMCB_FIELD(CTL_IOPM_BASE_PA,      0x040,  8, "IOPM_BASE_PA") \
	HVLAB_VMCB_FIELD(CTL_MSRPM_BASE_PA,     0x048,  8, "MSRPM_BASE_PA") \
	HVLAB_VMCB_FIELD(CTL_TSC_OFFSET,        0x050,  8, "TSC_OFFSET") \
	HVLAB_VMCB_FIELD(CTL_GUEST_ASID,        0x058,  4, "Guest ASID") \
	HVLAB_VMCB_FIELD(CTL_TLB_CONTROL,       0x05c,  1, "TLB_CONTROL") \
	HVLAB_VMCB_FIELD(CTL_V_INTR,            0x060,  4, "V_TPR, V_IRQ, V_GIF, V_INTR_PRIO, V_INTR_MASKING, ...") \
	HVLAB_VMCB_FIELD(CTL_V_INTR_VECTOR,     0x064,  4, "V_INTR_VECTOR") \
	HVLAB_VMCB_FIELD(CTL_INTERRUPT_SHADOW,  0x068,  4, "INTERRUPT_SHADOW (bit 0), GUEST_INTERRUPT_MASK (bit 1)") \
	HVLAB_VMCB_FIELD(CTL_EXITCODE,          0x070,  8, "EXITCODE") \
	HVLAB_VMCB_FIELD(CTL_EXITINFO1,         0x078,  8, "EXITINFO1") \
	HVLAB_VMCB_FIELD(CTL_EXITINFO2,         0x080,  8, "EXITINFO2") \
	HVLAB_VMCB_FIELD(CTL_EXITINTINFO,       0x088,  8, "EXITINTINFO") \
	HVLAB_VMCB_FIELD(CTL_NP_ENABLE,         0x090,  8, "NP_ENABLE, SEV, SEV-ES, GMET, ...") \
	HVLAB_VMCB_FIELD(CTL_AVIC_APIC_BAR,     0x098,  8, "AVIC_APIC_BAR") \
	HVLAB_VMCB_FIELD(CTL_GHCB_GPA,          0x0a0,  8, "Guest physical address of the GHCB") \
	HVLAB_VMCB_FIELD(CTL_EVENTINJ,          0x0a8,  8, "EVENTINJ") \
	HVLAB_VMCB_FIELD(CTL_N_CR3,             0x0b0,  8, "N_CR3 (nested page table root)") \
	HVLAB_VMCB_FIELD(CTL_LBR_VIRT,          0x0b8,  8, "LBR_VIRTUALIZATION_ENABLE, virtual VMSAVE/VMLOAD") \
	HVLAB_VMCB_FIELD(CTL_VMCB_CLEAN,        0x0c0,  4, "VMCB clean bits") \
	HVLAB_VMCB_FIELD(CTL_NRIP,              0x0c8,  8, "nRIP (next sequential instruction pointer)") \
	HVLAB_VMCB_FIELD(CTL_INSN_LEN,          0x0d0,  1, "Number of bytes fetched") \
	HVLAB_VMCB_FIELD(CTL_INSN_BYTES,        0x0d1, 15, "Guest instruction bytes") \
	HVLAB_VMCB_FIELD(CTL_AVIC_BACKING_PAGE, 0x0e0,  8, "AVIC_BACKING_PAGE pointer") \
	HVLAB_VMCB_FIELD(CTL_AVIC_LOGICAL_TABLE, 0x0f0,  8, "AVIC_LOGICAL_TABLE pointer") \
	HVLAB_VMCB_FIELD(CTL_AVIC_PHYSICAL_TABLE, 0x0f8,  8, "AVIC_PHYSICAL_TABLE pointer") \
	HVLAB_VMCB_FIELD(CTL_VMSA_PA,           0x108,  8, "VMSA pointer") \

#define HVLAB_VMCB_SAVE_FIELDS \
	HVLAB_VMCB_FIELD(SAVE_ES_SELECTOR,      0x400,  2, "ES selector") \
	HVLAB_VMCB_FIELD(SAVE_ES_ATTRIB,        0x402,  2, "ES attrib") \
	HVLAB_VMCB_FIELD(SAVE_ES_LIMIT,         0x404,  4, "ES limit") \
	HVLAB_VMCB_FIELD(SAVE_ES_BASE,          0x408,  8, "ES base") \
	HVLAB_VMCB_FIELD(SAVE_CS_SELECTOR,      0x410,  2, "CS selector") \
	HVLAB_VMCB_FIELD(SAVE_CS_ATTRIB,        0x412,  2, "CS attrib") \
	HVLAB_VMCB_FIELD(SAVE_CS_LIMIT,         0x414,  4, "CS limit") \
	HVLAB_VMCB_FIELD(SAVE_CS_BASE,          0x418,  8, "CS base") \
	HVLAB_VMCB_FIELD(SAVE_SS_SELECTOR,      0x420,  2, "SS selector") \
	HVLAB_VMCB_FIELD(SAVE_SS_ATTRIB,        0x422,  2, "SS attrib") \
	HVLAB_VMCB_FIELD(SAVE_SS_LIMIT,         0x424,  4, "SS limit") \
	HVLAB_VMCB_FIELD(SAVE_SS_BASE,          0x428,  8, "SS base") \
	HVLAB_VMCB_FIELD(SAVE_DS_SELECTOR,      0x430,  2, "DS selector") \
	HVLAB_VMCB_FIELD(SAVE_DS_ATTRIB,        0x432,  2, "DS attrib") \
	HVLAB_VMCB_FIELD(SAVE_DS_LIMIT,         0x434,  4, "DS limit") \
	HVLAB_VMCB_FIELD(SAVE_DS_BASE,          0x438,  8, "DS base") \
	HVLAB_VMCB_FIELD(SAVE_FS_SELECTOR,      0x440,  2, "FS selector") \
	HVLAB_VMCB_FIELD(SAVE_FS_ATTRIB,        0x442,  2, "FS attrib") \
	HVLAB_VMCB_FIELD(SAVE_FS_LIMIT,         0x444,  4, "FS limit") \
	HVLAB_VMCB_FIELD(SAVE_FS_BASE,          0x448,  8, "FS base") \
	HVLAB_VMCB_FIELD(SAVE_GS_SELECTOR,      0x450,  2, "GS selector") \
	HVLAB_VMCB_FIELD(SAVE_GS_ATTRIB,        0x452,  2, "GS attrib") \
	HVLAB_VMCB_FIELD(SAVE_GS_LIMIT,         0x454,  4, "GS limit") \
	HVLAB_VMCB_FIELD(SAVE_GS_BASE,          0x458,  8, "GS base") \
	HVLAB_VMCB_FIELD(SAVE_GDTR_SELECTOR,    0x460,  2, "GDTR selector") \
	HVLAB_VMCB_FIELD(SAVE_GDTR_ATTRIB,      0x462,  2, "GDTR attrib") \
	HVLAB_VMCB_FIELD(SAVE_GDTR_LIMIT,       0x464,  4, "GDTR limit") \
	HVLAB_VMCB_FIELD(SAVE_GDTR_BASE,        0x468,  8, "GDTR base") \
	HVLAB_VMCB_FIELD(SAVE_LDTR_SELECTOR,    0x470,  2, "LDTR selector") \
	HVLAB_VMCB_FIELD(SAVE_LDTR_ATTRIB,      0x472,  2, "LDTR attrib") \
	HVLAB_VMCB_FIELD(SAVE_LDTR_LIMIT,       0x474,  4, "LDTR limit") \
	HVLAB_VMCB_FIELD(SAVE_LDTR_BASE,        0x478,  8, "LDTR base") \
	HVLAB_VMCB_FIELD(SAVE_IDTR_SELECTOR,    0x480,  2, "IDTR selector") \
	HVLAB_VMCB_FIELD(SAVE_IDTR_ATTRIB,      0x482,  2, "IDTR attrib") \
	HVLAB_VMCB_FIELD(SAVE_IDTR_LIMIT,       0x484,  4, "IDTR limit") \
	HVLAB_VMCB_FIELD(SAVE_IDTR_BASE,        0x488,  8, "IDTR base") \
	HVLAB_VMCB_FIELD(SAVE_TR_SELECTOR,      0x490,  2, "TR selector") \
	HVLAB_VMCB_FIELD(SAVE_TR_ATTRIB,        0x492,  2, "TR attrib") \
	HVLAB_VMCB_FIELD(SAVE_TR_LIMIT,         0x494,  4, "TR limit") \
	HVLAB_VMCB_FIELD(SAVE_TR_BASE,          0x498,  8, "TR base") \
	HVLAB_VMCB_FIELD(SAVE_VMPL,             0x4ca,  1, "VMPL") \
	HVLAB_VMCB_FIELD(SAVE_CPL,              0x4cb,  1, "CPL") \
	HVLAB_VMCB_FIELD(SAVE_EFER,             0x4d0,  8, "EFER") \
	HVLAB_VMCB_FIELD(SAVE_CR4,              0x548,  8, "CR4") \
	HVLAB_VMCB_FIELD(SAVE_CR3,              0x550,  8, "CR3") \
	HVLAB_VMCB_FIELD(SAVE_CR0,              0x558,  8, "CR0") \
	HVLAB_VMCB_FIELD(SAVE_DR7,              0x560,  8, "DR7") \
	HVLAB_VMCB_FIELD(SAVE_DR6,              0x568,  8, "DR6") \
	HVLAB_VMCB_FIELD(SAVE_RFLAGS,           0x570,  8, "RFLAGS") \
	HVLAB_VMCB_FIELD(SAVE_RIP,              0x578,  8, "RIP") \
	HVLAB_VMCB_FIELD(SAVE_RSP,              0x5d8,  8, "RSP") \
	HVLAB_VMCB_FIELD(SAVE_S_CET,            0x5e0,  8, "S_CET") \
	HVLAB_VMCB_FIELD(SAVE_SSP,              0x5e8,  8, "SSP") \
	HVLAB_VMCB_FIELD(SAVE_ISST_ADDR,        0x5f0,  8, "ISST_ADDR") \
	HVLAB_VMCB_FIELD(SAVE_RAX,              0x5f8,  8, "RAX") \
	HVLAB_VMCB_FIELD(SAVE_STAR,             0x600,  8, "STAR") \
	HVLAB_VMCB_FIELD(SAVE_LSTAR,            0x608,  8, "LSTAR") \
	HVLAB_VMCB_FIELD(SAVE_CSTAR,            0x610,  8, "CSTAR") \
	HVLAB_VMCB_FIELD(SAVE_SFMASK,           0x618,  8, "SFMASK") \
	HVLAB_VMCB_FIELD(SAVE_KERNEL_GS_BASE,   0x620,  8, "KernelGsBase") \
	HVLAB_VMCB_FIELD(SAVE_SYSENTER_CS,      0x628,  8, "SYSENTER_CS") \
	HVLAB_VMCB_FIELD(SAVE_SYSENTER_ESP,     0x630,  8, "SYSENTER_ESP") \
	HVLAB_VMCB_FIELD(SAVE_SYSENTER_EIP,     0x638,  8, "SYSENTER_EIP") \
	HVLAB_VMCB_FIELD(SAVE_CR2,              0x640,  8, "CR2") \
	HVLAB_VMCB_FIELD(SAVE_G_PAT,            0x668,  8, "G_PAT") \
	HVLAB_VMCB_FIELD(SAVE_DBGCTL,           0x670,  8, "DBGCTL") \
	HVLAB_VMCB_FIELD(SAVE_BR_FROM,          0x678,  8, "BR_FROM") \
	HVLAB_VMCB_FIELD(SAVE_BR_TO,            0x680,  8, "BR_TO") \
	HVLAB_VMCB_FIELD(SAVE_LASTEXCPFROM,     0x688,  8, "LASTEXCPFROM") \
	HVLAB_VMCB_FIELD(SAVE_LASTEXCPTO,       0x690,  8, "LASTEXCPTO") \
	HVLAB_VMCB_FIELD(SAVE_SPEC_CTRL,        0x6e0,  8, "SPEC_CTRL") \

