"""The comparison tables as LaTeX: booktabs tables cut into parts that fit a page's width.

:mod:`report.comparison` renders the cells (text, rank, within the reference's spread); this module
escapes them and packs the columns into parts no wider than the page, each part one table.
"""
from __future__ import annotations

from typing import Protocol

from metrics.table import PROBABILITIES


class Column(Protocol):
    """What the packing reads of a comparison column (:class:`report.comparison.Column`)."""

    heading: str  # its title without the maps it is of
    probabilities: bool  # whether it is of the probability maps

# The LaTeX tables are split into parts no wider than the article class's \textwidth at 10 pt, a
# one-column page (a full reproduction's table has over a hundred columns). The parts are placed
# where they stand ([H]): dozens of floating tables in a row overflow LaTeX's queue of floats. Widths are
# estimated from Computer Modern at 10 pt: bold digits 5.75 pt, capitals about 7, other letters
# about 5, '.' ',' '(' ')' and a space about 3.5, the math symbols $\pm$, $\sim$ and '%' about 7.8, and
# 2 \tabcolsep = 12 pt between columns.
PAGE_WIDTH_PT = 345.0
COLUMN_GAP_PT = 12.0
# LaTeX's special characters, written so that they print as themselves.
LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"$\sim$", "^": r"\textasciicircum{}", "±": r"$\pm$"}
# The first line of comparison.tex: what it needs and how its tables are placed.
LATEX_PREAMBLE = (
    "% The comparison tables (report/comparison.py); needs \\usepackage{booktabs} and \\usepackage{float}. "
    f"Each is cut into parts at most {PAGE_WIDTH_PT:g} pt wide (the article class's \\textwidth at 10 pt), "
    "placed where they stand ([H], from float: a long series of floating tables overflows LaTeX's queue "
    "of floats).\n"
)


def latex_escape(text: str) -> str:
    """`text` with LaTeX's special characters escaped (and ± as $\\pm$)."""
    return "".join(LATEX_ESCAPES.get(character, character) for character in text)


def _printed_width(text: str) -> float:
    """The estimated width in pt of `text` (unescaped) as LaTeX prints it at 10 pt (see PAGE_WIDTH_PT)."""
    return sum(7.8 if c in "±~%" else 3.5 if c in ".,() " else 5.75 if c.isdigit() else 7.0 if c.isupper()
               else 5.0 for c in text)


def _span_title(group: str, column: Column) -> str:
    """The heading over a run of columns: the group, and which maps when they are the probability maps."""
    return f"{group} ({PROBABILITIES})" if column.probabilities else group


def _chunks(items: list[int], pieces: int) -> list[list[int]]:
    """`items` cut into `pieces` consecutive chunks whose lengths differ by at most one, longer first."""
    size, extra = divmod(len(items), pieces)
    bounds = [0]
    for piece in range(pieces):
        bounds.append(bounds[-1] + size + (piece < extra))
    return [items[start:end] for start, end in zip(bounds, bounds[1:])]


def _latex_parts(
    rows: dict[str, list[tuple[str, int | None, bool]]], present: list[tuple[str, Column]],
) -> list[list[int]]:
    """The indices into `present` of each part of the table, in order, so that every part (with the
    method column) fits PAGE_WIDTH_PT. Columns under one heading (a set, or a set's probability
    maps) stay together where they fit; parts are filled greedily in the table's order."""
    def width(index: int) -> float:
        texts = [present[index][1].heading] + [text + (" ~" if spread else "") for text, _, spread in
                                               (cells[index] for cells in rows.values())]
        return max(map(_printed_width, texts)) + COLUMN_GAP_PT

    room = PAGE_WIDTH_PT - max(_printed_width(label) for label in ["Method", *rows]) - COLUMN_GAP_PT
    runs: list[list[int]] = []  # consecutive columns under one heading
    for index, (group, column) in enumerate(present):
        if runs and _span_title(*present[runs[-1][-1]]) == _span_title(group, column):
            runs[-1].append(index)
        else:
            runs.append([index])
    spans: list[list[int]] = []  # each run, cut into the fewest near-equal pieces that fit
    for run in runs:
        # A column wider than the page on its own (a very long method name) gets a part to itself.
        pieces = next((pieces for pieces in range(1, len(run) + 1)
                       if all(sum(map(width, chunk)) <= room for chunk in _chunks(run, pieces))), len(run))
        spans += _chunks(run, pieces)

    def span_width(span: list[int]) -> float:  # a heading wider than its columns widens them
        return max(sum(map(width, span)), _printed_width(_span_title(*present[span[0]])) + COLUMN_GAP_PT)

    parts: list[list[int]] = []
    used = 0.0
    for span in spans:
        if not parts or used + span_width(span) > room:
            parts.append([])
            used = 0.0
        parts[-1] += span
        used += span_width(span)
    return parts


def latex_tables(rows: dict[str, list[tuple[str, int | None, bool]]], present: list[tuple[str, Column]],
                 notes: list[str], spread_mark: str) -> str:
    """The table as booktabs LaTeX tables, one per part that fits the page (`_latex_parts`): one header
    row of groups over one of metrics. The first part's caption holds the notes, the others say
    which part they are."""
    parts = _latex_parts(rows, present)
    tables = []
    for number, part in enumerate(parts, 1):
        spans: list[tuple[str, int]] = []  # (heading, number of its columns), in order
        for group, column in (present[index] for index in part):
            title = _span_title(group, column)
            if spans and spans[-1][0] == title:
                spans[-1] = (title, spans[-1][1] + 1)
            else:
                spans.append((title, 1))
        group_row, rules, first = [""], [], 2
        for title, width in spans:
            group_row.append(rf"\multicolumn{{{width}}}{{c}}{{{latex_escape(title)}}}")
            rules.append(rf"\cmidrule(lr){{{first}-{first + width - 1}}}")
            first += width
        of = f" Part {number} of {len(parts)}." if len(parts) > 1 else ""
        caption = " ".join(notes) + of if number == 1 else f"{notes[0]}{of} Notes: under part 1."
        lines = [r"\begin{table}[H]", r"\centering", rf"\caption{{{latex_escape(caption)}}}",
                 rf"\begin{{tabular}}{{l{'r' * len(part)}}}", r"\toprule",
                 " & ".join(group_row) + r" \\", " ".join(rules),
                 " & ".join(["Method"] + [latex_escape(present[index][1].heading) for index in part]) + r" \\",
                 r"\midrule"]
        for method, cells in rows.items():
            texts = [latex_escape(method)]
            for text, rank, spread in (cells[index] for index in part):
                text = latex_escape(text)
                text = rf"\textbf{{{text}}}" if rank == 0 else rf"\underline{{{text}}}" if rank == 1 else text
                texts.append(text + (" " + latex_escape(spread_mark) if spread else ""))
            lines.append(" & ".join(texts) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
        tables.append("\n".join(lines) + "\n")
    return "\n".join(tables)
