"""What a GAN-family algorithm declares: its options, the `Roles` a subclass changes, and what it
provides to the stabilisers (`stabiliser_rules`).

`GAN_OPTIONS` are the `config.algorithm` keys of the plain GAN (`gan.GAN`), each with its check;
`Roles` is what a subclass (ACGAN, InfoGAN, MAD-GAN, the energy GANs) passes to `GAN.__init__`
instead of overriding a construction hook; `check_gan_stabilisers` is the one rule applied to them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from jaxgen.algorithms import adversarial
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.algorithms.adversarial import Adversary
from jaxgen.losses import penalties
from jaxgen.options import Option


def check_discriminator_steps(value: Any) -> int:
  """A check of `algorithm.discriminator_steps`: an integer >= 1, as an int."""
  if not (isinstance(value, int | np.integer) and value >= 1):
    raise ValueError(f"algorithm.discriminator_steps must be an integer >= 1; got {value!r}.")
  return int(value)


# How the players of a two-player game take turns (`algorithm.updates`):
# "alternating": D's k steps, then G's step against the updated D, each phase on a fresh batch
#   (Goodfellow et al. 2014, Algorithm 1);
# "simultaneous": both gradients at the same parameters, on the same batch and the same z, then
#   both applied (Mescheder et al. 2017, "The Numerics of GANs", eq. 3; Metz et al. 2016's demo).
UPDATES = ("alternating", "simultaneous")


def check_updates(value: Any) -> str:
  """A check of `algorithm.updates`: one of `UPDATES`."""
  if value not in UPDATES:
    raise ValueError(f"algorithm.updates must be one of {UPDATES}; got {value!r}.")
  return value


def check_weight_clip(value: Any) -> float:
  """A check of `algorithm.weight_clip`: a finite number >= 0 (0: no clipping), as a float."""
  if not (isinstance(value, int | float) and np.isfinite(value) and value >= 0):
    raise ValueError(f"algorithm.weight_clip must be a finite number >= 0 (0: off); got {value!r}.")
  return float(value)


def check_generator_reuses_fakes(value: Any) -> bool:
  """A check of `algorithm.generator_reuses_fakes`: True or False (numpy's too), as a bool."""
  if not isinstance(value, bool | np.bool_):
    raise ValueError(f"algorithm.generator_reuses_fakes must be True or False; got {value!r}.")
  return bool(value)


# The plain GAN's `config.algorithm` keys (`GAN.OPTIONS`; a subclass adds its own).
GAN_OPTIONS = (
  adversarial.LOSS_OPTION,
  Option(
    "discriminator_steps",
    1,
    "k, D's steps per G step (Goodfellow et al. 2014, Algorithm 1)",
    check=check_discriminator_steps,
  ),
  Option("updates", "alternating", "how the players take turns (gan.UPDATES)", choices=UPDATES),
  adversarial.PENALTY_OPTION,
  Option(
    "weight_clip",
    0.0,
    "WGAN's clip c of D's weights, 0: off (Arjovsky et al. 2017, Alg. 1)",
    check=check_weight_clip,
  ),
  Option(
    "generator_reuses_fakes",
    False,
    "G's step reuses D's last fakes (plain GAN only)",
    check=check_generator_reuses_fakes,
  ),
  adversarial.STABILISERS_OPTION,
)


def make_penalty(config) -> penalties.Penalty | None:
  """The penalty of `{"name": ..., **options}` (absent or "none": no penalty)."""
  return adversarial.penalty_from_config(config)[1]


def gan_provides(objective, *, unconditional: bool, replayable: bool) -> rules.Provides:
  """What a logit discriminator with the objective `objective` provides to the stabilisers."""
  provides = {rules.LOGITS, rules.PER_SAMPLE, rules.INPUTS, rules.WEIGHTS, rules.HISTORY}
  provides |= {rules.GENERATORS} | adversarial.objective_provides(objective)
  provides |= {rules.UNCONDITIONAL} if unconditional else set()
  return frozenset(provides | ({rules.REPLAYABLE} if replayable else set()))


@dataclasses.dataclass(frozen=True)
class Roles:
  """What a GAN-family algorithm changes about the plain GAN's players.

  `generator_classes` / `discriminator_classes`: the classes whose labels each network receives
  (None: the data's classes when `config.conditional`, else none); `aux_outputs`: the width of D's
  auxiliary head; `code_dim`: G's inputs beyond z; `generator_players`: their names;
  `fakes_carry_conditioning`: a fake means nothing without its label or code (no replay);
  `provides`: what the algorithm offers the stabilisers (None: `gan_provides`); `reads`: the
  kinds of D's output its losses read (`jaxgen.nn.traits`; logits per sample or per patch).
  """

  generator_classes: int | None = None
  discriminator_classes: int | None = None
  aux_outputs: int = 0
  code_dim: int = 0
  generator_players: tuple[str, ...] = ("generator",)
  fakes_carry_conditioning: bool = False
  provides: rules.Provides | None = None
  reads: tuple[str, ...] = rules.SCORES


PLAIN_ROLES = Roles()  # the plain GAN's: nothing changed


def check_gan_stabilisers(algorithm, adversary: Adversary, roles: Roles, conditional: bool) -> None:
  """`stabiliser_rules.check_stabilisers` for a GAN-family algorithm with these roles."""
  owner, provides = f"algorithm {algorithm.name!r}", roles.provides
  if provides is None:
    unconditional = not (conditional or roles.aux_outputs)
    replayable = not (conditional or roles.fakes_carry_conditioning)
    provides = gan_provides(adversary.objective, unconditional=unconditional, replayable=replayable)
    owner += f" with loss {algorithm.get('loss', 'non_saturating')!r}"
  rules.check_stabilisers(
    owner,
    provides,
    adversary.stabilisers,
    adversary.penalty_name,
    network=adversary.critic.network,
    reads=roles.reads,
  )
