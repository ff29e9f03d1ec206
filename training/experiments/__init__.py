"""Live A/B experiments between policies: assignment, analysis and sample sizes."""
