"""DRF lists in one-line messages: the first few, then how many more."""

from __future__ import annotations

from collections.abc import Sequence

SHOWN_IN_MESSAGES = 3
"""How many DRFs a message names before it counts the rest."""


def drf_list_text(drfs: Sequence[str], shown: int = SHOWN_IN_MESSAGES) -> str:
    """``A, B, C and 997 more`` (all of them when there are no more than ``shown``)."""
    if len(drfs) <= shown:
        return ", ".join(drfs)
    return f"{', '.join(drfs[:shown])} and {len(drfs) - shown} more"
