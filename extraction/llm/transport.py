"""The HTTP transport: one chat-completions request to an OpenAI-compatible server.

Every request goes through ``ablage.net.post_json`` (SSRF guard, pinned address, no redirects),
with the guard widened only by the model's own configuration. Errors are sorted into the ones a
retry may cure (``TransientModelError``: network, timeout, 429, 5xx) and the ones it cannot
(``ModelRequestError``: a refused address, 4xx such as a wrong key or model name).
"""

import http.client
import json
from dataclasses import dataclass

from django.utils.translation import gettext as _

from ablage import net
from extraction.llm.config import ModelSettings

MAX_RESPONSE_BYTES = 1024 * 1024


class TransientModelError(Exception):
    """The model could not answer this time (timeout, connection, 429, 5xx); a retry may help."""


class ModelRequestError(Exception):
    """The request cannot succeed as configured (address refused, 4xx); retrying is pointless."""


class ModelOutputError(Exception):
    """The server answered, but not with a usable chat completion or JSON object."""


@dataclass(frozen=True)
class Completion:
    content: str
    prompt_tokens: int
    completion_tokens: int
    model: str


class HTTPTransport:
    name = "http"

    def __init__(self, config: ModelSettings, *, guard: net.UrlGuard | None = None):
        self.config = config
        self.guard = guard or config.guard()

    def complete(self, messages: list) -> Completion:
        body = {
            "model": self.config.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": self.config.max_output_tokens,
            # Servers that support it constrain decoding to JSON; the others ignore the hint.
            "response_format": {"type": "json_object"},
        }
        headers = {"Accept": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        try:
            response = net.post_json(
                self.config.endpoint,
                json.dumps(body).encode("utf-8"),
                headers=headers,
                timeout=self.config.timeout,
                guard=self.guard,
                max_bytes=MAX_RESPONSE_BYTES,
            )
        except net.UnsafeURL as exc:
            raise ModelRequestError(exc.message) from exc
        except TimeoutError as exc:
            raise TransientModelError(
                _("Keine Antwort des Modells innerhalb von %(seconds)s s.") % {"seconds": f"{self.config.timeout:g}"}
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise TransientModelError(
                _("Modellserver nicht erreichbar: %(error)s") % {"error": str(exc) or type(exc).__name__}
            ) from exc
        if response.status == 429 or response.status >= 500:
            raise TransientModelError(_("Modellserver antwortet mit HTTP %(status)s.") % {"status": response.status})
        if response.status != 200:
            raise ModelRequestError(
                _("Modellserver lehnt die Anfrage ab (HTTP %(status)s): %(body)s")
                % {"status": response.status, "body": response.body[:300].decode("utf-8", "replace")}
            )
        return parse_completion(response.body)


def parse_completion(body: bytes) -> Completion:
    """The first choice's text and the token usage of a chat-completions response."""
    try:
        data = json.loads(body)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ModelOutputError(_("Der Modellserver lieferte keine gültige Chat-Antwort.")) from exc
    if not isinstance(content, str):
        raise ModelOutputError(_("Der Modellserver lieferte keine Textantwort."))
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return Completion(
        content=content,
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
        model=str(data.get("model") or ""),
    )


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
