# bench/peers/venv.sh — sourced by the peer scripts (which define log and die).
# make_venv PYTHON DIR: a venv in DIR unless one is there; when `python3 -m venv` fails (Debian ships venv
# support separately), python3-venv is installed with apt and the venv made again.
make_venv() {
  local py="$1" venv="$2"
  [ -x "$venv/bin/python" ] && return 0
  log "creating venv $venv"
  "$py" -m venv "$venv" >&2 && return 0
  rm -rf "$venv"
  command -v apt-get >/dev/null 2>&1 || die "python3 -m venv failed and no apt-get to install python3-venv"
  log "python3 -m venv failed; installing python3-venv with apt"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >&2
  "$py" -m venv "$venv" >&2
}
