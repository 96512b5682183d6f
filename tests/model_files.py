"""Model files for tests: the shipped model with a few lines changed, so a test names only what differs."""

from __future__ import annotations

from pathlib import Path

SHIPPED_MODEL = Path(__file__).parents[1] / "scoring" / "default_model.toml"


def shipped_model_with(*replacements: tuple[str, str]) -> str:
    """The shipped model's text with each (old, new) replaced; fails if an old line is gone (the model changed)."""
    text = SHIPPED_MODEL.read_text()
    for old, new in replacements:
        assert old in text, f"the shipped model no longer has {old!r}"
        text = text.replace(old, new)
    return text
