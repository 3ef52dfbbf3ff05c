#!/usr/bin/env bash
# One command for the main job on a fresh machine: set up (system packages if missing, npm install, build),
# then transcribe the bundled sample (or the file you pass) with the embedded offline engine, writing
# sample.srt and sample.jsonl beside the text on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
input="${1:-samples/sample.wav}"
node dist/src/cli/main.js transcribe "$input" --srt "${SRT:-sample.srt}" --jsonl "${JSONL:-sample.jsonl}"
