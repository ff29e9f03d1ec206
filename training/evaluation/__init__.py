"""Judging a model on later campaigns than it learned from: the time split, metrics, policies."""
