"""The one rule that says which stabiliser (and gradient penalty) an adversarial algorithm may use.

Every stabiliser needs some capabilities of the
algorithm that uses it (`NEEDS`); an algorithm declares what it provides (`Provides`), and a switch
whose needs are not all provided is refused with the reason (`REASONS`).

Two of those capabilities belong to the configured discriminator, not to the algorithm: one logit
per sample (`LOGITS`) and outputs that read their own sample alone (`PER_SAMPLE`). Given the
network (`Discriminator`: its config name and the `NetworkTraits` its class declares), the rule
takes them from the network's declaration, and refuses a network whose output kind the
algorithm's losses do not read (`reads`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jaxgen import losses, stabilisers
from jaxgen.errors import ConfigError
from jaxgen.nn import traits as traits_lib

# What an algorithm may provide to its stabilisers.
TARGETS = "targets"  # an objective with a real target to smooth
LOGITS = "logits"  # D ends in one logit per sample on the features it sows (heads attach there)
PER_SAMPLE = "per_sample"  # D's output for x_i depends on x_i alone (gradient penalties)
FEATURES = "features"  # D sows features and G's loss may be replaced by matching them
INPUTS = "inputs"  # D's inputs pass through `Critic.inputs` in every loss (instance noise)
UNCONDITIONAL = "unconditional"  # D judges x alone: no labels or per-sample heads (packing)
REPLAYABLE = "replayable"  # a fake is the whole of D's input (no labels or codes to replay)
WEIGHTS = "weights"  # D's weights pass through `Critic.__call__` (spectral norm)
HISTORY = "history"  # each player's loss adds `history_penalty`
GENERATORS = "generators"  # evaluation samples come from `StabiliserMemory.evaluation_params`

Provides = frozenset[str]

REASONS = {
  TARGETS: "a discriminator loss with a real target to smooth (the objectives {targets})",
  LOGITS: "a discriminator that ends in one real/fake logit on the features it sows",
  PER_SAMPLE: "per-sample gradients of a discriminator whose output for a sample depends on that "
  "sample alone (Gulrajani et al. 2017, sec. 4)",
  FEATURES: "a generator loss that matching D's features may replace (not a relativistic one, "
  "which reads D on real data, Jolicoeur-Martineau 2019, sec. 4.3; not an autoencoder's)",
  INPUTS: "D's inputs in its players' losses",
  UNCONDITIONAL: "a discriminator that judges samples alone (no labels or per-sample heads to "
  "pair with packed samples)",
  REPLAYABLE: "unconditional fakes, which carry no labels or codes (a replayed fake has lost them)",
  WEIGHTS: "D's weights in its players' losses",
  HISTORY: "each player's loss open to an extra term",
  GENERATORS: "generator players to average",
}

# What each switch needs; a switch that is off needs nothing.
NEEDS: dict[str, tuple[str, ...]] = {
  "label_smoothing": (TARGETS,),
  "instance_noise": (INPUTS,),
  "instance_noise_anneal_steps": (INPUTS,),
  "packing": (INPUTS, UNCONDITIONAL),
  "feature_matching": (FEATURES,),
  "historical_averaging": (HISTORY,),
  "minibatch_discrimination": (LOGITS,),
  "replay_fraction": (REPLAYABLE,),
  "replay_capacity": (),  # only the size of replay's buffer
  "spectral_norm": (WEIGHTS,),
  "generator_ema": (GENERATORS,),
  "penalty": (LOGITS, PER_SAMPLE, INPUTS),
}

# What the losses of most adversarial algorithms read of D's output: real/fake logits, one per
# sample or one per patch (the objective averages them).
SCORES = (traits_lib.LOGIT, traits_lib.PATCH_LOGITS)


@dataclasses.dataclass(frozen=True)
class Discriminator:
  """The configured discriminator as the rule sees it: `model.discriminator.name` and the traits
  its class declares (`jaxgen.nn.traits`)."""

  name: str
  traits: traits_lib.NetworkTraits

  def withholds(self) -> dict[str, str]:
    """The capabilities this network cannot provide, each with why (from its declaration)."""
    withheld, traits = {}, self.traits
    if traits.output != traits_lib.LOGIT:
      withheld[LOGITS] = f"outputs {traits_lib.OUTPUTS[traits.output]}"
    if traits.mixes_samples:
      withheld[PER_SAMPLE] = f"mixes samples through {traits.mixes_samples}"
    return withheld

  def fix(self, need: str) -> str:
    """The sentence that ends a refusal: the network's own option that unmixes, or the switch."""
    if need == PER_SAMPLE and self.traits.unmix:
      unmix = self.traits.unmix.format(block="model.discriminator")
      return f"{unmix[0].upper()}{unmix[1:]}, or turn it off."
    return "Turn it off or choose another discriminator."


def check_discriminator(owner: str, network: Discriminator, reads: tuple[str, ...]) -> None:
  """Raises `ConfigError` when `owner`'s losses do not read the kind of output `network` gives."""
  if network.traits.output not in reads:
    kinds = "; or ".join(traits_lib.OUTPUTS[kind] for kind in reads)
    raise ConfigError(
      f"model.discriminator.name = {network.name!r} does not fit {owner}: its losses read {kinds}; "
      f"the {network.name!r} discriminator outputs "
      f"{traits_lib.OUTPUTS[network.traits.output]}. Choose a discriminator whose output they read."
    )


def _switched_on(s: stabilisers.Stabilisers) -> dict[str, Any]:
  values, defaults = dataclasses.asdict(s), dataclasses.asdict(stabilisers.Stabilisers())
  return {
    name: value
    for name, value in values.items()
    if value != defaults[name] and name != "replay_capacity"
  }


def check_stabilisers(
  owner: str,
  provides: Provides,
  s: stabilisers.Stabilisers,
  penalty: str | None = None,
  *,
  network: Discriminator | None = None,
  reads: tuple[str, ...] = SCORES,
) -> None:
  """Raises `ConfigError` for the first switch (or the penalty) `owner` cannot provide for.

  `network`: the configured discriminator; what its traits withhold is not provided, whatever the
  algorithm provides, and its output must be of a kind in `reads` (what `owner`'s losses read).
  """
  withheld = {}
  if network is not None:
    check_discriminator(owner, network, reads)
    withheld = {k: v for k, v in network.withholds().items() if k in provides}
  switches = {f"algorithm.stabilisers.{k}": (k, v) for k, v in _switched_on(s).items()}
  if penalty is not None:
    switches["algorithm.penalty.name"] = ("penalty", penalty)
  for key, (switch, value) in switches.items():
    for need in NEEDS[switch]:
      if need in withheld:
        raise ConfigError(
          f"{key} = {value!r} is not supported by model.discriminator.name = {network.name!r}: "
          f"it needs {REASONS[need]}, and the {network.name!r} discriminator {withheld[need]}. "
          f"{network.fix(need)}"
        )
  provides, conflict = set(provides), ""
  if s.minibatch_discrimination and PER_SAMPLE in provides:
    provides.discard(PER_SAMPLE)
    conflict = (
      f", which algorithm.stabilisers.minibatch_discrimination = {s.minibatch_discrimination} "
      "breaks: it mixes samples in D (Salimans et al. 2016, sec. 3.2). Turn one off"
    )
  for key, (switch, value) in switches.items():
    missing = [need for need in NEEDS[switch] if need not in provides]
    if missing:
      targets = sorted(n for n, o in losses.GAN_OBJECTIVES.items() if o.has_real_target)
      reasons = "; ".join(REASONS[need].format(targets=targets) for need in missing)
      ending = conflict if PER_SAMPLE in missing and conflict else ". Turn it off"
      raise ConfigError(
        f"{key} = {value!r} is not supported by {owner}: it needs {reasons}{ending}."
      )
