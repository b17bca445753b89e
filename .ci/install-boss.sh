#!/usr/bin/env bash
# BOSS tests: the loopback BOSS server encodes blosc frames with the real c-blosc (libblosc1).
set -euo pipefail
if ldconfig -p 2>/dev/null | grep -q 'libblosc.so.1 '; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq libblosc1 >/dev/null
