"""`tinykd data ...`: commands that make data sets (the CLI only parses and calls pipeline/audio)."""
from __future__ import annotations

import click

from pipeline.audio.kws_data import COMMANDS, KwsConfig


@click.group("data")
def data():
    """Make data sets: `tinykd data kws --out kws.npz` synthesises the keyword-spotting set offline;
    `tinykd data features kws.npz --out kws_features.npz` turns its audio into the front end's features."""


@data.command("kws")
@click.option("--out", required=True, type=click.Path(), help="The .npz file to write.")
@click.option("--keywords", default=",".join(COMMANDS), show_default=True, help="Comma-separated keywords.")
@click.option("--train-per-class", default=KwsConfig.train_per_class, show_default=True, type=int,
              help="Training clips per class.")
@click.option("--test-per-class", default=KwsConfig.test_per_class, show_default=True, type=int,
              help="Test clips per class (voices held out from training).")
@click.option("--seed", default=KwsConfig.seed, show_default=True, type=int, help="Same seed, same clips.")
@click.option("--jobs", default=KwsConfig.jobs, show_default=True, type=int, help="espeak-ng processes at once.")
def kws(out, keywords, train_per_class, test_per_class, seed, jobs):
    """Synthetic keyword-spotting set: espeak-ng words in many voices, speeds and pitches, generated noise at
    several SNRs, random shifts; 16 kHz 1 s int16 clips; keywords + unknown + silence; test voices held out."""
    import json

    from pipeline.audio.kws_data import check_out, make_kws, write_npz
    cfg = KwsConfig(keywords=tuple(w.strip() for w in keywords.split(",") if w.strip()),
                    train_per_class=train_per_class, test_per_class=test_per_class, seed=seed, jobs=jobs)
    path = check_out(out)
    arrays = make_kws(cfg, log=click.echo)
    write_npz(arrays, path)
    manifest = json.loads(str(arrays["manifest"]))
    click.echo(f"wrote {path}: {path.stat().st_size / 1e6:.1f} MB, {len(arrays['y_train']):,} training + "
               f"{len(arrays['y_test']):,} test clips, {len(manifest['classes'])} classes, "
               f"{len(manifest['voices']['train'])} training / {len(manifest['voices']['test'])} held-out test "
               f"voices, made in {manifest['synthesis_seconds']} s. Synthetic speech (espeak-ng).")


@data.command("features")
@click.argument("raw", type=click.Path())
@click.option("--out", required=True, type=click.Path(), help="The features .npz to write.")
def features_command(raw, out):
    """Audio clips (a `tinykd data kws` .npz) -> int8 log-mel features (49 frames x 40 bands) from the C front
    end the device runs; the result trains like any data set: tinykd run --dataset FEATURES.npz."""
    from pipeline.audio.features import write_features
    from pipeline.audio.kws_data import check_out
    path = write_features(raw, check_out(out), log=click.echo)
    click.echo(f"wrote {path}: {path.stat().st_size / 1e6:.1f} MB. Train on it: tinykd run --dataset {path}")
