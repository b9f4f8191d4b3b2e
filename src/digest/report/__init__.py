"""What happened after send: provider events counted into per-edition figures as they
arrive (:mod:`.counting`), and read back as a report (:mod:`.reading`, :mod:`.formats`)."""
