"""Checks on real public data that the project did not generate."""
