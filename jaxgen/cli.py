"""The `jaxgen` command: train, resume, evaluate and sample runs; list what jaxgen knows.

    jaxgen train CONFIG [--workdir=DIR] [--config.KEY=VALUE ...]
    jaxgen resume WORKDIR [--config.num_steps=N ...]
    jaxgen eval WORKDIR [--step=N] [--num_samples=N] [--extractor=NAME] [--evaluators=a,b]
    jaxgen eval WORKDIR --evaluators=skill_rating [--rivals=DIR,...]   # every kept checkpoint
    jaxgen sample WORKDIR [-n 64] --out=grid.png|samples.npz [--step=N] [--seed=S]
    jaxgen list [configs|algorithms|networks|datasets|objectives|evaluators|...] [--options]

CONFIG is a shipped config's name (`jaxgen list configs`) or a config file's path (`path:arg`
passes arg to its get_config); `jaxgen train CONFIG --help` lists its keys and values. `resume`
trains on from the latest checkpoint with the config the workdir recorded (its config.json) and
takes only the overrides that leave the run's math alone (`jaxgen.run.checkpoint.RESUMABLE_KEYS`).

Exit statuses (every subcommand, and `jaxgen-train`):
  0  done, or stopped by SIGINT/SIGTERM after saving its step (the same command goes on)
  2  a mistake in the command or the config: one line naming the flag or key; nothing written
  3  a checkpoint could not be written, or none could be read
  4  a NaN/inf stopped training (the line names the update and the suspect learning rate)
  5  an OS error, naming the file (e.g. a full disk)
  6  the workdir is in use by another run; nothing was touched
An error is the last line of stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import jaxgen
from jaxgen.errors import ConfigError

__all__ = ["build_parser", "main"]

# `jaxgen list KIND`: the sections of `jaxgen.catalogue` whose titles start with these words.
CATALOGUE_KINDS = {
  "algorithms": "Algorithms",
  "networks": "Networks",
  "datasets": "Data sets",
  "objectives": "GAN objectives",
  "penalties": "Gradient penalties",
  "stabilisers": "Stabilisers",
  "optimizers": "Optimizers",
  "reconstructions": "Reconstructions",
  "priors": "Latent priors",
  "evaluators": "Evaluators",
}
SAMPLE_FORMATS = (".png", ".npz")
DESCRIPTION_WIDTH = 88
EXIT_STATUSES_TEXT = __doc__[__doc__.index("Exit statuses") :]

Action = Callable[[argparse.Namespace, dict[str, str]], None]


def main(argv: list[str] | None = None) -> None:
  """`jaxgen COMMAND ...`: runs the subcommand; an error it raises exits with its status."""
  from jaxgen.run import overrides  # noqa: PLC0415 — light; the run machinery loads on demand

  argv = sys.argv[1:] if argv is None else list(argv)
  try:
    argv, raw_overrides = overrides.split_config_overrides(argv)
    args = build_parser(_help_epilogs(argv, raw_overrides)).parse_args(argv)
    args.action(args, raw_overrides)
  except BrokenPipeError:  # the reader went away (`jaxgen list | head`): nothing left to say
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error when Python flushes
  except Exception as error:  # noqa: BLE001 — those of EXIT_STATUSES exit; the others re-raise
    _exit_for(error)


def _exit_for(error: Exception) -> NoReturn:
  """Exits with `error`'s status and one line (`jaxgen.run.train.fail`); re-raises an error the
  statuses do not name (a bug: its traceback is wanted)."""
  from jaxgen.run.train import EXIT_STATUSES, fail  # noqa: PLC0415 — 4 s of imports

  if not isinstance(error, tuple(EXIT_STATUSES)):
    raise error
  fail(error)


def build_parser(epilogs: dict[str, str] | None = None) -> argparse.ArgumentParser:
  """The parser of `jaxgen` and its subcommands (each with `--help`); `epilogs`: text by
  subcommand to show at the end of its help, before the exit statuses."""
  parser = argparse.ArgumentParser(
    prog="jaxgen",
    description=__doc__.split("\n\n")[0],
    epilog=EXIT_STATUSES_TEXT,
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  parser.add_argument("--version", action="version", version=f"jaxgen {jaxgen.__version__}")
  commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
  for name, add in [
    ("train", _add_train),
    ("resume", _add_resume),
    ("eval", _add_eval),
    ("sample", _add_sample),
    ("list", _add_list),
  ]:
    add(commands, (epilogs or {}).get(name, ""))
  return parser


def _subcommand(commands, name: str, action: Action, summary: str, details: str, epilog: str):
  """The parser of subcommand `name`, which runs `action(args, raw_overrides)`."""
  parser = commands.add_parser(
    name,
    help=summary,
    description=f"{summary}\n\n{textwrap.fill(details, DESCRIPTION_WIDTH)}",
    epilog=f"{epilog}\n\n{EXIT_STATUSES_TEXT}".strip(),
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  parser.set_defaults(action=action)
  return parser


# --- train and resume -----------------------------------------------------------------------------


def _add_train(commands, epilog: str) -> None:
  parser = _subcommand(
    commands,
    "train",
    _train,
    "Train CONFIG in a workdir; the same command again resumes from its latest checkpoint.",
    "Override any key with --config.KEY=VALUE (e.g. --config.num_steps=500); "
    "`jaxgen train CONFIG --help` lists the config's keys and values.",
    epilog,
  )
  parser.add_argument(
    "config",
    metavar="CONFIG",
    help="a shipped config's name (`jaxgen list configs`) or a config file's path; `path:arg` "
    "passes arg to its get_config",
  )
  parser.add_argument(
    "--workdir",
    default=None,
    help="checkpoints, logs and pictures go here (default: workdirs/<the config's name>)",
  )


def _train(args: argparse.Namespace, raw_overrides: dict[str, str]) -> None:
  from jaxgen import configs  # noqa: PLC0415
  from jaxgen.run import train  # noqa: PLC0415

  config = configs.load(args.config)  # a bad name is the first thing said
  workdir = args.workdir
  if workdir is None:
    workdir = Path("workdirs") / Path(args.config.split(":")[0]).stem
    print(f"workdir: {workdir}", file=sys.stderr, flush=True)
  train.train_command(config, workdir, raw_overrides)


def _add_resume(commands, epilog: str) -> None:
  parser = _subcommand(
    commands,
    "resume",
    _resume,
    "Train the run recorded in WORKDIR on from its latest checkpoint, with its own config.",
    "Only overrides that leave the run's math alone are taken, e.g. --config.num_steps=N to "
    "train longer, or the periods of evaluation, logging and checkpoints; any other key is "
    "refused: a changed experiment needs a new workdir (`jaxgen train`).",
    epilog,
  )
  parser.add_argument("workdir", metavar="WORKDIR", help="the workdir of a `jaxgen train` run")


def _resume(args: argparse.Namespace, raw_overrides: dict[str, str]) -> None:
  from jaxgen.run import checkpoint, train  # noqa: PLC0415

  config = train.recorded_config(args.workdir)  # first: is it a run's workdir at all?
  allowed = sorted(checkpoint.RESUMABLE_KEYS)
  for key in raw_overrides:
    if key.split(".")[0] not in checkpoint.RESUMABLE_KEYS:
      raise ConfigError(
        f"--config.{key}: resume keeps the run's math and takes only {', '.join(allowed)}; to "
        f"change {key}, train anew in another workdir (`jaxgen train CONFIG --workdir=NEW "
        f"--config.{key}=...`)."
      )
  train.train_command(config, args.workdir, raw_overrides)


def _no_overrides(command: str, raw_overrides: dict[str, str]) -> None:
  if raw_overrides:
    key = next(iter(raw_overrides))
    raise ConfigError(
      f"--config.{key}: `jaxgen {command}` takes no config overrides; it reads the workdir's "
      f"recorded config (see `jaxgen {command} --help` for its options)."
    )


# --- help with the config's keys --------------------------------------------------------------


def _help_epilogs(argv: list[str], raw_overrides: dict[str, str]) -> dict[str, str]:
  """What `--help` adds, read only when asked for: for `jaxgen train CONFIG --help`, the config's
  keys and values (the overrides applied); for `jaxgen resume --help`, the keys it takes."""
  if not argv or not {"-h", "--help"} & set(argv):
    return {}
  if argv[0] == "resume":
    from jaxgen.run import checkpoint  # noqa: PLC0415

    keys = ", ".join(f"--config.{key}" for key in sorted(checkpoint.RESUMABLE_KEYS))
    return {"resume": textwrap.fill(f"Overrides resume takes: {keys}.", DESCRIPTION_WIDTH)}
  # CONFIG: the first argument that is neither a flag nor the value of `--workdir DIR`.
  config_spec = next(
    (
      arg
      for before, arg in itertools.pairwise(argv)
      if not arg.startswith("-") and before != "--workdir"
    ),
    None,
  )
  if argv[0] != "train" or config_spec is None:
    return {}
  from jaxgen import configs  # noqa: PLC0415
  from jaxgen.run import overrides  # noqa: PLC0415

  config = configs.load(config_spec)
  overrides.apply_overrides(config, raw_overrides, parse_strings=True)
  lines = [f"  {key} = {value!r}" for key, value in _flat(config.to_dict()).items()]
  return {"train": f"Keys of {config_spec} (--config.KEY=VALUE):\n" + "\n".join(lines)}


def _flat(tree: dict, prefix: str = "") -> dict:
  """{"a.b": value} of a nested dict."""
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict) and value:
      flat.update(_flat(value, f"{prefix}{key}."))
    else:
      flat[f"{prefix}{key}"] = value
  return flat


# --- eval -----------------------------------------------------------------------------------------


def _add_eval(commands, epilog: str) -> None:
  parser = _subcommand(
    commands,
    "eval",
    _eval,
    "Score a checkpoint of WORKDIR; add its record to WORKDIR/evaluation.json and .md.",
    "Runs the evaluators the run's config names (eval.evaluators), or those of --evaluators. "
    "It reads the workdir without its lock and moves nothing: it can score a run still training. "
    "evaluation.json keeps one record per (step, num_samples, extractor, evaluators).",
    epilog,
  )
  parser.add_argument("workdir", metavar="WORKDIR", help="the workdir of a `jaxgen train` run")
  _add_eval_options(parser)


def _add_eval_options(parser: argparse.ArgumentParser) -> None:
  """The options of `jaxgen eval` (scripts/evaluate.py takes them too)."""
  parser.add_argument("--step", type=int, default=None, help="default: the latest checkpoint")
  parser.add_argument("--num_samples", type=int, default=None, help="default: the config's")
  parser.add_argument("--extractor", default=None, help="instead of the config's eval.extractor")
  parser.add_argument(
    "--evaluators",
    default=None,
    help="comma-separated evaluator names instead of the config's eval.evaluators (`jaxgen list "
    "evaluators`)",
  )
  parser.add_argument(
    "--rivals",
    default=None,
    help="with --evaluators=skill_rating: comma-separated workdirs whose kept checkpoints join "
    "WORKDIR's in the tournament",
  )


def _eval(args: argparse.Namespace, raw_overrides: dict[str, str]) -> None:
  """Scores the checkpoint, adds its record to the history, prints the record as a table."""
  from jaxgen.run import tournament, train  # noqa: PLC0415
  from jaxgen.run.evaluation import FEATURES_NOTE, Evaluator  # noqa: PLC0415

  workdir = Path(args.workdir)
  history_path = workdir / "evaluation.json"
  history = _records(history_path)  # a damaged history stops us before any work
  config = _eval_config(train.recorded_config(workdir), args)
  _measure_with(config, raw_overrides)
  if tournament.rates_checkpoints(config):  # skill rating: every kept checkpoint, one tournament
    _rate_checkpoints(workdir, config, args, history)
    return
  if args.rivals is not None:
    raise ConfigError("--rivals joins a skill_rating tournament; add --evaluators=skill_rating.")
  run = train.Run(config)
  # Verified against its digest; a corrupt step is an error here, never moved (the training
  # command is what sets a bad checkpoint aside and falls back).
  state = train.restore_state(run, workdir, args.step)
  step = int(state.step)
  evaluator = Evaluator(run)
  scores = {k.removeprefix("eval/"): v for k, v in evaluator(state, step, None).items()}
  extractor = config.eval.get("extractor", "")
  record = {"step": step, "num_samples": int(config.eval.num_samples)}
  record |= {"extractor": extractor} if extractor else {}
  record |= {"evaluators": args.evaluators} if args.evaluators else {}
  record |= scores | evaluator.feature_record()  # the feature space after the scores it qualifies
  _write_history(workdir, history, [record])
  print(_table([record]))
  if extractor:
    print(FEATURES_NOTE)


def _write_history(workdir: Path, history: list[dict], records: list[dict]) -> None:
  """`records` added to the history (replacing those of the same identity), written to
  WORKDIR/evaluation.json and .md."""
  from jaxgen.run import files  # noqa: PLC0415

  identity = ("step", "num_samples", "extractor", "evaluators")
  keys = {tuple(record.get(k) for k in identity) for record in records}
  history = [r for r in history if tuple(r.get(k) for k in identity) not in keys]
  history = sorted([*history, *records], key=lambda r: r["step"])
  files.atomic_write_text(workdir / "evaluation.json", json.dumps(history, indent=2) + "\n")
  files.atomic_write_text(workdir / "evaluation.md", _table(history))


def _rate_checkpoints(workdir: Path, config, args: argparse.Namespace, history) -> None:
  """Every kept checkpoint of WORKDIR (and of --rivals) rated in one tournament: WORKDIR's
  ratings join its history, every snapshot's are printed (`jaxgen.run.tournament`)."""
  from jaxgen.run import tournament  # noqa: PLC0415

  if args.step is not None:
    raise ConfigError(
      f"--step={args.step}: {args.evaluators} rates every kept checkpoint in one tournament; "
      "leave --step out."
    )
  rivals = [path.strip() for path in (args.rivals or "").split(",") if path.strip()]
  standings = tournament.rate_checkpoints(workdir, config, rivals)
  label = tournament.labels(workdir, rivals)[0]
  tag = {"evaluators": args.evaluators} if args.evaluators else {}
  records = [
    {"step": r["step"], "num_samples": int(config.eval.num_samples), **tag}
    | {k: v for k, v in r.items() if k not in ("run", "step")}
    for r in standings
    if r["run"] == label
  ]
  _write_history(workdir, history, records)
  print(_table(standings if rivals else records))


def _measure_with(config, raw_overrides: dict[str, str]) -> None:
  """Applies `--config.eval.*` overrides (what is measured, e.g. eval.extractor_weights); any
  other key would score a run other than the one recorded, and is refused."""
  from jaxgen.run import overrides  # noqa: PLC0415

  for key in raw_overrides:
    if not key.startswith("eval."):
      raise ConfigError(
        f"--config.{key}: `jaxgen eval` takes only --config.eval.* overrides (what is measured); "
        "the rest of the config is the workdir's recorded one."
      )
  overrides.apply_overrides(config, raw_overrides, parse_strings=True)


def _eval_config(config, args: argparse.Namespace):
  """The recorded config with the eval options of the command line."""
  if args.num_samples:
    config.eval.num_samples = args.num_samples
  if args.extractor is not None:
    config.eval.extractor = args.extractor
  if args.evaluators is not None:
    config.eval.evaluators = tuple(name.strip() for name in args.evaluators.split(","))
  if config.data.name == "digits" and not config.eval.get("extractor"):
    config.eval.extractor = "digits_classifier"
  return config


def _records(path: Path) -> list[dict]:
  """The records of `path` (none if absent); a file of the one-record format before this one is
  its first record."""
  if not path.exists():
    return []
  try:
    content = json.loads(path.read_text())
  except (OSError, ValueError) as error:
    raise ConfigError(
      f"{path} is unreadable ({error}); move it away and run again (nothing was written)."
    ) from None
  records = [content] if isinstance(content, dict) else content
  if not (isinstance(records, list) and all(isinstance(r, dict) and "step" in r for r in records)):
    raise ConfigError(
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


# --- sample ---------------------------------------------------------------------------------------


def _add_sample(commands, epilog: str) -> None:
  parser = _subcommand(
    commands,
    "sample",
    _sample,
    "Draw samples of a checkpoint of WORKDIR into a PNG or an .npz file.",
    "A .png is a grid of images (one column per class for a conditional model) or a scatter "
    "plot of 2-D points over the data's modes; an .npz holds `samples` (images uint8 [n, H, W, "
    "C] in [0, 255], points float32 [n, d]), `step`, `seed`, `labels` for a conditional model "
    "(sample i has class i mod the number of classes) and, for images, `clipped_fraction`: the "
    "share of pixel values that lay outside [-1, 1] and were clipped (also said on stderr).",
    epilog,
  )
  parser.add_argument("workdir", metavar="WORKDIR", help="the workdir of a `jaxgen train` run")
  parser.add_argument("-n", "--num", type=int, default=64, help="how many samples (default 64)")
  parser.add_argument("--out", required=True, help="the file to write: .png or .npz")
  parser.add_argument("--step", type=int, default=None, help="default: the latest checkpoint")
  parser.add_argument("--seed", type=int, default=0, help="the same seed draws the same samples")


def _sample(args: argparse.Namespace, raw_overrides: dict[str, str]) -> None:
  _no_overrides("sample", raw_overrides)
  out = Path(args.out)
  if out.suffix not in SAMPLE_FORMATS:
    suffix = out.suffix or "a name without a suffix"
    raise ConfigError(f"--out {out}: write a .png (a picture) or an .npz (arrays), not {suffix}.")
  if args.num < 1:
    raise ConfigError(f"-n {args.num}: the number of samples to draw must be >= 1.")
  from jaxgen.run import load  # noqa: PLC0415

  run, state = load.load(args.workdir, args.step)
  drawn = load.draw(run, state, args.num, args.seed)
  if drawn.clipped is not None and drawn.clipped.count:
    print(drawn.clipped.describe(), file=sys.stderr, flush=True)
  step = int(state.step)
  if out.suffix == ".png":
    _save_picture(run, drawn.samples, out, f"{run.config.algorithm.name}, step {step}")
  else:
    _save_arrays(run, drawn, out, step, args.seed)
  shape = "x".join(map(str, drawn.samples.shape))
  print(f"{out}: {shape} {drawn.samples.dtype} samples of step {step} (seed {args.seed})")


def _save_picture(run, samples, out: Path, title: str) -> None:
  from jaxgen import evaluators  # noqa: PLC0415
  from jaxgen.run import plots  # noqa: PLC0415

  if samples.ndim == 4:
    columns = run.algorithm.num_classes or None
    plots.save_image_grid(samples / 127.5 - 1.0, out, columns, title)
    return
  facts = evaluators.EvalData(run.dataset, len(samples), 0, ("centers",)).facts
  plots.save_scatter(samples, out, facts.get("centers"), title)


def _save_arrays(run, drawn, out: Path, step: int, seed: int) -> None:
  import numpy as np  # noqa: PLC0415

  from jaxgen.run import files  # noqa: PLC0415

  arrays = {"samples": drawn.samples, "step": np.int64(step), "seed": np.int64(seed)}
  if run.algorithm.num_classes:
    arrays["labels"] = np.arange(len(drawn.samples)) % run.algorithm.num_classes
  if drawn.clipped is not None:
    arrays["clipped_fraction"] = np.float64(drawn.clipped.fraction)
  with files.atomic_path(out) as temporary, open(temporary, "wb") as stream:
    np.savez(stream, **arrays)


# --- list -----------------------------------------------------------------------------------------


def _add_list(commands, epilog: str) -> None:
  parser = _subcommand(
    commands,
    "list",
    _list,
    "List the shipped configs or the components jaxgen knows, from their own declarations.",
    "Without KIND: every kind, names only. `python -m jaxgen.catalogue --markdown` writes "
    "everything with every option (docs/options.md).",
    epilog,
  )
  parser.add_argument("kind", nargs="?", choices=["configs", *CATALOGUE_KINDS], metavar="KIND")
  parser.add_argument("--options", action="store_true", help="each component's options too")
  parser.add_argument(
    "--imports", default="", help="comma-separated modules or .py paths of your own components"
  )


def _list(args: argparse.Namespace, raw_overrides: dict[str, str]) -> None:
  from jaxgen import registry  # noqa: PLC0415

  _no_overrides("list", raw_overrides)
  registry.import_components({"imports": tuple(filter(None, args.imports.split(",")))})
  kinds = [args.kind] if args.kind else ["configs", *CATALOGUE_KINDS]
  sections = _config_section() if "configs" in kinds else []
  sections += _catalogue_sections() if kinds != ["configs"] else []
  for kind in kinds:
    prefix = "Configs" if kind == "configs" else CATALOGUE_KINDS[kind]
    for title, entries in (s for s in sections if s[0].startswith(prefix)):
      if not args.kind:
        print(f"{title}: {', '.join(name for name, _, _ in entries)}")
        continue
      print(title)
      for name, about, rows in entries:
        print(f"  {name}: {about}".rstrip())
        for key, default, doc in rows if args.options else ():
          print(f"      {key} = {default}" + (f"  ({doc})" if doc else ""))


def _catalogue_sections() -> list:
  from jaxgen import catalogue  # noqa: PLC0415

  return list(catalogue.sections())


def _config_section() -> list:
  """[("Configs (...)", [(name, the first line of its docstring, [])])]."""
  import importlib  # noqa: PLC0415

  from jaxgen import configs  # noqa: PLC0415

  entries = []
  for name in configs.names():
    doc = importlib.import_module(f"jaxgen.configs.{name}").__doc__ or ""
    entries.append((name, " ".join(doc.split("\n\n")[0].split()), []))
  return [("Configs (`jaxgen train NAME`)", entries)]


if __name__ == "__main__":
  main()
