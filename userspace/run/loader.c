// SPDX-License-Identifier: GPL-2.0
/*
 * loader.c - puts an image into guest memory and says how to enter it:
 *   - a Linux bzImage, through the 32-bit boot protocol (Linux's
 *     Documentation/arch/x86/boot.rst: "32-bit Boot Protocol"): boot_params
 *     (the "zero page") with the setup header, an e820 map, the command
 *     line and the initrd;
 *   - a multiboot (v1) kernel, ELF or with the a.out-kludge address fields
 *     (Multiboot Specification 0.6.96, section 3), with a multiboot info
 *     block, a memory map, the command line and the initrd as module 0;
 *   - a plain ELF32 (no multiboot header), entered at e_entry in 32-bit
 *     protected mode;
 *   - a flat binary at --load-addr, entered at --entry in real mode or
 *     32-bit protected mode (teaching examples).
 *
 * Every size and offset read from an image is checked against the file and
 * against guest memory with overflow in mind: images are untrusted input.
 *
 * Guest-physical layout (low memory):
 *   0x00500  GDT (null, null, 0x10 code, 0x18 data, 0x20 TSS)
 *   0x00600  TSS (104 bytes, for TR)
 *   0x07000  boot_params (Linux) / multiboot info (+ memory map)
 *   0x08000  initial stack top for ELF/flat entries (grows down)
 *   0x20000  command line (up to 64 KiB)
 *   0x9fc00  top of conventional memory (e820: reserved above, to 1 MiB)
 */
#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"

#define ZERO_PAGE	0x7000
#define MB_INFO		0x7000
#define STACK_TOP	0x8000
#define CMDLINE		0x20000
#define CMDLINE_MAX	0x10000
#define LOW_RAM_END	0x9fc00
#define HIGH_RAM	0x100000
#define GDT_TSS		0x600

#define MB_MAGIC	0x1BADB002u	/* in the image's header */
#define MB_BOOT_MAGIC	0x2BADB002u	/* in EAX at entry */

/* A whole file in a malloc()ed buffer; RUN_IMAGE after saying why. */
static int read_file(const char *what, const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "hvlab-run: %s '%s': %s\n", what, path, strerror(errno));
		return RUN_IMAGE;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "hvlab-run: %s '%s': not a regular file\n", what, path);
		close(fd);
		return RUN_IMAGE;
	}
	*len = st.st_size;
	*buf = malloc(*len ? *len : 1);
	if (!*buf) {
		fprintf(stderr, "hvlab-run: %s '%s': out of memory\n", what, path);
		close(fd);
		return RUN_NOMEM;
	}
	while (got < *len) {
		n = read(fd, *buf + got, *len - got);
		if (n <= 0) {
			fprintf(stderr, "hvlab-run: %s '%s': read: %s\n", what, path,
				n ? strerror(errno) : "file shrank");
			free(*buf);
			close(fd);
			return RUN_IMAGE;
		}
		got += n;
	}
	close(fd);
	return 0;
}

static int too_small(const struct guest *g, const char *what, uint64_t need)
{
	fprintf(stderr, "hvlab-run: too little memory for %s: at least %llu MiB of guest RAM needed, --mem gives %llu MiB\n",
		what, (unsigned long long)((need + (1 << 20) - 1) >> 20),
		(unsigned long long)(g->mem_size >> 20));
	return RUN_NOMEM;
}

/* Flat 4 GiB code and data descriptors at 0x10/0x18, and a TSS at 0x20. */
static void write_gdt(struct guest *g)
{
	uint64_t gdt[5] = {
		0, 0,
		0x00cf9b000000ffffull,	/* 0x10: code, base 0, 4 GiB, 32-bit, r/x */
		0x00cf93000000ffffull,	/* 0x18: data, base 0, 4 GiB, r/w */
		0x0000890000000067ull | (uint64_t)GDT_TSS << 16,	/* 0x20: 32-bit TSS */
	};

	memcpy(g->ram + BOOT_GDT, gdt, sizeof(gdt));
	memset(g->ram + GDT_TSS, 0, 104);
}

static int put_cmdline(struct guest *g, const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n + 1 > max || n + 1 > CMDLINE_MAX) {
		fprintf(stderr, "hvlab-run: --append is %zu bytes; this kernel takes at most %zu\n",
			n, (max < CMDLINE_MAX ? max : CMDLINE_MAX) - 1);
		return RUN_USAGE;
	}
	memcpy(g->ram + CMDLINE, s, n + 1);
	return 0;
}

/* ----------------------------------------------------------------- Linux -- */

static int load_linux(struct guest *g, const struct load_args *la, uint8_t *img, size_t len,
		      struct boot_state *bs)
{
	struct boot_params *bp = (struct boot_params *)(g->ram + ZERO_PAGE);
	struct setup_header *h;
	uint32_t setup_sects, hdr_end, version, initrd_max, cmd_max;
	uint64_t kernel_off, kernel_len, run_start, need, initrd_at = 0;
	uint8_t *initrd = NULL;
	size_t initrd_len = 0;
	unsigned int n = 0;
	int ret;

	if (len < 0x264 + 4) {
		fprintf(stderr, "hvlab-run: '%s': too short for a Linux setup header\n", la->kernel);
		return RUN_IMAGE;
	}
	h = (struct setup_header *)(img + 0x1f1);
	version = h->version;
	if (version < 0x206) {
		fprintf(stderr, "hvlab-run: '%s': Linux boot protocol %u.%02u is not supported; hvlab-run needs 2.06 or later (Linux 2.6.22+)\n",
			la->kernel, version >> 8, version & 0xff);
		return RUN_IMAGE;
	}
	if (!(h->loadflags & LOADED_HIGH)) {
		fprintf(stderr, "hvlab-run: '%s': a zImage (loaded low); only bzImage is supported\n", la->kernel);
		return RUN_IMAGE;
	}
	setup_sects = h->setup_sects ? h->setup_sects : 4;
	kernel_off = (uint64_t)(setup_sects + 1) * 512;
	hdr_end = 0x202 + img[0x201];
	if (kernel_off >= len || hdr_end > kernel_off) {
		fprintf(stderr, "hvlab-run: '%s': setup header claims %u setup sectors, more than the file holds\n",
			la->kernel, setup_sects);
		return RUN_IMAGE;
	}
	kernel_len = len - kernel_off;

	/*
	 * Where the kernel will run: it decompresses to pref_address (or
	 * higher, with KASLR) and needs init_size bytes from there before it
	 * looks at the e820 map.
	 */
	run_start = version >= 0x20a && h->pref_address ? h->pref_address : HIGH_RAM;
	need = run_start + (version >= 0x20a && h->init_size > kernel_len ? h->init_size : kernel_len);
	if (need > g->mem_size || HIGH_RAM + kernel_len > g->mem_size)
		return too_small(g, "this kernel", need + (8 << 20));

	memset(bp, 0, sizeof(*bp));
	/* a newer kernel's header may be longer than ours: copy what we know */
	memcpy(&bp->hdr, img + 0x1f1,
	       hdr_end - 0x1f1 < sizeof(bp->hdr) ? hdr_end - 0x1f1 : sizeof(bp->hdr));
	bp->hdr.type_of_loader = 0xff;		/* "undefined" boot loader */
	bp->hdr.vid_mode = 0xffff;		/* normal */
	bp->hdr.code32_start = HIGH_RAM;
	memcpy(g->ram + HIGH_RAM, img + kernel_off, kernel_len);

	cmd_max = h->cmdline_size + 1;
	ret = put_cmdline(g, la->append ? la->append : "", cmd_max);
	if (ret)
		return ret;
	bp->hdr.cmd_line_ptr = CMDLINE;

	if (la->initrd) {
		ret = read_file("initrd", la->initrd, &initrd, &initrd_len);
		if (ret)
			return ret;
		initrd_max = h->initrd_addr_max ? h->initrd_addr_max : 0x37ffffff;
		/* as high as allowed, page aligned, clear of the running kernel */
		initrd_at = (g->mem_size < (uint64_t)initrd_max + 1 ? g->mem_size : (uint64_t)initrd_max + 1);
		if (initrd_len > initrd_at || ((initrd_at - initrd_len) & ~0xfffull) < need) {
			free(initrd);
			return too_small(g, "this kernel and initrd", need + initrd_len + (8 << 20));
		}
		initrd_at = (initrd_at - initrd_len) & ~0xfffull;
		memcpy(g->ram + initrd_at, initrd, initrd_len);
		free(initrd);
		bp->hdr.ramdisk_image = (uint32_t)initrd_at;
		bp->hdr.ramdisk_size = (uint32_t)initrd_len;
	}

	/* e820 (Linux's zero-page.rst): low RAM, the BIOS hole, RAM above 1 MiB */
	bp->e820_table[n++] = (struct boot_e820_entry){ 0, LOW_RAM_END, 1 };
	bp->e820_table[n++] = (struct boot_e820_entry){ LOW_RAM_END, HIGH_RAM - LOW_RAM_END, 2 };
	bp->e820_table[n++] = (struct boot_e820_entry){ HIGH_RAM, g->mem_size - HIGH_RAM, 1 };
	bp->e820_entries = n;

	write_gdt(g);
	bs->mode = ENTRY_PROT32;
	bs->rip = HIGH_RAM;
	bs->esi = ZERO_PAGE;
	bs->kind = "linux";
	if (la->verbose)
		fprintf(stderr, "hvlab-run: Linux boot protocol %u.%02u, kernel %llu bytes at 0x%x, runs at 0x%llx (init_size %u), initrd %zu bytes at 0x%llx\n",
			version >> 8, version & 0xff, (unsigned long long)kernel_len, HIGH_RAM,
			(unsigned long long)run_start, h->init_size, initrd_len,
			(unsigned long long)initrd_at);
	return 0;
}

/* ------------------------------------------------------------------- ELF -- */

/* Load the PT_LOAD segments of an ELF32 image at their physical addresses. */
static int load_elf32(struct guest *g, const char *path, const uint8_t *img, size_t len,
		      uint32_t *entry, uint64_t *end)
{
	const Elf32_Ehdr *eh = (const Elf32_Ehdr *)img;
	uint64_t phoff, hi = 0;

	if (len < sizeof(*eh) || eh->e_ident[EI_CLASS] != ELFCLASS32 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_386 ||
	    eh->e_phentsize != sizeof(Elf32_Phdr)) {
		fprintf(stderr, "hvlab-run: '%s': not a little-endian i386 ELF32 image (a multiboot ELF must be 32-bit)\n", path);
		return RUN_IMAGE;
	}
	phoff = eh->e_phoff;
	if (phoff > len || (uint64_t)eh->e_phnum * sizeof(Elf32_Phdr) > len - phoff) {
		fprintf(stderr, "hvlab-run: '%s': program headers lie outside the file\n", path);
		return RUN_IMAGE;
	}
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		const Elf32_Phdr *ph = (const Elf32_Phdr *)(img + phoff) + i;

		if (ph->p_type != PT_LOAD || !ph->p_memsz)
			continue;
		if (ph->p_filesz > ph->p_memsz || ph->p_offset > len || ph->p_filesz > len - ph->p_offset) {
			fprintf(stderr, "hvlab-run: '%s': segment %u lies outside the file\n", path, i);
			return RUN_IMAGE;
		}
		/*
		 * Half-open intervals: [p_paddr, p_paddr + p_memsz) against
		 * [BOOT_GDT, STACK_TOP), the GDT, TSS, info block and stack.
		 * A segment that starts at STACK_TOP, or ends at BOOT_GDT, is fine.
		 */
		if (ph->p_paddr < STACK_TOP && ph->p_paddr + (uint64_t)ph->p_memsz > BOOT_GDT) {
			fprintf(stderr, "hvlab-run: '%s': segment %u at 0x%x overlaps hvlab-run's low-memory data (0x500-0x8000)\n",
				path, i, ph->p_paddr);
			return RUN_IMAGE;
		}
		if (!guest_range_ok(g, ph->p_paddr, ph->p_memsz))
			return too_small(g, "this image", (uint64_t)ph->p_paddr + ph->p_memsz);
		memcpy(g->ram + ph->p_paddr, img + ph->p_offset, ph->p_filesz);
		memset(g->ram + ph->p_paddr + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
		if ((uint64_t)ph->p_paddr + ph->p_memsz > hi)
			hi = (uint64_t)ph->p_paddr + ph->p_memsz;
	}
	if (!hi) {
		fprintf(stderr, "hvlab-run: '%s': no loadable segment\n", path);
		return RUN_IMAGE;
	}
	*entry = eh->e_entry;
	*end = hi;
	return 0;
}

/* ------------------------------------------------------------- multiboot -- */

struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
} __attribute__((packed));

struct mb_mmap {
	uint32_t size;		/* of the rest: 20 */
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

struct mb_module {
	uint32_t start, end, string, reserved;
};

/* The multiboot header: 4-byte aligned within the first 8 KiB. */
static const struct mb_header *find_mb_header(const uint8_t *img, size_t len, size_t *off)
{
	for (size_t o = 0; o + sizeof(struct mb_header) <= len && o < 8192; o += 4) {
		const struct mb_header *h = (const void *)(img + o);

		if (h->magic == MB_MAGIC && h->magic + h->flags + h->checksum == 0) {
			*off = o;
			return h;
		}
	}
	return NULL;
}

static int load_multiboot(struct guest *g, const struct load_args *la, const uint8_t *img,
			  size_t len, const struct mb_header *h, size_t hoff, struct boot_state *bs)
{
	struct mb_info *mi = (struct mb_info *)(g->ram + MB_INFO);
	struct mb_mmap *mm = (struct mb_mmap *)(g->ram + MB_INFO + sizeof(*mi));
	struct mb_module *mod = (struct mb_module *)(g->ram + MB_INFO + sizeof(*mi) + 3 * sizeof(*mm));
	uint32_t entry;
	uint64_t end;
	int ret;

	/* bits 0 (page-align modules) and 1 (memory info) we honour; not video */
	if (h->flags & 0xfffc) {
		fprintf(stderr, "hvlab-run: '%s': multiboot header asks for features hvlab-run lacks (flags 0x%x; supported: 0x3 and 0x10000)\n",
			la->kernel, h->flags);
		return RUN_IMAGE;
	}
	if (h->flags & 0x10000) {
		/* a.out kludge: the header says where the file goes */
		uint64_t file_start, load_len, bss_end;

		if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > hoff) {
			fprintf(stderr, "hvlab-run: '%s': multiboot load_addr/header_addr are inconsistent\n", la->kernel);
			return RUN_IMAGE;
		}
		file_start = hoff - (h->header_addr - h->load_addr);
		load_len = h->load_end_addr ? (uint64_t)h->load_end_addr - h->load_addr : len - file_start;
		if (h->load_end_addr && h->load_end_addr < h->load_addr) {
			fprintf(stderr, "hvlab-run: '%s': multiboot load_end_addr below load_addr\n", la->kernel);
			return RUN_IMAGE;
		}
		if (load_len > len - file_start) {
			fprintf(stderr, "hvlab-run: '%s': multiboot load range is longer than the file\n", la->kernel);
			return RUN_IMAGE;
		}
		bss_end = h->bss_end_addr > h->load_addr + load_len ? h->bss_end_addr : h->load_addr + load_len;
		if (h->load_addr < STACK_TOP) {
			fprintf(stderr, "hvlab-run: '%s': multiboot load_addr 0x%x is below 0x8000\n", la->kernel, h->load_addr);
			return RUN_IMAGE;
		}
		if (!guest_range_ok(g, h->load_addr, bss_end - h->load_addr))
			return too_small(g, "this image", bss_end);
		memcpy(g->ram + h->load_addr, img + file_start, load_len);
		memset(g->ram + h->load_addr + load_len, 0, bss_end - h->load_addr - load_len);
		entry = h->entry_addr;
		end = bss_end;
	} else {
		ret = load_elf32(g, la->kernel, img, len, &entry, &end);
		if (ret)
			return ret;
	}

	memset(mi, 0, sizeof(*mi));
	mi->flags = 1 << 0 | 1 << 2 | 1 << 6;	/* mem_*, cmdline, mmap */
	mi->mem_lower = LOW_RAM_END / 1024;
	mi->mem_upper = (uint32_t)((g->mem_size - HIGH_RAM) / 1024);
	ret = put_cmdline(g, la->append ? la->append : "", CMDLINE_MAX);
	if (ret)
		return ret;
	mi->cmdline = CMDLINE;
	mm[0] = (struct mb_mmap){ 20, 0, LOW_RAM_END, 1 };
	mm[1] = (struct mb_mmap){ 20, LOW_RAM_END, HIGH_RAM - LOW_RAM_END, 2 };
	mm[2] = (struct mb_mmap){ 20, HIGH_RAM, g->mem_size - HIGH_RAM, 1 };
	mi->mmap_addr = MB_INFO + sizeof(*mi);
	mi->mmap_length = 3 * sizeof(*mm);

	if (la->initrd) {
		uint8_t *buf;
		size_t blen;
		uint64_t at = (end + 0xfff) & ~0xfffull;

		ret = read_file("initrd", la->initrd, &buf, &blen);
		if (ret)
			return ret;
		if (!guest_range_ok(g, at, blen)) {
			free(buf);
			return too_small(g, "this image and module", at + blen);
		}
		memcpy(g->ram + at, buf, blen);
		free(buf);
		*mod = (struct mb_module){ (uint32_t)at, (uint32_t)(at + blen), CMDLINE, 0 };
		mi->flags |= 1 << 3;
		mi->mods_count = 1;
		mi->mods_addr = (uint32_t)((uint8_t *)mod - g->ram);
	}

	write_gdt(g);
	bs->mode = ENTRY_PROT32;
	bs->rip = entry;
	bs->eax = MB_BOOT_MAGIC;
	bs->ebx = MB_INFO;
	bs->rsp = 0;		/* the spec leaves ESP undefined: the kernel sets it */
	bs->kind = "multiboot";
	return 0;
}

/* --------------------------------------------------------------- flat -- */

static int load_flat(struct guest *g, const struct load_args *la, const uint8_t *img,
		     size_t len, struct boot_state *bs)
{
	uint64_t at = la->flat_addr, entry = la->entry >= 0 ? (uint64_t)la->entry : at;

	if (at < STACK_TOP && at + len > BOOT_GDT) {
		fprintf(stderr, "hvlab-run: --load-addr 0x%llx: 0x500-0x8000 holds hvlab-run's GDT and stack; load at 0x8000 or above\n",
			(unsigned long long)at);
		return RUN_USAGE;
	}
	if (!guest_range_ok(g, at, len))
		return too_small(g, "this image at --load-addr", at + len);
	memcpy(g->ram + at, img, len);
	write_gdt(g);
	bs->mode = la->flat_mode;
	bs->rsp = STACK_TOP;
	bs->kind = "flat";
	if (bs->mode == ENTRY_REAL) {
		if (entry >= HIGH_RAM) {
			fprintf(stderr, "hvlab-run: --entry 0x%llx is beyond real mode's 1 MiB\n",
				(unsigned long long)entry);
			return RUN_USAGE;
		}
		bs->real_cs = (uint16_t)((entry >> 4) & 0xf000);
		bs->rip = entry & 0xffff;
	} else {
		bs->rip = entry;
	}
	return 0;
}

int load_image(struct guest *g, const struct load_args *la, struct boot_state *bs)
{
	const struct mb_header *mbh;
	uint8_t *img;
	size_t len, hoff;
	int ret;

	ret = read_file("kernel", la->kernel, &img, &len);
	if (ret)
		return ret;
	memset(bs, 0, sizeof(*bs));
	if (la->flat_addr >= 0) {
		ret = load_flat(g, la, img, len, bs);
	} else if (len >= 0x206 && !memcmp(img + 0x202, "HdrS", 4)) {
		ret = load_linux(g, la, img, len, bs);
	} else if ((mbh = find_mb_header(img, len, &hoff))) {
		ret = load_multiboot(g, la, img, len, mbh, hoff, bs);
	} else if (len >= 4 && !memcmp(img, ELFMAG, SELFMAG)) {
		uint32_t entry;
		uint64_t end;

		ret = load_elf32(g, la->kernel, img, len, &entry, &end);
		if (!ret) {
			write_gdt(g);
			bs->mode = ENTRY_PROT32;
			bs->rip = la->entry >= 0 ? (uint64_t)la->entry : entry;
			bs->rsp = STACK_TOP;
			bs->kind = "elf";
		}
	} else {
		fprintf(stderr, "hvlab-run: '%s': not a Linux bzImage (no \"HdrS\" at 0x202), multiboot kernel or ELF; for a raw binary give --load-addr\n",
			la->kernel);
		ret = RUN_IMAGE;
	}
	free(img);
	if (!ret && la->entry >= 0 && bs->mode == ENTRY_PROT32)
		bs->rip = la->entry;
	return ret;
}

/*
 * Linux finds the RSDP by scanning 0xE0000-0xFFFFF as well, but since boot
 * protocol 2.14 a loader may say where it is (boot.rst, acpi_rsdp_addr),
 * which spares the scan.  Older kernels do not look at the field.
 */
void load_set_rsdp(struct guest *g, const struct boot_state *bs, uint64_t rsdp)
{
	struct boot_params *bp = (struct boot_params *)(g->ram + ZERO_PAGE);

	if (strcmp(bs->kind, "linux") || bp->hdr.version < 0x20e)
		return;
	bp->acpi_rsdp_addr = rsdp;
}
