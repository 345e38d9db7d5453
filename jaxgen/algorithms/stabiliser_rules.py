"""The one rule that says which stabiliser (and gradient penalty) an adversarial algorithm may use.

Every stabiliser needs some capabilities of the
algorithm that uses it (`NEEDS`); an algorithm declares what it provides (`Provides`), and a switch
whose needs are not all provided is refused with the reason (`REASONS`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jaxgen import losses, stabilisers
from jaxgen.errors import ConfigError

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


def _switched_on(s: stabilisers.Stabilisers) -> dict[str, Any]:
  defaults = stabilisers.Stabilisers()
  return {
    field.name: getattr(s, field.name)
    for field in dataclasses.fields(s)
    if getattr(s, field.name) != getattr(defaults, field.name) and field.name != "replay_capacity"
  }


def check_stabilisers(
  owner: str, provides: Provides, s: stabilisers.Stabilisers, penalty: str | None = None
) -> None:
  """Raises `ConfigError` for the first switch (or the penalty) `owner` cannot provide for."""
  switches = {f"algorithm.stabilisers.{k}": (k, v) for k, v in _switched_on(s).items()}
  if penalty is not None:
    switches["algorithm.penalty.name"] = ("penalty", penalty)
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
