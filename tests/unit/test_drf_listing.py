"""DRF lists in one-line messages name a few DRFs and count the rest."""

from pacsys_rx.drf import drf_list_text


def test_a_short_list_is_shown_whole() -> None:
    assert drf_list_text(["A", "B", "C"]) == "A, B, C"


def test_a_thousand_drfs_are_three_and_a_count() -> None:
    drfs = [f"Z:DEV{i:03d}@p,1000" for i in range(1000)]
    assert drf_list_text(drfs) == "Z:DEV000@p,1000, Z:DEV001@p,1000, Z:DEV002@p,1000 and 997 more"
