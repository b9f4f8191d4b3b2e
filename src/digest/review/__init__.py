"""Editors in control: an edition can wait for an editor's approval.

With ``[review] approval = "required"`` an edition is *drafted* (:mod:`.draft`) at
``draft_lead`` before its first reader's hour: its items are fixed (:mod:`.snapshot`;
selection then takes only those, :mod:`digest.select.snapshot`), every distinct body is
rendered and stored, and the seed addresses get proofs. Nothing reaches a reader until an
editor approves that snapshot (:mod:`.approval`); the gate (:mod:`.gate`) is one call at
the top of ``send_edition`` and one in the worker's tick. ``digest status`` says how many
readers wait and since when (:mod:`.status`).
"""
