"""Which failures the consumer retries as the infrastructure's, and which it blames on the event."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from shared.messaging.consumer import _is_infrastructure_failure


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_deadlock_or_serialization_failure_is_retried_not_dead_lettered(sqlstate: str):
    assert _is_infrastructure_failure(DBAPIError("UPDATE ulds", {}, DriverError(sqlstate)))


def test_a_constraint_violation_is_the_events_fault():
    assert not _is_infrastructure_failure(IntegrityError("INSERT", {}, DriverError("23505")))


def test_a_lost_connection_is_retried():
    assert _is_infrastructure_failure(ConnectionResetError("peer reset"))
