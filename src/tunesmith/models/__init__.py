"""Models tunesmith builds itself, so that tests, the quickstart and benchmarks run offline."""
