# Thin driver over CMake. `make demo` and `make test` set up a fresh machine
# (Debian packages via scripts/deps.sh), build, and run.
BUILD ?= build
JOBS ?= 2
CTEST_ARGS ?=

.PHONY: all deps build test demo bench clean test-asan fuzz

all: build

deps:
	@sh scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)

demo: build
	sh scripts/demo.sh $(BUILD)

bench: build
	python3 bench/bench.py --vibeec $(BUILD)/vibeec --vibee-run $(BUILD)/vibee-run --workdir $(BUILD)/bench

# ---- robustness (docs/ROBUSTNESS.md) ----
# test-asan: the whole default suite with ASan+UBSan on the compiler, the
# runtime, the tools and every model.so they build; leaks are failures, any
# sanitizer report aborts the process (a test sees a crash).
ASAN_BUILD ?= build-asan
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:disable_coredump=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIBEE_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && $(SAN_ENV) ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)

# fuzz: the libFuzzer harnesses (clang), each for FUZZ_SECONDS under ctest -L fuzz.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	@command -v clang >/dev/null || { echo "make fuzz needs clang and libclang-rt-dev (apt-get install clang libclang-rt-dev)"; exit 2; }
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DVIBEE_FUZZ=ON -DVIBEE_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS)
	cd $(FUZZ_BUILD) && ctest --output-on-failure -L fuzz $(CTEST_ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
