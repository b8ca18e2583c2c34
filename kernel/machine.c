/* SPDX-License-Identifier: MIT */
/* machine_setup: the kernel tree built by the library, then every CPU
 * switched to it with the control bits the vector asks for.
 *
 * The kernel tree holds, besides the vectors' window (kept empty):
 *  - the image at KERNEL_VMA (text r-x, rodata r--, data rw-), global;
 *  - a direct map of all RAM at DIRECT_MAP (rw-, 1G/2M pages), global;
 *  - the LAPIC page at the direct-map address of its physical address (uc);
 *  - the ring-3 stub and a user stack in a root slot of their own, mapped
 *    with mmu_kernel_map_user (user code needs US at every level; the
 *    library's other kernel-half tables are supervisor-only), before any
 *    user tree copies the root's kernel half, as Linux's vsyscall page. */
#include "kernel/machine.h"

#include "kernel/bootinfo.h"
#include "kernel/cpu.h"
#include "kernel/kernel.h"
#include "kernel/klib.h"
#include "kernel/layout.h"
#include "kernel/percpu.h"
#include "kernel/pmem.h"
#include "kernel/port.h"

#define GIB (1ull << 30)
#define PAGE 4096ull
/* Linux's PAT: WB WC UC- UC WB WP UC- WT (VECTORS.md assumes it). */
#define PAT_LINUX 0x0407050600070106ull

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[], __kernel_end[];
extern char __user_start[], user_stub[];

static struct mmu mmu;
static uint64_t stub_va;
bool machine_kernel_global = true;

struct cpu_features cpu_features(void)
{
	struct cpuid_regs l1 = cpuid(1, 0), l7 = {0}, e1 = {0};
	if (cpuid(0, 0).eax >= 7)
		l7 = cpuid(7, 0);
	if (cpuid(0x80000000, 0).eax >= 0x80000001)
		e1 = cpuid(0x80000001, 0);
	return (struct cpu_features){
		.nx = e1.edx & (1u << 20),
		.pages_1g = e1.edx & (1u << 26),
		.smep = l7.ebx & (1u << 7),
		.smap = l7.ebx & (1u << 20),
		.pke = l7.ecx & (1u << 3),
		.la57 = l7.ecx & (1u << 16),
		.pge = l1.edx & (1u << 13),
	};
}

static const char *unsupported(const struct vec_machine *m)
{
	struct cpu_features f = cpu_features();
	if (m->levels == 5 && !f.la57)
		return "levels=5: the CPU has no LA57";
	if (m->levels != boot_info.levels)
		return m->levels == 5 ? "levels=5: the kernel was booted without levels=5"
				      : "levels=4: the kernel was booted with levels=5";
	if (m->cpus > smp_cpus())
		return "cpus: QEMU started fewer CPUs than the machine line asks";
	if (m->nx && !f.nx)
		return "nx=1: the CPU has no NX";
	if (m->smep && !f.smep)
		return "smep=1: the CPU has no SMEP";
	if (m->smap && !f.smap)
		return "smap=1: the CPU has no SMAP";
	if (m->pke && !f.pke)
		return "pke=1: the CPU has no PKU";
	if (m->needs_1g && !f.pages_1g)
		return "1G pages: the CPU has none";
	if (!f.pge)
		return "the CPU has no global pages";
	if (m->pcid) /* QEMU's TCG does not model PCID-tagged TLBs */
		return "pcid=1: the test kernel runs without PCIDs";
	return NULL;
}

static void map_or_panic(mmu_vaddr_t va, uint64_t pa, uint64_t len, unsigned prot, const struct mmu_map_opts *o)
{
	mmu_err_t err = mmu_map(mmu_kernel_tree(&mmu), va, mmu_pa(pa), len, prot, o, NULL);
	if (err != MMU_OK)
		kpanic("machine: mapping %lx (%lu bytes at %lx) failed: %s", va, len, pa, mmu_err_name(err));
}

static void map_image(void)
{
	const struct mmu_map_opts g = {.global = machine_kernel_global};
	const struct {
		char *start, *end;
		unsigned prot;
	} sec[] = {
		{__text_start, __text_end, MMU_PROT_R | MMU_PROT_X},
		{__rodata_start, __rodata_end, MMU_PROT_R},
		{__data_start, __kernel_end, MMU_PROT_R | MMU_PROT_W},
	};
	for (unsigned i = 0; i < sizeof sec / sizeof sec[0]; i++) {
		uint64_t va = (uint64_t)sec[i].start, len = (uint64_t)(sec[i].end - sec[i].start);
		map_or_panic(va, va - KERNEL_VMA, len, sec[i].prot, &g);
	}
}

/* RAM at DIRECT_MAP + PA, in the largest leaves that fit: 1G only when
 * the CPU has them (mmu_config.page_1g, from CPUID). */
static void map_direct(void)
{
	const struct mmu_map_opts any = {.global = machine_kernel_global};
	for (unsigned i = 0; i < boot_info.nregions; i++) {
		const struct boot_region *r = &boot_info.region[i];
		uint64_t start = (r->addr + PAGE - 1) & ~(PAGE - 1), end = (r->addr + r->size) & ~(PAGE - 1);
		if (r->type == E820_RAM && end > start)
			map_or_panic(DIRECT_MAP + start, start, end - start, MMU_PROT_R | MMU_PROT_W, &any);
	}
}

static void map_user_page(mmu_vaddr_t va, uint64_t pa, unsigned prot)
{
	mmu_err_t err = mmu_kernel_map_user(&mmu, va, mmu_pa(pa), PAGE, prot, NULL);
	if (err != MMU_OK)
		kpanic("machine: user page %lx: %s", va, mmu_err_name(err));
}

static void map_user_stub(void)
{
	stub_va = boot_info.levels == 5 ? USER_STUB_VA5 : USER_STUB_VA4;
	uint64_t stack_pa = pmem_boot_alloc(PAGE);
	map_user_page(stub_va, (uint64_t)__user_start - KERNEL_VMA, MMU_PROT_R | MMU_PROT_X);
	/* One page of stack, a guard page below the stub's code... and one
	 * 64-byte slot per CPU (an exec pushes one return address). */
	map_user_page(stub_va + 2 * PAGE, stack_pa, MMU_PROT_R | MMU_PROT_W);
}

/* KPTI (vectors with kpti=1): the shadows' kernel half holds the entry
 * sections (isolation.c) and, like Linux's vsyscall page under PTI, the
 * ring-3 stub's code and stack page, which user mode must reach there. */
extern char __kpti_text_start[], __kpti_text_end[], __kpti_data_start[], __kpti_data_end[];

const struct mmu_kpti_range *machine_kpti_ranges(unsigned *n)
{
	static struct mmu_kpti_range r[4];
	r[0] = (struct mmu_kpti_range){(uint64_t)__kpti_text_start, (uint64_t)(__kpti_text_end - __kpti_text_start)};
	r[1] = (struct mmu_kpti_range){(uint64_t)__kpti_data_start, (uint64_t)(__kpti_data_end - __kpti_data_start)};
	r[2] = (struct mmu_kpti_range){stub_va, PAGE};
	r[3] = (struct mmu_kpti_range){stub_va + 2 * PAGE, PAGE};
	*n = 4;
	return r;
}

uint64_t machine_user_entry(void) { return stub_va + (uint64_t)(user_stub - __user_start); }
uint64_t machine_user_stack(unsigned cpu) { return stub_va + 3 * PAGE - 64ull * cpu; }

/* Per CPU: EFER.NXE before the tree with XD bits is loaded; PAT; CR0.WP;
 * CR4 PGE/SMEP/SMAP/PKE; the kernel tree; PKRU 0 (all keys allowed). */
static void cpu_configure(void *arg)
{
	const struct vec_machine *m = arg;
	uint64_t efer = rdmsr(MSR_EFER), cr0 = read_cr0(), cr4 = read_cr4() | CR4_PGE;
	efer = m->nx ? efer | EFER_NXE : efer & ~EFER_NXE;
	wrmsr(MSR_EFER, efer);
	wrmsr(MSR_PAT, PAT_LINUX);
	write_cr0(m->wp ? cr0 | CR0_WP : cr0 & ~CR0_WP);
	cr4 = m->smep ? cr4 | CR4_SMEP : cr4 & ~CR4_SMEP;
	cr4 = m->smap ? cr4 | CR4_SMAP : cr4 & ~CR4_SMAP;
	cr4 = m->pke ? cr4 | CR4_PKE : cr4 & ~CR4_PKE;
	write_cr4(cr4);
	mmu_tree_load(mmu_kernel_tree(&mmu));
	if (m->pke)
		wrpkru(0);
}

/* MAXPHYADDR: CPUID 0x80000008 EAX[7:0]; 36 bits without that leaf (the
 * SDM's value for such CPUs, as Linux assumes). */
static unsigned cpu_maxphyaddr(void)
{
	if (cpuid(0x80000000, 0).eax < 0x80000008)
		return 36;
	return cpuid(0x80000008, 0).eax & 0xff;
}

const char *machine_setup(const struct vec_machine *m, struct mmu **out)
{
	const char *why = unsupported(m);
	if (why)
		return why;
	if (!pmem_data_init(m->mem))
		return "mem: not enough guest memory for the data pool (QEMU -m)";
	struct mmu_config cfg = {
		.levels = m->levels, .ncpus = m->cpus, .nx = m->nx,
		.page_1g = cpu_features().pages_1g, .maxphyaddr = cpu_maxphyaddr(),
	};
	mmu_err_t err = mmu_init(&mmu, &kernel_port, &cfg);
	if (err != MMU_OK)
		kpanic("machine: mmu_init: %s", mmu_err_name(err));
	map_image();
	map_direct();
	map_or_panic(DIRECT_MAP + lapic_pa(), lapic_pa(), PAGE, MMU_PROT_R | MMU_PROT_W,
		     &(struct mmu_map_opts){.cache = MMU_CACHE_UC});
	map_user_stub();
	kernel_mmu = &mmu;
	for (unsigned cpu = 0; cpu < m->cpus; cpu++)
		run_on_cpu(cpu, cpu_configure, (void *)m);
	(void)mmu_counters_take(&mmu); /* vectors count from here */
	*out = &mmu;
	return NULL;
}
