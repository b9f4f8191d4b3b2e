"""Imported by the fork server only, last of its preload list
(:data:`digest.deliver.worker_processes.PRELOAD`): everything the server imported is
moved to the cycle collector's permanent generation (``gc.freeze``), and the collector,
off since :mod:`.fork_server`, is turned back on.

Why: every worker is a fork of the server and inherits its ~130,000 objects (SQLAlchemy,
psycopg, the renderer...), which live as long as the worker. Left to the collector, each
full collection in a worker walked them all: 65-90 ms of CPU each (about 690,000
references), and a send worker, whose batches keep thousands of objects alive long
enough to reach the oldest generation, ran one every 30 batches or so: 43 per send
worker in a million-reader edition, about 4 s of CPU each, with the worker's other
sending threads stopped meanwhile (the collector holds the GIL). Frozen, they are never
walked, and the collector does not write into their pages, so they stay shared with the
server instead of being copied into every worker. This is what Python's documentation
of ``gc.freeze`` recommends for a process that forks without exec: the collector off
early in the parent, frozen before the fork. Each worker freezes again what its own
start made (:func:`.worker_processes.freeze_started_heap`).
"""

import gc

gc.freeze()
gc.enable()
