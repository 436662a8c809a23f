/* SPDX-License-Identifier: GPL-2.0 */
/*
 * minmax.h - stands in for the kernel header in host unit tests (without
 * the kernel's type checks, which the module build makes).
 */
#ifndef HVLAB_SHIM_MINMAX_H
#define HVLAB_SHIM_MINMAX_H
#define min(a, b)		((a) < (b) ? (a) : (b))
#define clamp_t(t, v, lo, hi)	((t)(v) < (t)(lo) ? (t)(lo) : (t)(v) > (t)(hi) ? (t)(hi) : (t)(v))
#endif
