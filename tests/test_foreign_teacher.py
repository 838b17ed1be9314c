"""A user's teacher that tf_keras cannot read: what Keras 3 saves (.keras, .h5; TensorFlow 2.16 and later save these by
default) and plain SavedModels (Keras 3's model.export). They load as one wrapped layer and teach like any other."""
import json

import keras as keras3  # Keras 3, as a user's own training script has it
import numpy as np
import pytest

from pipeline.errors import PipelineError
from pipeline.kd.keras import keras
from pipeline.kd.zoo import describe, load_teacher

SHAPE, CLASSES = (8, 8, 1), 3
MACS = 6 * 6 * 4 * 9 + 4 * CLASSES  # Conv2D 3x3 valid, 4 filters over 1 channel; Dense on the pooled 4


def keras3_teacher(activation=None, classes=CLASSES, shape=SHAPE):
    keras3.utils.set_random_seed(1)
    return keras3.Sequential([keras3.Input(shape), keras3.layers.Conv2D(4, 3, activation="relu"),
                              keras3.layers.GlobalAveragePooling2D(),
                              keras3.layers.Dense(classes, activation=activation)])


def save(model, tmp_path, how: str):
    path = tmp_path / {"keras": "t.keras", "h5": "t.h5", "export": "saved"}[how]
    model.export(str(path), verbose=False) if how == "export" else model.save(path)
    return path


@pytest.mark.parametrize("how", ["keras", "h5", "export"])
@pytest.mark.parametrize("activation", [None, "softmax"])
def test_a_keras3_teacher_loads_from_each_format(tmp_path, how, activation):
    own = keras3_teacher(activation)
    x = np.random.default_rng(0).normal(size=(5, *SHAPE)).astype(np.float32)
    model, probabilities = load_teacher(str(save(own, tmp_path, how)), SHAPE, CLASSES)
    np.testing.assert_allclose(model.predict(x, verbose=0), own.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert probabilities == (activation == "softmax")  # read off the Keras 3 layer, or the graph's last op
    assert describe(model) == {"params": own.count_params(), "macs": MACS}
    model.save(tmp_path / "teacher.keras")  # the run's copy loads again (it names the user's file)
    again = keras.models.load_model(tmp_path / "teacher.keras", compile=False)
    np.testing.assert_allclose(again.predict(x, verbose=0), own.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_variable_length_keras3_teacher_takes_the_data_shape(tmp_path):
    keras3.utils.set_random_seed(1)
    own = keras3.Sequential([keras3.Input((None, 3)), keras3.layers.Conv1D(4, 3),
                             keras3.layers.GlobalAveragePooling1D(), keras3.layers.Dense(CLASSES)])
    model, _ = load_teacher(str(save(own, tmp_path, "keras")), (20, 3), CLASSES)
    assert model.input_shape == (None, 20, 3) and model.output_shape == (None, CLASSES)
    assert describe(model)["macs"] == 18 * 4 * 3 * 3 + 4 * CLASSES  # counted at the data's 20 steps
    x = np.random.default_rng(0).normal(size=(2, 20, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), own.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_recurrent_teacher_counts_alike_in_both_formats(tmp_path):
    """A loop's ops lose their batch dimension in the graph; counted as the traced batch of 1 in both formats."""
    keras3.utils.set_random_seed(1)
    own = keras3.Sequential([keras3.Input((12, 3)), keras3.layers.Conv1D(4, 3), keras3.layers.GRU(5),
                             keras3.layers.Dense(CLASSES)])
    counts = [describe(load_teacher(str(save(own, tmp_path, how)), (12, 3), CLASSES)[0]) for how in ("keras", "export")]
    assert counts[0] == counts[1] and counts[0]["macs"] >= 10 * 4 * 3 * 3 + 5 * CLASSES  # conv and dense at least


@pytest.mark.parametrize("how", ["keras", "export"])
def test_a_keras3_teacher_of_images_without_a_channel_axis(tmp_path, how):
    """Keras 3 tutorials train on (28, 28) arrays; the data's images are (28, 28, 1)."""
    keras3.utils.set_random_seed(1)
    own = keras3.Sequential([keras3.Input((None, 28)), keras3.layers.Conv1D(4, 3),
                             keras3.layers.GlobalAveragePooling1D(), keras3.layers.Dense(CLASSES)])
    model, _ = load_teacher(str(save(own, tmp_path, how)), (28, 28, 1), CLASSES, log=lambda _: None)
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), own.predict(x[..., 0], verbose=0), rtol=1e-5, atol=1e-6)
    assert describe(model)["macs"] == 26 * 4 * 3 * 28 + 4 * CLASSES  # counted at the data's 28 rows


@pytest.mark.parametrize("how", ["keras", "export"])
def test_a_binary_keras3_teacher_gives_two_logits(tmp_path, how):
    own = keras3_teacher("sigmoid", classes=1)
    model, probabilities = load_teacher(str(save(own, tmp_path, how)), SHAPE, 2, log=lambda _: None)
    x = np.random.default_rng(0).normal(size=(4, *SHAPE)).astype(np.float32)
    p = own.predict(x, verbose=0)[:, 0]
    logits = model.predict(x, verbose=0)
    assert not probabilities and logits.shape == (4, 2)
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], np.log(p / (1 - p)), rtol=1e-4, atol=1e-4)


def two_inputs(tmp_path):
    a, b = keras3.Input((4,)), keras3.Input((4,))
    path = tmp_path / "two"
    keras3.Model([a, b], keras3.layers.Dense(CLASSES)(keras3.layers.Concatenate()([a, b]))).export(
        str(path), verbose=False)
    return path


def garbage_saved_model(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "saved_model.pb").write_bytes(b"not a protobuf")
    return tmp_path / "bad"


def keras3_lambda(tmp_path):
    inputs = keras3.Input(SHAPE)
    x = keras3.layers.Lambda(lambda t: t * 2.0)(inputs)
    path = tmp_path / "lambda.keras"
    keras3.Model(inputs, keras3.layers.Dense(CLASSES)(keras3.layers.Flatten()(x))).save(path)
    return path


@pytest.mark.parametrize("make, needle", [
    (lambda p: save(keras3_teacher(classes=5), p, "keras"), "5 output classes, the data has 3"),
    (lambda p: save(keras3_teacher(shape=(9, 9, 1)), p, "export"), "(9, 9, 1)"),
    (two_inputs, "one input and one output"),
    (garbage_saved_model, "(a SavedModel)"),
    (keras3_lambda, "Lambda layer"),
])
def test_a_bad_keras3_teacher_is_one_line(tmp_path, make, needle):
    path = make(tmp_path)
    with pytest.raises(PipelineError) as e:
        load_teacher(str(path), SHAPE, CLASSES)
    assert needle in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.slow
def test_a_keras3_teacher_distills_online_from_the_cli(tmp_path):
    """--augment reloads the teacher from the run folder for every batch: the wrapped Keras 3 model too."""
    from conftest import invoke
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, *SHAPE)).astype(np.float32)
    y = (x[:, :4].mean(axis=(1, 2, 3)) > 0).astype(np.int64) + (x[:, :, :4].mean(axis=(1, 2, 3)) > 0)
    np.savez(tmp_path / "d.npz", x_train=x[:240], y_train=y[:240], x_test=x[240:], y_test=y[240:])
    own = keras3_teacher("softmax")
    own.compile("adam", "sparse_categorical_crossentropy")
    own.fit(x[:240], y[:240], epochs=3, verbose=0)
    (tmp_path / "c.toml").write_text(f'[run]\nroot = "{tmp_path}"\n')
    result = invoke("distill", "--config", str(tmp_path / "c.toml"), "--dataset", str(tmp_path / "d.npz"),
                    "--teacher", str(save(own, tmp_path, "keras")), "--epochs", "1", "--augment")
    assert result.exit_code == 0, result.output + result.stderr
    stages = json.loads((tmp_path / "d" / "run.json").read_text())["stages"]
    assert stages["distill"]["metrics"]["teacher_mode"] == "online"
    assert stages["teacher"]["metrics"]["params"] == own.count_params() and stages["teacher"]["metrics"]["macs"] == MACS


# A user's training script: a layer of its own code (in __main__, unknown to the process that loads the file).
USERS_SCRIPT = """
import os, sys
if sys.argv[1] == "2":
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tf_keras as k
else:
    import keras as k
class Doubled(k.layers.Layer):
    def call(self, x):
        return x * 2.0
inputs = k.Input((8, 8, 1))
model = k.Model(inputs, k.layers.Dense(3)(k.layers.Flatten()(Doubled()(inputs))))
model.save(sys.argv[2])
import numpy as np
np.save(sys.argv[4], model.predict(np.ones((2, 8, 8, 1), np.float32), verbose=0))
if sys.argv[1] == "2":
    model.save(sys.argv[3], save_format="tf")
else:
    model.export(sys.argv[3], verbose=False)
"""


@pytest.mark.parametrize("version, suffix", [("3", ".keras"), ("2", ".keras"), ("2", ".h5")])
def test_a_teacher_with_a_layer_of_the_users_code_is_told_to_save_a_savedmodel(tmp_path, version, suffix):
    import subprocess
    import sys
    path, saved = tmp_path / f"t{suffix}", tmp_path / "teacher_saved"
    expected = tmp_path / "expected.npy"
    subprocess.run([sys.executable, "-c", USERS_SCRIPT, version, str(path), str(saved), str(expected)], check=True,
                   capture_output=True, timeout=120)
    with pytest.raises(PipelineError) as e:
        load_teacher(str(path), SHAPE, CLASSES)
    assert "uses 'Doubled', which only your code defines" in str(e.value)
    assert ("model.export('teacher_saved')" if version == "3" else
            "model.save('teacher_saved', save_format='tf')") in str(e.value)
    model, _ = load_teacher(str(saved), SHAPE, CLASSES)  # what the hint says to do loads
    np.testing.assert_allclose(model.predict(np.ones((2, *SHAPE), np.float32), verbose=0), np.load(expected),
                               rtol=1e-5, atol=1e-6)
