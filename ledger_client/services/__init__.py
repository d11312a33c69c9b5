"""Use cases of Tutela, in the words of its users; every entry point (CLI, portal) calls these."""
