#!/usr/bin/env bash
# Prepare this machine for pacsys_rx: system packages, services and the .venv.
#   scripts/setup.sh demo   what `make demo` needs
#   scripts/setup.sh test   what `make test` needs (Kerberos tools, RabbitMQ, dev extras)
#   scripts/setup.sh bench  what `make bench` needs (test set-up plus the reference library)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-demo}
case "$mode" in
  demo) packages=(); extras="" ;;
  test) packages=(libkrb5-dev krb5-kdc krb5-admin-server krb5-user rabbitmq-server openssh-server openssh-client); extras="all" ;;
  bench) packages=(libkrb5-dev krb5-kdc krb5-admin-server krb5-user rabbitmq-server); extras="all" ;;
  *) echo "usage: $0 demo|test|bench" >&2; exit 2 ;;
esac

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then apt_get=(apt-get)
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then apt_get=(sudo apt-get)
  else
    echo "pacsys_rx: please install these Debian packages first: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "pacsys_rx: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${apt_get[@]}" update -qq
  "${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$mode" != demo ]; then
  if ! timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672' 2>/dev/null; then
    echo "pacsys_rx: starting RabbitMQ"
    rabbitmq-server -detached >/dev/null 2>&1 || true
    for _ in $(seq 1 90); do
      timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672' 2>/dev/null && break
      sleep 1
    done
    timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672' 2>/dev/null \
      || { echo "pacsys_rx: RabbitMQ did not start on 127.0.0.1:5672" >&2; exit 1; }
  fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv || { echo "pacsys_rx: '$python -m venv' failed; install python3-venv" >&2; exit 1; }
  .venv/bin/python -m pip install -q --upgrade pip
fi
stamp=".venv/.installed-${mode}-$(cat pyproject.toml | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  spec="."
  [ -n "$extras" ] && spec=".[${extras}]"
  .venv/bin/python -m pip install -q -e "$spec"
  touch "$stamp"
fi

if [ "$mode" = bench ] && [ ! -x .venv-bench/bin/python ]; then
  # The reference library lives in its own environment: pacsys_rx never imports it.
  "$python" -m venv .venv-bench
  .venv-bench/bin/python -m pip install -q --upgrade pip
  .venv-bench/bin/python -m pip install -q "pacsys==0.3.0"
fi
