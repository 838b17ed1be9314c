"""A data set from a folder of images, one sub-folder per class (root/cat/*.png), or root/train/<class>/ and
root/test/<class>/ when the user gives the split."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError
from pipeline.kd.splits import held_out

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def image_folder(root: Path, test_fraction: float, seed: int):
    """root/<class>/*.png, or root/train/<class>/ and root/test/<class>/ when the split is given."""
    if (root / "train").is_dir() and (root / "test").is_dir():
        names = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
        x_train, y_train = read_images(root / "train", names)
        x_test, y_test = read_images(root / "test", names)
        return x_train, y_train, x_test, y_test, names
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    if len(names) < 2:
        raise PipelineError(f"Image folder '{root}' has {len(names)} class folders.",
                            "Put the images of each class in a sub-folder named after it (>= 2 classes).")
    x, y = read_images(root, names)
    train, test = held_out(y, test_fraction, seed)  # stratified, as every split tinykd draws
    return x[train], y[train], x[test], y[test], names


def read_images(root: Path, names: list[str]):
    import tensorflow as tf
    images, labels, shape = [], [], None
    for label, name in enumerate(names):
        for file in sorted((root / name).iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                image = tf.io.decode_image(file.read_bytes(), expand_animations=False).numpy()
            except Exception as e:  # noqa: BLE001
                raise PipelineError(f"Cannot decode image '{file}' ({type(e).__name__}).",
                                    "Use PNG, JPEG, BMP or GIF files.")
            if shape is None:
                shape = image.shape[:2]
            elif image.shape[:2] != shape:
                raise PipelineError(f"Image '{file}' is {image.shape[0]} x {image.shape[1]} pixels, the others are "
                                    f"{shape[0]} x {shape[1]}.", "Resize all images to one size first.")
            images.append(image)
            labels.append(label)
    if not images:
        raise PipelineError(f"No images found under '{root}'.", "Add .png or .jpg files in one folder per class.")
    channels = 3 if any(image.shape[-1] >= 3 for image in images) else 1
    return np.stack([_channels(image, channels) for image in images]), np.asarray(labels, dtype=np.int64)


def _channels(image: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, c) uint8 with c in 1..4 (gray, gray + alpha, RGB, RGBA) -> (H, W, channels): alpha dropped, gray
    repeated when the folder also holds color images (one folder may mix PNG modes L, LA, RGB and RGBA)."""
    image = image[..., :1] if image.shape[-1] == 2 else image[..., :3]
    return np.repeat(image, channels, axis=-1) if image.shape[-1] < channels else image
