"""What the rules found while assessing one consignment, and the outcome it adds up to.

Every rule records what it did in `rules_fired`; a rule that stops the consignment also
adds a reason. Any rejection makes the outcome REJECTED, otherwise any hold makes it HELD:
a doubtful case is held for a person, never let through silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from services.customs.domain.model import Outcome, RuleFired
from services.customs.domain.reference import TableVersion, Versioned

T = TypeVar("T")
REFERENCE_DATA_MISSING = "reference-data-missing"


@dataclass
class Findings:
    rules_fired: list[RuleFired] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    holds: list[str] = field(default_factory=list)
    # The version of each reference table the assessment used, by table name.
    versions_used: dict[str, TableVersion] = field(default_factory=dict)

    def fire(self, rule_id: str, description: str, source: str) -> None:
        self.rules_fired.append(RuleFired(rule_id, description, source))

    def reject(self, rule_id: str, reason: str, source: str) -> None:
        self.fire(rule_id, reason, source)
        self.rejections.append(reason)

    def hold(self, rule_id: str, reason: str, source: str) -> None:
        self.fire(rule_id, reason, source)
        self.holds.append(reason)

    def use(self, versioned: Versioned[T], day: date, rule_id: str, source: str) -> T | None:
        """The table in force on `day`, recorded as used; a hold when no load covers `day`."""
        found = versioned.on(day)
        if found is None:
            self.missing(versioned.name, f"no load covers {day}", rule_id, source)
            return None
        version, table = found
        self.versions_used[version.table] = version
        if version.provisional:
            self.fire(
                "REFERENCE-PROVISIONAL",
                f"{version.describe()}: the previous table declared valid until the official "
                "one is loaded",
                source,
            )
        return table

    def missing(self, table: str, what: str, rule_id: str, source: str) -> None:
        self.hold(rule_id, f"{REFERENCE_DATA_MISSING}: table {table}: {what}", source)

    @property
    def outcome(self) -> Outcome:
        if self.rejections:
            return Outcome.REJECTED
        if self.holds:
            return Outcome.HELD
        return Outcome.CLEARED

    @property
    def reasons(self) -> tuple[str, ...]:
        return (*self.rejections, *self.holds)
