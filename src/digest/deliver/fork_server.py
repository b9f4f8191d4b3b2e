"""Imported by the fork server only, first of its preload list
(:data:`digest.deliver.worker_processes.PRELOAD`); nothing else imports it.

The parent decides when workers stop, and the server exits with the process that started
it. A SIGTERM sent to every process (a dyno stopping) would otherwise kill the server,
and each pool learns its workers' exits through it: both pools would break while their
workers, which ignore SIGTERM, ran on.

The cycle collector is off while the server imports the rest of the list, and
:mod:`.fork_server_ready` (the list's last) moves what they made to the collector's
permanent generation: see there.
"""

import gc
import signal

signal.signal(signal.SIGTERM, signal.SIG_IGN)
gc.disable()  # back on once everything is imported: fork_server_ready
