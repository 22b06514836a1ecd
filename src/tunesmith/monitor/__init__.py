"""Monitoring: drift of traffic against the training data, outcome trends, and the export for review."""
