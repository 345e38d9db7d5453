"""Unrolled GAN (Metz et al. 2016) on ring8: G differentiates through 5 discriminator updates.

python scripts/train.py --config=jaxgen/configs/unrolled_ring8.py --workdir=workdirs/unrolled
"""

from jaxgen.configs import gan_zoo_ring8


def get_config():
  config = gan_zoo_ring8.get_config()
  config.algorithm.name = "unrolled"
  config.algorithm.unroll_steps = 5
  # G differentiates through D's Adam steps: d sqrt(v) / dv is infinite at v = 0, so the root
  # needs optax's eps_root > 0 to keep that gradient finite (see optax.scale_by_adam).
  config.optimizer.discriminator.eps_root = 1e-8
  return config
