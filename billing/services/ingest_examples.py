"""The first quarantined rows of a run, as examples an operator can look up: a few per reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from billing.services.ingest import IngestReport

PER_REASON = 3
MOST = 20


def first_examples(
    files: Iterable[tuple[str, IngestReport]], per_reason: int = PER_REASON, most: int = MOST
) -> list[dict[str, Any]]:
    """Up to `per_reason` rejections of each reason, `most` in all, in the order received:
    file, line (index of an HTTP batch), reason, detail, transaction id."""
    taken: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    for path, report in files:
        for rejection in report.rejections:
            if len(examples) >= most:
                return examples
            if taken[rejection.reason] >= per_reason:
                continue
            taken[rejection.reason] += 1
            examples.append(
                {
                    "file": path,
                    "line": rejection.position,
                    "reason": rejection.reason,
                    "detail": rejection.detail,
                    "transaction_id": rejection.transaction_id,
                }
            )
    return examples
