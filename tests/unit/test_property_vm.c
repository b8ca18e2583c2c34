/* SPDX-License-Identifier: MIT */
/* Property test of process spaces: random space create / fork / exit,
 * region add / remove / protect / resize, guard regions, region storage
 * moved between arrays of random capacities (NOSPACE at capacity, in
 * fork too; vmprop_regions.c), memory objects (anonymous and over a
 * store, a pager whose pages never change) mapped shared and private,
 * released (BUSY while mapped; vmprop_objects.c), swap in three runs of
 * four (page-out, page-in, stores given and taken; vmprop_swap.c), huge
 * pages turned on and off in some runs (2M demand faults, shared by fork, copied whole or
 * taken over, split by remove, resize and protect), user
 * accesses through the fault handler (demand-zero, COW with take-over,
 * stack growth, refusals), CPUs switching between spaces and the kernel
 * tree (lazy CPUs with PCIDs), kernel-half pages (global or not) read by
 * the kernel and probed by user mode, on machines with and without PCIDs,
 * INVPCID and KPTI (user mode then runs on the shadow, entering and
 * leaving the kernel around every access). Frames are shared across forks
 * and dropped by COW breaks, removes and exits in every order.
 *
 * The oracles: the TLB sanitizer after every access and call (a stale
 * translation used, a frame or table freed while a TLB holds it); the
 * model of vmmodel.c for every outcome (access result and byte, error
 * codes, the fault counters, the regions) and, every few hundred
 * operations, for the translations (which frame each page maps, shared
 * where the model shares it, its size, its W bit, its references, its
 * bytes in memory) and the objects (resident pages, their frames, the
 * mapping count; the store's pages byte for byte); data frames in use
 * equal the model's live frames after every operation (the runs with
 * huge pages have memory enough that a 2M frame is always free).
 *
 *   test_property_vm               fixed seeds (CI), 8 x 30,000 operations
 *   test_property_vm SEED [OPS]    one run; SEED decides the machine too
 *
 * On failure it prints the seed, the operation number, the operation and
 * the command that reruns it. Environment: PROPERTY_TRACE=1 prints every
 * operation; PROPERTY_NO_KERNEL_GLOBAL=1 and PROPERTY_NO_FORK=1 leave out
 * global kernel pages and forks. */
#include <inttypes.h>
#include <string.h>

#include "vmcheck.h"
#include "vmprop.h"

static bool kernel_global = true; /* PROPERTY_NO_KERNEL_GLOBAL=1: no global kernel pages */
static bool forks = true;         /* PROPERTY_NO_FORK=1: no fork (no frame is ever shared) */
static bool trace_ops;            /* PROPERTY_TRACE=1: print every operation */


static void check_sanitizer(void)
{
	if (sim_tlbsan_reports(R.sim))
		FAIL("%s", sim_tlbsan_last(R.sim));
}

static void as_cpu(unsigned cpu) { sim_set_cpu(R.sim, cpu); }


static int pick_live(void)
{
	int n = 0, pick = -1;
	for (int i = 0; i < NSPACES; i++)
		if (R.live[i] && rnd((uint64_t)++n) == 0)
			pick = i;
	return pick;
}

static int pick_free(void)
{
	for (int i = 0; i < NSPACES; i++)
		if (!R.live[i])
			return i;
	return -1;
}

static bool loaded_anywhere(int s)
{
	for (unsigned c = 0; c < R.ncpus; c++)
		if (R.loaded[c] == s)
			return true;
	return false;
}

/* ---- the kernel around user mode ---- */

/* A user access by CPU on the space it runs: with KPTI it leaves for user
 * mode on the shadow's CR3 and comes back on the space's; each #PF goes to
 * the fault handler on that CPU and the access is retried. ST_OK (BYTE
 * read into *GOT) or the error code of the refused fault. */
static uint32_t user_access(unsigned cpu, unsigned kind, mmu_vaddr_t va, uint8_t byte, uint8_t *got)
{
	static const enum sim_access_kind kinds[] = {SIM_READ, SIM_WRITE, SIM_EXEC};
	struct mmu_vm_space *sp = &R.sp[R.loaded[cpu]];
	as_cpu(cpu);
	for (unsigned i = 0; i < 6; i++) {
		if (R.kpti)
			sim_write_cr3(R.sim, cpu, mmu_vm_user_cr3(sp));
		/* Whatever an access touches: nothing any CPU may use now is
		 * stale (user mode here, its user PCID with KPTI). */
		sim_tlbsan_audit(R.sim);
		check_sanitizer();
		struct sim_access a = sim_access(R.sim, cpu, kinds[kind], va, true, false, byte);
		if (R.kpti)
			sim_write_cr3(R.sim, cpu, mmu_vm_kernel_cr3(sp));
		check_sanitizer();
		if (a.outcome == SIM_OK) {
			*got = a.byte;
			return ST_OK;
		}
		if (a.outcome != SIM_PF || a.cr2 != va)
			FAIL("outcome %u cr2 0x%" PRIx64, a.outcome, a.cr2);
		struct mmu_vm_fault f = mmu_vm_fault_decode(a.error_code, a.cr2, MMU_VM_FAULT_ACCESS);
		enum mmu_vm_outcome o = mmu_vm_handle_fault(sp, &f);
		if (o == MMU_VM_NOMEM || o == MMU_VM_DEAD)
			FAIL("fault at 0x%" PRIx64 ": outcome %u", va, (unsigned)o);
		check_sanitizer();
		if (!mmu_vm_resolved(o))
			return a.error_code;
	}
	FAIL("six faults in a row");
}

static void check_counters(int s)
{
	struct mmu_vm_counters c = mmu_vm_counters_take(&R.sp[s]);
	struct mmu_vm_counters *w = &R.ms[s]->want;
	if (c.demand != w->demand || c.cow != w->cow || c.stack != w->stack || c.segv != w->segv ||
	    c.swapin != w->swapin)
		FAIL("counters demand %" PRIu64 " cow %" PRIu64 " stack %" PRIu64 " segv %" PRIu64 " swapin %" PRIu64
		     ", model %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64,
		     c.demand, c.cow, c.stack, c.segv, c.swapin, w->demand, w->cow, w->stack, w->segv, w->swapin);
	*w = (struct mmu_vm_counters){0};
}

static void do_user_access(unsigned cpu)
{
	int s = R.loaded[cpu];
	unsigned kind = chance(50) ? 0 : chance(80) ? 1 : 2;
	uint8_t byte = (uint8_t)(1 + rnd(255)), got = 0;
	bool kernel_va = chance(5);
	unsigned ki = (unsigned)rnd(KPAGES);
	mmu_vaddr_t va = kernel_va ? KVA + ki * VM_PAGE + vm_byte_offset((unsigned)rnd(VM_NBYTES)) : pick_user_va(s);
	snprintf(R.desc, sizeof(R.desc), "user %s cpu %u space %d va 0x%" PRIx64 " byte 0x%02x",
		 kind == 0 ? "read" : kind == 1 ? "write" : "exec", cpu, s, va, byte);
	struct vm_moutcome want;
	if (kernel_va) {
		/* No US in the kernel half; the shadow maps none of it. */
		bool present = R.kmapped[ki] && !R.kpti;
		want = (struct vm_moutcome){.code = (present ? 1u : 0u) | (kind == 1 ? 2u : 0u) | 4u | (kind == 2 ? 0x10u : 0u)};
		R.ms[s]->want.segv++;
	} else {
		want = vmm_access(&R.model, R.ms[s], kind, va, byte);
	}
	uint32_t r = user_access(cpu, kind, va, byte, &got);
	if (want.ok != (r == ST_OK) || (!want.ok && r != want.code))
		FAIL("access gave 0x%x, the model 0x%x", r, want.ok ? ST_OK : want.code);
	if (want.ok && kind != 2 && got != want.byte && kind == 0)
		FAIL("read 0x%02x, the model 0x%02x", got, want.byte);
	check_counters(s);
	R.counts[want.ok ? N_ACCESS_OK : N_ACCESS_REFUSED]++;
}

/* A supervisor read of a kernel page by CPU, on whatever it runs now. */
static void do_kernel_read(unsigned cpu)
{
	unsigned ki = (unsigned)rnd(KPAGES);
	mmu_vaddr_t va = KVA + ki * VM_PAGE;
	snprintf(R.desc, sizeof(R.desc), "kernel read cpu %u va 0x%" PRIx64, cpu, va);
	struct sim_access a = sim_access(R.sim, cpu, SIM_READ, va, false, false, 0);
	check_sanitizer();
	uint32_t want = R.kmapped[ki] ? ST_OK : 0;
	if (st_result(a) != want)
		FAIL("gave 0x%x, expected 0x%x", st_result(a), want);
	if (a.outcome == SIM_OK && a.byte != (uint8_t)(0x80 + ki))
		FAIL("read 0x%02x from kernel page %u", a.byte, ki);
	R.counts[N_KERNEL_READ]++;
}

static void do_kernel_change(void)
{
	unsigned ki = (unsigned)rnd(KPAGES);
	mmu_vaddr_t va = KVA + ki * VM_PAGE;
	struct mmu_map_opts o = {.global = kernel_global && chance(60)};
	as_any_cpu();
	if (!R.kmapped[ki] || chance(30)) {
		snprintf(R.desc, sizeof(R.desc), "kernel map va 0x%" PRIx64 " global %u", va, o.global);
		mmu_err_t got = mmu_map(mmu_kernel_tree(R.mmu), va, R.kframe[ki], VM_PAGE, MMU_PROT_R | MMU_PROT_W, &o, NULL);
		expect_err(got, R.kmapped[ki] ? MMU_E_DUPLICATED : MMU_OK);
		R.kmapped[ki] = true;
	} else {
		snprintf(R.desc, sizeof(R.desc), "kernel unmap va 0x%" PRIx64, va);
		expect_err(mmu_unmap(mmu_kernel_tree(R.mmu), va, VM_PAGE, NULL), MMU_OK);
		R.kmapped[ki] = false;
	}
	R.counts[N_KERNEL_CHANGE]++;
}

static struct mmu_tree *tree_of(int s) { return s == KERNEL_TREE ? mmu_kernel_tree(R.mmu) : &R.sp[s].tree; }

static void load(unsigned cpu, int s)
{
	st_load(R.sim, cpu, tree_of(s));
	R.loaded[cpu] = s;
}

/* One switch, or a few in a row in the kernel (no return to user mode in
 * between: P -> Q -> P), often back to where the CPU started. */
static void do_load(unsigned cpu)
{
	int seq[4] = {R.loaded[cpu]};
	unsigned n = chance(30) ? 2 + (unsigned)rnd(2) : 1;
	for (unsigned i = 1; i <= n; i++) {
		seq[i] = chance(20) ? KERNEL_TREE : pick_live();
		/* back to where the CPU was, or to the burst's first tree */
		int back = seq[i > 1 && chance(50) ? 1 : 0];
		if (i == n && n > 1 && chance(60) && (back == KERNEL_TREE || R.live[back]))
			seq[i] = back;
		snprintf(R.desc, sizeof(R.desc), "load cpu %u space %d (%u of %u)", cpu, seq[i], i, n);
		load(cpu, seq[i]);
		check_sanitizer();
	}
	R.counts[N_LOAD]++;
}

/* ---- spaces ---- */

static void space_begin(int s)
{
	R.live[s] = true;
	if (!R.ms[s])
		R.ms[s] = malloc(sizeof(*R.ms[s]));
	vmm_space_init(R.ms[s]);
}

static void do_create(void)
{
	int s = pick_free();
	if (s < 0)
		return;
	as_any_cpu();
	snprintf(R.desc, sizeof(R.desc), "create space %d", s);
	expect_err(mmu_vm_space_create(R.mmu, &R.sp[s]), MMU_OK);
	if (R.kpti)
		expect_err(mmu_vm_kpti_enable(&R.sp[s], &R.tmpl), MMU_OK);
	space_begin(s);
	if (R.huge && chance(70))
		do_set_huge(s);
	if (R.swap && chance(85))
		swap_give(s, true);
	R.counts[N_CREATE]++;
}

/* Forks (frames shared between spaces) on this machine? */
static bool sharing(void)
{
	return forks;
}

static void do_fork(void)
{
	int p = pick_live(), c = pick_free();
	if (p < 0 || c < 0 || !sharing())
		return;
	struct mmu_vm_region *slots;
	unsigned cap;
	fork_storage(c, &slots, &cap);
	as_any_cpu();
	snprintf(R.desc, sizeof(R.desc), "fork space %d -> %d (%u slots)", p, c, cap);
	space_begin(c);
	mmu_err_t want = vmm_fork(&R.model, R.ms[p], R.ms[c], cap ? cap : MMU_VM_INLINE_REGIONS);
	expect_err(mmu_vm_fork_with_storage(&R.sp[p], &R.sp[c], slots, cap), want);
	R.live[c] = want == MMU_OK;
	R.counts[want == MMU_OK ? N_FORK : N_NOSPACE]++;
}

static void do_exit(void)
{
	int s = pick_live();
	if (s < 0)
		return;
	if (loaded_anywhere(s) && chance(70))
		for (unsigned c = 0; c < R.ncpus; c++)
			if (R.loaded[c] == s)
				load(c, chance(50) ? KERNEL_TREE : pick_live());
	bool busy = loaded_anywhere(s);
	as_any_cpu();
	snprintf(R.desc, sizeof(R.desc), "exit space %d (busy %u)", s, busy);
	expect_err(mmu_vm_space_exit(&R.sp[s]), busy ? MMU_E_BUSY : MMU_OK);
	if (!busy) {
		vmm_exit(&R.model, R.ms[s]);
		R.live[s] = false;
	}
	R.counts[busy ? N_BUSY : N_EXIT]++;
}

/* ---- the translations against the model ---- */

static void check_translations(void)
{
	struct vmc_frames f;
	vmc_frames_begin(&f, &R.model);
	for (int s = 0; s < NSPACES; s++) {
		if (!R.live[s])
			continue;
		snprintf(R.desc, sizeof(R.desc), "check space %d", s);
		const char *err = vmc_check_space(R.sim, &R.sp[s], R.ms[s], &R.model, &f, &R.rng, 16);
		if (err)
			FAIL("%s", err);
	}
	check_objects(&f);
	check_swap();
	snprintf(R.desc, sizeof(R.desc), "check the frames of every space");
	const char *err = vmc_frames_end(&f);
	if (err)
		FAIL("%s", err);
}

static void check_frames(void)
{
	uint64_t in_use = sim_frames_in_use(R.sim) - R.frames0;
	if (in_use != R.model.live)
		FAIL("%" PRIu64 " data frames in use, the model holds %" PRIu64, in_use, R.model.live);
}

/* ---- the run ---- */

static void one_op(void)
{
	unsigned cpu = (unsigned)rnd(R.ncpus);
	unsigned k = (unsigned)rnd(1000);
	int s = pick_live();
	if (s < 0 || k >= 990) {
		do_create();
	} else if (k < 500) {
		if (R.loaded[cpu] == KERNEL_TREE || chance(8))
			do_load(cpu);
		else
			do_user_access(cpu);
	} else if (k < 540) {
		do_load(cpu);
	} else if (k < 590) {
		do_fork();
	} else if (k < 630) {
		do_exit();
	} else if (k < 690) {
		do_region_add(s);
	} else if (k < 720) {
		do_region_add_object(s);
	} else if (k < 780) {
		do_region_remove(s);
	} else if (k < 830) {
		do_region_protect(s);
	} else if (k < 855) {
		do_region_resize(s);
	} else if (k < 865) {
		do_region_storage(s);
	} else if (k < 878) {
		do_region_invalid(s);
	} else if (k < 893) {
		do_object_change();
	} else if (k < 900) {
		if (R.huge)
			do_set_huge(s);
	} else if (k < 930) {
		do_kernel_change();
	} else if (k < 970 && R.swap) {
		do_swap_op(s);
	} else {
		do_kernel_read(cpu);
	}
	if (trace_ops)
		fprintf(stderr, "  op %lu: %s\n", R.op, R.desc);
	check_sanitizer();
	check_frames();
	check_swap_counts();
}

static void setup(uint64_t seed)
{
	memset(&R, 0, sizeof(R));
	R.seed = seed;
	st_rng_seed(&R.rng, seed);
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.levels = chance(50) ? 5 : 4;
	cfg.ncpus = 2 + (unsigned)rnd(3);
	cfg.pcide = chance(60);
	cfg.no_invpcid = cfg.pcide && chance(50);
	R.kpti = chance(50);
	R.huge = chance(50);
	/* With huge pages, room enough that a 2M frame is always free: the
	 * model does not follow the 4K fallback. */
	cfg.mem = (R.huge ? 1024ull : 256ull) << 20;
	R.sim = st_machine(&cfg);
	R.mmu = sim_mmu(R.sim);
	R.ncpus = cfg.ncpus;
	R.pcid = cfg.pcide;
	R.invpcid = cfg.pcide && !cfg.no_invpcid;
	for (unsigned c = 0; c < R.ncpus; c++)
		R.loaded[c] = KERNEL_TREE;
	vmm_init(&R.model);
	if (R.kpti)
		expect_err(mmu_kpti_init(R.mmu, &R.tmpl, NULL, 0), MMU_OK);
	for (unsigned i = 0; i < KPAGES; i++) {
		expect_err(sim_frame_alloc(R.sim, MMU_SIZE_4K, &R.kframe[i]), MMU_OK);
		memset(sim_phys(R.sim, R.kframe[i]), 0x80 + (int)i, VM_PAGE);
	}
	R.frames0 = sim_frames_in_use(R.sim);
	swap_setup();
	printf("seed 0x%" PRIx64 ": levels=%u cpus=%u pcid=%u invpcid=%u kpti=%u huge=%u swap slots=%u\n", seed,
	       cfg.levels, cfg.ncpus, cfg.pcide, cfg.pcide && !cfg.no_invpcid, R.kpti, R.huge, R.model.slot_limit);
}

static void teardown(void)
{
	snprintf(R.desc, sizeof(R.desc), "teardown");
	for (unsigned c = 0; c < R.ncpus; c++)
		load(c, KERNEL_TREE);
	as_cpu(0);
	for (int s = 0; s < NSPACES; s++) {
		if (R.live[s]) {
			expect_err(mmu_vm_space_exit(&R.sp[s]), MMU_OK);
			vmm_exit(&R.model, R.ms[s]);
			R.live[s] = false;
		}
		free(R.ms[s]);
	}
	objects_teardown();
	check_frames();
	check_swap_counts();
	if (R.model.slots_used != 0)
		FAIL("%u swap slots in use after every space went", R.model.slots_used);
	if (R.model.live != 0)
		FAIL("the model holds %" PRIu64 " frames after every space and object went", R.model.live);
	if (mmu_user_tables(R.mmu) != 0)
		FAIL("%" PRId64 " user tables left", mmu_user_tables(R.mmu));
	for (unsigned i = 0; i < KPAGES; i++) {
		if (R.kmapped[i])
			expect_err(mmu_unmap(mmu_kernel_tree(R.mmu), KVA + i * VM_PAGE, VM_PAGE, NULL), MMU_OK);
		sim_frame_free(R.sim, MMU_SIZE_4K, R.kframe[i]);
	}
	if (R.kpti)
		mmu_kpti_fini(&R.tmpl);
	check_sanitizer();
	vmm_fini(&R.model);
	sim_destroy(R.sim);
}

static void run(uint64_t seed, unsigned long ops)
{
	setup(seed);
	for (R.op = 0; R.op < ops; R.op++) {
		one_op();
		if (R.op % 500 == 499)
			check_translations();
	}
	check_translations();
	unsigned long *n = R.counts;
	printf("  %lu ops: access ok %lu refused %lu, kernel read %lu change %lu, load %lu, create %lu fork %lu "
	       "exit %lu busy %lu, region add %lu remove %lu protect %lu resize %lu storage %lu NOSPACE %lu "
	       "refused %lu, object %lu region %lu release %lu busy %lu, huge on/off %lu\n",
	       ops, n[N_ACCESS_OK], n[N_ACCESS_REFUSED], n[N_KERNEL_READ], n[N_KERNEL_CHANGE], n[N_LOAD], n[N_CREATE],
	       n[N_FORK], n[N_EXIT], n[N_BUSY], n[N_ADD], n[N_REMOVE], n[N_PROTECT], n[N_RESIZE], n[N_STORAGE],
	       n[N_NOSPACE], n[N_REFUSED], n[N_OBJECT], n[N_OBJECT_ADD], n[N_RELEASE], n[N_RELEASE_BUSY], n[N_HUGE]);
	const struct vm_mstats *st = &R.model.stats;
	printf("  model: 2M demand %lu copy %lu take-over %lu split %lu, object pages filled %lu store refused %lu, "
	       "shared write %lu private copy %lu, object page-out %lu (leaves %lu; swap out %lu in %lu)\n",
	       st->huge_demand, st->huge_copy, st->huge_take, st->splits, st->filled, st->store_refused,
	       st->shared_write, st->private_copy, st->object_page_out, st->object_leaves_out, st->object_swap_out,
	       st->object_swap_in);
	if (R.swap)
		printf("  swap: page-out %lu (refused %lu: busy %lu store full %lu), page-in %lu, store on/off %lu\n",
		       n[N_PAGE_OUT], n[N_PAGE_OUT_REFUSED], st->pageout_busy, st->pageout_full, st->page_in,
		       n[N_SWAP_STORE]);
	/* A run that never reached the interesting states proves little. */
	bool forked = sharing();
	if (n[N_ACCESS_OK] < ops / 10 || n[N_ACCESS_REFUSED] < ops / 50 || (forked && n[N_FORK] < ops / 100) ||
	    n[N_EXIT] < ops / 200 || n[N_REMOVE] < ops / 50 || n[N_RESIZE] < ops / 200 || n[N_STORAGE] < ops / 400 ||
	    n[N_OBJECT_ADD] < ops / 200 || n[N_RELEASE] < ops / 2000 || st->object_page_out < ops / 4000 || (R.huge && n[N_HUGE] < ops / 1000) ||
	    (R.swap && (n[N_PAGE_OUT] < ops / 400 || st->page_in < ops / 800)))
		FAIL("the run exercised too little");
	teardown();
}

int test_main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* the seed line before any failure */
	if (getenv("PROPERTY_NO_KERNEL_GLOBAL"))
		kernel_global = false;
	if (getenv("PROPERTY_TRACE"))
		trace_ops = true;
	if (getenv("PROPERTY_NO_FORK"))
		forks = false;
	if (argc > 1) {
		run(strtoull(argv[1], NULL, 0), argc > 2 ? strtoul(argv[2], NULL, 0) : 20000);
		return 0;
	}
	/* Every machine kind: PCIDs off / on without and with INVPCID, KPTI
	 * off and on, 4 and 5 levels, 2-4 CPUs. */
	static const uint64_t seeds[] = {0x4, 0x7, 0xb, 0xd, 0x12, 0x3, 0x2, 0x15};
	for (unsigned i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		run(seeds[i], 30000);
	return 0;
}
