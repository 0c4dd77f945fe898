#!/usr/bin/env bash
# bench/peers/torch_env.sh — the PyTorch + PEFT peer for bench/train.py: a venv with pinned, CPU-only
# versions under bench/.peers/torch-venv (git-ignored).
#
# torch: the CPU build torch==2.13.0+cpu when pip can find it (this machine image ships that wheel in
# pip's find-links directory, /opt/wheels: 192 MB, no CUDA). PyPI itself has no CPU-only Linux x86-64
# build: its plain torch==2.13.0 is the CUDA 13 build, which pulls ~3 GB of nvidia-* wheels (it runs on a
# CPU all the same). That is the fallback, with a warning. Nothing is downloaded at run time: the GGUF
# is read from disk by transformers + gguf.
#
# Idempotent: a stamp of the pins makes a second run print the path and exit (well under a second).
#
# Output (stdout, for scripts to parse):
#   python=/abs/path/to/bench/.peers/torch-venv/bin/python
# Progress goes to stderr.
#
# Usage: bench/peers/torch_env.sh [--reinstall]
set -euo pipefail

TORCH_VERSION="2.13.0"
PINS=(transformers==5.23.0 peft==0.21.2 gguf==0.19.0 numpy==2.4.6)

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS="$(cd "$HERE/.." && pwd)/.peers"
VENV="$PEERS/torch-venv"
STAMP="$VENV/.proxima-bench-stamp"
STAMP_KEY="torch=$TORCH_VERSION ${PINS[*]}"

REINSTALL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --reinstall) REINSTALL=1 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "torch_env.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "[torch-env] $*" >&2; }
die() { echo "[torch-env] ERROR: $*" >&2; exit 1; }
# shellcheck source=venv.sh
source "$HERE/venv.sh"

if [ "$REINSTALL" = 0 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_KEY" ] && [ -x "$VENV/bin/python" ]; then
  log "venv is up to date: $VENV"
  echo "python=$VENV/bin/python"
  exit 0
fi

PY="$(command -v python3 || true)"
[ -n "$PY" ] || die "python3 not found (apt-get install python3 python3-venv)"
[ "$REINSTALL" = 1 ] && rm -rf "$VENV"
mkdir -p "$PEERS"
make_venv "$PY" "$VENV"
rm -f "$STAMP"
PIP=("$VENV/bin/pip" install -q --disable-pip-version-check)
start=$(date +%s)
log "installing torch==$TORCH_VERSION+cpu (from pip's find-links, if it has the wheel)"
if ! "${PIP[@]}" "torch==$TORCH_VERSION+cpu" >&2 2>/dev/null; then
  log "WARNING: no torch==$TORCH_VERSION+cpu wheel in reach; installing PyPI's torch==$TORCH_VERSION, the CUDA"
  log "         build with ~3 GB of nvidia-* dependencies (used on the CPU only; the download takes a while)"
  "${PIP[@]}" "torch==$TORCH_VERSION" >&2 || die "pip install torch==$TORCH_VERSION failed (is PyPI reachable?)"
fi
log "installing ${PINS[*]}"
"${PIP[@]}" "${PINS[@]}" >&2 || die "pip install ${PINS[*]} failed (is PyPI reachable?)"
"$VENV/bin/python" -c 'import torch, transformers, peft, gguf' \
  || die "the venv cannot import torch, transformers, peft and gguf (try --reinstall)"
log "installed in $(( $(date +%s) - start ))s"
echo "$STAMP_KEY" >"$STAMP"
echo "python=$VENV/bin/python"
