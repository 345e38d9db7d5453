"""The "images" evaluator: a grid of samples, and FID, KID, Inception Score, precision and recall
of `eval.num_samples` samples with the config's feature extractor (`eval.extractor`; "" : the
picture only), against the features of the first `eval.num_reference` training images
(`jaxgen.metrics.ImageEvaluator`)."""

from __future__ import annotations

from jaxgen import metrics
from jaxgen.evaluators import BaseEvaluator, Context, FeatureSpace, register_evaluator
from jaxgen.options import Option, integer
from jaxgen.run import plots

COLUMNS, COUNT, PER_CLASS = 8, 64, 10  # the grid of an unconditional algorithm; per class


@register_evaluator("images")
class Images(BaseEvaluator):
  """Images [N, H, W, C]: the grid of the first samples and the image metrics."""

  OPTIONS = (
    Option(
      "grid_columns",
      0,
      f"samples a row of the picture; 0: one column per class for a conditional algorithm (its "
      f"samples cycle through the classes), else {COLUMNS}",
      check=integer(0),
    ),
    Option(
      "grid_count",
      0,
      f"samples in the picture; 0: {PER_CLASS} per class for a conditional algorithm, else {COUNT}",
      check=integer(0),
    ),
  )

  def __init__(self, config, options):
    """See `BaseEvaluator`; the image metrics are built at the first call."""
    super().__init__(config, options)
    self._metrics = None  # built on first use: extracting the reference features takes a while
    self._space = None  # where the last call measured its metrics

  @classmethod
  def check(cls, options, algorithm, facts) -> None:
    """Images are (H, W, C) examples."""
    shape = tuple(facts.example_shape)
    if len(shape) != 3:
      raise ValueError(
        f"'images' draws and scores (H, W, C) examples, not shape {shape}; name 'points' for "
        "1-D or 2-D points."
      )

  def grid(self, num_classes: int) -> tuple[int, int]:
    """(columns, count) of the picture: the options, or by the algorithm's classes."""
    columns = self.options.grid_columns or num_classes or COLUMNS
    count = self.options.grid_count or (PER_CLASS * num_classes if num_classes else COUNT)
    return columns, count

  def __call__(self, context: Context) -> dict[str, float]:
    """The picture, and the image metrics of `eval.extractor` (none without one)."""
    samples = context.samples
    if context.picture:
      columns, count = self.grid(context.algorithm.num_classes)
      plots.save_image_grid(samples[:count], context.picture, columns, context.title)
    eval_config = self.config.eval
    if not eval_config.get("extractor"):
      return {}
    if self._metrics is None:
      extractor = metrics.get_extractor(
        eval_config.extractor, eval_config.get("extractor_weights") or None
      )
      reference = context.data.training(eval_config.get("num_reference", 10_000))["x"]
      self._metrics = metrics.ImageEvaluator(extractor, reference, seed=self.config.seed)
    scores = self._metrics(samples)
    self._space = FeatureSpace(
      eval_config.extractor,
      self._metrics.extractor.feature_dim,
      len(samples),
      len(self._metrics.real_features),
      tuple(scores),
    )
    return scores

  def feature_space(self) -> FeatureSpace | None:
    """The extractor's features, the samples and the reference images of the last call."""
    return self._space
