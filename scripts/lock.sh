#!/usr/bin/env bash
# Re-resolve the lock files under requirements/ to the newest releases pyproject.toml's ranges allow.
# Run it on purpose (`make lock`): to take new releases, after changing a dependency or its range in
# pyproject.toml, or after moving the generator pin in requirements/constraints.txt. Then run
# `make test` and commit pyproject.toml and requirements/ together.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv-lock/bin/uv ]; then
  "$python" -m venv .venv-lock
  .venv-lock/bin/python -m pip install -q --require-hashes -r requirements/uv.txt
fi
# One universal resolution (every platform, Python 3.10 and newer), with the hash of every file.
compile=(.venv-lock/bin/uv pip compile --universal --generate-hashes --upgrade --quiet --python-version 3.10
         -c requirements/constraints.txt)
# test.txt first: the others are constrained by it, so every environment shares its versions.
"${compile[@]}" pyproject.toml requirements/build.in --extra all -o requirements/test.txt
"${compile[@]}" pyproject.toml requirements/build.in -c requirements/test.txt -o requirements/demo.txt
"${compile[@]}" requirements/kerberos.in -c requirements/test.txt -o requirements/kerberos.txt
"${compile[@]}" requirements/reference.in -o requirements/reference.txt
echo "pacsys_rx: requirements/*.txt re-locked; run make test, then commit them with pyproject.toml"
