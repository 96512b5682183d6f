"""No module over 400 lines: past that, a module holds more than one idea and should be split along a seam."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FOLDERS = ("scoring", "streams", "bench", "tests")
MOST_LINES = 400


def line_counts(root: Path = REPO) -> dict[str, int]:
    return {
        str(path.relative_to(root)): len(path.read_text("utf-8").splitlines())
        for folder in FOLDERS
        for path in sorted((root / folder).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def test_no_module_is_over_400_lines():
    over = {path: lines for path, lines in line_counts().items() if lines > MOST_LINES}

    assert not over, f"over {MOST_LINES} lines: " + ", ".join(f"{path} ({lines})" for path, lines in sorted(over.items()))


def test_the_count_sees_every_folder(tmp_path):
    (tmp_path / "streams" / "deep").mkdir(parents=True)
    (tmp_path / "streams" / "deep" / "long.py").write_text("x = 1\n" * 401)
    (tmp_path / "scoring").mkdir()
    (tmp_path / "scoring" / "short.py").write_text("x = 1\n" * 400)

    assert line_counts(tmp_path) == {"streams/deep/long.py": 401, "scoring/short.py": 400}
