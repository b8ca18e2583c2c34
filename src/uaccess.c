/* SPDX-License-Identifier: MIT */
/* The kernel's copies between its buffers and user memory: copy-to-user,
 * copy-from-user, strncpy-from-user (include/mmu64/vm.h). Each moves a
 * piece of at most one page at a time through the port's hook (stac; mov;
 * clac under an exception fixup) and hands every fault the hook reports to
 * mmu_vm_handle_fault as a fault in a user-access window, so pages come in
 * exactly as for the user's own access. The hooks run under no library
 * lock: the handler takes the space lock for each fault. */
#include "vm_internal.h"

#define PIECE_ATTEMPTS 4 /* faults resolved per piece before a copy gives up */
#define STRING_CHUNK 64  /* bytes a string copy loads at once: it reads little past the NUL */

/* One copy: its space, its hook (STORE to user memory, or LOAD from it),
 * and the piece it moves now: N bytes at user VA inside one page, from
 * SRC (a store) or to DST (a load). One struct, updated in place as the
 * copy goes on: the frames of a copy sit on a fault's deepest path. */
struct uaccess {
	struct mmu_vm_space *sp;
	mmu_vm_store_fn store;
	mmu_vm_load_fn load;
	void *ctx;
	mmu_vaddr_t va;
	size_t n;
	const uint8_t *src;
	uint8_t *dst;
};

/* The error code of the kernel's write to VA when the tables refuse it
 * whatever CR0.WP says (present, not writable), else 0. */
static uint32_t write_protected(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	struct mmu_translation t;
	if (mmu_walk(&sp->tree, va, &t) != MMU_OK || (t.prot & MMU_PROT_W))
		return 0;
	return MMU_PF_P | MMU_PF_W;
}

/* One try at the piece: true when it completed, else false with the code
 * of its fault in *CODE. A store to a present read-only page is faulted
 * here without storing (CR0.WP=0 would write straight into a frame shared
 * after fork): *RAISED says so. */
static bool try_piece(const struct uaccess *u, uint32_t *code, bool *raised)
{
	*raised = false;
	*code = 0;
	if (u->load)
		return u->load(u->ctx, u->dst, u->va, u->n, code);
	*code = write_protected(u->sp, u->va);
	*raised = *code != 0;
	if (*raised)
		return false;
	/* A supervisor write's #PF has W set: a store's code is never 0. */
	*code = u->store(u->ctx, u->va, u->src, u->n);
	return *code == 0;
}

/* Move the piece, resolving its faults as the user's access: MMU_OK with
 * *CODE 0 (done) or MMU_VM_COPY_REFUSED | the code of the fault the
 * handler refused (or of the last one after PIECE_ATTEMPTS resolved
 * faults: another CPU keeps undoing them); NOMEM; INVALID when the space
 * exited. */
static mmu_err_t move_piece(const struct uaccess *u, uint32_t *code)
{
	for (unsigned attempt = 0; attempt < PIECE_ATTEMPTS; attempt++) {
		bool raised;
		if (try_piece(u, code, &raised))
			return MMU_OK;
		struct mmu_vm_fault f = mmu_vm_fault_decode(*code, u->va, MMU_VM_FAULT_COPY_USER);
		enum mmu_vm_outcome o = mmu_vm_handle_fault(u->sp, &f);
		if (o == MMU_VM_NOMEM)
			return MMU_E_NOMEM;
		if (o == MMU_VM_DEAD)
			return MMU_E_INVALID;
		if (!mmu_vm_resolved(o))
			break;
		/* A #PF drops the faulting page from this CPU's TLB; a fault we
		 * raised ourselves must too, or the retried store would hit
		 * the stale read-only entry after a take-over (no flush). */
		if (raised)
			tlb_invalidate_here(u->sp->tree.mmu, u->va);
	}
	*code |= MMU_VM_COPY_REFUSED;
	return MMU_OK;
}

/* The bytes from VA to the end of its page, at most LEN. */
static size_t page_part(mmu_vaddr_t va, size_t len)
{
	size_t n = MMU_PAGE_SIZE - (va & (MMU_PAGE_SIZE - 1));
	return n < len ? n : len;
}

/* The next piece of U starts where this one ended. */
static void next_piece(struct uaccess *u)
{
	u->va += u->n;
	if (u->src)
		u->src += u->n;
	if (u->dst)
		u->dst += u->n;
}

/* Move LEN bytes from U's VA on, page by page, until done or the first
 * refusal or error; *DONE: the bytes of the pieces that completed. */
static mmu_err_t move_range(struct uaccess *u, size_t len, size_t *done, uint32_t *code)
{
	*done = 0;
	*code = 0;
	while (*done < len) {
		u->n = page_part(u->va, len - *done);
		mmu_err_t err = move_piece(u, code);
		if (err != MMU_OK || *code != 0)
			return err;
		*done += u->n;
		next_piece(u);
	}
	return MMU_OK;
}

mmu_err_t mmu_vm_copy_to_user(struct mmu_vm_space *sp, mmu_vaddr_t va, const void *src, size_t len,
			      mmu_vm_store_fn store, void *ctx, uint32_t *error_code)
{
	*error_code = 0;
	if (len > 0 && range_check(&sp->tree, va, len) != MMU_OK)
		return MMU_E_INVALID;
	struct uaccess u = {.sp = sp, .store = store, .ctx = ctx, .va = va, .src = src};
	size_t done;
	return move_range(&u, len, &done, error_code);
}

mmu_err_t mmu_vm_copy_from_user(struct mmu_vm_space *sp, void *dst, mmu_vaddr_t va, size_t len,
				mmu_vm_load_fn load, void *ctx, uint32_t *error_code)
{
	*error_code = 0;
	if (len > 0 && range_check(&sp->tree, va, len) != MMU_OK)
		return MMU_E_INVALID;
	struct uaccess u = {.sp = sp, .load = load, .ctx = ctx, .va = va, .dst = dst};
	size_t done;
	mmu_err_t err = move_range(&u, len, &done, error_code);
	/* As Linux's copy_from_user: what was not copied is zeroed, so a
	 * caller that misses the error never sees stale kernel bytes. */
	if (done < len)
		__builtin_memset((uint8_t *)dst + done, 0, len - done);
	return err;
}

/* The index of the first NUL in S[0..N), or N. */
static size_t nul_index(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] != 0)
		i++;
	return i;
}

/* The bytes of the user half from VA on (VA inside it). */
static uint64_t user_bytes_from(const struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	return mmu_user_last(sp->tree.mmu) - va + 1;
}

mmu_err_t mmu_vm_strncpy_from_user(struct mmu_vm_space *sp, char *dst, mmu_vaddr_t va, size_t max,
				   mmu_vm_load_fn load, void *ctx, size_t *len, uint32_t *error_code)
{
	*len = 0;
	*error_code = 0;
	if (max == 0)
		return MMU_OK;
	if (range_check(&sp->tree, va, 1) != MMU_OK)
		return MMU_E_INVALID;
	uint64_t room = user_bytes_from(sp, va);
	size_t limit = room < max ? (size_t)room : max;
	struct uaccess u = {.sp = sp, .load = load, .ctx = ctx, .va = va, .dst = (uint8_t *)dst};
	while (*len < limit) {
		size_t want = limit - *len < STRING_CHUNK ? limit - *len : STRING_CHUNK;
		u.n = page_part(u.va, want);
		mmu_err_t err = move_piece(&u, error_code);
		if (err != MMU_OK || *error_code != 0)
			return err;
		size_t nul = nul_index(u.dst, u.n);
		if (nul < u.n) {
			/* DST holds the string, its NUL, zeros: no user byte past the NUL. */
			__builtin_memset(u.dst + nul, 0, u.n - nul);
			*len += nul;
			return MMU_OK;
		}
		*len += u.n;
		next_piece(&u);
	}
	/* No NUL: at MAX that is the answer (Linux's: *LEN = MAX, DST not
	 * terminated); before MAX the string ran out of the user half. */
	return limit < max ? MMU_E_INVALID : MMU_OK;
}
