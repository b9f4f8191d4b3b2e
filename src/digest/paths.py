"""Where the package's own files are, in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


def email_templates_dir() -> Path:
    """The email templates: ``templates/email/`` of a checkout (editable installs, and
    where editors edit them), else the copy shipped in the wheel."""
    checkout = _CHECKOUT_ROOT / "templates" / "email"
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parent / "email_templates"  # where setup.py puts them


def samples_dir() -> Path:
    """Bundled sample content and the sample publication config used by ``digest demo``."""
    return Path(__file__).resolve().parent / "samples"
