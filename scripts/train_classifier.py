"""Trains the CNN classifier whose features score generated images (FID, KID, precision/recall) and
whose logits give the Inception Score; writes its weights with a SHA-256 sidecar.

  python scripts/train_classifier.py                # -> jaxgen/assets/digits_classifier.msgpack
  python scripts/train_classifier.py --dataset=mnist --out=classifiers/mnist.msgpack
  python scripts/train_classifier.py --dataset=fashion_mnist --out=classifiers/fashion.msgpack
  python scripts/train_classifier.py --bounds_only  # only print the digits FID floor and ceiling

TFDS data sets are read from --data_dir (default $TFDS_DATA_DIR or ~/tensorflow_datasets).

The weights are written only when the test accuracy reaches --min_accuracy (0.97 by default for
digits). For digits the script then prints the FID/KID floor, FID(train, test), and the ceiling,
FID(train, uniform noise), measured with the new classifier's features.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

from jaxgen import data
from jaxgen.metrics import classifier, evaluator

DEFAULTS = {
  # name: (num_steps, batch_size, min_accuracy)
  "digits": (1400, 64, 0.97),
  "mnist": (4000, 128, 0.98),
  "fashion_mnist": (6000, 128, 0.88),
}


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--dataset", default="digits", choices=sorted(DEFAULTS))
  parser.add_argument("--out", type=pathlib.Path, help="weights file (.msgpack); digits: the asset")
  parser.add_argument("--data_dir", help="TFDS data_dir for mnist / fashion_mnist")
  parser.add_argument("--num_steps", type=int, help="training steps (default per data set)")
  parser.add_argument("--batch_size", type=int, help="batch size (default per data set)")
  parser.add_argument("--learning_rate", type=float, default=1e-3)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--min_accuracy", type=float, help="refuse to write weights below this")
  parser.add_argument("--bounds_only", action="store_true", help="digits: print FID bounds only")
  args = parser.parse_args(argv)
  num_steps, batch_size, min_accuracy = DEFAULTS[args.dataset]
  args.num_steps = args.num_steps or num_steps
  args.batch_size = args.batch_size or batch_size
  args.min_accuracy = min_accuracy if args.min_accuracy is None else args.min_accuracy
  if args.out is None:
    if args.dataset != "digits":
      parser.error(f"--out=PATH is required for --dataset={args.dataset}.")
    args.out = classifier.DIGITS_CLASSIFIER_PATH
  if args.bounds_only and args.dataset != "digits":
    parser.error("--bounds_only applies to --dataset=digits only.")
  return args


def open_dataset(name: str, data_dir: str | None) -> data.Dataset:
  if name == "digits":
    # The classifier sees digits padded to 16x16 (it pads 8x8 inputs the same way itself).
    return data.get("digits", size=16)
  return data.get(name, data_dir=data_dir)


def print_bounds(extractor) -> None:
  bounds = evaluator.digits_fid_bounds(extractor)
  print(f"digits FID/KID bounds with {extractor.name} features ({extractor.feature_dim}-d):")
  rows = [
    ("floor    train vs test", "test"),
    ("ceiling  train vs noise 8x8", "noise8"),
    ("ceiling  train vs noise 16x16", "noise16"),
  ]
  for label, name in rows:
    print(
      f"  {label:30s} FID {bounds[f'fid_train_{name}']:10.4f}   "
      f"KID {bounds[f'kid_train_{name}']:12.4f} +- {bounds[f'kid_std_train_{name}']:.4f}"
    )


def main(argv=None) -> int:
  args = parse_args(argv)
  if args.bounds_only:
    print_bounds(classifier.load_classifier(args.out, "digits"))
    return 0
  dataset = open_dataset(args.dataset, args.data_dir)
  start = time.time()
  module, params = classifier.train_classifier(
    dataset,
    num_steps=args.num_steps,
    batch_size=args.batch_size,
    learning_rate=args.learning_rate,
    seed=args.seed,
    log_every=max(args.num_steps // 10, 1),
  )
  config = {
    "dataset": args.dataset,
    "input_size": int(dataset.example_shape[0]),
    "num_classes": int(module.num_classes),
    "widths": list(module.widths),
    "feature_dim": int(module.feature_dim),
  }
  held_out = dataset.eval_data()
  trained = classifier.Classifier(module, params, config, sha256="")
  test_accuracy = classifier.accuracy(trained, held_out["x"], held_out["y"])
  print(
    f"trained {args.num_steps} steps in {time.time() - start:.0f} s; "
    f"test accuracy {test_accuracy:.4f} on {len(held_out['y'])} images"
  )
  if test_accuracy < args.min_accuracy:
    print(
      f"test accuracy {test_accuracy:.4f} < --min_accuracy={args.min_accuracy}: "
      f"weights NOT written to {args.out}",
      file=sys.stderr,
    )
    return 1
  digest = classifier.save_classifier(args.out, params, config)
  loaded = classifier.load_classifier(args.out, args.dataset)
  reloaded_accuracy = classifier.accuracy(loaded, held_out["x"], held_out["y"])
  if not np.isclose(reloaded_accuracy, test_accuracy):
    raise RuntimeError(f"Reloaded weights score {reloaded_accuracy}, not {test_accuracy}.")
  size_kb = args.out.stat().st_size / 1024
  print(f"wrote {args.out} ({size_kb:.0f} KB), sha256 {digest}")
  if args.dataset == "digits":
    print_bounds(loaded)
  return 0


if __name__ == "__main__":
  sys.exit(main())
