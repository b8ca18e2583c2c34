/* SPDX-License-Identifier: MIT */
/* The kernel's built-in user-mode test: MIT xv6's COW lab (cowtest:
 * simple, three, file, forkfork) and KeOS's fork/COW grading cases, plus
 * map/unmap/protect, stack growth, the stack guard and the kernel reading
 * user strings (copied and in place), run as real processes in ring 3,
 * then memtest.c's process-space tests.
 * Physical pages and entry bits come from the walk debug call. The exit
 * status is the number of failed tests (the kernel reports it and checks
 * that every frame and table came back). */
#include "kernel/user/utest.h"

#define HEAP 0x10000000ul  /* sbrk-like area of the xv6 tests */
#define AREA 0x20000000ul  /* the KeOS-style checks' own mappings */
#define STRS 0x30000000ul  /* the string checks' own mappings */

static int failures;

/* ---- xv6 cowtest ---- */

/* Allocate more than half of the free memory, then fork twice: only
 * possible when fork copies nothing. */
static bool simpletest(void)
{
	uint64_t sz = (free_bytes() / 3 * 2) & ~(PAGE - 1);
	CHECK(map(HEAP, sz, UPROT_R | UPROT_W) == 0, "map %lu bytes", sz);
	for (uint64_t off = 0; off < sz; off += PAGE)
		*(volatile int64_t *)(HEAP + off) = getpid();
	for (int i = 0; i < 2; i++) {
		int64_t pid = fork();
		CHECK(pid >= 0, "fork failed (%ld)", pid);
		if (pid == 0)
			exit(0);
		CHECK(wait_status(NULL) == 0, "child status");
	}
	CHECK(unmap(HEAP, sz) == 0, "unmap");
	return true;
}

/* Three processes writing overlapping parts of a shared area; more than
 * the free memory in total, so frames must be freed as copies are made. */
static bool threetest(void)
{
	uint64_t sz = (free_bytes() / 4) & ~(PAGE - 1);
	char *p = (char *)HEAP;
	CHECK(map(HEAP, sz, UPROT_R | UPROT_W) == 0, "map");
	int64_t pid1 = fork();
	CHECK(pid1 >= 0, "fork");
	if (pid1 == 0) {
		int64_t pid2 = fork();
		if (pid2 < 0)
			exit(1);
		if (pid2 == 0) {
			for (char *q = p; q < p + (sz / 5) * 4; q += PAGE)
				*(volatile int64_t *)q = getpid();
			for (char *q = p; q < p + (sz / 5) * 4; q += PAGE)
				if (*(volatile int64_t *)q != getpid())
					exit(2);
			exit(0);
		}
		for (char *q = p; q < p + sz / 2; q += PAGE)
			*(volatile int64_t *)q = 9999;
		int64_t st = wait_status(NULL);
		for (char *q = p; q < p + sz / 2; q += PAGE)
			if (*(volatile int64_t *)q != 9999)
				exit(3);
		exit(st == 0 ? 0 : 4);
	}
	for (char *q = p; q < p + sz; q += PAGE)
		*(volatile int64_t *)q = getpid();
	CHECK(wait_status(NULL) == 0, "children");
	for (char *q = p; q < p + sz; q += PAGE)
		CHECK(*(volatile int64_t *)q == getpid(), "wrong content at %p", (void *)q);
	CHECK(unmap(HEAP, sz) == 0, "unmap");
	return true;
}

/* The kernel writes into COW memory (xv6 does it with pipe reads): each
 * child gets its own copy, the parent's byte stays. */
static char filebuf[PAGE] = {99};

static bool filetest(void)
{
	for (int i = 0; i < 4; i++) {
		int64_t pid = fork();
		CHECK(pid >= 0, "fork");
		if (pid == 0) {
			int local = 0;
			if (kread(filebuf, 1, (uint8_t)i) != 1 || filebuf[0] != i)
				exit(1);
			if (kread(&local, 1, (uint8_t)(i + 10)) != 1 || local != i + 10)
				exit(2);
			exit(0);
		}
	}
	for (int i = 0; i < 4; i++)
		CHECK(wait_status(NULL) == 0, "a child failed");
	CHECK(filebuf[0] == 99, "parent's buffer changed to %d", filebuf[0]);
	return true;
}

/* Concurrent fork/exit storms (xv6 usertests forkfork), on every CPU. */
static bool forkforktest(void)
{
	enum { N = 3, ROUNDS = 40 };
	for (int i = 0; i < N; i++) {
		int64_t pid = fork();
		CHECK(pid >= 0, "fork");
		if (pid == 0) {
			for (int j = 0; j < ROUNDS; j++) {
				int64_t p2 = fork();
				if (p2 < 0)
					exit(1);
				if (p2 == 0)
					exit(0);
				if (wait_status(NULL) != 0)
					exit(2);
			}
			exit(0);
		}
	}
	for (int i = 0; i < N; i++)
		CHECK(wait_status(NULL) == 0, "a forker failed");
	return true;
}

/* ---- KeOS-style fork/COW checks ---- */

/* After fork both see the same frame, read-only, XD kept; a write gives
 * the writer a new frame (RW, XD); the last sharer takes the frame over. */
static bool cow_bits(void)
{
	volatile uint8_t *a = (volatile uint8_t *)AREA;
	CHECK(map(AREA, 2 * PAGE, UPROT_R | UPROT_W) == 0, "map");
	a[0] = 0x5a;
	struct uwalk before = walk_of(a);
	CHECK(before.err == 0 && (before.leaf & PTE_RW) && (before.leaf & PTE_XD), "leaf %lx before fork",
	      before.leaf);
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct uwalk c = walk_of(a);
		if (c.pa != before.pa || (c.leaf & PTE_RW) || !(c.leaf & PTE_XD) || a[0] != 0x5a)
			exit(1); /* same page, read-only, still XD */
		a[0] = 0x77;
		struct uwalk w = walk_of(a);
		if (w.pa == before.pa || !(w.leaf & PTE_RW) || !(w.leaf & PTE_XD) || a[0] != 0x77)
			exit(2); /* a new page for the writer, RW, XD */
		exit(0);
	}
	struct uwalk p = walk_of(a);
	CHECK(p.pa == before.pa && !(p.leaf & PTE_RW) && (p.leaf & PTE_XD), "parent leaf %lx after fork", p.leaf);
	CHECK(wait_status(NULL) == 0, "child saw the wrong page or bits");
	CHECK(a[0] == 0x5a, "parent's byte changed");
	a[0] = 0x5b; /* alone now: takes the frame over */
	struct uwalk t = walk_of(a);
	CHECK(t.pa == before.pa && (t.leaf & PTE_RW), "take-over: pa %lx leaf %lx", t.pa, t.leaf);
	CHECK(unmap(AREA, 2 * PAGE) == 0, "unmap");
	return true;
}

static int __attribute__((noinline)) answer(int x) { return x + 42; }

/* Text is shared by fork as it is: executable, never write-protected
 * into a COW page, and still callable in the child. */
static bool exec_stays(void)
{
	struct uwalk t = walk_of((void *)answer);
	CHECK(t.err == 0 && !(t.leaf & PTE_XD) && !(t.leaf & PTE_RW), "text leaf %lx", t.leaf);
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct uwalk c = walk_of((void *)answer);
		exit(c.pa == t.pa && !(c.leaf & PTE_XD) && answer(0) == 42 ? 0 : 1);
	}
	CHECK(wait_status(NULL) == 0, "child");
	struct uwalk a = walk_of((void *)answer);
	CHECK(a.pa == t.pa && !(a.leaf & PTE_XD), "parent text after fork: %lx", a.leaf);
	return true;
}

/* copy-to-user into a COW page breaks the sharing exactly like a user
 * write; into a page never mapped it fails without killing. */
static bool kernel_write_breaks_cow(void)
{
	volatile uint8_t *a = (volatile uint8_t *)AREA;
	CHECK(map(AREA, PAGE, UPROT_R | UPROT_W) == 0, "map");
	a[0] = 1;
	uint64_t pa = walk_of(a).pa;
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		if (kread((void *)a, 16, 0xee) != 16)
			exit(1);
		struct uwalk w = walk_of(a);
		if (w.pa == pa || !(w.leaf & PTE_RW) || a[0] != 0xee || a[15] != 0xee)
			exit(2);
		if (kread((void *)(AREA + 16 * PAGE), 1, 0) != -EFAULT)
			exit(3); /* outside every region: refused, we live on */
		exit(0);
	}
	CHECK(wait_status(NULL) == 0, "child");
	CHECK(a[0] == 1 && walk_of(a).pa == pa, "parent's page changed");
	CHECK(unmap(AREA, PAGE) == 0, "unmap");
	return true;
}

static bool same_bytes(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* The kernel reads a string both ways, copied (strncpy-from-user, then
 * copy-to-user back into OUT) and in place (a user-access window): the
 * same length; the limit without a NUL gives MAX and an unterminated copy;
 * a page the read reaches is faulted in (demand-zero, stack growth); a
 * page outside every region is -EFAULT and the process lives; after fork
 * a read copies nothing. */
static bool kernel_reads_strings(void)
{
	static const char hello[] = "hello, kernel";
	char out[32];
	CHECK(strcopy(hello, out, sizeof out) == 13 && same_bytes(out, hello, 14), "copied: %s", out);
	CHECK(kstrlen(hello, sizeof out) == 13, "in place: %ld", kstrlen(hello, sizeof out));
	memset(out, 'Z', sizeof out);
	CHECK(strcopy(hello, out, 5) == 5 && same_bytes(out, "helloZ", 6), "limit: %ld", strcopy(hello, out, 5));
	CHECK(kstrlen(hello, 5) == 5, "limit in place");
	CHECK(strcopy(hello, out, USTR_MAX + 1) == -EINVAL, "MAX beyond the kernel's buffer");
	/* "abc" ends a touched page; the next one, untouched, holds the NUL:
	 * each read faults it in. Twice: copied, then in place. */
	CHECK(map(STRS, 4 * PAGE, UPROT_R | UPROT_W) == 0, "map");
	for (uint64_t page = STRS + PAGE; page <= STRS + 3 * PAGE; page += 2 * PAGE) {
		char *s = (char *)page - 3;
		memcpy(s, "abc", 3);
		CHECK(walk_of((void *)page).err != 0, "%lx mapped before the read", page);
		int64_t n = page == STRS + PAGE ? strcopy(s, out, sizeof out) : kstrlen(s, sizeof out);
		CHECK(n == 3 && walk_of((void *)page).err == 0, "read at %lx: %ld", page - 3, n);
	}
	/* Across pages, both touched. */
	char *s = (char *)(STRS + PAGE - 3);
	memcpy(s + 3, "de", 3);
	CHECK(strcopy(s, out, sizeof out) == 5 && same_bytes(out, "abcde", 6), "across pages: %s", out);
	CHECK(kstrlen(s, sizeof out) == 5, "across pages in place");
	/* Into the page after the region: refused, we live on. */
	char *end = (char *)(STRS + 4 * PAGE - 2);
	memcpy(end, "xy", 2);
	CHECK(strcopy(end, out, sizeof out) == -EFAULT, "copied past the region");
	CHECK(kstrlen(end, sizeof out) == -EFAULT, "in place past the region");
	CHECK(kstrlen((const char *)0xffff888000100000ul, 8) == -EFAULT, "a kernel address");
	/* After fork the child's reads share the parent's frame; a read below
	 * its stack grows the stack. */
	uint64_t pa = walk_of(s).pa;
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		const char *below = (const char *)(USTACK_TOP - USTACK_SIZE - 16 * PAGE);
		if (kstrlen(s, sizeof out) != 5 || walk_of(s).pa != pa)
			exit(1);
		if (walk_of(below).err == 0 || kstrlen(below, 8) != 0 || walk_of(below).err != 0)
			exit(2);
		exit(0);
	}
	struct uwait w = {0};
	CHECK(wait_status(&w) == 0, "child: status %ld", w.status);
	CHECK(unmap(STRS, 4 * PAGE) == 0, "unmap");
	return true;
}

/* A write to a region that was never writable kills (it is not COW); so
 * does a write to text, and a touch of an unmapped range. */
static bool bad_write_kills(void)
{
	volatile uint8_t *ro = (volatile uint8_t *)AREA;
	CHECK(map(AREA, PAGE, UPROT_R) == 0, "map");
	const volatile uint8_t *text = (const volatile uint8_t *)answer;
	struct {
		volatile uint8_t *va;
		bool read_first;
	} cases[] = {{ro, true}, {(volatile uint8_t *)text, false}, {(volatile uint8_t *)(AREA + 8 * PAGE), false}};
	for (unsigned i = 0; i < 3; i++) {
		int64_t pid = fork();
		CHECK(pid >= 0, "fork");
		if (pid == 0) {
			if (cases[i].read_first)
				(void)cases[i].va[0];
			cases[i].va[0] = 1;
			exit(0); /* not reached */
		}
		struct uwait w = {0};
		CHECK(wait_status(&w) == STATUS_SEGV, "case %u: status %ld", i, w.status);
		CHECK(w.fault_va == (uint64_t)cases[i].va, "case %u: killed at %lx", i, w.fault_va);
	}
	CHECK(unmap(AREA, PAGE) == 0, "unmap");
	return true;
}

/* map/unmap: pages and frames come and go with the region. */
static bool map_unmap(void)
{
	uint64_t used = frames_used();
	CHECK(map(AREA, 16 * PAGE, UPROT_R | UPROT_W) == 0, "map");
	CHECK(map(AREA + PAGE, PAGE, UPROT_R) != 0, "overlapping map accepted");
	CHECK(frames_used() == used, "map allocated frames");
	for (uint64_t off = 0; off < 16 * PAGE; off += PAGE)
		*(volatile uint8_t *)(AREA + off) = 7;
	CHECK(frames_used() == used + 16, "16 pages touched: %lu frames more", frames_used() - used);
	CHECK(unmap(AREA + 4 * PAGE, 8 * PAGE) == 0, "unmap the middle");
	CHECK(frames_used() == used + 8, "after a partial unmap: %lu", frames_used() - used);
	CHECK(walk_of((void *)(AREA + 4 * PAGE)).err != 0, "still mapped");
	CHECK(*(volatile uint8_t *)(AREA + 12 * PAGE) == 7, "the rest lost its data");
	CHECK(unmap(AREA, 16 * PAGE) == 0, "unmap");
	CHECK(frames_used() == used, "frames after unmap: %lu", frames_used());
	return true;
}

/* protect: a heap page made read-only keeps its frame and kills a
 * writer, its neighbour stays writable; made writable again it is still
 * read-only until the write takes it over; protected back after a fork it
 * stays COW-shared until written; X on and off; errors. */
static bool protect_rw(void)
{
	volatile uint8_t *a = (volatile uint8_t *)HEAP;
	struct uwait w = {0};
	uint64_t used = frames_used();
	CHECK(map(HEAP, 4 * PAGE, UPROT_R | UPROT_W) == 0, "map");
	a[0] = 0x11;
	a[PAGE] = 0x12;
	uint64_t pa = walk_of(a).pa;
	CHECK(protect(HEAP, 2 * PAGE, UPROT_W) == -EINVAL, "protect without R accepted");
	CHECK(protect(HEAP + 1, PAGE, UPROT_R) == -EINVAL, "unaligned protect accepted");
	CHECK(protect(AREA, PAGE, UPROT_R) == -EINVAL, "protect of nothing accepted");
	CHECK(protect(HEAP, PAGE, UPROT_R) == 0, "protect r");
	struct uwalk r = walk_of(a);
	CHECK(r.pa == pa && !(r.leaf & PTE_RW) && (r.leaf & PTE_XD) && a[0] == 0x11, "read-only leaf %lx", r.leaf);
	CHECK(child_touch(a, false, &w) == STATUS_SEGV, "write to the read-only page: status %ld", w.status);
	CHECK(w.fault_va == HEAP && w.fault_error == (PF_P | PF_W | PF_U), "killed at %lx error %lx", w.fault_va,
	      w.fault_error);
	CHECK(child_touch(a + PAGE, false, &w) == 0, "write to the page next to it: status %ld", w.status);
	CHECK(protect(HEAP, PAGE, UPROT_R | UPROT_W) == 0, "protect back");
	CHECK(!(walk_of(a).leaf & PTE_RW), "writable before the write");
	a[0] = 0x22; /* the only user: takes the frame over */
	r = walk_of(a);
	CHECK(r.pa == pa && (r.leaf & PTE_RW) && a[0] == 0x22, "take-over: pa %lx leaf %lx", r.pa, r.leaf);

	/* Read-only across a fork, then writable again on both sides. */
	CHECK(protect(HEAP, PAGE, UPROT_R) == 0, "protect r");
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		if (protect(HEAP, PAGE, UPROT_R | UPROT_W) != 0)
			exit(1);
		struct uwalk c = walk_of(a);
		if (c.pa != pa || (c.leaf & PTE_RW) || a[0] != 0x22)
			exit(2); /* still the parent's frame, read-only */
		a[0] = 0x33;
		c = walk_of(a);
		exit(c.pa != pa && (c.leaf & PTE_RW) && a[0] == 0x33 ? 0 : 3);
	}
	CHECK(protect(HEAP, PAGE, UPROT_R | UPROT_W) == 0, "protect back in the parent");
	CHECK(wait_status(&w) == 0, "child status %ld", w.status);
	r = walk_of(a);
	CHECK(r.pa == pa && a[0] == 0x22, "parent's page after the child wrote: pa %lx byte %x", r.pa, a[0]);

	/* X: code written into the page runs once it is executable and
	 * faults (fetch) once it is not. */
	static const uint8_t ret42[] = {0xb8, 42, 0, 0, 0, 0xc3}; /* mov $42, %eax; ret */
	for (unsigned i = 0; i < sizeof ret42; i++)
		a[i] = ret42[i];
	CHECK(protect(HEAP, PAGE, UPROT_R | UPROT_X) == 0, "protect rx");
	r = walk_of(a);
	CHECK(!(r.leaf & PTE_XD) && !(r.leaf & PTE_RW), "rx leaf %lx", r.leaf);
	CHECK(((int (*)(void))(uintptr_t)a)() == 42, "code in the rx page");
	CHECK(protect(HEAP, PAGE, UPROT_R) == 0, "protect r");
	CHECK((walk_of(a).leaf & PTE_XD), "XD back");
	CHECK(child_touch(a, true, &w) == STATUS_SEGV, "call into a non-executable page: status %ld", w.status);
	CHECK(w.fault_va == HEAP && w.fault_error == (PF_P | PF_U | PF_ID), "killed at %lx error %lx", w.fault_va,
	      w.fault_error);
	CHECK(unmap(HEAP, 4 * PAGE) == 0, "unmap");
	CHECK(frames_used() == used, "frames after unmap: %lu", frames_used() - used);
	return true;
}

/* The stack grows down 4 MiB, page by page, on faults below it. */
static bool stack_grows(void)
{
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		uint64_t bottom = USTACK_TOP - USTACK_SIZE;
		for (uint64_t off = PAGE; off <= 4 * MIB; off += PAGE)
			*(volatile uint64_t *)(bottom - off) = off;
		for (uint64_t off = PAGE; off <= 4 * MIB; off += PAGE)
			if (*(volatile uint64_t *)(bottom - off) != off)
				exit(1);
		exit(walk_of((void *)(bottom - 4 * MIB)).err == 0 ? 0 : 2);
	}
	CHECK(wait_status(NULL) == 0, "child");
	return true;
}

/* With a mapping 6 MiB below the stack's top, growth stops 1 MiB (the
 * guard gap) above it: the first touch inside the gap kills. */
static bool stack_guard(void)
{
	uint64_t neighbour_end = USTACK_TOP - 6 * MIB;
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		if (map(neighbour_end - 16 * PAGE, 16 * PAGE, UPROT_R | UPROT_W) != 0)
			exit(1);
		for (uint64_t va = USTACK_TOP - USTACK_SIZE - PAGE; va >= neighbour_end - 16 * PAGE; va -= PAGE)
			*(volatile uint8_t *)va = 1;
		exit(2); /* the neighbour was reached: no guard */
	}
	struct uwait w = {0};
	CHECK(wait_status(&w) == STATUS_SEGV, "status %ld", w.status);
	CHECK(w.fault_va == neighbour_end + MIB - PAGE, "killed at %lx, guard gap starts at %lx", w.fault_va,
	      neighbour_end + MIB);
	return true;
}

/* With KPTI the kernel is absent from the tree user mode runs on: a user
 * read of the direct map faults not-present (P=0); without KPTI the page
 * is there, supervisor-only (P=1). */
static bool kernel_hidden(void)
{
	struct umeminfo m;
	meminfo(&m);
	volatile uint8_t *k = (volatile uint8_t *)0xffff888000100000ul; /* the kernel image, direct map */
	int64_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		(void)*k;
		exit(0);
	}
	struct uwait w = {0};
	CHECK(wait_status(&w) == STATUS_SEGV, "status %ld", w.status);
	uint64_t want = m.kpti ? PF_U : PF_U | PF_P;
	CHECK(w.fault_va == (uint64_t)k && w.fault_error == want, "read of %lx: error %lx, want %lx", w.fault_va,
	      w.fault_error, want);
	return true;
}

static const struct utest tests[] = {
	{"cowtest simple", simpletest},
	{"cowtest three", threetest},
	{"cowtest file", filetest},
	{"cowtest forkfork", forkforktest},
	{"keos cow: same page, new page for the writer, RW/XD bits", cow_bits},
	{"keos cow: executable pages stay executable", exec_stays},
	{"keos cow: kernel-mode write breaks COW", kernel_write_breaks_cow},
	{"keos cow: write to a never-writable region kills", bad_write_kills},
	{"the kernel reads user strings, copied and in place", kernel_reads_strings},
	{"map/unmap", map_unmap},
	{"protect: read-only kills a writer, writable again, COW kept across fork, X", protect_rw},
	{"stack grows by 4 MiB", stack_grows},
	{"stack overflow into the guard gap kills", stack_guard},
	{"user mode sees the kernel only as KPTI allows", kernel_hidden},
};

int main(void)
{
	struct umeminfo m;
	meminfo(&m);
	printf("usertest: pid %ld, KPTI %s, pool %lu frames\n", getpid(), m.kpti ? "on" : "off", m.pool_frames);
	for (unsigned i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		for (int round = 0; round < (i < 2 ? 3 : 1); round++) {
			bool ok = tests[i].fn();
			if (i < 2)
				printf("usertest: %s, round %d: %s\n", tests[i].name, round + 1, ok ? "ok" : "FAILED");
			else
				printf("usertest: %s: %s\n", tests[i].name, ok ? "ok" : "FAILED");
			failures += !ok;
		}
	}
	for (unsigned i = 0; i < memtests_count; i++) {
		bool ok = memtests[i].fn();
		printf("usertest: %s: %s\n", memtests[i].name, ok ? "ok" : "FAILED");
		failures += !ok;
	}
	printf("usertest: %s (%d failed)\n", failures ? "FAILED" : "ALL OK", failures);
	return failures;
}
