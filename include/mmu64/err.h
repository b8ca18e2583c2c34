/* SPDX-License-Identifier: MIT */
/* Error codes of every mmu64 call.
 *
 * A call that returns anything but MMU_OK changed nothing. The names are the
 * ones vectors print (docs/VECTORS.md), so mmu_err_name() is the
 * single place where a code becomes text. */
#ifndef MMU64_ERR_H
#define MMU64_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mmu_err {
	MMU_OK = 0,
	MMU_E_INVALID,            /* bad address, wrong half, bad argument */
	MMU_E_UNALIGNED,          /* VA, PA or length not aligned to the size */
	MMU_E_INVALID_PERMISSION, /* permission set the layer refuses (no r) */
	MMU_E_DUPLICATED,         /* range overlaps an existing mapping */
	MMU_E_NOTEXIST,           /* nothing mapped where something must be */
	MMU_E_NOMEM,              /* the port ran out of frames */
	MMU_E_BUSY,               /* object in use (tree loaded on a CPU) */
	MMU_E_NOSPACE,            /* no slot left in caller-given storage (a space's regions) */
} mmu_err_t;

/* "INVALID", "UNALIGNED", ... ; "OK" for MMU_OK. Never NULL. */
const char *mmu_err_name(mmu_err_t err);

#ifdef __cplusplus
}
#endif

#endif
