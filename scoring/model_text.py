"""Editing a scoring-model file's text in place: points, caps, rungs and version, comments kept.

``leadstream calibrate`` writes its candidate as the current file with only the fitted numbers
changed, so the diff a reviewer reads is exactly what calibration proposes. Both spellings TOML
allows for the tables the model uses are handled: the inline ``name = { points = 5, cap = 20 }``
and the ``[signals.name]`` sub-table; anything else is refused with the field it could not edit.
"""

from __future__ import annotations

import re

from scoring.errors import ModelError

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_NUMBER = r"[-+]?[0-9][0-9_]*(?:\.[0-9_]+)?(?:[eE][-+]?[0-9]+)?"


def number_text(value: float) -> str:
    """A TOML number: whole values without a fraction, others to one decimal place."""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def with_version(text: str, version: str) -> str:
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if _HEADER.match(line):
            break
        value = re.match(r'^(\s*version\s*=\s*)"(?:[^"\\]|\\.)*"(.*)$', line.rstrip("\n"))
        if value:
            escaped = version.replace("\\", "\\\\").replace('"', '\\"')
            lines[index] = f'{value.group(1)}"{escaped}"{value.group(2)}\n'
            return "".join(lines)
    raise ModelError('version: no top-level `version = "..."` line to rewrite')


def with_numbers(text: str, table: str, name: str, values: dict[str, float]) -> str:
    """Set ``values`` (e.g. points, cap) of ``[table] name``, inline or as ``[table.name]``."""
    lines = text.splitlines(keepends=True)
    section = None
    for index, line in enumerate(lines):
        header = _HEADER.match(line)
        if header:
            section = header.group(1).replace(" ", "")
            continue
        if section == table and re.match(rf"^\s*{re.escape(name)}\s*=\s*\{{", line):
            lines[index] = _set_inline(line, values, f"{table}.{name}")
            return "".join(lines)
    return _set_in_subtable(lines, f"{table}.{name}", values)


def _set_inline(line: str, values: dict[str, float], where: str) -> str:
    body_end = line.rindex("}")
    body, rest = line[:body_end], line[body_end:]
    for key, value in values.items():
        pattern = re.compile(rf"(\b{key}\s*=\s*){_NUMBER}")
        if pattern.search(body):
            body = pattern.sub(lambda m: m.group(1) + number_text(value), body, count=1)
        else:
            body = body.rstrip() + f", {key} = {number_text(value)} "
    return body + rest


def _set_in_subtable(lines: list[str], section_name: str, values: dict[str, float]) -> str:
    inside = False
    pending = dict(values)
    last_line = None
    for index, line in enumerate(lines):
        header = _HEADER.match(line)
        if header:
            if inside:
                break
            inside = header.group(1).replace(" ", "") == section_name
            last_line = index if inside else last_line
            continue
        if not inside:
            continue
        if line.strip() and not line.lstrip().startswith("#"):
            last_line = index  # a missing value goes after the table's last one, before blank lines
        for key in list(pending):
            match = re.match(rf"^(\s*{key}\s*=\s*){_NUMBER}(.*)$", line.rstrip("\n"))
            if match:
                lines[index] = match.group(1) + number_text(pending.pop(key)) + match.group(2) + "\n"
    if last_line is None:
        raise ModelError(f"{section_name}: not found in the model file, so it cannot be rewritten")
    for key, value in pending.items():  # a value the table did not set yet (a cap)
        lines.insert(last_line + 1, f"{key} = {number_text(value)}\n")
    return "".join(lines)
