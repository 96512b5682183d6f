"""Running the ``leadstream`` console script the way a user does."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def leadstream_command() -> list[str]:
    """The installed console script beside this interpreter; the suite installs the package first."""
    script = Path(sys.executable).parent / "leadstream"
    if script.exists():
        return [str(script)]
    found = shutil.which("leadstream")
    if found is None:
        raise AssertionError("the leadstream console script is not installed: run the README's test command")
    return [found]
