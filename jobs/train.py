"""spark-submit entry point: ``spark-submit jobs/train.py --config FILE [--set k=v ...] [--resume RUN_ID]``."""
import sys

from automl.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["train", *sys.argv[1:]]))
