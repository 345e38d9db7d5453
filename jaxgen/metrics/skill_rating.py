"""Skill rating (Olsson et al. 2018, arXiv:1808.04888): Glicko-2 ratings of generator and
discriminator snapshots from the games they play, and the scoring of those games. Pure NumPy,
float64: arrays and numbers in, numbers out.

Glicko-2 (Glickman, "Example of the Glicko-2 system", 2013; its steps are cited below): a player
has a rating r, a rating deviation RD (the standard deviation of the rating's posterior) and a
volatility sigma; unrated players start at r = 1500, RD = 350, sigma = 0.06 (step 1). In one
rating period every player is updated at once from the pre-period ratings of the opponents it met
and its scores against them (1 a win, 0.5 a draw, 0 a loss); a player who met nobody only has its
deviation grow to sqrt(phi^2 + sigma^2) (step 6).

The game (Olsson et al. 2018, sec. 3): a discriminator D judges real examples and a generator
G's samples at its decision threshold, D(x) = 1/2 (logit 0). A pair of a real example and one of
G's samples is scored from D's two calls: D earns 1/2 for calling the real example real and 1/2
for calling the sample fake, so D wins (1) when it is right about both, G wins (D scores 0) when
D is wrong about both, and a pair where D is right about one is a draw (1/2)
(`discriminator_scores`). G's win rate against D, the share of its samples D judges real, is the
paper's tournament win rate (`win_rate`).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from typing import NamedTuple

import numpy as np

__all__ = [
  "DEFAULT_TAU",
  "GLICKO2_SCALE",
  "Match",
  "Rating",
  "discriminator_scores",
  "expected_score",
  "glicko2_update",
  "impact",
  "new_volatility",
  "rating_period",
  "win_rate",
]

GLICKO2_SCALE = 173.7178  # Glickman 2013, step 2: mu = (r - 1500) / 173.7178, phi = RD / 173.7178
BASE_RATING = 1500.0
DEFAULT_TAU = 0.5  # Glickman 2013, step 1: "reasonable choices are between 0.3 and 1.2"
CONVERGENCE = 1e-6  # Glickman 2013, step 5: the Illinois iteration's tolerance epsilon
MAX_ITERATIONS = 10_000  # the Illinois iteration converges superlinearly; this only guards a bug


class Rating(NamedTuple):
  """A Glicko-2 rating on the Glicko scale: the rating r, its deviation RD and the volatility.

  The defaults are an unrated player's (Glickman 2013, step 1).
  """

  rating: float = BASE_RATING
  deviation: float = 350.0
  volatility: float = 0.06

  @property
  def mu(self) -> float:
    """The rating on the Glicko-2 scale, (r - 1500) / 173.7178 (Glickman 2013, step 2)."""
    return (self.rating - BASE_RATING) / GLICKO2_SCALE

  @property
  def phi(self) -> float:
    """The deviation on the Glicko-2 scale, RD / 173.7178 (Glickman 2013, step 2)."""
    return self.deviation / GLICKO2_SCALE


class Match:
  """Games between two players in one rating period: `scores[i]` is `first`'s score in game i
  (1, 1/2 or 0), and `second` scores 1 - scores[i]."""

  def __init__(self, first: Hashable, second: Hashable, scores):
    """Checks that there is at least one game and every score lies in [0, 1]."""
    scores = np.asarray(scores, np.float64).reshape(-1)
    if first == second:
      raise ValueError(f"A player cannot play itself; got {first!r} against {second!r}.")
    if scores.size == 0:
      raise ValueError(f"The match {first!r} vs {second!r} has no game; give at least one score.")
    if not (np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1))):
      raise ValueError(
        f"Scores of {first!r} vs {second!r} must lie in [0, 1] (1 a win, 0.5 a draw, 0 a loss); "
        f"got values from {scores.min()!r} to {scores.max()!r}."
      )
    self.first, self.second, self.scores = first, second, scores


def impact(phi):
  """g(phi) = 1 / sqrt(1 + 3 phi^2 / pi^2), how much a game against an opponent of deviation phi
  counts (Glickman 2013, step 3)."""
  phi = np.asarray(phi, np.float64)
  return 1.0 / np.sqrt(1.0 + 3.0 * phi**2 / math.pi**2)


def expected_score(mu, opponent_mu, opponent_phi):
  """E(mu, mu_j, phi_j) = 1 / (1 + exp(-g(phi_j) (mu - mu_j))), the expected score against
  opponent j (Glickman 2013, step 3); written with tanh, which never overflows."""
  x = impact(opponent_phi) * (np.asarray(mu, np.float64) - np.asarray(opponent_mu, np.float64))
  return 0.5 * (1.0 + np.tanh(0.5 * x))


def new_volatility(phi: float, sigma: float, delta: float, v: float, tau: float) -> float:
  """sigma', the root of f(x) = e^x (Delta^2 - phi^2 - v - e^x) / (2 (phi^2 + v + e^x)^2)
  - (x - a) / tau^2 with a = ln sigma^2, found by the Illinois algorithm; sigma' = e^(A/2)
  (Glickman 2013, step 5, items 1-5)."""
  a = math.log(sigma**2)

  def f(x: float) -> float:
    ex = math.exp(x)
    return ex * (delta**2 - phi**2 - v - ex) / (2.0 * (phi**2 + v + ex) ** 2) - (x - a) / tau**2

  # Item 2: the bracket [A, B] around the root.
  big_a = a
  if delta**2 > phi**2 + v:
    big_b = math.log(delta**2 - phi**2 - v)
  else:
    k = 1
    while f(a - k * tau) < 0:
      k += 1
    big_b = a - k * tau
  f_a, f_b = f(big_a), f(big_b)  # item 3
  for _ in range(MAX_ITERATIONS):  # item 4
    if abs(big_b - big_a) <= CONVERGENCE:
      return math.exp(big_a / 2.0)  # item 5
    big_c = big_a + (big_a - big_b) * f_a / (f_b - f_a)
    f_c = f(big_c)
    if f_c * f_b <= 0:
      big_a, f_a = big_b, f_b
    else:
      f_a = f_a / 2.0
    big_b, f_b = big_c, f_c
  raise RuntimeError(f"The Glicko-2 volatility did not converge in {MAX_ITERATIONS} iterations.")


def glicko2_update(
  player: Rating, opponents: Iterable[Rating], scores, tau: float = DEFAULT_TAU
) -> Rating:
  """`player`'s rating after one rating period in which it scored `scores[j]` against
  `opponents[j]` (their ratings before the period); no game: only the deviation grows,
  phi' = sqrt(phi^2 + sigma^2) (Glickman 2013, steps 2-8; step 6 for a player who did not play).

  Args:
    player: its rating before the period.
    opponents: one `Rating` per game (an opponent met in k games appears k times).
    scores: the player's score in each game, in [0, 1] (1 a win, 0.5 a draw, 0 a loss).
    tau: the system constant that bounds the change of the volatility, > 0.
  """
  opponents = list(opponents)
  scores = np.asarray(scores, np.float64).reshape(-1)
  if len(opponents) != scores.size:
    raise ValueError(f"Give one score per opponent; got {scores.size} for {len(opponents)}.")
  _check_player(player, tau)
  mu, phi, sigma = player.mu, player.phi, player.volatility
  if not opponents:  # step 6 alone: phi' = phi* = sqrt(phi^2 + sigma^2)
    return Rating(player.rating, GLICKO2_SCALE * math.sqrt(phi**2 + sigma**2), sigma)
  if not np.all((scores >= 0) & (scores <= 1)):
    raise ValueError(
      f"Scores must lie in [0, 1]; got values from {scores.min()} to {scores.max()}."
    )
  opponent_mu = np.array([o.mu for o in opponents])
  opponent_phi = np.array([o.phi for o in opponents])
  g = impact(opponent_phi)
  expected = expected_score(mu, opponent_mu, opponent_phi)
  v = 1.0 / float(np.sum(g**2 * expected * (1.0 - expected)))  # step 3
  improvement = float(np.sum(g * (scores - expected)))
  delta = v * improvement  # step 4
  sigma_new = new_volatility(phi, sigma, delta, v, tau)  # step 5
  phi_star = math.sqrt(phi**2 + sigma_new**2)  # step 6
  phi_new = 1.0 / math.sqrt(1.0 / phi_star**2 + 1.0 / v)  # step 7
  mu_new = mu + phi_new**2 * improvement
  # Step 8: back to the Glicko scale.
  return Rating(GLICKO2_SCALE * mu_new + BASE_RATING, GLICKO2_SCALE * phi_new, sigma_new)


def _check_player(player: Rating, tau: float) -> None:
  """A rating with a finite r, RD > 0 and sigma > 0, and tau > 0; else a one-line ValueError."""
  if not (math.isfinite(player.rating) and player.deviation > 0 and player.volatility > 0):
    raise ValueError(f"A rating needs a finite r, RD > 0 and volatility > 0; got {player}.")
  if not (math.isfinite(tau) and tau > 0):
    raise ValueError(f"tau must be a finite number > 0 (Glickman suggests 0.3-1.2); got {tau!r}.")


def rating_period(
  ratings: Mapping[Hashable, Rating], matches: Iterable[Match], tau: float = DEFAULT_TAU
) -> dict[Hashable, Rating]:
  """Every player's rating after one rating period of `matches`, all updated at once from the
  ratings before it (Glickman 2013, steps 2-8); a player of `ratings` who played no game only
  has its deviation grow (step 6). A player met in a match but absent from `ratings` enters
  unrated (`Rating()`, step 1)."""
  before = dict(ratings)
  games: dict[Hashable, list[tuple[Hashable, np.ndarray]]] = {}
  for match in matches:
    for player in (match.first, match.second):
      before.setdefault(player, Rating())
    games.setdefault(match.first, []).append((match.second, match.scores))
    games.setdefault(match.second, []).append((match.first, 1.0 - match.scores))
  after = {}
  for player, rating in before.items():
    played = games.get(player, [])
    opponents = [before[opponent] for opponent, scores in played for _ in range(scores.size)]
    scores = np.concatenate([scores for _, scores in played]) if played else np.zeros(0)
    after[player] = glicko2_update(rating, opponents, scores, tau)
  return after


def discriminator_scores(real_judged_real, fake_judged_real) -> np.ndarray:
  """D's score on each pair of a match against G (Olsson et al. 2018, sec. 3): pair i is real
  example i and G's sample i, and D earns 1/2 for calling the real example real and 1/2 for
  calling the sample fake: 1 (D wins), 1/2 (a draw) or 0 (G wins); float64 [n]."""
  real = _decisions("real_judged_real", real_judged_real)
  fake = _decisions("fake_judged_real", fake_judged_real)
  if real.shape != fake.shape:
    raise ValueError(
      f"A game pairs one real example with one sample: give as many decisions on each; got "
      f"{real.shape[0]} real and {fake.shape[0]} fake."
    )
  return 0.5 * real.astype(np.float64) + 0.5 * (~fake).astype(np.float64)


def win_rate(fake_judged_real) -> float:
  """G's tournament win rate against D: the share of G's samples D judges real (Olsson et al.
  2018, sec. 3)."""
  return float(np.mean(_decisions("fake_judged_real", fake_judged_real)))


def _decisions(name: str, decisions) -> np.ndarray:
  """`decisions` as a non-empty boolean vector; a one-line ValueError otherwise."""
  array = np.asarray(decisions)
  if array.ndim != 1 or array.size == 0 or array.dtype != np.bool_:
    raise ValueError(
      f"{name} must be a non-empty boolean vector of D's decisions (True: judged real); got "
      f"dtype {array.dtype}, shape {array.shape}."
    )
  return array
