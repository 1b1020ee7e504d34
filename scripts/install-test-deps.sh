#!/usr/bin/env bash
# Install what the tests need, on a fresh Debian/Ubuntu machine (run as root, or as a user with sudo).
# Idempotent: the system packages are skipped when their commands are already there, and
# `pip install -e` of an installed checkout only refreshes it.
#
#   bash scripts/install-test-deps.sh && python3 -m pytest -q
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# System packages the tests use, and the commands that show they are installed.
APT_PACKAGES=(libreoffice-calc fonts-noto-cjk poppler-utils chromium)
REQUIRED_COMMANDS=(soffice pdftoppm pdffonts pdftotext fc-match chromium)

missing=()
for command in "${REQUIRED_COMMANDS[@]}"; do
    command -v "$command" >/dev/null 2>&1 || missing+=("$command")
done
python3 -m pip --version >/dev/null 2>&1 || { APT_PACKAGES+=(python3-pip); missing+=(pip); }

if ((${#missing[@]})); then
    echo "install-test-deps: missing ${missing[*]}: installing ${APT_PACKAGES[*]}"
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-test-deps: no apt-get here; install ${APT_PACKAGES[*]} (or their equivalents) by hand." >&2
        exit 1
    fi
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "install-test-deps: run as root (apt-get needs it)." >&2; exit 1; }
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update
    "${sudo[@]}" apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"
else
    echo "install-test-deps: ${REQUIRED_COMMANDS[*]} already installed; skipping apt-get"
fi

# Debian's own python3 refuses pip installs outside a venv (PEP 668); on a throwaway test machine that is what we want.
if python3 -c 'import sys, sysconfig, pathlib; sys.exit(not (pathlib.Path(sysconfig.get_path("stdlib")) / "EXTERNALLY-MANAGED").exists())'; then
    export PIP_BREAK_SYSTEM_PACKAGES=1
fi
python3 -m pip install --disable-pip-version-check --no-input -e '.[test]'
