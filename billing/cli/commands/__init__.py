"""Implementations of the `billing` subcommands; `billing.cli.main` parses and dispatches."""
