/* SPDX-License-Identifier: MIT */
/* Where a kernel calls mmu64: boot, CPU bring-up, the shootdown IPI, the
 * page-fault handler and the context switch, in the order they happen. */
#include "example.h"

struct mmu ex_mmu;
struct mmu_frame_meta ex_frame_meta_array[EX_FRAMES];

static void map_or_panic(mmu_vaddr_t va, uint64_t pa, uint64_t len, unsigned prot)
{
	/* Global (CR4.PGE is set): kernel leaves survive CR3 switches. */
	const struct mmu_map_opts opts = {.size = MMU_SIZE_ANY, .global = true};
	if (mmu_map(mmu_kernel_tree(&ex_mmu), va, mmu_pa(pa), len, prot, &opts, NULL) != MMU_OK)
		ex_kernel_panic("mmu64: cannot map the kernel half");
}

static void log_line(void *ctx, const char *line)
{
	(void)ctx;
	(void)line; /* a real kernel prints it */
}

/* On the boot CPU, still on the boot loader's page tables, with the
 * metadata array (zeroed, above) and the frame allocator ready and
 * cpu_id answering. mmu_init builds an empty kernel half: the image and
 * the direct map go in before the kernel tree is loaded, or the first
 * instruction after the CR3 write faults. */
void ex_mmu_boot(const struct ex_image *img)
{
	const struct mmu_config cfg = {
		.levels = 4,
		.ncpus = EX_NCPUS,
		.nx = true,    /* EFER.NXE is set */
		.pcid = false, /* CR4.PCIDE is clear */
	};
	if (mmu_init(&ex_mmu, &ex_port, &cfg) != MMU_OK)
		ex_kernel_panic("mmu64: mmu_init failed");
	map_or_panic(img->text_va, img->text_va - EX_KERNEL_BASE, img->text_len, MMU_PROT_R | MMU_PROT_X);
	map_or_panic(img->data_va, img->data_va - EX_KERNEL_BASE, img->data_len, MMU_PROT_R | MMU_PROT_W);
	map_or_panic(EX_DIRECT_MAP, 0, EX_MEM_BYTES, MMU_PROT_R | MMU_PROT_W);
	if (mmu_audit_wx(mmu_kernel_tree(&ex_mmu), EX_KERNEL_BASE, 0, log_line, NULL) != 0)
		ex_kernel_panic("mmu64: a writable and executable kernel mapping");
	mmu_tree_load(mmu_kernel_tree(&ex_mmu));
}

/* On every other CPU as it comes up, before it touches user memory. */
void ex_mmu_cpu_online(void) { mmu_tree_load(mmu_kernel_tree(&ex_mmu)); }

/* The handler of EX_VEC_TLB_SHOOTDOWN (the vector send_ipi raises). */
void ex_tlb_shootdown_irq(void) { mmu_tlb_ipi_handler(&ex_mmu); }

/* #PF from user mode in process space SP: true when the access should be
 * retried, false when the process is to be killed. */
bool ex_page_fault(struct mmu_vm_space *sp, uint32_t error_code, uint64_t cr2)
{
	struct mmu_vm_fault f = mmu_vm_fault_decode(error_code, cr2, MMU_VM_FAULT_ACCESS);
	enum mmu_vm_outcome outcome = mmu_vm_handle_fault(sp, &f);
	/* false: SEGV kills; NOMEM: an out-of-memory policy decides (reclaim
	 * and retry, or kill); KERNEL_BUG, CORRUPT, DEAD: panic. */
	return mmu_vm_resolved(outcome);
}

/* The context switch: one call, which keeps the CPU masks the shootdowns
 * use right (the previous tree is left, the next one joined). */
void ex_switch_to(struct mmu_vm_space *next) { mmu_tree_load(&next->tree); }
