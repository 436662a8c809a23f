/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kshim.h - the kernel types module/ code uses, so that a unit test can
 * #include a module source file and run it in userspace.  The module's
 * own #include <linux/...> lines resolve to the uapi headers, which give
 * the errno values and __u64 & co but not the kernel's short names.
 */
#ifndef HVLAB_KSHIM_H
#define HVLAB_KSHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/*
 * The kernel's own definitions: u64 is __u64 (unsigned long long), not
 * uint64_t (unsigned long on x86-64), so that a u64 pointer may alias
 * the __u64 fields of the uapi structs as it does in the kernel.
 */
typedef __u8		u8;
typedef __u16		u16;
typedef __u32		u32;
typedef __u64		u64;
typedef __s8		s8;
typedef __s16		s16;
typedef __s32		s32;
typedef __s64		s64;

#endif /* HVLAB_KSHIM_H */
