#!/usr/bin/env bash
# Mesh tests: Google's own Draco tools from Debian (draco_decoder checks every fragment the module
# encodes; draco_encoder is the speed and size reference of the benchmark). Idempotent and quiet.
set -euo pipefail
if ! command -v draco_decoder >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends draco >/dev/null
fi
