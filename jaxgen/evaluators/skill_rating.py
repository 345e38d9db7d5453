"""The "skill_rating" evaluator: a tournament between the generator and discriminator snapshots
of a GAN run (Olsson et al. 2018, "Skill Rating for Generative Models", arXiv:1808.04888), rated
by Glicko-2 (`jaxgen.metrics.skill_rating`).

At each evaluation the current G and D join the tournament and play one rating period: the new D
against every G snapshot so far (its own G included), every earlier D against the new G. A match
between D and G pairs the first `games` held-out examples with as many of G's samples; D judges each
at its threshold (logit 0, D(x) = 1/2) and scores 1, 1/2 or 0 on each pair
(`discriminator_scores`). The match is one Glicko-2 game, scored by D's mean over the pairs:
Glicko-2 models a few games per player and period, and rated as hundreds of games against one
opponent its volatility runs away (a surprise that certain reads as a change of skill). A G
snapshot is kept as the samples it drew (the loop's draw, seed + 1), a D snapshot as its
variables, on the host.

Scores (the current snapshots' ratings after the period; later periods move them again):
- "skill_rating", "skill_rating_std": G's rating and its deviation RD (the rating's standard
  deviation, Glickman 2013), on the Glicko scale (unrated: 1500 +- 350);
- "skill_rating_win_rate": the share of G's samples the D snapshots so far judged real (the
  paper's tournament win rate);
- "discriminator_skill_rating", "discriminator_skill_rating_std": D's rating and RD.
`skill_rating.png` beside the run's pictures shows every snapshot's current rating by step.

D judges batches of the run's batch size drawn from one source (all real or all samples), as it
did in training, in training mode (a batch-norm D normalises by the batch; the last batch is
filled up with the set's first examples) and without instance noise. Only GAN-family runs whose D
gives one logit of P(real) per sample, trained by the sigmoid cross-entropy (loss "minimax" or
"non_saturating"), qualify: a Wasserstein critic's or a relativistic D's output has no threshold.

The tournament lives in the evaluator, for one training process: a resumed run's starts again
from the snapshots it evaluates. `jaxgen eval WORKDIR --evaluators=skill_rating` rates every kept
checkpoint of WORKDIR (and of the `--rivals` workdirs) in one tournament (`jaxgen.run.tournament`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import numpy as np

from jaxgen import losses
from jaxgen.algorithms.critic import logits_of
from jaxgen.algorithms.gan import GAN
from jaxgen.evaluators import BaseEvaluator, Context, register_evaluator
from jaxgen.evaluators.base import algorithm_class
from jaxgen.metrics.skill_rating import (
  Match,
  Rating,
  discriminator_scores,
  rating_period,
)
from jaxgen.nn.traits import LOGIT
from jaxgen.options import Option, integer, number
from jaxgen.run import parallel, plots

PICTURE = "skill_rating.png"
GENERATOR, DISCRIMINATOR = "generator", "discriminator"
ALONE = ""  # the label of a run rated on its own (the training's tournament)

# Judges real/fake: (examples [n, ...], labels [n] or None) -> bool [n] (True: judged real).
Judge = Callable[[np.ndarray, np.ndarray | None], np.ndarray]


def refusal(algorithm) -> str | None:
  """Why the tournament cannot rate `algorithm` (a class or an instance), or None when it can:
  it needs one G and a D that outputs one logit of P(real) per sample."""
  built = algorithm_class(algorithm)
  if built is None:
    return None  # a registered factory: judged once the run has built it
  if not issubclass(built, GAN):
    return (
      f"'skill_rating' rates the generator and discriminator snapshots of a GAN-family run by "
      f"D's real/fake decisions (Olsson et al. 2018); {built.__name__} has no such pair."
    )
  if isinstance(algorithm, type):
    return None  # the rest reads the built instance
  output = algorithm.critic.network.traits.output if algorithm.critic.network else LOGIT
  if output != LOGIT:
    return f"'skill_rating' needs a D with one real/fake logit per sample; this D outputs {output}."
  if len(algorithm.generator_players) != 1:
    return (
      f"'skill_rating' rates one generator against D; this run has "
      f"{len(algorithm.generator_players)} ({', '.join(algorithm.generator_players)})."
    )
  if algorithm.objective.discriminator_loss is not losses.discriminator_minimax_loss:
    return (
      "'skill_rating' reads D's output as the logit of P(real), which only the sigmoid "
      "cross-entropy trains (algorithm.loss 'minimax' or 'non_saturating'); this objective's D "
      "output has no real/fake threshold."
    )
  if algorithm.stabilisers.packing > 1:
    return (
      f"'skill_rating' judges one sample per decision; this D judges packs of "
      f"{algorithm.stabilisers.packing} (algorithm.stabilisers.packing)."
    )
  return None


@register_evaluator("skill_rating")
class SkillRating(BaseEvaluator):
  """Rates the run's G and D snapshots in one tournament; see the module docstring."""

  OPTIONS = (
    Option(
      "games",
      256,
      "sample pairs of a (G, D) match: real examples and G's samples that D judges",
      check=integer(1),
    ),
    Option(
      "tau",
      0.5,
      "Glicko-2's system constant, the volatility's step bound (Glickman 2013: 0.3-1.2)",
      check=number(0.0, open_low=True),
    ),
  )
  # `jaxgen eval` rates every kept checkpoint in one tournament (jaxgen.run.tournament).
  RATES_CHECKPOINTS = True

  def __init__(self, config, options):
    """See `BaseEvaluator`; the tournament lives as long as the evaluator (the run)."""
    super().__init__(config, options)
    self.tournament = Tournament(options.tau)

  @classmethod
  def check(cls, options, algorithm, facts) -> None:
    """A GAN-family run whose D gives a logit of P(real) per sample (`refusal`)."""
    reason = refusal(algorithm)
    if reason:
      raise ValueError(reason)

  def __call__(self, context: Context) -> dict[str, float]:
    """The current G's and D's ratings after they joined the tournament and played one period;
    redraws `skill_rating.png` beside `context.picture`."""
    snapshot = take_snapshot(
      context.algorithm,
      context.state,
      ALONE,
      context.step,
      context.sample(self.options.games),
      real_examples(context.data.every_held_out, self.options.games, context.algorithm),
      int(self.config.batch_size),
    )
    self.tournament.play([snapshot])
    if context.picture is not None and parallel.is_writer():
      draw_ratings(self.tournament.standings(), context.picture.with_name(PICTURE), context.heading)
    return self.tournament.scores(snapshot.label, snapshot.step)


@dataclasses.dataclass(frozen=True)
class Snapshot:
  """A G and a D of one run at one step, as the tournament keeps them.

  Attributes:
    label: the run's name in the tournament ("" for a run rated alone).
    step: the training step of the snapshot.
    samples: G's samples [games, ...] and `sample_labels` [games] (None: unconditional).
    judge: D's decisions on examples (`Judge`).
    real_judged_real: D's decisions on the tournament's real examples, bool [games].
  """

  label: str
  step: int
  samples: np.ndarray
  sample_labels: np.ndarray | None
  judge: Judge
  real_judged_real: np.ndarray


def real_examples(held_out: dict, games: int, algorithm) -> tuple[np.ndarray, np.ndarray | None]:
  """The first `games` of the data's held-out examples (`EvalData.every_held_out`: never trained
  on) and, for a D conditioned on classes, their labels."""
  x = held_out["x"]
  if len(x) < games:
    raise ValueError(
      f"skill_rating's games = {games} needs as many held-out examples; the data set holds "
      f"{len(x)}. Lower games to {len(x)} or fewer."
    )
  labels = held_out["y"][:games] if algorithm.discriminator_classes else None
  return np.asarray(x[:games]), labels


def take_snapshot(
  algorithm: GAN, state, label: str, step: int, samples, real, batch_size: int
) -> Snapshot:
  """The snapshot of `state`: G's `samples` (a conditional G's sample i has class i % classes,
  as `GAN.sample` draws them) and D, with D's decisions on `real` = (examples, labels)."""
  reason = refusal(algorithm)
  if reason:
    raise ValueError(reason)
  samples = np.asarray(samples)
  classes = algorithm.discriminator_classes
  sample_labels = np.arange(len(samples)) % classes if classes else None
  judge = discriminator_judge(algorithm, state, batch_size)
  return Snapshot(label, int(step), samples, sample_labels, judge, judge(*real))


def discriminator_judge(algorithm: GAN, state, batch_size: int) -> Judge:
  """D of `state` (its variables copied to the host) as a `Judge`: logit > 0 is "real"."""
  player = state.players[DISCRIMINATOR]
  params, model_state = jax.device_get((player.params, player.model_state))
  logits = _logits_function(algorithm.critic)

  def judge(examples: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    count = len(examples)
    # Whole batches of one source, as D saw them in training; the last is filled up with the
    # set's first examples (a batch-norm D normalises by the batch).
    rows = np.arange(math.ceil(count / batch_size) * batch_size) % count
    values = [
      np.asarray(logits(params, model_state, examples[r], None if labels is None else labels[r]))
      for r in rows.reshape(-1, batch_size)
    ]
    return np.concatenate(values)[:count].reshape(count) > 0

  return judge


# id(critic) -> (critic, its jitted logits): one compilation per critic, whichever snapshot.
_LOGITS: dict[int, tuple[object, Callable]] = {}


def _logits_function(critic):
  """D's logits on examples, jitted once per critic (snapshots differ only in values)."""
  if id(critic) not in _LOGITS:  # the critic is kept beside its function: its id stays its own
    function = lambda params, state, x, labels: logits_of(critic(params, state, x, labels)[0])
    _LOGITS[id(critic)] = (critic, jax.jit(function))
  return _LOGITS[id(critic)][1]


class Tournament:
  """Glicko-2 ratings of G and D snapshots (of one run or several), one rating period per call
  of `play`; see the module docstring. Players are keyed (role, label, step)."""

  def __init__(self, tau: float):
    """An empty tournament with Glicko-2's system constant `tau`."""
    self.tau = tau
    self.ratings: dict[tuple[str, str, int], Rating] = {}
    self.snapshots: dict[tuple[str, int], Snapshot] = {}
    self.fooled: dict[tuple[str, int], list[int]] = {}  # G: [samples judged real, samples judged]

  def play(self, entrants: Sequence[Snapshot]) -> None:
    """One rating period: `entrants` join; every match between a G and a D of which at least
    one is new is played (one Glicko-2 game each), and every player is rated at once."""
    for snapshot in entrants:
      key = (snapshot.label, snapshot.step)
      if key in self.snapshots:
        raise ValueError(f"Snapshot {key} is in the tournament already; each enters once.")
      self.snapshots[key] = snapshot
      self.fooled[key] = [0, 0]
    new = {(s.label, s.step) for s in entrants}
    matches = [
      self._match(d_key, g_key)
      for d_key in self.snapshots
      for g_key in self.snapshots
      if d_key in new or g_key in new
    ]
    self.ratings = rating_period(self.ratings, matches, self.tau)

  def _match(self, d_key: tuple[str, int], g_key: tuple[str, int]) -> Match:
    """D of `d_key` against G of `g_key`, one game scored by D's mean over the sample pairs;
    counts G's samples judged real."""
    d, g = self.snapshots[d_key], self.snapshots[g_key]
    if len(g.samples) != len(d.real_judged_real):
      raise ValueError(
        f"Every match has the same sample pairs: G {g_key} has {len(g.samples)} samples, "
        f"D {d_key} judged {len(d.real_judged_real)} real examples."
      )
    fake_judged_real = d.judge(g.samples, g.sample_labels)
    self.fooled[g_key][0] += int(np.count_nonzero(fake_judged_real))
    self.fooled[g_key][1] += len(fake_judged_real)
    # One Glicko-2 game per match, scored by D's mean over the sample pairs: Glicko-2 models a
    # few games a period; hundreds against one opponent make its volatility run away.
    score = discriminator_scores(d.real_judged_real, fake_judged_real).mean()
    return Match((DISCRIMINATOR, *d_key), (GENERATOR, *g_key), [score])

  def scores(self, label: str, step: int) -> dict[str, float]:
    """The evaluator's scores of the snapshot (label, step); see the module docstring."""
    g, d = self.ratings[(GENERATOR, label, step)], self.ratings[(DISCRIMINATOR, label, step)]
    judged_real, judged = self.fooled[(label, step)]
    return {
      "skill_rating": g.rating,
      "skill_rating_std": g.deviation,
      "skill_rating_win_rate": judged_real / judged,
      "discriminator_skill_rating": d.rating,
      "discriminator_skill_rating_std": d.deviation,
    }

  def standings(self) -> list[dict]:
    """One record per snapshot, by run then step: {"label", "step", **`scores`}."""
    return [
      {"label": label, "step": step, **self.scores(label, step)}
      for label, step in sorted(self.snapshots)
    ]


def draw_ratings(standings: Sequence[dict], path: str | Path, heading: str = "") -> None:
  """One panel: each G and D snapshot's rating by step (error bars: +- RD), one line per run
  and role; written atomically to `path`."""
  plt = plots.pyplot()
  fig, ax = plt.subplots(figsize=(6.4, 3.8))
  labels = sorted({record["label"] for record in standings})
  for index, label in enumerate(labels):
    kept = [r for r in standings if r["label"] == label]
    steps = np.array([r["step"] for r in kept], np.float64)
    colour = f"C{index % 10}"
    for prefix, style, role in (("", "-o", "generators"), ("discriminator_", "--s", "discrim.")):
      ax.errorbar(
        steps,
        [r[f"{prefix}skill_rating"] for r in kept],
        yerr=[r[f"{prefix}skill_rating_std"] for r in kept],
        fmt=style,
        color=colour,
        markersize=4,
        capsize=3,
        linewidth=1,
        label=f"{label + ' ' if label else ''}{role}",
      )
  ax.axhline(1500.0, color="grey", linewidth=0.5)  # an unrated player's rating
  ax.set_xlabel("step")
  ax.set_ylabel("Glicko-2 rating (+- RD)")
  ax.legend(fontsize=8)
  title = "skill rating (Olsson et al. 2018): each snapshot's rating after the last period"
  ax.set_title(f"{heading}\n{title}" if heading else title, fontsize=9)
  fig.tight_layout()
  plots.save_figure(fig, path)
