#!/usr/bin/env bash
# Image-layer tests: Debian's libjpeg-turbo tools (djpeg decodes every JPEG chunk independently of the
# module; cjpeg is the speed reference of the image benchmark). Idempotent and quiet.
set -euo pipefail
if ! command -v djpeg >/dev/null 2>&1 || ! command -v cjpeg >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends libjpeg-turbo-progs >/dev/null
fi
