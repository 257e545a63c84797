# encoderd - build, run, test.
#   make          build build/encoderd (and build/libencoder.a)
#   make run      install what is missing, build, start on config/default.json
#   make test     install what is missing, build, run every test suite (tests/README.md);
#                 SKIP="tokenizer-hf e2e" leaves the suites so named out, on purpose
#   make test-ui  the visualizer in Debian's chromium (tests/ui; installs chromium, npm ci)
#   make fixtures regenerate the PyTorch golden fixtures (needs python3-torch; not run by test)
#   make SAN=1 …  the same with AddressSanitizer and UndefinedBehaviorSanitizer

CC      ?= cc
BUILD   ?= build
SAN     ?= 0
PKGS    := libmicrohttpd jansson libutf8proc libuv libpcre2-8
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -fno-math-errno -fopenmp \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread -fopenmp
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD   := build-san
endif

# Debian packages the build and the tests need (installed by `make deps`).
# prometheus brings promtool, which checks /metrics in the end-to-end tests.
DEB_PKGS := build-essential pkg-config libmicrohttpd-dev libjansson-dev \
            libuv1-dev libutf8proc-dev libpcre2-dev check curl ca-certificates valgrind clang-format \
            python3 python3-yaml prometheus

CORE_SRC   := $(wildcard core/*.c core/tokenizer/*.c)
SERVER_SRC := $(wildcard server/*.c server/json/*.c)
TEST_SRC   := $(wildcard tests/unit/test_*.c)
# core/kernels.c is compiled twice, 16-lane (AVX-512) and 8-lane code; kernels_pick.c
# chooses at run time (see kernels.c).
KERNEL_W   := 16 8
# The bf16 and int8 kernels (core/qkernels.c, qkernels_bf16.c, qkernels_int8.c,
# qkernels_att.c) are compiled once per path, with the flags of its instruction set
# (core/qkernels_path.h); qlinear.c runs the first one the processor has (cpu.h).
QKERNEL_PATHS := avx512native avx512 avx2 scalar
QK_FLAGS_avx512native := -march=x86-64-v4 -mavx512bf16 -mavx512vnni -DQK_AVX512NATIVE
QK_FLAGS_avx512 := -march=x86-64-v4 -DQK_AVX512
QK_FLAGS_avx2   := -march=x86-64-v3 -DQK_AVX2
QK_FLAGS_scalar :=
QK_SRC     := qkernels qkernels_bf16 qkernels_int8 qkernels_att
QK_OBJ     := $(foreach f,$(QK_SRC),$(QKERNEL_PATHS:%=$(BUILD)/core/$(f)_%.o))
CORE_OBJ   := $(filter-out $(BUILD)/core/kernels.o $(QK_SRC:%=$(BUILD)/core/%.o),$(CORE_SRC:%.c=$(BUILD)/%.o)) \
              $(KERNEL_W:%=$(BUILD)/core/kernels_w%.o) $(QK_OBJ)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
# Server objects the unit tests may link against (everything but main).
SERVER_LIB_OBJ := $(filter-out $(BUILD)/server/main.o,$(SERVER_OBJ))
TEST_BIN   := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# test_arena counts the allocations of our own code (see the test).
$(BUILD)/tests/test_arena: LDFLAGS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc \
    -Wl,--wrap=posix_memalign,--wrap=aligned_alloc,--wrap=mmap
# ---- hardening: each fuzz harness, replayed on its committed inputs (seed
# corpus and regressions) by tests/fuzz/replay_main.c, is a test like the unit tests.
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
TEST_BIN   += $(FUZZ_NAMES:%=$(BUILD)/tests/test_fuzz_%)

.PHONY: all run test deps unit-tests fixtures clean valgrind bench test-ui format format-check

all: $(BUILD)/encoderd

# -MMD writes each object's header dependencies beside it (included at the end).
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -Icore -Icore/tokenizer -Iserver -Iserver/json -c $< -o $@

# -std=c11 turns floating-point contraction off, so a * b + c in the vector kernels was a
# multiply and an add, never one FMA (seen in perf annotate). The fast kernels may fuse;
# the reference kernels (kernels_ref.c) keep the plain rounding they are compared from.
$(BUILD)/core/kernels_w%.o: core/kernels.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -ffp-contract=fast -DVW=$* -MMD -MP -Icore -Icore/tokenizer -Iserver -Iserver/json -c $< -o $@

# No FP contraction (-std=c11's default, said here): every path must round alike, so the
# only fused multiply-adds are the ones the code asks for (qkernels_bf16.c). An object's
# name is its source's and its path's: qkernels_att_avx2.o is core/qkernels_att.c with
# QK_FLAGS_avx2. Both are taken from $@, so the source is named by secondary expansion
# (the fuzzing build below uses the same rule shape).
QK_FLAGS = $(QK_FLAGS_$(lastword $(subst _, ,$(basename $(notdir $@)))))
QK_SOURCE = core/$(subst _$(lastword $(subst _, ,$(basename $(notdir $@)))),,$(basename $(notdir $@))).c
.SECONDEXPANSION:
$(QK_OBJ): $$(QK_SOURCE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -ffp-contract=off $(QK_FLAGS) -MMD -MP -Icore -Icore/tokenizer -Iserver -Iserver/json -c $< -o $@

$(BUILD)/libencoder.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Files the binary serves, embedded at build time as C arrays (od is in coreutils), so
# the binary needs nothing beside it.
$(BUILD)/gen/openapi_yaml.c: openapi.yaml
	@mkdir -p $(dir $@)
	{ echo '/* generated from openapi.yaml by the Makefile */'; \
	  echo 'const char encoderd_openapi_yaml[] = {'; \
	  od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0};'; \
	  echo 'const unsigned long encoderd_openapi_yaml_len = sizeof encoderd_openapi_yaml - 1;'; \
	} > $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/encoderd: $(SERVER_OBJ) $(BUILD)/gen/openapi_yaml.o $(BUILD)/gen/web_assets.o $(BUILD)/libencoder.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- the visualizer ---------------------------------------------------------
# server/web/'s files (not its subfolders: docs/ holds the README's screenshot) as a C
# table of {path, Content-Type, bytes, ETag} (api_web_file, server/api.h), linked into
# build/encoderd only; main.c registers it.
WEB_FILES := $(sort $(wildcard $(addprefix server/web/*.,html css js svg png txt)))
$(BUILD)/gen/web_assets.c: $(WEB_FILES) server/web/embed.sh
	@mkdir -p $(dir $@)
	server/web/embed.sh $(WEB_FILES) >$@.tmp && mv $@.tmp $@

$(BUILD)/gen/web_assets.o: $(BUILD)/gen/web_assets.c server/web.h server/routes.h server/reply.h
	$(CC) $(CFLAGS) -Icore -Icore/tokenizer -Iserver -Iserver/json -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libencoder.a $(SERVER_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -Icore -Icore/tokenizer -Iserver -Iserver/json -Itests/unit $(LDFLAGS) -o $@ $< $(SERVER_LIB_OBJ) \
	    $(BUILD)/libencoder.a $(LDLIBS) $(shell pkg-config --libs check)

# ---- set-up ----------------------------------------------------------------------
# Installs the Debian packages that are missing (apt-get update first; sudo when not
# root), and Node.js for the tokenizer and end-to-end tests.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	    SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	    echo "installing:$$missing"; \
	    $$SUDO apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

run: deps
	$(MAKE) all
	$(BUILD)/encoderd --config config/default.json

# ---- tests -----------------------------------------------------------------------
test: deps
	$(MAKE) all $(TEST_BIN)
	SKIP="$(SKIP)" tests/run_all.sh $(BUILD)

# Every C file of core/, server/ and tests/ laid out as .clang-format says (clang-format is
# installed by `make deps`). `make format` rewrites them so.
C_FILES = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null | grep -E '^(core|server|tests)/')
format:
	clang-format -i $(C_FILES)
format-check:
	@bad=""; for f in $(C_FILES); do clang-format "$$f" | cmp -s "$$f" - || bad="$$bad $$f"; done; \
	if [ -n "$$bad" ]; then echo "format-check: not as .clang-format lays it out (make format):$$bad"; exit 1; fi; \
	echo "format-check: $(words $(C_FILES)) files as .clang-format lays them out"

unit-tests: all $(TEST_BIN)
	tests/run_all.sh $(BUILD) unit

valgrind: deps all $(TEST_BIN)
	@for t in $(TEST_BIN); do \
	    echo "== valgrind $$t"; \
	    CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	        $$t >/dev/null || exit 1; \
	done; echo "valgrind: no errors, no leaks"

# ---- the visualizer in a browser: Debian's chromium driven by playwright-core
# (pinned in tests/ui/package-lock.json) against build/encoderd; screenshots go to
# tests/artifacts/ui/.
test-ui: deps all
	@[ -x /usr/bin/chromium ] || { SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	    echo "installing: chromium"; $$SUDO apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; }
	@[ -d tests/ui/node_modules/playwright-core ] || (cd tests/ui && npm ci --no-audit --no-fund --loglevel=error)
	ENCODERD_BIN=$(BUILD)/encoderd node --test --test-reporter=spec tests/ui/ui.test.mjs

# The golden fixtures are committed; this regenerates them with Debian's python3-torch.
fixtures:
	@dpkg-query -W -f='$${Status}' python3-torch 2>/dev/null | grep -q "ok installed" || { \
	    SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q python3-torch python3-numpy; }
	/usr/bin/python3 tests/golden/gen_fixtures.py tests/golden/fixtures
	/usr/bin/python3 tests/golden/gen_pairs.py tests/golden/fixtures

clean:
	rm -rf build build-san

# ---- benchmark (not part of test) ---------------------------------------------------
# Side by side with ONNX Runtime and PyTorch on the same weights; see tests/bench/README.md.
bench: deps all
	tests/bench/bench.sh $(BUILD)

# ---- the products' microbenchmark (not part of test) --------------------------------
# GFLOP/s of the float32, bf16 and int8 products at MiniLM's shapes beside each
# instruction's peak here (tests/bench/README.md); QBENCH_ARGS="--paths" adds the
# emulations, "--threads 1 --rows 128" narrows it.
QBENCH_ARGS ?=
.PHONY: qbench
$(BUILD)/qbench: tests/bench/qbench.c $(BUILD)/libencoder.a
	$(CC) $(CFLAGS) -Icore -o $@ $< $(BUILD)/libencoder.a $(LDLIBS)

qbench: deps
	$(MAKE) $(BUILD)/qbench
	nice $(BUILD)/qbench $(QBENCH_ARGS)

# ---- every float's text (not part of test) ------------------------------------------
# Each of the 2^32 floats written at 9 digits, by the 8-lane path and the scalar one,
# against printf (~13 min on 2 cores); FLOAT_CHECK_STRIDE=k checks every k-th (CI: 251).
FLOAT_CHECK_STRIDE ?= 1
.PHONY: float-check
float-check: deps $(BUILD)/tests/float_check
	$(BUILD)/tests/float_check $(FLOAT_CHECK_STRIDE)

# ---- hardening: fuzzing, hostile clients ----------------------------------------
#   make fuzz          every libFuzzer harness of tests/fuzz/ for FUZZ_SECONDS (60) each, with
#                      ASan + UBSan, built by Debian's clang in build-fuzz/ (installed when missing)
#   make fuzz-ci       the same, 20 s each (.ci/run)
#   make test-hostile  tests/hostile/: the real BUILD/encoderd on loopback against floods, slow
#                      and vanishing clients, hostile bodies, broken model folders, path tricks
#                      (HOSTILE_WRK_SECONDS: the wrk round length, 30 by default)
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build-fuzz
FUZZ_CC      := clang-14
FUZZ_DEB_PKGS := clang-14 libclang-rt-14-dev libomp-14-dev
# No -Werror: clang warns where gcc does not, and a warning must not stop the fuzzing.
FUZZ_CFLAGS  := -O1 -g -std=c11 -D_GNU_SOURCE -pthread -fno-math-errno -fno-omit-frame-pointer \
                $(filter -fopenmp,$(CFLAGS)) -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
                -Icore -Icore/tokenizer -Iserver -Iserver/json
FUZZ_QK_OBJ  := $(patsubst $(BUILD)/%,$(FUZZ_BUILD)/%,$(QK_OBJ))
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(filter-out core/kernels.c $(QK_SRC:%=core/%.c),$(CORE_SRC)) \
                  $(filter-out server/main.c,$(SERVER_SRC))) $(KERNEL_W:%=$(FUZZ_BUILD)/core/kernels_w%.o) \
                $(FUZZ_QK_OBJ)
FUZZ_BIN     := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz fuzz-ci fuzz-deps clean-fuzz test-hostile

# The replay tests (gcc, or ASan + UBSan with SAN=1): see the block after TEST_BIN.
$(BUILD)/tests/test_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(BUILD)/libencoder.a $(SERVER_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Icore -Icore/tokenizer -Iserver -Iserver/json $(LDFLAGS) -o $@ $< tests/fuzz/replay_main.c \
	    $(SERVER_LIB_OBJ) $(BUILD)/libencoder.a $(LDLIBS)

# An object built without its .d file would never see a header change (a build dir
# could mix two layouts of one struct): an object without its .d is rebuilt.
$(CORE_OBJ) $(SERVER_OBJ): $(BUILD)/%.o: $(BUILD)/%.d
$(BUILD)/%.d: ;
.PRECIOUS: $(BUILD)/%.d

fuzz-deps: deps
	@missing=""; for p in $(FUZZ_DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	    echo "installing:$$missing"; \
	    $$SUDO apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/core/kernels_w%.o: core/kernels.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -ffp-contract=fast -DVW=$* -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_QK_OBJ): $$(QK_SOURCE)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -ffp-contract=off $(QK_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

.SECONDARY: $(FUZZ_LIB_OBJ)
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) $(LDLIBS)

fuzz: fuzz-deps
	$(MAKE) $(FUZZ_BIN)
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=20

clean: clean-fuzz
clean-fuzz:
	rm -rf $(FUZZ_BUILD)

test-hostile: deps
	@command -v wrk >/dev/null 2>&1 || { SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	    echo "installing: wrk"; $$SUDO apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends wrk; }
	$(MAKE) all
	tests/hostile/run.sh $(BUILD)

# ---- containers and scale-out ---------------------------------------------------
#   make docker-test   docker/Dockerfile built and run with podman (installed when missing):
#                      /health, /encode, HEALTHCHECK, not root, SIGTERM; prints the image
#                      size (docker/test.sh)
#   make scale-test    two BUILD/encoderd behind Debian's nginx under wrk, one killed mid-load
#                      (tests/scale/run.sh, about 30 s)
#   make deploy-check  docker/k8s against the Kubernetes schemas (npm), compose.yaml with
#                      docker-compose, nginx.conf with nginx -t (docker/check.sh)
.PHONY: docker-test scale-test deploy-check
docker-test: deps
	docker/test.sh

scale-test: deps
	$(MAKE) all
	tests/scale/run.sh $(BUILD)

deploy-check: deps
	$(MAKE) all
	docker/check.sh $(BUILD)

# The dependency files are never made by a rule: without this, make's built-in `%: %.o`
# would remake build-fuzz/core/kernels_w8.d from a "kernels_w8.d.o" (the kernels_w% rule)
# whenever core/kernels.c is newer than it.
%.d: ;
-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
