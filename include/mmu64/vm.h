/* SPDX-License-Identifier: MIT */
/* Process address spaces: a user tree plus the regions that say what may be
 * mapped in it, the page-fault handler that maps on demand, copies on write
 * and grows stacks, copy-on-write fork, exit, and the kernel's access to
 * user memory (copies both ways, strings, in-place windows).
 *
 * Pages of a space are 4K data frames from the port (MMU_FRAME_DATA), user
 * pages always, or 2M frames where huge pages are on
 * (mmu_vm_space_set_huge); the library alone puts a 2M leaf there:
 * mmu_tree_set_promote refuses the tree, and a map straight into it with
 * `promote` or a forced 2M/1G size is INVALID (include/mmu64/pt.h). A
 * frame's `refcount` (struct mmu_frame_meta) counts the leaves that map
 * it, over every space; for a 2M frame the count is its first 4K piece's
 * and counts every leaf mapping any part of it (a 2M leaf once, each 4K
 * leaf of a split one once). A frame is freed when the count drops to
 * zero, after the flush that removed the last leaf. The caller owns the
 * storage of struct mmu_vm_space, as for every mmu64 object, and of its
 * regions: MMU_VM_INLINE_REGIONS slots inside the struct, or an array the
 * caller gives it (mmu_vm_space_set_region_storage), with no other limit.
 *
 * Every call that returns an error changed nothing. Errors come in one
 * order: INVALID, UNALIGNED, INVALID_PERMISSION, DUPLICATED / NOTEXIST,
 * NOSPACE (the region storage, or an object's mapper records, full: a
 * bigger array fixes it), BUSY, NOMEM (no frame or table from the port). */
#ifndef MMU64_VM_H
#define MMU64_VM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dump.h"
#include "kpti.h"
#include "mmu.h"
#include "pt.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MMU_VM_INLINE_REGIONS 16              /* region slots inside struct mmu_vm_space */
#define MMU_VM_MAX_REGIONS MMU_VM_INLINE_REGIONS /* the old name: no longer a limit */
#define MMU_VM_STACK_MAX_DEFAULT (8ull << 20) /* Linux's RLIMIT_STACK default */
#define MMU_VM_GUARD_GAP (1ull << 20)         /* Linux's stack_guard_gap */
#define MMU_VM_MIN_ADDR_DEFAULT 0x1000ull     /* page 0 refused, as Linux's mmap_min_addr */

enum mmu_vm_kind {
	MMU_VM_ANON,  /* demand-zero: a zeroed frame on first touch */
	MMU_VM_STACK, /* demand-zero, and grows down on faults below it */
	MMU_VM_EAGER, /* every page mapped, zeroed, when the region is added */
	MMU_VM_GUARD, /* PROT_NONE: reserves addresses, maps nothing, every access refused */
	/* The pages of a memory object (mmu_vm_region_add_object only): */
	MMU_VM_SHARED,  /* the object's own pages, seen by every space mapping them: never COW */
	MMU_VM_PRIVATE, /* the object's pages read-only; the first write copies (MAP_PRIVATE) */
};

struct mmu_vm_object;

struct mmu_vm_region {
	mmu_vaddr_t start;
	uint64_t len;
	unsigned prot; /* MMU_PROT_R|W|X (0 for a guard); U is implied */
	enum mmu_vm_kind kind;
	uint64_t max; /* stack: the largest it may grow to, counted from its end */
	struct mmu_vm_object *obj; /* MMU_VM_SHARED / MMU_VM_PRIVATE: the object; else NULL */
	uint64_t first_page;       /* the object's page at `start` (0 without an object) */
};

/* What the fault handler did, per kind, since the last mmu_vm_counters_take. */
struct mmu_vm_counters {
	uint64_t demand, cow, stack, spurious, segv;
	uint64_t swapin; /* of the DEMAND faults, those that paged a page in from swap */
};

/* ---- swap of anonymous private pages ----
 * A page paged out (mmu_vm_page_out) leaves a swap entry in its leaf's
 * place: a not-present entry (P = 0, so the CPU ignores every other bit,
 * SDM 4.5) with MMU_VM_SWAP_MARK (bit 9, ignored by the hardware) and the
 * store's slot in bits 12-51 (where a leaf keeps its frame). Nothing else
 * is set: never P, never PS, so the walker takes it for neither a table
 * nor a leaf, a walk answers NOTEXIST there, a dump and the KPTI audit
 * skip it, and a single-page map there finds the entry in use
 * (DUPLICATED). Slots run from 0 to MMU_VM_SWAP_SLOT_MAX - 1; the last
 * value is the library's own (a page-out in progress). */
#define MMU_VM_SWAP_MARK (1ull << 9)
#define MMU_VM_SWAP_SLOT_SHIFT 12
#define MMU_VM_SWAP_SLOT_MAX ((1ull << 40) - 1)

static inline uint64_t mmu_vm_swap_entry(uint64_t slot)
{
	return MMU_VM_SWAP_MARK | (slot << MMU_VM_SWAP_SLOT_SHIFT);
}

static inline bool mmu_vm_pte_is_swap(uint64_t pte)
{
	return (pte & 1) == 0 && (pte & MMU_VM_SWAP_MARK) != 0;
}

static inline uint64_t mmu_vm_swap_slot(uint64_t pte)
{
	return (pte >> MMU_VM_SWAP_SLOT_SHIFT) & ((1ull << 40) - 1);
}

/* The kernel's swap store (Linux's swap device and swap_map), given to a
 * space with mmu_vm_space_set_swap. Slots are reference counted by the
 * store: write makes one with one reference, dup adds one (fork copies a
 * swapped page's entry to the child), free drops one (page-in, zap, exit,
 * region remove and resize); the store reuses a slot when its count drops
 * to zero. Every hook runs under the space's lock (a spinlock), and zap's
 * free and fork's dup under its tree's lock too: a hook must not sleep nor
 * call the library (a kernel with a disk writes into a RAM buffer it
 * flushes later, or pages out from a thread that may wait between pages). */
struct mmu_vm_swap_ops {
	/* Copy the 4K FRAME into a new slot, *SLOT (below
	 * MMU_VM_SWAP_SLOT_MAX). MMU_OK; any error (the store is full) is
	 * NOMEM to the caller. */
	mmu_err_t (*write)(void *ctx, mmu_pa_t frame, uint64_t *slot);
	/* Copy SLOT into the 4K FRAME. MMU_OK; NOMEM (the fault is NOMEM,
	 * retry); any other error refuses the access (Linux's SIGBUS). */
	mmu_err_t (*read)(void *ctx, uint64_t slot, mmu_pa_t frame);
	void (*dup)(void *ctx, uint64_t slot);
	void (*free)(void *ctx, uint64_t slot);
};

/* The fields are the library's (read the regions with mmu_vm_region_at or
 * mmu_vm_region_get). */
struct mmu_vm_space {
	struct mmu_tree tree;
	atomic_bool lock; /* serialises regions, faults, fork and exit */
	bool huge;        /* demand faults may map 2M pages (mmu_vm_space_set_huge) */
	unsigned nregions;
	struct mmu_vm_region *region; /* sorted by start: inline_region or the caller's array */
	unsigned region_cap;          /* slots at `region` */
	mmu_vaddr_t min_addr;         /* no region below it (mmu_vm_space_set_min_addr) */
	struct mmu_vm_region inline_region[MMU_VM_INLINE_REGIONS];
	struct mmu_vm_counters counters;
	struct mmu_kpti *kpti; /* NULL: no shadow tree */
	mmu_pa_t shadow;       /* the shadow root (KPTI) */
	uint64_t live;         /* the space's address ^ a constant from create to exit */
	const struct mmu_vm_swap_ops *swap; /* NULL: no page-out (mmu_vm_space_set_swap) */
	void *swap_ctx;
	uint64_t swapped; /* the swap entries in its tree */
	/* Its fork family: the spaces that forked from one another, a
	 * circular list (a space alone: itself both ways, or NULL before
	 * create), under the mmu's vm_family_lock. The reverse map of an
	 * anonymous private frame (mmu_vm_page_out of a frame shared after
	 * fork): COW never moves a page, so every leaf of that frame is at
	 * the same VA in a space of the family. */
	struct mmu_vm_space *family_prev, *family_next;
};

/* A new space with an empty user tree and no regions, in SP's storage
 * (its previous contents are ignored, but for a live space there: INVALID,
 * exit it first, or its root would be lost and its fork family's list
 * left pointing at reinitialised storage). Its regions go in the MMU_VM_INLINE_REGIONS slots inside SP until
 * mmu_vm_space_set_region_storage gives it an array; its lowest mappable
 * address is MMU_VM_MIN_ADDR_DEFAULT. INVALID: SP is live; NOMEM: no
 * root. */
mmu_err_t mmu_vm_space_create(struct mmu *mmu, struct mmu_vm_space *sp);

/* Release SP: every leaf's frame reference (frames still mapped by other
 * spaces stay), every table, the root. BUSY while SP's tree is loaded on a
 * CPU (nothing released): checked under the tree lock that mmu_tree_load
 * takes, held until the tree is gone, so a racing load either makes exit
 * BUSY or comes after and panics (a destroyed tree). After exit SP is
 * dead until mmu_vm_space_create: exit, region add, remove, protect and
 * resize, storage and min-address changes, faults, fork from it, the
 * copies to and from user memory and KPTI enable return INVALID. SP no
 * longer uses its region storage: a caller's array is free again. */
mmu_err_t mmu_vm_space_exit(struct mmu_vm_space *sp);

/* Move SP's regions into SLOTS, an array of CAPACITY regions the caller
 * owns (SLOTS NULL and CAPACITY 0: back into the inline slots, whose
 * capacity is MMU_VM_INLINE_REGIONS). Grow by giving a bigger array, as
 * often as needed; SLOTS may be the array SP uses now (only the capacity
 * changes: an array the caller grew in place), but must not overlap it
 * otherwise, nor any other space's. From the return on, the library no
 * longer touches the old array: the caller may free it, and every pointer
 * mmu_vm_region_at returned into it is stale. Errors, in this order:
 * INVALID (SP dead; SLOTS NULL with CAPACITY not 0, or CAPACITY 0 with
 * SLOTS), NOSPACE (CAPACITY below the regions SP has). */
mmu_err_t mmu_vm_space_set_region_storage(struct mmu_vm_space *sp, struct mmu_vm_region *slots, unsigned capacity);

/* The lowest address a region of SP may take in (Linux's mmap_min_addr,
 * per space): ADDR, a page boundary in the user half, 0 included (xv6
 * links programs at 0). Region calls refuse ranges that start below it
 * (INVALID), the fault handler refuses every fault below it, so no stack
 * grows there, and copy-to-user there stops as a refused fault. Errors,
 * in this order: INVALID (SP dead, ADDR above the user half), UNALIGNED,
 * DUPLICATED (a region of SP starts below ADDR). A child of fork
 * inherits the parent's. */
mmu_err_t mmu_vm_space_set_min_addr(struct mmu_vm_space *sp, mmu_vaddr_t addr);

/* Transparent huge pages for SP (Linux's THP "always"; off after create):
 * with ON, a demand fault in an MMU_VM_ANON region whose 2M-aligned block
 * around the page lies wholly inside the region, with nothing mapped in
 * it, maps one zeroed 2M frame (the port's frame_alloc with MMU_SIZE_2M;
 * when that or a table for it fails, a 4K page as without huge pages, so
 * the 2M try never makes a fault NOMEM). Such a leaf is shared by fork
 * (read-only, one reference on the 2M frame), copied whole on a COW write
 * when a 2M frame is free (else split into 512 4K leaves and the one page
 * copied), and split when a region remove, resize or protect cuts it.
 * Pages mapped before keep their size when it is turned off. A child of
 * fork inherits it. INVALID: SP dead. */
mmu_err_t mmu_vm_space_set_huge(struct mmu_vm_space *sp, bool on);

/* Give SP the swap store OPS (every hook set) with CTX, or none (OPS
 * NULL, CTX ignored). A child of fork inherits it. Errors, in this
 * order: INVALID (SP dead, a hook of OPS NULL), BUSY (SP has pages
 * swapped out and OPS or CTX differ from its store's: they need it to come
 * back). */
mmu_err_t mmu_vm_space_set_swap(struct mmu_vm_space *sp, const struct mmu_vm_swap_ops *ops, void *ctx);

/* Page out the 4K page at VA of SP: write its frame to SP's store (the
 * write hook, under the space lock), put a swap entry in its leaf's
 * place, invalidate the old translation on every CPU, then free the
 * frame. The next access faults and pages it back in (a fresh frame, the
 * slot read into it, mapped with the region's permissions of then, the
 * slot's reference dropped; counted DEMAND and swapin); copies to and from
 * user memory page in the same way; region protect keeps the swap entry;
 * fork copies it to the child and dups the slot (each space later pages
 * in its own copy); remove, shrink and exit free the slot. Only a page
 * the space owns alone: in an anon, stack or eager region, or a private
 * copy in an MMU_VM_PRIVATE region, a 4K leaf whose frame has one
 * reference, or a frame shared after fork: then every space of SP's fork
 * family that maps it (at VA: COW never moves a page) loses it with one
 * shootdown (a full non-global flush on every CPU) and gets a swap entry
 * of one slot written once (dup'd for each extra mapper), provided they
 * account for all its references, each leaf read-only in a region
 * page-out takes with SP's store (else BUSY: a fork in flight, a
 * mapper elsewhere); an object's own pages go out through
 * mmu_vm_object_page_out. A 2M leaf is never paged out (split it
 * first: not in mmu64 either). Errors, in this order: INVALID (SP dead or
 * without a store, VA not in the user half, VA in no region or in a
 * guard or shared region, an object's own page in a private region, a 2M
 * leaf), UNALIGNED (VA), NOTEXIST (no page mapped at VA, a swap entry
 * included), BUSY (the frame has references its family's leaves at VA do
 * not account for, or one of them may not be taken; a piece of a 2M frame),
 * NOMEM (the store's write failed). Every error changes nothing. */
mmu_err_t mmu_vm_page_out(struct mmu_vm_space *sp, mmu_vaddr_t va);

/* Add a region of KIND over [VA, VA+LEN) with PROT (MMU_PROT_R required,
 * W and X optional, U ignored: pages are user pages; for MMU_VM_GUARD,
 * none of R W X). MAX: the stack's largest size (0:
 * MMU_VM_STACK_MAX_DEFAULT); must be 0 for the other kinds. Anon and
 * stack regions map nothing until touched; an eager region maps a zeroed
 * frame at every page now (no fault on first touch; after that it
 * behaves as anon: COW after fork, refusals); a guard region maps
 * nothing ever: every access there is refused, no stack grows into it,
 * and a stack above it keeps the guard gap from it as from any region.
 * Errors, in this order: INVALID (VA below the space's min address, by
 * default page 0; the kernel half, non-canonical, zero or wrapping
 * length, a bad kind, MAX < LEN, MAX on a region that is not a stack, a
 * bit other than R W X U in PROT), UNALIGNED (VA, LEN or MAX not
 * 4K-aligned), INVALID_PERMISSION (no R; R, W or X for a guard),
 * DUPLICATED (an overlap with another region), NOSPACE (every slot of
 * the region storage in use), NOMEM (an eager region: no frame or table;
 * nothing mapped, no region added). */
mmu_err_t mmu_vm_region_add(struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len, unsigned prot,
			    enum mmu_vm_kind kind, uint64_t max);

/* Remove [VA, VA+LEN) from the regions, with every page mapped there and
 * the tables that empties (one batch: invalidated on every CPU before the
 * call returns). The range may cover parts of regions; a region cut in
 * the middle becomes two. A stack's pieces keep its growth limit (end -
 * max), as region protect's do, so a removal never lets a stack grow
 * further down than before. Errors, in this order: INVALID / UNALIGNED as
 * for add, NOTEXIST (no region overlaps the range), NOSPACE (a region cut
 * in the middle and no slot left), NOMEM (a 2M leaf the range cuts needs
 * a table for its split and the port has none). */
mmu_err_t mmu_vm_region_remove(struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len);

/* Give the region that starts at START the length NEW_LEN, its start kept
 * (brk). Growth maps nothing (demand-zero, eager regions too); it must
 * not overlap the next region, nor come within MMU_VM_GUARD_GAP below it
 * when that region is a stack (Linux's brk against vm_start_gap), else
 * DUPLICATED. Shrinking unmaps and frees the pages cut off, with the
 * tables that empties, in one batch, as removing the tail would. A
 * stack keeps its growth limit (end - max): its max grows or shrinks with
 * its end. Errors, in this order: INVALID (START below the min address,
 * START+NEW_LEN outside the user half or wrapping, NEW_LEN 0: use
 * remove), UNALIGNED (START or NEW_LEN), NOTEXIST (no region starts at
 * START), DUPLICATED, NOMEM (only a shrink that cuts a 2M leaf: no table
 * for its split). Never NOSPACE. */
mmu_err_t mmu_vm_region_resize(struct mmu_vm_space *sp, mmu_vaddr_t start, uint64_t new_len);

/* Give the parts of the regions inside [VA, VA+LEN) the permissions PROT
 * (as for add: R required, W and X optional, U ignored), splitting the
 * regions the range edges cut; the hole between regions is ignored, and
 * neighbours that end up alike (same kind and PROT, a stack's same growth
 * limit) inside the range or across its edges merge. A stack region's
 * pieces all stay stacks with the same growth limit (end - max): only the
 * lowest one can grow, never further than before, with its own PROT.
 * Pages mapped there keep their frames and references: W removed or X
 * removed (XD set) rewrites them and invalidates them with one batch flush
 * before returning, on every CPU; X added clears XD without invalidation
 * (a stale entry faults spuriously); W added leaves them read-only, so the
 * next write faults and copies the frame or, as its only user, takes it
 * over (a frame shared after fork stays copy-on-write). With KPTI the
 * shadow shares those tables. A guard region's permissions never change
 * (remove it and add another region). Errors, in this order: INVALID (as
 * for remove, or a bit other than R W X U in PROT), UNALIGNED,
 * INVALID_PERMISSION (no R; a guard region in the range), NOTEXIST (no
 * region overlaps the range), NOSPACE (the pieces need more slots than
 * the region storage has), NOMEM (a 2M leaf the range cuts: no table for
 * its split). */
mmu_err_t mmu_vm_region_protect(struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len, unsigned prot);

/* ---- memory objects: shared and pager-backed memory ----
 *
 * A memory object is N pages that regions of any number of spaces map
 * (Zircon's VMO, Linux's address_space): MMU_VM_SHARED regions map its
 * pages themselves, so a write through one space is read through every
 * other (fork keeps them shared, never copy-on-write); MMU_VM_PRIVATE
 * regions map them read-only, even where the region allows W, and the
 * first write copies the page into a private anonymous frame (the
 * object's page is unchanged; a write to an absent page maps the
 * object's page first, DEMAND, and the retry copies it, COW).
 *
 * Two sorts, both in the caller's storage, no allocation by the library
 * but the frames of anonymous pages:
 *   anonymous: a page is a zeroed data frame the library allocates on the
 *     first fault that touches it, from the port (NOMEM as any fault);
 *   pager-backed: the first fault on page I asks the pager's get_page for
 *     the frame holding it (a file's page cache, an executable's pages).
 *     The frame must be a 4K data frame with the port's metadata that the
 *     pager keeps a reference on (mmu_vm_frame_ref) for as long as any
 *     object may hold it: the pager owns its frames, the library never
 *     frees one. get_page answers MMU_OK with *OUT, NOMEM (the fault is
 *     NOMEM, retry after reclaim) or any other error (the page does not
 *     exist: the access is refused, SEGV / REFUSED, as Linux's SIGBUS).
 *     It runs under the faulting space's lock and the object's lock,
 *     both spinlocks: it must not sleep (a file pager reads ahead into
 *     its cache and answers from there). Device memory is out of scope:
 *     frames are mapped write-back, with metadata.
 * The object remembers each resident page's frame in SLOTS, an array of
 * NPAGES the caller gives (the library's from init to release), and
 * holds one reference (struct mmu_frame_meta refcount) on each, so a
 * frame outlives every leaf that maps it; a leaf adds its own.
 *
 * Locking: the object's lock guards its slots; a fault takes its space's
 * lock, then the object's, then the tree's. A page is filled and mapped
 * under the object's lock, so when faults of two spaces race for an absent
 * page, the second finds it resident and maps the same frame. The
 * object's mapping count (the regions, over every space, that map it:
 * pieces of a split region count once each) and its mapper records
 * change under the lock of the space whose regions change and the
 * object's. */

/* Frame references for pagers: take one on PA, a 4K data frame of MMU's
 * port; drop one (true when it was the last: the caller, who owns the
 * frame, frees it). */
void mmu_vm_frame_ref(struct mmu *mmu, mmu_pa_t pa);
bool mmu_vm_frame_unref(struct mmu *mmu, mmu_pa_t pa);
/* The references PA has now (a figure for tests and debuggers); for a
 * piece of a 2M frame, the whole frame's, counted at its head. */
uint32_t mmu_vm_frame_refs(struct mmu *mmu, mmu_pa_t pa);

struct mmu_vm_pager_ops {
	/* The frame holding page INDEX of the object, with the pager's own
	 * reference on it (see above). Called once per page while it stays
	 * resident in the object. */
	mmu_err_t (*get_page)(void *ctx, uint64_t index, mmu_pa_t *out);
	/* Whether a shared region may write the object's pages (a file
	 * opened for writing). False, the default (a read-only file, an
	 * executable): W on a shared region over the object is
	 * INVALID_PERMISSION at region add and at region protect, as Linux
	 * refuses PROT_WRITE on a MAP_SHARED mapping of a file opened
	 * read-only; a private region may still have W (its writes copy). */
	bool shared_writable;
};

/* One record of an object's reverse map: a space with regions over the
 * object (mmu_vm_object_set_mapper_storage). The fields are the
 * library's. */
struct mmu_vm_object_mapper {
	struct mmu_vm_space *space;
	unsigned regions; /* SPACE's regions over the object (each piece of a split one) */
	bool forking;     /* SPACE is a child that fork is still building */
};

/* The fields are the library's. */
struct mmu_vm_object {
	struct mmu *mmu;
	atomic_bool lock;                     /* guards slot[] and mapper[] */
	uint64_t npages;
	/* The caller's array; a resident page: its PA | 1; an anonymous
	 * page in the object's store: its slot << 12 | 2. */
	mmu_pa_t *slot;
	const struct mmu_vm_pager_ops *pager; /* NULL: anonymous */
	void *pager_ctx;
	uint64_t mappings; /* regions mapping it, over every space (atomic) */
	uint64_t live;     /* the object's address ^ a constant from init to release */
	/* The reverse map: one record per space mapping it, in the caller's
	 * array (NULL: none kept, no page-out). */
	struct mmu_vm_object_mapper *mapper;
	unsigned mapper_cap, nmappers;
	/* An anonymous object's store (mmu_vm_object_set_swap), and its
	 * pages there. */
	const struct mmu_vm_swap_ops *swap;
	void *swap_ctx;
	uint64_t swapped;
};

/* An anonymous object of NPAGES pages in OBJ's storage, none resident,
 * SLOTS (NPAGES entries, the caller's) cleared. INVALID: SLOTS NULL or
 * NPAGES 0 or above 2^36 (the user half's pages). */
mmu_err_t mmu_vm_object_init_anon(struct mmu *mmu, struct mmu_vm_object *obj, mmu_pa_t *slots, uint64_t npages);

/* A pager-backed object: as above, its pages from OPS->get_page(CTX, i).
 * INVALID also for OPS or OPS->get_page NULL. */
mmu_err_t mmu_vm_object_init_pager(struct mmu *mmu, struct mmu_vm_object *obj, mmu_pa_t *slots, uint64_t npages,
				   const struct mmu_vm_pager_ops *ops, void *ctx);

/* Release OBJ: drop its reference on every resident page. An anonymous
 * page's frame is freed then (no leaf maps it any more: removing a region,
 * exit and fork's failures drop leaf references before they return); a
 * pager's frame keeps the pager's reference, and the pager frees it when
 * it drops that. A page in the object's swap store has its slot freed
 * (the store's free hook). SLOTS, and the mapper records, are the
 * caller's again. Errors (nothing changed):
 * INVALID (OBJ not initialised or released), BUSY (a region of some
 * space maps it: remove those regions or exit those spaces first). */
mmu_err_t mmu_vm_object_release(struct mmu_vm_object *obj);

/* The frame of OBJ's page INDEX: MMU_OK with *OUT when resident,
 * NOTEXIST when not (in the store included), INVALID for an index beyond the object or an
 * object not live. Takes the object's lock. */
mmu_err_t mmu_vm_object_page(struct mmu_vm_object *obj, uint64_t index, mmu_pa_t *out);

/* ---- reclaim of object pages: the reverse map ----
 *
 * An object given mapper storage keeps one record per space that has a
 * region over it (struct mmu_vm_object_mapper: the space, how many of its
 * regions), kept by every call that changes regions: region add (a new
 * record for a space's first region over OBJ), fork (the child's), region
 * protect, remove and resize (the pieces of a split), exit (a space with
 * no region over OBJ left loses its record). From a record the page-out
 * finds each leaf of an object page: the space's regions over OBJ that
 * hold the page give the VAs (a private region's copy is another frame,
 * and stays). Region add and fork that need a record when every one is
 * taken fail with NOSPACE (a bigger array fixes it) and change nothing.
 * The records are guarded by the object's lock.
 *
 * Locking. The order is space lock, object lock, tree lock; a page-out
 * or a test starts from the object, so it holds the object's lock and
 * only tries the space locks of the mappers: when one is held elsewhere
 * (a fault, a region call, exit, a fork building a child) the call
 * answers BUSY and changes nothing, and the kernel's reclaim moves on to
 * another page (Linux's reclaim skips a page the same way). */

/* Give OBJ the array RECORDS of CAPACITY records (the caller's, the
 * library's until OBJ is released or given another array), or none
 * (NULL and 0). Grow by giving a bigger array: the records move into
 * it, and the old one is the caller's again; RECORDS may be the array
 * OBJ uses now (a capacity grown in place) but must not overlap it
 * otherwise. Without records an object works as before, but its pages
 * cannot be paged out. Errors, in this order: INVALID (OBJ not live;
 * RECORDS NULL with CAPACITY not 0, or CAPACITY 0 with RECORDS), BUSY
 * (regions map OBJ and it keeps no records: they were never counted; or
 * RECORDS NULL while records are in use), NOSPACE (CAPACITY below the
 * records in use). Takes the object's lock. */
mmu_err_t mmu_vm_object_set_mapper_storage(struct mmu_vm_object *obj, struct mmu_vm_object_mapper *records,
					   unsigned capacity);

/* Give the anonymous OBJ the swap store OPS (every hook set; the same
 * struct spaces take, mmu_vm_space_set_swap) with CTX, or none (OPS
 * NULL): where mmu_vm_object_page_out puts its pages. Errors, in this
 * order: INVALID (OBJ not live or pager-backed, a hook of OPS NULL), BUSY
 * (pages of OBJ are in the store and OPS or CTX differ from its store's).
 * Its hooks run under OBJ's lock (write and free also under the mappers'
 * space locks): they must not sleep nor call the library. */
mmu_err_t mmu_vm_object_set_swap(struct mmu_vm_object *obj, const struct mmu_vm_swap_ops *ops, void *ctx);

/* Page out page INDEX of OBJ (Linux's try_to_unmap, FreeBSD's
 * pmap_remove_all): every leaf mapping its frame, in every space of OBJ's
 * records (shared regions, and private regions where the page was not
 * copied yet), is removed, all with one shootdown (a full non-global
 * flush on every CPU), each leaf's frame reference dropped; then OBJ's
 * slot gives up the frame, so the next fault on the page brings it back.
 * A pager object: the slot is emptied and OBJ's reference dropped, the
 * frame stays the pager's (its own reference keeps it), and the next
 * fault asks get_page again. An anonymous object with a store
 * (mmu_vm_object_set_swap): the leaves are made not-present first (one
 * shootdown: nobody writes the frame any more), the store's write copies
 * the frame into a slot, then the leaves are cleared and the frame freed;
 * OBJ's slot keeps the store's slot, and the next fault reads it into a
 * fresh frame (DEMAND; NOMEM changes nothing; a read error refuses the
 * access) and frees it; release frees the slots of pages still out.
 * *DIRTY (may be NULL) is set when one of those leaves had D (the shadow
 * of a KPTI space shares the leaves), else cleared: for a pager, the
 * caller writes the frame back then, which is safe now that no TLB holds
 * it. Errors, in this order (each changes nothing): INVALID (OBJ not
 * live, INDEX beyond it, OBJ without mapper storage, OBJ anonymous
 * without a store), NOTEXIST (the page is not resident, or in the store
 * already), BUSY (a mapper's space lock is held elsewhere, or fork is
 * building a mapper; an anonymous frame with references its leaves do
 * not account for), NOMEM (the store's write failed: the leaves are back
 * as they were). Takes the object's lock, tries the mappers' space
 * locks, then takes their tree locks. */
mmu_err_t mmu_vm_object_page_out(struct mmu_vm_object *obj, uint64_t index, bool *dirty);

/* What mmu_vm_object_page_referenced does to the Accessed bits it reads. */
enum mmu_vm_accessed {
	MMU_VM_ACCESSED_KEEP,  /* test only: no leaf changes */
	MMU_VM_ACCESSED_CLEAR, /* test and clear (a clock's hand passing) */
};

/* Whether a leaf of page INDEX of OBJ (in any space of its records) had
 * the Accessed bit, in *REFERENCED; with MMU_VM_ACCESSED_CLEAR, the bit is also taken
 * from each of them (one atomic read-modify-write each, as mmu_harvest
 * does), the invalidations batched into one flush before the return: the
 * test of a clock over object pages. Anonymous objects too. Errors, in
 * this order (nothing changed): INVALID (OBJ not live, INDEX beyond it,
 * HOW neither of the two, no mapper storage), NOTEXIST (not resident), BUSY (as for page-out).
 * Locks as page-out. */
mmu_err_t mmu_vm_object_page_referenced(struct mmu_vm_object *obj, uint64_t index, enum mmu_vm_accessed how,
					bool *referenced);

/* Add a region over [VA, VA+LEN) mapping OBJ's pages from FIRST_PAGE on,
 * SHARE being MMU_VM_SHARED or MMU_VM_PRIVATE, PROT as for
 * mmu_vm_region_add. Nothing is mapped until touched (a fault maps the
 * object's page, filling it first when absent). Errors, in this order:
 * INVALID (as region add's; SHARE another kind; OBJ NULL, not live or of
 * another mmu; the range beyond the object's end), UNALIGNED,
 * INVALID_PERMISSION, DUPLICATED, NOSPACE (the region storage, or OBJ's
 * mapper records when SP has none yet and every one is taken).
 *
 * Object regions under the other calls: remove, resize (shrinking) and
 * exit drop the leaves' references only, never the object's; protect
 * keeps a shared region shared (W removed, then added back, makes the
 * next write fault map the object's page writable again, counted as
 * DEMAND: no copy); a split keeps each piece's first_page right, and
 * pieces merge back only when their pages follow on in the same object;
 * resize may not grow a region beyond the object's end (INVALID, after
 * NOTEXIST). Fork gives the child the same regions (the object's mapping
 * count grows by as many) and copies shared leaves as they are, writable
 * ones included; private leaves are copy-on-write as anonymous ones. */
mmu_err_t mmu_vm_region_add_object(struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len, unsigned prot,
				   enum mmu_vm_kind share, struct mmu_vm_object *obj, uint64_t first_page);

/* Locking of the regions. The space lock (taken by every call above, the
 * fault handler, fork, exit and mmu_vm_region_get) protects the region
 * array, its count and its storage pointer. A fault may change a region
 * (a stack grows down: its start and length), region calls move regions
 * inside the array (it stays sorted for binary search), and a storage
 * change moves all of them to another array.
 *
 * mmu_vm_region_at takes no lock: it is for a caller that keeps all of
 * those calls off SP while it looks (its own per-process lock held around
 * them and around this call, as Linux's mmap_lock; or one CPU). It
 * returns the region containing VA, or NULL: read it, never write it;
 * it is valid until the caller's next region call, fault, exit or storage
 * change on SP. Anyone else calls mmu_vm_region_get, which takes the space
 * lock and copies the region containing VA into *OUT (false, *OUT
 * untouched, when there is none). Both search in O(log n). */
const struct mmu_vm_region *mmu_vm_region_at(const struct mmu_vm_space *sp, mmu_vaddr_t va);
bool mmu_vm_region_get(struct mmu_vm_space *sp, mmu_vaddr_t va, struct mmu_vm_region *out);

/* ---- faults ---- */

/* #PF error-code bits (SDM 4.7). */
enum {
	MMU_PF_P = 1u << 0,
	MMU_PF_W = 1u << 1,
	MMU_PF_U = 1u << 2,
	MMU_PF_RSVD = 1u << 3,
	MMU_PF_ID = 1u << 4,
	MMU_PF_PK = 1u << 5,
	MMU_PF_SS = 1u << 6,
};

/* Which access faulted. */
enum mmu_vm_fault_path {
	MMU_VM_FAULT_ACCESS,    /* the faulting instruction's own access (a #PF from user or kernel code);
				 * a supervisor fault on this path is KERNEL_BUG */
	MMU_VM_FAULT_COPY_USER, /* a supervisor access inside a user-access window: the hooks of the
				 * copies below, or the kernel's own code its exception table covers
				 * (see "Kernel access to user memory"): handled as the user's access,
				 * refused as REFUSED */
};

/* A fault's error code and address, decoded. */
struct mmu_vm_fault {
	mmu_vaddr_t va;
	bool present, write, user, rsvd, fetch, pk, shadow_stack;
	enum mmu_vm_fault_path path;
};

struct mmu_vm_fault mmu_vm_fault_decode(uint32_t error_code, mmu_vaddr_t cr2, enum mmu_vm_fault_path path);

/* What the handler decided: its one result. The first four
 * (mmu_vm_resolved): retry the access. */
enum mmu_vm_outcome {
	MMU_VM_SPURIOUS,   /* the tables already allow it: nothing changed */
	MMU_VM_DEMAND,     /* a page was mapped: a zeroed frame, or an object's page (made
			    * writable too, in a shared region, after protect took W away),
			    * or a page read back from swap (counted in swapin too) */
	MMU_VM_COW,        /* the frame was copied (or taken over) and mapped writable */
	MMU_VM_STACK_GROWN, /* the stack region grew to the page, which was mapped */
	MMU_VM_SEGV,       /* a refused user access: the kernel kills the process */
	MMU_VM_REFUSED,    /* a refused access in a user-access window: the kernel's fixup
			    * returns an error (-EFAULT), the process lives */
	MMU_VM_KERNEL_BUG, /* a supervisor fault outside a user-access window (path ACCESS) */
	MMU_VM_CORRUPT,    /* RSVD: a reserved bit set in a paging entry */
	MMU_VM_NOMEM,      /* no frame or table for the fix: nothing changed, nothing counted;
			    * retry the access after reclaim (outside the library), or kill */
	MMU_VM_DEAD,       /* SP has exited (mmu_vm_space_exit): nothing done, the caller's bug */
};

static inline bool mmu_vm_resolved(enum mmu_vm_outcome o) { return o <= MMU_VM_STACK_GROWN; }

/* Handle fault F in SP, in this order: RSVD -> CORRUPT; a supervisor fault
 * outside a user-access window (path ACCESS) -> KERNEL_BUG; an exited
 * space -> DEAD; a kernel-half or non-canonical address, PK, shadow stack,
 * a supervisor fetch, an address below the space's min address ->
 * refused; then spurious, demand-zero (never in a guard region),
 * copy-on-write, stack growth; anything else is refused (SEGV for a user
 * access, REFUSED in a window). NOMEM when a frame or a table cannot be
 * allocated. Takes the space lock, then the tree lock; the caller holds
 * neither. Counts the outcome (SEGV in `segv`; REFUSED, KERNEL_BUG,
 * CORRUPT, NOMEM and DEAD in nothing). */
enum mmu_vm_outcome mmu_vm_handle_fault(struct mmu_vm_space *sp, const struct mmu_vm_fault *f);

/* The path of a #PF taken in kernel mode (CS.RPL 0), for
 * mmu_vm_fault_decode: MMU_VM_FAULT_COPY_USER when the faulting
 * instruction lies in one of the kernel's user-access windows (IN_WINDOW:
 * its exception table has an entry for the faulting RIP) and could reach
 * user pages (SMAP off, or EFLAGS.AC set in RFLAGS, the interrupted
 * flags); MMU_VM_FAULT_ACCESS otherwise, which the handler answers with
 * KERNEL_BUG (an SMAP violation retried as resolved would fault forever).
 * Takes no lock. */
enum mmu_vm_fault_path mmu_vm_kernel_fault_path(bool in_window, bool smap, uint64_t rflags);

/* The counters since the previous call (or since creation / fork). */
struct mmu_vm_counters mmu_vm_counters_take(struct mmu_vm_space *sp);

/* ---- fork ---- */

/* Make CHILD a copy-on-write copy of PARENT: the same regions (in CHILD's
 * inline slots: NOSPACE when PARENT has more) and min address, a tree with
 * the same leaves, writable pages write-protected in both (one flush for
 * the parent, to the CPUs where it is loaded), every frame's refcount
 * incremented; with KPTI on PARENT, CHILD gets its own shadow on the same
 * template. CHILD is storage, not a space: fork creates it (do not call
 * mmu_vm_space_create first). INVALID, nothing changed, when CHILD is
 * PARENT or a live space (created and not exited: its root would leak).
 * CHILD's counters start at zero. Errors, in this order: INVALID,
 * NOSPACE, NOMEM; with any of them nothing changed and CHILD is not
 * created. NOSPACE also when an object PARENT maps has no mapper record
 * left for CHILD (mmu_vm_object_set_mapper_storage); meanwhile CHILD's
 * records say it is being built, and a page-out of those objects is
 * BUSY. Like every vm call, it runs on one CPU from start to end. */
mmu_err_t mmu_vm_fork(struct mmu_vm_space *parent, struct mmu_vm_space *child);

/* ---- kernel access to user memory ----
 *
 * A user-access window is kernel code that touches user addresses on
 * purpose, with EFLAGS.AC=1 (stac ... clac) and an exception-table entry
 * that says where to resume when the access is refused: the hooks of the
 * copies below, or the kernel's own in-place accesses (xv6 reads path
 * names and pipe buffers in place). A #PF inside a window, decoded with
 * MMU_VM_FAULT_COPY_USER (mmu_vm_kernel_fault_path), is handled as the
 * user's own access to the page would be, with the supervisor's error code:
 *   resolved: demand-zero (read or write), copy-on-write (write only: a
 *     read never copies), stack growth (read or write), spurious;
 *   refused (REFUSED): no region (that no stack may grow into), a write to
 *     a region without W (absent or present), a kernel-half or
 *     non-canonical address, PK, shadow stack, any fetch.
 * Outside a window, or inside one with SMAP on and EFLAGS.AC clear, the
 * path is ACCESS: KERNEL_BUG (Linux oopses there too). What the kernel's
 * #PF handler does with the outcome: resolved -> return, the access runs
 * again; REFUSED or NOMEM -> resume at the window's fixup, which returns
 * an error (-EFAULT; the process lives on); anything else -> panic. With
 * CR0.WP=0 a supervisor write to a read-only page does not fault, so an
 * in-place write would go straight into a frame shared after fork: write
 * in place only with WP=1, or use mmu_vm_copy_to_user, which checks the
 * tables first. The window runs with no library lock held on this CPU
 * (the handler takes the space lock, then the tree lock) and on the CPU
 * that has SP loaded; between the handler's return and the retry another
 * CPU may undo the fix (a region removed), so the access may fault again.
 *
 * The copies: LEN bytes page by page through the port's hook, each fault
 * it reports handed to mmu_vm_handle_fault as a window's (counted as the
 * user's would be); at most 4 faults resolved per piece (a page, or a
 * string's 64-byte load), then the last fault's code is returned as a
 * refusal. Results: MMU_OK with *ERROR_CODE 0 when
 * everything was copied; MMU_OK with *ERROR_CODE = MMU_VM_COPY_REFUSED |
 * the #PF error code of the refused fault when the copy stopped there (the
 * pages before it copied; the process lives on); INVALID (nothing copied)
 * when [VA, VA+LEN) is not inside the user half (access_ok) or SP has
 * exited; NOMEM as for faults (the pages before it copied). */

/* Set in a copy's *ERROR_CODE when it stopped at a refused fault; bits
 * 0-15 are that fault's #PF error code, which alone may be 0 (a
 * supervisor read of an absent page). */
#define MMU_VM_COPY_REFUSED (1u << 31)

/* mmu_vm_fork with CHILD's regions in SLOTS, CAPACITY regions of the
 * caller's (as mmu_vm_space_set_region_storage takes them: NULL and 0 is
 * the inline slots, which is mmu_vm_fork). INVALID also for SLOTS and
 * CAPACITY as set_region_storage refuses them, or SLOTS overlapping
 * PARENT's region array; NOSPACE when PARENT has more regions than
 * CAPACITY. */
mmu_err_t mmu_vm_fork_with_storage(struct mmu_vm_space *parent, struct mmu_vm_space *child,
				   struct mmu_vm_region *slots, unsigned capacity);

/* ---- kernel writes into user memory ---- */

/* The store a kernel performs for copy-to-user: LEN bytes (never crossing
 * a page) from SRC to user VA with EFLAGS.AC=1 (stac; mov; clac, under an
 * exception-table fixup). Returns 0, or the #PF error code when it
 * faulted (the bytes may be partly written). */
typedef uint32_t (*mmu_vm_store_fn)(void *ctx, mmu_vaddr_t va, const uint8_t *src, size_t len);

/* The load a kernel performs for copy-from-user: LEN bytes (never
 * crossing a page) from user VA to DST with EFLAGS.AC=1, under an
 * exception-table fixup (the software machine: a supervisor read with
 * AC=1). Returns true when all LEN bytes were loaded; false when it
 * faulted, with the #PF error code in *ERROR_CODE (DST may be partly
 * written). Unlike a store's, a load's code may be 0: a supervisor read
 * of an absent page, hence the separate answer. */
typedef bool (*mmu_vm_load_fn)(void *ctx, uint8_t *dst, mmu_vaddr_t va, size_t len, uint32_t *error_code);

/* Copy LEN bytes from SRC to VA in SP (the space loaded on this CPU),
 * resolving faults exactly as a user write would (demand, COW, stack
 * growth). A page that is present but not writable is faulted first even
 * where the store would not fault (CR0.WP=0 would write straight into a
 * shared frame). Results as above. */

/* Copy LEN bytes from SRC to VA in SP (the space loaded on this CPU), page
 * by page, resolving faults exactly as a user write would (demand, COW,
 * stack growth, counted the same way). A page that is present but not
 * writable is faulted first even where the store would not fault (CR0.WP=0
 * would write straight into a shared frame). MMU_OK with *ERROR_CODE 0 when
 * everything was copied; MMU_OK with the error code of the refused fault
 * when the copy stopped (the process lives on); INVALID (nothing written)
 * when [VA, VA+LEN) is not inside the user half (access_ok); NOMEM as for
 * faults. Below SP's min address the handler refuses every fault, so a
 * copy there stops with the store's error code. */
mmu_err_t mmu_vm_copy_to_user(struct mmu_vm_space *sp, mmu_vaddr_t va, const void *src, size_t len,
			      mmu_vm_store_fn store, void *ctx, uint32_t *error_code);

/* Copy LEN bytes from VA in SP (the space loaded on this CPU) to DST,
 * resolving faults exactly as a user read would (demand-zero, stack
 * growth; never a COW copy: it only reads, so a page shared after fork
 * stays shared). Results as above; when the copy stopped early (a refused
 * fault, NOMEM) the bytes of DST it did not copy are zeroed, as Linux's
 * copy_from_user does. INVALID leaves DST alone. */
mmu_err_t mmu_vm_copy_from_user(struct mmu_vm_space *sp, void *dst, mmu_vaddr_t va, size_t len,
				mmu_vm_load_fn load, void *ctx, uint32_t *error_code);

/* Copy the NUL-terminated string at VA in SP into DST, at most MAX bytes,
 * faulting pages in as copy-from-user does (it loads up to 64 bytes at a
 * time, never past the page that holds the NUL). Linux's
 * strncpy_from_user, with the length in *LEN:
 *   MMU_OK, *ERROR_CODE 0, *LEN < MAX: the string's length; DST[*LEN] is
 *     its NUL (the bytes after it that were loaded are zeroed);
 *   MMU_OK, *ERROR_CODE 0, *LEN == MAX: no NUL in the first MAX bytes;
 *     DST holds them and is NOT terminated (the caller's "too long");
 *   MMU_OK, *ERROR_CODE MMU_VM_COPY_REFUSED | the refused fault's code:
 *     *LEN bytes (none of them NUL) were copied before it; DST is not
 *     terminated;
 *   INVALID: VA is not in the user half or SP has exited (nothing read),
 *     or the string runs to the end of the user half without a NUL before
 *     MAX (DST holds the *LEN bytes read, not terminated);
 *   NOMEM as for faults.
 * MAX 0: MMU_OK, *LEN 0, nothing read or written. */
mmu_err_t mmu_vm_strncpy_from_user(struct mmu_vm_space *sp, char *dst, mmu_vaddr_t va, size_t max,
				   mmu_vm_load_fn load, void *ctx, size_t *len, uint32_t *error_code);

/* ---- KPTI (include/mmu64/kpti.h) ---- */

/* Give SP a shadow tree whose kernel half is K's template. A child forked
 * from SP gets its own. INVALID when SP has one already or when K belongs
 * to another mmu; NOMEM. */
mmu_err_t mmu_vm_kpti_enable(struct mmu_vm_space *sp, struct mmu_kpti *k);

/* The CR3 for this exit to user mode: the shadow's, or the space's own
 * without KPTI. With PCIDs (SP loaded on this CPU) the shadow runs under
 * the space's PCID | MMU_PCID_USER, with the no-flush bit unless an
 * invalidation since the last exit missed that PCID; the call consumes
 * that debt, so take it once per exit, last thing before the switch. */
uint64_t mmu_vm_user_cr3(struct mmu_vm_space *sp);

/* The CR3 for entry from user mode into the kernel: the space's own, with
 * its PCID on this CPU and the no-flush bit when PCIDs are on (SP loaded
 * on this CPU). */
uint64_t mmu_vm_kernel_cr3(const struct mmu_vm_space *sp);

/* Check SP's shadow: its user-half root entries equal the space's, its
 * kernel-half root entries equal the template's (A ignored in both), and
 * every present entry of its kernel half has no US (but on the path to and
 * the leaves of the kernel's user pages, mmu_kernel_map_user) and every
 * leaf lies in the template's ranges. Each violation is one line to OUT (may be NULL);
 * returns how many (0 without KPTI). */
size_t mmu_vm_kpti_audit(struct mmu_vm_space *sp, mmu_line_fn out, void *ctx);

/* Dump [START, END) of SP's shadow tree as mmu_dump does (END 0: the end
 * of the address space): its user half is the space's own tables, its
 * kernel half the template's. NOTEXIST without KPTI. */
mmu_err_t mmu_vm_kpti_dump(struct mmu_vm_space *sp, mmu_vaddr_t start, mmu_vaddr_t end, mmu_line_fn out, void *ctx);

#ifdef __cplusplus
}
#endif

#endif
