"""ProGAN (Karras et al. 2018) on the bundled digits padded to 16x16: 4x4 -> 8x8 -> 16x16.

python scripts/train.py --config=jaxgen/configs/progan_digits.py --workdir=workdirs/progan_digits

The step budget is dcgan_digits' (3000 steps of batch 64), in five phases of 600 steps: stable 4x4,
fade in 8x8, stable 8x8, fade in 16x16, stable 16x16; evaluation at the end of each phase.
"""

import ml_collections

from jaxgen import stabilisers
from jaxgen.configs import default


def get_config():
  config = default.get_digits_config()
  config.algorithm = ml_collections.ConfigDict()
  config.algorithm.name = "progan"
  config.algorithm.stable_steps = 600
  config.algorithm.fade_steps = 600
  # Karras et al. 2018, sec. A.1: WGAN-GP's lambda = 10 and epsilon_drift = 0.001.
  config.algorithm.penalty_weight = 10.0
  config.algorithm.drift_weight = 0.001
  config.algorithm.stabilisers = stabilisers.default_config()
  # The paper's EMA of G has decay 0.999 over phases of ~50k steps (800k images, batch 16); with
  # phases of 600 steps a horizon of 1000 steps would average across stages, so 0.99 (100 steps).
  config.algorithm.stabilisers.generator_ema = 0.99
  config.model.latent_dim = 32
  config.model.generator = {"name": "progan", "features": 32}
  config.model.discriminator = {"name": "progan", "features": 32}
  # Karras et al. 2018, sec. A.1: Adam with lr 0.001, beta1 0, beta2 0.99, epsilon 1e-8.
  adam = {"name": "adam", "learning_rate": 1e-3, "b1": 0.0, "b2": 0.99, "eps": 1e-8}
  config.optimizer.generator = ml_collections.ConfigDict(adam)
  config.optimizer.discriminator = ml_collections.ConfigDict(adam)
  config.eval_every = 600
  config.checkpoint_every = 600
  config.eval.extractor = "digits_classifier"  # shipped with jaxgen (jaxgen/assets), as DCGAN's
  return config
