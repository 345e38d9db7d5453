"""EBGAN-PT (Zhao et al. 2016) on ring8: an autoencoder discriminator with a margin.

python scripts/train.py --config=jaxgen/configs/ebgan_ring8.py --workdir=workdirs/ebgan_ring8
"""

from jaxgen.configs import gan_zoo_ring8


def get_config():
  config = gan_zoo_ring8.get_config()
  config.algorithm.name = "ebgan"
  config.algorithm.margin = 1.0
  config.algorithm.pulling_away_weight = 0.1  # Zhao et al. 2016: lambda_PT = 0.1
  config.model.discriminator = {"name": "autoencoder", "hidden": (200, 200), "code_dim": 8}
  return config
