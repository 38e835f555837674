"""The `prefloop` command: one entry point that dispatches to each package's command line (see prefloop.cli)."""
