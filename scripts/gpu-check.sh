#!/bin/sh
# The GPU check, for any machine with an NVIDIA GPU: builds cgrad with the CUDA backend into
# BUILD_DIR, runs the backend conformance suite on the GPU (cgrad_tests cuda), then the GPU
# benchmark (bench/gpu_bench.c) beside PyTorch's CUDA build (bench/gpu_bench_torch.py), and prints
# a table of ratios. Needs CMake, nvcc and the CUDA libraries, and python3 with torch for the
# PyTorch side (without it, cgrad's figures alone); no network. It takes a few minutes. Copy what
# it prints into bench/RESULTS.md with the card and the date.
#
#   scripts/gpu-check.sh [BUILD_DIR]          (default build-gpu)
#   GPU_BENCH_SECONDS=S                       timed span per model (default 2)
set -u

build=${1:-build-gpu}
seconds=${GPU_BENCH_SECONDS:-2}
jobs=$(nproc 2>/dev/null || echo 4)

fail() {
    echo "gpu-check: $*" >&2
    exit 1
}

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nvidia-smi --query-gpu=name,driver_version \
    --format=csv,noheader 2>/dev/null | head -n 1)"
echo "== Build ($build: CUDA on, the built-in CPU matrix product)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCGRAD_CUDA=ON -DCGRAD_BLAS=OFF \
    -DCGRAD_BUILD_EXAMPLES=OFF > /dev/null || fail "configuring failed"
cmake --build "$build" -j "$jobs" --target cgrad_tests gpu_bench > "$build/gpu-check-build.log" 2>&1 ||
    { tail -n 30 "$build/gpu-check-build.log"; fail "the build failed"; }

echo "== Conformance suite on the GPU"
"$build/cgrad_tests" cuda > "$build/gpu-conformance.txt"
status=$?
grep -v '^ok ' "$build/gpu-conformance.txt"
grep -q '^SKIP' "$build/gpu-conformance.txt" && fail "the suite skipped tests: no usable GPU"
[ $status -eq 0 ] || fail "the conformance suite failed"

echo "== Benchmark (Adam, data resident on the GPU, ${seconds} s per model)"
"$build/gpu_bench" --seconds "$seconds" > "$build/gpu-bench.csv" || fail "gpu_bench failed"
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    python3 bench/gpu_bench_torch.py --compare "$build/gpu-bench.csv" --seconds "$seconds" ||
        fail "the PyTorch side failed"
else
    echo "(no PyTorch with CUDA here: cgrad's figures alone)"
    cat "$build/gpu-bench.csv"
fi
