"""BEGAN (Berthelot et al. 2017) on ring8: the k_t-balanced autoencoder game; logs M_global.

python scripts/train.py --config=jaxgen/configs/began_ring8.py --workdir=workdirs/began_ring8
"""

from jaxgen.configs import gan_zoo_ring8


def get_config():
  config = gan_zoo_ring8.get_config()
  config.algorithm.name = "began"
  config.algorithm.gamma = 0.5
  config.algorithm.lambda_k = 1e-3  # Berthelot et al. 2017: lambda_k = 0.001
  config.algorithm.updates = "simultaneous"  # Berthelot et al. 2017, eq. 4: both at one point
  config.model.discriminator = {"name": "autoencoder", "hidden": (200, 200), "code_dim": 8}
  return config
