/* SPDX-License-Identifier: MIT */
#include "fake_port.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fake_write_cr3(void *ctx, uint64_t cr3)
{
	(void)cr3;
	((struct fake_port *)ctx)->cr3_writes++;
}
static void fake_invlpg(void *ctx, mmu_vaddr_t va)
{
	(void)va;
	((struct fake_port *)ctx)->invlpgs++;
}
static void fake_flush(void *ctx, enum mmu_flush_scope scope)
{
	(void)scope;
	((struct fake_port *)ctx)->flushes++;
}
static unsigned fake_cpu_id(void *ctx) { return ((struct fake_port *)ctx)->cpu; }
static void fake_send_ipi(void *ctx, unsigned cpu)
{
	(void)ctx, (void)cpu;
	fprintf(stderr, "fake port: IPIs are not supported\n");
	abort();
}
static void fake_relax(void *ctx) { (void)ctx; }

static mmu_err_t fake_alloc(void *ctx, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t *out)
{
	struct fake_port *fp = ctx;
	if (use != MMU_FRAME_TABLE || size != MMU_SIZE_4K)
		return MMU_E_INVALID;
	if (fp->fail_after == 0)
		return MMU_E_NOMEM;
	if (fp->fail_after > 0)
		fp->fail_after--;
	uint64_t frame;
	bool zeroed = fp->nzeroed != 0;
	if (zeroed)
		frame = fp->zeroed_list[--fp->nzeroed];
	else if (fp->nfree)
		frame = fp->free_list[--fp->nfree];
	else if (fp->next < fp->frames)
		frame = fp->next++;
	else
		return MMU_E_NOMEM;
	if (zeroed)
		fp->zeroed_reused++; /* as it came back: not cleared */
	else
		memset(fp->arena + frame * MMU_PAGE_SIZE, 0, MMU_PAGE_SIZE);
	fp->allocs++;
	fp->in_use++;
	*out = mmu_pa(frame * MMU_PAGE_SIZE);
	return MMU_OK;
}

static void fake_free(void *ctx, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t pa)
{
	struct fake_port *fp = ctx;
	(void)use, (void)size;
	/* Poison so a use after free reads garbage entries. */
	memset(fp->arena + pa.bits, 0xa5, MMU_PAGE_SIZE);
	fp->free_list[fp->nfree++] = pa.bits / MMU_PAGE_SIZE;
	fp->in_use--;
}

static void fake_free_zeroed(void *ctx, mmu_pa_t pa)
{
	struct fake_port *fp = ctx;
	const unsigned char *page = fp->arena + pa.bits;
	for (unsigned i = 0; i < MMU_PAGE_SIZE; i++)
		fp->zeroed_bad += page[i] != 0;
	fp->zeroed_list[fp->nzeroed++] = pa.bits / MMU_PAGE_SIZE;
	fp->zeroed_frees++;
	fp->in_use--;
}

static void *fake_p2v(void *ctx, mmu_pa_t pa) { return ((struct fake_port *)ctx)->arena + pa.bits; }
static struct mmu_frame_meta *fake_meta(void *ctx, mmu_pa_t pa)
{
	return &((struct fake_port *)ctx)->meta[pa.bits / MMU_PAGE_SIZE];
}
static void fake_panic(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "mmu64 panic: %s\n", msg);
	abort();
}

static const struct mmu_port_ops fake_ops = {
	.write_cr3 = fake_write_cr3, .invlpg = fake_invlpg, .flush_tlb = fake_flush,
	.cpu_id = fake_cpu_id, .send_ipi = fake_send_ipi, .cpu_relax = fake_relax,
	.frame_alloc = fake_alloc, .frame_free = fake_free, .phys_to_virt = fake_p2v,
	.frame_meta = fake_meta, .panic = fake_panic,
};

static const struct mmu_port_ops fake_ops_zeroed = {
	.write_cr3 = fake_write_cr3, .invlpg = fake_invlpg, .flush_tlb = fake_flush,
	.cpu_id = fake_cpu_id, .send_ipi = fake_send_ipi, .cpu_relax = fake_relax,
	.frame_alloc = fake_alloc, .frame_free = fake_free, .phys_to_virt = fake_p2v,
	.frame_meta = fake_meta, .panic = fake_panic, .table_free_zeroed = fake_free_zeroed,
};

void fake_port_take_zeroed(struct fake_port *fp) { fp->port.ops = &fake_ops_zeroed; }

struct fake_port *fake_port_create(uint64_t frames)
{
	struct fake_port *fp = calloc(1, sizeof(*fp));
	fp->frames = frames;
	fp->arena = aligned_alloc(MMU_PAGE_SIZE, frames * MMU_PAGE_SIZE);
	fp->meta = calloc(frames, sizeof(*fp->meta));
	fp->free_list = calloc(frames, sizeof(*fp->free_list));
	fp->zeroed_list = calloc(frames, sizeof(*fp->zeroed_list));
	fp->next = 1; /* frame 0 is never handed out */
	fp->fail_after = -1;
	fp->port = (struct mmu_port){.ops = &fake_ops, .ctx = fp};
	return fp;
}

void fake_port_destroy(struct fake_port *fp)
{
	free(fp->arena);
	free(fp->meta);
	free(fp->free_list);
	free(fp->zeroed_list);
	free(fp);
}

void fake_mmu_init(struct mmu *mmu, struct fake_port *fp, unsigned levels, unsigned ncpus)
{
	struct mmu_config cfg = {.levels = levels, .ncpus = ncpus, .nx = true, .page_1g = true};
	if (mmu_init(mmu, &fp->port, &cfg) != MMU_OK) {
		fprintf(stderr, "fake_mmu_init: mmu_init failed\n");
		abort();
	}
	mmu_tree_load(mmu_kernel_tree(mmu));
}
