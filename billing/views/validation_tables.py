"""A run's validation result as the tables its Prefect artifact shows."""

from __future__ import annotations

from billing.validation.stats import ValidationStats


def validation_tables(stats: ValidationStats) -> dict[str, list[list[str]]]:
    """Rows checked and the cost, then every rule with the rows that failed it (0 included)."""
    checked = [
        ["rows checked", "chunks", "expectations run", "seconds validating", "of which in the suite"],
        [
            f"{stats.rows_checked:,}",
            str(stats.chunks),
            str(stats.expectation_runs),
            f"{stats.seconds:.3f}",
            f"{stats.suite_seconds:.3f}",
        ],
    ]
    rules = [*stats.rules, *sorted(set(stats.failures) - set(stats.rules))]
    failures = [["rule", "rows failing"], *([rule, f"{stats.failures[rule]:,}"] for rule in rules)]
    return {"Checked": checked, "Failures by rule": failures}
