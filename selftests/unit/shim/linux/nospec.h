/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nospec.h - stands in for the kernel header in host unit tests: the clamp
 * under speculation matters only in the kernel; architecturally the index
 * has been bounds-checked already, so it passes through unchanged.
 */
#ifndef HVLAB_SHIM_NOSPEC_H
#define HVLAB_SHIM_NOSPEC_H
#define array_index_nospec(index, size)	(index)
#endif
