"""How tinykd ranks trained weights on the validation split: the best epoch of every training run (train.KeepBest)
and the student that ships (ship.py) are the ones ranked highest here.

Higher validation accuracy first; between equal accuracies, the lower validation cross-entropy. A small validation
split (4 samples of BasicMotions, 27 of JapaneseVowels) reaches its top accuracy early and keeps it, so taking the
first epoch to reach it took weights trained for a fraction of the schedule: over 6 seeds of BasicMotions the
baseline student so chosen scored 80-95 % on the test set, its last epoch 100 % every time (bench/ship.py).
"""
from __future__ import annotations

import math


def rank(accuracy: float, loss: float | None) -> tuple[float, float]:
    """The sort key of weights with validation `accuracy` and cross-entropy `loss` (higher ranks better; an
    unknown or non-finite loss ranks below every finite one of the same accuracy)."""
    return accuracy, -loss if loss is not None and math.isfinite(loss) else -math.inf
