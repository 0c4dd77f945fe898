#!/usr/bin/env bash
# bench/peers/llamacpp.sh — fetch and build the llama.cpp peer for Proxima's benchmarks.
#
# llama.cpp comes from PyPI's llama-cpp-python *source* package (sdist), which vendors llama.cpp under
# vendor/llama.cpp. Nothing of llama.cpp is committed: this script downloads the pinned sdist, checks its
# sha256, installs cmake from PyPI into a venv under bench/.peers/, and builds only the targets the
# benchmarks and the K-quant checks run (llama-bench, llama-batched-bench, llama-server, llama-quantize,
# llama-tokenize): CPU only, Release, GGML_NATIVE=ON, static, no CURL/OpenSSL, no web UI, no tests or
# examples.
#
# Idempotent: a finished build is recorded by a stamp that hashes the version and the cmake flags; when it
# matches and the binaries exist, the script only prints their paths (well under a second).
#
# Output (stdout, one per line, for scripts to parse):
#   llama-bench=/abs/path
#   llama-batched-bench=/abs/path
#   llama-server=/abs/path
#   llama-quantize=/abs/path
#   llama-tokenize=/abs/path
#   build-info=/abs/path/build-info.json
# Progress goes to stderr.
#
# Usage: bench/peers/llamacpp.sh [--rebuild] [--jobs N]
set -euo pipefail

LCP_VERSION="0.3.36"
LCP_SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
CMAKE_VERSION="3.31.6"
TARGETS=(llama-bench llama-batched-bench llama-server llama-quantize llama-tokenize)

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/.." && pwd)"
PEERS="$BENCH/.peers"
DL="$PEERS/dl"
VENV="$PEERS/venv"
SRC_ROOT="$PEERS/src"
SRC="$SRC_ROOT/llama_cpp_python-$LCP_VERSION"
LLAMA_SRC="$SRC/vendor/llama.cpp"
BUILD="$PEERS/build/llamacpp-$LCP_VERSION"
SDIST="$DL/llama_cpp_python-$LCP_VERSION.tar.gz"

REBUILD=0
JOBS="$(nproc 2>/dev/null || echo 2)"
while [ $# -gt 0 ]; do
  case "$1" in
    --rebuild) REBUILD=1 ;;
    --jobs) JOBS="$2"; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "llamacpp.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "[llamacpp] $*" >&2; }
die() { echo "[llamacpp] ERROR: $*" >&2; exit 1; }
# shellcheck source=venv.sh
source "$HERE/venv.sh"

# The vendored commit is not in the sdist as git metadata; llama-cpp-python's CHANGELOG names it
# ("update llama.cpp to ggml-org/llama.cpp@<sha>") for every release. The build number (b<N>) is a git
# commit count upstream and cannot be known from the sdist, so it is recorded as 0 / unknown.
CMAKE_FLAGS=(
  -DCMAKE_BUILD_TYPE=Release
  -DGGML_NATIVE=ON
  -DGGML_CPU=ON
  -DGGML_BLAS=OFF
  -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_OPENCL=OFF -DGGML_RPC=OFF
  -DBUILD_SHARED_LIBS=OFF
  -DLLAMA_CURL=OFF
  -DLLAMA_OPENSSL=OFF
  -DLLAMA_BUILD_TESTS=OFF
  -DLLAMA_BUILD_EXAMPLES=OFF
  -DLLAMA_BUILD_TOOLS=ON
  -DLLAMA_BUILD_SERVER=ON
  -DLLAMA_BUILD_APP=OFF
  -DLLAMA_BUILD_UI=OFF
  -DLLAMA_USE_PREBUILT_UI=OFF
)
STAMP_KEY="llama-cpp-python=$LCP_VERSION sha256=$LCP_SHA256 cmake=$CMAKE_VERSION targets=${TARGETS[*]} flags=${CMAKE_FLAGS[*]}"
STAMP="$BUILD/.proxima-bench-stamp"

print_paths() {
  for t in "${TARGETS[@]}"; do echo "$t=$BUILD/bin/$t"; done
  echo "build-info=$BUILD/build-info.json"
}

have_build() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_KEY" ] || return 1
  for t in "${TARGETS[@]}"; do [ -x "$BUILD/bin/$t" ] || return 1; done
  [ -f "$BUILD/build-info.json" ]
}

if [ "$REBUILD" = 0 ] && have_build; then
  log "cached build is up to date: $BUILD"
  print_paths
  exit 0
fi

# --- system tools (only what is missing) ---------------------------------------------------------------
need_apt=()
for tool in gcc g++ make; do command -v "$tool" >/dev/null 2>&1 || need_apt=(build-essential); done
command -v tar >/dev/null 2>&1 || need_apt+=(tar)
command -v sha256sum >/dev/null 2>&1 || need_apt+=(coreutils)
PY="$(command -v python3 || true)"
[ -n "$PY" ] || need_apt+=(python3 python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing ${need_apt[*]} and no apt-get to install them"
  log "installing with apt: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >&2
  PY="$(command -v python3)"
fi

# --- cmake from PyPI, in a venv ------------------------------------------------------------------------
mkdir -p "$PEERS" "$DL" "$SRC_ROOT"
make_venv "$PY" "$VENV"
if [ "$("$VENV/bin/python" -c 'import cmake,sys; print(cmake.__version__)' 2>/dev/null || true)" != "$CMAKE_VERSION" ]; then
  log "installing cmake==$CMAKE_VERSION from PyPI into the venv"
  "$VENV/bin/pip" install -q --disable-pip-version-check "cmake==$CMAKE_VERSION" >&2
fi
CMAKE="$VENV/bin/cmake"
[ -x "$CMAKE" ] || die "cmake not found at $CMAKE after pip install"

# --- the llama-cpp-python sdist ------------------------------------------------------------------------
sdist_ok() { [ -f "$SDIST" ] && echo "$LCP_SHA256  $SDIST" | sha256sum -c --status; }
if ! sdist_ok; then
  rm -f "$SDIST"
  log "downloading llama-cpp-python==$LCP_VERSION source package from PyPI"
  # --no-binary for this package only: its build requirements (scikit-build-core, cmake) may come as
  # wheels while pip prepares the sdist's metadata (':all:' would compile cmake from source).
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps \
    --no-binary llama-cpp-python "llama-cpp-python==$LCP_VERSION" -d "$DL" >&2
  [ -f "$SDIST" ] || die "pip download did not produce $SDIST (is PyPI reachable?)"
  sdist_ok || die "sha256 mismatch for $SDIST (expected $LCP_SHA256)"
fi
if [ ! -f "$LLAMA_SRC/CMakeLists.txt" ]; then
  log "unpacking $SDIST"
  rm -rf "$SRC"
  tar -xzf "$SDIST" -C "$SRC_ROOT"
  [ -f "$LLAMA_SRC/CMakeLists.txt" ] || die "the sdist has no vendor/llama.cpp/CMakeLists.txt"
fi

VENDORED_COMMIT="$(grep -m1 -oE 'llama\.cpp@[0-9a-f]{7,40}' "$SRC/CHANGELOG.md" | sed 's/.*@//' || true)"
[ -n "$VENDORED_COMMIT" ] || VENDORED_COMMIT="unknown"
log "llama-cpp-python $LCP_VERSION vendors llama.cpp commit $VENDORED_COMMIT"

# --- configure and build -------------------------------------------------------------------------------
# LLAMA_BUILD_COMMIT/NUMBER are set explicitly: otherwise llama.cpp's build-info asks git, which would find
# the enclosing Proxima repository and report *its* commit.
[ "$REBUILD" = 1 ] && rm -rf "$BUILD"
mkdir -p "$BUILD"
rm -f "$STAMP"
log "configuring (cmake $CMAKE_VERSION) in $BUILD"
"$CMAKE" -S "$LLAMA_SRC" -B "$BUILD" "${CMAKE_FLAGS[@]}" \
  -DLLAMA_BUILD_COMMIT="$VENDORED_COMMIT" -DLLAMA_BUILD_NUMBER=0 >"$BUILD/configure.log" 2>&1 \
  || { tail -40 "$BUILD/configure.log" >&2; die "cmake configure failed (log: $BUILD/configure.log)"; }
log "building ${TARGETS[*]} with $JOBS jobs (first time: tens of minutes on 2 cores; log: $BUILD/build.log)"
start=$(date +%s)
"$CMAKE" --build "$BUILD" --config Release -j "$JOBS" --target "${TARGETS[@]}" >"$BUILD/build.log" 2>&1 \
  || { tail -40 "$BUILD/build.log" >&2; die "build failed (log: $BUILD/build.log)"; }
secs=$(( $(date +%s) - start ))
for t in "${TARGETS[@]}"; do [ -x "$BUILD/bin/$t" ] || die "build finished but $BUILD/bin/$t is missing"; done
log "built in ${secs}s"

CC_VERSION="$( (cc --version 2>/dev/null || true) | head -1)"
"$VENV/bin/python" - "$BUILD/build-info.json" <<PYEOF
import json, sys
info = {
    "source": "PyPI sdist llama-cpp-python==$LCP_VERSION",
    "sdist_sha256": "$LCP_SHA256",
    "llama_cpp_commit": "$VENDORED_COMMIT",
    "llama_cpp_commit_source": "llama-cpp-python CHANGELOG.md entry for $LCP_VERSION",
    "llama_cpp_build_number": "unknown (sdist has no git history; binaries report build 0)",
    "cmake": "$CMAKE_VERSION (PyPI)",
    "compiler": "$CC_VERSION",
    "cmake_flags": "${CMAKE_FLAGS[*]}".split(),
    "targets": "${TARGETS[*]}".split(),
    "build_seconds": $secs,
}
json.dump(info, open(sys.argv[1], "w"), indent=2)
PYEOF
echo "$STAMP_KEY" >"$STAMP"
print_paths
