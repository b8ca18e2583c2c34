/* SPDX-License-Identifier: MIT */
/* kmain: boot information, memory, CPUs, then the vector passed as the
 * initrd (`-initrd FILE`, name in `file=` on the command line), whose
 * output goes to COM1 and whose status leaves through isa-debug-exit. */
#include "kernel/bootinfo.h"
#include "kernel/exec_kernel.h"
#include "kernel/kernel.h"
#include "kernel/klib.h"
#include "kernel/percpu.h"
#include "kernel/pmem.h"
#include "kernel/port.h"
#include "kernel/ceiling.h"
#include "kernel/usertest.h"
#include "tools/vec/vec.h"

void kmain(uint32_t start_info, uint32_t la57);

struct mmu *kernel_mmu;

void ipi_tlb_handler(void)
{
	if (kernel_mmu)
		mmu_tlb_ipi_handler(kernel_mmu);
}

static void report_boot(void)
{
	const struct boot_info *b = &boot_info;
	kprintf("mmu64 kernel: %u-level paging, %u CPUs, command line \"%s\"\n", b->levels, smp_cpus(), b->cmdline);
	for (unsigned i = 0; i < b->nregions; i++)
		kprintf("  mem %016lx-%016lx type %u\n", b->region[i].addr, b->region[i].addr + b->region[i].size,
			b->region[i].type);
	if (b->initrd_size)
		kprintf("  initrd at %lx, %lu bytes\n", b->initrd_pa, b->initrd_size);
	for (unsigned i = 0; i < smp_cpus(); i++)
		kprintf("  cpu %u: apic id %u\n", i, smp_apic_id(i));
}

/* `checkpoint=L` on the command line: after printing the result of line
 * L, say so and wait for a byte on COM1, so that a test can stop QEMU and
 * inspect the machine in the state that command left (QMP `info tlb`,
 * kernel/tests/qmp-oracle). */
static char checkpoint_prefix[24];

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	serial_write(line, strlen(line));
	serial_write("\n", 1);
	size_t n = strlen(checkpoint_prefix);
	if (n && memcmp(line, checkpoint_prefix, n) == 0 && line[n] != '|') {
		serial_write("@checkpoint\n", 12);
		(void)serial_read_byte();
	}
}

static void checkpoint_init(void)
{
	size_t n;
	const char *v = cmdline_value("checkpoint", &n);
	if (!v || n == 0 || n + 3 > sizeof checkpoint_prefix)
		return;
	memcpy(checkpoint_prefix, v, n);
	memcpy(checkpoint_prefix + n, ": ", 3);
}

static struct vec_session session;
static char file_name[256];

static _Noreturn void run_vector(void)
{
	struct vec_io io = {.file = "vector", .out = print_line};
	checkpoint_init();
	size_t n = 0;
	const char *name = cmdline_value("file", &n);
	if (name && n > 0 && n < sizeof file_name) {
		memcpy(file_name, name, n);
		io.file = file_name;
	}
	/* Copied out of the initrd's place before memory is handed out. */
	char *text = phys_to_virt(pmem_boot_alloc(boot_info.initrd_size + 1));
	memcpy(text, phys_to_virt(boot_info.initrd_pa), boot_info.initrd_size);
	io.text = text;
	io.len = boot_info.initrd_size;
	int status = vec_run(&session, &io, &exec_kernel_ops, NULL);
	kprintf("vector %s: status %d\n", io.file, status);
	qemu_exit(status == VEC_PASSED ? KEXIT_PASSED : status == VEC_FAILED ? KEXIT_FAILED : KEXIT_MALFORMED);
}

void kmain(uint32_t start_info, uint32_t la57)
{
	serial_init();
	bootinfo_parse(start_info, la57 != 0);
	if (cmdline_has("quiet"))
		serial_log_to_com2();
	pic_disable();
	pmem_init();
	smp_init();
	port_selftest();
	report_boot();
	if (cmdline_has("usertest"))
		usertest_run();
	if (cmdline_has("ceiling"))
		ceiling_run();
	if (boot_info.initrd_size || cmdline_has("vector"))
		run_vector();
	kprintf("no vector given (-initrd FILE): boot test done\n");
	qemu_exit(KEXIT_PASSED);
}
