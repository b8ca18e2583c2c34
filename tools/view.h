/* SPDX-License-Identifier: MIT */
/* mmu64 view FILE.mmu -o FILE.html: one self-contained page that steps
 * through a vector command by command (tools/view.c builds its data on the
 * software machine, tools/view_page.c holds the page). Hosted. */
#ifndef MMU64_TOOLS_VIEW_H
#define MMU64_TOOLS_VIEW_H

#include <stdio.h>

/* 0 when the page was written; 1 when the vector failed (the page is
 * written anyway: it shows the failure); 2 malformed or unreadable. */
int view_main(const char *vector, const char *html);

/* The page around the data: the part before it and the part after it. */
extern const char view_page_head[];
extern const char view_page_tail[];

#endif
