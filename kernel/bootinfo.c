/* SPDX-License-Identifier: MIT */
/* The PVH start info (xen/arch-x86/hvm/start_info.h) and the command line. */
#include "kernel/bootinfo.h"

#include "kernel/klib.h"
#include "kernel/layout.h"

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

struct boot_info boot_info;

void *phys_to_virt(uint64_t pa) { return (void *)(DIRECT_MAP + pa); }

void bootinfo_parse(uint32_t start_info, bool la57)
{
	const struct hvm_start_info *si = phys_to_virt(start_info);
	struct boot_info *b = &boot_info;
	if (si->magic != HVM_START_MAGIC)
		kpanic("not booted through PVH (start info magic %x)", si->magic);
	b->levels = la57 ? 5 : 4;
	if (si->cmdline_paddr) {
		const char *s = phys_to_virt(si->cmdline_paddr);
		size_t n = 0;
		while (s[n] && n < BOOT_CMDLINE_MAX - 1)
			b->cmdline[n] = s[n], n++;
		b->cmdline[n] = 0;
	}
	if (si->nr_modules > 0) {
		const struct hvm_modlist_entry *m = phys_to_virt(si->modlist_paddr);
		b->initrd_pa = m->paddr;
		b->initrd_size = m->size;
	}
	if (si->version < 1 || si->memmap_entries == 0)
		kpanic("no memory map in the start info");
	const struct hvm_memmap_entry *e = phys_to_virt(si->memmap_paddr);
	for (uint32_t i = 0; i < si->memmap_entries && b->nregions < BOOT_MAX_REGIONS; i++) {
		if (e[i].size == 0)
			continue; /* qboot ends its map with a zero entry */
		/* Insertion sort by address: qboot's map is unsorted. */
		unsigned j = b->nregions++;
		while (j > 0 && b->region[j - 1].addr > e[i].addr) {
			b->region[j] = b->region[j - 1];
			j--;
		}
		b->region[j] = (struct boot_region){e[i].addr, e[i].size, e[i].type};
	}
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* True when S starts with the C string P (S may be shorter). */
static bool starts_with(const char *s, const char *p)
{
	while (*p)
		if (*s++ != *p++)
			return false;
	return true;
}

const char *cmdline_value(const char *key, size_t *len)
{
	const char *s = boot_info.cmdline;
	size_t klen = strlen(key);
	for (size_t i = 0; s[i]; i++) {
		if (i > 0 && !is_blank(s[i - 1]))
			continue;
		if (!starts_with(s + i, key) || s[i + klen] != '=')
			continue;
		const char *v = s + i + klen + 1;
		size_t n = 0;
		bool to_end = starts_with(key, "file") && key[4] == 0; /* a path may hold blanks */
		while (v[n] && (to_end || !is_blank(v[n])))
			n++;
		*len = n;
		return v;
	}
	return NULL;
}

bool cmdline_has(const char *word)
{
	const char *s = boot_info.cmdline;
	size_t n = strlen(word);
	for (size_t i = 0; s[i]; i++)
		if ((i == 0 || is_blank(s[i - 1])) && starts_with(s + i, word) &&
		    (s[i + n] == 0 || is_blank(s[i + n])))
			return true;
	return false;
}
