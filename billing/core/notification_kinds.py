"""The notifications the send ledger holds: their kinds (SPEC §9) and a notification's states."""

from __future__ import annotations

NOTIFICATION_KINDS = (
    "trial_ending",
    "trial_ended",
    "renewal_upcoming",
    "renewed",
    "contract_ending",
    "spend_threshold",
    "spend_forecast",
    "credits_low",
    "invoice_issued",
    "credit_note_issued",
)
# pending: a channel still to deliver; sent: every channel delivered; failed: a channel gave up;
# skipped: decided too late (after its event), recorded and never delivered
NOTIFICATION_STATUSES = ("pending", "sent", "failed", "skipped")
