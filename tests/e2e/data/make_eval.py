"""Writes what example-get-started's evaluate stage writes through dvclive, with the
standard library only: ROC, precision-recall and confusion-matrix records per split
(eval/plots/sklearn/{roc,prc,cm}/{train,test}.json) and an importance bar chart PNG
(eval/plots/images/importance.png). `python make_eval.py SEED` changes the numbers."""

import json
import os
import random
import struct
import sys
import zlib


def png(width, height, bars, seed):
    rng = random.Random(seed)
    heights = [rng.randint(height // 8, height - 4) for _ in range(bars)]
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            bar = x * bars // width
            on = height - y <= heights[bar] and x % (width // bars) > 1
            row += bytes((40, 90, 160) if on else (250, 250, 250))
        rows.append(bytes(row))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                            8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def write(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f, indent=4)


def main(seed):
    for split, skill in (("train", 2.0 + seed % 3), ("test", 1.2 + seed % 2)):
        rng = random.Random(f"{seed}-{split}")
        labels = [rng.random() < 0.3 for _ in range(400)]
        scores = [min(max(rng.gauss(0.5 + (0.12 * skill if y else -0.1 * skill), 0.2), 0), 1)
                  for y in labels]
        pos = sum(labels)
        roc, prc = [], []
        for t in sorted(set(round(s, 2) for s in scores), reverse=True):
            tp = sum(1 for s, y in zip(scores, labels) if s >= t and y)
            fp = sum(1 for s, y in zip(scores, labels) if s >= t and not y)
            roc.append({"fpr": fp / (len(labels) - pos), "tpr": tp / pos, "threshold": t})
            if tp + fp:
                prc.append({"precision": tp / (tp + fp), "recall": tp / pos, "threshold": t})
        cm = [{"actual": int(y), "predicted": int(s >= 0.5)} for s, y in zip(scores, labels)]
        write(f"eval/plots/sklearn/roc/{split}.json", {"roc": roc})
        write(f"eval/plots/sklearn/prc/{split}.json", {"prc": prc})
        write(f"eval/plots/sklearn/cm/{split}.json", {"cm": cm})
    write("eval/metrics.json", {"avg_prec": {"train": 0.9, "test": 0.6 + seed / 100}})
    os.makedirs("eval/plots/images", exist_ok=True)
    with open("eval/plots/images/importance.png", "wb") as f:
        f.write(png(240, 120, 12, seed))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
