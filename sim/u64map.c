/* SPDX-License-Identifier: MIT */
/* A uint64_t -> uint64_t hash map for the TLB and its reverse index.
 *
 * Open addressing with linear probing; deletion shifts the following run
 * back instead of leaving tombstones, so lookups never degrade however many
 * entries come and go (a TLB sees millions of inserts and flushes). */
#include <stdlib.h>
#include <string.h>

#include "sim/internal.h"

#define SIM_U64MAP_MIN_CAP 16

static uint64_t mix(uint64_t x)
{
	/* splitmix64's finalizer: TLB keys differ mostly in a few middle bits. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static size_t home_slot(const struct sim_u64map *m, uint64_t key) { return (size_t)mix(key) & m->mask; }

static void allocate_slots(struct sim_u64map *m, size_t cap)
{
	m->keys = malloc(cap * sizeof(*m->keys));
	m->vals = malloc(cap * sizeof(*m->vals));
	if (!m->keys || !m->vals)
		sim_die("u64map: out of host memory for %zu slots", cap);
	memset(m->keys, 0xff, cap * sizeof(*m->keys)); /* every key SIM_U64MAP_NONE */
	m->mask = cap - 1;
	m->count = 0;
}

void sim_u64map_init(struct sim_u64map *m) { allocate_slots(m, SIM_U64MAP_MIN_CAP); }

void sim_u64map_fini(struct sim_u64map *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = m->vals = NULL;
	m->mask = m->count = 0;
}

/* The slot holding KEY, or the empty slot where it would go. */
static size_t find_slot(const struct sim_u64map *m, uint64_t key)
{
	size_t i = home_slot(m, key);
	while (m->keys[i] != SIM_U64MAP_NONE && m->keys[i] != key)
		i = (i + 1) & m->mask;
	return i;
}

bool sim_u64map_get(const struct sim_u64map *m, uint64_t key, uint64_t *val)
{
	size_t i = find_slot(m, key);
	if (m->keys[i] != key)
		return false;
	if (val)
		*val = m->vals[i];
	return true;
}

static void grow(struct sim_u64map *m)
{
	struct sim_u64map old = *m;
	allocate_slots(m, (old.mask + 1) * 2);
	for (size_t i = 0; i <= old.mask; i++)
		if (old.keys[i] != SIM_U64MAP_NONE)
			sim_u64map_put(m, old.keys[i], old.vals[i]);
	free(old.keys);
	free(old.vals);
}

void sim_u64map_put(struct sim_u64map *m, uint64_t key, uint64_t val)
{
	if (key == SIM_U64MAP_NONE)
		sim_die("u64map: key 0x%llx is reserved", (unsigned long long)key);
	/* Keep the load under one half: probe runs stay short. */
	if ((m->count + 1) * 2 > m->mask + 1)
		grow(m);
	size_t i = find_slot(m, key);
	if (m->keys[i] == SIM_U64MAP_NONE)
		m->count++;
	m->keys[i] = key;
	m->vals[i] = val;
}

/* True when home slot HOME lies cyclically in (HOLE, J]: the key at J may
 * not move back into HOLE. */
static bool home_between(size_t hole, size_t home, size_t j)
{
	if (hole <= j)
		return hole < home && home <= j;
	return hole < home || home <= j;
}

bool sim_u64map_remove(struct sim_u64map *m, uint64_t key)
{
	size_t hole = find_slot(m, key);
	if (m->keys[hole] != key)
		return false;
	for (size_t j = (hole + 1) & m->mask; m->keys[j] != SIM_U64MAP_NONE; j = (j + 1) & m->mask) {
		if (home_between(hole, home_slot(m, m->keys[j]), j))
			continue;
		m->keys[hole] = m->keys[j];
		m->vals[hole] = m->vals[j];
		hole = j;
	}
	m->keys[hole] = SIM_U64MAP_NONE;
	m->count--;
	return true;
}

void sim_u64map_add(struct sim_u64map *m, uint64_t key, int64_t delta)
{
	uint64_t val = 0;
	sim_u64map_get(m, key, &val);
	val += (uint64_t)delta;
	if (val == 0)
		sim_u64map_remove(m, key);
	else
		sim_u64map_put(m, key, val);
}

void sim_u64map_clear(struct sim_u64map *m)
{
	sim_u64map_fini(m);
	sim_u64map_init(m);
}
