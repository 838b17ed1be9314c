"""The report's figures, drawn with matplotlib (Agg: no display) and returned as base64 PNG for report.html.

Each function takes plain numbers that pipeline/report/render.py read from the manifest; nothing here computes a
figure of merit of its own.
"""
from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # before pyplot: headless, deterministic PNGs
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"
COLORS = {"teacher": "#6366f1", "baseline": "#9ca3af", "float": "#0ea5e9", "int8": "#f59e0b", "device": "#10b981"}
plt.rcParams.update({"font.size": 10, "axes.edgecolor": GRID, "axes.labelcolor": INK, "xtick.color": MUTED,
                     "ytick.color": MUTED, "axes.spines.top": False, "axes.spines.right": False,
                     "svg.fonttype": "none", "figure.dpi": 110})


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", facecolor="white", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def accuracy_bars(rows: list[tuple[str, float, str]]) -> str:
    """rows: (label, accuracy in [0, 1], color key). Horizontal bars, zoomed to where the differences are."""
    fig, ax = plt.subplots(figsize=(6.4, 0.5 + 0.45 * len(rows)))
    labels = [r[0] for r in rows][::-1]
    values = [100 * r[1] for r in rows][::-1]
    ax.barh(labels, values, color=[COLORS[r[2]] for r in rows][::-1], height=0.6)
    low = max(0.0, min(values) - 10)
    ax.set_xlim(low, 100)
    for y, value in enumerate(values):
        ax.text(value - 0.3, y, f"{value:.2f}%", va="center", ha="right", color="white", fontweight="bold")
    ax.set_xlabel(f"test accuracy, % (axis starts at {low:.0f}%)")
    ax.grid(axis="x", color=GRID)
    ax.set_axisbelow(True)
    return _png(fig)


def confusion_grid(matrices: list[tuple[str, list[list[int]]]], class_names: list[str]) -> str:
    """One heat map per (title, matrix); rows = true class, columns = predicted; diagonal = correct."""
    count = len(matrices)
    fig, axes = plt.subplots(1, count, figsize=(3.4 * count, 3.5), squeeze=False)
    for ax, (title, matrix) in zip(axes[0], matrices):
        m = np.asarray(matrix)
        ax.imshow(m, cmap="Blues", vmin=0, vmax=max(1, m.max()))
        ticks = range(len(m))
        ax.set_xticks(ticks, class_names[:len(m)], fontsize=8)
        ax.set_yticks(ticks, class_names[:len(m)], fontsize=8)
        for (i, j), value in np.ndenumerate(m):
            if value and (i != j or len(m) <= 12):
                ax.text(j, i, str(value), ha="center", va="center", fontsize=7 if len(m) > 6 else 9,
                        color="white" if value > m.max() / 2 else ("#b91c1c" if i != j else INK))
        ax.set_title(f"{title}\n{np.trace(m)} of {m.sum()} correct", fontsize=10, color=INK)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.tight_layout()
    return _png(fig)


def budget_bars(groups: list[tuple[str, list[tuple[str, int]], int]]) -> str:
    """groups: (title, [(part, bytes), ...], budget bytes). One stacked bar per group against its budget."""
    fig, axes = plt.subplots(len(groups), 1, figsize=(7.2, 1.25 * len(groups) + 0.3), squeeze=False)
    palette = ["#0ea5e9", "#6366f1", "#f59e0b", "#10b981", "#ef4444", "#a855f7"]
    for ax, (title, parts, budget) in zip(axes[:, 0], groups):
        left = 0
        for k, (part, size) in enumerate(parts):
            ax.barh([0], [size], left=left, color=palette[k % len(palette)], height=0.5,
                    label=f"{part} {size:,} B")
            left += size
        ax.barh([0], [budget], color="none", edgecolor=MUTED, height=0.5, linestyle="--")
        ax.set_xlim(0, budget * 1.02)
        ax.set_yticks([])
        ax.set_title(f"{title}: {left:,} of {budget:,} B ({100 * left / budget:.1f}%)", loc="left", fontsize=10,
                     color=INK)
        ax.legend(loc="center right", fontsize=8, frameon=False, ncol=2)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1024:,.0f} KB"))
    fig.tight_layout()
    return _png(fig)


def layer_macs(layers: list[dict]) -> str:
    """Bar per layer: MACs (multiply-accumulates per inference), labelled with op and output shape."""
    fig, ax = plt.subplots(figsize=(7.2, 0.6 + 0.32 * len(layers)))
    labels = [f"{l['index']}: {l['op']} -> {'x'.join(map(str, l['output']))}" for l in layers][::-1]
    values = [l["macs"] for l in layers][::-1]
    ax.barh(labels, values, color=COLORS["float"], height=0.6)
    top = max(values + [1])
    for y, value in enumerate(values):
        ax.text(value + top * 0.01, y, f"{value:,}", va="center", fontsize=8, color=INK)
    ax.set_xlim(0, top * 1.18)
    ax.set_xlabel("MACs per inference")
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", color=GRID)
    ax.set_axisbelow(True)
    return _png(fig)


def memory_plan(buffers: list[dict], ops: list[str], arena_bytes: int) -> str:
    """The AOT arena over time: x = operator index, y = byte offset; each buffer is live from `first` to `last`."""
    fig, ax = plt.subplots(figsize=(max(7.2, 0.34 * len(ops)), 3.4))  # wide enough for one label per op
    cmap = plt.get_cmap("tab20")
    for k, b in enumerate(buffers):
        scratch = b.get("scratch", False)  # a kernel's scratch buffer: hatched
        ax.add_patch(matplotlib.patches.Rectangle((b["first"] - 0.45, b["offset"]), b["last"] - b["first"] + 0.9,
                                                  b["size"], facecolor=cmap(k % 20), edgecolor="white", alpha=0.9,
                                                  hatch="///" if scratch else None))
        # a label only where it fits: a box spanning 2+ ops, or one op's box tall enough for a short line
        if b["size"] >= arena_bytes * 0.08 and (b["last"] > b["first"] or b["size"] >= arena_bytes * 0.2):
            ax.text((b["first"] + b["last"]) / 2, b["offset"] + b["size"] / 2, f"{b['size']:,} B",
                    ha="center", va="center", fontsize=7, color=INK)
    ax.axhline(arena_bytes, color="#ef4444", linestyle="--", linewidth=1)
    ax.text(len(ops) - 0.5, arena_bytes, f" arena {arena_bytes:,} B", va="bottom", ha="right", fontsize=8,
            color="#ef4444")
    ax.set_xlim(-0.6, len(ops) - 0.4)
    ax.set_ylim(0, max(arena_bytes, 1) * 1.15)
    short = [op.replace("_2D", "").replace("DEPTHWISE_", "DW_").replace("FULLY_CONNECTED", "FC") for op in ops]
    if len(ops) <= 12:
        ax.set_xticks(range(len(ops)), [f"{i}\n{op}" for i, op in enumerate(short)], fontsize=7)
    else:  # many ops: vertical labels never overlap
        ax.set_xticks(range(len(ops)), [f"{i} {op}" for i, op in enumerate(short)], fontsize=7, rotation=90)
    ax.set_ylabel("arena offset (bytes)")
    ax.set_xlabel("operator (execution order)")
    ax.grid(axis="y", color=GRID)
    ax.set_axisbelow(True)
    return _png(fig)


def training_curves(curves: list[tuple[str, str, list[dict]]]) -> str:
    """curves: (label, color key, per-epoch records with loss / accuracy / val_accuracy). Validation accuracy
    (solid) and training accuracy (dashed) per epoch, and training loss, one line per training stage."""
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(9.6, 3.2))
    for label, color, history in curves:
        epochs = [h["epoch"] for h in history]
        if any("val_accuracy" in h for h in history):
            acc_ax.plot(epochs, [100 * h.get("val_accuracy", np.nan) for h in history], color=COLORS[color],
                        label=label)
        acc_ax.plot(epochs, [100 * h.get("accuracy", np.nan) for h in history], color=COLORS[color], alpha=0.5,
                    linestyle="--")
        loss_ax.plot(epochs, [h.get("loss", np.nan) for h in history], color=COLORS[color], label=label)
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="validation (solid), training (dashed)")
    loss_ax.set(xlabel="epoch", ylabel="training loss", title="training loss (each stage's own loss)")
    for ax in (acc_ax, loss_ax):
        ax.grid(color=GRID, linewidth=0.6)
    acc_ax.legend(frameon=False, fontsize=8)
    return _png(fig)


def misclassified_grid(x: np.ndarray, true: np.ndarray, predicted: np.ndarray, names: list[str]) -> str:
    """Test samples the int8 model gets wrong: images (H, W, C) as pictures, series (T, C) as one line per
    channel; each titled `true -> predicted`."""
    n = len(x)
    cols = min(n, 8)
    rows = -(-n // cols)
    series = x.ndim == 3  # (N, T, C); images are (N, H, W, C)
    fig, axes = plt.subplots(rows, cols, figsize=(1.25 * cols * (1.6 if series else 1), 1.45 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    name = lambda k: names[k] if k < len(names) else str(k)
    for ax, sample, t, p in zip(axes.flat, x, true, predicted):
        if series:
            ax.axis("on")
            ax.plot(sample.reshape(len(sample), -1), linewidth=0.7)
            ax.set_xticks([]), ax.set_yticks([])
        else:
            image = sample[..., 0] if sample.shape[-1] == 1 else sample[..., :3]
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        ax.set_title(f"{name(int(t))} -> {name(int(p))}", fontsize=7, color=INK)
    return _png(fig)


def spectrograms(features: np.ndarray, titles: list[str], hop_ms: float, top_hz: float) -> str:
    """One image per clip of int8 log-mel features (frames, mel bands): time across, mel band up, one shared
    color scale (the int8 value, -128 = no energy)."""
    n = len(features)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.7 * cols + 0.8, 2.5 * rows), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for k, (ax, clip, title) in enumerate(zip(axes.flat, features, titles)):
        ax.axis("on")
        frames, bands = clip.shape
        image = ax.imshow(clip.T, origin="lower", aspect="auto", cmap="magma", vmin=-128, vmax=127,
                          extent=(0, frames * hop_ms / 1000, 0, bands))
        ax.set_title(title, fontsize=8, color=INK)
        ax.set_xlabel("time (s)", fontsize=8)
        if k % cols == 0:
            ax.set_ylabel(f"mel band (to {top_hz / 1000:g} kHz)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="int8 feature")
    return _png(fig)
