# Thin driver over CMake. `make demo` and `make test` set up a fresh machine
# (Debian packages via scripts/deps.sh), build, and run.
BUILD ?= build
JOBS ?= 2
CTEST_ARGS ?=

.PHONY: all deps build test demo bench clean

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
	python3 bench/bench.py --build $(BUILD)

clean:
	rm -rf $(BUILD)
