"""The documentation: ``mkdocs build --strict`` is clean, and the examples of the guide pages run.

Python blocks of the pages in ``RUNNABLE`` are executed in order, one namespace per page (the
examples start the simulator on loopback themselves). A block whose first line is
``# needs the Fermilab network`` is shown to readers but not run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RUNNABLE = ["index.md", "getting-started.md", "concepts.md", "drf.md", "alarm-cookbook.md"]
NOT_RUN = "# needs the Fermilab network"
BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)


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


@pytest.mark.parametrize("page", RUNNABLE)
def test_examples_run(page: str) -> None:
    path = DOCS / page
    text = path.read_text()
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    for match in BLOCK.finditer(text):
        code = match.group(1)
        if code.startswith(NOT_RUN):
            continue
        first_line = text.count("\n", 0, match.start(1))
        exec(compile("\n" * first_line + code, str(path), "exec"), namespace)
