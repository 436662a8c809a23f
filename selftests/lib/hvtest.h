/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hvtest.h - the selftests' helper library: the device, the CPU vendor,
 * /proc and /sys readers, module load/unload and CPU hotplug.
 *
 * Same convention as libhvlab: functions return >= 0 on success and a
 * negative errno on failure.  Nothing here knows about the kselftest
 * harness, so helpers can be called from setup, tests, teardown or threads.
 */
#ifndef HVTEST_H
#define HVTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libhvlab.h"

#define HVT_PAGE_SIZE		4096ul
#define HVT_MODULE		"hvlab"
#define HVT_KO_DEFAULT		"/hvlab/hvlab.ko"	/* where the rig puts it */

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* --- CPU ---------------------------------------------------------------- */

void hvt_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *eax, uint32_t *ebx,
	       uint32_t *ecx, uint32_t *edx);
/* enum hvlab_vendor of the CPU we run on, from the CPUID vendor string. */
int hvt_cpu_vendor(void);
const char *hvt_vendor_name(int vendor);
/* CPUID.1:EAX, the processor signature (family/model/stepping). */
uint32_t hvt_cpu_signature(void);
/* Physical-address width, CPUID.80000008h:EAX[7:0]. */
unsigned int hvt_cpu_phys_bits(void);

/* --- files in /proc and /sys -------------------------------------------- */

/* Read the first unsigned number in @path into *@val. */
int hvt_read_ulong(const char *path, unsigned long *val);
/* Read @path into @buf (NUL-terminated, trailing newline removed). */
int hvt_read_str(const char *path, char *buf, size_t size);
int hvt_write_str(const char *path, const char *s);
/*
 * hvlab gives nested tables 4 KiB leaves only ("ept-4k" in its
 * mitigations parameter: an iTLB-multihit CPU, module/spec.c).
 */
bool hvt_nested_4k_only(void);
/* The value in kB of line "@key:" of /proc/meminfo. */
long hvt_meminfo_kb(const char *key);
/* sync, then echo 3 > /proc/sys/vm/drop_caches. */
int hvt_drop_caches(void);
/*
 * echo 1 > /sys/kernel/slab/<every cache>/shrink: flush the per-CPU slabs
 * and free empty ones, so Slab/SUnreclaim count objects in use rather than
 * what the allocator happens to keep around.  Returns the number of caches
 * shrunk or -errno.
 */
int hvt_shrink_slabs(void);
/* kB of slab pages held by cache @name (/proc/slabinfo); 0 if not listed. */
long hvt_slab_kb(const char *name);
/* Does `uname -r` start with @prefix (e.g. "6.12")? */
bool hvt_kernel_is(const char *prefix);

/* --- modules -------------------------------------------------------------- */

/* Path of hvlab.ko: $HVLAB_KO or HVT_KO_DEFAULT. */
const char *hvt_ko_path(void);
/* finit_module(@path, @params); 0 or -errno. */
int hvt_module_load(const char *path, const char *params);
/* delete_module(@name, O_NONBLOCK); 0 or -errno. */
int hvt_module_unload(const char *name);
/* 1 if @name is a live loaded module, 0 if not. */
int hvt_module_loaded(const char *name);
/* /sys/module/@name/refcnt. */
long hvt_module_refcnt(const char *name);
/* /sys/module/@name/parameters/@param as a number. */
int hvt_module_param(const char *name, const char *param, unsigned long *val);
/* Load hvlab.ko with default parameters unless it is loaded already. */
int hvt_hvlab_ensure_loaded(void);
/* Unload hvlab (if loaded) and load it again with @params. */
int hvt_hvlab_reload(const char *params);

/* --- shell helpers -------------------------------------------------------- */

/*
 * Run @cmd with /bin/sh, its output (stdout and stderr) relayed to stdout
 * with "# " in front of each line so TAP stays parseable.  Returns the exit
 * status (0-255), or -errno if it could not run or was killed.
 */
int hvt_system(const char *cmd);

/* The rig's KVM loader in the PC (selftests/vm/load-kvm). */
#define HVT_KMOD_DIR		"/hvlab/kmod"
#define HVT_LOAD_KVM		HVT_KMOD_DIR "/load-kvm"
#define HVT_UNLOAD_KVM		HVT_KMOD_DIR "/unload-kvm"
/* "kvm_amd" or "kvm_intel" for this CPU, NULL for neither. */
const char *hvt_kvm_vendor_module(void);

/* --- the device ------------------------------------------------------------ */

/* Capability @cap; aborts nothing, returns -errno when the ioctl fails. */
int hvt_cap(int sys_fd, unsigned long cap);
/* Open /dev/hvlab and create a VM: *@sys_fd and the returned VM fd. */
int hvt_open_vm(int *sys_fd);
/* The same with HVLAB_CREATE_VM flags (HVLAB_VM_*). */
int hvt_open_vm_flags(int *sys_fd, unsigned long vm_flags);
/* An anonymous private mapping of @size bytes (MAP_FAILED -> NULL). */
void *hvt_alloc_guest_mem(size_t size);
/* HVLAB_SET_MEMORY_REGION from the individual fields. */
int hvt_set_region(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa,
		   uint64_t size, uint64_t uaddr);
/* Close *@fd if >= 0 and set it to -1. */
void hvt_close(int *fd);
/*
 * A present segment register for HVLAB_SET_SREGS, from the descriptor's
 * fields (@is_s: code/data rather than system); all else zero (DPL 0,
 * usable).  @limit is in bytes, as the struct holds it whatever @g says.
 */
void hvt_seg_set(struct hvlab_segment *s, uint16_t sel, uint64_t base, uint32_t limit,
		 uint8_t type, uint8_t is_s, uint8_t db, uint8_t l, uint8_t g);

/* --- CPU hotplug ------------------------------------------------------------ */

/* sysconf(_SC_NPROCESSORS_CONF)/ONLN. */
int hvt_cpus_configured(void);
int hvt_cpus_online(void);
/* Write 0/1 to /sys/devices/system/cpu/cpu@cpu/online. */
int hvt_cpu_set_online(int cpu, bool online);
/* 1 online, 0 offline, -errno if not hotpluggable. */
int hvt_cpu_is_online(int cpu);
/* Pin the calling thread to @cpu. */
int hvt_pin_to_cpu(int cpu);

#endif /* HVTEST_H */
