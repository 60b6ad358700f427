# Recserve — the commands a new user runs. See README.md.
#   make run    install deps, build, make demo data, run the pipeline, serve on :8080
#   make test   install deps, build (Release + sanitizers), format check, start redis, run ctest
#   make build  build Release into build/ (binary: build/recserve)
#   make bench  build and run the Google Benchmark harnesses in bench/
#   make fuzz-smoke  build the libFuzzer targets (clang) and run each one briefly (docs/FUZZING.md)

JOBS ?= $(shell nproc)
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
# Seconds each fuzz target runs in `make test` / `make fuzz-smoke`; a campaign sets more.
FUZZ_SECONDS ?= 20
CMAKE_FLAGS ?=

.PHONY: deps build build-asan build-fuzz fuzz-smoke test run bench format format-check clean

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

$(ASAN_DIR)/build.ninja:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECSERVE_SANITIZE=ON \
	  -DRECSERVE_BUILD_BENCH=OFF $(CMAKE_FLAGS)

# Unit tests only: the sanitizer build runs every unit_<room> binary once.
build-asan: deps $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS) --target all

# libFuzzer targets in fuzz/ (clang, ASan + UBSan, coverage at -O1); only the files they reach.
$(FUZZ_DIR)/build.ninja:
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
	  -DRECSERVE_BUILD_FUZZ=ON -DRECSERVE_BUILD_TESTS=OFF -DRECSERVE_BUILD_BENCH=OFF $(CMAKE_FLAGS)

build-fuzz: deps $(FUZZ_DIR)/build.ninja
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzzers

fuzz-smoke: build-fuzz
	@bash scripts/run-fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

format:
	@bash scripts/check-format.sh --fix

format-check:
	@bash scripts/check-format.sh

test: build build-asan format-check fuzz-smoke
	@bash scripts/run-tests.sh $(BUILD_DIR) $(ASAN_DIR)

run: build
	@bash scripts/run-demo.sh $(BUILD_DIR)

bench: build
	@bash scripts/run-bench.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
