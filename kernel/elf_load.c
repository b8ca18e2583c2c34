/* SPDX-License-Identifier: MIT */
/* Loading a static ELF64 user program into a process space: each PT_LOAD
 * becomes an anonymous region with the segment's permissions; the pages
 * holding file bytes are faulted in through the space's own fault handler
 * (a user read: demand-zero with the region's permissions, so text ends
 * up r-x, never writable) and filled through the direct map, as a kernel
 * fills a page-cache page. The rest (bss) stays demand-zero. */
#include "kernel/bootinfo.h"
#include "kernel/klib.h"
#include "kernel/proc.h"

#define PAGE 4096ull
#define PT_LOAD 1
#define PF_X 1u
#define PF_W 2u

struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

static mmu_err_t fill_page(struct mmu_vm_space *sp, uint64_t page, const uint8_t *src, uint64_t off, uint64_t n)
{
	struct mmu_vm_fault f = mmu_vm_fault_decode(MMU_PF_U, page, MMU_VM_FAULT_ACCESS);
	enum mmu_vm_outcome out = mmu_vm_handle_fault(sp, &f);
	if (out == MMU_VM_NOMEM)
		return MMU_E_NOMEM;
	if (!mmu_vm_resolved(out))
		return MMU_E_INVALID;
	struct mmu_translation t;
	mmu_err_t err = mmu_walk(&sp->tree, page, &t);
	if (err == MMU_OK)
		memcpy((uint8_t *)phys_to_virt(mmu_pa_bits(t.pa)) + off, src, n);
	return err;
}

mmu_err_t elf_load(struct mmu_vm_space *sp, const void *image, size_t len, uint64_t *entry)
{
	const struct elf64_ehdr *eh = image;
	const uint8_t *bytes = image;
	if (len < sizeof *eh || memcmp(eh->ident, "\177ELF", 4) != 0 || eh->ident[4] != 2 ||
	    eh->phentsize != sizeof(struct elf64_phdr) || eh->phoff + (uint64_t)eh->phnum * sizeof(struct elf64_phdr) > len)
		return MMU_E_INVALID;
	const struct elf64_phdr *ph = (const void *)(bytes + eh->phoff);
	for (unsigned i = 0; i < eh->phnum; i++) {
		const struct elf64_phdr *s = &ph[i];
		if (s->type != PT_LOAD || s->memsz == 0)
			continue;
		if (s->filesz > s->memsz || s->offset + s->filesz > len)
			return MMU_E_INVALID;
		uint64_t start = s->vaddr & ~(PAGE - 1), end = (s->vaddr + s->memsz + PAGE - 1) & ~(PAGE - 1);
		unsigned prot = MMU_PROT_R | (s->flags & PF_W ? MMU_PROT_W : 0) | (s->flags & PF_X ? MMU_PROT_X : 0);
		mmu_err_t err = mmu_vm_region_add(sp, start, end - start, prot, MMU_VM_ANON, 0);
		for (uint64_t va = s->vaddr; err == MMU_OK && va < s->vaddr + s->filesz;) {
			uint64_t page = va & ~(PAGE - 1), n = page + PAGE - va;
			if (n > s->vaddr + s->filesz - va)
				n = s->vaddr + s->filesz - va;
			err = fill_page(sp, page, bytes + s->offset + (va - s->vaddr), va - page, n);
			va += n;
		}
		if (err != MMU_OK)
			return err;
	}
	*entry = eh->entry;
	return MMU_OK;
}
