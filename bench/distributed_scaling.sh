#!/usr/bin/env bash
# Data-parallel scaling on one machine: distributed_bench with 1 rank, with 2 ranks (one CPU
# thread each), and as two independent 1-rank processes at once, one on each core (the same
# training twice, with no exchange between them: what two single-threaded processes reach on this
# machine, the ceiling for 2 ranks), alternately REPEATS times (default 3); then per model the
# median samples/s of each, the speed-up of 2 ranks and of the independent pair over 1 rank, and
# the ratio of the two. Each run is printed with the load average before it: with two processes on
# two cores, any other work on the machine slows them first.
# Usage: [REPEATS=N] bench/distributed_scaling.sh [BUILD_DIR] [distributed_bench options...]
set -euo pipefail
build=${1:-build}
shift || true
repeats=${REPEATS:-3}
# Root in containers and CI. --oversubscribe lets 2 ranks start on a machine with fewer cores;
# it does not change the binding where there are enough. The 1-rank run is left unbound, like a
# plain process; the 2 ranks get OpenMPI's default binding (one core each), as `mpirun -np 2`
# gives users.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# The rows of one distributed_bench run, without the table's head.
rows_of() {
    grep -v -e '^| model' -e '^|---'
}
runs=""
pair=$(mktemp -d)
trap 'rm -rf "$pair"' EXIT
for ((repeat = 1; repeat <= repeats; repeat++)); do
    for ranks in 1 2; do
        binding=$([ "$ranks" = 1 ] && echo "--bind-to none" || true)
        load=$(cut -d' ' -f1 /proc/loadavg)
        # shellcheck disable=SC2086
        rows=$(mpirun --oversubscribe $binding -np "$ranks" "$build/distributed_bench" "$@" | rows_of)
        echo "$rows" | sed "s/\$/ load $load/"
        runs+="$rows"$'\n'
    done
    # The independent pair: each process bound to a core, as mpirun binds the 2 ranks; its rows
    # are marked with ranks "pair", samples/s the sum of the two.
    load=$(cut -d' ' -f1 /proc/loadavg)
    for core in 0 1; do
        mpirun --bind-to none -np 1 taskset -c "$core" "$build/distributed_bench" "$@" |
            rows_of >"$pair/$core" &
    done
    wait
    rows=$(paste -d'\n' "$pair/0" "$pair/1" | awk -F'|' -v OFS='|' '
        NR % 2 == 1 { first = $5 + 0; next }
        { $3 = " pair "; $5 = " " (first + $5) " "; print }')
    echo "$rows" | sed "s/\$/ load $load/"
    runs+="$rows"$'\n'
done
echo
echo "| model | 1 rank samples/s | 2 ranks samples/s | independent pair samples/s |" \
    "2 ranks / 1 rank | pair / 1 rank | 2 ranks / pair | communication (2 ranks) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
echo -n "$runs" | awk -F'|' '
    function median(list, count,    sorted, i, j, t) {
        for (i = 1; i <= count; i++) sorted[i] = list[i]
        for (i = 2; i <= count; i++)
            for (j = i; j > 1 && sorted[j - 1] > sorted[j]; j--) {
                t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t
            }
        return count % 2 ? sorted[(count + 1) / 2] : (sorted[count / 2] + sorted[count / 2 + 1]) / 2
    }
    # Runs are keyed 1 and 2 by their ranks, and 0 for the independent pair.
    {
        model = $2; ranks = ($3 ~ /pair/) ? 0 : $3 + 0
        if (!(model in seen)) { seen[model] = 1; order[n++] = model }
        key = model SUBSEP ranks
        speed[key, ++count[key]] = $5 + 0
        if (ranks == 2) { share = $8; sub(/%.*/, "", share); shares[model, count[key]] = share + 0 }
    }
    END {
        for (m = 0; m < n; m++) {
            model = order[m]
            for (ranks = 0; ranks <= 2; ranks++) {
                key = model SUBSEP ranks
                delete values
                for (i = 1; i <= count[key]; i++) values[i] = speed[key, i]
                med[ranks] = median(values, count[key])
            }
            key = model SUBSEP 2
            delete values
            for (i = 1; i <= count[key]; i++) values[i] = shares[model, i]
            printf "|%s| %.0f | %.0f | %.0f | %.2fx | %.2fx | %.2f | %.1f%% |\n", model, med[1],
                med[2], med[0], med[2] / med[1], med[0] / med[1], med[2] / med[0],
                median(values, count[key])
        }
    }'
