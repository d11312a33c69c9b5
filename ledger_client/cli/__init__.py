"""The ``tutela`` command."""
