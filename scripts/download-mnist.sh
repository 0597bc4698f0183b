#!/bin/sh
# Downloads the four MNIST files (IDX, gzip-compressed) into DIR (default data/mnist) and checks
# their SHA-256 sums. Files already there with the right sum are kept.
#
#   scripts/download-mnist.sh [DIR]
#
# Then point cgrad at DIR: --data DIR, or CGRAD_DATA=DIR.
set -eu

dir=${1:-data/mnist}
mirrors="https://storage.googleapis.com/cvdf-datasets/mnist https://ossci-datasets.s3.amazonaws.com/mnist"

# file name, then its published SHA-256 sum
files="train-images-idx3-ubyte.gz 440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609
train-labels-idx1-ubyte.gz 3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c
t10k-images-idx3-ubyte.gz 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
t10k-labels-idx1-ubyte.gz f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"

fail() {
    echo "download-mnist: $*" >&2
    exit 1
}

if command -v curl >/dev/null 2>&1; then
    fetch() { curl --fail --silent --show-error --location --retry 2 --output "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
    fetch() { wget --quiet --tries=3 --output-document="$2" "$1"; }
else
    fail "needs curl or wget"
fi

if command -v sha256sum >/dev/null 2>&1; then
    sha256() { sha256sum "$1" | cut -d ' ' -f 1; }
elif command -v shasum >/dev/null 2>&1; then
    sha256() { shasum -a 256 "$1" | cut -d ' ' -f 1; }
else
    fail "needs sha256sum or shasum to check the files"
fi

mkdir -p "$dir" || fail "cannot create $dir"

echo "$files" | while read -r name sum; do
    target="$dir/$name"
    if [ -f "$target" ] && [ "$(sha256 "$target")" = "$sum" ]; then
        echo "$target: present, checksum OK"
        continue
    fi
    partial="$target.part"
    fetched=""
    for mirror in $mirrors; do
        if ! fetch "$mirror/$name" "$partial"; then
            echo "$name: the download from $mirror failed" >&2
        elif [ "$(sha256 "$partial")" != "$sum" ]; then
            echo "$name from $mirror has SHA-256 $(sha256 "$partial"), not $sum" >&2
        else
            fetched="$mirror"
            break
        fi
    done
    if [ -z "$fetched" ]; then
        rm -f "$partial"
        fail "$name: no mirror gave a file with SHA-256 $sum"
    fi
    mv "$partial" "$target"
    echo "$target: downloaded from $fetched, checksum OK"
done

echo "MNIST is in $dir; use --data $dir or CGRAD_DATA=$dir"
