/* SPDX-License-Identifier: MIT */
/* A cost model for the software machine: it has no clock, but it counts
 * exactly what a strategy makes a CPU do (struct sim_events); weights in
 * cycles turn those counts into a price, so two strategies can be compared
 * on the same counts under any weights a user believes. */
#include "sim/sim.h"

/* These weights are assumptions, not measurements: plain round figures of
 * the order a current x86 core shows, with no source behind the exact
 * values. Replace them with figures measured on your CPU.
 *   hit        1    an access the TLB answers adds about nothing
 *   walk_read  10   one paging-structure entry read by a walk, from cache
 *                   (the machine has no paging-structure caches, so every
 *                   walk pays all its levels)
 *   invlpg     200  one INVLPG, the instruction alone
 *   flush      500  one full flush (a CR3 reload), the instruction alone;
 *                   the refill it causes is priced by the walks */
struct sim_cost_model sim_cost_model_default(void)
{
	return (struct sim_cost_model){.hit = 1, .walk_read = 10, .invlpg = 200, .flush = 500};
}

double sim_cost_cycles(const struct sim_cost_model *m, const struct sim_events *delta)
{
	return m->hit * (double)delta->tlb_hits + m->walk_read * (double)delta->walk_reads +
	       m->invlpg * (double)delta->invlpgs + m->flush * (double)delta->flushes;
}
