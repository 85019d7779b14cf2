from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.payments.domain.retry import RetryPolicy

POLICY = RetryPolicy(
    max_attempts=5, base_delay=timedelta(milliseconds=100), max_delay=timedelta(milliseconds=500)
)


def test_ceiling_doubles_until_capped() -> None:
    assert [POLICY.backoff_ceiling(attempt) for attempt in range(1, 6)] == [
        timedelta(milliseconds=100),
        timedelta(milliseconds=200),
        timedelta(milliseconds=400),
        timedelta(milliseconds=500),
        timedelta(milliseconds=500),
    ]


def test_jitter_scales_the_ceiling() -> None:
    assert POLICY.delay_after(3, lambda: 0.0) == timedelta(0)
    assert POLICY.delay_after(3, lambda: 0.5) == timedelta(milliseconds=200)
    almost_full = POLICY.delay_after(3, lambda: 0.999999)
    assert almost_full is not None
    assert almost_full < timedelta(milliseconds=400)


def test_no_delay_once_attempts_are_spent() -> None:
    assert POLICY.delay_after(4, lambda: 0.5) is not None
    assert POLICY.delay_after(5, lambda: 0.5) is None
    assert RetryPolicy(max_attempts=1).delay_after(1, lambda: 0.5) is None


def test_random_source_must_return_a_unit_fraction() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        POLICY.delay_after(1, lambda: 1.0)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_attempts": 0}, "at least one attempt"),
        ({"base_delay": timedelta(0)}, "base delay must be positive"),
        ({"base_delay": timedelta(seconds=2), "max_delay": timedelta(seconds=1)}, "not be shorter"),
    ],
)
def test_invalid_policies_are_refused(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**arguments)  # type: ignore[arg-type]


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        POLICY.backoff_ceiling(0)


@given(
    attempt=st.integers(min_value=1, max_value=10_000),
    fraction=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_delay_is_bounded_by_ceiling_and_cap(attempt: int, fraction: float) -> None:
    delay = POLICY.delay_after(attempt, lambda: fraction)
    if attempt >= POLICY.max_attempts:
        assert delay is None
    else:
        assert delay is not None
        assert timedelta(0) <= delay <= POLICY.backoff_ceiling(attempt) <= POLICY.max_delay
