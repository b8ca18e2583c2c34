/* SPDX-License-Identifier: MIT */
/* Human-readable dumps of a tree and the W+X audit.
 *
 * Output goes line by line (no newline) to a callback, so the library needs
 * no stdio. Runs of leaves with identical effective attributes that are
 * virtually contiguous merge into one line, as Linux's ptdump does:
 *
 *   0x0000000000400000-0x0000000000600000           2M USR RW  NX  ... PSE pd
 */
#ifndef MMU64_DUMP_H
#define MMU64_DUMP_H

#include <stddef.h>

#include "mmu.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*mmu_line_fn)(void *ctx, const char *line);

/* Dump the leaves of TREE within [START, END) (END exclusive, 0 = the end
 * of the address space). */
void mmu_dump(struct mmu_tree *tree, mmu_vaddr_t start, mmu_vaddr_t end, mmu_line_fn out, void *ctx);

/* List the writable and executable runs in [START, END); returns how many. */
size_t mmu_audit_wx(struct mmu_tree *tree, mmu_vaddr_t start, mmu_vaddr_t end, mmu_line_fn out, void *ctx);

#ifdef __cplusplus
}
#endif

#endif
