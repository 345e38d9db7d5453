"""GAN on VEEGAN's 2-D ring (Srivastava et al. 2017, Table 1), with the authors' 2-D networks.

python scripts/train.py --config=gan_veegan_ring8 --workdir=workdirs/gan_veegan_ring8
python scripts/train.py --config=gan_veegan_ring8:unrolled --workdir=workdirs/unrolled_veegan_ring8

From the authors' 2-D notebook (akashgit/VEEGAN, `VEEGAN_2D_RING.ipynb`): 8 Gaussians at 4 x the
unit vectors of angles 2 pi i / 8 (radius 4), std 0.05; noise 254 x N(0, 1) (their generator also
draws one more N(0, 1) coordinate, its eps); G 2 x 128 ReLU, linear output; D 1 x 128 ReLU, one
logit; Adam lr 1e-3, beta1 0.5 for both; batch 500; both players' train ops in one `sess.run`
(simultaneous); 100 epochs x 1000 iterations. Scored on 2500 samples: a sample is high quality
within 3 std of its nearest mode, a mode is captured with at least one (`mode_coverage`).

The paper does not give its GAN baseline's networks or loss: this config takes the VEEGAN
notebook's G and a D on x alone with the same hidden layer, and the non-saturating loss. Table 1's
unrolled GAN uses K = 5 ("as suggested in the authors' reference implementation").
"""

from jaxgen.configs import default
from jaxgen.errors import ConfigError

METHODS = ("gan", "unrolled")


def get_config(method: str = "gan"):
  """`method`: "gan", or "unrolled" (Metz et al. 2016 with K = 5, VEEGAN's Table 1 row)."""
  if method not in METHODS:
    raise ConfigError(f"gan_veegan_ring8: after ':' comes one of {METHODS}, not {method!r}.")
  config = default.get_config()
  config.data.name = "ring8"
  config.data.options = {"radius": 4.0, "std": 0.05, "num_examples": None}
  config.batch_size = 500
  config.num_steps = 100_000
  config.eval_every = 5000
  config.checkpoint_every = 10_000
  config.log_every = 500
  config.steps_per_call = 100  # MLP steps: dispatch dominates on CPU
  config.model.latent_dim = 255  # their 254 noise coordinates plus the generator's eps
  relu = {"activation": "relu"}
  config.model.generator = {"name": "mlp", "hidden": (128, 128), "batch_norm": False, **relu}
  config.model.discriminator = {"name": "mlp", "hidden": (128,), "maxout_pieces": 0, **relu}
  config.algorithm.updates = "simultaneous"
  adam = {"name": "adam", "learning_rate": 1e-3, "b1": 0.5, "b2": 0.999, "eps": 1e-8}
  config.optimizer.generator = dict(adam)
  config.optimizer.discriminator = {**adam, "eps_root": 1e-8}  # a finite d sqrt(v) when unrolled
  config.eval.evaluators = ("points",)  # scatter plot and mode coverage (jaxgen.evaluators)
  if method == "unrolled":
    config.algorithm.name = "unrolled"
    config.algorithm.unroll_steps = 5
    config.algorithm.loss = "minimax"  # the unrolled surrogate is the game's value (zero-sum)
  return config
