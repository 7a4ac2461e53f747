#!/usr/bin/env bash
# Idempotent set-up: a Python >= 3.12, uv in its own tools venv, the project venv (.venv), and the
# Debian packages the tests need. Safe to run again and again; each step is skipped when done.
#   scripts/setup.sh          app + dev dependencies
#   scripts/setup.sh --test   also the system packages the tests use (chromium, poppler, postgres)
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"
TOOLS=".tools"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

find_python() {
    local candidate
    # PATH first (a real interpreter, not a pyenv shim that may point elsewhere), then pyenv.
    for candidate in python3.13 python3.12 python3; do
        if command -v "$candidate" >/dev/null && python_ok "$candidate"; then
            command -v "$candidate"; return 0
        fi
    done
    if command -v pyenv >/dev/null; then
        local root; root="$(pyenv root)"
        for candidate in $(ls -d "$root"/versions/3.1[2-9]* 2>/dev/null | sort -rV); do
            if python_ok "$candidate/bin/python3"; then echo "$candidate/bin/python3"; return 0; fi
        done
    fi
    return 1
}

install_uv() {
    if [ -x "$TOOLS/bin/uv" ] && [ "$("$TOOLS/bin/uv" --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
        return 0
    fi
    say "installing uv $UV_VERSION into $TOOLS/"
    "$PYTHON" -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
}

apt_install() {
    # Installs the named Debian packages that are missing; needs root (CI and these machines are).
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    say "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

PYTHON="$(find_python)" || {
    if command -v uv >/dev/null; then
        say "no Python >= 3.12 found; asking uv to install one"
        uv python install 3.12 && PYTHON="$(uv python find 3.12)"
    else
        die "Referloop needs Python >= 3.12 (Django 6). Install python3.12 (or pyenv install 3.12) and rerun."
    fi
}
install_uv

say "syncing .venv with $PYTHON"
# Byte-compiled at install: where PYTHONDONTWRITEBYTECODE is set (CI images, some servers) every
# `referloop` command otherwise compiles Django anew, 2.4 s a start instead of 1 s.
UV_PYTHON="$PYTHON" UV_PYTHON_DOWNLOADS=never "$TOOLS/bin/uv" sync --frozen --quiet --compile-bytecode \
    --python "$PYTHON"

if [ "${1:-}" = "--test" ]; then
    apt_install chromium poppler-utils postgresql
fi
say "ready"
