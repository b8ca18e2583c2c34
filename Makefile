# mmu64 — see README.md. `make test` runs everything CI runs.
#
# Variables: BUILD (output directory), SAN=asan|tsan (sanitizer build into
# build/asan or build/tsan), CC.

CC      ?= cc
SAN     ?=
ifeq ($(SAN),asan)
BUILD   ?= build/asan
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(SAN),tsan)
BUILD   ?= build/tsan
SANFLAGS = -fsanitize=thread -fno-omit-frame-pointer
else
BUILD   ?= build
SANFLAGS =
endif

OPT      ?= -O2
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS   = -std=c11 $(OPT) -g $(WARN) $(SANFLAGS) -Iinclude -I. -D_GNU_SOURCE
LDFLAGS  = $(SANFLAGS) -pthread
# The library must also build as kernel code.
KFLAGS   = -std=c11 -O2 $(WARN) -Iinclude -ffreestanding -fno-builtin -nostdlib -mno-red-zone \
           -mgeneral-regs-only -mcmodel=kernel -fno-pic -fno-stack-protector

LIB_SRC  = $(wildcard src/*.c)
SIM_SRC  = $(wildcard sim/*.c)
VEC_SRC  = $(wildcard tools/vec/*.c)
TOOL_SRC = tools/mmu64.c
TEST_SRC = $(wildcard tests/unit/test_*.c)
TEST_LIB = $(filter-out $(TEST_SRC),$(wildcard tests/unit/*.c))
BENCH_SRC= $(wildcard bench/*.c)

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
SIM_OBJ  = $(SIM_SRC:%.c=$(BUILD)/%.o)
VEC_OBJ  = $(VEC_SRC:%.c=$(BUILD)/%.o)
TLIB_OBJ = $(TEST_LIB:%.c=$(BUILD)/%.o)
KOBJ     = $(LIB_SRC:%.c=$(BUILD)/freestanding/%.o)
TESTS    = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all lib freestanding tests test test-unit test-vectors test-asan test-tsan run bench clean
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

$(BUILD)/mmu64: $(BUILD)/tools/mmu64.o $(BUILD)/libvec.a $(BUILD)/libsim.a $(BUILD)/libmmu64.a
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

# The whole suite under ASan+UBSan, and the threaded tests under TSan.
test-asan:
	$(MAKE) SAN=asan test-unit test-vectors
test-tsan:
	$(MAKE) SAN=tsan $(BUILD_TSAN_TESTS)

test: all
	@$(MAKE) --no-print-directory test-unit test-vectors
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory SAN=tsan build/tsan/tests/test_shootdown_threads
	build/tsan/tests/test_shootdown_threads

run: $(BUILD)/mmu64
	$(BUILD)/mmu64 run examples/demo.mmu

bench: $(BUILD)/bench/mmu64-bench
	$(BUILD)/bench/mmu64-bench $(BENCH_ARGS)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
