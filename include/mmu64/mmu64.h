/* SPDX-License-Identifier: MIT */
/* mmu64: everything a kernel includes. */
#ifndef MMU64_H
#define MMU64_H

#include "addr.h"
#include "dump.h"
#include "err.h"
#include "kpti.h"
#include "mmu.h"
#include "port.h"
#include "pt.h"
#include "pte.h"
#include "tlb.h"
#include "tree.h"
#include "version.h"
#include "vm.h"

#endif
