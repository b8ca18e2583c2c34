/* SPDX-License-Identifier: MIT */
/* `usertest` on the command line (`usertest kpti` for KPTI): instead of a
 * vector, run the built-in user program (kernel/user/usertest.c, embedded
 * in the image) as the first process, with the scheduler on every CPU,
 * until every process exited. Then the data frames and the table pages in
 * use must be what they were before the first process was made. QEMU
 * exits PASSED when the program exited 0 and the figures match. */
#include "kernel/usertest.h"

#include "kernel/bootinfo.h"
#include "kernel/cpu.h"
#include "kernel/isolation.h"
#include "kernel/kernel.h"
#include "kernel/klib.h"
#include "kernel/kswap.h"
#include "kernel/machine.h"
#include "kernel/memobj.h"
#include "kernel/percpu.h"
#include "kernel/pmem.h"
#include "kernel/proc.h"

#define POOL (32ull << 20) /* the data pool: user pages come from here */

extern const char usertest_elf[], usertest_elf_end[];

struct usage {
	uint64_t frames, swap_slots;
	int64_t user_tables, kernel_tables;
};

static struct usage usage_now(struct mmu *mmu)
{
	return (struct usage){
		.frames = pmem_data_in_use(),
		.swap_slots = kswap_slots_used(),
		.user_tables = mmu_user_tables(mmu),
		.kernel_tables = mmu_kernel_tables(mmu),
	};
}

static void sched_entry(void *arg)
{
	(void)arg;
	sched_run();
}

_Noreturn void usertest_run(void)
{
	struct cpu_features cf = cpu_features();
	bool kpti = cmdline_has("kpti");
	struct vec_machine m = {
		.levels = boot_info.levels,
		.cpus = smp_cpus(),
		.mem = POOL,
		.nx = cf.nx,
		.smep = cf.smep,
		.smap = cf.smap,
		.wp = true,
	};
	struct mmu *mmu = NULL;
	machine_kernel_global = !kpti;
	const char *why = machine_setup(&m, &mmu);
	if (why)
		kpanic("usertest: %s", why);
	kprintf("usertest: %u CPUs, %u-level paging, NX %d SMEP %d SMAP %d, KPTI %s, pool %lu MiB\n", m.cpus,
		m.levels, m.nx, m.smep, m.smap, kpti ? "on" : "off", (unsigned long)(POOL >> 20));
	struct proc_config pc = {.mmu = mmu, .kpti = kpti ? isolation_init(mmu) : NULL, .smap = cf.smap};
	proc_init(&pc);
	memobj_init(mmu);

	struct usage before = usage_now(mmu);
	struct proc *first = proc_spawn(usertest_elf, (size_t)(usertest_elf_end - usertest_elf));
	if (!first)
		kpanic("usertest: the test program could not be loaded");
	size_t violations = kpti ? isolation_audit(&first->sp) : 0;
	for (unsigned cpu = 1; cpu < m.cpus; cpu++)
		post_on_cpu(cpu, sched_entry, NULL);
	sched_run();
	for (unsigned cpu = 1; cpu < m.cpus; cpu++)
		while (atomic_load(&percpu[cpu].call_fn) != NULL)
			cpu_pause(); /* until that CPU left the scheduler (kernel tree loaded) */
	struct usage after = usage_now(mmu);

	for (unsigned cpu = 0; cpu < m.cpus; cpu++)
		kprintf("usertest: cpu %u ran a process %lu times\n", cpu, proc_slices(cpu));

	kprintf("usertest: accounting: data frames %lu -> %lu, swap slots %lu -> %lu, user-tree tables %ld -> %ld,"
		" kernel-half tables %ld -> %ld (before the first process -> after the last)\n",
		before.frames, after.frames, before.swap_slots, after.swap_slots, before.user_tables, after.user_tables,
		before.kernel_tables, after.kernel_tables);
	bool same = before.frames == after.frames && before.swap_slots == after.swap_slots &&
		    before.user_tables == after.user_tables && before.kernel_tables == after.kernel_tables;
	bool passed = proc_first_status == 0 && same && violations == 0;
	kprintf("usertest: program exit status %ld, accounting %s, KPTI %s: %s\n", proc_first_status,
		same ? "balanced" : "UNBALANCED", kpti ? "on" : "off", passed ? "PASSED" : "FAILED");
	qemu_exit(passed ? KEXIT_PASSED : KEXIT_FAILED);
}
