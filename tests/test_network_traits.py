"""Networks declare their traits (`jaxgen.nn.traits`), and the one rule refuses from them.

Issue 24's four silent combinations, each refused by `check_config` (before any step) and by
`train.Run`, with a reason that names the network, the switch and why; their accepted neighbours
still build.
"""

import pytest

from jaxgen import errors
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.configs import (
  aae_digits,
  cyclegan_digits,
  dcgan_digits,
  ebgan_ring8,
  gan_ring8,
  unrolled_ring8,
)
from jaxgen.nn import registry, traits
from jaxgen.run import config_check, train
from jaxgen.stabilisers import Stabilisers


def _digits_gan(discriminator, penalty=None, **switches):
  config = dcgan_digits.get_config()
  config.data.options = {"size": 8}
  config.batch_size, config.conditional, config.model.latent_dim = 8, False, 2
  config.eval.extractor = ""
  config.model.generator = {"name": "dcgan", "base_features": 2}
  config.model.discriminator = discriminator
  if penalty:
    config.algorithm.penalty = {"name": penalty, "weight": 10.0}
  for name, value in switches.items():
    config.algorithm.stabilisers[name] = value
  return config


def _with_autoencoder(module):
  config = module.get_config()
  config.model.discriminator = {"name": "autoencoder", "hidden": (4,), "code_dim": 2}
  return config


PROGAN = {"name": "progan", "features": 4}
PATCHGAN = {"name": "patchgan", "features": 2, "num_layers": 1}
PER_SAMPLE = "it needs per-sample gradients of a discriminator whose output for a sample depends"
ONE_LOGIT = "it needs a discriminator that ends in one real/fake logit"
REFUSED = {
  # 1. Karras et al. 2018, sec. 3: the minibatch stddev reads the other samples of a group.
  **{
    f"progan-{p}": (
      lambda p=p: _digits_gan(PROGAN, p),
      [
        f"algorithm.penalty.name = {p!r} is not supported by model.discriminator.name = 'progan'",
        PER_SAMPLE,
        "mixes samples through the minibatch standard deviation over groups of group_size = 4",
        "Set model.discriminator.group_size = 1, or turn it off.",
      ],
    )
    for p in ("wgan_gp", "r1", "dragan")
  },
  # 2. The autoencoder D's output is a reconstruction: its "logits" would be coordinates.
  **{
    f"autoencoder-in-{module.__name__.rpartition('.')[2]}": (
      lambda module=module: _with_autoencoder(module),
      [
        "model.discriminator.name = 'autoencoder' does not fit algorithm",
        "its losses read one real/fake logit per sample",
        "the 'autoencoder' discriminator outputs a reconstruction of its input and a code",
      ],
    )
    for module in (gan_ring8, aae_digits, cyclegan_digits, unrolled_ring8)
  },
  # 3. Minibatch discrimination's [B] logit would broadcast over the [B, h, w, 1] patch map.
  "patchgan-minibatch": (
    lambda: _digits_gan(PATCHGAN, minibatch_discrimination=3),
    [
      "algorithm.stabilisers.minibatch_discrimination = 3 is not supported by "
      "model.discriminator.name = 'patchgan'",
      ONE_LOGIT,
      "outputs one real/fake logit per patch, [B, h, w, 1]",
    ],
  ),
  # 4. A penalty on the gradient of the patches' sum, while the loss averages them.
  **{
    f"patchgan-{p}": (
      lambda p=p: _digits_gan(PATCHGAN, p),
      [
        f"algorithm.penalty.name = {p!r} is not supported by model.discriminator.name = 'patchgan'",
        ONE_LOGIT,
        "outputs one real/fake logit per patch",
        "Turn it off or choose another discriminator.",
      ],
    )
    for p in ("wgan_gp", "r1")
  },
}


@pytest.mark.parametrize("label", sorted(REFUSED))
def test_a_combination_the_traits_break_is_refused_before_training(label):
  make, texts = REFUSED[label]
  for check in (config_check.check_config, train.Run):
    with pytest.raises(errors.ConfigError) as raised:
      check(make())
    message = str(raised.value)
    for text in texts:
      assert text in message, (check, message)


@pytest.mark.parametrize(
  "label, make",
  [
    ("progan-groups-of-one-wgan_gp", lambda: _digits_gan({**PROGAN, "group_size": 1}, "wgan_gp")),
    ("progan-alone", lambda: _digits_gan(PROGAN)),
    ("patchgan-alone", lambda: _digits_gan(PATCHGAN)),
    ("patchgan-feature-matching", lambda: _digits_gan(PATCHGAN, feature_matching=True)),
    ("dcgan-layer-norm-r1", lambda: _digits_gan({"name": "dcgan", "norm": "layer"}, "r1")),
    ("ebgan-autoencoder", ebgan_ring8.get_config),
    ("cyclegan-patchgan", cyclegan_digits.get_config),
  ],
)
def test_the_accepted_neighbours_still_build(label, make):
  config_check.check_config(make())


def _build_every(role):
  """Each registered `role` network, built for image or vector data, whichever it takes."""
  facts = {"num_classes": 0}
  if role == "encoder":
    facts |= {"latent_dim": 2, "stochastic": True}
  if role == "translator":
    facts = {}
  for name, factory in registry.NETWORKS[role].items():
    for shape in ((16, 16, 1), (2,)):
      try:
        yield name, factory(example_shape=shape, **facts)
        break
      except ValueError:
        continue
    else:
      raise AssertionError(f"the {role} {name!r} builds for neither images nor vectors")


@pytest.mark.parametrize("role", sorted(registry.NETWORKS))
def test_every_registered_network_declares_its_traits(role):
  for name, module in _build_every(role):
    declared = traits.traits_of(module)
    assert role in declared.roles, (role, name, declared)
    assert bool(declared.unmix) <= bool(declared.mixes_samples), (name, declared)


def test_the_declared_mixing_follows_the_options():
  dcgan = registry.DISCRIMINATORS["dcgan"]
  assert traits.traits_of(dcgan((16, 16, 1), 0, norm="batch")).mixes_samples
  assert not traits.traits_of(dcgan((16, 16, 1), 0, norm="layer")).mixes_samples
  progan = registry.DISCRIMINATORS["progan"]
  assert traits.traits_of(progan((16, 16, 1), 0)).mixes_samples
  assert not traits.traits_of(progan((16, 16, 1), 0, group_size=1)).mixes_samples
  mlp = registry.GENERATORS["mlp"]
  assert traits.traits_of(mlp((2,), 0, batch_norm=True)).mixes_samples
  assert not traits.traits_of(mlp((2,), 0, batch_norm=False)).mixes_samples


def test_a_network_withholds_only_what_the_algorithm_provides():
  """What an algorithm does not provide anyway keeps the algorithm's own refusal."""
  patch = rules.Discriminator("patchgan", traits.NetworkTraits(("discriminator",), "patch_logits"))
  s = Stabilisers(minibatch_discrimination=3)
  with pytest.raises(errors.ConfigError, match="model.discriminator.name = 'patchgan'"):
    rules.check_stabilisers("algorithm 'x'", frozenset({rules.LOGITS}), s, network=patch)
  with pytest.raises(errors.ConfigError, match="is not supported by algorithm 'x': it needs"):
    rules.check_stabilisers("algorithm 'x'", frozenset(), s, network=patch)
  logit = rules.Discriminator("mlp", traits.NetworkTraits(("discriminator",), "logit"))
  rules.check_stabilisers("algorithm 'x'", frozenset({rules.LOGITS}), s, network=logit)


def test_traits_refuse_an_unknown_output_and_a_network_without_them():
  with pytest.raises(ValueError, match="Unknown output kind"):
    traits.NetworkTraits(("discriminator",), "logits")
  with pytest.raises(TypeError, match="declares no NetworkTraits"):
    traits.traits_of(object())
