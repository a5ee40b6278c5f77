"""What validation did over a run: rules evaluated, rows checked, rows failing each rule."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ValidationStats:
    chunks: int = 0
    rows_checked: int = 0  # rows the suite validated (read as JSON objects)
    expectation_runs: int = 0  # expectations evaluated, summed over chunks
    rules: list[str] = field(default_factory=list)  # the suite's rules, in its order
    failures: Counter[str] = field(default_factory=Counter)  # rows failing each rule (Python's too)
    seconds: float = 0.0  # spent validating: building the frame and running the suite
    suite_seconds: float = 0.0  # of which in Great Expectations (`batch.validate`)

    def add(self, other: ValidationStats) -> ValidationStats:
        self.chunks += other.chunks
        self.rows_checked += other.rows_checked
        self.expectation_runs += other.expectation_runs
        self.rules.extend(rule for rule in other.rules if rule not in self.rules)
        self.failures.update(other.failures)
        self.seconds += other.seconds
        self.suite_seconds += other.suite_seconds
        return self

    def as_dict(self) -> dict[str, Any]:
        return {
            "chunks": self.chunks,
            "rows_checked": self.rows_checked,
            "expectation_runs": self.expectation_runs,
            "rules": list(self.rules),
            "failures": dict(sorted(self.failures.items())),
            "seconds": round(self.seconds, 3),
            "suite_seconds": round(self.suite_seconds, 3),
        }
