"""The Python of the repository (package, tests, benchmarks, firmware tools) keeps lines within 120 characters,
the limit CONTRIBUTING.md states: a long line usually hides two statements or a path worth a name."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 120


def python_sources() -> list[Path]:
    return sorted(p for folder in ("pipeline", "tests", "bench", "firmware") for p in (ROOT / folder).rglob("*.py")
                  if "__pycache__" not in p.parts)


def long_lines(path: Path, root: Path = ROOT) -> list[str]:
    return [f"{path.relative_to(root)}:{n}: {len(line)} characters"
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if len(line) > LIMIT]


def test_the_check_sees_a_long_line(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("x = 1\n" + "y = '" + "a" * (LIMIT - 6) + "'\n" + "z = '" + "a" * (LIMIT - 5) + "'\n")
    assert long_lines(sample, tmp_path) == [f"sample.py:3: {LIMIT + 1} characters"]


def test_no_python_line_is_over_120_characters():
    found = [line for path in python_sources() for line in long_lines(path)]
    assert len(python_sources()) > 100
    assert found == [], "wrap these lines"
