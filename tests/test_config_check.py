"""Tests of jaxgen.run.config_check: every shipped config passes, each bad value is refused with a
message that names its key, the value and the valid choices or range, and the check is cheap: it
reads no data, loads no weights and compiles nothing (counted, never timed)."""

import contextlib
import importlib
import pkgutil
import types

import jax
import pytest

from jaxgen import algorithms, configs, data, errors
from jaxgen.configs import (
  aae_digits,
  dcgan_digits,
  gan_ring8,
  unrolled_ring8,
  vae_digits,
  wae_digits,
)
from jaxgen.data import mixtures, tfds_source
from jaxgen.metrics import evaluator, inception
from jaxgen.nn import registry as networks
from jaxgen.options import declared
from jaxgen.run.config_check import check_config

CONFIG_NAMES = sorted(
  module.name for module in pkgutil.iter_modules(configs.__path__) if module.name != "__init__"
)
DELETE = object()
DIGITS_MODULE = importlib.import_module("jaxgen.data.digits")  # jaxgen.data.digits is the factory


def _config(module, changes=None) -> dict:
  """`module`'s config as a plain dict with the dotted `changes` applied (DELETE drops a key)."""
  config = module.get_config().to_dict()
  for dotted, value in (changes or {}).items():
    *parents, last = dotted.split(".")
    node = config
    for part in parents:
      node = node[part]
    if value is DELETE:
      del node[last]
    else:
      node[last] = value
  return config


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_every_shipped_config_passes(name):
  check_config(importlib.import_module(f"jaxgen.configs.{name}").get_config())


@pytest.mark.parametrize("name", sorted(algorithms.ALGORITHMS))
def test_every_algorithm_declares_its_players_and_options(name):
  cls = algorithms.ALGORITHMS[name]
  assert cls.PLAYERS and set(cls.PLAYERS.values()) <= set(networks.NETWORKS)
  assert set(cls.OPTIONAL_PLAYERS) <= set(cls.PLAYERS)
  for option in declared(cls).values():
    assert option.doc and option.name.isidentifier(), option


# (base config, dotted changes, substrings the message must hold: key, value, choices or range)
BAD = {
  "extractor_typo": (
    dcgan_digits,
    {"eval.extractor": "digits_clasifier"},
    ["eval.extractor = 'digits_clasifier'", "Did you mean 'digits_classifier'?", "'fid_inception'"],
  ),
  "adam_b1": (
    dcgan_digits,
    {"optimizer.discriminator.b1": 1.5},
    ["optimizer.discriminator.b1 = 1.5 is out of range", "b1 must lie in [0, 1)"],
  ),
  "negative_learning_rate": (
    dcgan_digits,
    {"optimizer.generator.learning_rate": -1e-4},
    ["optimizer.generator.learning_rate = -0.0001", "[0, inf)"],
  ),
  "adam_eps_and_eps_root_zero": (
    gan_ring8,
    {"optimizer.generator.eps": 0.0},
    ["optimizer.generator = ", "'eps': 0.0", "eps + eps_root must be > 0"],
  ),
  "rmsprop_decay": (
    gan_ring8,
    {"optimizer.generator": {"name": "rmsprop", "learning_rate": 1e-3, "decay": 1.0}},
    ["optimizer.generator.decay = 1.0", "[0, 1)"],
  ),
  "negative_clip": (
    gan_ring8,
    {"optimizer.generator.clip_grad_norm": -1.0},
    ["optimizer.generator.clip_grad_norm = -1.0", "[0, inf)"],
  ),
  "optimizer_typo": (
    gan_ring8,
    {"optimizer.generator.name": "adm"},
    ["optimizer.generator.name = 'adm'", "Did you mean 'adam'?", "'rmsprop'"],
  ),
  "optimizer_option_typo": (
    gan_ring8,
    {"optimizer.generator.b_1": 0.5},
    ["'optimizer.generator.b_1'", "Did you mean 'b1'?", "'eps_root'"],
  ),
  "optimizer_for_missing_player": (
    dcgan_digits,
    {"optimizer.encoder": {"name": "adam", "learning_rate": 1e-3}},
    ["'optimizer.encoder'", "players ['generator', 'discriminator']"],
  ),
  "missing_optimizer_block": (
    vae_digits,
    {"optimizer.decoder": DELETE},
    ["lacks the key 'optimizer.decoder.name'"],
  ),
  "latent_dim_zero": (dcgan_digits, {"model.latent_dim": 0}, ["model.latent_dim = 0", ">= 1"]),
  "keep_checkpoints_zero": (
    dcgan_digits,
    {"keep_checkpoints": 0},
    ["keep_checkpoints = 0", "integer >= 1"],
  ),
  "num_steps_zero": (gan_ring8, {"num_steps": 0}, ["num_steps = 0", "integer >= 1"]),
  "batch_size_bool": (gan_ring8, {"batch_size": True}, ["batch_size = True", "integer >= 1"]),
  "seed_negative": (gan_ring8, {"seed": -1}, ["seed = -1", "integer >= 0"]),
  "seed_float": (gan_ring8, {"seed": 1.5}, ["seed = 1.5", "integer >= 0"]),
  "progress_bar_text": (
    gan_ring8,
    {"progress_bar": "yes"},
    ["progress_bar = 'yes'", "True or False"],
  ),
  "num_samples_zero": (gan_ring8, {"eval.num_samples": 0}, ["eval.num_samples = 0", ">= 1"]),
  "num_reference_zero": (
    gan_ring8,
    {"eval.num_reference": 0},
    ["eval.num_reference = 0", ">= 1"],
  ),
  "too_few_samples_for_image_metrics": (
    dcgan_digits,
    {"eval.num_samples": 5},
    ["eval.num_samples = 5", "at least 10"],
  ),
  "unknown_top_level_key": (
    dcgan_digits,
    {"num_step": 10},
    ["'num_step'", "Did you mean 'num_steps'?", "'checkpoint_every'"],
  ),
  "key_of_another_algorithm": (
    gan_ring8,
    {"algorithm.unroll_steps": 5},
    ["'algorithm.unroll_steps' for algorithm 'gan'", "read by ['unrolled']", "'weight_clip'"],
  ),
  "missing_required_key": (
    gan_ring8,
    {"algorithm.name": DELETE},
    ["lacks the key 'algorithm.name'"],
  ),
  "algorithm_typo": (
    gan_ring8,
    {"algorithm.name": "unroled"},
    ["algorithm.name = 'unroled'", "Did you mean 'unrolled'?", "'vaegan'"],
  ),
  "gan_loss_typo": (
    gan_ring8,
    {"algorithm.loss": "hinj"},
    ["algorithm.loss = 'hinj'", "Did you mean 'hinge'?", "'wasserstein'"],
  ),
  "penalty_typo": (
    gan_ring8,
    {"algorithm.penalty": {"name": "wgan-gp", "weight": 10.0}},
    ["algorithm.penalty.name = 'wgan-gp'", "Did you mean 'wgan_gp'?", "'none'"],
  ),
  "penalty_weight_negative": (
    gan_ring8,
    {"algorithm.penalty": {"name": "wgan_gp", "weight": -1.0}},
    ["algorithm.penalty = ", "'weight': -1.0", ">= 0"],
  ),
  "weight_clip_negative": (
    gan_ring8,
    {"algorithm.weight_clip": -0.1},
    ["algorithm.weight_clip = -0.1", ">= 0"],
  ),
  "discriminator_steps_zero": (
    gan_ring8,
    {"algorithm.discriminator_steps": 0},
    ["algorithm.discriminator_steps = 0", "integer >= 1"],
  ),
  "stabiliser_out_of_range": (
    gan_ring8,
    {"algorithm.stabilisers.label_smoothing": 1.0},
    ["algorithm.stabilisers.label_smoothing = 1.0", "[0.0, 1.0)"],
  ),
  "stabiliser_typo": (
    gan_ring8,
    {"algorithm.stabilisers.spectral_nrm": True},
    ["'algorithm.stabilisers.spectral_nrm'", "Did you mean 'spectral_norm'?", "'packing'"],
  ),
  "packing_does_not_divide_batch": (
    gan_ring8,
    {"algorithm.stabilisers.packing": 3},
    ["batch_size = 100", "algorithm.stabilisers.packing = 3", "multiple"],
  ),
  "penalty_with_minibatch_discrimination": (
    gan_ring8,
    {
      "algorithm.penalty": {"name": "r1", "weight": 10.0},
      "algorithm.stabilisers.minibatch_discrimination": 4,
    },
    [
      "algorithm.penalty.name = 'r1'",
      "algorithm.stabilisers.minibatch_discrimination = 4",
      "per-sample gradients",
      "Turn one off",
    ],
  ),
  "data_typo": (
    gan_ring8,
    {"data.name": "ring9"},
    ["data.name = 'ring9'", "Did you mean 'ring8'?", "'swissroll'"],
  ),
  "data_option_typo": (
    gan_ring8,
    {"data.options": {"stdev": 0.1}},
    ["'data.options.stdev'", "Did you mean 'std'?", "'num_examples'"],
  ),
  "data_option_out_of_range": (
    gan_ring8,
    {"data.options": {"std": -0.1}},
    ["data.options = {'std': -0.1}", "std must be a finite number > 0"],
  ),
  "digits_size": (
    dcgan_digits,
    {"data.options": {"size": 12}},
    ["data.options = {'size': 12}", "(8, 16)"],
  ),
  "tfds_crop_too_large": (
    gan_ring8,
    {"data.name": "celeb_a", "data.options": {"crop": 300}},
    ["data.options = {'crop': 300}", "at most the image's smaller side 178"],
  ),
  "network_typo": (
    gan_ring8,
    {"model.generator": {"name": "mpl"}},
    ["model.generator.name = 'mpl'", "Did you mean 'mlp'?", "'dcgan'"],
  ),
  "image_network_on_2d_data": (
    gan_ring8,
    {"model.generator": {"name": "dcgan"}},
    ["algorithm 'gan' on data 'ring8'", "'dcgan' generator makes images", "(2,)"],
  ),
  "network_option_typo": (
    gan_ring8,
    {"model.generator.hiden": (16,)},
    ["Bad options", "'hiden'", "'mlp' generator"],
  ),
  "extractor_on_2d_data": (
    gan_ring8,
    {"eval.extractor": "digits_classifier"},
    [
      "eval.extractor = 'digits_classifier' does not fit data.name = 'ring8'",
      "(16, 16, 1)",
      "(2,)",
    ],
  ),
  "extractor_without_shipped_weights": (
    dcgan_digits,
    {"eval.extractor": "mnist_classifier"},
    ["eval.extractor_weights = ''", "ships no weights", "train_classifier.py --dataset=mnist"],
  ),
  "extractor_weights_missing": (
    dcgan_digits,
    {"eval.extractor": "fid_inception", "eval.extractor_weights": "/nonexistent/fid.npz"},
    ["eval.extractor_weights = '/nonexistent/fid.npz'", "missing", inception.WEIGHTS_URL],
  ),
  "weights_without_extractor": (
    gan_ring8,
    {"eval.extractor_weights": "classifier.msgpack"},
    ["eval.extractor_weights = 'classifier.msgpack'", "eval.extractor = ''"],
  ),
  "conditional_without_labels": (
    gan_ring8,
    {"data.name": "swissroll", "conditional": True},
    ["conditional=True needs labelled data", "'swissroll' has no labels"],
  ),
  "acgan_without_labels": (
    gan_ring8,
    {"algorithm.name": "acgan", "data.name": "swissroll"},
    ["ACGAN needs labelled data", "'swissroll'"],
  ),
  "began_discriminator_steps": (
    gan_ring8,
    {
      "algorithm.name": "began",
      "model.discriminator": {"name": "autoencoder"},
      "algorithm.discriminator_steps": 2,
    },
    ["algorithm.discriminator_steps = 1", "(got 2)"],
  ),
  "unrolled_adam_needs_eps_root": (
    unrolled_ring8,
    {"optimizer.discriminator.eps_root": 0.0},
    ["set optimizer.discriminator.eps_root > 0"],
  ),
  "reconstruction_typo": (
    vae_digits,
    {"algorithm.reconstruction": {"name": "gausian"}},
    ["algorithm.reconstruction.name = 'gausian'", "Did you mean 'gaussian'?", "'bernoulli'"],
  ),
  "reconstruction_option_out_of_range": (
    vae_digits,
    {"algorithm.reconstruction": {"name": "gaussian", "std": 0.0}},
    ["algorithm.reconstruction = ", "'std': 0.0", "std must be a number > 0"],
  ),
  "wae_penalty_typo": (
    wae_digits,
    {"algorithm.penalty": "mdm"},
    ["algorithm.penalty = 'mdm'", "Did you mean 'mmd'?", "'gan'"],
  ),
  "prior_option_typo": (
    wae_digits,
    {"algorithm.prior": {"name": "gaussian", "sd": 2.0}},
    ["Bad options ['sd']", "prior"],
  ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_value_is_refused_naming_key_value_and_range(case):
  module, changes, expected = BAD[case]
  with pytest.raises(errors.ConfigError) as raised:
    check_config(_config(module, changes))
  for text in expected:
    assert text in str(raised.value)


def _weights(tmp_path, name):
  """An empty weights file and its checksum sidecar: check_config reads neither."""
  path = tmp_path / name
  path.write_bytes(b"")
  path.with_suffix(".sha256").write_text("0  x\n")
  return str(path)


def test_classifier_input_size_must_match_the_data(tmp_path):
  weights = _weights(tmp_path, "mnist.msgpack")
  config = _config(
    dcgan_digits, {"eval.extractor": "mnist_classifier", "eval.extractor_weights": weights}
  )
  with pytest.raises(errors.ConfigError) as raised:
    check_config(config)
  for text in ("eval.extractor = 'mnist_classifier'", "(28, 28, 1)", "(16, 16, 1)"):
    assert text in str(raised.value)
  config["data"] = {"name": "mnist", "options": {"data_dir": "", "download": False}}
  check_config(config)  # the same classifier fits MNIST


@pytest.mark.parametrize("size", [8, 16])
def test_resizing_or_padding_extractors_fit_any_digits_size(tmp_path, size):
  check_config(_config(dcgan_digits, {"data.options": {"size": size}}))  # 8x8 digits are padded
  weights = _weights(tmp_path, "fid.npz")
  changes = {"eval.extractor": "fid_inception", "eval.extractor_weights": weights}
  check_config(_config(dcgan_digits, {**changes, "data.options": {"size": size}}))


def _forbidden(*args, **kwargs):
  raise AssertionError("check_config must not read data or load weights")


BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def _jax_events():
  """The names of the JAX duration events (compilations among them) recorded inside the block."""
  events = []
  listener = lambda event, seconds, **kwargs: events.append(event)
  jax.monitoring.register_event_duration_secs_listener(listener)
  try:
    yield events
  finally:
    jax.monitoring.unregister_event_duration_listener(listener)


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_check_config_reads_no_data_loads_no_weights_compiles_nothing(monkeypatch, name):
  monkeypatch.setattr(tfds_source, "open_source", _forbidden)
  monkeypatch.setattr(DIGITS_MODULE, "_split_arrays", _forbidden)
  monkeypatch.setattr(mixtures.GaussianMixture, "sample", _forbidden)
  monkeypatch.setattr(mixtures.SwissRoll, "sample", _forbidden)
  for extractor in evaluator.EXTRACTORS:
    monkeypatch.setitem(evaluator.EXTRACTORS, extractor, _forbidden)
  config = importlib.import_module(f"jaxgen.configs.{name}").get_config()
  with _jax_events() as events:
    check_config(config)
  assert BACKEND_COMPILE not in events


def test_constructors_are_traced_not_compiled():
  # The AAE's constructor draws from its prior. With empty caches an eager construction compiles
  # (about 1.7 s); check_config's traced one must not.
  config = aae_digits.get_config()
  jax.clear_caches()
  with _jax_events() as events:
    check_config(config)
  assert BACKEND_COMPILE not in events
  stand_in = types.SimpleNamespace(name="digits", example_shape=(16, 16, 1), num_classes=10)
  with _jax_events() as events:
    algorithms.get("aae")(config, stand_in)
  assert BACKEND_COMPILE in events  # so the listener does see what a constructor compiles


# ----------------------------------------------------------- the facts the checks read


@pytest.mark.parametrize(
  "name, options",
  [
    ("digits", {}),
    ("digits", {"size": 16}),
    ("ring8", {}),
    ("grid25", {"std": 0.1}),
    ("swissroll", {}),
  ],
)
def test_data_facts_match_the_built_data_set(name, options):
  dataset = data.get(name, **options)
  facts = data.facts(name, **options)
  assert facts == (tuple(dataset.example_shape), dataset.num_classes)
  assert dataset.batch(0, 0, 4)["x"].shape[1:] == facts.example_shape


@pytest.mark.parametrize("name", sorted(tfds_source.PREPARED))
def test_prepared_tfds_facts_match_the_dataset_info(name):
  # tfds knows a data set's features without its files (no download, no data_dir needed).
  import tensorflow_datasets as tfds

  features = tfds.builder(name, data_dir="/nonexistent").info.features
  image_shape, num_classes = tfds_source.PREPARED[name]
  assert tuple(features["image"].shape) == image_shape
  label_key = "label" if num_classes else None  # how jaxgen.data reads each
  assert (features[label_key].num_classes if label_key else 0) == num_classes


def test_tfds_facts_follow_crop_and_size():
  assert data.facts("celeb_a") == ((64, 64, 3), 0)
  assert data.facts("celeb_a", size=32, crop=100) == ((32, 32, 3), 0)
  assert data.facts("cifar10") == ((32, 32, 3), 10)
  with pytest.raises(ValueError, match="crop must be at most"):
    data.facts("celeb_a", crop=200)


def test_classifier_input_facts_match_the_classifiers():
  # The shipped digits classifier reads 16x16 (and pads 8x8); the others are trained by
  # scripts/train_classifier.py at their data set's size.
  shipped = evaluator.load_digits_classifier()
  assert shipped.config["input_size"] == 16
  for name, (dataset, accepted) in evaluator.CLASSIFIER_INPUTS.items():
    options = {"size": 16} if dataset == "digits" else {}
    assert data.facts(dataset, **options).example_shape == accepted[0], name
  assert set(evaluator.CLASSIFIER_INPUTS) | {"fid_inception"} == set(evaluator.EXTRACTORS)
