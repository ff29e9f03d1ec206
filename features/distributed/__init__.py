"""The Dask engine for features: the pandas `FeatureBuilder`, run per partition of accounts.

A data directory's posts (the big table) are read, validated and kept on the
workers of a Dask cluster, split into buckets of accounts (`account_buckets`: a
stable hash of `account_id`), so that bucket i holds every post of its accounts.
The other tables (accounts, campaigns, placements) are small and stay on the
driver, validated exactly as `features.io.load_dataset` validates them; the
placements of bucket i go with the posts of bucket i.

- `cluster`: the Dask client (a local cluster or a scheduler's), and the one
  sentence saying how to install Dask when it is missing.
- `partitioned`: `PartitionedData`, the tables with the posts held on the workers.
- `loading`: `load_partitioned`. Each posts file is checked by `coerce_table` on a
  worker; problems are merged with rows numbered in the whole table, duplicates
  are found across files (rows bucketed by `post_id`), and references are checked
  against the small tables. The problems are the pandas engine's, in its order
  (put back by rule and column with `report_order`, never by their wording).
- `fitting`: `fit_builder`, `transform` and `map_buckets`. The vocabulary and the
  priors are fitted once and are identical to what `FeatureBuilder.fit` learns on
  the same data. Workers count terms and documents per bucket; the driver adds the
  counts and selects and weighs terms exactly as scikit-learn's `TfidfVectorizer`
  does (`vocabulary_from_counts`). Workers compute each placement's followers
  (`followers_at`); the driver pools them in the placements' order
  (`pooled_priors`), so every sum is the same sum. Transform is
  `FeatureBuilder.transform`, unchanged, per bucket (it is partition-invariant),
  with the fitted builder sent to the workers; rows come back in the targets' order.
- `snapshot`: `materialize_partitioned`, the snapshot `features.snapshot.materialize`
  writes, each worker describing its buckets' accounts and writing their posts itself.
- `tables`: `DaskTables`, the engine seam's (`features.engine.Tables`) Dask side.

The names below are the engine's API, used by training, serving and the benchmarks.
Nothing here starts a cluster at import: Dask is imported inside the functions.
"""

from features.distributed.cluster import INSTALL_HINT, dask_client, require_dask, worker_addresses
from features.distributed.fitting import fit_builder, map_buckets, transform
from features.distributed.loading import load_partitioned
from features.distributed.partitioned import PartitionedData
from features.distributed.snapshot import materialize_partitioned
from features.distributed.tables import DaskTables

__all__ = [
    "INSTALL_HINT",
    "DaskTables",
    "PartitionedData",
    "dask_client",
    "fit_builder",
    "load_partitioned",
    "map_buckets",
    "materialize_partitioned",
    "require_dask",
    "transform",
    "worker_addresses",
]
