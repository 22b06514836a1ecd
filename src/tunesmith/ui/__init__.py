"""`tunesmith ui`: the dashboard, read-only pages over the registry, the runs and the request log."""
