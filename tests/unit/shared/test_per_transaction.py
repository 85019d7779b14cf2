"""What a transaction keeps for its handlers lives exactly as long as the transaction."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import per_transaction


@pytest.mark.parametrize("end", ["commit", "rollback"])
async def test_what_a_transaction_cached_is_forgotten_when_it_ends(end):
    session = AsyncSession()
    await session.begin()
    per_transaction(session, "rows", dict)["key"] = "row"

    await getattr(session, end)()

    assert per_transaction(session, "rows", dict) == {}
