"""One C style in firmware/: every hand-written C and C++ file (kernels, app, ports, fuzz target) is exactly as
clang-format-14 writes it with the repository's .clang-format. Generated model code lives elsewhere; the fuzz
corpus is data. clang-format-14 is a Debian package that `make install` installs: its absence is a failure."""
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLANG_FORMAT = "clang-format-14"  # pinned: other versions lay out the same style a little differently
SUFFIXES = {".c", ".h", ".cpp"}


def firmware_sources() -> list[Path]:
    return sorted(p for p in (ROOT / "firmware").rglob("*") if p.suffix in SUFFIXES and "corpus" not in p.parts)


def test_firmware_c_is_clang_formatted():
    assert shutil.which(CLANG_FORMAT), f"{CLANG_FORMAT} is not installed: run `make install` (Debian package " \
        f"{CLANG_FORMAT})"
    sources = firmware_sources()
    assert len(sources) > 30 and (ROOT / ".clang-format").is_file()
    result = subprocess.run([CLANG_FORMAT, "--dry-run", "-Werror", "--style=file", *map(str, sources)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"run `{CLANG_FORMAT} -i` on the files below:\n{result.stderr[:4000]}"
