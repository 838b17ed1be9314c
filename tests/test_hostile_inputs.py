"""Hostile inputs at the CLI: each ends in one line on stderr and exit 2 (never a traceback), and leaves nothing
half-done. Out-of-range labels are refused before anything is allocated per class."""
import numpy as np
import pytest

from conftest import _root_config, invoke


def _npz(path, y_train=None, x_dtype=np.float32):
    rng = np.random.default_rng(0)
    y_train = np.tile(np.arange(3), 10) if y_train is None else np.asarray(y_train)
    np.savez(path, x_train=rng.random((len(y_train), 6, 6)).astype(x_dtype), y_train=y_train,
             x_test=rng.random((6, 6, 6)).astype(x_dtype), y_test=np.tile(np.arange(3), 2))
    return path


def _one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


CASES = {
    "seed_negative": (lambda tmp: ["--seed", "-1"], ["run.seed=-1", "[0, 2^32)"]),
    "seed_huge": (lambda tmp: ["--seed", "5000000000"], ["run.seed=5000000000"]),
    "label_a_billion": (lambda tmp: ["--dataset", _npz(tmp / "big.npz", [0, 1, 2] * 9 + [10 ** 9])],
                        ["contains label 1000000000", "K <= 10,000"]),
    "label_negative": (lambda tmp: ["--dataset", _npz(tmp / "neg.npz", [0, 1, 2] * 9 + [-3])],
                       ["contains label -3"]),
    "class_missing": (lambda tmp: ["--dataset", _npz(tmp / "gap.npz", [0, 2] * 15)],
                      ["no sample of class 1"]),
    "complex_samples": (lambda tmp: ["--dataset", _npz(tmp / "cplx.npz", x_dtype=np.complex64)],
                        ["has dtype complex64"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line(case, tmp_path):
    args, needles = CASES[case]
    result = invoke("distill", "--run", "hostile", "--config", _root_config(tmp_path), "--epochs", "1",
                    *args(tmp_path))
    _one_line_error(result, *needles)
    assert not (tmp_path / "hostile" / "run.json").exists()


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path):
    config = tmp_path / "latin1.toml"
    config.write_bytes('[run]\nname = "caf\xe9"\n'.encode("latin-1"))
    _one_line_error(invoke("distill", "--config", config), "is not UTF-8", "latin1.toml")


@pytest.mark.parametrize("manifest", ["[]", '{"stages": "x"}', "\xff\xfe"])
def test_a_hand_edited_manifest_is_one_line(manifest, tmp_path):
    run = tmp_path / "edited"
    run.mkdir()
    (run / "run.json").write_bytes(manifest.encode("latin-1"))
    result = invoke("distill", "--run", "edited", "--config", _root_config(tmp_path), "--epochs", "1")
    _one_line_error(result, "run.json")
