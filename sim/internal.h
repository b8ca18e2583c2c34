/* SPDX-License-Identifier: MIT */
/* The software machine's insides, shared by the files of sim/ and by its
 * own unit tests. Nothing outside sim/ and tests/unit/test_sim_*.c includes
 * this.
 *
 * Lock order: a CPU's TLB lock, then the physical-memory lock, then the
 * sanitizer's report lock. No sim lock is held while the library runs (port
 * hooks are entered and left with none held). */
#ifndef MMU64_SIM_INTERNAL_H
#define MMU64_SIM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "sim/sim.h"

/* ---- Physical layout ----
 * [0, 1 GiB) is the page-table pool (frame 0 never handed out); data frames
 * live at [1 GiB, 1 GiB + mem), so a 1G frame is naturally aligned. */
#define SIM_TABLE_POOL_BYTES (1ull << 30)
#define SIM_TABLE_FRAMES (SIM_TABLE_POOL_BYTES >> MMU_PAGE_SHIFT)
#define SIM_DATA_BASE SIM_TABLE_POOL_BYTES
#define SIM_MEM_MAX (1ull << 42) /* frame indexes must fit 32 bits */
#define SIM_BUDDY_MAX_ORDER 18   /* 4K << 18 = 1G */
#define SIM_NO_FRAME UINT32_MAX

/* ---- Register bits (SDM vol. 3A 2.5, 2.2.1) ---- */
#define SIM_CR0_PE (1ull << 0)
#define SIM_CR0_WP (1ull << 16)
#define SIM_CR0_PG (1ull << 31)
#define SIM_CR3_PCID_MASK 0xfffull
#define SIM_CR3_NOFLUSH (1ull << 63)
#define SIM_CR4_PAE (1ull << 5)
#define SIM_CR4_PGE (1ull << 7)
#define SIM_CR4_LA57 (1ull << 12)
#define SIM_CR4_PCIDE (1ull << 17)
#define SIM_CR4_SMEP (1ull << 20)
#define SIM_CR4_SMAP (1ull << 21)
#define SIM_CR4_PKE (1ull << 22)
#define SIM_EFER_LME (1ull << 8)
#define SIM_EFER_LMA (1ull << 10)
#define SIM_EFER_NXE (1ull << 11)

/* ---- #PF error code bits (SDM 4.7) ---- */
#define SIM_PF_P (1u << 0)
#define SIM_PF_W (1u << 1)
#define SIM_PF_U (1u << 2)
#define SIM_PF_RSVD (1u << 3)
#define SIM_PF_ID (1u << 4)
#define SIM_PF_PK (1u << 5)

/* ---- A hash map from uint64_t to uint64_t (open addressing, linear
 * probing, backward-shift deletion). The all-ones key is reserved. ---- */
#define SIM_U64MAP_NONE UINT64_MAX
struct sim_u64map {
	uint64_t *keys;
	uint64_t *vals;
	size_t mask; /* capacity - 1, capacity a power of two */
	size_t count;
};
void sim_u64map_init(struct sim_u64map *m);
void sim_u64map_fini(struct sim_u64map *m);
bool sim_u64map_get(const struct sim_u64map *m, uint64_t key, uint64_t *val);
void sim_u64map_put(struct sim_u64map *m, uint64_t key, uint64_t val);
bool sim_u64map_remove(struct sim_u64map *m, uint64_t key);
/* Add DELTA to KEY's value (0 when absent); the key goes when it reaches 0. */
void sim_u64map_add(struct sim_u64map *m, uint64_t key, int64_t delta);
void sim_u64map_clear(struct sim_u64map *m);

/* ---- The physical-memory lock ----
 * A spinlock rather than a pthread mutex: every table allocation and free
 * and every sanitizer status look-up takes it for a few dozen
 * instructions, where an uncontended mutex costs two calls and some fifty
 * instructions more (W2 of docs/BENCH.md allocates 117,358 tables). No
 * other lock is taken while it is held. A waiter spins a while and then
 * yields: tests run more CPU threads than the host has cores, and a
 * preempted holder must get to run. Acquire on taking it,
 * release on dropping it, so ThreadSanitizer sees the ordering. */
struct sim_spinlock {
	atomic_bool held;
};

/* Taking L when it was held: out of line, so that the callers keep the
 * fast path to one exchange and a branch. */
void sim_spin_lock_slow(struct sim_spinlock *l);

static inline void sim_spin_lock(struct sim_spinlock *l)
{
	if (atomic_exchange_explicit(&l->held, true, memory_order_acquire))
		sim_spin_lock_slow(l);
}

static inline void sim_spin_unlock(struct sim_spinlock *l)
{
	atomic_store_explicit(&l->held, false, memory_order_release);
}

/* ---- Physical memory ---- */
enum sim_frame_state {
	SIM_FRAME_UNUSED = 0,  /* never a block head */
	SIM_FRAME_FREE_BLOCK,  /* head of a free buddy block of ORDER */
	SIM_FRAME_DATA_HEAD,   /* head of an allocated data frame of ORDER */
};

/* Allocator bookkeeping for every 4K frame of the data pool (the table
 * pool keeps bitmaps in struct sim_physmem). */
struct sim_frame {
	uint32_t next, prev; /* buddy free lists, doubly linked */
	uint8_t state;       /* enum sim_frame_state */
	uint8_t order;       /* block order when a head */
	uint8_t ever;        /* was allocated at least once */
	uint8_t written_free; /* written through a stale translation while free */
};

/* What the sanitizer needs to know about the frame holding a PA. */
enum sim_frame_status {
	SIM_STATUS_OUTSIDE,      /* not in the arena */
	SIM_STATUS_NEVER,        /* never allocated (hand-made mappings in tests) */
	SIM_STATUS_DATA,         /* an allocated data frame */
	SIM_STATUS_TABLE,        /* an allocated table page */
	SIM_STATUS_DATA_FREED,   /* a data frame that was allocated and freed */
	SIM_STATUS_TABLE_FREED,  /* a table page that was allocated and freed */
};

/* Allocation-failure injection (sim_fail_alloc_after), one per use. */
struct sim_inject {
	long remaining; /* allocations that still succeed; < 0: no injection */
	uint64_t count; /* allocations attempted */
};

struct sim_physmem {
	struct sim_spinlock lock;
	uint8_t *arena;
	uint64_t arena_bytes;
	struct mmu_frame_meta *meta; /* one per 4K frame of the arena */
	struct sim_frame *frames;    /* one per 4K frame of the arena */
	uint64_t nframes;
	uint64_t data_first, data_frames; /* frame index range of the data pool */
	uint32_t free_head[SIM_BUDDY_MAX_ORDER + 1];
	/* Table pool: bit N set while table frame N is in use (table_used)
	 * or once it was ever (table_ever); the lowest free frame is handed
	 * out first (table_hint: no free bit below that word), so tables
	 * freed together are reused in address order. Bitmaps rather than
	 * struct sim_frame: 64 frames per cache line. table_zeroed: a free
	 * table frame the library gave back all zero (table_free_zeroed),
	 * handed out again without clearing it. */
	uint64_t *table_used, *table_ever, *table_zeroed;
	uint64_t table_hint;
	uint64_t data_in_use, tables_in_use;
	uint64_t written_free; /* free frames that must be zeroed again */
	/* By enum mmu_frame_use. Checked and counted by the allocation
	 * itself, in the same hold of LOCK. */
	struct sim_inject inject[2];
};

bool sim_physmem_init(struct sim_physmem *pm, uint64_t mem);
void sim_physmem_fini(struct sim_physmem *pm);
/* The allocations count an attempt and fail with NOMEM when injection
 * says so (pm->inject). */
mmu_err_t sim_table_alloc(struct sim_physmem *pm, mmu_pa_t *out);
/* ZEROED: the library said the page is all zero (table_free_zeroed). */
void sim_table_free(struct sim_physmem *pm, mmu_pa_t pa, bool zeroed);
mmu_err_t sim_data_alloc(struct sim_physmem *pm, enum mmu_size size, mmu_pa_t *out);
/* False (nothing freed) when PA is not an allocated data frame of SIZE. */
bool sim_data_free(struct sim_physmem *pm, enum mmu_size size, mmu_pa_t pa);
enum sim_frame_status sim_frame_status(struct sim_physmem *pm, mmu_pa_t pa);
/* A free data frame was written: zero it again before handing it out. */
void sim_note_written_free(struct sim_physmem *pm, mmu_pa_t pa);

/* Buddy allocator over the data pool; PM's lock held. */
void sim_buddy_init(struct sim_physmem *pm);
bool sim_buddy_alloc(struct sim_physmem *pm, unsigned order, uint64_t *frame);
void sim_buddy_free(struct sim_physmem *pm, uint64_t frame, unsigned order);

/* ---- TLB ---- */
#define SIM_TLB_GLOBAL_TAG 0x1000u /* the tag of global entries, any PCID */
#define SIM_TLB_MAX_TABLES 5

struct sim_tlb_entry {
	mmu_vaddr_t va_base;
	uint64_t pa_base;
	uint32_t table[SIM_TLB_MAX_TABLES]; /* frame numbers of the tables walked */
	uint16_t pcid;
	uint8_t size; /* enum mmu_size */
	uint8_t ntables;
	uint8_t pkey;
	bool w, u, xd, global, dirty;
	bool in_use; /* pool slot taken */
};

enum sim_tlb_scope {
	SIM_TLB_ONE_PCID,   /* non-global entries of one PCID */
	SIM_TLB_NON_GLOBAL, /* every non-global entry */
	SIM_TLB_EVERYTHING, /* globals included */
};

struct sim_tlb {
	pthread_mutex_t lock;
	struct sim_u64map index; /* (tag, va, size) -> pool slot */
	struct sim_u64map refs;  /* frames entries point at or walked -> count */
	struct sim_tlb_entry *pool;
	size_t pool_len, pool_cap;
	uint32_t *free_slots;
	size_t nfree;
	/* Entries cached. Written under LOCK; read without it where a stale
	 * zero is harmless (the sanitizer's free check, see tlbsan.c). */
	atomic_size_t count;
};

/* The caller holds T's lock for everything below but init/fini. */
void sim_tlb_init(struct sim_tlb *t);
void sim_tlb_fini(struct sim_tlb *t);
bool sim_tlb_lookup(const struct sim_tlb *t, unsigned pcid, mmu_vaddr_t va, struct sim_tlb_entry *out);
void sim_tlb_insert(struct sim_tlb *t, const struct sim_tlb_entry *e);
/* Drop every entry for the page holding VA, any size, of PCID (and the
 * global ones when WITH_GLOBALS). */
void sim_tlb_drop_page(struct sim_tlb *t, unsigned pcid, mmu_vaddr_t va, bool with_globals);
void sim_tlb_flush(struct sim_tlb *t, enum sim_tlb_scope scope, unsigned pcid);
/* An entry whose PA range overlaps [PA, PA+size) into *WHO. */
bool sim_tlb_find_frame(const struct sim_tlb *t, mmu_pa_t pa, enum mmu_size size, struct sim_tlb_entry *who);
/* An entry whose walk went through table page PA into *WHO. */
bool sim_tlb_find_table(const struct sim_tlb *t, mmu_pa_t pa, struct sim_tlb_entry *who);
typedef void (*sim_tlb_visit_fn)(void *ctx, const struct sim_tlb_entry *e);
void sim_tlb_for_each(const struct sim_tlb *t, sim_tlb_visit_fn fn, void *ctx);

/* ---- CPUs ---- */
struct sim_cpu {
	uint64_t cr0, cr3, cr4, efer; /* under tlb.lock */
	uint32_t pkru;
	struct sim_tlb tlb;
	struct sim_events events; /* under tlb.lock */
	atomic_bool ipi_pending;  /* threaded mode */
	atomic_bool running;      /* a sim_run_cpus thread acts as this CPU */
	atomic_flag ipi_handling; /* someone runs this CPU's handler now */
	atomic_uint_fast64_t ipis_taken;
};

/* The PCID that tags this CPU's new entries (0 without CR4.PCIDE). */
unsigned sim_cpu_pcid(const struct sim_cpu *c);
unsigned sim_cpu_levels(const struct sim_cpu *c);

/* ---- The walker (walk.c): translation only, no side effects ---- */
struct sim_paging {
	mmu_pa_t root;
	unsigned levels;
	unsigned maxphyaddr;
	bool nxe, pge;
};
void sim_paging_of(const struct sim *sim, const struct sim_cpu *c, struct sim_paging *pg);

enum sim_walk_status { SIM_WALK_OK, SIM_WALK_NOT_PRESENT, SIM_WALK_RSVD };

struct sim_walk_step {
	mmu_pa_t table;
	unsigned index;
	enum mmu_level level;
	uint64_t entry; /* as read */
};

/* A successful translation: the effective leaf. */
struct sim_translation {
	mmu_vaddr_t va_base;
	uint64_t pa_base;
	enum mmu_size size;
	bool w, u, xd, global, dirty;
	unsigned pkey;
};

struct sim_walk {
	enum sim_walk_status status;
	unsigned nsteps; /* entries read; the last one decided the status */
	struct sim_walk_step step[5];
	struct sim_translation tr; /* SIM_WALK_OK only */
};

void sim_walk_tables(const struct sim *sim, const struct sim_paging *pg, mmu_vaddr_t va, struct sim_walk *w);
/* The entry as the walker reads it (0 outside the arena). */
uint64_t sim_read_entry(const struct sim *sim, mmu_pa_t table, unsigned index);
/* Atomically replace OLD by NEW; false when the entry changed meanwhile. */
bool sim_update_entry(struct sim *sim, mmu_pa_t table, unsigned index, uint64_t old, uint64_t new_entry);

/* ---- Accesses (access.c) ---- */
struct sim_request {
	enum sim_access_kind kind;
	bool user, ac;
};
/* The error-code bits every #PF of this request carries (W, U, I/D). */
uint32_t sim_fault_base(const struct sim_cpu *c, const struct sim_request *req);
/* 0 when TR allows REQ on C, else the #PF error code. */
uint32_t sim_check_permission(const struct sim_cpu *c, const struct sim_translation *tr,
			      const struct sim_request *req);
/* A hardware walk for REQ: A/D updates, restart on races. False with the
 * #PF error code in *ERROR_CODE when the access faults. C's TLB lock held:
 * the walk is counted in C's events. */
bool sim_walk_for_access(struct sim *sim, struct sim_cpu *c, mmu_vaddr_t va, const struct sim_request *req,
			 struct sim_walk *w, uint32_t *error_code);
/* The translation a TLB entry caches. */
struct sim_translation sim_tlb_entry_translation(const struct sim_tlb_entry *e);

/* ---- TLB sanitizer (tlbsan.c) ---- */
void sim_tlbsan_report(struct sim *sim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A TLB hit about to be used (C's TLB lock held). */
void sim_tlbsan_check_hit(struct sim *sim, unsigned cpu, const struct sim_tlb_entry *e, mmu_vaddr_t va,
			  const struct sim_request *req);
/* A fresh walk whose result is about to be used. */
void sim_tlbsan_check_walk(struct sim *sim, unsigned cpu, mmu_vaddr_t va, const struct sim_walk *w,
			   const struct sim_request *req);
/* Before a frame goes back to the allocator: no TLB may hold it. */
void sim_tlbsan_check_free(struct sim *sim, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t pa);

/* ---- IPIs (ipi.c) ---- */
typedef void (*sim_ipi_handler_fn)(struct sim *sim, void *ctx);
/* Bare machines (tests) choose what an IPI runs; sim_create installs
 * mmu_tlb_ipi_handler. */
void sim_set_ipi_handler(struct sim *sim, sim_ipi_handler_fn fn, void *ctx);
void sim_ipi_send(struct sim *sim, unsigned cpu);
/* The port's cpu_relax: take the IPIs the calling CPU can take. */
void sim_ipi_relax(struct sim *sim);
/* Deliver everything pending (deterministic order; any mode). */
void sim_ipi_drain(struct sim *sim);
uint64_t sim_ipis_taken(const struct sim *sim, unsigned cpu);

struct sim_ipi_queue {
	pthread_mutex_t lock;
	unsigned target[MMU_MAX_CPUS]; /* FIFO, each CPU at most once */
	unsigned head, count;
	bool queued[MMU_MAX_CPUS];
	bool delivering;
};

/* ---- The machine ---- */
struct sim {
	struct sim_config cfg;
	uint64_t id; /* tells machines apart in the thread-local current CPU */
	struct sim_physmem pm;
	struct sim_cpu cpu[MMU_MAX_CPUS];
	struct sim_ipi_queue ipiq;
	sim_ipi_handler_fn ipi_handler;
	void *ipi_ctx;
	atomic_bool threads_running;
	atomic_uint tlbsan_reports;
	pthread_mutex_t tlbsan_lock;
	char tlbsan_last[512];
	struct mmu_port port;
	bool mmu_ready;
	struct mmu mmu;
};

/* A machine without mmu_init: CPUs with CR3 = 0, empty memory. */
struct sim *sim_create_bare(const struct sim_config *cfg);
void sim_destroy_bare(struct sim *sim);
/* Drop every TLB entry of every CPU (teardown). */
void sim_flush_all_tlbs(struct sim *sim);
/* Allocation with failure injection and counting. */
mmu_err_t sim_alloc_frame(struct sim *sim, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t *out);
/* Release after the sanitizer's free check; aborts on a bad free. */
void sim_release_frame(struct sim *sim, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t pa);
/* The port's table_free_zeroed: the page's zeros are checked (unless
 * cfg.skip_zero_check) and it is handed out again as it is (unless
 * cfg.clear_every_table). */
void sim_release_table_zeroed(struct sim *sim, mmu_pa_t pa);

extern const struct mmu_port_ops sim_port_ops;

/* Print "sim: MSG" and abort: a broken invariant of the machine. */
void sim_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
