"""Inception Score from any classifier's logits (Salimans et al. 2016).

    IS = exp(E_x KL(p(y|x) || p(y))),  p(y) = E_x p(y|x)            (Salimans et al. 2016, Sec. 4)

As in the reference code (openai/improved-gan), the samples are cut into `num_splits` consecutive
parts, the score is computed on each part with that part's own marginal p(y), and the mean and
standard deviation over the parts are returned. Everything runs in float64 from log-softmax, so
confident predictions (p(y|x) -> one-hot) give no log(0).
"""

from __future__ import annotations

import numpy as np
import scipy.special

from jaxgen.metrics._checks import as_matrix


def inception_score(logits, num_splits: int = 10) -> tuple[float, float]:
  """Mean and standard deviation of the Inception Score over `num_splits` parts.

  Args:
    logits: class logits [n, num_classes] of generated samples (unnormalised log-probabilities).
    num_splits: number of consecutive parts; each must hold at least one sample.

  Returns:
    (mean, std) over the parts; the score lies in [1, num_classes].
  """
  logits = as_matrix("logits", logits)
  if logits.shape[1] < 2:
    raise ValueError(f"logits must have shape [n, num_classes >= 2]; got {logits.shape}.")
  if int(num_splits) != num_splits or not 1 <= num_splits <= logits.shape[0]:
    raise ValueError(
      f"num_splits must be an integer in [1, {logits.shape[0]}] (the number of samples); "
      f"got {num_splits!r}."
    )
  log_probs = scipy.special.log_softmax(logits, axis=1)
  scores = []
  for part in np.array_split(log_probs, int(num_splits)):
    # log p(y) = log mean_x p(y|x), computed as a log-sum-exp.
    log_marginal = scipy.special.logsumexp(part, axis=0) - np.log(part.shape[0])
    # KL(p(y|x) || p(y)) per sample, averaged over the part.
    kl = np.sum(np.exp(part) * (part - log_marginal), axis=1)
    scores.append(np.exp(np.mean(kl)))
  return float(np.mean(scores)), float(np.std(scores))
