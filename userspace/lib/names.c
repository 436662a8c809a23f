// SPDX-License-Identifier: GPL-2.0
/*
 * names.c - the manuals' names of raw exit reasons, for the tools that
 * print them (hvlab-run --trace, hvlab-dump): the tables the kernel's
 * uapi <asm/vmx.h> and <asm/svm.h> carry (VMX_EXIT_REASONS,
 * SVM_EXIT_REASONS).
 */
#include <stdint.h>

/*
 * SVM_EXIT_REASONS of the uapi <asm/svm.h> names the exception intercepts
 * by vector macros it leaves to the includer: the vectors of SDM Vol. 3A
 * 6.3.1 table 6-1.
 */
#define DE_VECTOR 0
#define DB_VECTOR 1
#define BP_VECTOR 3
#define OF_VECTOR 4
#define BR_VECTOR 5
#define UD_VECTOR 6
#define NM_VECTOR 7
#define DF_VECTOR 8
#define TS_VECTOR 10
#define NP_VECTOR 11
#define SS_VECTOR 12
#define GP_VECTOR 13
#define PF_VECTOR 14
#define MF_VECTOR 16
#define AC_VECTOR 17
#define MC_VECTOR 18
#define XM_VECTOR 19
#include <asm/svm.h>
#include <asm/vmx.h>

#include "libhvlab.h"

static const struct { unsigned int code; const char *name; } vmx_names[] = { VMX_EXIT_REASONS };
static const struct { unsigned int code; const char *name; } svm_names[] = { SVM_EXIT_REASONS };

/* The SDM's basic exit reason (Vol. 3C appendix C) or the APM's exit code (Vol. 2 appendix C). */
const char *hvlab_vendor_reason_name(int vendor, uint64_t r)
{
	unsigned int i;

	if (vendor == HVLAB_VENDOR_INTEL) {
		for (i = 0; i < sizeof(vmx_names) / sizeof(vmx_names[0]); i++)
			if (vmx_names[i].code == (uint16_t)r)
				return vmx_names[i].name;
	} else if (vendor == HVLAB_VENDOR_AMD) {
		for (i = 0; i < sizeof(svm_names) / sizeof(svm_names[0]); i++)
			if (svm_names[i].code == (uint32_t)r)
				return svm_names[i].name;
	}
	return "?";
}
