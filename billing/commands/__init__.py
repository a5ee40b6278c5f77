"""Implementations of the `billing` subcommands; `billing.cli` parses and dispatches."""
