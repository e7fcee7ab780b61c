"""Write the rush-hour corpus: `python -m devkit.rushhour [--split NAME] [--out DIR]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from devkit.rushhour import SPLITS, write

DEFAULT_OUT = Path(".salescontrol-rushhour")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devkit.rushhour", description=__doc__)
    parser.add_argument("--split", choices=sorted(SPLITS), default="test")
    parser.add_argument("--seed", type=int, action="append", help="instead of a split")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--minutes", type=float, default=8.0)
    args = parser.parse_args()
    for seed in args.seed or SPLITS[args.split]:
        audio, truth = write(seed, args.out, args.minutes)
        print(f"{audio}  {truth}")


if __name__ == "__main__":
    main()
