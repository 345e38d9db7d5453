"""The hinge-loss GAN (Lim & Ye 2017; Miyato et al. 2018) on ring8, with spectral norm in D.

python scripts/train.py --config=jaxgen/configs/hinge_ring8.py --workdir=workdirs/hinge_ring8
"""

from jaxgen.configs import gan_zoo_ring8


def get_config():
  config = gan_zoo_ring8.get_config()
  config.algorithm.loss = "hinge"
  config.algorithm.stabilisers.spectral_norm = True  # Miyato et al. 2018 pair it with the hinge
  return config
