"""Scores a run's latest (or a named) checkpoint; keeps every score in evaluation.json / .md.

  python scripts/evaluate.py --workdir=workdirs/dcgan_digits [--step=3000] [--num_samples=2500]
      [--evaluators=images,...]

The same as `jaxgen eval workdirs/dcgan_digits ...` (`jaxgen eval --help`; `jaxgen.cli`): it runs
the evaluators the run's config names (`eval.evaluators`, `jaxgen.evaluators`), or those of
--evaluators: e.g. "images", FID, KID, Inception Score, precision and recall with the run's
feature extractor (`eval.extractor`, the shipped digits classifier by default for digits);
"points", modes covered, share of high-quality samples and reverse KL of a 2-D mixture (PacGAN's
definitions); "translation", label preservation, FID per domain and cycle errors of translators.

`evaluation.json` holds one record per evaluated (step, num_samples, extractor[, evaluators]),
sorted by step: scoring another step adds a record, scoring the same one again replaces it;
`evaluation.md` is the same as a table. It reads the workdir without its lock and moves or
deletes nothing, so it can score a run that is still training.
"""

import argparse

from jaxgen import cli


def main() -> None:
  """`--workdir=DIR` becomes `jaxgen eval DIR`; the other options are `jaxgen eval`'s."""
  parser = argparse.ArgumentParser(
    description=__doc__.splitlines()[0], epilog="Other options: those of `jaxgen eval --help`."
  )
  parser.add_argument("--workdir", required=True)
  args, eval_options = parser.parse_known_args()
  cli.main(["eval", args.workdir, *eval_options])


if __name__ == "__main__":
  main()
