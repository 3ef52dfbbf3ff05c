#!/usr/bin/env bash
# One command for the main job on a fresh machine: set up (system packages if missing, npm install, build),
# then transcribe the bundled sample (or the file you pass) with the embedded offline engine, writing
# sample.srt and sample.jsonl beside the text on stdout.
set -euo pipefail
# A file given, and the outputs, are where the script was run from (the bundled sample is in the repository).
here="$PWD"
from_here() { case "$1" in /* | - | *://*) printf '%s' "$1" ;; *) printf '%s/%s' "$here" "$1" ;; esac; }
input="$( [ $# -gt 0 ] && from_here "$1" || printf 'samples/sample.wav')"
srt="$(from_here "${SRT:-sample.srt}")"
jsonl="$(from_here "${JSONL:-sample.jsonl}")"
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
node dist/src/cli/main.js transcribe "$input" --srt "$srt" --jsonl "$jsonl"
