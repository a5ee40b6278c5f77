"""Validation of usage events: per-row shape checks, a Great Expectations suite, the split."""
