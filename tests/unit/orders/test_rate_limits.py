"""Token buckets per key, split between replicas; the IETF draft's fields. No I/O."""

from __future__ import annotations

from services.orders.rate_limits import Quota, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def _allowed(limiter: RateLimiter, key: str, quota: Quota, requests: int) -> int:
    return sum(limiter.acquire(key, quota).allowed for _ in range(requests))


def test_a_burst_passes_then_the_rate_refills_it():
    clock = Clock()
    limiter, quota = RateLimiter(clock), Quota(rate=10, burst=20)

    assert _allowed(limiter, "k", quota, 25) == 20
    clock.now += 0.5
    assert _allowed(limiter, "k", quota, 25) == 5


def test_each_key_has_its_own_bucket():
    limiter, quota = RateLimiter(Clock()), Quota(rate=1, burst=3)

    assert _allowed(limiter, "a", quota, 5) == 3
    assert _allowed(limiter, "b", quota, 5) == 3


def test_replicas_share_the_quota_so_together_they_never_exceed_it():
    clock = Clock()
    quota = Quota(rate=10, burst=20)
    replicas = [RateLimiter(clock, replicas=2) for _ in range(2)]

    first = sum(_allowed(limiter, "k", quota, 30) for limiter in replicas)
    clock.now += 1
    second = sum(_allowed(limiter, "k", quota, 30) for limiter in replicas)

    assert (first, second) == (20, 10)


def test_a_refusal_says_when_to_retry_and_publishes_the_policy():
    clock = Clock()
    limiter, quota = RateLimiter(clock), Quota(rate=2, burst=4)
    for _ in range(4):
        allowed = limiter.acquire("k", quota)
    assert allowed.headers() == {
        "RateLimit-Policy": '"partner";q=4;w=2',
        "RateLimit": '"partner";r=0;t=2',
    }

    refused = limiter.acquire("k", quota)

    assert not refused.allowed
    assert refused.retry_after_seconds == 1
    assert refused.headers()["Retry-After"] == "1"
    clock.now += 0.5
    assert limiter.acquire("k", quota).allowed
