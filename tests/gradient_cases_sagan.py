"""Gradient cases of the GAN with SAGAN's networks (Zhang et al. 2019), for
`test_registry_gradients.py`.

The hinge objective (Zhang et al. 2019, eq. 5; built by hand in `gradient_cases_gan`) on the digits
with the SAGAN G and D of `jaxgen.nn.sagan`, conditional (conditional batch norm in G, projection
D; every other piece of the unconditional nets runs too): what it checks is the algorithm around
networks that normalise themselves — their power-iteration vectors live in `batch_stats`, which the
algorithm threads through D's real and fake passes.

The networks' spectral norm holds u fixed inside the gradient (Miyato et al. 2018, Algorithm 1). So
that the hand-built loss and its finite differences see the function the gradient is of, `prepare`
sets every stored u to the exact leading right singular vector of its weight (NumPy's SVD): a
power-iteration step from there returns u unchanged, and sigma(W) = v^T W u is then stationary in
(u, v), so moving W moves sigma only through W. It also sets each attention block's gamma to a
non-zero value: at gamma = 0 (the initial value) the attention weights get no gradient at all.
"""

from __future__ import annotations

import flax
import jax.numpy as jnp
import numpy as np
from gradient_cases_gan import BATCH, LATENT, Spec, reference_losses
from gradient_harness import GradientCase

from jaxgen.configs import sagan_digits

ATTENTION_GAMMA = 0.7
SPECTRAL_SUFFIX = "_spectral_norm"


def make_config(conditional: bool):
  config = sagan_digits.get_config()
  config.batch_size = BATCH
  config.conditional = conditional
  config.model.latent_dim = LATENT
  # The digits at their own 8x8 (a quarter of the 16x16 compute): attention on the 4x4 hidden
  # maps, 8 channels there (reduction 8 -> 1).
  config.data.options = {"size": 8}
  tiny = {"name": "sagan", "base_features": 8, "attention_resolution": 4}
  config.model.generator = dict(tiny)
  config.model.discriminator = dict(tiny)
  return config


def exact_singular_vectors(params, model_state):
  """`model_state` with every spectral-norm u set to the leading right singular vector of its
  weight W ([fan_in, fan_out], as flax.linen.SpectralNorm flattens it)."""
  weights = flax.traverse_util.flatten_dict(flax.core.unfreeze(params), sep="/")
  # Tuple keys: SpectralNorm's variable names hold slashes themselves ("<name>/kernel/u").
  stats = flax.traverse_util.flatten_dict(flax.core.unfreeze(model_state))
  for key in [k for k in stats if k[-1].endswith("/u")]:
    # ("batch_stats", <scope>..., "<n>_spectral_norm", "<n>/kernel/u") -> "<scope>/<n>/kernel"
    scope = [part for part in key[1:-1] if not part.endswith(SPECTRAL_SUFFIX)]
    weight = "/".join([*scope, key[-1].removesuffix("/u")])
    matrix = np.asarray(weights[weight]).reshape(-1, weights[weight].shape[-1])
    _, _, right = np.linalg.svd(matrix, full_matrices=False)
    stats[key] = jnp.asarray(right[:1], stats[key].dtype)
  return flax.traverse_util.unflatten_dict(stats)


def prepare(algorithm, state):
  del algorithm
  players = {}
  for name, player in state.players.items():
    flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(player.params), sep="/")
    flat = {
      k: (jnp.full_like(v, ATTENTION_GAMMA) if k.endswith("/gamma") else v) for k, v in flat.items()
    }
    params = flax.traverse_util.unflatten_dict(flat, sep="/")
    model_state = exact_singular_vectors(params, player.model_state)
    players[name] = player.replace(params=params, model_state=model_state)
  return state.replace(players=players, step=jnp.asarray(3, state.step.dtype))


def case(conditional: bool) -> GradientCase:
  spec = Spec("gan", loss="hinge", conditional=conditional)
  return GradientCase(
    "gan",
    f"sagan-nets-hinge{'-conditional' if conditional else ''}",
    lambda: make_config(conditional),
    lambda algorithm, state, batch, rng: reference_losses(spec, algorithm, state, batch, rng),
    prepare=prepare,
  )


# Conditional only: it runs every piece of the unconditional networks but batch norm's plain
# affine, plus conditional batch norm and the projection (each SAGAN case costs ~45 s of CPU).
CASES = [case(True)]
