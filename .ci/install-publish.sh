#!/usr/bin/env bash
# Publish tests: Debian's nginx (started privately by the tests, never as a system service) and
# s3rver from npm into tests/tools/node_modules. Idempotent and quiet.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d 101: package scripts must not start the nginx service on install.
    created_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nginx-light >/dev/null 2>&1 \
        || apt-get install -y -qq --no-install-recommends nginx >/dev/null
    if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

if [ ! -f tests/tools/node_modules/s3rver/package.json ]; then
    (cd tests/tools && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
