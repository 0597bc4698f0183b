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
demo: build
	@mkdir -p $(DEMO_DIR)
	@echo "== Low level: softmax regression and a two-layer network written with tensors and autograd"
	@./$(BUILD)/low_level data/iris.csv | grep "test accuracy"
	@echo "== The Iris lab: single-layer and multi-layer networks trained with fit"
	@./$(BUILD)/iris --data data/iris.csv --output-dir $(DEMO_DIR) --quiet
	@echo "== Overfitting"
	@./$(BUILD)/overfitting --output-dir $(DEMO_DIR)
	@echo "Pictures: $(DEMO_DIR)/iris-single-layer.svg, $(DEMO_DIR)/iris-multi-layer.svg,"
	@echo "          $(DEMO_DIR)/overfitting-fits.svg, $(DEMO_DIR)/overfitting-curves.svg"

install: build
	cmake --install $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)

# Rewrites the PyTorch reference values in tests/fixtures (every make_*.py script there);
# PYTHON must be a Python with torch (Debian's python3-torch installs into the system Python).
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
.PHONY: fixtures
fixtures:
	@for script in tests/fixtures/make_*.py; do echo "$(PYTHON) $$script"; $(PYTHON) "$$script" || exit 1; done
