"""The check every Faust and aiokafka override passes before it is installed: is the original still the one it was written against?

An override replaces a method of faust-streaming or aiokafka by name. The version pin in
pyproject.toml allows patch releases, and a new release may rewrite the method the override
replaces (or one whose logic it copies): the override would then silently undo a fix or a
feature of that release. So each override records a digest of every original it depends on,
with the versions it was written for, and ``install_overrides`` refuses to start when one
differs, naming the function and the installed versions. ``LEADSTREAM_FAUST_UNTESTED=true``
(streams/config/environment.py) lets an operator start anyway, with a warning per function.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from streams.errors import StreamsError

log = logging.getLogger(__name__)

# The distributions whose code the overrides replace (mode-streaming: Faust's service library).
DISTRIBUTIONS = ("faust-streaming", "aiokafka", "mode-streaming")
# Every digest in streams/faust_ext was taken from these releases.
WRITTEN_FOR = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0", "mode-streaming": "0.7.1"}


class FaustInternalsChanged(StreamsError):
    """A function an override replaces (or copies) differs from the one it was written against."""


def digest(function: Callable[..., Any]) -> str:
    """sha256 of the function's source text, dedented.

    The source rather than the code object (``__code__.co_code``, consts, names): bytecode
    changes with the interpreter (3.11 and 3.12 compile the same method differently), so a
    bytecode digest would refuse the same faust-streaming release under another Python, while
    the source is byte for byte the same in every install of one release. A release that only
    reformats or re-comments a method is refused too: erring that way costs one look at a diff.
    """
    source = textwrap.dedent(inspect.getsource(inspect.unwrap(function)))
    return hashlib.sha256(source.encode()).hexdigest()


def installed_versions() -> dict[str, str]:
    versions = {}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _versions_text(versions: dict[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items())


@dataclass(frozen=True)
class Original:
    """A function of Faust or aiokafka, by its owner and name, and the digest it had when an override was written."""

    owner: type
    name: str
    sha256: str

    @property
    def qualname(self) -> str:
        return f"{self.owner.__module__}.{self.owner.__qualname__}.{self.name}"

    def current(self) -> Any:
        return self.owner.__dict__.get(self.name)

    def differs(self) -> str | None:
        """Why the function found now is not the one recorded, or None when it is."""
        function = self.current()
        if function is None:
            return "missing"
        try:
            found = digest(function)
        except (OSError, TypeError):
            return "source unavailable, cannot verify"
        return None if found == self.sha256 else f"digest {found[:12]}, expected {self.sha256[:12]}"


@dataclass(frozen=True)
class Override:
    """One replaced function: the original it replaces, the replacement, and any other originals whose logic it copies."""

    replaces: Original
    replacement: Callable[..., Any]
    copies: tuple[Original, ...] = ()
    written_for: dict[str, str] = field(default_factory=lambda: dict(WRITTEN_FOR))

    def originals(self) -> tuple[Original, ...]:
        return (self.replaces, *self.copies)


@dataclass(frozen=True)
class Mismatch:
    override: Override
    original: Original
    reason: str

    def describe(self) -> str:
        role = "replaced by" if self.original is self.override.replaces else "copied by"
        return (f"{self.original.qualname} ({role} {self.override.replacement.__module__}."
                f"{self.override.replacement.__qualname__}; {self.reason}; written for"
                f" {_versions_text(self.override.written_for)})")


def mismatches(overrides: Iterable[Override]) -> list[Mismatch]:
    """Every original that is not the one its override was written against; an override already installed passes."""
    found = []
    for override in overrides:
        for original in override.originals():
            if original is override.replaces and original.current() is override.replacement:
                continue
            if reason := original.differs():
                found.append(Mismatch(override, original, reason))
    return found


# Every original replaced so far, so that tests can put them back: (owner, name, original).
_replaced: list[tuple[type, str, Any]] = []


def install_overrides(overrides: Sequence[Override], allow_untested: bool) -> None:
    """Check every override's originals, then replace them all, or none when one differs and untested versions are not allowed."""
    if found := mismatches(overrides):
        versions = _versions_text(installed_versions())
        if not allow_untested:
            raise FaustInternalsChanged(
                f"Faust internals changed: {'; '.join(m.describe() for m in found)}; installed: {versions}."
                " Review the overrides in streams/faust_ext against the new release and record their digests,"
                " or set LEADSTREAM_FAUST_UNTESTED=true to start anyway")
        for mismatch in found:
            log.warning("LEADSTREAM_FAUST_UNTESTED: installing an override UNTESTED on %s: %s differs from the"
                        " function it was written against: %s", versions, mismatch.original.qualname,
                        mismatch.describe())
    for override in overrides:
        original = override.replaces
        current = original.current()
        if current is override.replacement:
            continue
        _replaced.append((original.owner, original.name, current))
        setattr(original.owner, original.name, override.replacement)


def uninstall_overrides() -> None:
    """Put every replaced original back, last replaced first (tests only)."""
    while _replaced:
        owner, name, original = _replaced.pop()
        if original is None:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
