#!/usr/bin/env bash
# Browser stage (tests/browser, tests/PrecomputedTools.Browser.Tests): Debian's Chromium, the Node
# dependencies of tests/browser, and one build of the neuroglancer viewer. The build is cached under
# ~/.cache/precomputedtools-viewer/<key>, where the key hashes everything the bundle depends on
# (lock file, webpack config, entry point, vendored icons), and copied to tests/browser/dist.
# Idempotent and quiet; works as root on a fresh Debian 12 with node/npm.
set -euo pipefail
cd "$(dirname "$0")/../tests/browser"

if [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Retried once: concurrent apt/dpkg runs on the same machine can make a first attempt fail.
    apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null \
        || { sleep 5; apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }
fi

# npm ci only when node_modules does not match the lock file.
lock_hash=$(sha256sum package-lock.json | cut -c1-64)
if [ ! -f node_modules/.lock-hash ] || [ "$(cat node_modules/.lock-hash)" != "$lock_hash" ]; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    echo "$lock_hash" > node_modules/.lock-hash
fi

key=$( { cat package-lock.json webpack.config.js src/index.js; find vendor -type f | LC_ALL=C sort | xargs cat; } | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/precomputedtools-viewer/$key"
if [ ! -f "$cache/index.html" ]; then
    rm -rf "$cache.tmp"
    mkdir -p "$(dirname "$cache")"
    VIEWER_DIST="$cache.tmp" npx --no-install webpack --no-color >/dev/null
    rm -rf "$cache"
    mv "$cache.tmp" "$cache"
fi
if [ ! -f dist/.build-key ] || [ "$(cat dist/.build-key)" != "$key" ]; then
    rm -rf dist
    cp -r "$cache" dist
    echo "$key" > dist/.build-key
fi
