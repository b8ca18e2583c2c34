/* SPDX-License-Identifier: MIT */
/* Physical memory: frame alignment, exhaustion, merging, zeroing, the
 * table pool and its pages given back zeroed, metadata, failure injection, and the hash map under the TLB. */
#include <stdlib.h>

#include "test_sim_helpers.h"

static struct sim *machine_with(uint64_t mem)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.mem = mem;
	return th_machine(&cfg);
}

static void test_alignment(void)
{
	struct sim *sim = machine_with(2ull << 30);
	static const enum mmu_size sizes[] = {MMU_SIZE_4K, MMU_SIZE_2M, MMU_SIZE_4K, MMU_SIZE_1G, MMU_SIZE_2M};
	mmu_pa_t got[5];
	for (unsigned i = 0; i < 5; i++) {
		CHECK_OK(sim_frame_alloc(sim, sizes[i], &got[i]));
		CHECK(mmu_is_aligned(mmu_pa_bits(got[i]), mmu_size_bytes(sizes[i])));
		CHECK(mmu_pa_bits(got[i]) >= SIM_DATA_BASE);
		CHECK(mmu_pa_bits(got[i]) + mmu_size_bytes(sizes[i]) <= SIM_DATA_BASE + (2ull << 30));
	}
	CHECK_EQ(sim_frames_in_use(sim), 5);
	/* The 4K frames came from one gigabyte, the 1G frame is the other one. */
	mmu_pa_t none;
	CHECK_ERR(sim_frame_alloc(sim, MMU_SIZE_1G, &none), MMU_E_NOMEM);
	for (unsigned i = 0; i < 5; i++)
		sim_frame_free(sim, sizes[i], got[i]);
	CHECK_EQ(sim_frames_in_use(sim), 0);
	/* Everything merged back: both gigabytes are whole again. */
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_1G, &got[0]));
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_1G, &got[1]));
	CHECK(mmu_pa_bits(got[0]) != mmu_pa_bits(got[1]));
	CHECK_ERR(sim_frame_alloc(sim, MMU_SIZE_4K, &none), MMU_E_NOMEM);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy_bare(sim);
}

/* mem need not be a power of two: 3M + 8K holds one 2M frame and 3M/4K
 * more in smaller blocks. */
static void test_exhaustion(void)
{
	struct sim *sim = machine_with((3ull << 20) + 8192);
	mmu_pa_t pa, none;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_2M, &pa));
	CHECK_ERR(sim_frame_alloc(sim, MMU_SIZE_2M, &none), MMU_E_NOMEM);
	unsigned n = 0;
	while (sim_frame_alloc(sim, MMU_SIZE_4K, &none) == MMU_OK)
		n++;
	CHECK_EQ(n, 256 + 2);
	CHECK_EQ(sim_frames_in_use(sim), 1 + n);
	sim_frame_free(sim, MMU_SIZE_2M, pa);
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_2M, &pa));
	sim_destroy_bare(sim);
}

/* Random 4K churn, then everything freed: a 1G frame fits again. */
static void test_merge_after_churn(void)
{
	struct sim *sim = machine_with(1ull << 30);
	enum { N = 3000 };
	static mmu_pa_t frames[N];
	static enum mmu_size sizes[N];
	srand(7);
	for (unsigned i = 0; i < N; i++) {
		sizes[i] = (rand() % 8) ? MMU_SIZE_4K : MMU_SIZE_2M;
		CHECK_OK(sim_frame_alloc(sim, sizes[i], &frames[i]));
	}
	CHECK_STOP_ON_FAILURE();
	mmu_pa_t none;
	CHECK_ERR(sim_frame_alloc(sim, MMU_SIZE_1G, &none), MMU_E_NOMEM);
	/* Free in a shuffled order. */
	for (unsigned i = N - 1; i > 0; i--) {
		unsigned j = (unsigned)rand() % (i + 1);
		mmu_pa_t t = frames[i];
		enum mmu_size s = sizes[i];
		frames[i] = frames[j];
		sizes[i] = sizes[j];
		frames[j] = t;
		sizes[j] = s;
	}
	for (unsigned i = 0; i < N; i++)
		sim_frame_free(sim, sizes[i], frames[i]);
	CHECK_EQ(sim_frames_in_use(sim), 0);
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_1G, &none));
	CHECK_EQ(mmu_pa_bits(none), SIM_DATA_BASE);
	sim_destroy_bare(sim);
}

static void test_zeroed_and_meta(void)
{
	struct sim *sim = machine_with(64ull << 20);
	mmu_pa_t pa, again;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_2M, &pa));
	memset(sim_phys(sim, pa), 0x5a, 2u << 20);
	sim_frame_meta(sim, mmu_pa_add(pa, 0x3000))->refcount = 7;
	sim_frame_free(sim, MMU_SIZE_2M, pa);
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_2M, &again));
	CHECK_EQ(mmu_pa_bits(again), mmu_pa_bits(pa));
	uint8_t *p = sim_phys(sim, again);
	unsigned nonzero = 0;
	for (unsigned i = 0; i < (2u << 20); i++)
		nonzero += p[i] != 0;
	CHECK_EQ(nonzero, 0);
	CHECK_EQ(sim_frame_meta(sim, mmu_pa_add(again, 0x3000))->refcount, 0);
	CHECK(sim_phys(sim, mmu_pa(SIM_DATA_BASE + (64ull << 20))) == NULL);
	CHECK(sim_frame_meta(sim, mmu_pa(SIM_DATA_BASE + (64ull << 20))) == NULL);
	sim_destroy_bare(sim);
}

static void test_table_pool(void)
{
	struct sim *sim = machine_with(16ull << 20);
	mmu_pa_t a, b, c;
	CHECK_OK(sim_alloc_frame(sim, MMU_FRAME_TABLE, MMU_SIZE_4K, &a));
	CHECK_OK(sim_alloc_frame(sim, MMU_FRAME_TABLE, MMU_SIZE_4K, &b));
	CHECK(mmu_pa_bits(a) != 0 && mmu_pa_bits(b) != 0); /* frame 0 never */
	CHECK(mmu_pa_bits(a) < SIM_TABLE_POOL_BYTES && mmu_pa_bits(b) < SIM_TABLE_POOL_BYTES);
	CHECK_EQ(sim_tables_in_use(sim), 2);
	CHECK_EQ(sim_frames_in_use(sim), 0); /* tables are not data */
	memset(sim_phys(sim, a), 0xff, 4096);
	sim_frame_meta(sim, a)->live[2] = 3;
	sim_frame_meta(sim, a)->flags = 1;
	sim_release_frame(sim, MMU_FRAME_TABLE, MMU_SIZE_4K, a);
	CHECK_EQ(sim_tables_in_use(sim), 1);
	CHECK_OK(sim_alloc_frame(sim, MMU_FRAME_TABLE, MMU_SIZE_4K, &c));
	CHECK_EQ(mmu_pa_bits(c), mmu_pa_bits(a));
	CHECK_EQ(((uint64_t *)(void *)sim_phys(sim, c))[511], 0);
	CHECK_EQ(sim_frame_meta(sim, c)->live[2], 0);
	CHECK_EQ(sim_frame_meta(sim, c)->flags, 0);
	sim_destroy_bare(sim);
}

/* A table page given back as zeroed (the port's table_free_zeroed) is
 * the next table handed out, not cleared again: a byte written into it
 * while free, which only a stale translation could do, would survive,
 * so the sanitizer's note of such a write makes it cleared again. */
static void test_table_pool_zeroed(void)
{
	struct sim *sim = machine_with(16ull << 20);
	mmu_pa_t a, b;
	CHECK_OK(sim_alloc_frame(sim, MMU_FRAME_TABLE, MMU_SIZE_4K, &a));
	sim_release_table_zeroed(sim, a);
	CHECK_EQ(sim_tables_in_use(sim), 0);
	sim_phys(sim, a)[100] = 0x77; /* written while free, unnoticed */
	CHECK_OK(sim_alloc_frame(sim, MMU_FRAME_TABLE, MMU_SIZE_4K, &b));
	CHECK_EQ(mmu_pa_bits(b), mmu_pa_bits(a));
	CHECK_EQ(sim_phys(sim, b)[100], 0x77);
	sim_phys(sim, b)[100] = 0;
	sim_release_table_zeroed(sim, b);
	sim_phys(sim, a)[200] = 0x77;
	sim_note_written_free(&sim->pm, a);
	CHECK_OK(sim_alloc_frame(sim, MMU_FRAME_TABLE, MMU_SIZE_4K, &b));
	CHECK_EQ(mmu_pa_bits(b), mmu_pa_bits(a));
	CHECK_EQ(sim_phys(sim, b)[200], 0);
	sim_destroy_bare(sim);
}

/* A page given back as zeroed that is not (SKIP_CHECK: a const bool, the
 * machine's cfg.skip_zero_check). */
static void release_nonzero_table(void *skip_check)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.mem = 16ull << 20;
	cfg.skip_zero_check = *(const bool *)skip_check;
	struct sim *sim = th_machine(&cfg);
	mmu_pa_t a;
	if (sim_alloc_frame(sim, MMU_FRAME_TABLE, MMU_SIZE_4K, &a) != MMU_OK)
		return;
	sim_phys(sim, a)[4095] = 1;
	sim_release_table_zeroed(sim, a);
}

/* The machine dies, naming the page, unless cfg.skip_zero_check. */
static void test_zeroed_release_checked(void)
{
	const bool check = false, skip = true;
	CHECK(check_aborts(release_nonzero_table, (void *)&check));
	CHECK(!check_aborts(release_nonzero_table, (void *)&skip));
}

static void test_failure_injection(void)
{
	struct sim *sim = machine_with(16ull << 20);
	mmu_pa_t pa;
	CHECK_EQ(sim_alloc_count(sim, MMU_FRAME_DATA), 0);
	sim_fail_alloc_after(sim, MMU_FRAME_DATA, 2);
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &pa));
	CHECK_OK(sim_alloc_frame(sim, MMU_FRAME_DATA, MMU_SIZE_4K, &pa));
	CHECK_ERR(sim_frame_alloc(sim, MMU_SIZE_4K, &pa), MMU_E_NOMEM);
	CHECK_ERR(sim_frame_alloc(sim, MMU_SIZE_2M, &pa), MMU_E_NOMEM);
	/* Tables are counted and injected separately. */
	CHECK_OK(sim_alloc_frame(sim, MMU_FRAME_TABLE, MMU_SIZE_4K, &pa));
	CHECK_EQ(sim_alloc_count(sim, MMU_FRAME_DATA), 4);
	CHECK_EQ(sim_alloc_count(sim, MMU_FRAME_TABLE), 1);
	CHECK_EQ(sim_frames_in_use(sim), 2);
	sim_fail_alloc_after(sim, MMU_FRAME_TABLE, 0);
	CHECK_ERR(sim_alloc_frame(sim, MMU_FRAME_TABLE, MMU_SIZE_4K, &pa), MMU_E_NOMEM);
	sim_fail_alloc_after(sim, MMU_FRAME_DATA, -1);
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &pa));
	CHECK_EQ(sim_tables_in_use(sim), 1);
	sim_destroy_bare(sim);
}

static void test_bad_config(void)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.levels = 3;
	CHECK(sim_create_bare(&cfg) == NULL);
	sim_config_default(&cfg);
	cfg.ncpus = MMU_MAX_CPUS + 1;
	CHECK(sim_create_bare(&cfg) == NULL);
	sim_config_default(&cfg);
	cfg.maxphyaddr = 30; /* the arena would not fit */
	CHECK(sim_create_bare(&cfg) == NULL);
}

/* The map against a plain array. */
static void test_u64map(void)
{
	enum { KEYS = 5000 };
	static uint64_t val[KEYS];
	static bool present[KEYS];
	struct sim_u64map m;
	sim_u64map_init(&m);
	srand(11);
	for (unsigned round = 0; round < 200000; round++) {
		unsigned k = (unsigned)rand() % KEYS;
		uint64_t key = (uint64_t)k * 0x1000 + 3, got = 0;
		switch (rand() % 3) {
		case 0:
			sim_u64map_put(&m, key, round);
			val[k] = round;
			present[k] = true;
			break;
		case 1:
			CHECK_EQ(sim_u64map_remove(&m, key), present[k]);
			present[k] = false;
			break;
		default:
			CHECK_EQ(sim_u64map_get(&m, key, &got), present[k]);
			if (present[k])
				CHECK_EQ(got, val[k]);
		}
		CHECK_STOP_ON_FAILURE();
	}
	size_t n = 0;
	for (unsigned k = 0; k < KEYS; k++)
		n += present[k];
	CHECK_EQ(m.count, n);
	sim_u64map_fini(&m);
}

int test_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	test_alignment();
	test_exhaustion();
	test_merge_after_churn();
	test_zeroed_and_meta();
	test_table_pool();
	test_table_pool_zeroed();
	test_zeroed_release_checked();
	test_failure_injection();
	test_bad_config();
	test_u64map();
	return 0;
}
