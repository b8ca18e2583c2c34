/* SPDX-License-Identifier: MIT */
#include "mmu64/err.h"

const char *mmu_err_name(mmu_err_t err)
{
	static const char *const names[] = {
		[MMU_OK] = "OK",
		[MMU_E_INVALID] = "INVALID",
		[MMU_E_UNALIGNED] = "UNALIGNED",
		[MMU_E_INVALID_PERMISSION] = "INVALID_PERMISSION",
		[MMU_E_DUPLICATED] = "DUPLICATED",
		[MMU_E_NOTEXIST] = "NOTEXIST",
		[MMU_E_NOMEM] = "NOMEM",
		[MMU_E_BUSY] = "BUSY",
		[MMU_E_NOSPACE] = "NOSPACE",
	};
	if ((unsigned)err >= sizeof(names) / sizeof(names[0]) || !names[err])
		return "UNKNOWN";
	return names[err];
}
