"""Which student is shipped (pipeline/kd/ship.py): the distilled one unless the baseline beats it on the validation
split, said in the log, run.json, the report and the final table; `distill.ship = "distilled"` keeps it anyway."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import invoke
from pipeline.config import load_config
from pipeline.kd.ship import choose


def _cfg(**distill):
    return load_config(None, {"distill": distill})


def test_the_distilled_student_ships_when_it_is_not_worse_on_validation():
    shipped = choose(_cfg(), {"best_val_accuracy": 0.85}, {"best_val_accuracy": 0.85})
    assert (shipped.model, shipped.artifact) == ("distilled", "student.keras")
    assert "85.00% distilled vs 85.00% labels only on the validation split" in shipped.reason


def test_the_baseline_ships_when_it_beats_the_distilled_student_on_validation():
    # test accuracies are not looked at: the choice is made on the validation split only
    shipped = choose(_cfg(), {"best_val_accuracy": 0.8391, "accuracy": 0.99}, {"best_val_accuracy": 0.8693})
    assert (shipped.model, shipped.artifact) == ("baseline", "baseline.keras")
    assert shipped.reason == ("The distilled student is worse than the baseline (83.91% distilled vs 86.93% labels "
                              "only on the validation split): the baseline ships instead (distill.ship = \"best\"). "
                              "Use --ship distilled to ship the distilled one.")
    assert shipped.record()["shipped"] == "baseline"
    assert shipped.record()["ship_val_accuracy"] == {"distilled": 0.8391, "baseline": 0.8693}


def test_ship_distilled_keeps_the_distilled_student_and_says_it_is_worse():
    shipped = choose(_cfg(ship="distilled"), {"best_val_accuracy": 0.80}, {"best_val_accuracy": 0.90})
    assert shipped.model == "distilled" and "worse than the baseline" in shipped.reason


@pytest.mark.parametrize("settings", [{"method": "none"}, {"baseline": False}])
def test_without_a_baseline_to_compare_the_student_ships(settings):
    shipped = choose(_cfg(**settings), {"best_val_accuracy": 0.5}, {"best_val_accuracy": 0.9})
    assert shipped.model == "distilled" and shipped.distilled_val is None


def test_a_bad_ship_value_is_one_line_naming_it_and_the_choices(models_root):
    result = invoke("distill", "--config", str(models_root[1]), "--ship", "baseline")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "'baseline'" in result.output and "best" in result.output and "distilled" in result.output
    config = models_root[0] / "ship.toml"
    config.write_text('[distill]\nship = "teacher"\n')
    result = invoke("distill", "--config", str(config))
    assert result.exit_code == 2 and "distill.ship='teacher' is not allowed: choose one of best, distilled" \
        in result.output


def _manifest(shipped: str) -> dict:
    """A run.json with only the figures the accuracy table and the verdict read."""
    quantize = {"mode": "qat", "int8_accuracy": 0.8654, "float_accuracy": 0.8693, "drop_pp": 0.39,
                **choose(_cfg(ship="best" if shipped == "baseline" else "distilled"), {"best_val_accuracy": 0.84},
                         {"best_val_accuracy": 0.87}).record()}
    return {"data": {"name": "fashion_mnist", "sizes": {"test": 10000}},
            "stages": {"teacher": {"metrics": {"accuracy": 0.9133, "params": 154548}},
                       "baseline": {"metrics": {"accuracy": 0.8693, "best_val_accuracy": 0.87, "params": 1578}},
                       "distill": {"metrics": {"accuracy": 0.8392, "best_val_accuracy": 0.84, "params": 1578}},
                       "quantize": {"metrics": quantize}}}


def test_the_report_and_the_final_table_name_the_shipped_baseline():
    from pipeline.report.render import render, summary_table
    manifest = _manifest("baseline")
    table = summary_table(manifest)
    assert "baseline int8 on host (TFLM)           86.54%" in table
    assert "student, int8" not in table
    assert "shipped: The distilled student is worse than the baseline (84.00% distilled vs 87.00%" in table
    markdown, html = render(manifest)
    for text in (markdown, html):
        assert "Distillation hurt: the student trained on labels alone is 3.01 pp better" in text
        assert "the baseline ships instead" in text and "ship the baseline, or try" not in text


def test_a_distilled_student_shipped_anyway_keeps_its_rows():
    from pipeline.report.render import summary_table
    table = summary_table(_manifest("distilled"))
    assert "student, int8 on host (TFLM)" in table and "baseline int8" not in table
    assert "but ships: distill.ship = \"distilled\"" in table


def test_runs_lists_which_student_was_shipped(tmp_path):
    from pipeline.report.compare import row
    assert row(_manifest("baseline"), "fm")["shipped"] == "baseline"
    assert row({"stages": {}}, "empty")["shipped"] == "-"


def _validation_says(run_dir, *, distilled: float, baseline: float) -> dict:
    """Set the recorded validation accuracies (fingerprints untouched); returns the stages' metrics."""
    manifest = json.loads((run_dir / "run.json").read_text())
    manifest["stages"]["baseline"]["metrics"]["best_val_accuracy"] = baseline
    manifest["stages"]["distill"]["metrics"]["best_val_accuracy"] = distilled
    (run_dir / "run.json").write_text(json.dumps(manifest))
    return {name: manifest["stages"][name]["metrics"] for name in ("baseline", "distill")}


@pytest.mark.slow
def test_quantize_ships_the_student_that_won_on_validation(tiny_int8, tmp_path):
    from pipeline.int8.quantize import quantize
    run_dir = tmp_path / "tiny"
    shutil.copytree(tiny_int8.path, run_dir)
    cfg = load_config(tiny_int8.config_file, {"run": {"root": str(tmp_path)}})
    stages = _validation_says(run_dir, distilled=0.5, baseline=0.99)
    messages = []
    metrics = quantize(cfg, force=True, log=messages.append)
    assert metrics["shipped"] == "baseline" and metrics["shipped_artifact"] == "baseline.keras"
    assert metrics["float_accuracy"] == stages["baseline"]["accuracy"]  # the float model quantized is the baseline
    assert any("the baseline ships instead" in m for m in messages), messages
    assert any("fake-quantized baseline student with hard labels" in m for m in messages), messages

    stages = _validation_says(run_dir, distilled=0.99, baseline=0.5)  # another winner: quantized again
    messages = []
    metrics = quantize(cfg, log=messages.append)
    assert not any("skipped" in m for m in messages), messages
    assert metrics["shipped"] == "distilled" and metrics["float_accuracy"] == stages["distill"]["accuracy"]

    _validation_says(run_dir, distilled=0.5, baseline=0.99)  # asked for the distilled one: it stays
    ship_distilled = load_config(tiny_int8.config_file, {"run": {"root": str(tmp_path)},
                                                         "distill": {"ship": "distilled"}})
    messages = []
    metrics = quantize(ship_distilled, log=messages.append)
    assert metrics["shipped"] == "distilled" and any("skipped" in m for m in messages), messages


def test_a_tie_on_validation_accuracy_ships_the_student_with_the_lower_cross_entropy():
    tie = {"best_val_accuracy": 1.0}
    shipped = choose(_cfg(), {**tie, "best_val_loss": 0.335}, {**tie, "best_val_loss": 0.208})
    assert shipped.model == "baseline"
    assert "100.00% distilled vs 100.00% labels only on the validation split, cross-entropy 0.335 vs 0.208" in \
        shipped.reason
    shipped = choose(_cfg(), {**tie, "best_val_loss": 0.095}, {**tie, "best_val_loss": 0.296})
    assert shipped.model == "distilled" and "cross-entropy 0.095 vs 0.296" in shipped.reason
    # a higher accuracy still wins whatever the losses
    assert choose(_cfg(), {"best_val_accuracy": 0.9, "best_val_loss": 2.0},
                  {"best_val_accuracy": 0.8, "best_val_loss": 0.1}).model == "distilled"


def test_an_unknown_loss_ranks_below_a_known_one_and_two_unknown_tie_to_the_distilled_student():
    shipped = choose(_cfg(), {"best_val_accuracy": 0.9}, {"best_val_accuracy": 0.9, "best_val_loss": 0.1})
    assert shipped.model == "baseline"  # an unknown loss ranks below a known one
    shipped = choose(_cfg(), {"best_val_accuracy": 0.9}, {"best_val_accuracy": 0.9})
    assert shipped.model == "distilled" and "cross-entropy" not in shipped.reason
