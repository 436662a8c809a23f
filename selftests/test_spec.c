// SPDX-License-Identifier: GPL-2.0
/*
 * test_spec.c - host protection at the world switch (module/spec.c), on
 * both vendors.
 *
 * Whether a VERW or an IBPB really ran cannot be seen from user space, and
 * the emulated CPUs have almost none of the bugs.  What can be checked:
 *  - the module's knobs: allow_unmitigated exists and is off by default;
 *  - the refusal path: with test_unmitigated naming a bug, CREATE_VM fails
 *    with EOPNOTSUPP and one kernel log line naming it, allow_unmitigated=1
 *    lets the VM be created (and logs that), and with both cleared VMs are
 *    created and run normally;
 *  - that hvlab follows the host's mitigation mode: what its read-only
 *    "mitigations" parameter says it does at the world switch matches
 *    /sys/devices/system/cpu/vulnerabilities and the kernel's boot log
 *    (e.g. the Bochs Skylake-X has L1TF and iTLB multihit, the QEMU AMD
 *    CPU has neither);
 *  - on an L1TF host (Intel PC): the conditional L1D flush runs once per
 *    RUN and not after each quiet in-kernel exit (CPUID), as KVM's "cond".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "guest.h"

#define PARAM(name)	"/sys/module/hvlab/parameters/" name
#define VULN(name)	"/sys/devices/system/cpu/vulnerabilities/" name

static char klog[1 << 20];

/* The kernel log, NUL-terminated; NULL if it cannot be read. */
static const char *read_klog(void)
{
	int len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, klog, sizeof(klog) - 1);

	if (len < 0)
		return NULL;
	klog[len] = 0;
	return klog;
}

/* How many kernel log lines contain both @a and @b. */
static int klog_lines(const char *a, const char *b)
{
	const char *log = read_klog();
	const char *p, *eol;
	int n = 0;

	if (!log)
		return -errno;
	for (p = log; *p; p = eol + 1) {
		char line[512];
		size_t len;

		eol = strchrnul(p, '\n');
		len = eol - p < (long)sizeof(line) - 1 ? (size_t)(eol - p) : sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = 0;
		if (strstr(line, a) && strstr(line, b))
			n++;
		if (!*eol)
			break;
	}
	return n;
}

/* Is @word one of the space-separated words of hvlab's mitigations parameter? */
static bool hvlab_does(const char *mitig, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = mitig; (p = strstr(p, word)); p += n)
		if ((p == mitig || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
			return true;
	return false;
}

FIXTURE(spec) {
	int sys_fd;
	char mitig[256];
};

FIXTURE_SETUP(spec)
{
	ASSERT_EQ(0, hvt_hvlab_ensure_loaded());
	self->sys_fd = open("/dev/hvlab", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->sys_fd) TH_LOG("/dev/hvlab: %s", strerror(errno));
	ASSERT_EQ(0, hvt_read_str(PARAM("mitigations"), self->mitig, sizeof(self->mitig)));
	TH_LOG("hvlab at the world switch: %s", self->mitig);
}

FIXTURE_TEARDOWN(spec)
{
	hvt_write_str(PARAM("test_unmitigated"), "\n");
	hvt_write_str(PARAM("allow_unmitigated"), "0");
	hvt_close(&self->sys_fd);
}

TEST_F(spec, unsafe_parameter_off_by_default)
{
	char buf[64];

	ASSERT_EQ(0, hvt_read_str(PARAM("allow_unmitigated"), buf, sizeof(buf)));
	EXPECT_STREQ("N", buf);
	ASSERT_EQ(0, hvt_read_str(PARAM("test_unmitigated"), buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
	EXPECT_STRNE("", self->mitig);
}

TEST_F(spec, refuses_unmitigated_bug)
{
	int before, vm;

	before = klog_lines("hvlab: CPU bug vmscape: hvlab cannot mitigate", "creates no VMs");
	ASSERT_LE(0, before) TH_LOG("syslog: %s", strerror(-before));
	ASSERT_EQ(0, hvt_write_str(PARAM("test_unmitigated"), "vmscape"));
	vm = hvlab_create_vm(self->sys_fd, 0);
	EXPECT_EQ(-EOPNOTSUPP, vm) TH_LOG("CREATE_VM with an unmitigated bug: %s",
					  vm < 0 ? strerror(-vm) : "created");
	if (vm >= 0)
		close(vm);
	EXPECT_EQ(before + 1, klog_lines("hvlab: CPU bug vmscape: hvlab cannot mitigate",
					  "creates no VMs")) TH_LOG("one log line naming the bug");

	/* The administrator's override: created, and the log says so. */
	before = klog_lines("hvlab: CPU bug vmscape is not mitigated", "allow_unmitigated=1");
	ASSERT_EQ(0, hvt_write_str(PARAM("allow_unmitigated"), "1"));
	vm = hvlab_create_vm(self->sys_fd, 0);
	EXPECT_LE(0, vm) TH_LOG("CREATE_VM with allow_unmitigated=1: %s", strerror(-vm));
	if (vm >= 0)
		close(vm);
	EXPECT_EQ(before + 1, klog_lines("hvlab: CPU bug vmscape is not mitigated",
					  "allow_unmitigated=1"));
}

GUEST_CODE static void guest_cpuids(uint64_t n, uint64_t unused)
{
	uint64_t i;

	(void)unused;
	for (i = 0; i < n; i++) {
		uint32_t a = 0, b, c = 0, d;

		asm volatile("cpuid" : "+a" (a), "=b" (b), "+c" (c), "=d" (d));
	}
	GUEST_SYNC(n);
	for (i = 0; i < 4; i++)
		GUEST_SYNC(i);
}

/* Nothing pretended: VMs are created and run (and exit) as always. */
TEST_F(spec, vm_runs_when_nothing_unmitigated)
{
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
	int r;

	HVT_REQUIRE_RUN();
	r = hvt_vm_create(0, 0, &vm);
	ASSERT_EQ(0, r) TH_LOG("VM: %s", strerror(-r));
	r = hvt_vcpu_add(vm, 0, &vcpu);
	ASSERT_EQ(0, r) TH_LOG("vCPU: %s", strerror(-r));
	ASSERT_EQ(0, hvt_vcpu_enter_c(vcpu, (void *)guest_cpuids, 100, 0));
	HVT_RUN_EXPECT_SYNC(vcpu, 100);
	for (r = 0; r < 4; r++)
		HVT_RUN_EXPECT_SYNC(vcpu, r);
	HVT_RUN_EXPECT_DONE(vcpu);
	hvt_vm_free(vm);
}

/* Does the first line of vulnerabilities/@name contain @text? */
static bool vuln_says(const char *name, const char *text)
{
	char path[128], buf[256];

	snprintf(path, sizeof(path), VULN("%s"), name);
	if (hvt_read_str(path, buf, sizeof(buf)))
		return false;
	return strstr(buf, text) != NULL;
}

/* hvlab's mitigations follow the host kernel's choices, word by word. */
TEST_F(spec, follows_host_mode)
{
	bool intel = hvt_cpu_vendor() == HVLAB_VENDOR_INTEL;
	char buf[256];
	int i;
	static const char *const files[] = {
		"spectre_v2", "l1tf", "mds", "tsx_async_abort", "mmio_stale_data",
		"reg_file_data_sampling", "retbleed", "spec_rstack_overflow", "tsa",
		"vmscape", "itlb_multihit", "spec_store_bypass", "gather_data_sampling",
	};

	for (i = 0; i < (int)ARRAY_SIZE(files); i++) {
		char path[128];

		snprintf(path, sizeof(path), VULN("%s"), files[i]);
		if (!hvt_read_str(path, buf, sizeof(buf)))
			TH_LOG("%-24s %s", files[i], buf);
	}

	/* L1TF (Intel only): flush unless the host turned it off. */
	EXPECT_EQ(intel && vuln_says("l1tf", "Mitigation"),
		  hvlab_does(self->mitig, "l1d-flush-cond") ||
		  hvlab_does(self->mitig, "l1d-flush-always"));
	/* MDS and friends: VERW where the kernel clears buffers itself. */
	if (intel) {
		EXPECT_EQ(vuln_says("mds", "Clear CPU buffers") ||
			  vuln_says("tsx_async_abort", "Clear CPU buffers") ||
			  vuln_says("reg_file_data_sampling", "Clear Register File"),
			  hvlab_does(self->mitig, "verw"));
	} else {
		EXPECT_EQ(vuln_says("tsa", "Clear CPU buffers") &&
			  !vuln_says("tsa", "user/kernel"), hvlab_does(self->mitig, "verw"));
	}
	/* VMSCAPE: the IBPB before user space, exactly where the host does it. */
	EXPECT_EQ(vuln_says("vmscape", "IBPB before exit to userspace"),
		  hvlab_does(self->mitig, "ibpb-to-user"));
	/* iTLB multihit (EPT only): 4 KiB leaves wherever the CPU has it. */
	EXPECT_EQ(intel && vuln_says("itlb_multihit", "KVM:"), hvlab_does(self->mitig, "ept-4k"));
	/* AMD retbleed/SRSO: untraining where the host untrains. */
	if (!intel) {
		EXPECT_EQ(vuln_says("retbleed", "untrained return thunk") ||
			  vuln_says("spec_rstack_overflow", "Safe RET"),
			  hvlab_does(self->mitig, "untrain-ret"));
	}
	/* The RSB fill on exit where the kernel's boot log says it fills. */
	i = klog_lines("Spectre V2", "VMEXIT");
	if (i > 0 || (i == 0 && strstr(klog, "Spectre V2"))) {
		EXPECT_EQ(klog_lines("Filling RSB on", "VMEXIT") > 0 &&
			  klog_lines("PBRSB-eIBRS", "VMEXIT") == 0,
			  hvlab_does(self->mitig, "rsb-fill"));
	} else {
		TH_LOG("no Spectre V2 lines in the kernel log (rotated?): RSB check skipped");
	}
}

/* A guest that asks for a ucall after @n CPUIDs, @rounds times. */
GUEST_CODE static void guest_cpuid_rounds(uint64_t n, uint64_t rounds)
{
	uint64_t r, i;

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < n; i++) {
			uint32_t a = 0, b, c = 0, d;

			asm volatile("cpuid" : "+a" (a), "=b" (b), "+c" (c), "=d" (d));
		}
		GUEST_SYNC(r);
	}
}

/*
 * KVM's "cond" L1D flush, as hvlab does it: at least one flush per RUN
 * (user space ran since), none for the CPUID exits in between that
 * hvlab finishes itself unless an interrupt came (a timer tick can).
 * Intel only: the flush is for VMX entries on CPUs with L1TF.
 */
TEST_F(spec, l1d_flush_is_conditional)
{
	const unsigned long n = 200, rounds = 5;
	unsigned long before, after;
	struct hvt_vm *vm;
	struct hvt_vcpu *vcpu;
	int r;

	HVT_REQUIRE_RUN();
	if (!hvlab_does(self->mitig, "l1d-flush-cond"))
		SKIP(return, "no conditional L1D flush on this host (%s): the CPU has no L1TF "
			     "(AMD, or an Intel CPU without it) or the host's l1tf mode is off or full",
		     self->mitig);
	r = hvt_vm_create(0, 0, &vm);
	ASSERT_EQ(0, r) TH_LOG("VM: %s", strerror(-r));
	r = hvt_vcpu_add(vm, 0, &vcpu);
	ASSERT_EQ(0, r) TH_LOG("vCPU: %s", strerror(-r));
	ASSERT_EQ(0, hvt_vcpu_enter_c(vcpu, (void *)guest_cpuid_rounds, n, rounds));
	ASSERT_EQ(0, hvt_read_ulong(PARAM("l1d_flushes"), &before));
	for (r = 0; r < (int)rounds; r++)
		HVT_RUN_EXPECT_SYNC(vcpu, r);
	HVT_RUN_EXPECT_DONE(vcpu);
	ASSERT_EQ(0, hvt_read_ulong(PARAM("l1d_flushes"), &after));
	TH_LOG("%lu L1D flushes for %lu RUNs with %lu CPUID exits", after - before,
	       rounds + 1, n * rounds);
	EXPECT_LE(rounds + 1, after - before) TH_LOG("one flush per RUN at least");
	EXPECT_GT(n * rounds / 4, after - before) TH_LOG("CPUID exits must not flush each time");
	hvt_vm_free(vm);
}

TEST_HARNESS_MAIN
