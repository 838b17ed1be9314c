"""Which student goes on to int8, the C model and the device: the distilled one, unless the same student trained on
labels alone (the baseline) beats it on the validation split and distill.ship is "best" (the default). "Beats"
ranks as each stage chose its best epoch (selection.rank): higher validation accuracy, or the same with a lower
validation cross-entropy (on small splits the two students often tie on accuracy).

A user who runs a distillation tool expects the distilled student, but not a worse model than the one the run
trained anyway: shipping the baseline then is what the report's verdict used to ask the user to do by hand. The
choice is made on the validation split (where each stage picked its best epoch), never on the test set whose
figures the report gives, and it is a function of run.json alone (both stages' recorded metrics and the setting),
so the distill log, the quantize stage and the report all name the same student.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.artifacts import BASELINE, STUDENT
from pipeline.config import Config, hint
from pipeline.kd.selection import rank


@dataclass(frozen=True)
class Shipped:
    model: str  # "distilled" | "baseline"
    artifact: str  # the .keras file the quantize stage reads: STUDENT or BASELINE
    reason: str  # one plain sentence: what was compared and what was chosen
    distilled_val: float | None = None  # best-epoch validation accuracies compared (None: no comparison made)
    baseline_val: float | None = None

    def record(self) -> dict:
        """The entry the quantize stage keeps in run.json."""
        return {"shipped": self.model, "shipped_artifact": self.artifact, "ship_reason": self.reason,
                "ship_val_accuracy": {"distilled": self.distilled_val, "baseline": self.baseline_val}}


def choose(cfg: Config, student: dict, baseline: dict) -> Shipped:
    """The student to ship, given the distill and baseline stages' metrics (run.metrics(...): {} if missing)."""
    kd = cfg.distill
    s, b = student.get("best_val_accuracy"), baseline.get("best_val_accuracy")
    if kd.method == "none":
        return Shipped("distilled", STUDENT, "The student ships (no distillation: method none).")
    if not kd.baseline or s is None or b is None:
        return Shipped("distilled", STUDENT, "The distilled student ships (no baseline to compare it with).")
    # (None in a run.json from before the loss was kept: the accuracies alone then)
    s_loss, b_loss = student.get("best_val_loss"), baseline.get("best_val_loss")
    both = f"{100 * s:.2f}% distilled vs {100 * b:.2f}% labels only on the validation split"
    if s == b and s_loss is not None and b_loss is not None:
        both += f", cross-entropy {s_loss:.3g} vs {b_loss:.3g}"
    if rank(s, s_loss) >= rank(b, b_loss):
        return Shipped("distilled", STUDENT, f"The distilled student ships ({both}).", s, b)
    if kd.ship == "distilled":
        return Shipped("distilled", STUDENT, f"The distilled student is worse than the baseline ({both}) but ships: "
                                             "distill.ship = \"distilled\".", s, b)
    return Shipped("baseline", BASELINE, f"The distilled student is worse than the baseline ({both}): the baseline "
                                         f"ships instead (distill.ship = \"best\"). "
                                         f"{hint('distill.ship', 'distilled')[:-1]} to ship the distilled one.", s, b)
