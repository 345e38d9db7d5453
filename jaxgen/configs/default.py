"""The fields every config shares; an experiment's config imports it and overrides what differs."""

import ml_collections

from jaxgen import stabilisers


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.batch_size = 64
  config.num_steps = 1000
  config.log_every = 50
  config.eval_every = 500
  config.checkpoint_every = 500
  config.keep_checkpoints = 3
  config.progress_bar = True
  # Train steps per compiled call (a lax.scan): > 1 pays off for small MLP models whose steps are
  # dominated by dispatch; keep 1 for conv nets (a scan around a conv backward is slow on XLA:CPU).
  config.steps_per_call = 1
  config.conditional = False
  # The dtype networks compute in: "float32", or "bfloat16" with float32 params, optimizer state,
  # batch statistics and losses (jaxgen.nn.precision).
  config.precision = "float32"
  # How XLA:CPU hands dots to its YNNPACK library: "default" (XLA's choice) or "individual" (each
  # dot alone; faster for MLP steps, float32 rounding differs); ignored on GPU/TPU (parallel.py).
  config.cpu_dot_fusion = "default"

  # Your own modules that register components (jaxgen.registry), imported before the config is
  # checked: module names or .py paths, e.g. ("my_components",).
  config.imports = ()

  config.data = ml_collections.ConfigDict()
  config.data.name = "digits"
  config.data.options = ml_collections.ConfigDict()
  _add_gan(config)
  _add_eval(config)
  return config


def _add_gan(config: ml_collections.ConfigDict) -> None:
  """The GAN with DCGAN's networks and optimizer, every switch of the family spelt out."""
  config.algorithm = ml_collections.ConfigDict()
  config.algorithm.name = "gan"
  config.algorithm.loss = "non_saturating"
  config.algorithm.discriminator_steps = 1
  # "alternating" (Goodfellow et al. 2014, Algorithm 1) or "simultaneous" (both gradients at one
  # point on one batch; jaxgen.algorithms.gan.UPDATES).
  config.algorithm.updates = "alternating"
  # The GAN family's switches, all off, so any GAN config takes them on the command line.
  config.algorithm.penalty = ml_collections.ConfigDict({"name": "none", "weight": 0.0})
  config.algorithm.weight_clip = 0.0
  # The plain GAN only: G's step reuses the last D step's noise (PyTorch's DCGAN example).
  config.algorithm.generator_reuses_fakes = False
  config.algorithm.stabilisers = stabilisers.default_config()

  config.model = ml_collections.ConfigDict()
  config.model.latent_dim = 64
  config.model.generator = ml_collections.ConfigDict({"name": "dcgan"})
  config.model.discriminator = ml_collections.ConfigDict({"name": "dcgan"})

  config.optimizer = ml_collections.ConfigDict()
  # Radford et al. 2016, sec. 4: Adam, lr 2e-4, beta1 0.5.
  adam = {"name": "adam", "learning_rate": 2e-4, "b1": 0.5, "b2": 0.999}
  config.optimizer.generator = ml_collections.ConfigDict(adam)
  config.optimizer.discriminator = ml_collections.ConfigDict(adam)


def _add_eval(config: ml_collections.ConfigDict) -> None:
  """What an evaluation scores: samples, the feature extractor, the evaluators."""
  config.eval = ml_collections.ConfigDict()
  config.eval.num_samples = 2500
  # Feature extractor for FID/KID/IS/precision/recall of images ("" = pictures only); see
  # jaxgen.metrics.EXTRACTORS. Weights path for extractors that are not shipped.
  config.eval.extractor = ""
  config.eval.extractor_weights = ""
  config.eval.num_reference = 10_000  # training images whose features are the FID reference
  # What each evaluation scores and draws (jaxgen.evaluators): evaluator names, each a name or
  # {"name": ..., **options}: "images", "points" (1-D and 2-D data), "translation" (CycleGAN), or
  # your own; () : the algorithm's default.
  config.eval.evaluators = ("images",)


def get_digits_config() -> ml_collections.ConfigDict:
  """`get_config` on the bundled 8x8 digits padded to 16x16, sized for a CPU session: the base of
  the digits GAN and autoencoder configs."""
  config = get_config()
  config.data.name = "digits"
  config.data.options = {"size": 16}
  config.batch_size = 64
  config.num_steps = 3000
  config.eval_every = 1000
  config.checkpoint_every = 1000
  config.eval.num_samples = 1000
  return config
