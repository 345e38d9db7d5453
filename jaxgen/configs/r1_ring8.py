"""The non-saturating GAN with the R1 penalty (Mescheder et al. 2018) on ring8.

python scripts/train.py --config=jaxgen/configs/r1_ring8.py --workdir=workdirs/r1_ring8
"""

from jaxgen.configs import gan_zoo_ring8


def get_config():
  config = gan_zoo_ring8.get_config()
  config.algorithm.loss = "non_saturating"
  # Mescheder et al. 2018, sec. 5: gamma = 10 for their image experiments.
  config.algorithm.penalty = {"name": "r1", "weight": 10.0}
  return config
