# overlap: one Makefile for the engine (src/), the server (server/), the
# command line (cli/), the page (web/) and the tests (tests/).  Build output
# goes to $(BUILD).
#
#   make            build build/overlap
#   make run        install what is missing, build, serve on 127.0.0.1:8080
#   make test       unit, integration, HTTP and browser tests
#   make bench      benchmarks, one table
#   make boundary   prove the layers: the engine builds with -Isrc alone
#   make fuzz       each libFuzzer harness for FUZZ_SECONDS (60)
#   make format     clang-format every C file; make format-check only checks
#   make SAN=address,undefined test   /   make SAN=thread test
#
# The layers are libraries, each compiled with the include paths of what it
# may use: the engine (src/, -Isrc) into libovl-engine.a, the server
# (server/, -Isrc -Iserver) into libovl-server.a; cli/ links both into
# build/overlap.  The engine knows nothing of HTTP, the server nothing of
# the command line.
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
ifneq ($(MAKECMDGOALS),format-check)
ifneq ($(PKG_OK),yes)
$(info overlap: pkg-config cannot find $(PKGS); run 'make deps' (Debian: libmicrohttpd-dev libjansson-dev libcmocka-dev pkg-config))
endif
endif
endif
endif
endif

OVL_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g \
	-pthread -MMD -MP $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# What each layer may include.
ENGINE_INC := -Isrc
SERVER_INC := -Isrc -Iserver
CLI_INC := -Isrc -Iserver -Icli
TEST_INC := -Isrc -Iserver -Itests
OVL_LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm -lrt
TEST_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LDLIBS := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

ifneq ($(SAN),)
OVL_CFLAGS += -fsanitize=$(SAN) -fno-omit-frame-pointer -O1
OVL_LDFLAGS += -fsanitize=$(SAN)
endif
# The libFuzzer build (make fuzz): clang, every object instrumented for
# coverage, AddressSanitizer and UndefinedBehaviorSanitizer, and any
# report fatal.
FUZZ_SAN := address,undefined
ifeq ($(FUZZ),1)
OVL_CFLAGS += -fsanitize=fuzzer-no-link,$(FUZZ_SAN) \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -O1
endif

ENGINE_SRC := $(wildcard src/*.c)
SERVER_SRC := $(wildcard server/*.c)
CLI_SRC := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
BENCH_SRC := $(wildcard tests/bench_*.c)
SUPPORT_SRC := tests/support.c

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:tests/%.c=$(BUILD)/tests/%)
ENGINE_LIB := $(BUILD)/libovl-engine.a
SERVER_LIB := $(BUILD)/libovl-server.a
# The server's library first: it calls into the engine's.
LIBS := $(SERVER_LIB) $(ENGINE_LIB)

.PHONY: all deps run test unit-test web-test bench boundary format \
	format-check clean valgrind fuzz fuzz-build fidelity
all: $(BUILD)/overlap

$(BUILD)/obj/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(OVL_CFLAGS) $(ENGINE_INC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/server/%.o: server/%.c
	@mkdir -p $(dir $@)
	$(CC) $(OVL_CFLAGS) $(SERVER_INC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/cli/%.o: cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(OVL_CFLAGS) $(CLI_INC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(OVL_CFLAGS) $(TEST_INC) $(TEST_CFLAGS) $(CFLAGS) -c $< -o $@

$(ENGINE_LIB): $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SERVER_LIB): $(SERVER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/overlap: $(CLI_OBJ) $(LIBS)
	$(CC) $(OVL_LDFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIBS) $(OVL_LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(SUPPORT_OBJ) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(OVL_LDFLAGS) $(LDFLAGS) -o $@ $< $(SUPPORT_OBJ) $(LIBS) \
	  $(TEST_LDLIBS) $(OVL_LDLIBS)

# The layers, proved: every engine file compiles with -Isrc and jansson
# alone (no server, no command line, no libmicrohttpd), and no engine file
# names a header of server/ or cli/, nor a server file one of cli/.
BOUNDARY_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread \
	-fsyntax-only -Isrc $(shell pkg-config --cflags jansson 2>/dev/null)
boundary:
	@fail=0; for f in src/*.c; do \
	  $(CC) $(BOUNDARY_CFLAGS) $$f || { echo "boundary: $$f needs more than -Isrc"; fail=1; }; \
	done; \
	for h in $$(cd server && ls *.h) $$(cd cli && ls *.h); do \
	  [ -f src/$$h ] && continue; \
	  if grep -n "^#include \"$$h\"" src/*.c src/*.h; then \
	    echo "boundary: the engine includes $$h (server/ or cli/)"; fail=1; fi; \
	done; \
	for h in $$(cd cli && ls *.h); do \
	  [ -f src/$$h ] || [ -f server/$$h ] && continue; \
	  if grep -n "^#include \"$$h\"" server/*.c server/*.h; then \
	    echo "boundary: the server includes $$h (cli/)"; fail=1; fi; \
	done; \
	[ $$fail = 0 ] && echo "boundary: the engine builds with -Isrc alone"; \
	exit $$fail

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

# libFuzzer harnesses, tests/fuzz/fuzz_NAME.c, built by clang in
# build/fuzz.  Each runs FUZZ_SECONDS from its seed corpus, kept in the
# repository (tests/fuzz/corpus/NAME, read only); what it finds new goes
# to build/fuzz/corpus/NAME, a crash to build/fuzz/crash-NAME-*.
FUZZ_SECONDS ?= 60
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_BUILD := build/fuzz

$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer,$(FUZZ_SAN) $(LDFLAGS) -o $@ $< $(LIBS) \
	  $(OVL_LDLIBS)

fuzz-build: $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)

fuzz:
	@$(MAKE) --no-print-directory CC=clang FUZZ=1 BUILD=$(FUZZ_BUILD) \
	  SAN= fuzz-build
	@fail=0; for n in $(FUZZ_NAMES); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  log=$(FUZZ_BUILD)/fuzz-$$n.log; \
	  if $(FUZZ_BUILD)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) \
	      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	      -artifact_prefix=$(FUZZ_BUILD)/crash-$$n- \
	      $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n >$$log 2>&1; \
	  then \
	    runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log); \
	    echo "fuzz $$n: $(FUZZ_SECONDS) s, $$runs runs, no finding"; \
	  else \
	    echo "fuzz $$n: FOUND SOMETHING (log: $$log)"; tail -40 $$log; \
	    fail=1; \
	  fi; \
	done; exit $$fail

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

# Every C file of the project, cli/ and tests/ included: the tracked ones,
# or outside a git checkout the ones under the four folders.
# format-check changes nothing and fails on the first difference.
FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || \
	find src server cli tests -name '*.[ch]')
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
