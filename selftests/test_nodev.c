// SPDX-License-Identifier: GPL-2.0
/*
 * test_nodev.c - on a CPU without what hvlab needs, loading fails with
 * -ENODEV, one kernel log line saying what is missing, and no /dev/hvlab.
 *
 * Only a PC whose CPU lacks AMD-V or nested paging can run this: run-all
 * boots QEMU with -cpu max,-npt (selftests/vm/run --qemu-cpu-flags) and no
 * hvlab.ko loaded.  Everywhere else it skips, saying so.  Not covered:
 * -cpu max,-svm (in QEMU 7.2 every static binary of the PC then aborts in
 * glibc's startup, _dl_get_origin), and the VT-x side (vmx_detect()):
 * Bochs cannot take VT-x or EPT away from its CPU model.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/klog.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hvtest.h"

/* The hvlab lines of the kernel log, one per line, into @out. */
static int hvlab_log(char *out, size_t size)
{
	static char buf[1 << 20];
	int len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);
	char *line, *save;
	size_t used = 0;

	if (len < 0)
		return -errno;
	buf[len] = 0;
	out[0] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = strstr(line, "hvlab: ");

		/* The module loader's own notes at a first load are not ours. */
		if (p && (strstr(p, "taints kernel") || strstr(p, "module verification failed")))
			continue;
		if (p && used + strlen(p) + 2 < size)
			used += sprintf(out + used, "%s\n", p);
	}
	return 0;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

TEST(load_refused_without_amd_v_or_npt)
{
	static char before[65536], after[65536];
	uint32_t a, b, c, d, max_ext;
	bool svm, npt;
	const char *want;
	int ret;

	hvt_cpuid(0x80000000, 0, &max_ext, &b, &c, &d);
	hvt_cpuid(0x80000001, 0, &a, &b, &c, &d);
	svm = c & (1u << 2);
	npt = false;
	if (svm && max_ext >= 0x8000000a) {
		hvt_cpuid(0x8000000a, 0, &a, &b, &c, &d);
		npt = d & 1;
	}
	if (hvt_cpu_vendor() != HVLAB_VENDOR_AMD || (svm && npt))
		SKIP(return, "this CPU has what hvlab needs; run-all runs this test in "
			     "a QEMU PC with -cpu max,-npt");
	want = !svm ? "has no AMD-V" : "without nested paging";

	ASSERT_EQ(0, hvt_module_loaded(HVT_MODULE)) TH_LOG("run with --no-module");
	ASSERT_EQ(0, hvlab_log(before, sizeof(before)));
	ret = hvt_module_load(hvt_ko_path(), "");
	ASSERT_EQ(-ENODEV, ret) TH_LOG("finit_module: %s", strerror(-ret));
	ASSERT_EQ(0, hvt_module_loaded(HVT_MODULE));
	ASSERT_NE(0, access(HVLAB_DEV_PATH, F_OK)) TH_LOG("%s exists", HVLAB_DEV_PATH);
	ASSERT_EQ(0, hvlab_log(after, sizeof(after)));
	ASSERT_EQ(count_lines(before) + 1, count_lines(after))
		TH_LOG("one new log line wanted; log now:\n%s", after);
	ASSERT_NE(NULL, strstr(after + strlen(before), want))
		TH_LOG("the new line should say '%s': %s", want, after + strlen(before));
	TH_LOG("%s", after + strlen(before));
}

TEST_HARNESS_MAIN
