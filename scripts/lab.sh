#!/bin/sh
# The MNIST lab with its floors: runs the mnist example on each data set it finds, reads the
# "<model> test accuracy: X" lines and fails when one is below its floor. A configuration whose
# files are absent is reported as skipped, with the reason. `make lab` runs it.
#
#   scripts/lab.sh [BUILD_DIR]        (default build; results and curves go to BUILD_DIR/lab)
#
# Data: MNIST in $CGRAD_DATA (else data/), as the example looks for it; Fashion-MNIST in
# $FASHION_DATA, else where the Debian package dataset-fashion-mnist puts it.
#
# Configurations and floors (test accuracy):
#   MNIST, t10k files split 8,000 / 2,000: single-layer >= 0.88 (10 epochs), multi-layer >= 0.93
#     (10 epochs), CNN >= 0.96 (4 epochs): the floors the test suite checks
#   Fashion-MNIST, 60,000 / 10,000, 5 epochs: multi-layer >= 0.86, CNN >= 0.89
#   MNIST, 60,000 / 10,000, 10 epochs: single-layer >= 0.92, multi-layer >= 0.978, CNN >= 0.99
# Every model of a data set runs; those without a floor (the deep network) are only reported.
set -u

build=${1:-build}
example="$build/mnist"
out="$build/lab"
mnist_dir=${CGRAD_DATA:-data}
fashion_dir=${FASHION_DATA:-/usr/share/datasets/fashion-mnist}
failed=0
skipped=0

[ -x "$example" ] || { echo "lab: $example is not built (run make first)" >&2; exit 2; }
mkdir -p "$out" || exit 2

# has_split DIR SPLIT: DIR holds SPLIT's images and labels (raw or .gz).
has_split() {
    for file in "$2-images-idx3-ubyte" "$2-labels-idx1-ubyte"; do
        [ -f "$1/$file" ] || [ -f "$1/$file.gz" ] || return 1
    done
}

skip() {
    echo "SKIP $1: $2"
    skipped=$((skipped + 1))
}

# check NAME FLOORS ARGUMENTS...: runs the example with ARGUMENTS (its output in
# $out/NAME.log) and compares each "LABEL:FLOOR" of FLOORS with the accuracy it reports.
check() {
    name=$1
    floors=$2
    shift 2
    log="$out/$name.log"
    echo "== $name: mnist $*"
    if ! "$example" "$@" --output-dir "$out" --quiet >"$log" 2>&1; then
        cat "$log"
        echo "FAIL $name: the example failed"
        failed=$((failed + 1))
        return
    fi
    grep -E "test accuracy|epoch time" "$log"
    for pair in $floors; do
        label=${pair%:*}
        floor=${pair##*:}
        accuracy=$(sed -n "s/^$label test accuracy: //p" "$log")
        if [ -z "$accuracy" ]; then
            echo "FAIL $name: no '$label test accuracy' line"
            failed=$((failed + 1))
        elif awk -v a="$accuracy" -v f="$floor" 'BEGIN { exit !(a >= f) }'; then
            echo "ok   $name: $label $accuracy >= $floor"
        else
            echo "FAIL $name: $label $accuracy < $floor"
            failed=$((failed + 1))
        fi
    done
}

if has_split "$mnist_dir" t10k; then
    check mnist-t10k-single single-layer:0.88 --data "$mnist_dir" --split t10k --model single \
        --epochs 10
    check mnist-t10k-mlp multi-layer:0.93 --data "$mnist_dir" --split t10k --model mlp --epochs 10
    check mnist-t10k-deep "" --data "$mnist_dir" --split t10k --model deep --epochs 10
    check mnist-t10k-cnn cnn:0.96 --data "$mnist_dir" --split t10k --model cnn --epochs 4
else
    skip "MNIST t10k split" "no t10k files in $mnist_dir (scripts/download-mnist.sh $mnist_dir)"
fi

if has_split "$fashion_dir" train && has_split "$fashion_dir" t10k; then
    check fashion "multi-layer:0.86 cnn:0.89" --data "$fashion_dir" --dataset fashion \
        --model all --epochs 5
else
    skip "Fashion-MNIST" "not in $fashion_dir (apt-get install dataset-fashion-mnist, or set \
FASHION_DATA=DIR)"
fi

if has_split "$mnist_dir" train && has_split "$mnist_dir" t10k; then
    # The fully connected networks' steps are cheap: batches of 32 give them 1,875 steps an epoch
    # for the tight multi-layer floor; the CNN keeps its batches of 128.
    for model in single mlp deep; do
        case $model in
        single) floors=single-layer:0.92 ;;
        mlp) floors=multi-layer:0.978 ;;
        deep) floors= ;;
        esac
        check "mnist-$model" "$floors" --data "$mnist_dir" --model $model --epochs 10 \
            --batch-size 32
    done
    check mnist-cnn cnn:0.99 --data "$mnist_dir" --model cnn --epochs 10
else
    skip "MNIST 60,000 / 10,000" "no train files in $mnist_dir (scripts/download-mnist.sh \
$mnist_dir fetches them)"
fi

echo "lab: $failed failed, $skipped skipped; logs and curves in $out"
[ "$failed" -eq 0 ]
