# overlap: one Makefile for the engine (src/), the server (server/), the page
# (web/) and the tests (tests/).  Build output goes to $(BUILD).
#
#   make            build build/overlap
#   make run        install what is missing, build, serve on 127.0.0.1:8080
#   make test       unit, integration, HTTP and browser tests
#   make bench      benchmarks, one table
#   make SAN=address,undefined test   /   make SAN=thread test
#
# User CFLAGS/LDFLAGS are kept apart from the project's own flags.

SAN ?=
ifeq ($(SAN),)
BUILD ?= build
else
BUILD ?= build/san-$(subst $(comma),-,$(SAN))
endif
comma := ,

CC ?= cc
PKGS := libmicrohttpd jansson
TEST_PKGS := cmocka

PKG_OK := $(shell pkg-config --exists $(PKGS) 2>/dev/null && echo yes)
ifneq ($(MAKECMDGOALS),deps)
ifneq ($(MAKECMDGOALS),clean)
ifneq ($(MAKECMDGOALS),format)
ifneq ($(PKG_OK),yes)
$(info overlap: pkg-config cannot find $(PKGS); run 'make deps' (Debian: libmicrohttpd-dev libjansson-dev libcmocka-dev pkg-config))
endif
endif
endif
endif

OVL_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g \
	-pthread -MMD -MP -Isrc -Iserver \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
OVL_LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm -lrt
TEST_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LDLIBS := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

ifneq ($(SAN),)
OVL_CFLAGS += -fsanitize=$(SAN) -fno-omit-frame-pointer -O1
OVL_LDFLAGS += -fsanitize=$(SAN)
endif

ENGINE_SRC := $(filter-out src/main.c,$(wildcard src/*.c))
SERVER_SRC := $(wildcard server/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
BENCH_SRC := $(wildcard tests/bench_*.c)

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:tests/%.c=$(BUILD)/tests/%)
LIB := $(BUILD)/libovl.a

.PHONY: all deps run test unit-test web-test bench format clean valgrind fidelity
all: $(BUILD)/overlap

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(OVL_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(ENGINE_OBJ) $(SERVER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/overlap: $(BUILD)/obj/src/main.o $(LIB)
	$(CC) $(OVL_LDFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(OVL_LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OVL_LDFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(TEST_LDLIBS) $(OVL_LDLIBS)

deps:
	@sh .ci/deps

run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/overlap serve --port 8080

# Every unit test binary runs even when an earlier one fails; the target
# fails if any did.
unit-test: $(BUILD)/overlap $(TEST_BIN)
	@fail=0; for t in $(TEST_BIN); do \
	  echo "== $$t"; \
	  OVERLAP_BIN=$(abspath $(BUILD)/overlap) OVERLAP_WEB=$(abspath web) \
	  OVERLAP_TESTDATA=$(abspath tests/data) $$t || fail=1; \
	done; exit $$fail

web-test: $(BUILD)/overlap
	@if ls tests/web/*.test.mjs >/dev/null 2>&1; then \
	  OVERLAP_BIN=$(abspath $(BUILD)/overlap) OVERLAP_BUILD=$(abspath $(BUILD)) \
	  node --test --test-concurrency=1 tests/web/; \
	fi

test: deps
	@$(MAKE) --no-print-directory unit-test
	@$(MAKE) --no-print-directory web-test

# Every benchmark prints rows of one table; its header is printed once, and
# the headers and blank lines the parts print on their own are dropped.
BENCH_ROWS := sed -u -e '/^| measure |/d' -e '/^| --- |/d' -e '/^$$/d'
bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@printf '| measure | value | target |\n| --- | --- | --- |\n'
	@rm -f $(BUILD)/bench.failed; \
	for b in $(BENCH_BIN); do \
	  { $$b || echo $$b >> $(BUILD)/bench.failed; } | $(BENCH_ROWS); \
	done; \
	if [ -f tests/web/bench.mjs ]; then \
	  { OVERLAP_BIN=$(abspath $(BUILD)/overlap) node tests/web/bench.mjs || \
	    echo tests/web/bench.mjs >> $(BUILD)/bench.failed; } | $(BENCH_ROWS); \
	fi; \
	if [ -f $(BUILD)/bench.failed ]; then \
	  echo "bench: failed: $$(cat $(BUILD)/bench.failed)" >&2; exit 1; fi

# Each lesson of the README's table under the overlap model and under
# CPython (the python3 on PATH, or PYTHON=path), one table.
fidelity: $(BUILD)/overlap
	python3 tests/fidelity.py --overlap $(BUILD)/overlap $(if $(PYTHON),--python $(PYTHON))

# The benchmarks' objects are kept, so make bench does not rebuild them.
.SECONDARY: $(BENCH_SRC:tests/%.c=$(BUILD)/obj/tests/%.o) $(TEST_SRC:tests/%.c=$(BUILD)/obj/tests/%.o)

# Memory errors and definite leaks, under valgrind, in the unit tests that
# are quick there; a build without SAN (valgrind and the sanitizers do not
# mix).  valgrind runs one thread at a time; --fair-sched hands the CPU
# round, so threads that wait for the GIL get to wait, as they do outside
# valgrind.
VALGRIND_TESTS := spec steps trace render summary models ring
VALGRIND_BIN := $(VALGRIND_TESTS:%=$(BUILD)/tests/test_%)

valgrind: $(BUILD)/overlap $(VALGRIND_BIN)
	$(if $(SAN),$(error valgrind: build without SAN))
	@fail=0; for t in $(VALGRIND_BIN); do \
	  echo "== valgrind $$t"; \
	  OVERLAP_BIN=$(abspath $(BUILD)/overlap) OVERLAP_WEB=$(abspath web) \
	  OVERLAP_TESTDATA=$(abspath tests/data) \
	  valgrind -q --fair-sched=yes --error-exitcode=1 --leak-check=full \
	    --errors-for-leak-kinds=definite $$t || fail=1; \
	done; exit $$fail

format:
	clang-format -i src/*.c src/*.h server/*.c server/*.h tests/*.c 2>/dev/null || true

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
