/* SPDX-License-Identifier: MIT */
/* Process spaces on the software machine, part 3: the kernel reading user
 * memory. Copy-from-user (demand-zero, no COW copy after fork, stack
 * growth, refusals that change nothing, the uncopied tail zeroed, NOMEM),
 * strncpy-from-user (the NUL within a page and across pages, the limit
 * without a NUL, a fault mid-string, the end of the user half), and the
 * contract of in-place user-access windows (include/mmu64/vm.h): what the
 * handler resolves and refuses for a supervisor access, and SMAP without
 * AC as a kernel bug. 4 and 5 levels, PCIDs off and on; the TLB sanitizer
 * stays silent. */
#include <string.h>

#include "vmtest.h"

#define RW (MMU_PROT_R | MMU_PROT_W)
#define RFLAGS_AC (1ull << 18)

static mmu_vaddr_t user_top(void) { return 1ull << (mmu_va_bits(vt_mmu->levels) - 1); }

static bool all_bytes(const uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* Regions of the copy tests: 16K rw at 0x400000, 4K r at 0x500000, 4K rw
 * at 0x6900000 and a stack whose top page is 0x7000000 above it (it may
 * grow down to 0x6a01000, 1M above the region below). */
static void copy_space(struct mmu_vm_space *p, unsigned cpu)
{
	CHECK_OK(mmu_vm_space_create(vt_mmu, p));
	CHECK_OK(mmu_vm_region_add(p, 0x400000, 4 * PAGE, RW, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(p, 0x500000, PAGE, MMU_PROT_R, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(p, 0x6900000, PAGE, RW, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(p, 0x7000000, PAGE, RW, MMU_VM_STACK, 0));
	st_load(vt_sim, cpu, &p->tree);
}

static void space_done(struct mmu_vm_space *p, unsigned cpu, uint64_t frames0)
{
	unload(cpu);
	CHECK_OK(mmu_vm_space_exit(p));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	st_check_sanitizer(vt_sim);
}

/* Resolved faults: demand-zero, the user's bytes back, a page shared after
 * fork read without a copy, stack growth. */
static void test_copy_from_user_resolves(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	struct mmu_vm_space p, c;
	unsigned cpu = 1;
	uint32_t code = 0xdead;
	uint8_t out[3 * PAGE];
	copy_space(&p, cpu);
	/* Three untouched pages from an unaligned start: each demand-zero. */
	memset(out, 0xaa, sizeof out);
	sim_set_cpu(vt_sim, cpu);
	CHECK_OK(mmu_vm_copy_from_user(&p, out, 0x400800, 2 * PAGE + 0x10, vt_load, &cpu, &code));
	CHECK_EQ(code, 0);
	CHECK(all_bytes(out, 2 * PAGE + 0x10, 0));
	CHECK_EQ(out[2 * PAGE + 0x10], 0xaa);
	CHECK(counters_are(&p, 3, 0, 0, 0, 0));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 3);
	/* The user's bytes, across a page boundary. */
	sim_set_cpu(vt_sim, 0);
	for (unsigned i = 0; i < 0x20; i++)
		CHECK_EQ(uw(&p, cpu, 0x400ff0 + i, (uint8_t)(i + 1)), R_OK);
	sim_set_cpu(vt_sim, cpu);
	CHECK_OK(mmu_vm_copy_from_user(&p, out, 0x400ff0, 0x20, vt_load, &cpu, &code));
	CHECK_EQ(code, 0);
	for (unsigned i = 0; i < 0x20; i++)
		CHECK_EQ(out[i], i + 1);
	/* After fork: a read copies nothing, both keep one shared frame. */
	CHECK_OK(mmu_vm_fork(&p, &c));
	uint64_t frames = sim_frames_in_use(vt_sim);
	CHECK_OK(mmu_vm_copy_from_user(&p, out, 0x401000 - 8, 16, vt_load, &cpu, &code));
	CHECK_EQ(code, 0);
	CHECK_EQ(out[8], 0x11);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames);
	CHECK_EQ(pa_of(&p, 0x401000).bits, pa_of(&c, 0x401000).bits);
	CHECK_EQ(refs(&p, 0x401000), 2);
	CHECK(counters_are(&p, 0, 0, 0, 0, 0));
	CHECK_OK(mmu_vm_space_exit(&c));
	/* Stack growth: the read below the stack grows it to the page. */
	CHECK_OK(mmu_vm_copy_from_user(&p, out, 0x6fff000 + 0xff0, 0x20, vt_load, &cpu, &code));
	CHECK_EQ(code, 0);
	CHECK(counters_are(&p, 1, 0, 1, 0, 0));
	CHECK_EQ(mmu_vm_region_at(&p, 0x6fff000)->start, 0x6fff000);
	/* A read-only region reads. */
	CHECK_OK(mmu_vm_copy_from_user(&p, out, 0x500000, 1, vt_load, &cpu, &code));
	CHECK_EQ(code, 0);
	CHECK(counters_are(&p, 1, 0, 0, 0, 0));
	sim_set_cpu(vt_sim, 0);
	space_done(&p, cpu, frames0);
}

/* Refusals change nothing and count nothing; the bytes before the refused
 * page are copied and the rest of DST zeroed; INVALID touches nothing. */
static void test_copy_from_user_refuses(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	struct mmu_vm_space p;
	unsigned cpu = 0;
	uint32_t code = 0;
	uint8_t out[64];
	copy_space(&p, cpu);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(uw(&p, cpu, 0x404000 - 4 + i, (uint8_t)(0x51 + i)), R_OK);
	CHECK(counters_are(&p, 1, 0, 0, 0, 0));
	struct state before;
	state_take(&p, &before);
	/* Outside every region; in the guard gap above the region below the
	 * stack: a supervisor read of an absent page, code 0. */
	memset(out, 0xaa, sizeof out);
	CHECK_OK(mmu_vm_copy_from_user(&p, out, 0x900000, 8, vt_load, &cpu, &code));
	CHECK_EQ(code, MMU_VM_COPY_REFUSED);
	CHECK(all_bytes(out, 8, 0));
	CHECK_EQ(out[8], 0xaa);
	CHECK_OK(mmu_vm_copy_from_user(&p, out, 0x6a00000, 8, vt_load, &cpu, &code));
	CHECK_EQ(code, MMU_VM_COPY_REFUSED);
	/* Across the region's end: the first page's bytes, then zeros. */
	memset(out, 0xaa, sizeof out);
	code = 0xdead;
	CHECK_OK(mmu_vm_copy_from_user(&p, out, 0x404000 - 4, 8, vt_load, &cpu, &code));
	CHECK_EQ(code, MMU_VM_COPY_REFUSED);
	CHECK_EQ(out[0], 0x51);
	CHECK_EQ(out[3], 0x54);
	CHECK(all_bytes(out + 4, 4, 0));
	CHECK_EQ(out[8], 0xaa);
	/* access_ok: the kernel half, non-canonical, across the end of the
	 * user half: INVALID, DST untouched. */
	memset(out, 0xaa, sizeof out);
	CHECK_ERR(mmu_vm_copy_from_user(&p, out, 0xffffc80000000000ull, 1, vt_load, &cpu, &code), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_copy_from_user(&p, out, 1ull << 62, 1, vt_load, &cpu, &code), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_copy_from_user(&p, out, user_top() - 1, 2, vt_load, &cpu, &code), MMU_E_INVALID);
	CHECK(all_bytes(out, sizeof out, 0xaa));
	/* Nothing at all. */
	CHECK_OK(mmu_vm_copy_from_user(&p, out, 0xffffc80000000000ull, 0, vt_load, &cpu, &code));
	CHECK_EQ(code, 0);
	CHECK(counters_are(&p, 0, 0, 0, 0, 0));
	CHECK(state_same(&p, &before));
	st_snapshot_free(&before.snap);
	/* No frame: NOMEM, nothing changed, DST zeroed. */
	state_take(&p, &before);
	sim_fail_alloc_after(vt_sim, MMU_FRAME_DATA, 0);
	CHECK_ERR(mmu_vm_copy_from_user(&p, out, 0x402000, 4, vt_load, &cpu, &code), MMU_E_NOMEM);
	sim_fail_alloc_after(vt_sim, MMU_FRAME_DATA, -1);
	CHECK(all_bytes(out, 4, 0));
	CHECK(state_same(&p, &before));
	CHECK(counters_are(&p, 0, 0, 0, 0, 0));
	st_snapshot_free(&before.snap);
	space_done(&p, cpu, frames0);
	/* An exited space: INVALID. */
	CHECK_ERR(mmu_vm_copy_from_user(&p, out, 0x400000, 1, vt_load, &cpu, &code), MMU_E_INVALID);
	size_t len = 0;
	CHECK_ERR(mmu_vm_strncpy_from_user(&p, (char *)out, 0x400000, 8, vt_load, &cpu, &len, &code), MMU_E_INVALID);
}

/* Write S (its NUL too when NUL) at VA as the user. */
static void user_puts(struct mmu_vm_space *p, unsigned cpu, mmu_vaddr_t va, const char *s, bool nul)
{
	size_t n = strlen(s) + (nul ? 1 : 0);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(uw(p, cpu, va + i, (uint8_t)s[i]), R_OK);
}

static void test_strncpy_from_user(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	struct mmu_vm_space p;
	unsigned cpu = 1;
	uint32_t code = 0xdead;
	size_t len = 99;
	char dst[128];
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	CHECK_OK(mmu_vm_region_add(&p, 0x400000, 2 * PAGE, RW, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&p, 0x600000, 2 * PAGE, RW, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&p, user_top() - PAGE, PAGE, RW, MMU_VM_ANON, 0));
	st_load(vt_sim, cpu, &p.tree);
	user_puts(&p, cpu, 0x400100, "hello", true);
	user_puts(&p, cpu, 0x400ffc, "abcdefgh", true);
	user_puts(&p, cpu, 0x401ffd, "xyz", false);
	user_puts(&p, cpu, 0x600fff, "Q", false);
	user_puts(&p, cpu, user_top() - 4, "zzzz", false);
	CHECK(counters_are(&p, 4, 0, 0, 0, 0));
	sim_set_cpu(vt_sim, cpu);
	/* In one page: the length, the NUL, zeros after it as far as it
	 * loaded (64 bytes), the rest untouched. */
	memset(dst, 0xaa, sizeof dst);
	CHECK_OK(mmu_vm_strncpy_from_user(&p, dst, 0x400100, 100, vt_load, &cpu, &len, &code));
	CHECK_EQ(code, 0);
	CHECK_EQ(len, 5);
	CHECK(memcmp(dst, "hello", 6) == 0);
	CHECK(all_bytes((uint8_t *)dst + 6, 64 - 6, 0));
	CHECK(all_bytes((uint8_t *)dst + 64, sizeof dst - 64, 0xaa));
	/* Across a page boundary. */
	CHECK_OK(mmu_vm_strncpy_from_user(&p, dst, 0x400ffc, 32, vt_load, &cpu, &len, &code));
	CHECK_EQ(len, 8);
	CHECK(strcmp(dst, "abcdefgh") == 0);
	/* The limit: without a NUL in MAX bytes, *LEN is MAX and DST is not
	 * terminated; a NUL at MAX-1 fits. */
	memset(dst, 0xaa, sizeof dst);
	CHECK_OK(mmu_vm_strncpy_from_user(&p, dst, 0x400ffc, 3, vt_load, &cpu, &len, &code));
	CHECK_EQ(code, 0);
	CHECK_EQ(len, 3);
	CHECK(memcmp(dst, "abc", 3) == 0);
	CHECK_EQ((uint8_t)dst[3], 0xaa);
	CHECK_OK(mmu_vm_strncpy_from_user(&p, dst, 0x400ffc, 9, vt_load, &cpu, &len, &code));
	CHECK_EQ(len, 8);
	CHECK_EQ(dst[8], 0);
	CHECK(counters_are(&p, 0, 0, 0, 0, 0));
	/* The NUL on a page the read faults in (demand-zero). */
	CHECK_OK(mmu_vm_strncpy_from_user(&p, dst, 0x600fff, 32, vt_load, &cpu, &len, &code));
	CHECK_EQ(code, 0);
	CHECK_EQ(len, 1);
	CHECK(strcmp(dst, "Q") == 0);
	CHECK(counters_are(&p, 1, 0, 0, 0, 0));
	/* Into a page outside every region: the bytes before it, then the
	 * refused fault's code (a supervisor read of an absent page). */
	code = 0xdead;
	CHECK_OK(mmu_vm_strncpy_from_user(&p, dst, 0x401ffd, 32, vt_load, &cpu, &len, &code));
	CHECK_EQ(code, MMU_VM_COPY_REFUSED);
	CHECK_EQ(len, 3);
	CHECK(memcmp(dst, "xyz", 3) == 0);
	CHECK(counters_are(&p, 0, 0, 0, 0, 0));
	/* The end of the user half: without a NUL before it INVALID (the
	 * bytes read kept), or MAX reached exactly there. */
	CHECK_ERR(mmu_vm_strncpy_from_user(&p, dst, user_top() - 4, 32, vt_load, &cpu, &len, &code), MMU_E_INVALID);
	CHECK_EQ(len, 4);
	CHECK_OK(mmu_vm_strncpy_from_user(&p, dst, user_top() - 4, 4, vt_load, &cpu, &len, &code));
	CHECK_EQ(len, 4);
	CHECK(memcmp(dst, "zzzz", 4) == 0);
	/* MAX 0 reads nothing, wherever; VA outside the user half: INVALID. */
	memset(dst, 0xaa, sizeof dst);
	CHECK_OK(mmu_vm_strncpy_from_user(&p, dst, 0xffffc80000000000ull, 0, vt_load, &cpu, &len, &code));
	CHECK_EQ(len, 0);
	CHECK_ERR(mmu_vm_strncpy_from_user(&p, dst, 0xffffc80000000000ull, 8, vt_load, &cpu, &len, &code),
		  MMU_E_INVALID);
	CHECK_ERR(mmu_vm_strncpy_from_user(&p, dst, user_top(), 8, vt_load, &cpu, &len, &code), MMU_E_INVALID);
	CHECK_EQ(len, 0);
	CHECK(all_bytes((uint8_t *)dst, sizeof dst, 0xaa));
	CHECK(counters_are(&p, 0, 0, 0, 0, 0));
	sim_set_cpu(vt_sim, 0);
	space_done(&p, cpu, frames0);
}

/* ---- in-place windows ---- */

struct kresult {
	bool ok;                    /* the access completed */
	enum mmu_vm_outcome last;   /* the last fault's outcome */
	uint8_t byte;
};

/* The kernel's own access to user VA in a window, as a #PF handler runs it
 * in place: the access, and on a fault the path the contract gives
 * (mmu_vm_kernel_fault_path with the machine's SMAP and AC), the handler,
 * and the same access again while it resolves. */
static struct kresult kaccess(struct mmu_vm_space *sp, unsigned cpu, enum sim_access_kind kind, mmu_vaddr_t va,
			      bool ac, uint8_t byte)
{
	struct kresult r = {.ok = false, .last = MMU_VM_SPURIOUS};
	for (unsigned i = 0; i < 4; i++) {
		struct sim_access a = sim_access(vt_sim, cpu, kind, va, false, ac, byte);
		if (a.outcome == SIM_OK) {
			r.ok = true;
			r.byte = a.byte;
			return r;
		}
		CHECK_EQ(a.outcome, SIM_PF);
		bool smap = (sim_cpu_regs(vt_sim, cpu).cr4 & (1ull << 21)) != 0;
		enum mmu_vm_fault_path path = mmu_vm_kernel_fault_path(true, smap, ac ? RFLAGS_AC : 0);
		struct mmu_vm_fault f = mmu_vm_fault_decode(a.error_code, a.cr2, path);
		sim_set_cpu(vt_sim, cpu);
		r.last = mmu_vm_handle_fault(sp, &f);
		sim_set_cpu(vt_sim, 0);
		if (!mmu_vm_resolved(r.last))
			return r;
	}
	CHECK(!"four faults in a row");
	return r;
}

static void test_kernel_fault_path(void)
{
	CHECK_EQ(mmu_vm_kernel_fault_path(false, false, RFLAGS_AC), MMU_VM_FAULT_ACCESS);
	CHECK_EQ(mmu_vm_kernel_fault_path(false, true, RFLAGS_AC), MMU_VM_FAULT_ACCESS);
	CHECK_EQ(mmu_vm_kernel_fault_path(true, false, 0), MMU_VM_FAULT_COPY_USER);
	CHECK_EQ(mmu_vm_kernel_fault_path(true, true, 0x246), MMU_VM_FAULT_ACCESS);
	CHECK_EQ(mmu_vm_kernel_fault_path(true, true, 0x246 | RFLAGS_AC), MMU_VM_FAULT_COPY_USER);
}

/* Resolved in place: demand on read and write, COW on write only, stack
 * growth; each counted as the user's fault. */
static void test_window_resolves(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	struct mmu_vm_space p, c;
	unsigned cpu = 1;
	copy_space(&p, cpu);
	struct kresult r = kaccess(&p, cpu, SIM_READ, 0x400010, true, 0);
	CHECK(r.ok && r.last == MMU_VM_DEMAND && r.byte == 0);
	r = kaccess(&p, cpu, SIM_WRITE, 0x401010, true, 0x77);
	CHECK(r.ok && r.last == MMU_VM_DEMAND);
	CHECK(counters_are(&p, 2, 0, 0, 0, 0));
	CHECK_OK(mmu_vm_fork(&p, &c));
	mmu_pa_t shared = pa_of(&p, 0x401000);
	r = kaccess(&p, cpu, SIM_READ, 0x401010, true, 0);
	CHECK(r.ok && r.byte == 0x77);
	CHECK_EQ(pa_of(&p, 0x401000).bits, shared.bits);
	r = kaccess(&p, cpu, SIM_WRITE, 0x401010, true, 0x78);
	CHECK(r.ok && r.last == MMU_VM_COW);
	CHECK(pa_of(&p, 0x401000).bits != shared.bits);
	CHECK_EQ(pa_of(&c, 0x401000).bits, shared.bits);
	CHECK_EQ(*sim_phys(vt_sim, mmu_pa_add(shared, 0x10)), 0x77);
	CHECK(counters_are(&p, 0, 1, 0, 0, 0));
	r = kaccess(&p, cpu, SIM_READ, 0x6ffe000, true, 0);
	CHECK(r.ok && r.last == MMU_VM_STACK_GROWN);
	CHECK(counters_are(&p, 0, 0, 1, 0, 0));
	CHECK_OK(mmu_vm_space_exit(&c));
	space_done(&p, cpu, frames0);
}

/* Refused in a window (REFUSED, nothing changed, not counted): no region,
 * a write to a read-only region, a fetch, a kernel-half address, PK.
 * Outside a window, or SMAP with AC clear: KERNEL_BUG. */
static void test_window_refuses(const struct sim_config *cfg)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	struct mmu_vm_space p;
	unsigned cpu = 0;
	copy_space(&p, cpu);
	CHECK_OK(mmu_vm_region_add(&p, 0x800000, PAGE, RW | MMU_PROT_X, MMU_VM_ANON, 0));
	CHECK_EQ(ur(&p, cpu, 0x400000), 0);
	CHECK_EQ(ur(&p, cpu, 0x500000), 0);
	CHECK(counters_are(&p, 2, 0, 0, 0, 0));
	struct state before;
	state_take(&p, &before);
	struct kresult r = kaccess(&p, cpu, SIM_READ, 0x900000, true, 0);
	CHECK(!r.ok && r.last == MMU_VM_REFUSED);
	r = kaccess(&p, cpu, SIM_WRITE, 0x500000, true, 1);
	CHECK(!r.ok && r.last == MMU_VM_REFUSED);
	struct mmu_vm_fault f = mmu_vm_fault_decode(ST_PF_ID, 0x800000, MMU_VM_FAULT_COPY_USER);
	CHECK_EQ(mmu_vm_handle_fault(&p, &f), MMU_VM_REFUSED);
	f = mmu_vm_fault_decode(0, 0xffffc80000000000ull, MMU_VM_FAULT_COPY_USER);
	CHECK_EQ(mmu_vm_handle_fault(&p, &f), MMU_VM_REFUSED);
	f = mmu_vm_fault_decode(ST_PF_P | MMU_PF_PK, 0x400000, MMU_VM_FAULT_COPY_USER);
	CHECK_EQ(mmu_vm_handle_fault(&p, &f), MMU_VM_REFUSED);
	/* Outside a window: a kernel bug, whatever the page. */
	f = mmu_vm_fault_decode(0, 0x402000, mmu_vm_kernel_fault_path(false, cfg->smap, RFLAGS_AC));
	CHECK_EQ(mmu_vm_handle_fault(&p, &f), MMU_VM_KERNEL_BUG);
	/* SMAP with AC clear: the access to a present user page faults (P),
	 * the path is ACCESS, the handler says KERNEL_BUG instead of a
	 * spurious fault the retry would hit forever. */
	if (cfg->smap) {
		r = kaccess(&p, cpu, SIM_READ, 0x400000, false, 0);
		CHECK(!r.ok && r.last == MMU_VM_KERNEL_BUG);
	}
	CHECK(counters_are(&p, 0, 0, 0, 0, 0));
	CHECK(state_same(&p, &before));
	st_snapshot_free(&before.snap);
	space_done(&p, cpu, frames0);
}

static void all_tests(const struct sim_config *cfg)
{
	test_copy_from_user_resolves();
	test_copy_from_user_refuses();
	test_strncpy_from_user();
	test_kernel_fault_path();
	test_window_resolves();
	test_window_refuses(cfg);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	vt_on_each_machine(all_tests);
	return 0;
}
