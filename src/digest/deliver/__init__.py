"""Editions, batches and the delivery ledger; the provider interface and its providers."""
