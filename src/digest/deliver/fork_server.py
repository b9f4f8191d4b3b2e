"""Imported by the fork server only, first of its preload list
(:data:`digest.deliver.worker_processes.PRELOAD`); nothing else imports it.

The parent decides when workers stop, and the server exits with the process that started
it. A SIGTERM sent to every process (a dyno stopping) would otherwise kill the server,
and each pool learns its workers' exits through it: both pools would break while their
workers, which ignore SIGTERM, ran on.
"""

import signal

signal.signal(signal.SIGTERM, signal.SIG_IGN)
