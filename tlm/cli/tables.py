"""Tables whose ids are never cut: ``Grid`` is a drop-in for the few ``rich.table.Table`` calls
the CLI makes (headers, ``title=``, ``add_row``). Id-like columns (ids, job and run names,
sha256) never wrap or shrink; when the terminal is too narrow to show them whole next to the
other columns, the rows are printed as records instead (one ``header: value`` line each), so an
id can always be copied whole, whatever the width (``COLUMNS=40`` included)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

ID_HEADERS = frozenset(
    {"id", "run", "config", "job", "model", "dataset", "compile", "training", "sha256", "child tensor", "from parent"}
)
MIN_OTHER = 6  # the narrowest a wrapping column may become and still be read
FRAME = 3  # "│ " + " " around each cell


def _width(cell: Any) -> int:
    text = cell if isinstance(cell, Text) else Text.from_markup(str(cell))
    return max((len(line) for line in text.plain.splitlines()), default=0)


class Grid:
    def __init__(self, *headers: str, title: str | None = None, ids: Iterable[str] | None = None) -> None:
        self.headers = list(headers)
        self.title = title
        id_set = set(ids) if ids is not None else ID_HEADERS
        self.id_columns = [i for i, h in enumerate(self.headers) if h.lower() in id_set]
        self.rows: list[list[Any]] = []

    def add_row(self, *cells: Any) -> None:
        self.rows.append(list(cells))

    def needed_width(self) -> int:
        total = 1
        for i, h in enumerate(self.headers):
            if i in self.id_columns:
                total += max([_width(h), *(_width(r[i]) for r in self.rows)]) + FRAME
            else:
                total += min(MIN_OTHER, max([_width(h), *(_width(r[i]) for r in self.rows)])) + FRAME
        return total

    def table(self) -> Table:
        t = Table(*self.headers, title=self.title)
        for i in self.id_columns:
            longest = max([_width(self.headers[i]), *(_width(r[i]) for r in self.rows)])
            t.columns[i].no_wrap = True
            t.columns[i].min_width = longest
        for r in self.rows:
            t.add_row(*r)
        return t

    def records(self) -> RenderResult:
        if self.title:
            yield Text(self.title, style="italic")
        for n, r in enumerate(self.rows):
            if n:
                yield Text("")
            for h, cell in zip(self.headers, r, strict=False):
                line = Text(f"{h or '-'}: ", style="bold")
                line.append_text(cell if isinstance(cell, Text) else Text.from_markup(str(cell)))
                line.no_wrap = True
                line.overflow = "ignore"
                yield line

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.needed_width() <= options.max_width:
            yield self.table()
        else:
            yield from self.records()
