"""Griffe extension: render keras_mtcrl's Keras-style docstrings.

The docstrings follow Keras' layout, which griffe's Google parser does not
know: an unindented `Example:` line followed by doctest (`>>>`) lines, and
`Call arguments:` blocks of `name: text` lines. Left alone, the doctest
lines render as nested block quotes and the call arguments as one
paragraph. This rewrites, before parsing, each doctest run into a fenced
`pycon` block, `Example:` into a bold title, and each `name: text` line of
a `Call arguments:` block into a list item. An `Args:` section that says
its class takes none (`None. ...` or `None: ...`, kept so that every
public class has the section) becomes a sentence, since griffe would read
`None` as a parameter name. The Python sources are not touched.
"""

import re

import griffe

_ARGUMENT = re.compile(r"^(\s+)([\w*]+):\s")
_NO_ARGUMENTS = re.compile(r"^None[.:]\s*")


def rewrite(text):
    """Returns `text` (a cleaned docstring) with the rewrites applied."""
    lines = text.split("\n")
    out = []
    index = 0
    call_indent = None
    while index < len(lines):
        line = lines[index]
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith(">>>"):
            if out and out[-1].strip():
                out.append("")
            out.append(f"{indent}```pycon")
            while index < len(lines) and lines[index].strip():
                out.append(lines[index])
                index += 1
            out.append(f"{indent}```")
            continue
        if line in ("Example:", "Examples:"):
            out.append(f"**{line}**")
            index += 1
            continue
        if (
            stripped == "Args:"
            and index + 1 < len(lines)
            and _NO_ARGUMENTS.match(lines[index + 1].strip())
        ):
            index += 1
            words = [_NO_ARGUMENTS.sub("", lines[index].strip())]
            index += 1
            while index < len(lines) and lines[index].startswith(
                indent + " "
            ):
                words.append(lines[index].strip())
                index += 1
            out.append(f"{indent}No arguments. " + " ".join(words).strip())
            continue
        if stripped == "Call arguments:":
            call_indent = None
            out.append(line)
            index += 1
            while index < len(lines) and (
                not lines[index].strip() or lines[index].startswith(" ")
            ):
                item = lines[index]
                match = _ARGUMENT.match(item)
                if match and call_indent in (None, match.group(1)):
                    call_indent = match.group(1)
                    item = (
                        f"{call_indent}- `{match.group(2)}`: "
                        + item[match.end() :]
                    )
                out.append(item)
                index += 1
            continue
        out.append(line)
        index += 1
    return "\n".join(out)


class KerasDocstrings(griffe.Extension):
    """Applies `rewrite` to every docstring of a loaded package."""

    def on_package(self, *, pkg, **kwargs):
        self._walk(pkg, set())

    def _walk(self, obj, seen):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member, seen)
