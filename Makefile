# zippy - build, test, bench. See README.md.
CC      ?= cc
OPT     ?= -O2 -g
WARN     = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Iinclude -Isrc -pthread
LIBS     = -lxxhash -lzip -lz -lpthread
BUILD   ?= build
# gcc warns about snprintf truncation that is intended (bounded messages).
WARN    += $(if $(findstring clang,$(CC)),,-Wno-format-truncation)

SRC      = $(wildcard src/*.c)
OBJ      = $(SRC:src/%.c=$(BUILD)/obj/%.o)
PIC_OBJ  = $(SRC:src/%.c=$(BUILD)/pic/%.o)
CLI_SRC  = $(wildcard cli/*.c)
TESTS    = $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c tests/crash_*.c))
FUZZERS  = $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard fuzz/fuzz_*.c))
HDRS     = $(wildcard include/*.h src/*.h)

.PHONY: all lib cli tests fuzzers test unit-test fuzz-regress cli-test crash-test \
        fault-test asan valgrind fuzz bench demo deps clean headertest python node

all: lib cli

lib: $(BUILD)/libzippy.a $(BUILD)/libzippy_pic.a $(BUILD)/libzippy.so $(BUILD)/zippy.pc
cli: $(BUILD)/zippy

$(BUILD)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/pic/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(BUILD)/libzippy.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

# Position-independent archive, for linking into the Python and Node modules.
$(BUILD)/libzippy_pic.a: $(PIC_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libzippy.so: $(PIC_OBJ)
	$(CC) -shared -Wl,-soname,libzippy.so.1 -o $(BUILD)/libzippy.so.1 $^ $(LIBS)
	ln -sf libzippy.so.1 $@

$(BUILD)/zippy.pc: scripts/zippy.pc.in
	@mkdir -p $(BUILD)
	sed -e 's|@PREFIX@|$(abspath $(BUILD))|' -e 's|@INCLUDE@|$(abspath include)|' $< > $@

$(BUILD)/zippy: $(CLI_SRC) $(BUILD)/libzippy.a include/zippy.h $(wildcard cli/*.h)
	$(CC) $(CFLAGS) -o $@ $(CLI_SRC) $(BUILD)/libzippy.a $(LIBS)

$(BUILD)/tests/%: tests/%.c tests/test.h tests/crash.h $(BUILD)/libzippy.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libzippy.a $(LIBS)

# Fuzz targets as plain programs: they replay fuzz/corpus/<name>/*.
$(BUILD)/fuzz/%: fuzz/%.c fuzz/driver.c $(BUILD)/libzippy.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< fuzz/driver.c $(BUILD)/libzippy.a $(LIBS)

tests: $(TESTS)
fuzzers: $(FUZZERS)

deps:
	@scripts/deps.sh

# Python package: .venv with the C extension installed editable.
python: deps lib
	@scripts/python_env.sh

# Node addon: require('./nodejs') works afterwards.
node: deps lib
	@scripts/node_build.sh

# The whole suite. Prints "N passed, N failed" last.
test: deps
	@$(MAKE) --no-print-directory all tests fuzzers python node
	@scripts/run_tests.sh

unit-test: all tests
	@scripts/run_tests.sh unit

# ASan + UBSan build of the library, tests and fuzz replays, in build/asan.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan CC=clang \
	  OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  all tests fuzzers
	@ASAN_OPTIONS=detect_leaks=1 BUILD=build/asan ZIPPY_QUICK=1 scripts/run_tests.sh unit fuzz cli

valgrind: all tests
	@VALGRIND=1 ZIPPY_QUICK=1 scripts/run_tests.sh unit

# Coverage-guided fuzzing with libFuzzer (clang): make fuzz T=fuzz_json S=60
fuzz: deps
	@scripts/fuzz.sh $(T) $(S)

headertest:
	@mkdir -p $(BUILD)
	$(CC) -std=c99 -Wall -Wextra -pedantic -Werror -Iinclude -x c -c include/zippy.h -o $(BUILD)/headertest.o

bench: deps all
	@scripts/bench.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

clean:
	rm -rf build
