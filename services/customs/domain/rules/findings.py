"""What the rules found while assessing one consignment, and the outcome it adds up to.

Every rule records what it did in `rules_fired`; a rule that stops the consignment also
adds a reason. Any rejection makes the outcome REJECTED, otherwise any hold makes it HELD:
a doubtful case is held for a person, never let through silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.customs.domain.model import Outcome, RuleFired


@dataclass
class Findings:
    rules_fired: list[RuleFired] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    holds: list[str] = field(default_factory=list)

    def fire(self, rule_id: str, description: str, source: str) -> None:
        self.rules_fired.append(RuleFired(rule_id, description, source))

    def reject(self, rule_id: str, reason: str, source: str) -> None:
        self.fire(rule_id, reason, source)
        self.rejections.append(reason)

    def hold(self, rule_id: str, reason: str, source: str) -> None:
        self.fire(rule_id, reason, source)
        self.holds.append(reason)

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
