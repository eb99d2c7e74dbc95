"""Subcommands of the ``osscallback`` CLI, one module each (see ``osscallback.cli``)."""
