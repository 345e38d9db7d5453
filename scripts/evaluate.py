"""Scores a run's latest (or a named) checkpoint and writes evaluation.json and evaluation.md.

  python scripts/evaluate.py --workdir=workdirs/dcgan_digits [--step=3000] [--num_samples=2500]

Images: FID, KID, Inception Score, precision and recall with the run's feature extractor
(`eval.extractor`, the shipped digits classifier by default for digits). 2-D mixtures: modes
covered, share of high-quality samples and reverse KL (PacGAN's definitions).
"""

import argparse
import json
from pathlib import Path

import ml_collections

from jaxgen import checkpoint, files, train
from jaxgen.errors import CheckpointError, ConfigError


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--step", type=int, default=None, help="default: the latest checkpoint")
  parser.add_argument("--num_samples", type=int, default=None, help="default: the config's")
  parser.add_argument("--extractor", default=None, help="override eval.extractor")
  args = parser.parse_args()
  workdir = Path(args.workdir)
  config_path = workdir / "config.json"
  if not config_path.exists():
    raise SystemExit(f"{config_path} not found: is {workdir} the workdir of a jaxgen run?")
  try:
    config = ml_collections.ConfigDict(json.loads(config_path.read_text()))
  except json.JSONDecodeError as error:
    raise SystemExit(
      f"{config_path} is unreadable ({error}); re-run the training command once to rewrite it."
    ) from None
  if args.num_samples:
    config.eval.num_samples = args.num_samples
  if args.extractor is not None:
    config.eval.extractor = args.extractor
  if config.data.name == "digits" and not config.eval.get("extractor"):
    config.eval.extractor = "digits_classifier"
  try:
    run = train.Run(config)
    checkpointer = checkpoint.Checkpointer(workdir, keep=config.get("keep_checkpoints", 3))
    if checkpointer.latest_step() is None:
      raise SystemExit(f"No checkpoint in {checkpointer.directory}.")
    # Verified against its digest; a corrupt step is an error here, never moved (the training
    # command is what sets a bad checkpoint aside and falls back).
    state = checkpointer.restore(run.init_state(), args.step)
  except (ConfigError, CheckpointError) as error:
    raise SystemExit(f"{type(error).__name__}: {error}") from None
  step = int(state.step)
  results = {k.removeprefix("eval/"): v for k, v in train.Evaluator(run)(state, step, None).items()}
  results = {"step": step, "num_samples": int(config.eval.num_samples), **results}
  files.atomic_write_text(workdir / "evaluation.json", json.dumps(results, indent=2) + "\n")
  table = "| metric | value |\n|---|---|\n" + "".join(
    f"| {k} | {v:.4g} |\n" if isinstance(v, float) else f"| {k} | {v} |\n"
    for k, v in results.items()
  )
  files.atomic_write_text(workdir / "evaluation.md", table)
  print(table)


if __name__ == "__main__":
  main()
