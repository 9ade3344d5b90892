"""Split an outcome CSV into train and test files by prompt hash (stable across runs and machines).

    python bench/split_outcomes.py CSV --out DIR [--test-fraction 0.3] [--salt ""]

Writes ``DIR/<stem>_train.csv`` and ``DIR/<stem>_test.csv`` with the input's columns; a prompt lands in
test when ``switchyard.routing.data.hash_fraction(prompt, salt) < test_fraction``, so the same prompt is
always on the same side.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from switchyard.routing.data import hash_fraction


def split(path: Path, out: Path, test_fraction: float, salt: str) -> tuple[int, int]:
    csv.field_size_limit(sys.maxsize)
    out.mkdir(parents=True, exist_ok=True)
    with path.open(newline="") as src:
        reader = csv.DictReader(src)
        if reader.fieldnames is None or "prompt" not in reader.fieldnames:
            raise SystemExit(f"{path}: no `prompt` column")
        with (
            (out / f"{path.stem}_train.csv").open("w", newline="") as train_f,
            (out / f"{path.stem}_test.csv").open("w", newline="") as test_f,
        ):
            train = csv.DictWriter(train_f, reader.fieldnames)
            test = csv.DictWriter(test_f, reader.fieldnames)
            train.writeheader()
            test.writeheader()
            counts = [0, 0]
            for row in reader:
                is_test = hash_fraction(row["prompt"], salt) < test_fraction
                (test if is_test else train).writerow(row)
                counts[is_test] += 1
    return counts[0], counts[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--test-fraction", type=float, default=0.3)
    ap.add_argument("--salt", default="")
    args = ap.parse_args(argv)
    if not args.csv.is_file():
        print(f"skipped: missing CSV {args.csv}", file=sys.stderr)
        return 2
    n_train, n_test = split(args.csv, args.out, args.test_fraction, args.salt)
    print(f"{args.csv.name}: {n_train} train, {n_test} test rows in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
