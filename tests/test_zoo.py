"""Model zoo: architectures, parameter and MAC counts, and checks on a user's teacher."""
import numpy as np
import pytest

from pipeline.config import StudentConfig, TeacherConfig
from pipeline.errors import PipelineError
from pipeline.kd.keras import keras
from pipeline.kd.zoo import build_student, build_teacher, count_macs, describe, load_teacher


def test_macs_by_hand():
    x = inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(x)  # 8*8 outputs * 3*3*3 * 4 = 6912
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)(x)  # 4*4 * 9 * 8 = 1152
    x = keras.layers.Conv1D(5, 2)(keras.layers.Reshape((16, 8))(x))  # 15 * 2*8 * 5 = 1200
    x = keras.layers.Dense(7)(keras.layers.Flatten()(x))  # 75 * 7 = 525
    assert count_macs(keras.Model(inputs, x)) == 6912 + 1152 + 1200 + 525


@pytest.mark.slow
@pytest.mark.parametrize("family", ["conv", "dsconv", "dense"])
@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (49, 10, 1), (32, 3)])
def test_students_are_tiny_and_output_logits(family, shape):
    student = build_student(StudentConfig(family=family, width=8, depth=3), shape, 10)
    teacher = build_teacher(TeacherConfig(width=64), shape, 10)
    assert student.output_shape == (None, 10) and teacher.output_shape == (None, 10)
    assert student.layers[-1].activation.__name__ == "linear"
    # Conv students stay tiny whatever the input size; an MLP grows with it (its first layer sees every pixel).
    assert teacher.count_params() >= (20 if family != "dense" else 2) * student.count_params()
    assert 0 < count_macs(student) < count_macs(teacher)


@pytest.mark.slow
def test_width_and_depth_grow_the_student():
    small = build_student(StudentConfig(width=8, depth=2), (28, 28, 1), 10).count_params()
    wide = build_student(StudentConfig(width=16, depth=2), (28, 28, 1), 10).count_params()
    deep = build_student(StudentConfig(width=8, depth=3), (28, 28, 1), 10).count_params()
    assert small < wide and small < deep


def save_teacher(tmp_path, classes=10, shape=(8, 8, 1), softmax=False, name="t.keras"):
    x = inputs = keras.Input(shape)
    x = keras.layers.Dense(classes, activation="softmax" if softmax else None)(keras.layers.Flatten()(x))
    path = tmp_path / name
    keras.Model(inputs, x).save(path)
    return path


@pytest.mark.slow
def test_user_teacher_loads_in_every_format(tmp_path):
    for name in ("t.keras", "t.h5"):
        model, probabilities = load_teacher(str(save_teacher(tmp_path, name=name)), (8, 8, 1), 10)
        assert model.output_shape == (None, 10) and not probabilities
    model = keras.models.load_model(save_teacher(tmp_path))
    model.save(tmp_path / "saved", save_format="tf")
    assert load_teacher(str(tmp_path / "saved"), (8, 8, 1), 10)[0].output_shape == (None, 10)
    assert load_teacher(str(save_teacher(tmp_path, softmax=True, name="p.keras")), (8, 8, 1), 10)[1]


@pytest.mark.parametrize("make, needle", [
    (lambda p: p / "none.keras", "does not exist"),
    (lambda p: (p / "bad.keras").write_bytes(b"garbage") and p / "bad.keras", "Cannot load teacher"),
    (lambda p: (p / "t.pt").write_bytes(b"x") and p / "t.pt", "suffix '.pt'"),
    (lambda p: save_teacher(p, classes=7), "7 output classes, the data has 10"),
    (lambda p: save_teacher(p, shape=(9, 9, 1)), "(9, 9, 1)"),
])
def test_bad_teachers(tmp_path, make, needle):
    path = make(tmp_path)
    with pytest.raises(PipelineError) as e:
        load_teacher(str(path), (8, 8, 1), 10)
    assert needle in str(e.value) and str(path) in str(e.value)


def lambda_teacher(tmp_path, suffix):
    x = inputs = keras.Input((8, 8, 1))
    x = keras.layers.Lambda(lambda t: t * 2.0)(x)
    path = tmp_path / f"lambda{suffix}"
    keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(x))).save(
        path, **({"save_format": "tf"} if suffix == "" else {}))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5", ""])
def test_lambda_teacher_is_refused_unless_unsafe(tmp_path, suffix):
    path = lambda_teacher(tmp_path, suffix)
    with pytest.raises(PipelineError) as e:
        load_teacher(str(path), (8, 8, 1), 10)
    assert "Lambda layer" in str(e.value) and str(path) in str(e.value) and "--unsafe" in str(e.value)
    model, _ = load_teacher(str(path), (8, 8, 1), 10, unsafe=True)
    np.testing.assert_allclose(model(np.ones((1, 8, 8, 1))).shape, (1, 10))


@pytest.mark.slow
def test_layer_names_do_not_depend_on_what_the_process_built_before():
    """Keras numbers unnamed layers per process (conv2d_7); the .tflite carries the names, so a resumed run would
    make other bytes than an uninterrupted one."""
    cfg = StudentConfig(family="dsconv", width=4, depth=2)
    first = [layer.name for layer in build_student(cfg, (8, 8, 1), 3).layers]
    build_teacher(TeacherConfig(width=4), (8, 8, 1), 3)
    assert [layer.name for layer in build_student(cfg, (8, 8, 1), 3).layers] == first


def test_separable_convolutions_count_their_macs():
    x = inputs = keras.Input((8, 8, 3))
    x = keras.layers.SeparableConv2D(4, 3, padding="same")(x)  # 8*8 * (9*3 depthwise + 3*4 pointwise) = 2496
    x = keras.layers.SeparableConv1D(2, 2)(keras.layers.Reshape((64, 4))(x))  # 63 * (2*4 + 4*2) = 1008
    assert count_macs(keras.Model(inputs, x)) == 2496 + 1008


@pytest.mark.parametrize("activation", ["sigmoid", None])
def test_a_binary_teacher_with_one_output_gives_two_logits(tmp_path, activation):
    """Dense(1, sigmoid) on 2 classes: p is the probability of class 1, the logits (0, logit(p)), clipped so a
    saturated p stays finite; Dense(1) without sigmoid: a logit z, the logits (0, z). The re-saved teacher too."""
    inputs = keras.Input((8, 8, 1))
    dense = keras.layers.Dense(1, activation=activation, kernel_initializer=keras.initializers.RandomNormal(seed=1))
    original = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    path = tmp_path / "binary.keras"
    original.save(path)
    x = np.random.default_rng(0).uniform(-1, 1, (64, 8, 8, 1)).astype(np.float32)
    x[0] = 1e3  # a saturated sigmoid: p == 1.0 in float32
    lines = []
    model, probabilities = load_teacher(str(path), (8, 8, 1), 2, log=lines.append)
    out = original.predict(x, verbose=0)[:, 0]  # (64,)
    p = np.clip(out.astype(np.float64), 1e-7, 1 - 1e-7)
    expected = np.log(p / (1 - p)) if activation else out
    model.save(tmp_path / "resaved.keras")  # as the teacher stage re-saves it, and distillation loads it back
    for teacher in (model, keras.models.load_model(tmp_path / "resaved.keras", compile=False)):
        logits = teacher.predict(x, verbose=0)  # (64, 2)
        assert not probabilities and logits.shape == (64, 2) and np.isfinite(logits).all()
        np.testing.assert_array_equal(logits[:, 0], 0)
        np.testing.assert_allclose(logits[:, 1], expected, rtol=1e-4, atol=1e-4)
    assert len(lines) == 1 and "1 output for 2 classes" in lines[0]
    assert ("logit(p)" if activation else "(0, z)") in lines[0]


def test_a_one_output_teacher_on_more_than_two_classes_is_refused(tmp_path):
    with pytest.raises(PipelineError, match="1 output classes, the data has 3"):
        load_teacher(str(save_teacher(tmp_path, classes=1)), (8, 8, 1), 3)


def _teacher(tmp_path, inputs, outputs, name="t.keras"):
    path = tmp_path / name
    keras.Model(inputs, outputs).save(path)
    return str(path)


def test_a_variable_length_teacher_is_fixed_to_the_data_shape(tmp_path):
    inputs = keras.Input((None, 3))
    x = keras.layers.GlobalMaxPooling1D()(keras.layers.Conv1D(4, 3)(inputs))
    model, _ = load_teacher(_teacher(tmp_path, inputs, keras.layers.Dense(5)(x)), (50, 3), 5)
    assert model.input_shape == (None, 50, 3)
    assert count_macs(model) == 48 * 3 * 3 * 4 + 4 * 5


def test_a_teacher_with_one_output_per_time_step_is_one_line(tmp_path):
    inputs = keras.Input((50, 3))
    path = _teacher(tmp_path, inputs, keras.layers.Dense(5)(keras.layers.Conv1D(4, 3, padding="same")(inputs)))
    with pytest.raises(PipelineError, match=r"outputs \(None, 50, 5\).*one vector of 5 class scores"):
        load_teacher(path, (50, 3), 5)


@pytest.mark.parametrize("teacher_shape", [(28, 28), (None, 28)])
def test_a_teacher_of_samples_without_a_channel_axis_gets_them_so(tmp_path, teacher_shape):
    """A teacher trained on (28, 28) arrays (MNIST as loaded) takes the data's (28, 28, 1) images reshaped; the log
    says so, and that series read as images want --layout series."""
    inputs = keras.Input(teacher_shape)
    path = _teacher(tmp_path, inputs, keras.layers.Dense(5)(keras.layers.GlobalAveragePooling1D()(inputs)))
    lines = []
    model, _ = load_teacher(path, (28, 28, 1), 5, log=lines.append)
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 5)
    assert len(lines) == 1 and f"takes samples of shape {teacher_shape}" in lines[0] and "--layout series" in lines[0]
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype(np.float32)
    own = keras.models.load_model(path, compile=False)
    np.testing.assert_allclose(model.predict(x, verbose=0), own.predict(x[..., 0], verbose=0), rtol=1e-5)
    assert describe(model)["macs"] == 28 * 5  # the Dense on the pooled 28: counted through the reshape


def _threshold_teacher(at: float):
    """Logits (0, x - at) of a one-value sample: class 1 above `at`, else class 0."""
    inputs = keras.Input((1,))
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.array([[0.0, 1.0]], np.float32), np.array([0.0, -at], np.float32)])
    return model


def _raw_data(n=40):
    from pipeline.kd.data import Dataset
    raw = np.linspace(100, 200, n, dtype=np.float32)[:, None]  # (n, 1): a sensor reading, 100..200
    x = (raw - 100) / 100  # tinykd's [0, 1] scaling
    y = (raw[:, 0] > 150).astype(np.int64)
    return Dataset(name="d", kind="series", x_train=x, y_train=y, x_val=x[:4], y_val=y[:4], x_test=x, y_test=y,
                   class_names=["low", "high"], normalization={"shift": [100.0], "scale": [100.0]},
                   source_sha256="")


def test_a_teacher_trained_on_raw_values_gets_raw_values():
    from pipeline.kd.teacher import raw_or_scaled
    lines = []
    model, inputs = raw_or_scaled(_threshold_teacher(150.0), _raw_data(), lines.append)
    assert inputs == "raw" and "raw" in lines[0] and "100.00% on raw values vs 50.00%" in lines[0]
    data = _raw_data()
    assert np.mean(np.argmax(model.predict(data.x_test, verbose=0), -1) == data.y_test) == 1.0
    untouched, inputs = raw_or_scaled(_threshold_teacher(0.5), _raw_data(), lines.append)  # fits [0, 1] inputs
    assert inputs == "scaled" and len(lines) == 1 and untouched.input_shape == (None, 1)
