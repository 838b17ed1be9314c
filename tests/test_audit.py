"""Audit guards: subprocesses take argument lists (never a shell string), and user-given ports are checked with
one-line errors naming the value."""
import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.errors import PipelineError
from pipeline.serial_url import check_port

ROOT = Path(__file__).resolve().parent.parent
SPAWNERS = {"run", "Popen", "call", "check_call", "check_output", "system", "popen", "getoutput", "getstatusoutput"}


def spawning_calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SPAWNERS:
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id in ("subprocess", "os"):
                yield node


def test_every_subprocess_gets_an_argument_list_never_a_shell():
    calls = 0
    for path in sorted((ROOT / "pipeline").rglob("*.py")) + sorted((ROOT / "bench").glob("*.py")):
        for node in spawning_calls(ast.parse(path.read_text())):
            calls += 1
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            assert node.func.attr not in ("system", "popen", "getoutput", "getstatusoutput"), where
            assert not any(k.arg == "shell" for k in node.keywords), where
            first = node.args[0] if node.args else None
            assert not isinstance(first, (ast.Constant, ast.JoinedStr, ast.BinOp)), f"{where}: a string command"
    assert calls >= 8  # the audit saw the build, emulator, compiler and bench subprocesses


@pytest.mark.parametrize("good", ["/dev/ttyACM0", "COM3", "/dev/pts/4", "socket://127.0.0.1:4321",
                                  "rfc2217://localhost:2217", "loop://", "hwgrep://2341:805a"])
def test_plausible_ports_pass(good):
    assert check_port(good) == good


@pytest.mark.parametrize("bad, words", [
    ("", "it is empty"), ("--json", "looks like an option"), ("/dev/tty\nUSB0", "control characters"),
    ("sockt://127.0.0.1:4321", "unknown URL scheme 'sockt'"), ("socket://127.0.0.1", "needs a host and a port"),
    ("socket://127.0.0.1:99999", "bad host:port"), ("socket://:4321", "needs a host and a port"),
])
def test_malformed_ports_are_refused_by_name(bad, words):
    with pytest.raises(PipelineError) as error:
        check_port(bad)
    assert repr(bad) in error.value.message and words in error.value.message and error.value.hint


@pytest.mark.parametrize("command", [["validate", "--run-dir", "x"], ["flash", "--board", "nano33ble",
                                                                       "--model-dir", "x"]])
def test_cli_refuses_a_malformed_port_in_one_line(command, tmp_path):
    result = CliRunner().invoke(cli, [*command, "--port", "sockt://127.0.0.1:1"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Invalid serial port 'sockt://127.0.0.1:1'")


def test_flash_refuses_a_url_as_a_board_port():
    result = CliRunner().invoke(cli, ["flash", "--board", "nano33ble", "--model-dir", "x", "--port",
                                      "socket://127.0.0.1:4000"])
    assert result.exit_code == 2 and "a URL is not a serial port here" in result.output
