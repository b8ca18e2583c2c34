/* SPDX-License-Identifier: MIT */
/* Vector executor on the software machine: each file gets a fresh sim
 * built from its machine line. */
#include "tools/exec_sim.h"

#include "sim/tlbview.h"

static const char *sim_setup(void *ctx, const struct vec_machine *m, struct mmu **mmu)
{
	struct exec_sim *x = ctx;
	struct sim_config cfg;
	sim_config_default(&cfg);
	for (unsigned cpu = 0; cpu < MMU_MAX_CPUS; cpu++)
		x->user_cr3[cpu] = 0;
	cfg.levels = m->levels;
	cfg.ncpus = m->cpus;
	cfg.mem = m->mem;
	cfg.nx = m->nx;
	cfg.smep = m->smep;
	cfg.smap = m->smap;
	cfg.wp = m->wp;
	cfg.pke = m->pke;
	cfg.pcide = m->pcid;
	cfg.no_invpcid = !m->invpcid;
	x->sim = sim_create(&cfg);
	if (!x->sim)
		return "the software machine could not be created";
	sim_set_cpu(x->sim, 0);
	*mmu = sim_mmu(x->sim);
	return NULL;
}

static mmu_err_t sim_ex_frame_alloc(void *ctx, enum mmu_size size, mmu_pa_t *out)
{
	struct exec_sim *x = ctx;
	return sim_frame_alloc(x->sim, size, out);
}

static void sim_ex_frame_free(void *ctx, enum mmu_size size, mmu_pa_t pa)
{
	struct exec_sim *x = ctx;
	sim_frame_free(x->sim, size, pa);
}

static uint64_t sim_ex_frames_in_use(void *ctx)
{
	struct exec_sim *x = ctx;
	return sim_frames_in_use(x->sim);
}

static uint8_t sim_ex_peek(void *ctx, mmu_pa_t pa)
{
	struct exec_sim *x = ctx;
	return *sim_phys(x->sim, pa);
}

static void sim_ex_poke(void *ctx, mmu_pa_t pa, uint8_t byte)
{
	struct exec_sim *x = ctx;
	*sim_phys(x->sim, pa) = byte;
}

/* The machine's answer as the interpreter reads it (the byte of a read). */
static struct vec_access vec_access_of(const struct sim_access *a)
{
	struct vec_access out = {.byte = a->byte, .error_code = a->error_code};
	switch (a->outcome) {
	case SIM_OK: out.outcome = VEC_ACCESS_OK; break;
	case SIM_PF: out.outcome = VEC_ACCESS_PF; break;
	case SIM_GP: out.outcome = VEC_ACCESS_GP; break;
	}
	return out;
}

static struct vec_access sim_ex_access(void *ctx, unsigned cpu, enum vec_access_kind kind, mmu_vaddr_t va,
				       bool user, uint8_t byte)
{
	static const enum sim_access_kind kinds[] = {
		[VEC_READ] = SIM_READ, [VEC_WRITE] = SIM_WRITE, [VEC_EXEC] = SIM_EXEC,
	};
	struct exec_sim *x = ctx;
	/* KPTI: user mode runs on the shadow; the kernel's entry and exit
	 * switch CR3 around it. Without PCIDs each switch flushes; with them
	 * the exit's CR3 is the library's (mmu_vm_user_cr3, no-flush bit
	 * included) and the entry keeps the kernel PCID's entries, as
	 * mmu_vm_kernel_cr3 does. */
	uint64_t kernel_cr3 = sim_cpu_regs(x->sim, cpu).cr3;
	if (sim_config(x->sim)->pcide)
		kernel_cr3 |= MMU_CR3_NOFLUSH;
	bool shadow = user && x->user_cr3[cpu] != 0;
	if (shadow)
		sim_write_cr3(x->sim, cpu, x->user_cr3[cpu]);
	struct sim_access a = sim_access(x->sim, cpu, kinds[kind], va, user, /*ac=*/false, byte);
	if (shadow)
		sim_write_cr3(x->sim, cpu, kernel_cr3);
	return vec_access_of(&a);
}

static struct vec_access sim_ex_user_copy_write(void *ctx, unsigned cpu, mmu_vaddr_t va, uint8_t byte)
{
	struct exec_sim *x = ctx;
	struct sim_access a = sim_access(x->sim, cpu, SIM_WRITE, va, /*user=*/false, /*ac=*/true, byte);
	return vec_access_of(&a);
}

static struct vec_access sim_ex_user_copy_read(void *ctx, unsigned cpu, mmu_vaddr_t va)
{
	struct exec_sim *x = ctx;
	struct sim_access a = sim_access(x->sim, cpu, SIM_READ, va, /*user=*/false, /*ac=*/true, 0);
	return vec_access_of(&a);
}

/* The software machine's entry is not code in memory: the shadows' kernel
 * half maps nothing. */
static const struct mmu_kpti_range *sim_ex_kpti_ranges(void *ctx, unsigned *n)
{
	(void)ctx;
	*n = 0;
	return NULL;
}

static void sim_ex_set_user_cr3(void *ctx, unsigned cpu, uint64_t cr3)
{
	struct exec_sim *x = ctx;
	x->user_cr3[cpu] = cr3;
}

static void sim_ex_run_on_cpu(void *ctx, unsigned cpu, vec_cpu_fn fn, void *arg)
{
	struct exec_sim *x = ctx;
	sim_set_cpu(x->sim, cpu);
	fn(arg);
	sim_set_cpu(x->sim, 0);
}

static void sim_ex_set_pkru(void *ctx, unsigned cpu, uint32_t pkru)
{
	struct exec_sim *x = ctx;
	sim_set_pkru(x->sim, cpu, pkru);
}

static unsigned sim_ex_sanitizer_reports(void *ctx, const char **last)
{
	struct exec_sim *x = ctx;
	*last = sim_tlbsan_last(x->sim);
	return sim_tlbsan_reports(x->sim);
}

struct tlb_relay {
	vec_tlb_fn fn;
	void *arg;
};

static void relay_tlb_entry(void *ctx, const struct sim_tlb_view *v)
{
	struct tlb_relay *t = ctx;
	struct vec_tlb_entry e = {
		.va = v->va, .pa = mmu_pa(v->pa), .size = v->size, .pcid = v->pcid, .pkey = v->pkey,
		.w = v->w, .u = v->u, .xd = v->xd, .global = v->global, .dirty = v->dirty,
	};
	t->fn(t->arg, &e);
}

static void sim_ex_tlb_entries(void *ctx, unsigned cpu, vec_tlb_fn fn, void *arg)
{
	struct exec_sim *x = ctx;
	struct tlb_relay t = {fn, arg};
	sim_tlb_list(x->sim, cpu, relay_tlb_entry, &t);
}

static void sim_ex_teardown(void *ctx)
{
	struct exec_sim *x = ctx;
	sim_destroy(x->sim);
	x->sim = NULL;
}

const struct vec_exec_ops exec_sim_ops = {
	.setup = sim_setup,
	.frame_alloc = sim_ex_frame_alloc,
	.frame_free = sim_ex_frame_free,
	.frames_in_use = sim_ex_frames_in_use,
	.peek = sim_ex_peek,
	.poke = sim_ex_poke,
	.access = sim_ex_access,
	.user_copy_write = sim_ex_user_copy_write,
	.user_copy_read = sim_ex_user_copy_read,
	.kpti_ranges = sim_ex_kpti_ranges,
	.set_user_cr3 = sim_ex_set_user_cr3,
	.run_on_cpu = sim_ex_run_on_cpu,
	.set_pkru = sim_ex_set_pkru,
	.sanitizer_reports = sim_ex_sanitizer_reports,
	.tlb_entries = sim_ex_tlb_entries,
	.teardown = sim_ex_teardown,
};
