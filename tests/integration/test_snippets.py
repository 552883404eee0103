"""Every fenced code block of README.md and docs/ runs as it stands, against the embedded simulator.

Python blocks run in order, one namespace per page (a page's examples start the simulator on
loopback themselves). Shell blocks (``sh``, ``bash``, ``console``) run as bash scripts with the
project's ``pacsys-rx`` on ``PATH``. TOML blocks are simulator files: a catalogue loads with
``load_catalogue``, a permissions file with ``Permissions.load``. A block whose first line is
``# not run: REASON`` is shown to readers but not run, and the reason is part of this test's
report; a block without a language is output or a synopsis and is not code. Any other language
fails, so that no block is left out silently.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
NOT_RUN = re.compile(r"#\s*not run:\s*(\S.*)")
SHELL = {"sh", "bash", "console"}
SHELL_TIMEOUT_S = 60
RUNNABLE = {"python", "toml", *SHELL}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    code: str

    @property
    def skip_reason(self) -> str | None:
        first = self.code.split("\n", 1)[0].strip()
        match = NOT_RUN.fullmatch(first)
        return match.group(1) if match else None

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    return [Block(page, text.count("\n", 0, m.start(2)), m.group(1), m.group(2))
            for m in FENCE.finditer(text) if m.group(1)]


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_every_block_is_python_shell_or_marked() -> None:
    unknown = [f"{b} ({b.language})" for page in PAGES for b in blocks(page)
               if b.language not in RUNNABLE and b.skip_reason is None]
    assert unknown == [], "blocks in a language this test cannot run; mark them '# not run: REASON'"


@pytest.mark.parametrize("page", [p for p in PAGES if any(b.language == "python" for b in blocks(p))],
                         ids=_page_id)
def test_python_blocks_run(page: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"snippets_{page.stem}"}
    skipped = []
    for block in blocks(page):
        if block.language != "python":
            continue
        if block.skip_reason:
            skipped.append(f"{block}: {block.skip_reason}")
            continue
        exec(compile("\n" * block.line + block.code, str(page), "exec"), namespace)
    if skipped:
        print("not run:", *skipped, sep="\n  ")


@pytest.mark.parametrize("page", [p for p in PAGES if any(b.language in SHELL for b in blocks(p))],
                         ids=_page_id)
def test_shell_blocks_run(page: Path) -> None:
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    for block in blocks(page):
        if block.language not in SHELL:
            continue
        if block.skip_reason:
            print(f"not run: {block}: {block.skip_reason}")
            continue
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=SHELL_TIMEOUT_S)
        assert result.returncode == 0, f"{block} exited {result.returncode}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("page", [p for p in PAGES if any(b.language == "toml" for b in blocks(p))],
                         ids=_page_id)
def test_toml_blocks_load(page: Path, tmp_path: Path) -> None:
    from pacsys_rx.sim import load_catalogue
    from pacsys_rx.sim.permissions import Permissions

    for number, block in enumerate(b for b in blocks(page) if b.language == "toml"):
        if block.skip_reason:
            print(f"not run: {block}: {block.skip_reason}")
            continue
        path = tmp_path / f"block{number}.toml"
        path.write_text(block.code)
        if "[roles]" in block.code or "console_class" in block.code:
            Permissions.load(path)
        else:
            load_catalogue(path)
