"""Keyword-spotting student experiments behind bench/kws.toml's choices (README "Keyword spotting"): an experiment
record, not part of `make bench`.

    python bench/experiments/kws_students.py NAME --features F.npz --teacher-run models/kwsT --width 22 \
        --method hinton --augment none --epochs 60

--method none trains from scratch; a KD method with --augment none trains on the teacher run's cached logits,
with --augment spectrogram the teacher runs online on every SpecAugmented batch (pipeline/kd/augment.py).
Data: `tinykd data kws --train-per-class 800 --test-per-class 100`, then `tinykd data features`; teacher runs:
`tinykd distill --config bench/kws.toml --run kwsT --epochs 1` (kwsT had image shifts, before the spectrogram
layout; kwsTs SpecAugment). Appends a JSON line per run to --out. bench/results/kws_students.jsonl holds the runs
behind README; its "spec" rows came from this script's first version, whose own SpecAugment shifted up to 8 frames
(pipeline's: 7) from an unseeded generator.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipeline.config import DistillConfig, StudentConfig, load_config  # noqa: E402
from pipeline.kd.augment import augmenter  # noqa: E402
from pipeline.kd.data import load_dataset  # noqa: E402
from pipeline.kd.keras import keras  # noqa: E402
from pipeline.kd.losses import hard_labels, make_loss  # noqa: E402
from pipeline.kd.train import Schedule, Trainer, evaluate, fit, set_seed  # noqa: E402
from pipeline.kd.zoo import build_student, describe  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--features", required=True, help="The .npz of `tinykd data features`.")
    parser.add_argument("--teacher-run", required=True, help="A run folder with teacher.keras and its logits.")
    parser.add_argument("--width", type=int, default=22)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--method", default="hinton", help="none (scratch) or a KD loss.")
    parser.add_argument("--augment", choices=["none", "spectrogram", "image"], default="none")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("-T", "--temperature", type=float, default=4.0)
    parser.add_argument("--alpha", type=float, default=0.9)
    parser.add_argument("--out", default="kws_students.jsonl")
    args = parser.parse_args()

    cfg = load_config(ROOT / "bench" / "kws.toml", {"data": {"dataset": args.features}})
    data = load_dataset(cfg.data, 0)
    set_seed(0)
    teacher_run = Path(args.teacher_run)
    student = build_student(StudentConfig(family="dsconv", width=args.width, depth=args.depth), data.input_shape,
                            data.num_classes)
    augment = None if args.augment == "none" else augmenter(args.augment, data.input_shape, 0)
    kd = args.method != "none"
    loss = make_loss(DistillConfig(method=args.method, temperature=args.temperature, alpha=args.alpha)) if kd \
        else hard_labels
    teacher = keras.models.load_model(teacher_run / "teacher.keras", compile=False) if kd and augment else None
    train = (data.x_train, data.y_train)
    if kd and augment is None:  # the teacher's logits cached on the clean training clips
        train = (*train, np.load(teacher_run / "teacher_logits.npy"))
    started = time.time()
    info = fit(Trainer(student=student, loss_fn=loss, teacher=teacher, augment=augment), train=train,
               val=(data.x_val, data.y_val), seed=0, log=lambda line: None, label=args.name,
               schedule=Schedule(args.epochs, 64, 5e-3))
    record = {"name": args.name, "width": args.width, "depth": args.depth, "method": args.method,
              "aug": args.augment, "epochs": args.epochs, "T": args.temperature, "alpha": args.alpha,
              "test": evaluate(student, data.x_test, data.y_test, data.num_classes)["accuracy"],
              "val": info["best_val_accuracy"], "best_epoch": info["best_epoch"], **describe(student),
              "seconds": round(time.time() - started)}
    print(json.dumps(record))
    with open(args.out, "a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
