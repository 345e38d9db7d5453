"""The Geometry Score (Khrulkov & Oseledets 2018): RLT of hand-built persistence diagrams against
hand integrations, MRLT of point clouds whose loops are known, the score's algebra, the authors'
published example, the refusals, and the "geometry_score" evaluator on points, images and from
the command line."""

import json
import math
import sys
import types

import ml_collections
import numpy as np
import pytest

from jaxgen import data
from jaxgen.errors import ConfigError
from jaxgen.evaluators import Context, EvalData, configured
from jaxgen.evaluators.geometry_score import GeometryScore
from jaxgen.metrics.geometry_score import (
  geometry_score,
  geometry_score_of,
  relative_living_times,
  relative_living_times_of_bars,
  require_gudhi,
)
from jaxgen.run import train

INF = math.inf
# The authors' settings for their 2-D examples (examples-basic.ipynb): 32 landmarks, gamma = 1/8.
TOY = {"num_landmarks": 32, "gamma": 1 / 8, "i_max": 100, "num_repetitions": 10}


@pytest.fixture(scope="module")
def gudhi():
  """gudhi, which the witness complexes need (`pip install gudhi`); the tests skip without it."""
  return pytest.importorskip("gudhi")


def circle(rng, num, center=(0.0, 0.0), noise=0.05):
  """`num` points of the unit circle around `center` plus Gaussian noise (the authors'
  `gs.circle`)."""
  phi = rng.uniform(0, 2 * np.pi, num)
  return np.c_[center[0] + np.sin(phi), center[1] + np.cos(phi)] + noise * rng.normal(size=(num, 2))


def filled_circle(rng, num, noise=0.05):
  """`num` points uniform in the unit disc plus Gaussian noise (the authors' `gs.filled_circle`)."""
  square = rng.uniform(-1, 1, (4 * num, 2))
  return square[np.linalg.norm(square, axis=1) < 1][:num] + noise * rng.normal(size=(num, 2))


# --- RLT of one diagram, against integrations by hand ---------------------------------------------

# (bars, alpha_max, RLT written out by hand: the lengths of the pieces of [0, alpha_max] where
# 0, 1, 2, ... bars are alive, divided by alpha_max).
HAND_DIAGRAMS = [
  # [0, .1): none, [.1, .3): one, [.3, .5): two, [.5, 1): one (the infinite bar to alpha_max).
  ([[0.1, 0.5], [0.3, INF]], 1.0, [0.1, 0.2 + 0.5, 0.2]),
  # [0, 1): two, [1, 2): three, [2, 3): one, [3, 4): none.
  ([[0, 2], [0, 2], [1, 3]], 4.0, [0.25, 0.25, 0.25, 0.25]),
  # No bar: no loop the whole time (the authors' `relative`: rlt[0] = 1).
  ([], 2.0, [1.0]),
  # A bar of length 0 lives no time; one alive from 0 to alpha_max lives all of it.
  ([[0.5, 0.5]], 2.0, [1.0]),
  ([[0.0, INF]], 3.0, [0.0, 1.0]),
  # Bars that meet: [0, 1) and [1, 2) never overlap (a bar is alive on [birth, death)).
  ([[0, 1], [1, 2]], 2.0, [0.0, 1.0]),
]


@pytest.mark.parametrize(("bars", "alpha_max", "expected"), HAND_DIAGRAMS)
def test_rlt_of_a_hand_built_diagram_is_its_hand_integration(bars, alpha_max, expected):
  rlt = relative_living_times_of_bars(bars, alpha_max, i_max=5)
  np.testing.assert_allclose(rlt, np.pad(expected, (0, 5 - len(expected))), rtol=0, atol=1e-15)


def test_rlt_leaves_out_the_time_with_i_max_or_more_bars_as_the_paper():
  # [0, 1): three bars, [1, 2): none; with i_max = 3 only counts 0, 1, 2 are listed.
  rlt = relative_living_times_of_bars([[0, 1], [0, 1], [0, 1]], 2.0, i_max=3)
  np.testing.assert_array_equal(rlt, [0.5, 0.0, 0.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rlt_of_random_bars_is_the_integral_of_beta_1_on_a_fine_grid(seed):
  rng = np.random.default_rng(seed)
  births = rng.uniform(0, 1, 12)
  deaths = np.where(rng.random(12) < 0.2, INF, births + rng.exponential(0.3, 12).clip(max=1))
  bars, alpha_max = np.c_[births, np.minimum(deaths, 1.0)], 1.0
  bars[deaths == INF, 1] = INF
  # Riemann sum of 1[beta_1(alpha) = i] on 200000 midpoints: each bar end moves it by <= 1 cell.
  alphas = (np.arange(200_000) + 0.5) / 200_000 * alpha_max
  ends = np.where(np.isinf(bars[:, 1]), alpha_max, bars[:, 1])
  beta_1 = np.sum((bars[:, 0] <= alphas[:, None]) & (alphas[:, None] < ends), axis=1)
  grid = np.bincount(beta_1, minlength=20)[:20] / len(alphas)
  rlt = relative_living_times_of_bars(bars, alpha_max, i_max=20)
  np.testing.assert_allclose(rlt, grid, atol=2 * len(bars) / len(alphas))
  assert rlt.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
  ("bars", "alpha_max", "i_max", "message"),
  [
    ([[0.5, 2.0]], 1.0, 5, "bars must satisfy 0 <= birth <= death <= alpha_max = 1.0"),
    ([[0.6, 0.5]], 1.0, 5, "bars must satisfy 0 <= birth <= death"),
    ([[-0.1, 0.5]], 1.0, 5, "bars must satisfy 0 <= birth"),
    ([[0.1, 0.5]], 0.0, 5, "alpha_max must be a finite number > 0; got 0.0"),
  ],
)
def test_rlt_refuses_a_diagram_it_cannot_integrate(bars, alpha_max, i_max, message):
  with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")) as error:
    relative_living_times_of_bars(bars, alpha_max, i_max)
  assert "\n" not in str(error.value)


# --- The score -----------------------------------------------------------------------------------


def test_the_score_is_the_sum_of_squared_differences_zero_for_equal_and_symmetric():
  a, b = np.array([0.5, 0.25, 0.25, 0.0]), np.array([0.0, 0.75, 0.125, 0.125])
  by_hand = 0.5**2 + 0.5**2 + 0.125**2 + 0.125**2  # (a_i - b_i)^2 summed, paper Algorithm 2
  assert geometry_score(a, b) == pytest.approx(by_hand, abs=1e-15)
  assert geometry_score(b, a) == geometry_score(a, b)
  assert geometry_score(a, a) == 0.0


@pytest.mark.parametrize(
  ("a", "b", "message"),
  [
    ([0.5, 0.5], [1.0, 0.0, 0.0], "mrlt_a and mrlt_b must be mean relative living times of one"),
    ([[1.0, 0.0]], [[1.0, 0.0]], "mrlt_a and mrlt_b must be mean relative living times of one"),
    ([np.nan, 1.0], [1.0, 0.0], "mrlt_a and mrlt_b must be finite"),
  ],
)
def test_the_score_refuses_mismatched_living_times(a, b, message):
  with pytest.raises(ValueError, match=message):
    geometry_score(a, b)


# --- MRLT of point clouds whose loops are known (gudhi's witness complexes) ----------------------


@pytest.mark.parametrize(
  ("name", "loops"),
  [("circle", 1), ("two circles", 2), ("Gaussian blob", 0), ("filled disc", 0)],
)
def test_mrlt_peaks_at_the_number_of_loops(gudhi, name, loops):
  rng = np.random.default_rng(0)
  points = {
    "circle": lambda: circle(rng, 500),
    "two circles": lambda: np.r_[circle(rng, 250, (-1.5, 0)), circle(rng, 250, (1.5, 0))],
    "Gaussian blob": lambda: rng.normal(size=(500, 2)),
    "filled disc": lambda: filled_circle(rng, 500),
  }[name]()
  mrlt = relative_living_times(points, **TOY)
  assert mrlt.shape == (100,) and mrlt.sum() == pytest.approx(1.0, abs=1e-12)
  assert np.argmax(mrlt) == loops and mrlt[loops] > 0.7, np.round(mrlt, 3)


def test_two_samples_of_one_circle_score_low_a_circle_and_two_circles_high(gudhi):
  rng = np.random.default_rng(1)
  one, other = circle(rng, 500), circle(rng, 500)
  two = np.r_[circle(rng, 250, (-1.5, 0)), circle(rng, 250, (1.5, 0))]
  same = geometry_score_of(one, other, **TOY)
  different = geometry_score_of(one, two, **TOY)
  assert same < 0.02 and different > 1.0, (same, different)


def test_the_authors_circle_against_filled_circle_example(gudhi):
  # examples-basic.ipynb of github.com/KhrulkovV/geometry-score: 5000 points each, L = 32,
  # gamma = 1/8, i_max = 10, n = 100 draws: gs.geom_score = 1.830. Here n = 5 (a 5-draw mean
  # wanders by a few hundredths from the 100-draw one) on our own draws of the two sets, and
  # i_max = 100 (counts of 10 and more hold almost nothing of these sets).
  rng = np.random.default_rng(0)
  settings = TOY | {"num_repetitions": 5}
  score = geometry_score_of(circle(rng, 5000), filled_circle(rng, 5000), **settings)
  assert score == pytest.approx(1.830, abs=0.1)


def test_images_are_flattened_and_a_seed_repeats_the_draws(gudhi):
  rng = np.random.default_rng(2)
  images = rng.normal(size=(100, 4, 4, 1))
  settings = {"num_landmarks": 16, "num_repetitions": 3, "seed": 7}
  flat = relative_living_times(images.reshape(100, 16), **settings)
  np.testing.assert_array_equal(relative_living_times(images, **settings), flat)


@pytest.mark.parametrize(
  ("points", "settings", "message"),
  [
    (np.zeros((50, 2)), {"num_landmarks": 64}, "num_landmarks = 64 landmarks are drawn from the"),
    (np.ones((100, 2)), {"gamma": 0.0}, r"gamma must be a number in \(0, 1\]"),
    (np.ones((100, 2)), {"gamma": 1.5}, r"gamma must be a number in \(0, 1\]"),
    (np.ones((100, 2)), {"gamma": math.nan}, r"gamma must be a number in \(0, 1\]"),
    (np.ones((100, 2)), {"gamma": True}, r"gamma must be a number in \(0, 1\]"),
    (np.ones((100, 2)), {"num_landmarks": 2}, "num_landmarks must be an integer >= 3; got 2"),
    (np.ones((100, 2)), {"num_repetitions": 0}, "num_repetitions must be an integer >= 1; got 0"),
    (np.ones(100), {}, r"points must be points \[N, d\] or images \[N, H, W, C\]"),
    (np.full((100, 2), np.inf), {}, "points holds non-finite values"),
    (np.ones((100, 2)), {}, "points are all one point: they have no loops to compare"),
  ],
)
def test_refusals_are_one_line(gudhi, points, settings, message):
  with pytest.raises(ValueError, match=message) as error:
    relative_living_times(points, **settings)
  assert "\n" not in str(error.value)


def test_without_gudhi_the_error_says_how_to_install_it(monkeypatch):
  monkeypatch.setitem(sys.modules, "gudhi", None)  # `import gudhi` raises ImportError
  with pytest.raises(ImportError, match="needs gudhi .*: pip install gudhi.$") as error:
    require_gudhi()
  assert "\n" not in str(error.value)
  config = ml_collections.ConfigDict({"eval": {"evaluators": ("geometry_score",)}})
  with pytest.raises(ConfigError, match="does not fit this run .*: pip install gudhi.$"):
    configured(config, None, data.facts("ring8"))  # before the run's first step


# --- The evaluator --------------------------------------------------------------------------------


def _context(samples, dataset, num_samples, picture=None):
  """A `Context` whose run draws `samples` (their first `num`) and whose data are `dataset`'s."""
  return Context(
    state=None,
    step=0,
    algorithm=None,
    sample=lambda num: samples[:num],
    data=EvalData(dataset, num_samples, seed=1),
    picture=picture,
    num_samples=num_samples,
  )


def test_evaluator_on_digits_images_scores_real_digits_nearer_than_noise(gudhi, tmp_path):
  digits = data.get("digits", size=16)
  # gamma = 1/16: at the paper's 1/128 the filtration of 360 digits ends while dozens of small
  # loops live, and noise can score as well as digits (docs/results/geometry_score.md).
  options = types.SimpleNamespace(
    num_landmarks=32, gamma=1 / 16, i_max=100, num_repetitions=4, num_points=0,
    reference="held_out",
  )  # fmt: skip
  real = digits.batch(0, 0, 360)["x"]  # training digits: not the held-out ones compared with
  noise = np.random.default_rng(0).uniform(-1, 1, real.shape).astype(np.float32)
  evaluator, scores = GeometryScore(None, options), {}
  for name, samples in (("real", real), ("noise", noise)):
    picture = tmp_path / f"{name}.png"
    scores[name] = evaluator(_context(samples, digits, 1000, picture))
    assert picture.read_bytes()[:4] == b"\x89PNG"
    assert evaluator._data_mrlt[0] == 360  # all 360 held-out digits, fewer than num_samples
  keys = {"geometry_score", "betti1_samples", "betti1_data", "beyond_i_max_samples"}
  assert set(scores["real"]) == keys | {"beyond_i_max_data"}
  assert scores["real"]["betti1_data"] == scores["noise"]["betti1_data"]
  assert scores["real"]["geometry_score"] < scores["noise"]["geometry_score"], scores


@pytest.mark.parametrize(
  ("entry", "message"),
  [
    ({"num_points": 10}, "num_points = 10 is fewer than num_landmarks = 64"),
    ({"gamma": 0}, r"gamma = 0 is refused: must be a finite number in \(0, 1\]"),
    ({"reference": "test"}, "reference = 'test' is not one of"),
    ({"repetitions": 5}, r"sets \['repetitions'\], not options of evaluator 'geometry_score'"),
  ],
)
def test_evaluator_options_are_checked_before_the_run(gudhi, entry, message):
  config = ml_collections.ConfigDict(
    {"eval": {"evaluators": ({"name": "geometry_score"} | entry,)}}
  )
  with pytest.raises(ConfigError, match=message):
    configured(config, None, data.facts("ring8"))


def test_evaluator_refuses_more_points_than_the_reference_has(gudhi):
  options = types.SimpleNamespace(
    num_landmarks=16, gamma=1 / 8, i_max=10, num_repetitions=1, num_points=500,
    reference="held_out",
  )  # fmt: skip
  digits = data.get("digits", size=16)
  with pytest.raises(ValueError, match="num_points = 500, but the held_out data have 360"):
    GeometryScore(None, options)(_context(np.zeros((500, 16, 16, 1)), digits, 500))


def test_jaxgen_eval_scores_a_tiny_ring8_run(gudhi, tmp_path):
  from test_cli import jaxgen  # noqa: PLC0415
  from tiny_ring8_config import get_config  # noqa: PLC0415

  config, workdir = get_config(), tmp_path / "ring8"
  config.update({"num_steps": 4, "eval_every": 4, "batch_size": 32, "progress_bar": False})
  config.eval.num_samples = 100
  config.eval.evaluators = ("points", {"name": "geometry_score", "num_repetitions": 5})
  train.train_and_evaluate(config, workdir)  # in this process: the command line is `eval`'s
  logged = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  (trained,) = [r for r in logged if "eval/geometry_score" in r]
  assert 0 <= trained["eval/geometry_score"] <= 2 and trained["eval/betti1_data"] == 0
  assert (workdir / "samples_geometry_score_0000004.png").read_bytes()[:4] == b"\x89PNG"
  table = jaxgen("eval", workdir, "--evaluators=geometry_score")
  assert table.startswith("| step | num_samples | evaluators | geometry_score | betti1_samples |")
  (record,) = json.loads((workdir / "evaluation.json").read_text())
  assert record["step"] == 4 and 0 <= record["geometry_score"] <= 2
  assert record["betti1_data"] == 0  # ring8's eight separate Gaussians have no loop
