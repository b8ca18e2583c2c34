# SPDX-License-Identifier: MIT
# mmu64 — see README.md. `make test` runs everything CI runs.
#
# Variables: BUILD (output directory), SAN=asan|tsan (sanitizer build into
# build/asan or build/tsan), LTO=1 (link-time optimization, into build/lto:
# `make bench LTO=1` builds the benchmark as docs/BENCH.md's peer was), CC.

CC      ?= cc
SAN     ?=
ifeq ($(SAN),asan)
BUILD   ?= build/asan
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(SAN),tsan)
BUILD   ?= build/tsan
SANFLAGS = -fsanitize=thread -fno-omit-frame-pointer
else ifeq ($(LTO),1)
BUILD   ?= build/lto
SANFLAGS =
LTOFLAGS = -flto=auto
else
BUILD   ?= build
SANFLAGS =
endif

OPT      ?= -O2
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS   = -std=c11 $(OPT) -g $(WARN) $(SANFLAGS) $(LTOFLAGS) -Iinclude -I. -D_GNU_SOURCE
LDFLAGS  = $(SANFLAGS) $(LTOFLAGS) -pthread
# The library must also build as kernel code.
KFLAGS   = -std=c11 -O2 $(WARN) -Iinclude -ffreestanding -fno-builtin -nostdlib -mno-red-zone \
           -mgeneral-regs-only -mcmodel=kernel -fno-pic -fno-stack-protector

LIB_SRC  = $(wildcard src/*.c)
SIM_SRC  = $(wildcard sim/*.c)
VEC_SRC  = $(wildcard tools/vec/*.c)
TOOL_SRC = $(wildcard tools/*.c) $(wildcard tools/gen/*.c)
TEST_SRC = $(wildcard tests/unit/test_*.c)
TEST_LIB = $(filter-out $(TEST_SRC),$(wildcard tests/unit/*.c))
BENCH_SRC= $(wildcard bench/*.c)

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
SIM_OBJ  = $(SIM_SRC:%.c=$(BUILD)/%.o)
VEC_OBJ  = $(VEC_SRC:%.c=$(BUILD)/%.o)
TLIB_OBJ = $(TEST_LIB:%.c=$(BUILD)/%.o)
KOBJ     = $(LIB_SRC:%.c=$(BUILD)/freestanding/%.o)
TESTS    = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all lib freestanding tests test run-sim bench-ceiling test-unit test-vectors test-docs test-bench test-asan test-tsan run bench clean
all: $(BUILD)/mmu64 $(BUILD)/libmmu64.a freestanding tests

lib: $(BUILD)/libmmu64.a
freestanding: $(KOBJ)
tests: $(TESTS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/freestanding/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(KFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libmmu64.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libsim.a: $(SIM_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libvec.a: $(VEC_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/mmu64: $(TOOL_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libvec.a $(BUILD)/libsim.a $(BUILD)/libmmu64.a
	$(CC) $^ -o $@ $(LDFLAGS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(TLIB_OBJ) $(BUILD)/libvec.a $(BUILD)/libsim.a $(BUILD)/libmmu64.a
	@mkdir -p $(dir $@)
	$(CC) $^ -o $@ $(LDFLAGS)

$(BUILD)/bench/mmu64-bench: $(BENCH_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libsim.a $(BUILD)/libmmu64.a
	$(CC) $^ -o $@ $(LDFLAGS)

test-unit: $(TESTS)
	@scripts/run-unit-tests $(BUILD) $(TESTS)

test-vectors: $(BUILD)/mmu64
	@scripts/run-vectors $(BUILD)/mmu64 tests/vectors
	@scripts/run-vectors $(BUILD)/mmu64 tests/vectors-sim
	@scripts/test-inspect $(BUILD)/mmu64
	@$(BUILD)/mmu64 run examples/demo.mmu kernel/demo.mmu >/dev/null && echo "PASS the demos"

# The docs: their vector examples pass, nothing points outside the
# repository, and version.h, mmu64 --version and CHANGELOG.md agree.
test-docs: $(BUILD)/mmu64
	@scripts/check-doc-vectors $(BUILD)/mmu64
	@scripts/check-self-contained
	@scripts/check-version $(BUILD)/mmu64
	@scripts/check-spdx

# The benchmark must keep working, built plainly and with LTO (make
# LTO=1, which the peer comparison uses: docs/BENCH.md); at this size its
# figures mean nothing.
test-bench: $(BUILD)/bench/mmu64-bench
	@$(BUILD)/bench/mmu64-bench --small --reps 1 >/dev/null 2>&1 && echo "PASS bench --small"
	@$(BUILD)/bench/mmu64-bench --small --reps 1 --clear-tables W1 W2 >/dev/null 2>&1 && echo "PASS bench --small --clear-tables"
	@$(MAKE) --no-print-directory LTO=1 build/lto/bench/mmu64-bench >/dev/null 2>&1 || \
		{ echo "FAIL the LTO build (make LTO=1 build/lto/bench/mmu64-bench)"; exit 1; }
	@build/lto/bench/mmu64-bench --small --reps 1 >/dev/null 2>&1 && echo "PASS bench --small, LTO build"

# Tests that run CPUs as threads, under ThreadSanitizer.
TSAN_TESTS = $(filter $(TEST_SRC:tests/unit/%.c=%),test_shootdown_threads test_harvest_threads test_pcid test_vm_threads test_mutants_vm test_sim_ipi test_sim_machine test_promote_race)

test-asan:
	@$(MAKE) --no-print-directory SAN=asan test-unit test-vectors
test-tsan:
	@$(MAKE) --no-print-directory SAN=tsan $(TSAN_TESTS:%=build/tsan/tests/%)
	@scripts/run-unit-tests build/tsan $(TSAN_TESTS:%=build/tsan/tests/%)

test: all
	@$(MAKE) --no-print-directory test-unit test-vectors test-docs test-bench check-stack test-view test-lab
	@$(MAKE) --no-print-directory test-install
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory test-fuzz
	@$(MAKE) --no-print-directory test-kernel
	@$(MAKE) --no-print-directory test-random

# The demo: the test kernel on 4 CPUs under QEMU (installed when missing).
run: run-kernel

# The same kind of demo on the software machine, command beside result.
run-sim: $(BUILD)/mmu64
	$(BUILD)/mmu64 run --annotate examples/demo.mmu

# The step-through page (mmu64 view) in headless Chromium; the lab's grader.
.PHONY: test-view test-lab view-demo
view-demo: $(BUILD)/mmu64
	@mkdir -p $(BUILD)/view
	$(BUILD)/mmu64 view examples/view-demo.mmu -o $(BUILD)/view/view-demo.html
test-view: $(BUILD)/mmu64
	@scripts/test-view $(BUILD)/mmu64
test-lab:
	@$(MAKE) --no-print-directory -C examples/lab check

bench: $(BUILD)/bench/mmu64-bench
	$(BUILD)/bench/mmu64-bench $(BENCH_ARGS)
	@$(MAKE) --no-print-directory bench-ceiling

# This tree's benchmark against commit REV's, in alternating rounds
# (docs/BENCH.md): make bench-compare REV=44a7a86 [BENCH_COMPARE_ARGS="--rounds 10 W1"]
.PHONY: bench-compare
bench-compare:
	@test -n "$(REV)" || { echo "usage: make bench-compare REV=COMMIT [BENCH_COMPARE_ARGS=\"--rounds N --reps R W1 ...\"]" >&2; exit 2; }
	@MAKE="$(MAKE)" scripts/bench-compare $(REV) $(BENCH_COMPARE_ARGS)

clean:
	rm -rf build

# The porting contract (docs/PORTING.md): stack frames, the deepest call
# path and the libc symbols of src/ built freestanding, gcc (and clang).
.PHONY: check-stack
check-stack:
	@scripts/check-stack $(BUILD)

-include $(shell find build -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------------------
# The test kernel (kernel/, issue 3): build/mmu64-kernel.elf boots under QEMU
# (PVH) and runs vectors with the same interpreter as `mmu64 run`; the
# library and the interpreter are compiled freestanding for it.
# `make kernel`; `scripts/qemu-vector FILE...` runs vectors on it.
# ---------------------------------------------------------------------------
.PHONY: kernel
KERNEL_ELF   = $(BUILD)/mmu64-kernel.elf
KERNEL_CSRC  = $(wildcard kernel/*.c)
KERNEL_SSRC  = $(wildcard kernel/*.S)
KERNEL_FLAGS = $(KFLAGS) -g -I. -fno-asynchronous-unwind-tables
KERNEL_OBJ   = $(KERNEL_CSRC:%.c=$(BUILD)/kobj/%.o) $(KERNEL_SSRC:%.S=$(BUILD)/kobj/%.o) \
               $(BUILD)/kobj/kernel/user/blob.o
# The library and the interpreter as archives: the kernel links what it uses.
KERNEL_LIBS  = $(BUILD)/kobj/libvec.a $(BUILD)/kobj/libmmu64.a

kernel: $(KERNEL_ELF)

$(BUILD)/kobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(KERNEL_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/kobj/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(KERNEL_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/kobj/libmmu64.a: $(LIB_SRC:%.c=$(BUILD)/kobj/%.o)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/kobj/libvec.a: $(VEC_SRC:%.c=$(BUILD)/kobj/%.o)
	@rm -f $@
	ar rcs $@ $^

# The user programs (kernel/user/): static, freestanding, linked at 4 MiB;
# the test program's ELF is embedded in the kernel image (blob.S).
USER_FLAGS = -std=c11 -O2 $(WARN) -I. -ffreestanding -fno-builtin -nostdlib -fno-pic -fno-pie \
             -mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables
USER_ELF   = $(BUILD)/user/usertest.elf
USER_OBJ   = $(BUILD)/user/crt0.o $(BUILD)/user/ulib.o $(BUILD)/user/utest.o $(BUILD)/user/usertest.o $(BUILD)/user/memtest.o

$(BUILD)/user/%.o: kernel/user/%.c
	@mkdir -p $(dir $@)
	$(CC) $(USER_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/user/%.o: kernel/user/%.S
	@mkdir -p $(dir $@)
	$(CC) $(USER_FLAGS) -c $< -o $@

$(USER_ELF): $(USER_OBJ) kernel/user/user.ld
	$(LD) -nostdlib -static -z max-page-size=4096 -z noexecstack -T kernel/user/user.ld -o $@ $(USER_OBJ)

$(BUILD)/kobj/kernel/user/blob.o: kernel/user/blob.S $(USER_ELF)
	@mkdir -p $(dir $@)
	$(CC) $(KERNEL_FLAGS) -DUSER_ELF='"$(USER_ELF)"' -c $< -o $@

$(KERNEL_ELF): $(KERNEL_OBJ) $(KERNEL_LIBS) kernel/kernel.ld
	$(LD) -nostdlib -static -z max-page-size=4096 -z noexecstack --no-warn-rwx-segments \
		-T kernel/kernel.ld -o $@ $(KERNEL_OBJ) $(KERNEL_LIBS)

.PHONY: run-kernel test-kernel
# The demo on 4 CPUs, with the kernel's boot log.
run-kernel: $(KERNEL_ELF)
	@scripts/ensure-qemu
	MMU64_KERNEL=$(KERNEL_ELF) scripts/annotate-run kernel/demo.mmu scripts/qemu-vector
	@echo; echo "== user programs in ring 3 on 4 CPUs, KPTI on (kernel/user/usertest.c) =="
	MMU64_KERNEL=$(KERNEL_ELF) kernel/tests/usertest --show kpti

# The cross-check: every vector, and the vector examples of the docs, on
# both executors, identical output (modulo docs/QEMU-DIFFERENCES.md); then
# QEMU's own walk (QMP info tlb) against the library's dump.
test-kernel: $(KERNEL_ELF) $(BUILD)/mmu64
	@scripts/ensure-qemu
	MMU64_KERNEL=$(KERNEL_ELF) MMU64_SIM=$(BUILD)/mmu64 scripts/qemu-vector --compare tests/vectors/*.mmu examples/demo.mmu kernel/demo.mmu
	@d=$$(mktemp -d) && scripts/check-doc-vectors --extract $$d && \
	  MMU64_KERNEL=$(KERNEL_ELF) MMU64_SIM=$(BUILD)/mmu64 scripts/qemu-vector --compare $$d/*.mmu; \
	  s=$$?; rm -rf $$d; exit $$s
	MMU64_KERNEL=$(KERNEL_ELF) MMU64_SIM=$(BUILD)/mmu64 kernel/tests/qmp-oracle
	MMU64_KERNEL=$(KERNEL_ELF) kernel/tests/usertest

# Where a full flush beats N INVLPGs, measured on QEMU (kernel/ceiling.c).
bench-ceiling: $(KERNEL_ELF)
	@scripts/ensure-qemu
	@MMU64_KERNEL=$(KERNEL_ELF) scripts/qemu-ceiling

# ---------------------------------------------------------------------------
# Install (issue 11): `make install PREFIX=/usr/local DESTDIR=...` and
# `make uninstall`. Headers in INCLUDEDIR/mmu64 (sim/sim.h as <mmu64/sim.h>),
# libmmu64.a (hosted), libmmu64-freestanding.a (KFLAGS), libmmu64-sim.a (the
# software machine), the mmu64 command, and pkg-config files mmu64.pc,
# mmu64-freestanding.pc, mmu64-sim.pc with PREFIX written in. Each installed
# archive is one relocatable object whose only global symbols are the API's
# (mmu_*, sim_*), so the library's internal names cannot clash with a
# kernel's. `make test-install` (part of `make test`) checks it all.
# ---------------------------------------------------------------------------
.PHONY: install uninstall install-libs test-install
# The one version: include/mmu64/version.h.
VERSION      := $(shell sed -n 's/^\#define MMU64_VERSION_STRING "\(.*\)"/\1/p' include/mmu64/version.h)
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INST         = $(BUILD)/install
INST_LIBS    = $(INST)/libmmu64.a $(INST)/libmmu64-freestanding.a $(INST)/libmmu64-sim.a
INST_HEADERS = $(wildcard include/mmu64/*.h) sim/sim.h
INST_PC      = mmu64.pc mmu64-freestanding.pc mmu64-sim.pc
# The part of KFLAGS a kernel linking the archive must share: freestanding,
# no red zone, no SSE, the kernel code model (which needs -fno-pic).
PC_KCFLAGS   = $(filter -ffreestanding -m% -fno-pic,$(KFLAGS))
pc_rel       = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

# archive NAME KEEP OBJS: OBJS linked into one object, KEEP's symbols global.
define inst_archive
	@mkdir -p $(INST)
	$(LD) -r -o $(INST)/$(1).o $(3)
	objcopy --wildcard $(foreach k,$(2),--keep-global-symbol='$(k)') $(INST)/$(1).o
	@rm -f $(INST)/$(1).a
	ar rcs $(INST)/$(1).a $(INST)/$(1).o
endef
$(INST)/libmmu64.a: $(LIB_OBJ)
	$(call inst_archive,libmmu64,mmu_*,$^)
$(INST)/libmmu64-freestanding.a: $(KOBJ)
	$(call inst_archive,libmmu64-freestanding,mmu_*,$^)
$(INST)/libmmu64-sim.a: $(SIM_OBJ)
	$(call inst_archive,libmmu64-sim,sim_*,$^)
install-libs: $(INST_LIBS) $(BUILD)/mmu64

install: install-libs
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/mmu64 $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 $(filter-out sim/sim.h,$(INST_HEADERS)) $(DESTDIR)$(INCLUDEDIR)/mmu64/
	install -m 644 sim/sim.h $(DESTDIR)$(INCLUDEDIR)/mmu64/sim.h
	install -m 644 $(INST_LIBS) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/mmu64 $(DESTDIR)$(BINDIR)/mmu64
	for pc in $(INST_PC); do \
		sed -e 's|@prefix@|$(PREFIX)|' -e 's|@libdir@|$(call pc_rel,$(LIBDIR))|' \
		    -e 's|@includedir@|$(call pc_rel,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' \
		    -e 's|@KCFLAGS@|$(PC_KCFLAGS)|' pkgconfig/$$pc.in >$(DESTDIR)$(PKGCONFIGDIR)/$$pc || exit 1; \
	done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/mmu64/,$(notdir $(INST_HEADERS)))
	rm -f $(addprefix $(DESTDIR)$(LIBDIR)/,$(notdir $(INST_LIBS)))
	rm -f $(addprefix $(DESTDIR)$(PKGCONFIGDIR)/,$(INST_PC)) $(DESTDIR)$(BINDIR)/mmu64
	rmdir $(DESTDIR)$(INCLUDEDIR)/mmu64 2>/dev/null || true

# Install into a temporary DESTDIR, build and run examples/hello and
# examples/frames and build examples/port through pkg-config, compile every
# installed header as C++,
# compare struct layouts between C and C++, uninstall.
test-install: install-libs
	@MAKE="$(MAKE)" scripts/test-install $(BUILD)

# ---------------------------------------------------------------------------
# Coverage-guided fuzzing with libFuzzer (clang-14; docs/FUZZING.md):
# build/fuzz/fuzz-vectors (any bytes as a vector file) and
# build/fuzz/fuzz-ops (operation sequences on the library against the
# property test's model). `make fuzz FUZZ_SECONDS=N` runs each N seconds;
# `make test` runs test-fuzz (FUZZ_CI_SECONDS each).
# ---------------------------------------------------------------------------
.PHONY: fuzz fuzz-build test-fuzz
FUZZ_SECONDS    ?= 300
FUZZ_CI_SECONDS ?= 10
FUZZ_BUILD       = build/fuzz
FUZZ_FLAGS       = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZERS          = $(FUZZ_BUILD)/fuzz-vectors $(FUZZ_BUILD)/fuzz-ops

fuzz-build:
	@scripts/ensure-clang
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang-14 SANFLAGS="$(FUZZ_FLAGS)" $(FUZZERS)

$(FUZZ_BUILD)/fuzz-vectors: $(FUZZ_BUILD)/tests/fuzz/fuzz_vectors.o $(FUZZ_BUILD)/tools/exec_sim.o \
		$(FUZZ_BUILD)/libvec.a $(FUZZ_BUILD)/libsim.a $(FUZZ_BUILD)/libmmu64.a
	$(CC) -fsanitize=fuzzer $^ -o $@ $(LDFLAGS)

$(FUZZ_BUILD)/fuzz-ops: $(FUZZ_BUILD)/tests/fuzz/fuzz_ops.o $(FUZZ_BUILD)/tests/fuzz/fuzz_procs.o \
		$(FUZZ_BUILD)/tests/unit/refmodel.o $(FUZZ_BUILD)/tests/unit/simtest.o \
		$(FUZZ_BUILD)/libsim.a $(FUZZ_BUILD)/libmmu64.a
	$(CC) -fsanitize=fuzzer $^ -o $@ $(LDFLAGS)

fuzz: fuzz-build
	@scripts/fuzz $(FUZZ_SECONDS)

test-fuzz: fuzz-build
	@scripts/fuzz $(FUZZ_CI_SECONDS)

# The random differential (scripts/random-diff, docs/RANDOM-DIFF.md):
# random vector files of 300 commands (`mmu64 gen`, every feature) on the
# software machine under ASan+UBSan with the TLB sanitizer, and under QEMU,
# compared line by line. `make test` runs seeds 1..RANDOM_SEEDS; `make soak
# SEEDS=N [SEED_START=N] [RANDOM_ARGS=--pcid]` runs N more (from a new start
# each time; --pcid: every file with PCIDs, the software machine alone).
.PHONY: test-random soak random-tools
RANDOM_SEEDS ?= 40
SEEDS        ?= 400
SEED_START   ?= $(shell date +%s)
random-tools: $(KERNEL_ELF)
	@$(MAKE) --no-print-directory SAN=asan build/asan/mmu64
	@scripts/ensure-qemu
test-random: random-tools
	MMU64=build/asan/mmu64 MMU64_KERNEL=$(KERNEL_ELF) scripts/random-diff --seeds 1 $(RANDOM_SEEDS)
soak: random-tools
	MMU64=build/asan/mmu64 MMU64_KERNEL=$(KERNEL_ELF) scripts/random-diff --seeds $(SEED_START) $(SEEDS) $(RANDOM_ARGS)
