"""Scores a run's latest (or a named) checkpoint; keeps every score in evaluation.json / .md.

  python scripts/evaluate.py --workdir=workdirs/dcgan_digits [--step=3000] [--num_samples=2500]
      [--evaluators=images,...]

It runs the evaluators the run's config names (`eval.evaluators`, `jaxgen.evaluators`), or those
of --evaluators: e.g. "images", FID, KID, Inception Score, precision and recall with the run's
feature extractor (`eval.extractor`, the shipped digits classifier by default for digits);
"points", modes covered, share of high-quality samples and reverse KL of a 2-D mixture (PacGAN's
definitions); "translation", label preservation, FID per domain and cycle errors of translators.

`evaluation.json` holds one record per evaluated (step, num_samples, extractor[, evaluators]),
sorted by step: scoring another step adds a record, scoring the same one again replaces it;
`evaluation.md` is the same as a table. It reads the workdir without its lock and moves or
deletes nothing, so it can score a run that is still training.
"""

import argparse
import json
from pathlib import Path

from jaxgen import evaluators
from jaxgen.errors import CheckpointError, ConfigError
from jaxgen.run import files, train


def _records(path: Path) -> list[dict]:
  """The records of `path` (none if absent); a file of the one-record format before this one is
  its first record."""
  if not path.exists():
    return []
  try:
    content = json.loads(path.read_text())
  except (OSError, ValueError) as error:
    raise SystemExit(
      f"{path} is unreadable ({error}); move it away and run again (nothing was written)."
    ) from None
  records = [content] if isinstance(content, dict) else content
  if not (isinstance(records, list) and all(isinstance(r, dict) and "step" in r for r in records)):
    raise SystemExit(
      f"{path} is not a list of evaluation records; move it away and run again (nothing was "
      "written)."
    )
  return records


def _table(records: list[dict]) -> str:
  """`records` as a Markdown table, one column per key any record has."""
  columns = list(dict.fromkeys(key for record in records for key in record))
  rows = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
  for record in records:
    cells = [record.get(key, "") for key in columns]
    rows.append("| " + " | ".join(f"{c:.4g}" if isinstance(c, float) else str(c) for c in cells))
  return "\n".join(row if row.endswith("|") else row + " |" for row in rows) + "\n"


def main() -> None:
  """Scores the checkpoint, adds its record to the history, prints the record's table."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--step", type=int, default=None, help="default: the latest checkpoint")
  parser.add_argument("--num_samples", type=int, default=None, help="default: the config's")
  parser.add_argument("--extractor", default=None, help="override eval.extractor")
  parser.add_argument(
    "--evaluators",
    default=None,
    help="comma-separated evaluator names, instead of the config's eval.evaluators; registered: "
    f"{', '.join(sorted(evaluators.EVALUATORS))} (and those of the config's imports)",
  )
  args = parser.parse_args()
  workdir = Path(args.workdir)
  history_path = workdir / "evaluation.json"
  history = _records(history_path)  # a damaged history stops us before any work
  try:
    config = train.recorded_config(workdir)
    if args.num_samples:
      config.eval.num_samples = args.num_samples
    if args.extractor is not None:
      config.eval.extractor = args.extractor
    if args.evaluators is not None:
      config.eval.evaluators = tuple(name.strip() for name in args.evaluators.split(","))
    if config.data.name == "digits" and not config.eval.get("extractor"):
      config.eval.extractor = "digits_classifier"
    run = train.Run(config)
    # Verified against its digest; a corrupt step is an error here, never moved (the training
    # command is what sets a bad checkpoint aside and falls back).
    state = train.restore_state(run, workdir, args.step)
  except (ConfigError, CheckpointError) as error:
    raise SystemExit(f"{type(error).__name__}: {error}") from None
  step = int(state.step)
  scores = {k.removeprefix("eval/"): v for k, v in train.Evaluator(run)(state, step, None).items()}
  extractor = config.eval.get("extractor", "")
  record = {"step": step, "num_samples": int(config.eval.num_samples)}
  record |= {"extractor": extractor} if extractor else {}
  record |= {"evaluators": args.evaluators} if args.evaluators else {}
  record |= scores
  identity = ("step", "num_samples", "extractor", "evaluators")
  history = [
    r for r in history if [r.get(k) for k in identity] != [record.get(k) for k in identity]
  ]
  history = sorted([*history, record], key=lambda r: r["step"])
  files.atomic_write_text(history_path, json.dumps(history, indent=2) + "\n")
  files.atomic_write_text(workdir / "evaluation.md", _table(history))
  print(_table([record]))


if __name__ == "__main__":
  main()
