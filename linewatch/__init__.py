"""Linewatch composition root: the `linewatch` command line."""
