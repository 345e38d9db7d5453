"""CycleGAN (Zhu et al. 2017) between the digits (A) and the digits colour-inverted and transposed
(B), drawn from disjoint halves of the training split (`jaxgen.data.unpaired`): no pair is seen.
ResNet translators and PatchGAN discriminators with instance norm scaled to 16 x 16, least-squares
adversarial loss, cycle weight 10, identity weight 0.5 * 10, a pool of 50 fakes per D, Adam 2e-4
b1 0.5 (sec. 4 and appendix 7.2); sized for a CPU session.

  python scripts/train.py --config=jaxgen/configs/cyclegan_digits.py \
    --workdir=workdirs/cyclegan_digits

One-to-many pairing (B = -x or (-x)^T at random; the diversity experiment of
docs/algorithms/cyclegan.md):

  ... --config.data.options.transform=invert_or_invert_transpose
"""

import ml_collections

from jaxgen import stabilisers
from jaxgen.configs import default


def get_config():
  config = default.get_digits_config()
  config.data.name = "unpaired"
  config.data.options = {"base": "digits", "transform": "invert_transpose", "size": 16}
  config.batch_size = 16
  config.num_steps = 2000
  config.eval_every = 500
  config.checkpoint_every = 500
  config.algorithm = ml_collections.ConfigDict()
  config.algorithm.name = "cyclegan"
  config.algorithm.loss = "least_squares"  # sec. 4
  config.algorithm.adversarial_weight = 2.0  # the paper's E[(D(G(a)) - 1)^2]; see cyclegan.py
  config.algorithm.cycle_weight = 10.0  # lambda, sec. 4
  config.algorithm.identity_weight = 0.5  # lambda_identity of the reference code, times lambda
  config.algorithm.pool_size = 50  # sec. 4
  config.algorithm.penalty = ml_collections.ConfigDict({"name": "none", "weight": 0.0})
  config.algorithm.stabilisers = stabilisers.default_config()
  # model.latent_dim is a key every config carries (config_check.REQUIRED); CycleGAN has no latent.
  config.model = ml_collections.ConfigDict()
  config.model.latent_dim = 1
  config.model.translator = {"name": "resnet", "features": 8, "num_blocks": 2}
  config.model.discriminator = {"name": "patchgan", "features": 16, "num_layers": 2}
  adam = {"name": "adam", "learning_rate": 2e-4, "b1": 0.5, "b2": 0.999}  # sec. 4
  config.optimizer = ml_collections.ConfigDict({"translator": adam, "discriminator": dict(adam)})
  # Label preservation, FID per domain and the cycle error on the 180 held-out images per domain.
  config.eval.evaluators = ("translation",)
  config.eval.extractor = "digits_classifier"
  config.eval.num_samples = 180
  config.eval.num_reference = 718
  return config
