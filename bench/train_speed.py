"""Training speed: CPU seconds per epoch of a student and of the teacher on Fashion-MNIST's 54k training images.

A 3-6k-parameter student does ~40-70 GFLOP per epoch: nearly all of its time is per-step overhead (the Python
training loop, op dispatch), so the batch size decides its cost. Measures one full epoch (after a traced warm-up
step) with the pipeline's own trainer (pipeline.kd.train.fit's Trainer and batch order), per batch size, in process
CPU time (user + system: contention from other jobs inflates wall time but hardly CPU time). XLA (jit_compile)
was tried: on this CPU it made a student epoch 3-5x slower (and cannot run MaxPool's gradient with deterministic
ops), so it is not used. Writes bench/results/train_speed.json.

    python bench/train_speed.py
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import DataConfig, StudentConfig, TeacherConfig  # noqa: E402
from pipeline.kd.data import load_dataset  # noqa: E402
from pipeline.kd.keras import keras  # noqa: E402
from pipeline.kd.losses import hard_labels  # noqa: E402
from pipeline.runs import package_versions, write_json_atomic  # noqa: E402
from pipeline.kd.train import Trainer, epoch_batches, set_seed  # noqa: E402
from pipeline.kd.zoo import build_student, build_teacher, describe  # noqa: E402

TARGET_STUDENT_CPU_S = 15.0  # issue 21: a student epoch on the 54k images (from ~54 measured under load)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def epoch_cost(model, data, batch_size: int) -> dict:
    """CPU and wall seconds of one training epoch of `model` over data.x_train in batches of `batch_size`."""
    trainer = Trainer(student=model, loss_fn=hard_labels)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    arrays = (data.x_train, data.y_train)
    steps = -(-len(data.y_train) // batch_size)
    trainer.fit(epoch_batches(arrays, batch_size, 0, 1, 0).take(2), epochs=1, steps_per_epoch=2, verbose=0)
    cpu, wall = cpu_seconds(), time.perf_counter()
    trainer.fit(epoch_batches(arrays, batch_size, 1, 2, 1), epochs=1, steps_per_epoch=steps, verbose=0)
    return {"batch_size": batch_size, "steps": steps, "cpu_seconds": round(cpu_seconds() - cpu, 1),
            "wall_seconds": round(time.perf_counter() - wall, 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "train_speed.json")
    args = parser.parse_args(argv)
    data = load_dataset(DataConfig(dataset="fashion_mnist"))
    rows = []
    for kind, width, batches in (("student", 12, (64, 256)), ("student", 20, (64, 256)), ("teacher", 16, (64, 128))):
        for batch_size in batches:
            set_seed(0)
            model = build_student(StudentConfig(width=width), data.input_shape, data.num_classes) \
                if kind == "student" else build_teacher(TeacherConfig(width=width), data.input_shape, data.num_classes)
            row = {"model": kind, "width": width, **describe(model), **epoch_cost(model, data, batch_size)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    best = min(r["cpu_seconds"] for r in rows if r["model"] == "student" and r["width"] == 12)
    report = {"samples": len(data.y_train), "rows": rows, "target_student_cpu_seconds": TARGET_STUDENT_CPU_S,
              "meets_target": best <= TARGET_STUDENT_CPU_S, "cores": os.cpu_count(), "packages": package_versions(),
              "command": "python bench/train_speed.py"}
    write_json_atomic(args.out, report)
    return report


if __name__ == "__main__":
    main()
