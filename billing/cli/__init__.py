"""The `billing` command line: entry point on top of every layer."""
