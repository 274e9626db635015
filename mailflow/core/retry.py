"""How long to wait before trying again (pure)."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff(attempts: int, *, base: float = 30.0, cap: float = 3600.0, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after ``attempts`` failures: ``base`` doubled per failure
    up to ``cap``, with jitter over the upper half so that many rows (or many
    daemons) failing together do not retry together."""
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return ceiling / 2 + rng() * ceiling / 2
