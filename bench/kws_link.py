"""Raw audio over the emulated serial link: a keyword-spotting run's `tinykd validate` (protocol v2 AUDIO: every
test clip as 32,000 bytes of int16 in 16 chunks to the real firmware app in QEMU, which runs the front end, the
feature -> input table and the AOT model) read back from its run.json: clips validated, features and outputs
differing from the host, front end vs model instructions (QEMU -icount) and seconds per clip over the link.
Writes bench/results/kws_link.json.

    tinykd data kws --out /tmp/kws.npz --train-per-class 40 --test-per-class 20    # 240 test clips
    tinykd data features /tmp/kws.npz --out /tmp/kws_features.npz
    tinykd run --run kwsdev --dataset /tmp/kws_features.npz --teacher-epochs 3 --epochs 5 --width 8 --depth 2 \
        --mode ptq
    PYTHONPATH=. python bench/kws_link.py models/kwsdev
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "kws_link.json"
KEYS = ("samples", "mismatched_features", "mismatched_outputs", "frontend_instructions_median",
        "instructions_median", "seconds_per_clip", "accuracy", "host_accuracy")


def main(run_dir: str) -> dict:
    manifest = json.loads((Path(run_dir) / "run.json").read_text())
    validate = manifest["stages"]["validate"]
    metrics = validate["metrics"]
    if "mismatched_features" not in metrics:
        sys.exit(f"'{run_dir}' was not validated on raw audio: its data did not come from `tinykd data features`.")
    result = {"run": Path(run_dir).name, "data": manifest["data"]["name"], "board": metrics["board"],
              **{k: round(metrics[k], 3) for k in KEYS},
              "link": "QEMU UART0 over TCP (pyserial socket://), -icount shift=7",
              "note": "seconds per clip: wall time of the whole validation / clips (16 AUDIO chunks each), 2 cores "
                      "shared with other jobs; the model is a 5-epoch width-8 student (accuracy near chance: this "
                      "measures the link and bit-exactness, bench/kws.json the accuracy)"}
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "models/kwsdev"), indent=1))
