"""Train any jaxgen config: `python scripts/train.py --config=jaxgen/configs/X.py --workdir=DIR`
(the same as `jaxgen train X --workdir=DIR`, `jaxgen.cli`).

Extra `--config.key=value` flags override config fields; re-running resumes from the workdir.
"""

from jaxgen.run.train import main

if __name__ == "__main__":
  main()
