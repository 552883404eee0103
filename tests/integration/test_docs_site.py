"""The documentation site: ``mkdocs build --strict`` is clean and the API reference is complete.

Its code blocks run in ``test_snippets.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    warnings = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
    assert warnings == [], "\n".join(warnings)
    return out


def test_strict_build(site: Path) -> None:
    assert (site / "index.html").is_file()


def test_operators_are_in_the_reference_under_their_installed_name(site: Path) -> None:
    from pacsys_rx import operators as ops

    html = (site / "reference" / "operators" / "index.html").read_text()
    missing = [name for name in ops.__all__ if f'id="pacsys_rx.operators.{name}"' not in html]
    assert missing == []
