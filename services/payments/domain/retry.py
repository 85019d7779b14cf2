"""How the gateway adapter retries transient failures: capped exponential backoff, full jitter.

Each wait is drawn uniformly between zero and an exponentially growing ceiling
("full jitter"), so clients that failed together do not retry together. The
random source is injected, keeping the policy pure and its tests exact. Retries
are safe only because every retry reuses the request's idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

RandomUnit = Callable[[], float]
"""Returns a number in [0, 1), as `random.Random().random` does."""

_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay: timedelta = timedelta(milliseconds=200)
    max_delay: timedelta = timedelta(seconds=5)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"at least one attempt is needed, got {self.max_attempts}")
        if self.base_delay <= timedelta(0):
            raise ValueError(f"base delay must be positive, got {self.base_delay}")
        if self.max_delay < self.base_delay:
            raise ValueError("max delay must not be shorter than the base delay")

    def backoff_ceiling(self, failed_attempt: int) -> timedelta:
        """The longest wait after the `failed_attempt`-th attempt (1-based), before jitter."""
        if failed_attempt < 1:
            raise ValueError(f"attempts are counted from 1, got {failed_attempt}")
        doublings = failed_attempt - 1
        # base * 2**doublings exceeds the cap exactly when 2**doublings > cap // base;
        # deciding on integers keeps late attempts from overflowing timedelta.
        if doublings >= (self.max_delay // self.base_delay).bit_length():
            return self.max_delay
        return self.base_delay * (1 << doublings)

    def delay_after(self, failed_attempt: int, random_unit: RandomUnit) -> timedelta | None:
        """How long to wait before the next attempt, or None once every attempt is spent."""
        ceiling = self.backoff_ceiling(failed_attempt)
        if failed_attempt >= self.max_attempts:
            return None
        fraction = random_unit()
        if not 0 <= fraction < 1:
            raise ValueError(f"random unit must be in [0, 1), got {fraction}")
        return timedelta(microseconds=int(ceiling // _ONE_MICROSECOND * fraction))
