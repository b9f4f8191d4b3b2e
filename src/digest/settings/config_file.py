"""The publication's TOML file as a whole: its cross-checks, and reading it from disk.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from ..errors import ConfigError
from .sections import (
    Branding, DeliveryConfig, Disclaimer, Guards, Publication, ReviewConfig, Schedule, SelectionConfig, SignupSettings,
    SourceConfig, TopicConfig, Tracking, _Strict,
)


class PublicationConfig(_Strict):
    """The whole of ``config/digest.toml``."""

    publication: Publication
    branding: Branding = Branding()
    schedule: Schedule = Schedule()
    disclaimer: Disclaimer
    selection: SelectionConfig = SelectionConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    tracking: Tracking = Tracking()
    guards: Guards = Guards()
    review: ReviewConfig = ReviewConfig()
    topics: tuple[TopicConfig, ...] = Field(min_length=1)
    sources: tuple[SourceConfig, ...] = ()
    signup: SignupSettings = SignupSettings()

    @model_validator(mode="after")
    def _cross_checks(self) -> "PublicationConfig":
        slugs = [t.slug for t in self.topics]
        dupes = sorted({s for s in slugs if slugs.count(s) > 1})
        if dupes:
            raise ValueError(f"topic slugs must be unique; repeated: {dupes}")
        if self.selection.fallback_topic not in slugs:
            raise ValueError(
                f"selection.fallback_topic {self.selection.fallback_topic!r} is not one of the topics {slugs}"
            )
        for i, source in enumerate(self.sources):
            unknown = [t for t in source.topics if t not in slugs]
            if unknown:
                raise ValueError(f"sources[{i}].topics names unknown topics {unknown}")
        return self

    def topic(self, slug: str) -> TopicConfig:
        for t in self.topics:
            if t.slug == slug:
                return t
        raise KeyError(slug)

    @property
    def topic_slugs(self) -> tuple[str, ...]:
        return tuple(t.slug for t in self.topics)


def _format_validation_error(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        got = err.get("input")
        got_text = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {key}: {err['msg']}{got_text}")
    return "\n".join(lines)


def bundled_config_path() -> Path:
    """The sample publication's config shipped inside the package (used by ``demo``)."""
    return Path(str(resources.files("digest") / "samples" / "digest.toml"))


def load_publication_config(path: Path) -> PublicationConfig:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: configuration file not found (set DIGEST_CONFIG)") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        config = PublicationConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(path, exc)) from None
    return _resolve_relative_paths(config, path.parent)


def _resolve_relative_paths(config: PublicationConfig, base: Path) -> PublicationConfig:
    """Folder sources are relative to the config file, not to the working directory."""
    sources = tuple(
        s.model_copy(update={"path": str((base / s.path).resolve())})
        if s.path and not Path(s.path).is_absolute()
        else s
        for s in config.sources
    )
    return config.model_copy(update={"sources": sources})
