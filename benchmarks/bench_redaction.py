"""Redaction cost against reply size: hostile shapes and many small secret elements.

``reveal`` of a whole text (DEBUG logging reveals whole envelopes) masks all of it; an
excerpt (``limit=2048``, what errors keep) cuts a body to its first 2048 characters
first, so its cost should not grow with the body.
Both must stay linear whatever the shape::

    .venv/bin/python benchmarks/bench_redaction.py [--max-mib 10]

Figures are seconds per call, the best of three.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

from superoffice_batch.errors import EXCERPT_CHARS
from superoffice_batch.secrets import SecretView
from superoffice_batch.servertext import ServerText, reveal

SECRETS = SecretView(("7T:dGhpcyBpcyBhIHRpY2tldA==", "client-secret-0001", "hunter2 pass"))

# Each shape repeats a unit up to the wanted size.
SHAPES: dict[str, str] = {
    "unterminated <Ticket  (attack)": "<Ticket ",
    "unterminated CDATA (attack)": "<Ticket><![CDATA[",
    "ticket prefixes (attack)": "7T:",
    "small secret elements": "<Ticket>7T:abcdef</Ticket>",
    "ordinary markup": "<p>Service Unavailable, try later</p>\n",
}


def _best(function: Callable[[], object]) -> float:
    return min(timeit.repeat(function, number=1, repeat=3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-mib", type=float, default=10.0)
    args = parser.parse_args()
    sizes = [size for size in (0.1, 0.4, 1.0, 2.5, 5.0, 10.0) if size <= args.max_mib]
    print(f"{'shape':34} {'MiB':>5} {'whole s':>9} {'excerpt s':>10}")
    for name, unit in SHAPES.items():
        for mib in sizes:
            text = unit * int(mib * 1024 * 1024 / len(unit))
            body = text.encode()
            full = _best(lambda text=text: reveal(ServerText(text, SECRETS)))
            cut = _best(lambda body=body: reveal(ServerText(body, SECRETS), limit=EXCERPT_CHARS))
            print(f"{name:34} {mib:5.1f} {full:9.3f} {cut:10.4f}")


if __name__ == "__main__":
    main()
