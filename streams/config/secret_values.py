"""A secret setting read from its variable or from the file its ``_FILE`` variable names, never both.

Tokens and webhook URLs stay off the command line (``ps`` shows arguments to every user); a file
suits Docker and Kubernetes secrets. Errors name the variable and never echo the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def secret_from(env: Mapping[str, str], variable: str, file_variable: str,
                error: type[Exception]) -> tuple[str | None, str]:
    """The value (None when neither is set) and the variable it came from; raises ``error`` naming the variable."""
    direct = env.get(variable, "").strip()
    path = env.get(file_variable, "").strip()
    if direct and path:
        raise error(f"{variable}, {file_variable}: set one of them, not both")
    if not path:
        return direct or None, variable
    try:
        value = Path(path).read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{file_variable}: cannot read {path}: {exc.__class__.__name__}") from None
    if not value:
        raise error(f"{file_variable}: {path} is empty")
    return value, file_variable
