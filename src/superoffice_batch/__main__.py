"""``python -m superoffice_batch``: the ``superoffice-batch`` command line."""

from superoffice_batch.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
