"""The learners: a LightGBM booster per target, the two baselines, intervals, importance."""
