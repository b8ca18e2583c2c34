/* SPDX-License-Identifier: MIT */
/* Process-space features beyond anonymous memory, as a user program sees
 * them: the break (sbrk), memory shared between parent and child, the
 * kernel's file mapped through the pager hook, 2M anonymous pages, and
 * swap (page-out to the kernel's store, page-in on touch).
 * Each test puts back every frame it took (the kernel's figures after
 * the last process must match the ones before the first). */
#include "kernel/user/utest.h"

#define SHM 0x50000000ul   /* the shared-memory test's object */
#define PRIV 0x58000000ul  /* and its private page, for contrast */
#define FILE 0x60000000ul  /* the file's mapping */
#define HUGE 0x80000000ul  /* 2M-aligned: the huge-page test's region */
#define SWAP 0x68000000ul  /* the swap test's pages */
#define SWAP_PAGES 8ul
#define MIB2 (2ul << 20)

/* ---- sbrk ---- */

/* Pages [FIRST, LAST) of the heap each hold their index (WRITE), or are
 * checked for it (!WRITE); false on the first that does not. */
static bool heap_pages(uint64_t first, uint64_t last, bool write)
{
	for (uint64_t i = first; i < last; i++) {
		volatile uint64_t *w = (volatile uint64_t *)(UHEAP_BASE + i * PAGE);
		if (write)
			*w = i;
		else if (*w != i)
			return false;
	}
	return true;
}

/* The heap grows (a frame per page written), shrinks (the frames cut off
 * freed, a touch past the break kills), grows again over zeroed pages,
 * and goes away; the errors. */
static bool sbrk_grow_shrink(void)
{
	uint64_t used = frames_used();
	CHECK(sbrk(0) == (int64_t)UHEAP_BASE, "break at start: %lx", sbrk(0));
	CHECK(sbrk(64 * PAGE) == (int64_t)UHEAP_BASE, "grow");
	CHECK(frames_used() == used, "growth allocated frames");
	CHECK(heap_pages(0, 64, true), "write");
	CHECK(frames_used() == used + 64, "64 pages written: %lu frames more", frames_used() - used);
	CHECK(sbrk(-32 * (int64_t)PAGE) == (int64_t)(UHEAP_BASE + 64 * PAGE), "shrink");
	CHECK(frames_used() == used + 32, "after the shrink: %lu frames more", frames_used() - used);
	CHECK(heap_pages(0, 32, false), "the pages below the break lost their data");
	volatile uint8_t *past = (volatile uint8_t *)(UHEAP_BASE + 32 * PAGE);
	struct uwait w = {0};
	CHECK(child_touch(past, false, &w) == STATUS_SEGV && w.fault_va == (uint64_t)past,
	      "touch past the break: status %ld at %lx", w.status, w.fault_va);
	CHECK(child_touch(past - PAGE, false, &w) == 0, "touch below the break: status %ld", w.status);
	CHECK(sbrk(32 * PAGE) == (int64_t)(UHEAP_BASE + 32 * PAGE), "grow again");
	CHECK(walk_of(past).err != 0, "a page past the old break still mapped");
	for (uint64_t off = 32 * PAGE; off < 64 * PAGE; off += 8)
		CHECK(*(volatile uint64_t *)(UHEAP_BASE + off) == 0, "old data at +%lx", off);
	CHECK(sbrk(PAGE + 1) == -EINVAL, "unaligned increment accepted");
	CHECK(sbrk(-65 * (int64_t)PAGE) == -EINVAL, "a break below the heap accepted");
	CHECK(sbrk((int64_t)UHEAP_MAX) == -ENOMEM, "a heap beyond UHEAP_MAX accepted");
	CHECK(map(UHEAP_BASE + 80 * PAGE, PAGE, UPROT_R) == 0, "map above the heap");
	CHECK(sbrk(32 * PAGE) == -ENOMEM, "growth over a mapping accepted");
	CHECK(unmap(UHEAP_BASE + 80 * PAGE, PAGE) == 0, "unmap");
	CHECK(sbrk(-64 * (int64_t)PAGE) == (int64_t)(UHEAP_BASE + 64 * PAGE), "shrink to nothing");
	CHECK(sbrk(0) == (int64_t)UHEAP_BASE && walk_of((void *)UHEAP_BASE).err != 0, "heap left");
	CHECK(frames_used() == used, "frames at the end: %ld more", (int64_t)(frames_used() - used));
	return true;
}

/* ---- shared memory ---- */

/* A child that makes its own shared object, writes it and exits without
 * unmapping it: the object goes with the last space that mapped it. */
static bool shared_freed_at_exit(void)
{
	uint64_t used = frames_used();
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		if (mapshared(SHM, 8 * PAGE, UPROT_R | UPROT_W) != 0)
			exit(1);
		for (uint64_t off = 0; off < 8 * PAGE; off += PAGE)
			*(volatile uint8_t *)(SHM + off) = 1;
		exit(0);
	}
	CHECK(wait_status(NULL) == 0, "child");
	CHECK(frames_used() == used, "after the child's exit: %ld frames more", (int64_t)(frames_used() - used));
	return true;
}

/* What the child of shared_vs_private does: sees the parent's frames,
 * the shared one still writable (never COW), writes both; its exit
 * status says which check failed. */
static int shared_child(uint64_t shared_pa, uint64_t private_pa)
{
	volatile uint64_t *shm = (volatile uint64_t *)SHM, *priv = (volatile uint64_t *)PRIV;
	struct uwalk s = walk_of(shm), p = walk_of(priv);
	if (s.pa != shared_pa || !(s.leaf & PTE_RW) || shm[0] != 1)
		return 1;
	if (p.pa != private_pa || (p.leaf & PTE_RW) || priv[0] != 1)
		return 2;
	for (uint64_t i = 0; i < 4; i++)
		shm[i * PAGE / 8] = 0xc0de0000 + i; /* pages 2 and 3: first touch, by the child */
	priv[0] = 2;
	if (walk_of(shm).pa != shared_pa || walk_of(priv).pa == private_pa)
		return 3;
	return 0;
}

/* A shared object and a private page, written by the parent, then by a
 * child of fork: the parent reads the child's data in the shared pages
 * (even those the child touched first) and its own in the private one,
 * still its frame. Unmapped, the object and its frames go. */
static bool shared_vs_private(void)
{
	uint64_t used = frames_used();
	volatile uint64_t *shm = (volatile uint64_t *)SHM, *priv = (volatile uint64_t *)PRIV;
	CHECK(mapshared(SHM, 0, UPROT_R) == -EINVAL, "an empty object accepted");
	CHECK(mapshared(SHM, 1024 * PAGE, UPROT_R) == -EINVAL, "an object beyond the pool's size accepted");
	CHECK(mapshared(SHM, 4 * PAGE, UPROT_R | UPROT_W) == 0, "mapshared");
	CHECK(map(PRIV, PAGE, UPROT_R | UPROT_W) == 0, "map");
	shm[0] = 1;
	priv[0] = 1;
	uint64_t shared_pa = walk_of(shm).pa, private_pa = walk_of(priv).pa;
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0)
		exit(shared_child(shared_pa, private_pa));
	struct uwait w = {0};
	CHECK(wait_status(&w) == 0, "child: status %ld", w.status);
	for (uint64_t i = 0; i < 4; i++)
		CHECK(shm[i * PAGE / 8] == 0xc0de0000 + i, "shared page %lu: %lx", i, shm[i * PAGE / 8]);
	CHECK(walk_of(shm).pa == shared_pa && (walk_of(shm).leaf & PTE_RW), "shared leaf after fork");
	CHECK(priv[0] == 1 && walk_of(priv).pa == private_pa, "private page: %lx", priv[0]);
	CHECK(unmap(SHM, 4 * PAGE) == 0 && unmap(PRIV, PAGE) == 0, "unmap");
	CHECK(frames_used() == used, "frames at the end: %ld more", (int64_t)(frames_used() - used));
	return shared_freed_at_exit();
}

/* ---- the file ---- */

/* Every word of the mapped file's pages is the file's, but at SKIP (an
 * address, 0 for none). */
static bool file_intact(uint64_t skip)
{
	for (uint64_t p = 0; p < UFILE_PAGES; p++)
		for (uint64_t i = 0; i < PAGE / 8; i++) {
			uint64_t va = FILE + p * PAGE + i * 8;
			if (va != skip && *(volatile uint64_t *)va != ufile_word(p, i))
				return false;
		}
	return true;
}

/* The file mapped private: its content read through the pager; a write
 * copies the page (a new frame, the rest of the page copied); mapped
 * again, the file and its frames are as before. No frame is taken from
 * the pool but the copy, which the unmap gives back. */
static bool file_private(void)
{
	uint64_t used = frames_used(), pa[UFILE_PAGES];
	uint64_t len = UFILE_PAGES * PAGE, word = FILE + PAGE + 64;
	CHECK(mapfile(FILE, len + PAGE, UPROT_R) == -EINVAL, "a mapping beyond the file's end");
	CHECK(mapfile(FILE, len, UPROT_R | UPROT_W) == 0, "mapfile");
	CHECK(file_intact(0), "content");
	for (uint64_t p = 0; p < UFILE_PAGES; p++) {
		struct uwalk w = walk_of((void *)(FILE + p * PAGE));
		CHECK(w.err == 0 && !(w.leaf & PTE_RW), "page %lu: leaf %lx", p, w.leaf);
		pa[p] = w.pa;
	}
	CHECK(frames_used() == used, "reading the file took %lu frames", frames_used() - used);
	*(volatile uint64_t *)word = 42;
	struct uwalk c = walk_of((void *)word);
	CHECK(c.pa != pa[1] && (c.leaf & PTE_RW) && frames_used() == used + 1, "the copy: pa %lx leaf %lx", c.pa,
	      c.leaf);
	CHECK(*(volatile uint64_t *)word == 42 && file_intact(word), "the private copy");
	CHECK(unmap(FILE, len) == 0, "unmap");
	CHECK(frames_used() == used, "the copy kept");
	CHECK(mapfile(FILE, len, UPROT_R) == 0, "mapfile again");
	CHECK(file_intact(0), "the file changed");
	for (uint64_t p = 0; p < UFILE_PAGES; p++)
		CHECK(walk_of((void *)(FILE + p * PAGE)).pa == pa[p], "page %lu in another frame", p);
	struct uwait w = {0};
	CHECK(child_touch((volatile uint8_t *)FILE, false, &w) == STATUS_SEGV && w.fault_error == (PF_P | PF_W | PF_U),
	      "write to a read-only mapping: status %ld error %lx", w.status, w.fault_error);
	CHECK(unmap(FILE, len) == 0, "unmap");
	return true;
}

/* The child's half of file_pageout: the page out of both processes
 * (retried while the parent is inside a library call on another CPU),
 * gone here, then read back through the pager. */
static int file_pageout_child(void)
{
	int64_t r;
	while ((r = filepageout(1)) == -EBUSY)
		;
	if (r != 0)
		return 1; /* read only: clean */
	if (walk_of((void *)(FILE + PAGE)).err == 0)
		return 2;
	if (!file_intact(0))
		return 3;
	return walk_of((void *)(FILE + PAGE)).err == 0 ? 0 : 4;
}

/* The file's page 1 paged out of a parent and its child at once (the
 * file object's reverse map): the parent's leaf went too, and both read
 * the page back intact, in the pager's frame; frames as before. */
static bool file_pageout(void)
{
	uint64_t used = frames_used(), len = UFILE_PAGES * PAGE;
	CHECK(mapfile(FILE, len, UPROT_R) == 0, "mapfile");
	CHECK(file_intact(0), "content");
	uint64_t pa = walk_of((void *)(FILE + PAGE)).pa;
	CHECK(filepageout(UFILE_PAGES) == -EINVAL, "a page beyond the file");
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0)
		exit(file_pageout_child());
	struct uwait w = {0};
	CHECK(wait_status(&w) == 0, "child: status %ld", w.status);
	CHECK(walk_of((void *)(FILE + PAGE)).err != 0, "the parent's leaf stayed");
	CHECK(walk_of((void *)FILE).err == 0, "page 0 went too");
	CHECK(file_intact(0), "the file read back");
	CHECK(walk_of((void *)(FILE + PAGE)).pa == pa, "page 1 in another frame");
	CHECK(unmap(FILE, len) == 0, "unmap");
	CHECK(frames_used() == used, "frames at the end: %ld more", (int64_t)(frames_used() - used));
	return true;
}

/* ---- 2M pages ---- */

/* Every 4K page of the huge region holds its offset, but at SKIP. */
static bool huge_pattern(bool write, uint64_t skip)
{
	for (uint64_t off = 0; off < 2 * MIB2; off += PAGE) {
		volatile uint64_t *w = (volatile uint64_t *)(HUGE + off);
		if (write)
			*w = off;
		else if (HUGE + off != skip && *w != off)
			return false;
	}
	return true;
}

static bool is_huge_leaf(struct uwalk w) { return w.err == 0 && w.size == MIB2 && w.pa % MIB2 == 0; }

/* After fork a child writes into the first block: a 2M copy of its own
 * when a 2M frame is free, else 4K pieces; the data of both intact. */
static bool huge_fork_copy(uint64_t pa0)
{
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		*(volatile uint64_t *)(HUGE + 8) = 7;
		struct uwalk c = walk_of((void *)HUGE);
		exit(c.pa != pa0 && (c.leaf & PTE_RW) && huge_pattern(false, HUGE + 8) ? 0 : 1);
	}
	struct uwait w = {0};
	CHECK(wait_status(&w) == 0, "child: status %ld", w.status);
	CHECK(walk_of((void *)HUGE).pa == pa0 && huge_pattern(false, 0), "the parent's data after the child wrote");
	return true;
}

static bool huge_checks(void)
{
	CHECK(map(HUGE, 2 * MIB2, UPROT_R | UPROT_W) == 0, "map");
	CHECK(huge_pattern(true, 0), "write");
	struct uwalk b0 = walk_of((void *)HUGE), b1 = walk_of((void *)(HUGE + MIB2));
	CHECK(is_huge_leaf(b0) && is_huge_leaf(b1), "leaves: %lx bytes at %lx, %lx bytes at %lx", b0.size, b0.pa,
	      b1.size, b1.pa);
	CHECK(walk_of((void *)(HUGE + MIB2 + 5 * PAGE)).pa == b1.pa + 5 * PAGE, "one frame for the second block");
	if (!huge_fork_copy(b0.pa))
		return false;
	/* A protect of one page splits the second block into 4K leaves, on
	 * the same frame, the data kept. */
	CHECK(protect(HUGE + MIB2 + PAGE, PAGE, UPROT_R) == 0, "protect");
	struct uwalk s = walk_of((void *)(HUGE + MIB2 + 5 * PAGE));
	CHECK(s.size == PAGE && s.pa == b1.pa + 5 * PAGE && huge_pattern(false, 0), "after the split: %lx bytes at %lx", s.size,
	      s.pa);
	CHECK(unmap(HUGE, 2 * MIB2) == 0, "unmap");
	return true;
}

/* 2M pages on: a touch of an aligned anonymous region maps 2M leaves;
 * fork shares them, a write copies, a protect splits, every byte stays. */
static bool huge_pages(void)
{
	uint64_t used = frames_used();
	CHECK(sethuge(1) == 0, "sethuge");
	bool ok = huge_checks();
	sethuge(0); /* the other tests' regions stay 4K */
	(void)unmap(HUGE, 2 * MIB2);
	CHECK(frames_used() == used, "frames at the end: %ld more", (int64_t)(frames_used() - used));
	return ok;
}

/* ---- swap ---- */

static uint64_t swap_slots(void)
{
	struct umeminfo m;
	meminfo(&m);
	return m.swap_slots;
}

/* Word W of page I of the swap region holds swap_word(I, W): every page
 * written (WRITE), or checked; false on the first word that differs. */
static uint64_t swap_word(uint64_t i, uint64_t w) { return 0x7377617000000000ul ^ (i << 20) ^ w; } /* "swap" */

static bool swap_pattern(bool write)
{
	for (uint64_t i = 0; i < SWAP_PAGES; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(SWAP + i * PAGE);
		for (uint64_t w = 0; w < PAGE / 8; w++) {
			if (write)
				p[w] = swap_word(i, w);
			else if (p[w] != swap_word(i, w))
				return false;
		}
	}
	return true;
}

/* Page out pages [0, N) of the region: false on the first refusal. */
static bool swap_out(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (pageout((void *)(SWAP + i * PAGE)) != 0)
			return false;
	return true;
}

/* A child of a parent whose pages are resident: they are shared, and the
 * child's page-out of one takes it out of the parent too (the fork
 * family's reverse map); the child then pages its own copy in. Exit 0
 * when so. */
static void swap_shared_child(void)
{
	exit(pageout((void *)SWAP) == 0 && swap_pattern(false) ? 0 : 1);
}

/* Fork with every page out: each side pages in its own copy. */
static bool swap_fork(uint64_t slots, uint64_t mapped)
{
	CHECK(swap_out(SWAP_PAGES), "page-out before fork");
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0)
		exit(swap_pattern(false) ? 0 : 1);
	CHECK(swap_pattern(false), "the parent's data after fork");
	struct uwait w = {0};
	CHECK(wait_status(&w) == 0, "child: status %ld", w.status);
	CHECK(swap_slots() == slots && frames_used() == mapped, "after fork: %lu slots, %ld frames more",
	      swap_slots() - slots, (int64_t)(frames_used() - mapped));
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0)
		swap_shared_child();
	CHECK(wait_status(&w) == 0, "a shared page paged out by the child: status %ld", w.status);
	CHECK(walk_of((void *)SWAP).err != 0, "the parent's page still mapped after the child paged it out");
	CHECK(swap_pattern(false), "the parent's data after the child's page-out");
	CHECK(swap_slots() == slots && frames_used() == mapped, "after the shared page-out: %lu slots, %ld frames more",
	      swap_slots() - slots, (int64_t)(frames_used() - mapped));
	return true;
}

static bool swap_checks(uint64_t slots)
{
	CHECK(map(SWAP, SWAP_PAGES * PAGE, UPROT_R | UPROT_W) == 0, "map");
	CHECK(pageout((void *)SWAP) == -ENOENT, "page-out of an untouched page");
	CHECK(swap_pattern(true), "write");
	uint64_t mapped = frames_used();
	CHECK(swap_out(SWAP_PAGES), "page-out");
	CHECK(frames_used() == mapped - SWAP_PAGES, "after page-out: %ld frames fewer",
	      (int64_t)(mapped - frames_used()));
	CHECK(swap_slots() == slots + SWAP_PAGES, "%lu slots taken", swap_slots() - slots);
	CHECK(walk_of((void *)SWAP).err != 0, "a page out still mapped");
	CHECK(pageout((void *)SWAP) == -ENOENT, "a second page-out");
	CHECK(pageout((void *)(SWAP + PAGE + 8)) == -EINVAL, "an unaligned page-out");
	CHECK(setswap(0) == -EBUSY, "the store taken while pages are out");
	CHECK(swap_pattern(false), "the data after page-in");
	CHECK(frames_used() == mapped && swap_slots() == slots, "after page-in: %ld frames, %lu slots more",
	      (int64_t)(frames_used() - mapped), swap_slots() - slots);
	if (!swap_fork(slots, mapped))
		return false;
	CHECK(swap_out(SWAP_PAGES / 2), "page-out before unmap");
	CHECK(unmap(SWAP, SWAP_PAGES * PAGE) == 0, "unmap");
	CHECK(swap_slots() == slots, "unmap left %lu slots", swap_slots() - slots);
	return true;
}

/* Swap: pages written, paged out (their frames freed, slots taken), read
 * back intact on the next touch; fork with pages out, a shared page
 * refused; unmap frees the slots; the store given and taken. */
static bool swap_pages(void)
{
	uint64_t used = frames_used(), slots = swap_slots();
	CHECK(pageout((void *)SWAP) == -EINVAL, "page-out without a store");
	CHECK(setswap(1) == 0, "setswap");
	bool ok = swap_checks(slots);
	(void)unmap(SWAP, SWAP_PAGES * PAGE);
	CHECK(setswap(0) == 0, "setswap off");
	CHECK(frames_used() == used && swap_slots() == slots, "at the end: %ld frames, %lu slots more",
	      (int64_t)(frames_used() - used), swap_slots() - slots);
	return ok;
}

/* The child's half of shared_pageout: the page out of both processes
 * (the parent wrote it: dirty), gone here, read back from the pool, and
 * written for the parent to read. */
static int shared_pageout_child(void)
{
	volatile uint64_t *shm = (volatile uint64_t *)SHM;
	int64_t r;
	while ((r = opageout(SHM)) == -EBUSY)
		;
	if (r != 1)
		return 1;
	if (walk_of((void *)SHM).err == 0)
		return 2;
	if (shm[0] != 0x5151)
		return 3;
	shm[1] = 0x5252;
	return 0;
}

/* An anonymous shared object's page paged out of a parent and its child
 * at once (the object's reverse map) into the swap pool, its frame
 * freed; the child reads it back and writes, the parent reads both
 * words. Out again and unmapped while out: the object's release frees
 * the slot; frames and slots as before. */
static bool shared_pageout(void)
{
	uint64_t used = frames_used(), slots = swap_slots();
	volatile uint64_t *shm = (volatile uint64_t *)SHM;
	CHECK(opageout(SHM) == -EINVAL, "a page-out where no object is mapped");
	CHECK(mapshared(SHM, 2 * PAGE, UPROT_R | UPROT_W) == 0, "mapshared");
	CHECK(opageout(SHM) == -ENOENT, "a page-out of a page never touched");
	shm[0] = 0x5151;
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0)
		exit(shared_pageout_child());
	struct uwait w = {0};
	CHECK(wait_status(&w) == 0, "child: status %ld", w.status);
	CHECK(shm[0] == 0x5151 && shm[1] == 0x5252, "after the child: %lx %lx", shm[0], shm[1]);
	CHECK(swap_slots() == slots, "the slot kept after the page came back");
	int64_t r;
	while ((r = opageout(SHM)) == -EBUSY)
		;
	CHECK(r == 0 && swap_slots() == slots + 1, "out again: %ld, %lu slots more", r, swap_slots() - slots);
	CHECK(unmap(SHM, 2 * PAGE) == 0, "unmap");
	CHECK(frames_used() == used && swap_slots() == slots, "at the end: %ld frames, %lu slots more",
	      (int64_t)(frames_used() - used), swap_slots() - slots);
	return true;
}

const struct utest memtests[] = {
	{"sbrk: grow, shrink (a touch past the break kills), grow over zeroed pages", sbrk_grow_shrink},
	{"shared memory between parent and child, private memory COW beside it", shared_vs_private},
	{"a file through the pager hook, mapped private: a write copies, the file stays", file_private},
	{"a file page paged out of parent and child at once, read back through the pager", file_pageout},
	{"2M anonymous pages: mapped on touch, copied by a write after fork, split by protect", huge_pages},
	{"swap: page-out frees frames, page-in on touch intact, fork with pages out, BUSY when shared", swap_pages},
	{"a shared object's page paged out of parent and child into the swap pool, read back by both", shared_pageout},
};
const unsigned memtests_count = sizeof memtests / sizeof memtests[0];
