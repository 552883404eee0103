#!/usr/bin/env bash
# Re-resolve the lock files under requirements/ from pyproject.toml's ranges.
#   scripts/lock.sh            keep every pin that still fits (`make lock`: after adding or changing a
#                              dependency or a range, or moving the generator pin in constraints.txt)
#   scripts/lock.sh --upgrade  take the newest releases the ranges allow (`make lock-upgrade`)
# Then run `make test` and commit pyproject.toml and requirements/ together.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv-lock/bin/uv ]; then
  "$python" -m venv .venv-lock
  .venv-lock/bin/python -m pip install -q --require-hashes -r requirements/uv.txt
fi
# One universal resolution (every platform, Python 3.10 and newer), with the hash of every file.
upgrade=()
[ "${1:-}" = --upgrade ] && upgrade=(--upgrade)
compile=(.venv-lock/bin/uv pip compile --universal --generate-hashes "${upgrade[@]}" --quiet --python-version 3.10
         -c requirements/constraints.txt)
# test.txt first: the others are constrained by it, so every environment shares its versions.
"${compile[@]}" pyproject.toml requirements/build.in --extra all -o requirements/test.txt
"${compile[@]}" pyproject.toml requirements/build.in -c requirements/test.txt -o requirements/demo.txt
"${compile[@]}" requirements/kerberos.in -c requirements/test.txt -o requirements/kerberos.txt
"${compile[@]}" requirements/reference.in -o requirements/reference.txt
echo "pacsys_rx: requirements/*.txt re-locked; run make test, then commit them with pyproject.toml"
