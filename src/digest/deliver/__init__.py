"""Editions, batches and the delivery ledger; the provider interface and its providers."""


def __getattr__(name: str):
    # Lazy, so importing ``digest.deliver.providers.base`` does not pull in the whole pipeline.
    if name == "send_edition":
        from .edition import send_edition

        return send_edition
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
