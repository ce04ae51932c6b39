#!/bin/sh
# Fills fuzz/corpus/<target>/ (not committed) from
# - the committed seeds in fuzz/seeds/<target>/ (table-built messages, record
#   sets and consumer-protocol payloads),
# - the minimised corpus of the last long campaign, fuzz/corpus-saved/<target>/, and
# - when present, the golden frames in protocol-specs/golden/: request frames
#   go to the `request` corpus as they are; response frames get the
#   `frame_response` selector prefix (api key, version, framed mode) from
#   protocol-specs/golden/INDEX.txt (and the real-broker recordings'
#   protocol-specs/golden/kafka-*/INDEX.txt, same format).
# Run from anywhere; existing corpus files are kept.
set -eu
fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
for dir in "$fuzz"/seeds/*/ "$fuzz"/corpus-saved/*/; do
    [ -d "$dir" ] || continue
    target=$(basename "$dir")
    mkdir -p "$fuzz/corpus/$target"
    cp "$dir"* "$fuzz/corpus/$target/"
done
golden="$root/protocol-specs/golden"
if [ -f "$golden/INDEX.txt" ]; then
    mkdir -p "$fuzz/corpus/request" "$fuzz/corpus/frame_response"
    for index in "$golden/INDEX.txt" "$golden"/kafka-*/INDEX.txt; do
    [ -f "$index" ] || continue
    grep -v '^#' "$index" | while read -r file _peer key _name version direction _rest; do
        [ -f "$golden/$file" ] || continue
        base=$(basename "$file" .bin)
        case "$direction" in
        request) cp "$golden/$file" "$fuzz/corpus/request/golden-$base" ;;
        response)
            out="$fuzz/corpus/frame_response/golden-$base"
            printf "\\$(printf %o "$key")\\$(printf %o "$version")\\001" >"$out"
            cat "$golden/$file" >>"$out"
            ;;
        esac
    done
    done
else
    echo "no golden frames at $golden (seeds only)"
fi
n=$(find "$fuzz/corpus" -type f | wc -l)
echo "corpus: $n files under $fuzz/corpus"
