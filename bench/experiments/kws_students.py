"""Keyword-spotting student experiments behind bench/kws.toml's choices (README "Keyword spotting"), kept as run:
an experiment record, not part of `make bench`.

    TDIR=models/kwsT python bench/experiments/kws_students.py NAME WIDTH METHOD AUGMENT EPOCHS [T ALPHA DEPTH]

METHOD: none (scratch) or a KD loss; AUGMENT: none (KD on the teacher's cached logits of TDIR) or one of `augs`
below (the teacher then runs online on every augmented batch). Data: /work/exp/kws800_features.npz (`tinykd data
kws --train-per-class 800 --test-per-class 100`, then `tinykd data features`); teachers: `tinykd distill --config
bench/kws.toml --run kwsT --epochs 1` (kwsT: image shifts, before the spectrogram layout; kwsTs: SpecAugment).
The SpecAug class here is this experiment's first version of pipeline/kd/augment.py's SpecAugment (shift 8 frames
instead of 7). Appends a JSON line per run to /work/exp/results.jsonl (bench/results/kws_students.jsonl)."""
import json
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from pipeline.config import load_config, StudentConfig, DistillConfig  # noqa
from pipeline.kd.data import load_dataset  # noqa
from pipeline.kd.keras import keras, tf  # noqa
from pipeline.kd.losses import hard_labels, make_loss  # noqa
from pipeline.kd.train import Trainer, fit, Schedule, set_seed, evaluate  # noqa
from pipeline.kd.augment import augmenter  # noqa
from pipeline.kd.zoo import build_student, describe  # noqa
import numpy as np  # noqa
import os  # noqa
TDIR = os.environ.get("TDIR", "/work/exp/models/kwsT")

name, width, method, aug, epochs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
T = float(sys.argv[6]) if len(sys.argv) > 6 else 4.0
alpha = float(sys.argv[7]) if len(sys.argv) > 7 else 0.9
depth = int(sys.argv[8]) if len(sys.argv) > 8 else 3
cfg = load_config("/work/main/bench/kws.toml", {"data": {"dataset": "/work/exp/kws800_features.npz"}})
data = load_dataset(cfg.data, 0)
set_seed(0)


class SpecAug(keras.layers.Layer):
    """time shift (+-shift frames, zero fill), freq shift (+-fshift bands), 2 time masks <= tw, 2 freq masks <= fw"""

    def __init__(self, shift=8, fshift=2, tw=6, fw=5, masks=2, mix=0.0, **kw):
        super().__init__(**kw)
        self.shift, self.fshift, self.tw, self.fw, self.masks, self.mix = shift, fshift, tw, fw, masks, mix
        self.gen = tf.random.Generator.from_seed(1)

    def call(self, x, training=False):
        if not training:
            return x
        b = tf.shape(x)[0]
        t, f = x.shape[1], x.shape[2]
        out = x
        if self.shift or self.fshift:
            trans = keras.layers.RandomTranslation  # noqa
            dt = self.gen.uniform([b], -self.shift, self.shift + 1, dtype=tf.int32)
            df = self.gen.uniform([b], -self.fshift, self.fshift + 1, dtype=tf.int32)
            ti = tf.range(t)[None, :] - dt[:, None]  # (b, t)
            fi = tf.range(f)[None, :] - df[:, None]
            tv = tf.cast((ti >= 0) & (ti < t), x.dtype)
            fv = tf.cast((fi >= 0) & (fi < f), x.dtype)
            out = tf.gather(out, tf.clip_by_value(ti, 0, t - 1), batch_dims=1, axis=1)
            out = tf.gather(out, tf.clip_by_value(fi, 0, f - 1), batch_dims=1, axis=2)
            out = out * tv[:, :, None, None] * fv[:, None, :, None]
        for _ in range(self.masks):
            for size, n, ax in ((self.tw, t, 1), (self.fw, f, 2)):
                if not size:
                    continue
                w = self.gen.uniform([b], 0, size + 1, dtype=tf.int32)
                s = self.gen.uniform([b], 0, n, dtype=tf.int32)
                r = tf.range(n)[None, :]
                keep = tf.cast(~((r >= s[:, None]) & (r < s[:, None] + w[:, None])), x.dtype)
                out = out * (keep[:, :, None, None] if ax == 1 else keep[:, None, :, None])
        if self.mix:
            lam = self.gen.uniform([b, 1, 1, 1], 0, self.mix)
            perm = tf.random.shuffle(tf.range(b))
            out = (1 - lam) * out + lam * tf.gather(out, perm)
        return out


augs = {"none": None, "shift": augmenter("image", data.input_shape, 0),
        "spec": SpecAug(), "specmix": SpecAug(mix=0.4), "tshift": SpecAug(fshift=0, tw=0, fw=0),
        "spec1": SpecAug(masks=1), "specw": SpecAug(shift=8, fshift=3, tw=8, fw=6)}
augment = augs[aug]
student = build_student(StudentConfig(family="dsconv", width=width, depth=depth), data.input_shape, data.num_classes)
teacher = None
if method != "none":
    teacher = keras.models.load_model(TDIR + "/teacher.keras", compile=False)
dcfg = DistillConfig(method=method if method != "none" else "hinton", temperature=T, alpha=alpha)
loss = hard_labels if method == "none" else make_loss(dcfg)
if method != "none" and augment is None:  # cached in-sample logits
    logits = np.load(TDIR + "/teacher_logits.npy")
    train = (data.x_train, data.y_train, logits)
    trainer = Trainer(student=student, loss_fn=loss)
else:
    train = (data.x_train, data.y_train)
    trainer = Trainer(student=student, loss_fn=loss, teacher=teacher, augment=augment)
t0 = time.time()
info = fit(trainer, train=train, val=(data.x_val, data.y_val), seed=0, log=lambda s: None, label=name,
           schedule=Schedule(epochs, 64, 5e-3))
m = evaluate(student, data.x_test, data.y_test, data.num_classes)
rec = {"name": name, "width": width, "depth": depth, "method": method, "aug": aug, "epochs": epochs, "T": T,
       "alpha": alpha, "test": m["accuracy"], "val": info["best_val_accuracy"], "best_epoch": info["best_epoch"],
       **describe(student), "seconds": round(time.time() - t0)}
print(json.dumps(rec))
with open("/work/exp/results.jsonl", "a") as f:
    f.write(json.dumps(rec) + "\n")
student.save(f"/work/exp/{name}.keras")
