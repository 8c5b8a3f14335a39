#!/usr/bin/env bash
# Build the seed corpora under fuzz/corpus/ from the recorded fixtures in
# tests/fixtures/: Messages requests for translate_request, upstream streams
# (each behind an 8-byte chunking seed, several seeds each) for sse_stream.
# stream_script and request_script start from nothing: libFuzzer builds
# their structured inputs.
set -euo pipefail
cd "$(dirname "$0")"
fixtures=../tests/fixtures
mkdir -p corpus/translate_request corpus/sse_stream corpus/stream_script corpus/request_script
cp "$fixtures"/requests/*.json corpus/translate_request/
for stream in "$fixtures"/*.sse "$fixtures"/streams/*.sse; do
  name=$(basename "$stream" .sse)
  # Seeds 0-3 pick chunk sizes of at most 4, 64, 4096 and 16 bytes;
  # seed 4 also ends the body with a transport error.
  for seed in 0 1 2 3 4; do
    { printf "\\x$(printf %02x "$seed")\\x5a\\x5a\\x5a\\x5a\\x5a\\x5a\\x5a"; cat "$stream"; } > "corpus/sse_stream/$name-$seed"
  done
done
echo "seeded: $(ls corpus/translate_request | wc -l) requests, $(ls corpus/sse_stream | wc -l) streams"
