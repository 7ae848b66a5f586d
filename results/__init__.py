"""The Parquet store of per-trial results, ranking and best-config export."""
