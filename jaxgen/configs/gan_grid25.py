"""GAN on the 5x5 grid of Gaussians with PacGAN's networks (Lin et al. 2018, Table 1 setup).

python scripts/train.py --config=jaxgen/configs/gan_grid25.py --workdir=workdirs/gan_grid25
"""

from jaxgen.configs import gan_ring8


def get_config():
  config = gan_ring8.get_config()
  config.data.name = "grid25"
  return config
