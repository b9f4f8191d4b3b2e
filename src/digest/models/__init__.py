"""SQLAlchemy 2 models: content (sources, briefings, videos, topics), readers,
and the delivery ledger (editions, rendered bodies, batches, deliveries, provider events).

One module per part of the flow; import from ``digest.models`` (everything is here).
All timestamps are stored as timezone-aware UTC. Status columns are short strings
(not database enums) so adding a state is a code change, not a migration fight.
"""

from .base import NAMING, AwareDateTime, Base, BigId, utcnow
from .content import Briefing, Source, Topic, Video, briefing_topics, subscriber_topics, video_topics
from .readers import ConsentEvent, ConsentRecord, ForgottenAddress, RateLimitHit, Subscriber, SubscriberStatus
from .records import EditionCounter, GuardTrip, Lease, ProviderEvent, ReaderFigure, ScheduleChange
from .review import DraftBody, EditionApproval, EditionControl, EditionSnapshot, ReviewProof
from .sending import Batch, BatchStatus, Delivery, DeliveryStatus, Edition, RenderedBody

__all__ = [
    "NAMING", "AwareDateTime", "Base", "BigId", "utcnow",
    "Briefing", "Source", "Topic", "Video", "briefing_topics", "subscriber_topics", "video_topics",
    "ConsentEvent", "ConsentRecord", "ForgottenAddress", "RateLimitHit", "Subscriber", "SubscriberStatus",
    "EditionCounter", "GuardTrip", "Lease", "ProviderEvent", "ReaderFigure", "ScheduleChange",
    "DraftBody", "EditionApproval", "EditionControl", "EditionSnapshot", "ReviewProof",
    "Batch", "BatchStatus", "Delivery", "DeliveryStatus", "Edition", "RenderedBody",
]
