"""Files that hold personal data are readable by their owner only (mode 0600), however the umask is set.

An export or the alerts' dead-letter file names leads (often by e-mail): created world-readable
under the usual 022 umask, any local account could read them. A file that already exists with
wider permissions is narrowed when it is opened, so an older one does not stay open to all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

PRIVATE_MODE = 0o600


def open_private(path: Path | str, mode: str = "wb") -> BinaryIO:
    """``open(path, mode)`` for ``"wb"`` or ``"ab"``, the file created (or narrowed to) 0600."""
    flags = {"wb": os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "ab": os.O_WRONLY | os.O_CREAT | os.O_APPEND}[mode]
    descriptor = os.open(path, flags, PRIVATE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_MODE)
        return os.fdopen(descriptor, mode)
    except BaseException:
        os.close(descriptor)
        raise


def write_private(path: Path | str, data: bytes) -> None:
    """The whole file replaced by ``data``, readable by its owner only."""
    with open_private(path, "wb") as file:
        file.write(data)
