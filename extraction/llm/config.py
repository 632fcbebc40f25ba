"""Whether a model is configured, and when it is asked (per document type, from system settings)."""

import ipaddress
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError

from ablage import net
from ablage.errors import ApplicationError

logger = logging.getLogger(__name__)

MODE_OFF = "off"
MODE_ON_DEMAND = "on_demand"
MODE_BELOW_THRESHOLD = "below_threshold"
MODES = (MODE_OFF, MODE_ON_DEMAND, MODE_BELOW_THRESHOLD)

MODES_KEY = "extraction.model.modes"
MONTHLY_CALLS_KEY = "extraction.model.monthly_calls"
MONTHLY_TOKENS_KEY = "extraction.model.monthly_tokens"
DEFAULT_MODES = {"default": MODE_ON_DEMAND}
DEFAULT_MONTHLY_CALLS = 500
DEFAULT_MONTHLY_TOKENS = 1_000_000

# The breaker of the issue: open after 5 failures in a row, one probe after 30 s.
BREAKER_FAILURES = 5
BREAKER_COOLDOWN_SECONDS = 30.0


@dataclass(frozen=True)
class ModelSettings:
    """Where the model is and how it is called (from ``ABLAGE_MODEL_*``)."""

    url: str
    model: str
    api_key: str = ""
    timeout: float = 60.0
    max_attempts: int = 3
    max_output_tokens: int = 800
    vision: bool = False
    allowed_networks: tuple[str, ...] = ()
    model_dir: str = ""  # the local transport instead of HTTP
    allow_cpu: bool = False

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/") + "/chat/completions"

    @property
    def breaker_name(self) -> str:
        if self.model_dir:
            return f"local {self.model_dir}"
        return f"{self.endpoint} {self.model}"

    def model_label(self) -> str:
        """The model's name for requests, cache keys and metrics (a local folder: name and config digest)."""
        if self.model or not self.model_dir:
            return self.model
        from extraction.llm.local import model_version

        return model_version(self.model_dir)

    def unavailable_reason(self) -> str:
        """Why the configured model cannot be used on this machine, in German; ``""`` when it can."""
        if not self.model_dir:
            return ""
        from extraction.llm.local import unavailable_reason

        return unavailable_reason(self.model_dir, allow_cpu=self.allow_cpu)

    def transport(self):
        if self.model_dir:
            from extraction.llm.local import LocalTransport

            return LocalTransport(self.model_dir, max_new_tokens=self.max_output_tokens)
        from extraction.llm.transport import HTTPTransport

        return HTTPTransport(self)

    def guard(self) -> net.UrlGuard:
        """The outgoing-HTTP guard, widened by exactly what the administrator configured for the model."""
        port = urlsplit(self.url).port or (443 if self.url.lower().startswith("https") else 80)
        networks = [*settings.ABLAGE_OUTGOING_ALLOWED_NETWORKS, *self.allowed_networks]
        return net.UrlGuard(
            resolver=net.system_resolver,
            allowed_ports=frozenset({*settings.ABLAGE_OUTGOING_ALLOWED_PORTS, port}),
            allowed_networks=tuple(ipaddress.ip_network(network) for network in networks),
        )


def model_settings() -> ModelSettings | None:
    """The configured model, or ``None``: then the backend is unavailable and documents take the normal path."""
    if settings.ABLAGE_MODEL_DIR:
        return ModelSettings(
            url="",
            model=settings.ABLAGE_MODEL_NAME or "",
            max_output_tokens=settings.ABLAGE_MODEL_MAX_OUTPUT_TOKENS,
            max_attempts=settings.ABLAGE_MODEL_MAX_ATTEMPTS,
            model_dir=settings.ABLAGE_MODEL_DIR,
            allow_cpu=settings.ABLAGE_MODEL_ALLOW_CPU,
        )
    if not settings.ABLAGE_MODEL_URL or not settings.ABLAGE_MODEL_NAME:
        return None
    return ModelSettings(
        url=settings.ABLAGE_MODEL_URL,
        model=settings.ABLAGE_MODEL_NAME,
        api_key=settings.ABLAGE_MODEL_API_KEY or "",
        timeout=settings.ABLAGE_MODEL_TIMEOUT_SECONDS,
        max_attempts=settings.ABLAGE_MODEL_MAX_ATTEMPTS,
        max_output_tokens=settings.ABLAGE_MODEL_MAX_OUTPUT_TOKENS,
        vision=settings.ABLAGE_MODEL_VISION,
        allowed_networks=tuple(settings.ABLAGE_MODEL_ALLOWED_NETWORKS),
    )


def _config(key: str, default):
    from system.selectors import config_get

    try:
        return config_get(key, default=default)
    except (DatabaseError, ApplicationError):
        logger.warning("Config %s unreadable; using the default", key)
        return default


def mode_for(document_type: str) -> str:
    """``off``, ``on_demand`` or ``below_threshold`` for a document type (``extraction.model.modes``).

    The setting maps types to modes, with ``default`` for the rest. An unknown mode counts as
    ``on_demand``: a typo must neither call the model for every document nor hide the button.
    """
    modes = _config(MODES_KEY, DEFAULT_MODES)
    if not isinstance(modes, dict):
        logger.warning("%s is not an object; using on_demand", MODES_KEY)
        return MODE_ON_DEMAND
    mode = modes.get(document_type or "unknown", modes.get("default", MODE_ON_DEMAND))
    if mode not in MODES:
        logger.warning("%s: unknown mode %r for %s; using on_demand", MODES_KEY, mode, document_type)
        return MODE_ON_DEMAND
    return mode


def monthly_limits() -> tuple[int, int]:
    """(calls, tokens) a team may use per calendar month."""
    return int(_config(MONTHLY_CALLS_KEY, DEFAULT_MONTHLY_CALLS)), int(
        _config(MONTHLY_TOKENS_KEY, DEFAULT_MONTHLY_TOKENS)
    )
