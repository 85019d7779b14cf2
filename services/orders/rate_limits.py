"""Per-key rate limits, without I/O: a token bucket per API key in each orders process.

A partner's quota (`rate` requests per second, bursts of up to `burst`) holds across every
replica of orders because each replica enforces its share: the quota divided by the number
of live replicas (`replicas`, counted from their heartbeats in the database). No request
pays a database round trip; the sum of the shares never exceeds the quota. Requests must be
spread over the replicas (as a per-request load balancer does) for a partner to reach its
whole quota; one pinned to a single replica gets that replica's share.

The response fields follow the IETF HTTPAPI draft (draft-ietf-httpapi-ratelimit-headers):
`RateLimit-Policy: "partner";q=<burst>;w=<seconds to refill>` and
`RateLimit: "partner";r=<remaining>;t=<seconds until full>`, plus `Retry-After` on a 429.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

POLICY = "partner"
BUCKETS_KEPT = 10_000


@dataclass(frozen=True)
class Quota:
    rate: float  # requests per second
    burst: int

    def share(self, replicas: int) -> Quota:
        replicas = max(1, replicas)
        return Quota(self.rate / replicas, max(1, self.burst // replicas))


# Without a quota of its own, a partner may send this much (`partner_rate_*` settings).
DEFAULT_QUOTA = Quota(rate=1000, burst=2000)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    quota: Quota  # the partner's whole quota, as published
    remaining: int  # of the whole quota, estimated from this replica's share
    reset_seconds: int  # until the bucket is full again
    retry_after_seconds: int  # 0 when allowed

    def headers(self) -> dict[str, str]:
        window = max(1, math.ceil(self.quota.burst / self.quota.rate))
        headers = {
            "RateLimit-Policy": f'"{POLICY}";q={self.quota.burst};w={window}',
            "RateLimit": f'"{POLICY}";r={self.remaining};t={self.reset_seconds}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


class RateLimiter:
    """One token bucket per key, at most `BUCKETS_KEPT` (the least recently used go first:
    a forgotten bucket starts full, which a key idle that long would be anyway)."""

    def __init__(self, clock: Callable[[], float], replicas: int = 1) -> None:
        self._clock = clock
        self._buckets: dict[object, _Bucket] = {}
        self.replicas = replicas

    def acquire(self, key: object, quota: Quota) -> Decision:
        share = quota.share(self.replicas)
        now = self._clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            if len(self._buckets) >= BUCKETS_KEPT:
                del self._buckets[next(iter(self._buckets))]
            bucket = _Bucket(share.burst, now)
        else:
            bucket.tokens = min(share.burst, bucket.tokens + (now - bucket.updated) * share.rate)
            bucket.updated = now
        self._buckets[key] = bucket
        allowed = bucket.tokens >= 1
        if allowed:
            bucket.tokens -= 1
        retry_after = 0 if allowed else max(1, math.ceil((1 - bucket.tokens) / share.rate))
        return Decision(
            allowed=allowed,
            quota=quota,
            remaining=min(quota.burst, math.floor(bucket.tokens) * max(1, self.replicas)),
            reset_seconds=math.ceil((share.burst - bucket.tokens) / share.rate),
            retry_after_seconds=retry_after,
        )
