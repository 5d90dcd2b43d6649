"""spark-submit entry point: ``spark-submit jobs/predict.py --config FILE [--run-id ID] [--set k=v ...]``."""
import sys

from automl.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["predict", *sys.argv[1:]]))
