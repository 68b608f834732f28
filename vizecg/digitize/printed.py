"""Lead names read from the page's printed labels (`PrintedNames`), checked against the names a layout gives.

The digitizer finds a page's layout from its trace rows and Einthoven's law alone; several layouts print as many
rows (a 3x4+3 page and a 6x2 page both print six). Where a reader of the printed labels (the detector's
PageLayout) has read names, a layout whose names contradict them is not the page's.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vizecg.record import STANDARD_LEADS


@dataclass(frozen=True)
class PrintedNames:
    """Lead names read from the page's printed labels: rows top to bottom on the upright page, each left to right
    by column (a panel the reader missed leaves a None, not a shift); None where no label was read. Only names
    actually read, never a template's guess ("-aVR": printed inverted)."""

    rows: tuple[tuple[str | None, ...], ...]

    @staticmethod
    def from_rows(rows: Sequence[Sequence[str | None]]) -> "PrintedNames":
        return PrintedNames(tuple(tuple(name or None for name in row) for row in rows))

    @property
    def n_read(self) -> int:
        return sum(name is not None for row in self.rows for name in row)

    def to_json(self) -> list[list[str | None]]:
        return [list(row) for row in self.rows]


@dataclass(frozen=True)
class NameCheck:
    """Read names against a layout's names, position by position (row, column)."""

    compared: bool  # False: the page's labels were read on another number of rows than the layout prints
    agree: int  # read names the layout gives at their position
    # (row, col, read, the layout's name there; None: the layout has no panel there)
    contradict: tuple[tuple[int, int, str, str | None], ...]
    # (row, col, read) where the layout's panel has no name (a rhythm strip, a 15-lead page's fifth column) and
    # the read name is a standard lead: the name the panel takes
    fill: tuple[tuple[int, int, str], ...]

    def to_json(self) -> dict[str, Any]:
        return {"compared": self.compared, "agree": self.agree, "contradict": len(self.contradict),
                "contradicted": [{"row": r, "col": c, "read": read, "layout": name}
                                 for r, c, read, name in self.contradict],
                "named_from_labels": [{"row": r, "col": c, "lead": read} for r, c, read in self.fill]}


def check_names(printed: PrintedNames, rows: Sequence[Sequence[str | None]]) -> NameCheck:
    """Compare the read names with a layout's `rows` (names per row, None where the layout does not know the
    lead). A read name contradicts the layout where the layout names another lead there (compared without a
    leading '-': -aVR is aVR printed inverted) or has no panel there; rows counts that differ are not compared."""
    if len(printed.rows) != len(rows):
        return NameCheck(False, 0, (), ())
    agree, contradict, fill = 0, [], []
    for r, (read_row, row) in enumerate(zip(printed.rows, rows)):
        for c, read in enumerate(read_row):
            if read is None:
                continue
            if c >= len(row):
                contradict.append((r, c, read, None))
            elif row[c] is None:
                if read.lstrip("-") in STANDARD_LEADS:
                    fill.append((r, c, read))
            elif row[c].lstrip("-") == read.lstrip("-"):
                agree += 1
            else:
                contradict.append((r, c, read, row[c]))
    return NameCheck(True, agree, tuple(contradict), tuple(fill))


def describe(contradict: Sequence[tuple[int, int, str, str | None]], layout: str, most: int = 4) -> str:
    """'row 1 col 2 reads V2 where 6x2 has V1, ...' (rows and columns counted from 1) for a warning."""
    parts = [f"row {r + 1} col {c + 1} reads {read} where {layout} has " + (name or "no panel")
             for r, c, read, name in contradict[:most]]
    more = len(contradict) - most
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")
