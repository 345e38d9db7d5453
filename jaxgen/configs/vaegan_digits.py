"""VAE-GAN (Larsen et al. 2016) on the digits padded to 16x16: the VAE of `vae_digits` with a DCGAN
discriminator whose last conv (before its batch norm) is Dis_l; RMSProp and the equilibrium gating
of the reference code (andersbll/autoencoding_beyond_pixels).

  python scripts/train.py --config=jaxgen/configs/vaegan_digits.py --workdir=workdirs/vaegan_digits
"""

from jaxgen import stabilisers
from jaxgen.configs import vae_digits


def get_config():
  config = vae_digits.get_config()
  config.algorithm.name = "vaegan"
  # Dis_l here has 4 x 4 x 64 = 1024 features. gamma = 0.1 had the lowest pixel error, Dis_l error
  # and FID of scripts/gamma_sweep.py (0 to 10, one seed, 2000 steps; docs/algorithms/vaegan.md).
  config.algorithm.gamma = 0.1
  # Dec descends log(1 - D(fake)), as in Algorithm 1 and the reference code.
  config.algorithm.loss = "minimax"
  config.algorithm.feed_reconstructions = True
  config.algorithm.feature_reduction = "sum"
  config.algorithm.equilibrium_gating = True
  config.algorithm.equilibrium = 0.68
  config.algorithm.equilibrium_margin = 0.35
  config.algorithm.discriminator_init = "lecun"  # Dis_l features of O(1); see vaegan.py
  config.model.discriminator = {"name": "dcgan", "base_features": 32}
  # The reference trains all three networks with RMSProp.
  rmsprop = {"name": "rmsprop", "learning_rate": 3e-4}
  config.optimizer.encoder = dict(rmsprop)
  config.optimizer.decoder = dict(rmsprop)
  config.optimizer.discriminator = dict(rmsprop)
  # Instance noise and spectral norm act on Dis (jaxgen.algorithms.vaegan.VAEGAN_PROVIDES); off.
  config.algorithm.stabilisers = stabilisers.default_config()
  return config
