#!/usr/bin/env bash
# Installs what earshot needs on a fresh Debian/Ubuntu machine, only what is missing:
# system packages (ffmpeg, the pocketsphinx engine and its US-English model; for the tests sclite and sox),
# then the npm dependencies, then the build.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
ls /usr/lib/*/libpocketsphinx.so.3 >/dev/null 2>&1 || missing+=(pocketsphinx)
[ -d /usr/share/pocketsphinx/model/en-us/en-us ] || missing+=(pocketsphinx-en-us)
if [ "${EARSHOT_SETUP_TESTS:-0}" = 1 ]; then
  [ -x /usr/lib/sctk/bin/sclite ] || command -v sclite >/dev/null 2>&1 || missing+=(sctk)
  # sox makes the AMR-NB test audio of the emulator's encoded-audio tests (ffmpeg here has no AMR encoder).
  command -v sox >/dev/null 2>&1 || missing+=(sox libsox-fmt-base libopencore-amrnb0)
  # a real Redis for the queue tests (started by the tests on a free loopback port), a real browser for the report tests
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "earshot setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm ci runs the package's `prepare` (a build); the build below is the one this script decides on
  EARSHOT_SKIP_BUILD=1 npm ci --no-audit --no-fund --loglevel=error
fi
if [ "${EARSHOT_SKIP_BUILD:-0}" != 1 ]; then
  npm run --silent build
fi
