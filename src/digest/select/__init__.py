"""What each subscriber gets: recent briefings by topic, video picks, editor picks from
outside their topics ("Recommended") and headlines of what did not fit ("Related news")."""

from .selector import MAX_LOOKBACK, IncompleteItem, SelectionBlocked, Selector, content_since
from .rules import NOTHING_NEW

__all__ = ["Selector", "SelectionBlocked", "IncompleteItem", "MAX_LOOKBACK", "NOTHING_NEW", "content_since"]
