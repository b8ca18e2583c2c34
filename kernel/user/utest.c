/* SPDX-License-Identifier: MIT */
/* The test program's helpers (utest.h). */
#include "kernel/user/utest.h"

uint64_t free_bytes(void)
{
	struct umeminfo m;
	meminfo(&m);
	return (m.pool_frames - m.frames_used) * PAGE;
}

uint64_t frames_used(void)
{
	struct umeminfo m;
	meminfo(&m);
	return m.frames_used;
}

struct uwalk walk_of(const volatile void *va)
{
	struct uwalk w;
	walk(va, &w);
	return w;
}

int64_t wait_status(struct uwait *out)
{
	struct uwait w = {0};
	if (wait(&w) < 0)
		return -1000;
	if (out)
		*out = w;
	return w.status;
}

int64_t child_touch(volatile uint8_t *a, bool call, struct uwait *w)
{
	int64_t pid = fork();
	if (pid < 0)
		return -1000;
	if (pid == 0) {
		if (call)
			exit(((int (*)(void))(uintptr_t)a)());
		a[0] = 1;
		exit(0);
	}
	return wait_status(w);
}
