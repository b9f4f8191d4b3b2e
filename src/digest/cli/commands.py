"""Imports every command module so each registers itself on ``main``."""

from . import db_commands  # noqa: F401
from . import preview_commands  # noqa: F401
from . import web_commands  # noqa: F401
from . import worker_commands  # noqa: F401
from . import ingest_commands  # noqa: F401
from . import subscriber_commands  # noqa: F401
from . import send_commands  # noqa: F401
from . import demo_commands  # noqa: F401
from . import report_commands  # noqa: F401
from . import resume_commands  # noqa: F401
