#!/usr/bin/env bash
# Data-parallel scaling on one machine: distributed_bench with 1 rank and with 2 ranks (one CPU
# thread each), then the speed-up of 2 ranks over 1 per model.
# Usage: bench/distributed_scaling.sh [BUILD_DIR] [distributed_bench options...]
set -euo pipefail
build=${1:-build}
shift || true
# Root in containers and CI; more ranks than cores on small machines.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
one=$(mpirun --oversubscribe --bind-to none -np 1 "$build/distributed_bench" "$@")
two=$(mpirun --oversubscribe --bind-to none -np 2 "$build/distributed_bench" "$@")
echo "$one"
echo "$two" | grep -v -e '^| model' -e '^|---'
echo
echo "| model | speed-up of 2 ranks over 1 |"
echo "|---|---|"
{ echo "$one"; echo "$two"; } | awk -F'|' '
    $3 + 0 == 1 { one[$2] = $5; order[n++] = $2 }
    $3 + 0 == 2 { two[$2] = $5 }
    END { for (i = 0; i < n; i++) printf "|%s| %.2fx |\n", order[i], two[order[i]] / one[order[i]] }'
