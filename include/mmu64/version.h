/* SPDX-License-Identifier: MIT */
/* The version of mmu64 these headers belong to.
 *
 * MAJOR.MINOR.PATCH as docs/VERSIONING.md defines them: the API, the ABI
 * (the layout of every struct the caller stores) and the vector format each
 * have their own rule there. Before 1.0.0 a MINOR step may change the API
 * and the ABI; read CHANGELOG.md before upgrading.
 *
 * MMU64_VECTOR_FORMAT is the vector format the interpreter reads
 * (docs/VECTORS.md); it moves on its own, independently of the library. */
#ifndef MMU64_VERSION_H
#define MMU64_VERSION_H

#define MMU64_VERSION_MAJOR 0
#define MMU64_VERSION_MINOR 9
#define MMU64_VERSION_PATCH 0
#define MMU64_VERSION_STRING "0.9.0"

/* One number that orders versions: 0.9.0 is 900, 1.2.3 is 10203. */
#define MMU64_VERSION_NUMBER \
	(MMU64_VERSION_MAJOR * 10000 + MMU64_VERSION_MINOR * 100 + MMU64_VERSION_PATCH)
/* True when these headers are version MAJOR.MINOR.PATCH or later. */
#define MMU64_VERSION_AT_LEAST(major, minor, patch) \
	(MMU64_VERSION_NUMBER >= (major) * 10000 + (minor) * 100 + (patch))

#define MMU64_VECTOR_FORMAT "v1"
#define MMU64_VECTOR_FORMAT_VERSION 1

#endif
