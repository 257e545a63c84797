# encoderd - build, run, test.
#   make          build build/encoderd (and build/libencoder.a)
#   make run      install what is missing, build, start on config/default.json
#   make test     install what is missing, build, run every test
#   make fixtures regenerate the PyTorch golden fixtures (needs python3-torch; not run by test)
#   make SAN=1 …  the same with AddressSanitizer and UndefinedBehaviorSanitizer

CC      ?= cc
BUILD   ?= build
SAN     ?= 0
PKGS    := openblas libmicrohttpd jansson libutf8proc libuv
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
DEB_PKGS := build-essential pkg-config libopenblas-dev libmicrohttpd-dev libjansson-dev \
            libuv1-dev libutf8proc-dev check curl ca-certificates valgrind

CORE_SRC   := $(wildcard core/*.c)
SERVER_SRC := $(wildcard server/*.c)
TEST_SRC   := $(wildcard tests/unit/test_*.c)
CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
# Server objects the unit tests may link against (everything but main).
SERVER_LIB_OBJ := $(filter-out $(BUILD)/server/main.o,$(SERVER_OBJ))
TEST_BIN   := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all run test deps check-deps unit-tests tokenizer-tests golden-tests e2e-tests \
        fixtures clean valgrind bench

all: $(BUILD)/encoderd

# -MMD writes each object's header dependencies beside it (included at the end).
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -Icore -Iserver -c $< -o $@

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

$(BUILD)/encoderd: $(SERVER_OBJ) $(BUILD)/gen/openapi_yaml.o $(BUILD)/libencoder.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libencoder.a $(SERVER_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -Icore -Iserver -Itests/unit $(LDFLAGS) -o $@ $< $(SERVER_LIB_OBJ) \
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
	tests/run_all.sh $(BUILD)

unit-tests: all $(TEST_BIN)
	tests/run_all.sh $(BUILD) unit

valgrind: deps all $(TEST_BIN)
	@for t in $(TEST_BIN); do \
	    echo "== valgrind $$t"; \
	    CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	        $$t >/dev/null || exit 1; \
	done; echo "valgrind: no errors, no leaks"

# The golden fixtures are committed; this regenerates them with Debian's python3-torch.
fixtures:
	@dpkg-query -W -f='$${Status}' python3-torch 2>/dev/null | grep -q "ok installed" || { \
	    SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q python3-torch python3-numpy; }
	/usr/bin/python3 tests/golden/gen_fixtures.py tests/golden/fixtures

clean:
	rm -rf build build-san

# ---- benchmark (not part of test) ---------------------------------------------------
# Side by side with ONNX Runtime and PyTorch on the same weights; see tests/bench/README.md.
bench: deps all
	tests/bench/bench.sh $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
