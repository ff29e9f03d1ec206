"""Refitting at rolling origins, comparing policies, and the self-contained HTML report."""
