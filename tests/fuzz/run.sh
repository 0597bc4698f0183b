#!/usr/bin/env bash
# Runs each fuzz target of a build for SECONDS on its seed corpus (tests/fuzz/corpus/<target>) and
# fails at the first target that finds a crash, a leak or a broken promise. New inputs go to
# BUILD/fuzz/corpus/<target>, failing inputs to BUILD/fuzz/crashes, full logs to BUILD/fuzz/logs.
# usage: tests/fuzz/run.sh BUILD SECONDS
set -euo pipefail
build=$1
seconds=$2
seeds=$(cd "$(dirname "$0")" && pwd)/corpus

# target:max_len. Each length leaves room for the structure its parser reads (a CSV with a few
# rows, a safetensors header with several tensors, a spec of a dozen layers) while keeping runs
# fast; -malloc_limit_mb makes any single allocation of more than 64 MiB, far beyond what inputs
# this small justify, a failure.
targets=(csv:4096 safetensors:8192 json:4096 spec:256 idx:4096 model:8192 cli_args:512)
mkdir -p "$build/fuzz/crashes" "$build/fuzz/logs"
for entry in "${targets[@]}"; do
    target=${entry%%:*}
    max_len=${entry#*:}
    corpus=$build/fuzz/corpus/$target
    log=$build/fuzz/logs/$target.log
    mkdir -p "$corpus"
    quiet=()
    # The flag parser prints a usage message for every bad command line.
    if [ "$target" = cli_args ]; then quiet=(-close_fd_mask=3); fi
    if ! "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len="$max_len" \
        -malloc_limit_mb=64 -timeout=30 -print_final_stats=1 \
        -artifact_prefix="$build/fuzz/crashes/$target-" "${quiet[@]}" \
        "$corpus" "$seeds/$target" > "$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz_$target failed; the input is in $build/fuzz/crashes, the log in $log"
        exit 1
    fi
    echo "fuzz_$target: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log")"
done
