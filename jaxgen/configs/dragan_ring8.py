"""DRAGAN (Kodali et al. 2017) on ring8: the gradient penalty around the real data.

python scripts/train.py --config=jaxgen/configs/dragan_ring8.py --workdir=workdirs/dragan_ring8
"""

from jaxgen.configs import gan_zoo_ring8


def get_config():
  config = gan_zoo_ring8.get_config()
  config.algorithm.loss = "non_saturating"
  # Kodali et al. 2017 (and their code, kodalinaveen3/DRAGAN): lambda = 10, perturbation 0.5 std.
  config.algorithm.penalty = {"name": "dragan", "weight": 10.0, "scale": 0.5}
  return config
