#!/usr/bin/env bash
# Debian's headless Chromium for the browser tests (tests/e2e/test_browser.py).
#
# Sourced by .ci/run. Playwright (a dev dependency) drives the system's /usr/bin/chromium:
# `playwright install`, which downloads a browser build of its own, is never run. Chromium
# comes from Debian's packages, installed only when /usr/bin/chromium is missing and only
# as root. When it cannot be had (not root, no apt-get, an install that fails), one line
# says why, and the browser tests fail under CI=true (as .ci/run sets it), saying the same:
# CI never goes green without them. Elsewhere they skip.

_influence_chromium_skip() {
    echo "No Chromium for the browser tests (they fail under CI=true, skip elsewhere): $1" >&2
    return 1
}

_influence_chromium_install() {
    [[ -x /usr/bin/chromium ]] && return 0
    [[ $(id -u) == 0 ]] || _influence_chromium_skip "there is no /usr/bin/chromium and installing it needs root." || return 1
    command -v apt-get >/dev/null || _influence_chromium_skip "there is no /usr/bin/chromium and no apt-get to install it with." || return 1
    echo "Installing Chromium from Debian's packages ..." >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/tmp/influence-apt-chromium.log 2>&1; then
        _influence_chromium_skip "apt-get install chromium failed (log: /tmp/influence-apt-chromium.log)."
        return 1
    fi
    echo "$(/usr/bin/chromium --version 2>/dev/null) installed." >&2
}

_influence_chromium_install || true
