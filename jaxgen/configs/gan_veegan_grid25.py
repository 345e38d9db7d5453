"""GAN on VEEGAN's 2-D grid (Srivastava et al. 2017, Table 1): 25 Gaussians at (-4 + 2i, -4 + 2j),
std 0.05 (jaxgen's grid25), with the networks and optimizers of `gan_veegan_ring8`.

python scripts/train.py --config=gan_veegan_grid25 --workdir=workdirs/gan_veegan_grid25
python scripts/train.py --config=gan_veegan_grid25:unrolled --workdir=workdirs/unrolled_grid25
"""

from jaxgen.configs import gan_veegan_ring8


def get_config(method: str = "gan"):
  config = gan_veegan_ring8.get_config(method)
  config.data.name = "grid25"
  config.data.options = {"num_examples": None}
  return config
