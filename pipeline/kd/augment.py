"""Training-time augmentation, one kind per data layout: shifts (and mirroring) for images, small noise for series,
SpecAugment-style shifts and masks for spectrograms (log-mel features, time x frequency).

Every draw comes from the layer's own generator (tf_keras's BaseRandomLayer), which train.Reseed resets per epoch:
a resumed run draws exactly what an uninterrupted one draws.
"""
from __future__ import annotations

from pipeline.kd.keras import keras, tf

# Spectrogram augmentation, as fractions of the time frames / frequency bands (49 x 40 for `tinykd data features`:
# +-7 frames = 140 ms of shift, +-2 bands, two masks of up to 6 frames and two of up to 5 bands).
TIME_SHIFT, BAND_SHIFT = 0.15, 0.05
TIME_MASK, BAND_MASK, MASKS = 0.12, 0.12, 2


def augmenter(kind: str, input_shape: tuple[int, ...], seed: int, *, flip: bool = False):
    """The augmentation layer of a data `kind` (Dataset.kind): random shifts for images (up to 10% each way, zero
    fill), plus left-right mirroring with `flip`; small noise for series; SpecAugment for spectrograms."""
    if kind == "spectrogram":
        return SpecAugment(input_shape, seed=seed)
    if kind == "series":
        return keras.layers.GaussianNoise(0.05, seed=seed, name="noise")
    shift = keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed, name="shift")
    if not flip:
        return shift
    return keras.Sequential([shift, keras.layers.RandomFlip("horizontal", seed=seed + 1, name="flip")],
                            name="augment")


def augment_name(kind: str, flip: bool = False) -> str:
    """What `augmenter` does to this kind of data, for the log."""
    return {"spectrogram": "SpecAugment", "series": "noise"}.get(kind, "shifts and flips" if flip else "shifts")


def _bounds(n: int, fraction: float) -> int:
    return int(round(n * fraction))


class SpecAugment(keras.__internal__.layers.BaseRandomLayer):
    """Per sample of a (batch, time, bands, 1) batch: a random shift in time and in frequency (zero fill: the
    quietest level of the training data after normalization), then MASKS time masks and MASKS band masks of random
    width set to zero (Park et al. 2019, "SpecAugment"). The frequency shift stands for another speaker's pitch and
    vocal tract (a mel band is a fixed ratio of frequency); masks make the model use every part of the word."""

    def __init__(self, input_shape: tuple[int, ...], seed: int, **kwargs):
        super().__init__(seed=seed, name=kwargs.pop("name", "spec_augment"), **kwargs)
        frames, bands = input_shape[0], input_shape[1]
        self.frames, self.bands = frames, bands
        self.shifts = (_bounds(frames, TIME_SHIFT), _bounds(bands, BAND_SHIFT))
        self.masks = (_bounds(frames, TIME_MASK), _bounds(bands, BAND_MASK))

    def _ints(self, batch, low: int, high: int):
        """(batch,) int32 uniform in [low, high]."""
        return self._random_generator.random_uniform([batch], low, high + 1, dtype=tf.int32)

    def call(self, x, training=False):
        if not training:
            return x
        batch = tf.shape(x)[0]
        keep = []  # (batch, frames) and (batch, bands) 0/1: what survives shift and masks on each axis
        for axis, (n, shift, mask) in enumerate(zip((self.frames, self.bands), self.shifts, self.masks), start=1):
            position = tf.range(n)[None, :]  # (1, n)
            index = position - self._ints(batch, -shift, shift)[:, None]  # (batch, n): source of each position
            x = tf.gather(x, tf.clip_by_value(index, 0, n - 1), axis=axis, batch_dims=1)
            alive = (index >= 0) & (index < n)
            for _ in range(MASKS):
                start, width = self._ints(batch, 0, n - 1)[:, None], self._ints(batch, 0, mask)[:, None]
                alive &= (position < start) | (position >= start + width)
            keep.append(tf.cast(alive, x.dtype))
        return x * keep[0][:, :, None, None] * keep[1][:, None, :, None]
