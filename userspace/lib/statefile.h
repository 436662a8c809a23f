/* SPDX-License-Identifier: GPL-2.0 */
/*
 * statefile.h - the file hvlab-run --dump-state writes and hvlab-dump
 * reads: the vendor structure at the last exit and the one before
 * (HVLAB_GET_VENDOR_STATE) and the vCPU's exit journal, so that a
 * post-mortem outlives the VM.  Layout: this header, then @nstates
 * struct hvlab_vendor_state (the last exit first), then, if @journal,
 * HVLAB_JOURNAL_SIZE bytes of the journal as mmap()ed.  Host byte order.
 */
#ifndef HVLAB_STATEFILE_H
#define HVLAB_STATEFILE_H

#include <stdint.h>
#include <hvlab.h>

#define HVLAB_STATEFILE_MAGIC	"HVLABST1"

struct hvlab_statefile {
	char magic[8];
	uint32_t nstates;		/* 0, 1 or 2 */
	uint32_t journal;		/* 1: the journal follows the states */
	uint32_t state_size;		/* sizeof(struct hvlab_vendor_state) */
	uint32_t reserved[3];
};

#endif /* HVLAB_STATEFILE_H */
