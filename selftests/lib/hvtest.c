// SPDX-License-Identifier: GPL-2.0
/*
 * hvtest.c - helpers shared by the selftests; see hvtest.h.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hvtest.h"

/* --- CPU ---------------------------------------------------------------- */

void hvt_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *eax, uint32_t *ebx,
	       uint32_t *ecx, uint32_t *edx)
{
	__cpuid_count(leaf, subleaf, *eax, *ebx, *ecx, *edx);
}

int hvt_cpu_vendor(void)
{
	uint32_t eax, ebx, ecx, edx;
	char id[13];

	hvt_cpuid(0, 0, &eax, &ebx, &ecx, &edx);
	memcpy(id, &ebx, 4);
	memcpy(id + 4, &edx, 4);
	memcpy(id + 8, &ecx, 4);
	id[12] = '\0';
	if (!strcmp(id, "GenuineIntel"))
		return HVLAB_VENDOR_INTEL;
	if (!strcmp(id, "AuthenticAMD"))
		return HVLAB_VENDOR_AMD;
	return HVLAB_VENDOR_NONE;
}

const char *hvt_vendor_name(int vendor)
{
	switch (vendor) {
	case HVLAB_VENDOR_INTEL:	return "intel";
	case HVLAB_VENDOR_AMD:		return "amd";
	default:			return "none";
	}
}

uint32_t hvt_cpu_signature(void)
{
	uint32_t eax, ebx, ecx, edx;

	hvt_cpuid(1, 0, &eax, &ebx, &ecx, &edx);
	return eax;
}

unsigned int hvt_cpu_phys_bits(void)
{
	uint32_t eax, ebx, ecx, edx;

	hvt_cpuid(0x80000000, 0, &eax, &ebx, &ecx, &edx);
	if (eax < 0x80000008)
		return 36;	/* SDM Vol 2A CPUID: default without the leaf */
	hvt_cpuid(0x80000008, 0, &eax, &ebx, &ecx, &edx);
	return eax & 0xff;
}

/* --- files in /proc and /sys -------------------------------------------- */

int hvt_read_str(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

bool hvt_nested_4k_only(void)
{
	char m[256];

	return !hvt_read_str("/sys/module/hvlab/parameters/mitigations", m, sizeof(m)) &&
	       strstr(m, "ept-4k");
}

int hvt_read_ulong(const char *path, unsigned long *val)
{
	char buf[64], *end;
	int ret;

	ret = hvt_read_str(path, buf, sizeof(buf));
	if (ret)
		return ret;
	errno = 0;
	*val = strtoul(buf, &end, 0);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

int hvt_write_str(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd, err;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	return (size_t)n == len ? 0 : -EIO;
}

long hvt_meminfo_kb(const char *key)
{
	size_t klen = strlen(key);
	char line[256];
	long val = -ENOENT;
	FILE *f;

	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			val = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

int hvt_drop_caches(void)
{
	sync();
	return hvt_write_str("/proc/sys/vm/drop_caches", "3");
}

int hvt_shrink_slabs(void)
{
	char path[512];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	dir = opendir("/sys/kernel/slab");
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		/* Aliases are symlinks to the real cache: shrink each once. */
		if (d->d_name[0] == '.' || d->d_type == DT_LNK)
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", d->d_name);
		if (!hvt_write_str(path, "1"))
			n++;
	}
	closedir(dir);
	return n;
}

long hvt_slab_kb(const char *name)
{
	unsigned long pages_per_slab, num_slabs;
	char line[512], cache[128];
	long kb = 0;
	FILE *f;

	f = fopen("/proc/slabinfo", "re");
	if (!f)
		return -errno;
	/*
	 * name active_objs num_objs objsize objperslab pagesperslab
	 *   : tunables ... : slabdata active_slabs num_slabs sharedavail
	 */
	while (fgets(line, sizeof(line), f)) {
		char *sd = strstr(line, ": slabdata");

		if (!sd || sscanf(line, "%127s %*u %*u %*u %*u %lu", cache,
				  &pages_per_slab) != 2 || strcmp(cache, name))
			continue;
		if (sscanf(sd, ": slabdata %*u %lu", &num_slabs) == 1)
			kb = (long)(num_slabs * pages_per_slab * (HVT_PAGE_SIZE / 1024));
		break;
	}
	fclose(f);
	return kb;
}

bool hvt_kernel_is(const char *prefix)
{
	struct utsname u;
	size_t len = strlen(prefix);

	if (uname(&u))
		return false;
	/* "6.1" must not match "6.12...": the prefix ends at a non-digit. */
	return !strncmp(u.release, prefix, len) &&
	       !(u.release[len] >= '0' && u.release[len] <= '9');
}

/* --- modules -------------------------------------------------------------- */

const char *hvt_ko_path(void)
{
	const char *p = getenv("HVLAB_KO");

	return p && *p ? p : HVT_KO_DEFAULT;
}

int hvt_module_load(const char *path, const char *params)
{
	int fd, ret, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params ? params : "", 0);
	err = errno;
	close(fd);
	return ret ? -err : 0;
}

int hvt_module_unload(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

int hvt_module_loaded(const char *name)
{
	char path[128], state[32];

	snprintf(path, sizeof(path), "/sys/module/%s/initstate", name);
	if (hvt_read_str(path, state, sizeof(state)))
		return 0;
	return !strcmp(state, "live");
}

long hvt_module_refcnt(const char *name)
{
	char path[128];
	unsigned long val;
	int ret;

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", name);
	ret = hvt_read_ulong(path, &val);
	return ret ? ret : (long)val;
}

int hvt_module_param(const char *name, const char *param, unsigned long *val)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", name, param);
	return hvt_read_ulong(path, val);
}

/*
 * /dev/hvlab comes from devtmpfs when the rig mounts it.  Where /dev is a
 * plain directory, (re)create the node from /sys/class/misc/hvlab/dev so a
 * reload that picked another dynamic minor still finds the device.
 */
static int hvt_hvlab_node(void)
{
	unsigned int maj, min;
	char buf[32];
	struct stat st;
	dev_t dev;
	int ret;

	ret = hvt_read_str("/sys/class/misc/" HVT_MODULE "/dev", buf, sizeof(buf));
	if (ret)
		return ret;
	if (sscanf(buf, "%u:%u", &maj, &min) != 2)
		return -EINVAL;
	dev = makedev(maj, min);
	if (!stat(HVLAB_DEV_PATH, &st) && S_ISCHR(st.st_mode) && st.st_rdev == dev)
		return 0;
	unlink(HVLAB_DEV_PATH);
	return mknod(HVLAB_DEV_PATH, S_IFCHR | 0600, dev) ? -errno : 0;
}

int hvt_hvlab_ensure_loaded(void)
{
	int ret;

	if (!hvt_module_loaded(HVT_MODULE)) {
		ret = hvt_module_load(hvt_ko_path(), "");
		if (ret && ret != -EEXIST)
			return ret;
	}
	return hvt_hvlab_node();
}

int hvt_hvlab_reload(const char *params)
{
	int ret;

	if (hvt_module_loaded(HVT_MODULE)) {
		ret = hvt_module_unload(HVT_MODULE);
		if (ret)
			return ret;
	}
	ret = hvt_module_load(hvt_ko_path(), params);
	if (ret)
		return ret;
	return hvt_hvlab_node();
}

/* --- shell helpers -------------------------------------------------------- */

int hvt_system(const char *cmd)
{
	char line[512], *full;
	size_t len = strlen(cmd) + 16;
	bool bol = true;
	FILE *p;
	int st;

	full = malloc(len);
	if (!full)
		return -ENOMEM;
	snprintf(full, len, "(%s) 2>&1", cmd);
	fflush(stdout);
	fflush(stderr);
	p = popen(full, "re");
	free(full);
	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p)) {
		printf("%s%s", bol ? "# " : "", line);
		bol = line[strlen(line) - 1] == '\n';
	}
	if (!bol)
		putchar('\n');
	fflush(stdout);
	st = pclose(p);
	if (st < 0)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -EINTR;
}

const char *hvt_kvm_vendor_module(void)
{
	switch (hvt_cpu_vendor()) {
	case HVLAB_VENDOR_INTEL:	return "kvm_intel";
	case HVLAB_VENDOR_AMD:		return "kvm_amd";
	default:			return NULL;
	}
}

/* --- the device ------------------------------------------------------------ */

int hvt_cap(int sys_fd, unsigned long cap)
{
	return hvlab_check_cap(sys_fd, cap);
}

int hvt_open_vm(int *sys_fd)
{
	return hvt_open_vm_flags(sys_fd, 0);
}

int hvt_open_vm_flags(int *sys_fd, unsigned long vm_flags)
{
	int fd, vm;

	fd = hvlab_open();
	if (fd < 0)
		return fd;
	vm = hvlab_create_vm(fd, vm_flags);
	if (vm < 0) {
		close(fd);
		return vm;
	}
	*sys_fd = fd;
	return vm;
}

void *hvt_alloc_guest_mem(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int hvt_set_region(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa,
		   uint64_t size, uint64_t uaddr)
{
	struct hvlab_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = uaddr,
	};

	return hvlab_set_memory_region(vm_fd, &r);
}

void hvt_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void hvt_seg_set(struct hvlab_segment *s, uint16_t sel, uint64_t base, uint32_t limit,
		 uint8_t type, uint8_t is_s, uint8_t db, uint8_t l, uint8_t g)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = base;
	s->limit = limit;
	s->type = type;
	s->s = is_s;
	s->present = 1;
	s->db = db;
	s->l = l;
	s->g = g;
}

/* --- CPU hotplug ------------------------------------------------------------ */

int hvt_cpus_configured(void)
{
	return (int)sysconf(_SC_NPROCESSORS_CONF);
}

int hvt_cpus_online(void)
{
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static void hvt_cpu_online_path(int cpu, char *path, size_t size)
{
	snprintf(path, size, "/sys/devices/system/cpu/cpu%d/online", cpu);
}

int hvt_cpu_set_online(int cpu, bool online)
{
	char path[96];

	hvt_cpu_online_path(cpu, path, sizeof(path));
	return hvt_write_str(path, online ? "1" : "0");
}

int hvt_cpu_is_online(int cpu)
{
	char path[96];
	unsigned long v;
	int ret;

	hvt_cpu_online_path(cpu, path, sizeof(path));
	ret = hvt_read_ulong(path, &v);
	return ret ? ret : (int)(v != 0);
}

int hvt_pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}
