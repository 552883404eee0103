from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "operators.md"


def test_every_operator_is_documented() -> None:
    from pacsys_rx import operators as ops

    text = DOC.read_text()
    missing = [name for name in ops.__all__ if name[0].islower() and f"### `{name}(" not in text]
    assert missing == []
