#!/usr/bin/env bash
# Prepare this machine for pacsys_rx: system packages, services and a virtualenv.
#   scripts/setup.sh demo    what `make demo` needs; DMQ's parts (RabbitMQ, a Kerberos KDC) when they can
#                            be installed, else the demo runs without DMQ and says so
#   scripts/setup.sh test    what `make test` (and `make docs`) needs: Kerberos tools, RabbitMQ, sshd
#   scripts/setup.sh bench   the test set-up plus the reference library in its own .venv-bench
#   scripts/setup.sh latest  the test set-up in .venv-latest from the newest releases pyproject.toml
#                            allows (no lock): `make test-latest`
# Every environment but `latest` installs from the lock files in requirements/ (hash-checked).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-demo}
dmq_packages=(krb5-kdc krb5-admin-server krb5-user rabbitmq-server)
test_packages=(libkrb5-dev "${dmq_packages[@]}" openssh-server openssh-client)
case "$mode" in
  demo) packages=("${dmq_packages[@]}"); locks=(requirements/demo.txt requirements/kerberos.txt); venv=.venv ;;
  test) packages=("${test_packages[@]}"); locks=(requirements/test.txt); venv=.venv ;;
  bench) packages=("${test_packages[@]}"); locks=(requirements/test.txt); venv=.venv ;;
  latest) packages=("${test_packages[@]}"); locks=(); venv=.venv-latest ;;
  *) echo "usage: $0 demo|test|bench|latest" >&2; exit 2 ;;
esac

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_get=()
  if [ "$(id -u)" -eq 0 ]; then apt_get=(apt-get)
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then apt_get=(sudo apt-get)
  fi
  if [ ${#apt_get[@]} -gt 0 ] && command -v apt-get >/dev/null; then
    echo "pacsys_rx: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${apt_get[@]}" update -qq
    "${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif [ "$mode" = demo ]; then
    echo "pacsys_rx: the demo runs without DMQ until these Debian packages are installed:" \
         "sudo apt-get install ${missing[*]}" >&2
  else
    echo "pacsys_rx: please install these Debian packages first: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

broker_up() { timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672' 2>/dev/null; }
if ! broker_up && command -v rabbitmq-server >/dev/null; then
  echo "pacsys_rx: starting RabbitMQ"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 1 90); do broker_up && break; sleep 1; done
fi
if ! broker_up; then
  if [ "$mode" = demo ]; then
    echo "pacsys_rx: no RabbitMQ broker on 127.0.0.1:5672; the demo runs without DMQ" >&2
  else
    echo "pacsys_rx: RabbitMQ did not start on 127.0.0.1:5672" >&2
    exit 1
  fi
else
  # Scale-out publishes on RabbitMQ streams: the stream plugin listens on 5552.
  stream_up() { timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5552' 2>/dev/null; }
  if ! stream_up; then
    echo "pacsys_rx: enabling the rabbitmq_stream plugin (port 5552)"
    rabbitmq-plugins enable rabbitmq_stream >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do stream_up && break; sleep 1; done
    if ! stream_up; then
      echo "pacsys_rx: the rabbitmq_stream plugin did not start on 127.0.0.1:5552" >&2
      [ "$mode" = demo ] || exit 1
    fi
  fi
fi

python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" || { echo "pacsys_rx: '$python -m venv' failed; install python3-venv" >&2; exit 1; }
fi
if [ "$mode" = latest ]; then
  # Deliberately unlocked: the newest releases the ranges allow, to find drift before a re-lock.
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q --upgrade --upgrade-strategy eager -e ".[all]"
  exit 0
fi
stamp="$venv/.installed-${mode}-$(cat pyproject.toml "${locks[@]}" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  for lock in "${locks[@]}"; do
    "$venv/bin/python" -m pip install -q --require-hashes --no-deps -r "$lock"
  done
  # The project itself, built with the locked setuptools (no unpinned build environment).
  "$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
  rm -f "$venv"/.installed-"${mode}"-*
  touch "$stamp"
fi

if [ "$mode" = bench ] && [ ! -x .venv-bench/bin/python ]; then
  # The reference library lives in its own environment: pacsys_rx never imports it.
  "$python" -m venv .venv-bench
  .venv-bench/bin/python -m pip install -q --require-hashes -r requirements/reference.txt
fi
