"""Markdown tables of benchmark results, written into docs/benchmarks.md.

Each section of the document (`speed`, `scaling`, `accuracy`) lives
between its own pair of HTML comment markers, so `python -m
benchmarks.run --only speed` regenerates that section and leaves the
rest of the hand-written document alone.
"""

import dataclasses
import datetime
import math
import os
import pathlib
import platform
import re

BEGIN = "<!-- benchmarks:{section}:begin -->"
END = "<!-- benchmarks:{section}:end -->"


@dataclasses.dataclass
class Table:
    """One result table.

    Args:
        title: str. Heading of the table.
        columns: list of str. Column names; the first names the row label.
        rows: list of lists. One list per row: a str label, then cells
            (floats are printed with `digits` significant decimals, None
            as an em dash, anything else with `str`).
        notes: list of str. Lines printed under the table.
        digits: int. Decimals of float cells. Defaults to `2`.

    Example:

    >>> table = Table("t", ["model", "ms"], [["a", 1.234]])
    >>> print(table.to_markdown())
    #### t
    <BLANKLINE>
    | model | ms |
    |---|---:|
    | a | 1.23 |
    """

    title: str
    columns: list
    rows: list
    notes: list = dataclasses.field(default_factory=list)
    digits: int = 2

    def to_markdown(self):
        """Returns the table as GitHub markdown."""
        lines = [f"#### {self.title}", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|---" + "|---:" * (len(self.columns) - 1) + "|")
        for row in self.rows:
            cells = [str(row[0])] + [self._cell(v) for v in row[1:]]
            lines.append("| " + " | ".join(cells) + " |")
        if self.notes:
            lines.append("")
            lines.extend(self.notes)
        return "\n".join(lines)

    def _cell(self, value):
        if value is None:
            return "—"
        if isinstance(value, float):
            if not math.isfinite(value):
                return str(value)
            return f"{value:.{self.digits}f}"
        return str(value)


def cpu_model():
    """Returns the CPU model name (from /proc/cpuinfo where there is one)."""
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.machine()


def environment_lines(command, versions):
    """Lines naming the command, date, machine and library versions.

    Args:
        command: str. The command that produced the section.
        versions: dict of library name -> version string.

    Returns:
        List of markdown lines.
    """
    stamp = datetime.datetime.now(datetime.timezone.utc)
    libraries = ", ".join(f"{k} {v}" for k, v in versions.items())
    return [
        f"- command: `{command}`",
        f"- date: {stamp:%Y-%m-%d %H:%M} UTC",
        f"- machine: {cpu_model()}, {os.cpu_count()} CPU cores, "
        f"{platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}",
        f"- libraries: {libraries}",
    ]


def render_section(intro, tables, header_lines):
    """Returns the markdown body of one section."""
    parts = ["\n".join(header_lines)]
    if intro:
        parts.append(intro.strip())
    parts.extend(table.to_markdown() for table in tables)
    return "\n\n".join(parts)


def replace_section(document, section, body):
    """Puts `body` between the markers of `section` in `document`.

    Appends a new marked section when the markers are missing.

    Example:

    >>> doc = replace_section("# B\\n", "speed", "x")
    >>> replace_section(doc, "speed", "y").count("y")
    1
    """
    begin, end = BEGIN.format(section=section), END.format(section=section)
    block = f"{begin}\n{body}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(document):
        return pattern.sub(lambda _: block, document)
    return document.rstrip("\n") + "\n\n" + block + "\n"


def write_section(path, section, body):
    """Writes `body` into the `section` of the markdown file at `path`."""
    path = pathlib.Path(path)
    document = path.read_text() if path.exists() else "# Benchmarks\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(replace_section(document, section, body))
