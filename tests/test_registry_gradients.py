"""Every registered algorithm, objective, penalty and stabiliser against hand-built float64 losses.

The cases live in `gradient_cases_gan.py` (the GAN family), `gradient_cases_autoencoder.py`
(VAE, CVAE, IWAE, VAE-GAN, AAE, WAE), `gradient_cases_sparse_vae.py` (the spike-and-slab VAE),
`gradient_cases_adagan.py` (AdaGAN's three players), `gradient_cases_cyclegan.py` (CycleGAN's
four players), `gradient_cases_progan.py` (ProGAN) and `gradient_cases_sagan.py` (the GAN with
SAGAN's networks); the harness is `gradient_harness.py`. A registry entry (an algorithm, a GAN
objective, a penalty, a stabiliser switch) without a case fails
`test_every_registry_entry_has_a_case`.

The combinations walked: for each adversarial algorithm (the GAN family, AAE, VAE-GAN), each
objective it takes, each penalty and each stabiliser switch, one at a time around the algorithm's
default config (accepted: gradient case; refused: the error is checked), plus the pairs that
interact (see the case modules).
"""

import dataclasses

import gradient_cases_adagan
import gradient_cases_autoencoder
import gradient_cases_cyclegan
import gradient_cases_gan
import gradient_cases_progan
import gradient_cases_sagan
import gradient_cases_sparse_vae
import pytest
from gradient_harness import GradientCase, check_gradient_case, check_refused_case

from jaxgen import algorithms, losses, stabilisers
from jaxgen.losses import penalties

CASES = [
  *gradient_cases_gan.CASES,
  *gradient_cases_sagan.CASES,
  *gradient_cases_autoencoder.CASES,
  *gradient_cases_sparse_vae.CASES,
  *gradient_cases_adagan.CASES,
  *gradient_cases_cyclegan.CASES,
  *gradient_cases_progan.CASES,
]
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
  stabilised = gradient_cases_gan.GAN_FAMILY + gradient_cases_autoencoder.STABILISED
  stabilised += gradient_cases_progan.STABILISED
  penalised = gradient_cases_gan.GAN_FAMILY + gradient_cases_autoencoder.PENALISED
  for name in stabilised:
    cases = [c for c in CASES if c.algorithm == name]
    missing = [s for s in switches if not any(c.stabiliser == s for c in cases)]
    if name in penalised:
      missing += [p for p in penalties.PENALTIES if not any(c.penalty == p for c in cases)]
    if name in gradient_cases_gan.TAKES_OBJECTIVE:
      missing += [o for o in losses.GAN_OBJECTIVES if not any(c.objective == o for c in cases)]
    assert not missing, f"{name}: no gradient or refusal case for {missing}"
