/* SPDX-License-Identifier: MIT */
/* The process-space workloads' shared helpers: see vmbench.h. */
#include "bench/vmbench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Allocate FRAMES data frames, write each once, free them: a freed 4K
 * frame stays backed. */
static void pretouch(const char *work, struct sim *sim, uint64_t frames)
{
	mmu_pa_t *pa = malloc(frames * sizeof(*pa));
	if (!pa) {
		fprintf(stderr, "bench %s: out of memory\n", work);
		exit(1);
	}
	for (uint64_t i = 0; i < frames; i++) {
		bench_vm_must(work, sim_frame_alloc(sim, MMU_SIZE_4K, &pa[i]), "pretouch");
		*sim_phys(sim, pa[i]) = 1;
	}
	for (uint64_t i = 0; i < frames; i++)
		sim_frame_free(sim, MMU_SIZE_4K, pa[i]);
	free(pa);
}

uint64_t bench_vm_pages(const struct bench_opts *o, uint64_t mib) { return (o->small ? 1 : mib) << 20 >> 12; }

struct sim *bench_vm_machine(const char *work, uint64_t frames)
{
	struct sim_config cfg;
	bench_sim_config(&cfg);
	cfg.ncpus = 1;
	struct sim *sim = sim_create(&cfg);
	if (!sim) {
		fprintf(stderr, "bench %s: cannot create the software machine\n", work);
		exit(1);
	}
	sim_set_cpu(sim, 0);
	pretouch(work, sim, frames);
	return sim;
}

void *bench_vm_backed(const char *work, size_t len)
{
	void *p = malloc(len);
	if (!p) {
		fprintf(stderr, "bench %s: out of memory\n", work);
		exit(1);
	}
	memset(p, 0xa5, len); /* not 0: see vmbench.h */
	return p;
}

void bench_vm_must(const char *work, mmu_err_t err, const char *what)
{
	if (err != MMU_OK) {
		fprintf(stderr, "bench %s: %s failed: %s\n", work, what, mmu_err_name(err));
		exit(1);
	}
}

double bench_vm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int bench_vm_write(const char *work, struct sim *sim, struct mmu_vm_space *sp, mmu_vaddr_t va, uint8_t byte)
{
	int outcome = -1;
	for (unsigned i = 0; i < 4; i++) {
		struct sim_access a = sim_access(sim, 0, SIM_WRITE, va, true, false, byte);
		if (a.outcome == SIM_OK)
			return outcome;
		struct mmu_vm_fault f = mmu_vm_fault_decode(a.error_code, a.cr2, MMU_VM_FAULT_ACCESS);
		enum mmu_vm_outcome o = mmu_vm_handle_fault(sp, &f);
		if (!mmu_vm_resolved(o)) {
			fprintf(stderr, "bench %s: write at %#llx refused (outcome %u)\n", work, (unsigned long long)va,
				(unsigned)o);
			exit(1);
		}
		outcome = (int)o;
	}
	fprintf(stderr, "bench %s: write at %#llx keeps faulting\n", work, (unsigned long long)va);
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_vm_median(double *v, unsigned n)
{
	qsort(v, n, sizeof v[0], cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

unsigned bench_vm_reps(const struct bench_opts *o) { return o->reps > 1024 ? 1024 : o->reps; }

void bench_vm_report(const struct bench_opts *o, const char *work, const char *phase, const char *unit, double *v,
		     unsigned n, const char *extra)
{
	double med = bench_vm_median(v, n);
	if (o->csv)
		printf("%s,%s,%.2f,%.2f,%.2f,%s\n", work, phase, med, v[0], v[n - 1], extra);
	else
		printf("%s %-12s %s=%.2f min=%.2f max=%.2f %s\n", work, phase, unit, med, v[0], v[n - 1], extra);
}

void bench_vm_check_sanitizer(const char *work, struct sim *sim)
{
	if (sim_tlbsan_reports(sim)) {
		fprintf(stderr, "bench %s: tlbsan: %s\n", work, sim_tlbsan_last(sim));
		exit(1);
	}
}
