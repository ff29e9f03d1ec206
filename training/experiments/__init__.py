"""Live experiments between selection policies: analyse one, size one, assign its campaigns.

In an influence experiment the unit of randomisation is the campaign: every placement of a
campaign is chosen by one arm's policy (the model, the follower rule, ...). Placements of one
campaign share a brief, a brand and a week, so they are not independent draws. The analysis
therefore sums each unit's outcomes and cost, takes the ratio (actions per unit cost), and
compares arms across units: Welch's t interval and a bootstrap interval that resamples units
within each arm. The unit column is a parameter, so an experiment randomised per customer
(each customer a unit of cost 1, as in the Hillstrom e-mail data) runs through the same code.

- `analysis`: `analyse_experiment` and what it finds (`ExperimentResult`), `unit_ratios`.
- `stats`: the tests it uses: Welch's t, the bootstrap of unit means, the sample-ratio check.
- `planning`: before an experiment, how many units per arm (`sample_size`, `baseline`).
- `assignment`: which arm a unit gets (`assign_arm`), by a salted hash anyone can recompute.
- `hillstrom`: reads the Hillstrom e-mail experiment, the real check on these statistics.
"""
