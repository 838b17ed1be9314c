"""Augmentation per data kind: SpecAugment shifts each spectrogram in time and frequency and masks bands and
frames (and nothing else), draws are reproducible per epoch, inference is untouched; `--layout spectrogram` reads
time x frequency samples and refuses other shapes in one line."""
import numpy as np
import pytest

from pipeline.config import DataConfig
from pipeline.errors import PipelineError
from pipeline.kd import augment
from pipeline.kd.augment import SpecAugment, augment_name, augmenter
from pipeline.kd.data import load_dataset
from pipeline.kd.keras import keras
from pipeline.kd.train import Reseed, Trainer, set_seed
from pipeline.kd.losses import hard_labels

FRAMES, BANDS = 49, 40


def ramp(batch=32):
    """(batch, 49, 40, 1) with a distinct positive value per (frame, band): 1000 + 100 * frame + band."""
    t, f = np.meshgrid(np.arange(FRAMES), np.arange(BANDS), indexing="ij")
    return np.broadcast_to((1000 + 100 * t + f)[None, ..., None], (batch, FRAMES, BANDS, 1)).astype(np.float32)


def test_spec_augment_shifts_and_masks_each_sample_and_nothing_else():
    set_seed(0)
    layer = augmenter("spectrogram", (FRAMES, BANDS, 1), seed=3)
    x = ramp()
    out = layer(x, training=True).numpy()[..., 0]
    max_shift = (round(FRAMES * augment.TIME_SHIFT), round(BANDS * augment.BAND_SHIFT))
    shifted = 0
    for sample in out:
        frames, bands = np.nonzero(sample)
        assert len(frames), "a sample was masked away entirely"
        source = sample[frames, bands] - 1000
        dt = frames - source // 100  # every surviving value moved by one (time, band) shift per sample
        df = bands - source % 100
        assert len(set(dt)) == 1 and len(set(df)) == 1
        assert abs(dt[0]) <= max_shift[0] and abs(df[0]) <= max_shift[1]
        shifted += dt[0] != 0 or df[0] != 0
        # zeros lie in whole frames and whole bands (masks and the shift's fill), never a lone cell
        dead = sample == 0
        dead_frames, dead_bands = dead.all(axis=1), dead.all(axis=0)
        assert (dead == (dead_frames[:, None] | dead_bands[None, :])).all()
        worst = (2 * round(FRAMES * augment.TIME_MASK) + max_shift[0],
                 2 * round(BANDS * augment.BAND_MASK) + max_shift[1])
        assert dead_frames.sum() <= worst[0] and dead_bands.sum() <= worst[1]
    assert shifted >= 24  # of 32: a shift of (0, 0) has chance 1/75
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)


def test_spec_augment_draws_repeat_per_epoch_like_every_augmenter():
    set_seed(0)
    inputs = keras.Input((FRAMES, BANDS, 1))
    student = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    trainer = Trainer(student=student, loss_fn=hard_labels, augment=augmenter("spectrogram", (FRAMES, BANDS, 1), 0))
    reseed = Reseed(trainer, seed=7)
    assert len(reseed.generators) == 1
    x = ramp(8)
    draws = []
    for epoch in (2, 5, 2):
        reseed.on_epoch_begin(epoch)
        draws.append(trainer.augment(x, training=True).numpy())
    np.testing.assert_array_equal(draws[0], draws[2])
    assert not np.array_equal(draws[0], draws[1])


def test_each_kind_gets_its_own_augmentation():
    assert isinstance(augmenter("spectrogram", (FRAMES, BANDS, 1), 0), SpecAugment)
    assert isinstance(augmenter("series", (100, 6), 0), keras.layers.GaussianNoise)
    assert isinstance(augmenter("image", (28, 28, 1), 0), keras.layers.RandomTranslation)
    assert [augment_name(k) for k in ("spectrogram", "series", "image")] == ["SpecAugment", "noise", "shifts"]
    assert augment_name("image", flip=True) == "shifts and flips"


def test_spectrogram_layout_reads_time_by_frequency_and_refuses_other_shapes(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mel.npz"
    np.savez(path, x_train=rng.normal(size=(40, 20, 10)).astype(np.float32), y_train=np.arange(40) % 2,
             x_test=rng.normal(size=(6, 20, 10)).astype(np.float32), y_test=np.arange(6) % 2)
    data = load_dataset(DataConfig(dataset=str(path), layout="spectrogram"))
    assert data.kind == "spectrogram" and data.input_shape == (20, 10, 1)
    assert load_dataset(DataConfig(dataset=str(path))).kind == "image"  # no front-end manifest: auto = image
    with np.load(path) as f:
        arrays = dict(f)
    for manifest in ("my own notes, not JSON", '["frontend"]', '{"frontend": {}}'):
        np.savez(path, **arrays, manifest=np.array(manifest))
        expected = "spectrogram" if manifest.startswith("{") else "image"
        assert load_dataset(DataConfig(dataset=str(path))).kind == expected, manifest
    np.savez(path, x_train=np.zeros((40, 20, 10, 3), np.float32), y_train=np.arange(40) % 2,
             x_test=np.zeros((6, 20, 10, 3), np.float32), y_test=np.arange(6) % 2)
    with pytest.raises(PipelineError) as e:
        load_dataset(DataConfig(dataset=str(path), layout="spectrogram"))
    assert "(20, 10, 3)" in str(e.value) and "time x frequency" in str(e.value)
