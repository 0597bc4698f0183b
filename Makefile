# A thin wrapper over CMake: make, make test, make demo, make install.
BUILD ?= build
BUILD_ASAN ?= build-asan
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build test test-fast test-asan demo install format clean

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) > /dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The whole suite, then again under AddressSanitizer + UndefinedBehaviorSanitizer (leaks on).
test: test-fast test-asan

test-fast: build
	./$(BUILD)/cgrad_tests

test-asan:
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DCGRAD_SANITIZE=ON $(CMAKE_FLAGS) > /dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		./$(BUILD_ASAN)/cgrad_tests

# The lab: tensors and autograd by hand, the Iris networks with fit, the overfitting
# demonstration; pictures go to $(DEMO_DIR).
DEMO_DIR ?= $(BUILD)/demo
# Where the MNIST files are: $CGRAD_DATA, else data/ (as the examples look for them).
MNIST_DATA ?= $(or $(CGRAD_DATA),data)
demo: build
	@mkdir -p $(DEMO_DIR)
	@echo "== Low level: softmax regression and a two-layer network written with tensors and autograd"
	@./$(BUILD)/low_level data/iris.csv | grep "test accuracy"
	@echo "== The Iris lab: single-layer and multi-layer networks trained with fit"
	@./$(BUILD)/iris --data data/iris.csv --output-dir $(DEMO_DIR) --quiet
	@echo "== Overfitting"
	@./$(BUILD)/overfitting --output-dir $(DEMO_DIR)
	@echo "== The cgrad tool: the Iris multi-layer network from its spec, saved, evaluated, run"
	@./$(BUILD)/cgrad train --model examples/models/iris_mlp.cfg --data data/iris.csv --quiet \
		--save $(DEMO_DIR)/iris-mlp.safetensors --plot $(DEMO_DIR)/cgrad-iris-mlp.svg
	@./$(BUILD)/cgrad evaluate --weights $(DEMO_DIR)/iris-mlp.safetensors --data data/iris.csv
	@./$(BUILD)/cgrad predict --weights $(DEMO_DIR)/iris-mlp.safetensors --data data/iris.csv \
		--output $(DEMO_DIR)/iris-predictions.csv
	@echo "== MNIST: the multi-layer network on the t10k images, split 8,000 for training / 2,000 for testing"
	@if ls $(MNIST_DATA)/t10k-images-idx3-ubyte* > /dev/null 2>&1; then \
		./$(BUILD)/mnist --data $(MNIST_DATA) --split t10k --model mlp --output-dir $(DEMO_DIR) --quiet; \
	else \
		echo "(skipped: no MNIST t10k files in $(MNIST_DATA); scripts/download-mnist.sh DIR fetches them)"; \
	fi
	@echo "Pictures: $(DEMO_DIR)/iris-single-layer.svg, $(DEMO_DIR)/iris-multi-layer.svg,"
	@echo "          $(DEMO_DIR)/overfitting-fits.svg, $(DEMO_DIR)/overfitting-curves.svg,"
	@echo "          $(DEMO_DIR)/cgrad-iris-mlp.svg; predictions: $(DEMO_DIR)/iris-predictions.csv"

# The whole MNIST lab with its floors (scripts/lab.sh): the t10k split, Fashion-MNIST and the
# full MNIST, each where its files are found; the others are reported as skipped. Takes minutes.
.PHONY: lab
lab: build
	scripts/lab.sh $(BUILD)

install: build
	cmake --install $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_TSAN) $(BUILD_BENCH)

# Rewrites the PyTorch reference values in tests/fixtures (every make_*.py script there);
# PYTHON must be a Python with torch (Debian's python3-torch installs into the system Python).
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
.PHONY: fixtures
fixtures:
	@for script in tests/fixtures/make_*.py; do echo "$(PYTHON) $$script"; $(PYTHON) "$$script" || exit 1; done

# The libFuzzer targets of tests/fuzz, built with clang into $(BUILD_FUZZ), each run for
# FUZZ_SECONDS on its seed corpus; any crash, leak or broken promise fails.
BUILD_FUZZ ?= build-fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	@cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=$(FUZZ_CC) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCGRAD_FUZZ=ON -DCGRAD_CUDA=OFF -DCGRAD_BUILD_TESTS=OFF -DCGRAD_BUILD_EXAMPLES=OFF \
		-DCGRAD_BUILD_BENCH=OFF $(CMAKE_FLAGS) > /dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS) --target cgrad_fuzzers
	tests/fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

# The concurrent-training tests under ThreadSanitizer. They use the built-in matrix product and
# the library's thread pool; code ThreadSanitizer cannot instrument (OpenBLAS's threads, the CUDA
# backend) is left out or unused.
BUILD_TSAN ?= build-tsan
.PHONY: test-tsan
test-tsan:
	@cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCGRAD_TSAN=ON -DCGRAD_CUDA=OFF \
		-DCGRAD_BUILD_EXAMPLES=OFF -DCGRAD_BUILD_BENCH=OFF $(CMAKE_FLAGS) > /dev/null
	@cmake --build $(BUILD_TSAN) -j $(JOBS) --target cgrad_tests
	TSAN_OPTIONS=halt_on_error=1 ./$(BUILD_TSAN)/cgrad_tests concurrent

# On a machine with an NVIDIA GPU: the CUDA build, the conformance suite on the GPU and the GPU
# benchmark beside PyTorch (scripts/gpu-check.sh; see docs/gpu.md).
.PHONY: gpu-check
gpu-check:
	scripts/gpu-check.sh

# The CPU benchmark beside PyTorch on Fashion-MNIST (bench/run_bench.py, see bench/README.md):
# training, inference, latency, start-up, memory and the matrix products, alternating with
# PyTorch, medians of 3 runs. Built without CUDA in $(BUILD_BENCH): a CUDA build loads cuBLAS at
# process start. BENCH_ARGS passes options (BENCH_ARGS="--models mlp --reps 1"); BENCH_SAMPLES=N
# trains on N samples per epoch for a quick run. The full run takes tens of minutes.
BUILD_BENCH ?= build-bench
BENCH_ARGS ?=
.PHONY: bench
bench:
	@cmake -S . -B $(BUILD_BENCH) -DCMAKE_BUILD_TYPE=Release -DCGRAD_CUDA=OFF -DCGRAD_BUILD_TESTS=OFF \
		-DCGRAD_BUILD_EXAMPLES=OFF $(CMAKE_FLAGS) > /dev/null
	@cmake --build $(BUILD_BENCH) -j $(JOBS) --target train_bench matmul_bench
	$(PYTHON) bench/run_bench.py --build $(BUILD_BENCH) $(BENCH_ARGS)
