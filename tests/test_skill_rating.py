"""Skill rating (Olsson et al. 2018): Glicko-2 against Glickman's worked example and the PyPI
`glicko2` package, the tournament's game rule by hand, synthetic players of known strength, the
"skill_rating" evaluator in a tiny gan_ring8 run and through `jaxgen eval`, and its refusals."""

import json
import math
import shutil
import sys
from pathlib import Path

import glicko2
import hang_guard
import numpy as np
import pytest
import tiny_ring8_config

from jaxgen import cli, evaluators
from jaxgen.configs import vae_digits, wgan_ring8
from jaxgen.errors import ConfigError
from jaxgen.evaluators import skill_rating as evaluator
from jaxgen.metrics.skill_rating import (
  Match,
  Rating,
  discriminator_scores,
  expected_score,
  glicko2_update,
  impact,
  rating_period,
  win_rate,
)
from jaxgen.run import tournament, train
from jaxgen.run.overrides import apply_overrides

ROOT = Path(__file__).resolve().parents[1]
SCALE = 173.7178  # Glickman 2013, step 2

# --- Glicko-2: Glickman's worked example ("Example of the Glicko-2 system", 2013) -----------------

PLAYER = Rating(1500.0, 200.0, 0.06)
OPPONENTS = [Rating(1400.0, 30.0), Rating(1550.0, 100.0), Rating(1700.0, 300.0)]
RESULTS = [1.0, 0.0, 0.0]


def test_glickmans_example_steps_2_to_4_at_the_published_digits():
  """mu_j, phi_j (step 2), g(phi_j) and E (step 3) as printed; v and Delta within the rounding
  Glickman carried: he sums g and E rounded to 4 and 3 places (v = 1.7785, Delta = -0.4834),
  which this test redoes by hand to show the gap to the exact values is his rounding."""
  mu = np.array([o.mu for o in OPPONENTS])
  phi = np.array([o.phi for o in OPPONENTS])
  np.testing.assert_array_equal(np.round(mu, 4), [-0.5756, 0.2878, 1.1513])
  np.testing.assert_array_equal(np.round(phi, 4), [0.1727, 0.5756, 1.7269])
  g, e = impact(phi), expected_score(PLAYER.mu, mu, phi)
  np.testing.assert_array_equal(np.round(g, 4), [0.9955, 0.9531, 0.7242])
  np.testing.assert_array_equal(np.round(e, 3), [0.639, 0.432, 0.303])
  g_printed, e_printed = np.array([0.9955, 0.9531, 0.7242]), np.array([0.639, 0.432, 0.303])
  v_printed = 1 / np.sum(g_printed**2 * e_printed * (1 - e_printed))
  delta_printed = v_printed * np.sum(g_printed * (np.array(RESULTS) - e_printed))
  assert (round(v_printed, 4), round(delta_printed, 4)) == (1.7785, -0.4834)
  v = 1 / np.sum(g**2 * e * (1 - e))
  assert abs(v - 1.7785) < 1e-3 and abs(v * np.sum(g * (np.array(RESULTS) - e)) + 0.4834) < 1e-3


def test_glickmans_example_result_at_the_published_digits():
  """mu' = -0.2069, phi' = 0.8722 (step 7), RD' = 151.52, the volatility iteration's final
  A = -5.62696 and sigma' = 0.05999 (step 5, printed cut, not rounded: e^(A/2) = 0.059996), and
  r' = 1464.06, which Glickman computes from mu' rounded to 4 places (173.7178 * -0.2069 + 1500)."""
  new = glicko2_update(PLAYER, OPPONENTS, RESULTS, tau=0.5)
  assert (round(new.mu, 4), round(new.phi, 4), round(new.deviation, 2)) == (-0.2069, 0.8722, 151.52)
  assert round(2 * math.log(new.volatility), 5) == -5.62696
  assert 0.05999 <= new.volatility < 0.06
  assert round(SCALE * round(new.mu, 4) + 1500, 2) == 1464.06
  assert abs(new.rating - 1464.06) < 0.01


# --- Glicko-2 against the PyPI `glicko2` package (2.1.0, a port of Glickman's example) ----------


class GlickmanPlayer(glicko2.Player):
  """glicko2 2.1.0's `Player` with step 5's f as Glickman writes it: f(x) = e^x (Delta^2 - phi^2
  - v - e^x) / (2 (phi^2 + v + e^x)^2) - (x - a) / tau^2. The package's `_f` reads the rating mu
  where f has the deviation phi (`test_the_package_alone_misses_glickmans_volatility`)."""

  def _f(self, x, delta, v, a):
    ex, phi_squared = math.exp(x), self._Player__rd**2
    value = ex * (delta**2 - phi_squared - v - ex) / (2 * (phi_squared + v + ex) ** 2)
    return value - (x - a) / self._tau**2


def _reference(player: Rating, opponents, scores, tau: float, cls=GlickmanPlayer) -> Rating:
  """The package's update of `player` (its `did_not_compete` without games)."""
  reference = cls(player.rating, player.deviation, player.volatility)
  reference._tau = tau
  if opponents:
    ratings, deviations = [o.rating for o in opponents], [o.deviation for o in opponents]
    reference.update_player(ratings, deviations, list(scores))
  else:
    reference.did_not_compete()
  return Rating(reference.rating, reference.rd, reference.vol)


def test_the_package_alone_misses_glickmans_volatility():
  """Unpatched, glicko2 2.1.0 ends the example's iteration at A = -5.62704, not Glickman's
  -5.62696 (sigma' 0.0599934 vs 0.0599960); with f as Glickman writes it, it agrees with him."""
  unpatched = _reference(PLAYER, OPPONENTS, RESULTS, 0.5, cls=glicko2.Player)
  assert round(2 * math.log(unpatched.volatility), 5) == -5.62704
  patched = _reference(PLAYER, OPPONENTS, RESULTS, 0.5)
  assert round(2 * math.log(patched.volatility), 5) == -5.62696


def _random_period(rng):
  """A random player, opponents (1 to 20, some met twice), scores in {0, 1/2, 1} and tau."""
  player = Rating(rng.uniform(1000, 2200), rng.uniform(30, 350), rng.uniform(0.02, 0.12))
  count = int(rng.integers(1, 21))
  opponents = [Rating(rng.uniform(1000, 2200), rng.uniform(30, 350)) for _ in range(count)]
  opponents += opponents[: int(rng.integers(0, 3))]
  scores = rng.choice([0.0, 0.5, 1.0], size=len(opponents))
  return player, opponents, scores, float(rng.choice([0.3, 0.5, 0.8, 1.2]))


@pytest.mark.parametrize("seed", range(8))
def test_random_rating_periods_match_the_package(seed):
  """Random periods (and a player who did not play): r', RD', sigma' equal the reference's."""
  rng = np.random.default_rng(seed)
  for _ in range(25):
    player, opponents, scores, tau = _random_period(rng)
    ours, reference = (
      glicko2_update(player, opponents, scores, tau),
      _reference(player, opponents, scores, tau),
    )
    np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=0)
  alone = glicko2_update(player, [], [], tau)
  np.testing.assert_allclose(alone, _reference(player, [], [], tau), rtol=1e-12)


def test_a_rating_period_updates_everyone_at_once_from_the_ratings_before_it():
  """Each player's result is the package's update against its opponents' pre-period ratings;
  a player who met nobody only has its deviation grow (step 6); a newcomer enters unrated."""
  before = {"a": Rating(1600, 80, 0.05), "b": Rating(1450, 150, 0.07), "idle": Rating(1500, 60)}
  matches = [Match("a", "b", [1, 0.5, 0, 1]), Match("new", "a", [0, 0])]
  after = rating_period(before, matches, tau=0.5)
  new = Rating()
  a_opponents = [before["b"]] * 4 + [new] * 2
  expected = {
    "a": _reference(before["a"], a_opponents, [1, 0.5, 0, 1, 1, 1], 0.5),
    "b": _reference(before["b"], [before["a"]] * 4, [0, 0.5, 1, 0], 0.5),
    "new": _reference(new, [before["a"]] * 2, [0, 0], 0.5),
    "idle": _reference(before["idle"], [], [], 0.5),
  }
  assert sorted(after) == sorted(expected)
  for name, rating in expected.items():
    np.testing.assert_allclose(after[name], rating, rtol=1e-10)


@pytest.mark.parametrize(
  ("call", "message"),
  [
    (lambda: Match("a", "b", [1, 2]), "must lie in [0, 1]"),
    (lambda: Match("a", "b", []), "has no game"),
    (lambda: Match("a", "a", [1]), "cannot play itself"),
    (lambda: glicko2_update(PLAYER, OPPONENTS, [1, 0]), "one score per opponent"),
    (lambda: glicko2_update(PLAYER, OPPONENTS, RESULTS, tau=0), "tau must be"),
    (lambda: glicko2_update(Rating(1500, 0), OPPONENTS, RESULTS), "RD > 0"),
    (lambda: discriminator_scores([True], [True, False]), "as many decisions"),
    (lambda: discriminator_scores([1, 0], [True, False]), "boolean vector"),
  ],
)
def test_bad_input_is_refused_in_one_line(call, message):
  with pytest.raises(ValueError) as error:
    call()
  assert message in str(error.value) and "\n" not in str(error.value)


# --- The game (Olsson et al. 2018, sec. 3) -------------------------------------------------------


def test_d_earns_half_a_point_per_right_call():
  """Right about both: D wins (1); wrong about both: G wins (0); one of each: a draw (1/2). G's
  win rate is the share of its samples D called real."""
  real_judged_real = np.array([True, True, False, False])
  fake_judged_real = np.array([False, True, False, True])
  np.testing.assert_array_equal(
    discriminator_scores(real_judged_real, fake_judged_real), [1.0, 0.5, 0.5, 0.0]
  )
  assert win_rate(fake_judged_real) == 0.5


GAMES = 400


def _synthetic_snapshot(step, d_strength, g_strength, real, rng):
  """A snapshot whose D calls a real example real with probability sigmoid(a) and a sample of a
  G of strength b real with probability sigmoid(b - a) (a Bradley-Terry game); an example is
  (b, u): b = NaN for real data, u ~ U(0, 1) the example's own draw."""
  sigmoid = lambda x: 1 / (1 + np.exp(-x))

  def judge(examples, labels):
    b, u = examples[:, 0], examples[:, 1]
    return np.where(np.isnan(b), u < sigmoid(d_strength), u < sigmoid(b - d_strength))

  samples = np.stack([np.full(GAMES, g_strength), rng.uniform(size=GAMES)], axis=1)
  return evaluator.Snapshot("", step, samples, None, judge, judge(real, None))


def test_a_tournament_orders_synthetic_players_by_their_strength():
  """Five periods, a new (G, D) pair each, strengths shuffled against the order of entry: the
  final ratings order the generators and the discriminators as their strengths."""
  rng = np.random.default_rng(0)
  g_strengths, d_strengths = [0.5, -1.0, 2.0, 0.0, 1.0], [1.0, 2.0, -1.0, 0.5, 0.0]
  real = np.stack([np.full(GAMES, np.nan), rng.uniform(size=GAMES)], axis=1)
  tournament_ = evaluator.Tournament(tau=0.5)
  for step, (a, b) in enumerate(zip(d_strengths, g_strengths, strict=True)):
    tournament_.play([_synthetic_snapshot(step, a, b, real, rng)])
  standings = tournament_.standings()
  g_ratings = [r["skill_rating"] for r in standings]
  d_ratings = [r["discriminator_skill_rating"] for r in standings]
  assert np.argsort(g_ratings).tolist() == np.argsort(g_strengths).tolist()
  assert np.argsort(d_ratings).tolist() == np.argsort(d_strengths).tolist()
  with pytest.raises(ValueError, match="each enters once"):
    tournament_.play([_synthetic_snapshot(0, 0.0, 0.0, real, rng)])


# --- The evaluator in a tiny gan_ring8 run, and `jaxgen eval` ----------------------------------

TINY = {"batch_size": 32, "num_steps": 6, "eval_every": 2, "checkpoint_every": 2}
TINY |= {"keep_checkpoints": 3, "log_every": 2, "progress_bar": False, "eval.num_samples": 64}
GAMES_DEFAULT = 256  # the evaluator's default `games`: `jaxgen eval --evaluators=NAME` takes it


@pytest.fixture(scope="module")
def ring8(tmp_path_factory):
  """A tiny gan_ring8 run scored by "skill_rating" at steps 2, 4, 6 (checkpoints kept there)."""
  config = tiny_ring8_config.get_config()
  apply_overrides(config, {**TINY, "eval.evaluators": ("skill_rating",)})
  workdir = tmp_path_factory.mktemp("skill") / "ring8"
  train.train_and_evaluate(config, workdir)
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return workdir, {r["step"]: r for r in records if "eval/skill_rating" in r}


def _decisions(run, state, examples):
  """D's calls (logit > 0) on `examples`, in batches of 32 as it trained, by hand."""
  d = state.players["discriminator"]
  logits = [
    run.algorithm.critic(d.params, d.model_state, examples[i : i + 32], None)[0]
    for i in range(0, len(examples), 32)
  ]
  return np.concatenate([np.asarray(x) for x in logits]) > 0


def test_the_first_evaluation_is_one_match_of_g_against_d(ring8):
  """At step 2 the tournament holds G_2 and D_2: their ratings are the reference's update of two
  unrated players after one game, D's mean score over 256 pairs scored by hand from its calls."""
  workdir, scores = ring8
  run = train.Run(train.recorded_config(workdir))
  state = train.restore_state(run, workdir, 2)
  real = run.dataset.eval_data(None, seed=run.config.seed + 1)["x"][:GAMES_DEFAULT]
  fake = run.sample(state, GAMES_DEFAULT, seed=run.config.seed + 1)
  real_ok, fake_real = _decisions(run, state, real), _decisions(run, state, fake)
  d_score = np.mean(0.5 * real_ok + 0.5 * ~fake_real)
  g = _reference(Rating(), [Rating()], [1 - d_score], 0.5)
  d = _reference(Rating(), [Rating()], [d_score], 0.5)
  logged = scores[2]
  np.testing.assert_allclose(
    [logged["eval/skill_rating"], logged["eval/skill_rating_std"]], g[:2], rtol=1e-6
  )
  np.testing.assert_allclose(logged["eval/discriminator_skill_rating"], d.rating, rtol=1e-6)
  assert logged["eval/skill_rating_win_rate"] == pytest.approx(fake_real.mean())
  assert sorted(scores) == [2, 4, 6] and (workdir / evaluator.PICTURE).is_file()


def test_jaxgen_eval_rates_every_kept_checkpoint_as_training_did(ring8):
  """`jaxgen eval W --evaluators=skill_rating` replays the periods from the kept checkpoints: the
  last snapshot's ratings are the ones the run logged at that step."""
  workdir, scores = ring8
  command = [sys.executable, "-m", "jaxgen.cli", "eval", str(workdir), "--evaluators=skill_rating"]
  result = hang_guard.run(command, capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.startswith("| step | num_samples | evaluators | skill_rating |")
  records = json.loads((workdir / "evaluation.json").read_text())
  assert [r["step"] for r in records] == [2, 4, 6]
  for key in ("skill_rating", "skill_rating_std", "discriminator_skill_rating"):
    assert records[-1][key] == pytest.approx(scores[6][f"eval/{key}"], rel=1e-9)
  assert (workdir / tournament.PICTURE).read_bytes()[:4] == b"\x89PNG"


def test_two_copies_of_a_run_are_rated_alike(ring8, tmp_path):
  """A run and its copy as rivals: snapshots of one step are the same players, and rated alike."""
  workdir, _ = ring8
  copy = shutil.copytree(workdir, tmp_path / "copy" / workdir.name)
  config = train.recorded_config(workdir)
  config.eval.evaluators = ("skill_rating",)
  standings = tournament.rate_checkpoints(workdir, config, [copy], tmp_path / "t.png")
  by_run = {}
  for record in standings:
    by_run.setdefault(record["run"], []).append(record)
  first, second = by_run.values()
  for a, b in zip(first, second, strict=True):
    assert a["step"] == b["step"]
    assert a["skill_rating"] == pytest.approx(b["skill_rating"], rel=1e-9)


# --- Refusals ------------------------------------------------------------------------------------


def _one_line(error) -> str:
  text = str(error.value)
  assert "\n" not in text
  return text


@pytest.mark.parametrize(
  ("make", "message"),
  [
    (vae_digits.get_config, "'skill_rating' rates the generator and discriminator snapshots"),
    (wgan_ring8.get_config, "only the sigmoid cross-entropy trains"),
  ],
)
def test_runs_without_a_logit_discriminator_are_refused(make, message):
  config = make()
  config.eval.evaluators = ("skill_rating",)
  with pytest.raises(ConfigError) as error:
    train.Run(config)
  assert message in _one_line(error)


def test_a_tournament_of_one_snapshot_and_mixed_evaluators_are_refused(ring8, tmp_path):
  workdir, _ = ring8
  alone = shutil.copytree(workdir, tmp_path / "alone")
  for step in (2, 4):
    shutil.rmtree(alone / "checkpoints" / str(step))
  config = train.recorded_config(alone)
  config.eval.evaluators = ("skill_rating",)
  with pytest.raises(ConfigError) as error:
    tournament.rate_checkpoints(alone, config)
  assert "keeps 1 checkpoint(s)" in _one_line(error)
  config.eval.evaluators = ("skill_rating", "points")
  with pytest.raises(ConfigError) as error:
    tournament.rates_checkpoints(config)
  assert "run it alone (--evaluators=skill_rating)" in _one_line(error)
  assert "skill_rating" in evaluators.EVALUATORS


@pytest.mark.parametrize(
  ("args", "message"),
  [
    (["--evaluators=skill_rating", "--step=4"], "rates every kept checkpoint in one tournament"),
    (["--evaluators=points", "--rivals=elsewhere"], "--rivals joins a skill_rating tournament"),
  ],
)
def test_jaxgen_eval_refuses_a_step_or_rivals_that_do_not_apply(ring8, args, message, capsys):
  workdir, _ = ring8
  with pytest.raises(SystemExit) as status:
    cli.main(["eval", str(workdir), *args])
  error = capsys.readouterr().err.strip()
  assert status.value.code == 2 and message in error and len(error.splitlines()) == 1
