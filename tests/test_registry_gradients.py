"""Every registered algorithm, objective, penalty and stabiliser against hand-built float64 losses.

The cases live in `gradient_cases_gan.py` (the GAN family), `gradient_cases_autoencoder.py`
(VAE, CVAE, IWAE, VAE-GAN, AAE, WAE), `gradient_cases_sparse_vae.py` (the spike-and-slab VAE),
`gradient_cases_adagan.py` (AdaGAN's three players), `gradient_cases_cyclegan.py` (CycleGAN's
four players), `gradient_cases_progan.py` (ProGAN), `gradient_cases_sagan.py` (the GAN with
SAGAN's networks) and `gradient_cases_networks.py` (discriminators whose declared traits refuse a
penalty or stabiliser); the harness is `gradient_harness.py`. A registry entry (an algorithm, a GAN
objective, a penalty, a stabiliser switch) without a case fails
`test_every_registry_entry_has_a_case`; a registered discriminator without a case per penalty and
switch (or without declared traits) fails `test_every_discriminator_has_a_case_per_switch`.

The combinations walked: for each adversarial algorithm (the GAN family, AAE, VAE-GAN), each
objective it takes, each penalty and each stabiliser switch, one at a time around the algorithm's
default config (accepted: gradient case; refused: the error is checked), plus the pairs that
interact (see the case modules).
"""

import dataclasses
import importlib
import pathlib

import pytest
from gradient_harness import GradientCase, check_gradient_case, check_refused_case

from jaxgen import algorithms, losses, stabilisers
from jaxgen.losses import penalties
from jaxgen.nn import registry, traits

# Every `gradient_cases_*.py` beside this file contributes its CASES: a new algorithm's or
# network's cases need no line here.
CASE_MODULES = sorted(p.stem for p in pathlib.Path(__file__).parent.glob("gradient_cases_*.py"))
_module = importlib.import_module
CASES = [case for name in CASE_MODULES for case in _module(name).CASES]
GRADIENT_CASES = [c for c in CASES if isinstance(c, GradientCase)]
REFUSED_CASES = [c for c in CASES if not isinstance(c, GradientCase)]


@pytest.mark.parametrize("case", GRADIENT_CASES, ids=lambda c: c.id)
def test_players_gradients_match_hand_built_losses(case):
  check_gradient_case(case)


@pytest.mark.parametrize("case", REFUSED_CASES, ids=lambda c: c.id)
def test_refused_combination_raises(case):
  check_refused_case(case)


def test_case_ids_are_unique():
  ids = [c.id for c in CASES]
  assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_registry_entry_has_a_case():
  checked = {c.algorithm for c in GRADIENT_CASES}
  assert set(algorithms.ALGORITHMS) <= checked, set(algorithms.ALGORITHMS) - checked
  switches = [f.name for f in dataclasses.fields(stabilisers.Stabilisers)]
  # A case module names the algorithms it walks per switch, penalty or objective.
  walked = lambda kind: {n for m in CASE_MODULES for n in getattr(_module(m), kind, ())}
  stabilised, penalised = walked("STABILISED"), walked("PENALISED")
  takes_objective = walked("TAKES_OBJECTIVE")
  for name in sorted(stabilised):
    cases = [c for c in CASES if c.algorithm == name]
    missing = [s for s in switches if not any(c.stabiliser == s for c in cases)]
    if name in penalised:
      missing += [p for p in penalties.PENALTIES if not any(c.penalty == p for c in cases)]
    if name in takes_objective:
      missing += [o for o in losses.GAN_OBJECTIVES if not any(c.objective == o for c in cases)]
    assert not missing, f"{name}: no gradient or refusal case for {missing}"


# (discriminator, penalty or switch) cells no case walks yet, each with why. The test fails when a
# listed cell gains a case (shrink the list) or an unlisted one has none (add a case).
UNCOVERED = {
  **{
    ("sagan", switch): "no case yet: each float64 SAGAN case costs ~45 s of CPU"
    for switch in (
      *penalties.PENALTIES,
      *(f.name for f in dataclasses.fields(stabilisers.Stabilisers)),
    )
  },
  **{
    ("patchgan", switch): "no case yet (CycleGAN's cases walk the refused switches only)"
    for switch in (
      "label_smoothing",
      "instance_noise",
      "instance_noise_anneal_steps",
      "replay_capacity",
      "spectral_norm",
    )
  },
}


def _discriminator_of(case):
  model = case.config().model
  return dict(model["discriminator"])["name"] if "discriminator" in model else None


def test_every_discriminator_has_a_case_per_switch():
  """Every registered discriminator declares its traits, and with every penalty and stabiliser
  switch it is a gradient case or a refusal case (of any algorithm that reads `penalty` or
  `stabilisers`)."""
  for name, factory in registry.DISCRIMINATORS.items():
    module = factory(example_shape=(16, 16, 1), num_classes=0)
    assert "discriminator" in traits.traits_of(module).roles, name
  switches = [f.name for f in dataclasses.fields(stabilisers.Stabilisers)]
  walked = {(_discriminator_of(c), c.penalty or c.stabiliser) for c in CASES}
  cells = {(name, s) for name in registry.DISCRIMINATORS for s in (*penalties.PENALTIES, *switches)}
  missing = sorted(cells - walked - set(UNCOVERED))
  assert not missing, f"no gradient or refusal case for (discriminator, switch) {missing}"
  now_covered = sorted(set(UNCOVERED) & walked)
  assert not now_covered, f"cases now walk {now_covered}: remove them from UNCOVERED"


def test_the_network_coverage_fails_for_a_discriminator_without_cases(monkeypatch):
  monkeypatch.setitem(registry.DISCRIMINATORS, "unwalked", registry.DISCRIMINATORS["mlp"])
  with pytest.raises(AssertionError, match="'unwalked'"):
    test_every_discriminator_has_a_case_per_switch()
