# Thin driver over CMake. `make demo` and `make test` set up a fresh machine
# (Debian packages via scripts/deps.sh), build, and run.
BUILD ?= build
JOBS ?= 2
CTEST_ARGS ?=

.PHONY: all deps build test demo bench clean test-asan test-tsan fuzz sweep bench-scale test-scale

all: build

deps:
	@sh scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE '^(sweep|scale)$$' $(CTEST_ARGS)

demo: build
	sh scripts/demo.sh $(BUILD)

bench: build
	python3 bench/bench.py --vibeec $(BUILD)/vibeec --vibee-run $(BUILD)/vibee-run --workdir $(BUILD)/bench

# ---- realistic-size models (bench/scale/, docs/BENCH.md) ----
# bench-scale: exports the models once into $(SCALE) (again only when the
# exporter changes), then benches them against ONNX Runtime and PyTorch.
# test-scale: compiles each and checks vibee-run against the references (ctest -L scale).
SCALE ?= $(BUILD)/scale
SCALE_ARGS ?= -n 20 --rounds 3 --threads 2
$(SCALE)/.exported: bench/scale/export_scale.py samples/export.py
	@VIBEE_SCALE_PY=$(BUILD)/scale-py sh scripts/deps.sh scale
	/usr/bin/python3 bench/scale/export_scale.py --out $(SCALE) --pydeps $(BUILD)/scale-py
	touch $@
bench-scale: build $(SCALE)/.exported
	python3 bench/bench.py --build $(BUILD) --samples $(SCALE) --workdir $(BUILD)/bench-scale $(SCALE_ARGS)
test-scale: build $(SCALE)/.exported
	cmake -S . -B $(BUILD) -DVIBEE_SCALE=ON -DVIBEE_SCALE_DIR=$(abspath $(SCALE))
	cd $(BUILD) && ctest --output-on-failure -L scale $(CTEST_ARGS)

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

# test-tsan: ThreadSanitizer on the runtime, its kernel pool and every
# model.so: the pool stress test, the concurrency test (many contexts on
# many threads) and the samples (vibee-run with a thread pool); any data
# race fails the test.
TSAN_BUILD ?= build-tsan
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIBEE_TSAN=ON
	cmake --build $(TSAN_BUILD) -j$(JOBS)
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1 \
		ctest --output-on-failure -j$(JOBS) -R '^(unit\.test_kpool|unit\.test_concurrent|unit\.test_runtime|sample\.)' $(CTEST_ARGS)

# fuzz: the libFuzzer harnesses (clang), each for FUZZ_SECONDS under ctest -L fuzz.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz:
	@sh scripts/deps.sh fuzz
	@command -v clang >/dev/null || { echo "make fuzz needs clang and libclang-rt-dev (apt-get install clang libclang-rt-dev)"; exit 2; }
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DVIBEE_FUZZ=ON -DVIBEE_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS)
	cd $(FUZZ_BUILD) && ctest --output-on-failure -L fuzz $(CTEST_ARGS)

# sweep: the long mutation sweeps (400 mutated models through vibeec, and 400
# more run on their data too); registered only with VIBEE_SWEEP=ON.
sweep: build
	cmake -S . -B $(BUILD) -DVIBEE_SWEEP=ON
	cd $(BUILD) && ctest --output-on-failure -L sweep $(CTEST_ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
