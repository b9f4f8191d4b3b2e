"""The worker dyno: who is due on the clock, the scheduler lock, the delivery tick,
the task queue, and the APScheduler process that drives them.

The delivery ledger, not the scheduler's memory, decides what is owed: a late,
repeated or overlapping tick sends each subscriber's digest at most once.
"""
