/* SPDX-License-Identifier: MIT */
/* The page-table lab: write walk, map and unmap over raw x86-64 page
 * tables (4 levels, 4K pages), xv6 style. The grader (grader.c) runs your
 * code on mmu64's software machine: real CPUs with TLBs that keep every
 * translation until it is invalidated, and a TLB sanitizer that reports a
 * stale translation used or a frame freed while a TLB still holds it.
 *
 * Your code runs as CPU 0. Everything it needs from the "kernel" is below:
 * nothing else (no libc allocation, no globals of the grader). */
#ifndef LAB_H
#define LAB_H

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t pte_t;

/* Entry bits (Intel SDM vol. 3A, 4.5). */
#define PTE_P (1ull << 0)   /* present */
#define PTE_W (1ull << 1)   /* writable */
#define PTE_U (1ull << 2)   /* user accessible */
#define PTE_A (1ull << 5)   /* accessed (the CPU sets it) */
#define PTE_D (1ull << 6)   /* dirty (the CPU sets it) */
#define PTE_XD (1ull << 63) /* execute disable */
#define PTE_ADDR 0x000ffffffffff000ull /* the physical address field */

/* Permissions of lab_map (always readable). */
#define PERM_W 1u
#define PERM_U 2u
#define PERM_X 4u

#define PAGE_SIZE 4096ull
/* Index of VA in the table at LEVEL (4: PML4, 3: PDPT, 2: PD, 1: PT). */
#define PX(level, va) (((va) >> (12 + 9 * ((level) - 1))) & 511)

/* ---- What the kernel gives you ---- */

/* A pointer to physical address PA (a direct map). */
void *lab_p2v(uint64_t pa);
/* A zeroed 4K page for a page table: its physical address, 0 when out of
 * memory. */
uint64_t lab_table_alloc(void);
/* INVLPG VA on this CPU. */
void lab_invlpg(uint64_t va);
/* Make every OTHER CPU that runs the tree ROOT invalidate VA (an IPI to
 * each, waiting until each has done it). */
void lab_shootdown(uint64_t root, uint64_t va);
/* Give the data frame at PA back to the allocator. Nothing may still use
 * it: no mapping, and no TLB entry on any CPU. */
void lab_frame_free(uint64_t pa);

/* ---- What you write (pt.c) ---- */

/* The address of the PTE (level 1 entry) for VA in the 4-level tree
 * rooted at ROOT (a physical address). When a table on the way is missing:
 * with ALLOC, allocate it (lab_table_alloc) and link it in; without, return
 * NULL. NULL also when an allocation fails. */
pte_t *lab_walk(uint64_t root, uint64_t va, bool alloc);

/* Map the 4K page at VA to the frame at PA with PERM (PERM_W, PERM_U,
 * PERM_X; readable always). 0 on success; -1 when VA is already mapped or
 * memory ran out. A user page must be reachable from user mode: the
 * entries above it must not forbid what the leaf allows. */
int lab_map(uint64_t root, uint64_t va, uint64_t pa, unsigned perm);

/* Unmap the page at VA. When FREE, also give its frame back
 * (lab_frame_free). No CPU may use the old translation afterwards. 0 on
 * success; -1 when VA was not mapped. */
int lab_unmap(uint64_t root, uint64_t va, bool free);

#endif
