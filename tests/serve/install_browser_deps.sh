#!/usr/bin/env bash
# Installs what tests/serve/browser_test.cpp needs beside Chromium: the npm package playwright-core
# (driver only, no bundled browser) into PREFIX/node_modules. Idempotent.
# Usage: tests/serve/install_browser_deps.sh [PREFIX]     (default: build/test-deps/node)
set -euo pipefail
PLAYWRIGHT_VERSION=1.57.0  # runs on Node.js >= 18 (Debian 12 ships 18); newer ones need 20
prefix="${1:-$(cd "$(dirname "$0")/../.." && pwd)/build/test-deps/node}"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install_browser_deps: node and npm are needed (apt-get install nodejs npm)" >&2
  exit 1
fi
installed="$prefix/node_modules/playwright-core/package.json"
if [[ -f "$installed" ]] && grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$installed"; then
  echo "install_browser_deps: playwright-core $PLAYWRIGHT_VERSION already in $prefix"
  exit 0
fi
mkdir -p "$prefix"
# playwright-core downloads no browser (the tests use Debian's /usr/bin/chromium).
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$prefix" --no-audit --no-fund --no-save \
  --loglevel=error "playwright-core@$PLAYWRIGHT_VERSION"
echo "install_browser_deps: playwright-core $PLAYWRIGHT_VERSION installed in $prefix"
