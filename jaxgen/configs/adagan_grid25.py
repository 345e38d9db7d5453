"""AdaGAN on the 5x5 grid of Gaussians: `adagan_ring8` on grid25.

python scripts/train.py --config=jaxgen/configs/adagan_grid25.py --workdir=workdirs/adagan_grid25
"""

from jaxgen.configs import adagan_ring8


def get_config():
  config = adagan_ring8.get_config()
  config.data.name = "grid25"
  return config
