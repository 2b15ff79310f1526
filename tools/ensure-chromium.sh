#!/bin/sh
# Headless Chromium for the browser tests (tests/browser): Debian's `chromium` package, installed with
# apt-get when it is missing and this is a root shell on a machine with apt-get. Never Playwright's own
# browser download: the tests drive the system browser. Where it cannot be installed this says why and
# exits 0, and the browser tests skip with the same reason; everything else still runs.
set -u

if [ -n "${SMARKETING_CHROMIUM:-}" ] && [ -x "$SMARKETING_CHROMIUM" ]; then
    exit 0
fi
for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
        exit 0
    fi
done

if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium: not installed and no apt-get here; the browser tests will skip (install Chromium, or set SMARKETING_CHROMIUM to its path)"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "chromium: not installed; run 'sudo apt-get install chromium' (or 'make browser' as root), else the browser tests skip"
    exit 0
fi

echo "chromium: installing Debian's package for the browser tests"
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    echo "chromium: $(chromium --version 2>/dev/null || echo installed)"
else
    echo "chromium: apt-get could not install it; the browser tests will skip"
fi
exit 0
