/* SPDX-License-Identifier: MIT */
/* What the loader told us (PVH hvm_start_info), copied out of low memory
 * before anything reuses it. */
#ifndef KERNEL_BOOTINFO_H
#define KERNEL_BOOTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BOOT_MAX_REGIONS 64
#define BOOT_CMDLINE_MAX 1024
#define E820_RAM 1

struct boot_region {
	uint64_t addr, size;
	uint32_t type;
};

struct boot_info {
	unsigned levels; /* 4, or 5 when the 32-bit code turned LA57 on */
	unsigned nregions;
	struct boot_region region[BOOT_MAX_REGIONS];
	char cmdline[BOOT_CMDLINE_MAX];
	uint64_t initrd_pa, initrd_size; /* 0 when no module */
};

extern struct boot_info boot_info;

/* Copy the start info at physical START_INFO (sorted memory map). */
void bootinfo_parse(uint32_t start_info, bool la57);

/* The value of `KEY=...` on the command line (up to the next blank, or to
 * the end of the line for the last key `file=`), or NULL. */
const char *cmdline_value(const char *key, size_t *len);
bool cmdline_has(const char *word);

/* Physical memory through the bootstrap (and later the library's) direct map. */
void *phys_to_virt(uint64_t pa);

#endif
