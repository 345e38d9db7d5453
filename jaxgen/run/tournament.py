"""Skill rating of kept checkpoints: every kept checkpoint of a workdir (and of rival workdirs)
in one tournament of Glicko-2 rating periods (Olsson et al. 2018; the evaluator
`jaxgen.evaluators.skill_rating`). `jaxgen eval WORKDIR --evaluators=skill_rating
[--rivals=DIR,...]` runs it.

The snapshots enter in the order of their steps, all runs' snapshots of one step together, and
each entry is one rating period, as the evaluator plays them during training: a run evaluated by
"skill_rating" at the steps it kept gets the same ratings here. Each snapshot draws its samples as
its run's loop does (seed + 1); every D judges the first workdir's held-out examples, so the runs
must share a data set. Nothing in the workdirs is moved or written but the picture
(`skill_rating_tournament.png` in WORKDIR).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path

from jaxgen import evaluators, registry
from jaxgen.errors import ConfigError
from jaxgen.evaluators import skill_rating
from jaxgen.run import checkpoint, plots, train

PICTURE = "skill_rating_tournament.png"

__all__ = ["PICTURE", "kept_steps", "labels", "rate_checkpoints", "rates_checkpoints"]


def rates_checkpoints(config) -> bool:
  """Whether `config.eval.evaluators` names an evaluator that rates every kept checkpoint in one
  tournament (`RATES_CHECKPOINTS`); it must then be the only one named."""
  registry.import_components(config)  # a user's evaluators, before their names are looked up
  entries = config.eval.get("evaluators") or ()
  names = [entry if isinstance(entry, str) else entry["name"] for entry in entries]
  rating = [name for name in names if evaluators.get(name).RATES_CHECKPOINTS]
  if rating and len(names) > 1:
    raise ConfigError(
      f"--evaluators = {','.join(names)}: {rating[0]!r} rates every kept checkpoint in one "
      f"tournament, the others score one checkpoint; run it alone (--evaluators={rating[0]})."
    )
  return bool(rating)


def kept_steps(workdir: str | Path) -> list[int]:
  """The steps of the checkpoints kept in `workdir`, oldest first (read without the lock)."""
  if not (Path(workdir) / "checkpoints").is_dir():
    return []
  reader = checkpoint.Checkpointer(workdir, read_only=True)
  try:
    return sorted(reader.manager.all_steps())
  finally:
    reader.close()


@dataclasses.dataclass
class _Entrant:
  """A workdir in the tournament: its label, run, kept steps and checkpoint reader."""

  label: str
  workdir: Path
  run: train.Run
  steps: list[int]

  @functools.cached_property
  def state_like(self):
    """The run's initial state: the structure its checkpoints are read into."""
    return self.run.init_state()


def rate_checkpoints(
  workdir: str | Path, config, rivals: Sequence[str | Path] = (), picture: Path | None = None
) -> list[dict]:
  """Every kept checkpoint of `workdir` (run with `config`, which names "skill_rating") and of
  the `rivals` workdirs (their recorded configs) in one tournament; draws the ratings at
  `picture` (None: `WORKDIR/skill_rating_tournament.png`).

  Returns one record per snapshot, by run then step: {"run": the workdir's name ("" when it is
  rated alone), "step", "skill_rating", "skill_rating_std", "skill_rating_win_rate",
  "discriminator_skill_rating", "discriminator_skill_rating_std"}. Raises `ConfigError` (one
  line) when a run is no GAN with a logit D, the data sets differ, or fewer than two snapshots
  are kept.
  """
  workdir = Path(workdir)
  lead = train.Run(config)  # refuses a run "skill_rating" cannot rate (the evaluator's check)
  (evaluation,) = lead.evaluations
  options = evaluation.options
  entrants = [_Entrant("", workdir, lead, kept_steps(workdir))]
  for rival in map(Path, rivals):
    entrants.append(_rival(rival, config))
  for entrant, label in zip(entrants, labels(workdir, rivals), strict=True):
    entrant.label = label
  _check_snapshots(entrants)
  held_out = lead.dataset.eval_data(None, seed=config.seed + 1)  # as the loop's `every_held_out`
  tournament = skill_rating.Tournament(options["tau"])
  readers = {e.label: checkpoint.Checkpointer(e.workdir, read_only=True) for e in entrants}
  try:
    for step in sorted({step for entrant in entrants for step in entrant.steps}):
      entering = [e for e in entrants if step in e.steps]
      snapshots = [
        _snapshot(e, readers[e.label], step, held_out, options["games"]) for e in entering
      ]
      tournament.play(snapshots)
  finally:
    for reader in readers.values():
      reader.close()
  standings = [{"run": r.pop("label"), **r} for r in tournament.standings()]
  count = sum(len(e.steps) for e in entrants)
  title = f"{plots.run_title(config, workdir)}, {count} kept checkpoints in one tournament"
  drawn = [{"label": r["run"], **r} for r in standings]
  skill_rating.draw_ratings(drawn, picture or workdir / PICTURE, title)
  return standings


def labels(workdir: str | Path, rivals: Sequence[str | Path] = ()) -> list[str]:
  """The names of the runs in the tournament, `workdir`'s first: "" for a run rated alone; with
  rivals, each workdir's name (its path where names repeat)."""
  paths = [Path(workdir), *map(Path, rivals)]
  if len(paths) == 1:
    return [""]
  names = [path.name for path in paths]
  return [path.name if names.count(path.name) == 1 else str(path) for path in paths]


def _rival(workdir: Path, config) -> _Entrant:
  """A rival workdir as an entrant: its recorded config, refused when "skill_rating" cannot rate
  it or its data set is not `config`'s."""
  rival_config = train.recorded_config(workdir)
  data, rival_data = config.data.to_dict(), rival_config.data.to_dict()
  if data != rival_data:
    raise ConfigError(
      f"--rivals: {workdir} trained on data {rival_data}, not {data}: a tournament's "
      "discriminators judge one data set; name rivals of the same data."
    )
  run = train.Run(rival_config)
  reason = skill_rating.refusal(run.algorithm)
  if reason:
    raise ConfigError(f"--rivals: {workdir}: {reason}")
  return _Entrant(workdir.name, workdir, run, kept_steps(workdir))


def _check_snapshots(entrants: Sequence[_Entrant]) -> None:
  """A tournament needs two snapshots or more; a one-line `ConfigError` otherwise."""
  count = sum(len(entrant.steps) for entrant in entrants)
  if count < 2:
    where = ", ".join(str(entrant.workdir) for entrant in entrants)
    raise ConfigError(
      f"skill_rating plays snapshots against each other and {where} keeps {count} checkpoint(s); "
      "keep more (--config.keep_checkpoints, --config.checkpoint_every) or add --rivals=DIR."
    )


def _snapshot(entrant: _Entrant, reader, step: int, held_out: dict, games: int):
  """The snapshot of `entrant`'s checkpoint `step` (read by `reader`, verified against its
  digest): its samples as its loop draws them (seed + 1) and its D's decisions on the
  tournament's real examples."""
  run = entrant.run
  state = reader.restore(entrant.state_like, step)
  samples = run.sample(state, games, seed=run.config.seed + 1)
  real = skill_rating.real_examples(held_out, games, run.algorithm)
  batch_size = int(run.config.batch_size)
  return skill_rating.take_snapshot(
    run.algorithm, state, entrant.label, step, samples, real, batch_size
  )
