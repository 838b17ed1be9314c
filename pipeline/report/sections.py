"""Parts of the report read from run.json beside the figures: the settings that produced them, the plain verdict
on distillation, and per-class precision / recall / F1 from the confusion matrices the stages recorded."""
from __future__ import annotations

from pipeline.config import METHOD_FIELDS

# A gain within this many percentage points of zero is called no difference (on 360 test samples one sample is
# 0.28 pp; the verdict names the sample count so a reader can judge).
NO_DIFFERENCE_PP = 0.1


def kd_gain_pp(student: dict, baseline: dict) -> float | None:
    """Distilled minus labels-only test accuracy in percentage points, rounded to 0.01 (never -0.00); None when
    either stage's accuracy is missing."""
    if student.get("accuracy") is None or baseline.get("accuracy") is None:
        return None
    return round(100 * (student["accuracy"] - baseline["accuracy"]), 2) + 0.0  # + 0.0 turns -0.0 into 0.0


def size_ratio(student_params: int, teacher_params: int) -> str:
    """`1/187` for a student 187x smaller than its teacher; `1.30x` for one that is not smaller."""
    if student_params * 1.5 <= teacher_params:
        return f"1/{teacher_params / student_params:.0f}"
    return f"{student_params / teacher_params:.2f}x"


def kd_verdict(student: dict, baseline: dict, test_samples: int | None, shipped: str | None = None) -> str:
    """One honest sentence on what distillation did against the same student trained on labels alone, then the
    quantize stage's sentence on which student it shipped (`shipped`, chosen on the validation split: ship.py)."""
    gain = kd_gain_pp(student, baseline)
    if gain is None:
        return ""
    over = f" over {test_samples:,} test samples" if test_samples else ""
    both = f"{100 * student['accuracy']:.2f}% distilled vs {100 * baseline['accuracy']:.2f}% on labels alone{over}"
    if abs(gain) < NO_DIFFERENCE_PP:
        verdict = f"Distillation made no difference here ({both})."
    elif gain > 0:
        verdict = f"Distillation gained {gain:+.2f} pp over the same student trained on labels alone ({both})."
    elif shipped:
        verdict = f"Distillation hurt: the student trained on labels alone is {-gain:.2f} pp better ({both})."
    else:
        verdict = (f"Distillation hurt: the student trained on labels alone is {-gain:.2f} pp better ({both}); ship "
                   "the baseline, or try another method, temperature or longer training.")
    return f"{verdict} {shipped}" if shipped else verdict


def settings(manifest: dict) -> list[tuple[str, str]]:
    """(what, value) rows of the resolved settings behind the run's numbers (auto values as they were chosen)."""
    cfg = manifest.get("config") or {}
    stages = manifest.get("stages", {})
    metric = lambda stage, key: stages.get(stage, {}).get("metrics", {}).get(key)
    run, data, teacher = cfg.get("run", {}), cfg.get("data", {}), cfg.get("teacher", {})
    student, kd, q, dev = cfg.get("student", {}), cfg.get("distill", {}), cfg.get("quantize", {}), cfg.get("device", {})
    rows = []
    if data:
        limit = f", first {data['limit']:,} training samples" if data.get("limit") else ""
        given = (manifest.get("data") or {}).get("split") == "given"
        rows.append(("data", f"{data.get('dataset')} (layout {data.get('layout')}{limit}; validation "
                              f"{'x_val/y_val of the file' if given else data.get('val_fraction')})"))
    if run:
        rows.append(("seed", str(run.get("seed"))))
    if teacher:
        rows.append(("teacher", f"your model {teacher['path']}" if teacher.get("path") else
                     f"built-in CNN, width {teacher.get('width')}, {teacher.get('epochs')} epochs, batch "
                     f"{teacher.get('batch_size')}, learning rate {teacher.get('learning_rate'):g}"
                     + _best(metric("teacher", "best_epoch"))))
    if student:
        rows.append(("student", f"{student.get('family')}, width {student.get('width')}, depth {student.get('depth')}"))
    if kd:
        method = kd.get("method")
        loss = ", ".join(f"{'T' if f == 'temperature' else f} = {kd[f]:g}" for f in METHOD_FIELDS.get(method, ()))
        rows.append(("distillation", f"{method}" + (f" ({loss})" if loss else "")))
        rows.append(("student training", f"{kd.get('epochs')} epochs, batch {kd.get('batch_size')}, learning rate "
                                         f"{kd.get('learning_rate'):g} (cosine), augmentation "
                                         f"{'on' if kd.get('augment') else 'off'}"
                     + _best(metric("distill", "best_epoch"), metric("baseline", "best_epoch"))))
    if q:
        rows.append(("quantization", f"QAT, {q.get('qat_epochs')} epochs, learning rate {q.get('qat_learning_rate'):g}"
                                     f", batch {q.get('qat_batch_size')}" if q.get("mode") == "qat" else
                     f"PTQ on {q.get('representative_samples')} representative samples"))
    if dev:
        where = f"board on {dev['port']}" if dev.get("port") else "QEMU"
        limit = f"at most the first {dev['limit']:,} test samples" if dev.get("limit") else "every test sample"
        rows.append(("device", f"{dev.get('engine')} engine, {where}, {limit}"))
    return rows


def _best(distilled, baseline=None) -> str:
    if distilled is None:
        return ""
    return f"; best epoch {distilled}" + (f" (baseline {baseline})" if baseline is not None else "")


def per_class(confusion: list[list[int]], names: list[str]) -> list[dict]:
    """Precision, recall, F1 and support per class from a confusion matrix (rows: true class, columns: predicted).
    An undefined ratio (no sample predicted or present) is None."""
    k = len(confusion)
    names = names if len(names) == k else [str(i) for i in range(k)]
    rows = []
    for c in range(k):
        tp = confusion[c][c]
        predicted = sum(confusion[r][c] for r in range(k))
        support = sum(confusion[c])
        precision = tp / predicted if predicted else None
        recall = tp / support if support else None
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else (
            0.0 if precision is not None and recall is not None else None)
        rows.append({"name": names[c], "precision": precision, "recall": recall, "f1": f1, "support": support})
    return rows
