# conc: one non-recursive makefile.  Everything is built under $(BUILD).
#   make            libconc.a and every tool
#   make check      every public header compiled on its own, Criterion unit tests, then Bats end-to-end tests
#   make headers    each public header compiled alone (a tiny TU per header): it includes what it uses;
#                   every example program in libconc(3) compiled and linked (tests/unit/man_examples.sh)
#   make sanitize   the same under ASan+UBSan (build/asan)
#   make tsan       the unit tests under ThreadSanitizer (build/tsan)
#   make bench      tests/bench/*.sh
#   make lint       mandoc -Tlint on every man page
#   make deps       the Debian packages the tests need (openssh-server for pmap -S's tests)
#   make install    PREFIX=/usr/local DESTDIR=

VERSION  := 0.1.0
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build

CXX      ?= g++
OPT      ?= -O2
SAN      ?=
CXXFLAGS ?= $(OPT) -g
ALLFLAGS := -std=c++20 -Wall -Wextra -Wpedantic -pthread $(SAN) $(CXXFLAGS) \
            -Ilibconc/include -Itools/common -DCONC_VERSION='"$(VERSION)"'
LDLIBS   := -pthread $(SAN)

LIB      := $(BUILD)/lib/libconc.a
LIB_SRC  := $(wildcard libconc/src/*.cpp)
LIB_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)

COMMON_SRC := $(wildcard tools/common/*.cpp)
COMMON_OBJ := $(COMMON_SRC:%.cpp=$(BUILD)/obj/%.o)

TOOLS    := $(filter-out common,$(notdir $(patsubst %/main.cpp,%,$(wildcard tools/*/main.cpp))))
BINS     := $(TOOLS:%=$(BUILD)/bin/%)

UNIT_SRC := $(wildcard tests/unit/*_test.cpp)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.cpp=$(BUILD)/tests/%)
# Tests of a tool's own pieces (tests/unit/pmap_*_test.cpp) link that tool's objects.
tool_objs = $(filter-out %/main.o $(COMMON_OBJ),$(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard tools/$(1)/*.cpp)))

MAN_PAGES := $(wildcard man/man*/*.[1-9])
HEADERS   := $(wildcard libconc/include/conc/*.hpp)
DETAIL_HEADERS := $(wildcard libconc/include/conc/detail/*.hpp)

.PHONY: all check headers unit e2e sanitize tsan bench lint deps install uninstall clean $(BUILD)/conc.pc
.DELETE_ON_ERROR:
.SECONDARY:

all: $(LIB) $(BINS)

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(ALLFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

.SECONDEXPANSION:
$(BUILD)/bin/%: $$(call tool_objs,%) $(BUILD)/obj/tools/%/main.o $(COMMON_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CXX) $(ALLFLAGS) -o $@ $^ $(LDLIBS)

# pqueue runs once per item in scripts, so it is linked static: the dynamic
# loader's work on libstdc++.so alone costs about as long again as exec'ing
# /bin/true.  (Static, it starts faster than /bin/true.)
ifeq ($(SAN),)
$(BUILD)/bin/pqueue: LDLIBS += -static
endif

# UNIT_EXTRA_OBJ: objects linked into every unit test (set by the tsan target).
$(BUILD)/tests/%_test: $(BUILD)/obj/tests/unit/%_test.o $$(call tool_objs,$$(firstword $$(subst _, ,$$*))) $(COMMON_OBJ) $(LIB) $(UNIT_EXTRA_OBJ)
	@mkdir -p $(@D)
	$(CXX) $(ALLFLAGS) -o $@ $^ -lcriterion $(LDLIBS)

# Benchmark programs: tests/bench/NAME.cpp -> $(BUILD)/bench/NAME (run by the .sh scripts).
BENCH_SRC := $(wildcard tests/bench/*.cpp)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.cpp=$(BUILD)/bench/%)
$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIB)
	@mkdir -p $(@D)
	$(CXX) $(ALLFLAGS) -o $@ $^ $(LDLIBS)

# Criterion first, then Bats (one after the other even under make -j).
# Builds in parallel even when called as plain "make deps check".
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
check:
	$(MAKE) -j$(JOBS) headers
	$(MAKE) -j$(JOBS) unit
	$(MAKE) -j$(JOBS) e2e

# A header that compiles only after another include is a bug for the user who includes it alone.
HEADER_OK := $(HEADERS:libconc/include/%.hpp=$(BUILD)/headers/%.ok) $(DETAIL_HEADERS:libconc/include/%.hpp=$(BUILD)/headers/%.ok)
headers: $(HEADER_OK) $(BUILD)/man_examples/libconc.3.ok
$(BUILD)/headers/%.ok: libconc/include/%.hpp
	@mkdir -p $(@D)
	echo '#include "$*.hpp"' | $(CXX) $(ALLFLAGS) -fsyntax-only -x c++ -
	@touch $@

# libconc(3) promises complete programs that a reader can paste: each one is
# built as the page says, against the headers and libconc.a, warnings included.
EXAMPLE_FLAGS := -std=c++20 -Wall -Wextra -Wpedantic -pthread $(SAN) -O0 -Ilibconc/include
$(BUILD)/man_examples/libconc.3.ok: man/man3/libconc.3 tests/unit/man_examples.sh $(LIB) $(HEADERS) $(DETAIL_HEADERS)
	LIBS='$(LIB) $(LDLIBS)' sh tests/unit/man_examples.sh man/man3/libconc.3 $(@D) $(CXX) $(EXAMPLE_FLAGS)
	@touch $@

# Each unit test binary runs on its own; all of them run even if one fails.
unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t $(UNIT_FLAGS) || fail=1; done; exit $$fail

e2e: all
	CONC_BIN=$(abspath $(BUILD)/bin) bats $(BATS_FLAGS) tests/e2e

sanitize:
	CONC_SANITIZED=1 $(MAKE) BUILD=build/asan OPT=-O1 SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined' check

# Criterion's sandbox maps its arena at random addresses that are TSan shadow (Criterion #274):
# tests/tsan/boxfort_arena.cpp steers them into TSan's app range.  halt_on_error: a race fails its test.
# tests/tsan/tsan.supp: reports proven false (each explained there).
tsan:
	TSAN_OPTIONS='halt_on_error=1 second_deadlock_stack=1 suppressions=$(abspath tests/tsan/tsan.supp) $(TSAN_OPTIONS)' \
	$(MAKE) BUILD=build/tsan OPT=-O1 SAN='-fsanitize=thread' \
	  UNIT_EXTRA_OBJ=build/tsan/obj/tests/tsan/boxfort_arena.o unit

bench: all $(BENCH_BIN)
	@for b in tests/bench/*.sh; do echo "== $$b"; CONC_BIN=$(abspath $(BUILD)/bin) BUILD=$(abspath $(BUILD)) bash $$b || exit 1; done

# mandoc, then what it lets through: .Fn sets each argument apart, so an
# unquoted default (.Fn flush async = false) renders as flush(async, =, false).
lint:
	mandoc -Tlint -W warning $(MAN_PAGES)
	@awk '/^\.Fn / { l = $$0; gsub(/"[^"]*"/, "", l); \
	    if (l ~ / = /) { print FILENAME ":" FNR ": quote the argument with its default: " $$0; bad = 1 } } \
	    END { exit bad }' $(MAN_PAGES)

# openssh-server and openssh-client: tests/e2e/pmap_ssh.bats runs pmap -S against real sshd instances.
DEB_DEPS := g++ make libcriterion-dev bats bats-support bats-assert mandoc pkg-config time \
            openssh-server openssh-client
deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root, or install: apt-get install $(DEB_DEPS)" >&2; exit 1; fi
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEB_DEPS)

$(BUILD)/conc.pc: Makefile
	@mkdir -p $(@D)
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	  'Name: conc' 'Description: libconc, concurrency for C++20: event loop, pools, shared memory, queues' \
	  'Version: $(VERSION)' 'Cflags: -std=c++20 -pthread -I$${includedir}' 'Libs: -L$${libdir} -lconc -pthread' > $@

install: all $(BUILD)/conc.pc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/conc/detail
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(BUILD)/conc.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 644 $(HEADERS) $(DESTDIR)$(PREFIX)/include/conc/
	install -m 644 $(DETAIL_HEADERS) $(DESTDIR)$(PREFIX)/include/conc/detail/
	for p in $(MAN_PAGES); do s=$${p#man/}; s=$${s%%/*}; \
	  install -d $(DESTDIR)$(PREFIX)/share/man/$$s && install -m 644 $$p $(DESTDIR)$(PREFIX)/share/man/$$s/; done

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(PREFIX)/bin/%) $(DESTDIR)$(PREFIX)/lib/libconc.a \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/conc.pc
	rm -f $(HEADERS:libconc/include/%=$(DESTDIR)$(PREFIX)/include/%) $(DETAIL_HEADERS:libconc/include/%=$(DESTDIR)$(PREFIX)/include/%)
	-rmdir $(DESTDIR)$(PREFIX)/include/conc/detail $(DESTDIR)$(PREFIX)/include/conc 2>/dev/null
	for p in $(MAN_PAGES); do s=$${p#man/}; s=$${s%%/*}; rm -f $(DESTDIR)$(PREFIX)/share/man/$$s/$${p##*/}; done

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
