# Recserve — the commands a new user runs. See README.md.
#   make run    install deps, build, make demo data, run the pipeline, serve on :8080
#   make test   install deps, build (Release + sanitizers), format check, start redis, run ctest
#   make build-tsan  build the concurrent rooms' unit tests with ThreadSanitizer into build-tsan/
#   make build  build Release into build/ (binary: build/recserve)
#   make bench  build and run the Google Benchmark harnesses in bench/
#   make fuzz-smoke  build the libFuzzer targets (clang) and run each one briefly (docs/FUZZING.md)
#   make include-check  every include in src/ follows the room graph declared in CMakeLists.txt
#   make thread-safety-check  clang -Wthread-safety over src/: GUARDED_BY members used under their lock

JOBS ?= $(shell nproc)
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
# Rooms whose unit tests run threads against each other (server admission, breakers, executor,
# model manager and slots, live state, metrics, feature-store failover): the TSan build compiles
# these unit_<room> binaries and only the rooms they link.
TSAN_ROOMS ?= resilience;engine;http;lifecycle;observe;store
FUZZ_DIR ?= build-fuzz
# Seconds each fuzz target runs in `make test` / `make fuzz-smoke`; a campaign sets more.
FUZZ_SECONDS ?= 20
CMAKE_FLAGS ?=

.PHONY: deps build build-asan build-tsan build-fuzz fuzz-smoke test run bench format format-check include-check thread-safety-check clean

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

$(ASAN_DIR)/build.ninja:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECSERVE_SANITIZER=address \
	  -DRECSERVE_BUILD_BENCH=OFF $(CMAKE_FLAGS)

# The recserve binary and every unit_<room>: scripts/run-tests.sh runs the unit tests and the
# integration tests and drills against this build.
build-asan: deps $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS) --target all

# ThreadSanitizer: -O1 -g1 (line tables for the reports' file:line): engine/recommender.cpp compiled
# in 5.2 s, against 8.3 s at -O2 -g.
$(TSAN_DIR)/build.ninja:
	cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECSERVE_SANITIZER=thread \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DRECSERVE_UNIT_ROOMS="$(TSAN_ROOMS)" \
	  -DRECSERVE_BUILD_BENCH=OFF $(CMAKE_FLAGS)

# Only the unit_<room> binaries of TSAN_ROOMS (no recserve binary, no other room's tests).
build-tsan: deps $(TSAN_DIR)/build.ninja
	cmake --build $(TSAN_DIR) -j $(JOBS) --target unit_tests

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

# The room graph (CMakeLists.txt recserve_room declarations) checked against every include in src/.
include-check:
	@python3 scripts/check-includes.py

# clang's -Wthread-safety (-fsyntax-only) over every src/ file that reaches core/thread_annotations.h,
# with the flags of the configured build's compile_commands.json (scripts/check-thread-safety.py).
thread-safety-check: $(BUILD_DIR)/build.ninja
	@python3 scripts/check-thread-safety.py --build-dir $(BUILD_DIR) --jobs $(JOBS)

test: include-check build thread-safety-check build-asan build-tsan format-check fuzz-smoke
	@bash scripts/run-tests.sh $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR)

run: build
	@bash scripts/run-demo.sh $(BUILD_DIR)

bench: build
	@bash scripts/run-bench.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR) $(FUZZ_DIR)
