"""What a network declares about itself, beside its class: `NetworkTraits`.

Every registered network (`jaxgen.nn.registry`) has a `traits` attribute (a class attribute, or a
property where an option changes it): the roles it plays, the kind of its output and whether its
output for one sample reads the other samples of the batch. The rule of which penalty and
stabiliser an algorithm may use (`jaxgen.algorithms.stabiliser_rules`) reads them instead of
assuming them, so a combination that breaks an assumption is refused because a declaration says so.
"""

from __future__ import annotations

import dataclasses

# Output kinds, each with the words a refusal uses for it.
LOGIT = "logit"
PATCH_LOGITS = "patch_logits"
RECONSTRUCTION = "reconstruction"
EXAMPLE = "example"
CODE = "code"
OUTPUTS = {
  LOGIT: "one real/fake logit per sample, [B]",
  PATCH_LOGITS: "one real/fake logit per patch, [B, h, w, 1] (PatchGAN, Isola et al. 2017, "
  "sec. 3.2)",
  RECONSTRUCTION: "a reconstruction of its input and a code, [B, ...] and [B, code_dim] (the "
  "energy-based discriminator, Zhao et al. 2016, sec. 2.3), not logits",
  EXAMPLE: "an example shaped like the data",
  CODE: "a latent code (or the parameters of its posterior)",
}


@dataclasses.dataclass(frozen=True)
class NetworkTraits:
  """A network's declared capabilities.

  Attributes:
    roles: the `model.<role>` blocks it may fill ("generator", "discriminator", ...).
    output: what it returns, one of `OUTPUTS`.
    mixes_samples: the layer through which a sample's output reads other samples of the batch,
      with its reference ("" when every output depends on its own sample alone).
    unmix: how the network's own options turn that layer off, with "{block}" for its config block
      (e.g. "set {block}.norm to 'layer' or 'none'"); "" when no option does.
    self_normalised: every layer spectrally normalises its own weights (SAGAN's D, Zhang et al.
      2019, sec. 4.1), so the critic's `spectral_norm` switch would normalise twice.
  """

  roles: tuple[str, ...]
  output: str
  mixes_samples: str = ""
  unmix: str = ""
  self_normalised: bool = False

  def __post_init__(self):
    if self.output not in OUTPUTS:
      raise ValueError(f"Unknown output kind {self.output!r}; choose one of {sorted(OUTPUTS)}.")
    if not self.roles or not all(isinstance(role, str) for role in self.roles):
      raise ValueError(f"roles must be a non-empty tuple of role names; got {self.roles!r}.")


# Batch norm normalises each feature by the batch's statistics in training (Ioffe & Szegedy 2015,
# Algorithm 1), so a sample's output reads the whole batch.
BATCH_NORM = "batch norm, which normalises by the batch's statistics (Ioffe & Szegedy 2015, Alg. 1)"


def traits_of(module) -> NetworkTraits:
  """The declared traits of a built network (through a precision wrapper, which reads through)."""
  traits = getattr(module, "traits", None)
  if not isinstance(traits, NetworkTraits):
    raise TypeError(
      f"{type(module).__name__} declares no NetworkTraits: give its class a `traits` attribute "
      "(jaxgen.nn.traits) beside it."
    )
  return traits
