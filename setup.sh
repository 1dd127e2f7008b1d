#!/usr/bin/env bash
# One-step set-up on a fresh Debian/Ubuntu machine: LibreOffice (for recalculating
# formulas), a fresh virtual environment in .venv, and xlfund with its test tools.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v soffice >/dev/null 2>&1; then
  echo "Installing LibreOffice (headless Calc) for formula recalculation..."
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    libreoffice-calc-nogui >/dev/null
fi

rm -rf .venv
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
echo "xlfund installed in .venv ($(.venv/bin/xlfund --version))."
