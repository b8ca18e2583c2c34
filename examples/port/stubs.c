/* SPDX-License-Identifier: MIT */
/* Trivial stand-ins for what a real kernel already has, so that the
 * example links: a bump frame allocator that never frees, one CPU, no
 * LAPIC. Replace each with your kernel's own. Also the two libc functions
 * the library needs (the compiler emits calls to them for struct copies
 * and zeroing), and an entry point that makes one process space. */
#include "example.h"

void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
_Noreturn void ex_entry(void);

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

unsigned ex_this_cpu(void) { return 0; }

bool ex_irq_save(void)
{
	uint64_t flags;
	__asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
	return (flags >> 9) & 1;
}

void ex_irq_restore(bool was_on)
{
	if (was_on)
		__asm__ volatile("sti" : : : "memory");
}

void ex_lapic_send_ipi(unsigned cpu, unsigned vector)
{
	(void)cpu;
	(void)vector;
}

static uint64_t next_free = 16ull << 20; /* above the image */

bool ex_frames_alloc_zeroed(uint64_t bytes, uint64_t *pa)
{
	uint64_t at = (next_free + bytes - 1) & ~(bytes - 1);
	if (at + bytes > EX_MEM_BYTES)
		return false;
	memset((uint8_t *)EX_DIRECT_MAP + at, 0, bytes);
	next_free = at + bytes;
	*pa = at;
	return true;
}

void ex_frames_free(uint64_t pa, uint64_t bytes)
{
	(void)pa;
	(void)bytes;
}

_Noreturn void ex_kernel_panic(const char *msg)
{
	(void)msg;
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* Where GNU ld's default linker script puts the start of the image, the
 * end of the code and the end of the bss. */
extern const char __executable_start[], etext[], end[];

static uint64_t page_down(uint64_t a) { return a & ~(MMU_PAGE_SIZE - 1); }
static uint64_t page_up(uint64_t a) { return page_down(a + MMU_PAGE_SIZE - 1); }

static struct mmu_vm_space first_process;

/* What the boot assembly jumps to once it runs in the top 2 GiB. */
_Noreturn void ex_entry(void)
{
	struct ex_image img;
	img.text_va = page_down((uint64_t)__executable_start);
	img.text_len = page_up((uint64_t)etext) - img.text_va;
	img.data_va = img.text_va + img.text_len;
	img.data_len = page_up((uint64_t)end) - img.data_va;
	ex_mmu_boot(&img);
	if (mmu_vm_space_create(&ex_mmu, &first_process) != MMU_OK ||
	    mmu_vm_region_add(&first_process, 0x400000, 1ull << 20, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0) != MMU_OK)
		ex_kernel_panic("no first process");
	ex_switch_to(&first_process);
	ex_page_fault(&first_process, MMU_PF_U | MMU_PF_W, 0x400000); /* as the #PF handler would */
	ex_tlb_shootdown_irq();
	ex_kernel_panic("the example ends here");
}
