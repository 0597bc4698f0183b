#!/bin/sh
# The GPU check, for any machine with an NVIDIA GPU: builds cgrad with the CUDA backend for sm_90
# (H100, H200; CUDA_ARCHITECTURES=... for others) into BUILD_DIR, runs every GPU test
# (cgrad_tests cuda: the backend conformance suite, fit and the cgrad tool on the GPU), then the
# GPU benchmark (bench/gpu_bench.c) beside PyTorch's CUDA build (bench/gpu_bench_torch.py), and
# prints a table of ratios. Needs CMake, nvcc and the CUDA libraries, and python3 with torch for
# the PyTorch side (without it, cgrad's figures alone); no network. cuDNN is used when the CUDA
# toolkit has it or, failing that, when PyTorch's nvidia-cudnn wheel is installed. It takes three
# to four minutes on 16 cores, each step under a time limit (ten minutes at most in all). Copy
# what it prints into bench/RESULTS.md with the card and the date.
#
#   scripts/gpu-check.sh [BUILD_DIR]          (default build-gpu)
#   GPU_BENCH_SECONDS=S                       timed span per model (default 2)
set -u
cd "$(dirname "$0")/.." || exit 1

build=${1:-build-gpu}
seconds=${GPU_BENCH_SECONDS:-2}
architectures=${CUDA_ARCHITECTURES:-90}
jobs=$(nproc 2>/dev/null || echo 4)

fail() {
    echo "gpu-check: $*" >&2
    exit 1
}

# nvcc where the toolkit installs it, when it is not on the PATH.
if ! command -v nvcc > /dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
    PATH="/usr/local/cuda/bin:$PATH"
fi
command -v nvcc > /dev/null || fail "no nvcc: install the CUDA toolkit or put its bin on the PATH"

# cuDNN from PyTorch's wheel when the toolkit has none: its headers and library by path.
cudnn_flags=
cudnn_root=$(python3 -c 'import nvidia.cudnn as c; print(list(c.__path__)[0])' 2>/dev/null)
if [ ! -e "$(dirname "$(command -v nvcc)")/../include/cudnn.h" ] && [ -n "$cudnn_root" ] &&
    [ -e "$cudnn_root/include/cudnn.h" ]; then
    library=$(find "$cudnn_root/lib" -name "libcudnn.so*" 2>/dev/null | sort | head -n 1)
    cudnn_flags="-DCUDNN_INCLUDE_DIR=$cudnn_root/include -DCUDNN_LIBRARY=$library"
    export LD_LIBRARY_PATH="$cudnn_root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nvidia-smi --query-gpu=name,driver_version \
    --format=csv,noheader 2>/dev/null | head -n 1)"
echo "== Build ($build: CUDA for sm_$architectures, the built-in CPU matrix product)"
mkdir -p "$build" || fail "cannot create $build"
# shellcheck disable=SC2086 # cudnn_flags is two words or none
timeout 120 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCGRAD_CUDA=ON \
    -DCGRAD_CUDA_ARCHITECTURES="$architectures" -DCGRAD_BLAS=OFF -DCGRAD_BUILD_EXAMPLES=OFF \
    $cudnn_flags > "$build/gpu-check-configure.log" 2>&1 ||
    { tail -n 30 "$build/gpu-check-configure.log"; fail "configuring failed"; }
grep 'cgrad:' "$build/gpu-check-configure.log"
timeout 240 cmake --build "$build" -j "$jobs" --target cgrad_tests gpu_bench > \
    "$build/gpu-check-build.log" 2>&1 ||
    { tail -n 30 "$build/gpu-check-build.log"; fail "the build failed"; }

echo "== GPU tests (cgrad_tests cuda)"
timeout 120 "$build/cgrad_tests" cuda > "$build/gpu-tests.txt" 2>&1
status=$?
grep -v '^ok ' "$build/gpu-tests.txt"
grep -q '^SKIP' "$build/gpu-tests.txt" && fail "tests skipped: no usable GPU"
[ $status -eq 0 ] || fail "the GPU tests failed (status $status)"

echo "== Benchmark (Adam, data resident on the GPU, ${seconds} s per model)"
timeout 60 "$build/gpu_bench" --seconds "$seconds" > "$build/gpu-bench.csv" ||
    fail "gpu_bench failed"
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    timeout 60 python3 bench/gpu_bench_torch.py --compare "$build/gpu-bench.csv" \
        --seconds "$seconds" || fail "the PyTorch side failed"
else
    echo "(no PyTorch with CUDA here: cgrad's figures alone)"
    cat "$build/gpu-bench.csv"
fi
