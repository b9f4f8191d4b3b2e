"""One typed settings object, built once at the edge (the CLI) and passed in.

Two sources: environment variables (twelve-factor, Heroku config vars;
:mod:`.environment`) and the publication's TOML file (``DIGEST_CONFIG``, default
``config/digest.toml``; :mod:`.config_file`, its sections in :mod:`.sections`). Both are
validated at start-up; an error names the file or variable, the key and what was
expected, so a typo never surfaces later as a half-sent edition.
"""

from ..database_url import normalise_database_url
from .config_file import PublicationConfig, bundled_config_path, load_publication_config
from .environment import DEFAULT_CONFIG_PATH, DEMO_SECRET_KEY, Settings, WebSettings, load_settings
from .sections import (
    SLUG_RE, WEEKDAYS, Branding, DeliveryConfig, Disclaimer, Guards, Publication, ReviewConfig, Schedule,
    SelectionConfig, SignupSettings, SourceConfig, TopicConfig, Tracking,
)

__all__ = [
    "normalise_database_url", "PublicationConfig", "bundled_config_path", "load_publication_config",
    "DEFAULT_CONFIG_PATH", "DEMO_SECRET_KEY", "Settings", "WebSettings", "load_settings",
    "SLUG_RE", "WEEKDAYS", "Branding", "DeliveryConfig", "Disclaimer", "Guards", "Publication", "ReviewConfig",
    "Schedule", "SelectionConfig", "SignupSettings", "SourceConfig", "TopicConfig", "Tracking",
]
