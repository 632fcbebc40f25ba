"""Asking the model for a document's fields: requesting a run, executing it, applying its suggestions.

``model_run_request`` records a pending run and enqueues it (on commit); ``model_run_execute``
(the task's body) does the guarded call and fills the suggestions into fields the rules left
empty. The document's status is never changed here: a model's values go to a person, who sees
for each one whether the page shows it (a box) and whether rules or master data agree.
"""

import logging
import time
from datetime import date

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError
from documents.models import Document, ExtractedField
from documents.services import document_fields_set_extracted
from extraction.layout import build_layouts
from extraction.llm import config as llm_config
from extraction.llm.guards import (
    OPEN,
    BudgetReached,
    CircuitBreaker,
    CircuitOpen,
    budget_add_tokens,
    budget_reserve,
    budget_scope,
    budget_usage,
    call_with_guards,
    month_start,
)
from extraction.llm.output import Suggestion, check_values, combined_checks, parse_answer
from extraction.llm.prompt import build_messages, cache_key, document_text
from extraction.llm.transport import ModelOutputError, ModelRequestError, TransientModelError
from extraction.models import ModelBudget, ModelRun
from extraction.selectors import document_page_contents
from extraction.types import FieldValue
from monitoring.services import audit_log_record

logger = logging.getLogger(__name__)

MAX_IMAGE_PAGES = 3
# A field the page confirms still needs a person; one it does not confirm is shown as unverified.
VERIFIED_CONFIDENCE = 0.5
UNVERIFIED_CONFIDENCE = 0.0
MAX_STORED_CONTENT = 2000


def model_available() -> bool:
    """A model is configured and can run here (a local one needs torch, its folder and a GPU)."""
    configured = llm_config.model_settings()
    return configured is not None and not configured.unavailable_reason()


def budget_state(document) -> dict:
    """This month's use of the budget the document counts against, for the review screen."""
    scope, _team = budget_scope(document)
    calls_limit, tokens_limit = llm_config.monthly_limits()
    usage = budget_usage(scope=scope, month=month_start(timezone.localdate()))
    calls, tokens = (usage.calls, usage.tokens) if usage else (0, 0)
    return {
        "calls": calls,
        "tokens": tokens,
        "calls_limit": calls_limit,
        "tokens_limit": tokens_limit,
        "reached": calls >= calls_limit or tokens >= tokens_limit,
    }


def model_run_request(*, document, trigger: str, user=None) -> ModelRun:
    """A pending run for ``document``, executed by the ``extract`` worker once this transaction commits.

    Raises ``ApplicationError`` (shown to the clerk) when no model is configured, the document is
    not in review, the type's mode is ``off``, a run is already under way, or the budget is used up.
    """
    configured = llm_config.model_settings()
    if configured is None:
        raise ApplicationError(_("Es ist kein Modell eingerichtet."), code="model_unavailable")
    if reason := configured.unavailable_reason():
        raise ApplicationError(reason, code="model_unavailable")
    if document.status != Document.Status.REVIEW:
        raise ApplicationError(_("Nur Dokumente in der Prüfung können dem Modell vorgelegt werden."), code="not_review")
    if llm_config.mode_for(document.document_type) == llm_config.MODE_OFF:
        raise ApplicationError(
            _("Für den Dokumenttyp „%(type)s“ ist die Modellhilfe ausgeschaltet.")
            % {"type": document.get_document_type_display() if document.document_type else _("unbekannt")},
            code="model_off_for_type",
        )
    active = ModelRun.objects.filter(document=document, status__in=[ModelRun.Status.PENDING, ModelRun.Status.RUNNING])
    now = timezone.now()
    active.filter(created_at__lt=now - ModelRun.ACTIVE_FOR).update(
        status=ModelRun.Status.FAILED,
        message=_("Abgebrochen: der Worker hat die Anfrage nicht zu Ende gebracht."),
        finished_at=now,
    )
    if active.exists():
        raise ApplicationError(_("Das Modell wird für dieses Dokument bereits gefragt."), code="model_run_pending")
    state = budget_state(document)
    if state["reached"]:
        raise ApplicationError(
            _("Monatsbudget für Modellanfragen erreicht (%(calls)s von %(limit)s Aufrufen).")
            % {"calls": state["calls"], "limit": state["calls_limit"]},
            code="model_budget_reached",
        )
    run = ModelRun.objects.create(
        document=document,
        team_id=document.team_id,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        trigger=trigger,
    )
    from extraction import tasks

    # A local model runs where its GPU is (ABLAGE_MODEL_QUEUE); the HTTP transport anywhere.
    transaction.on_commit(
        lambda: tasks.model_run_execute.apply_async(args=[str(run.id)], queue=settings.ABLAGE_MODEL_QUEUE)
    )
    return run


def model_assist_after_processing(*, document) -> ModelRun | None:
    """Pipeline hook: a document that went to review below its type's threshold, where the type's mode says so."""
    from ocr.options import load_options

    if not model_available() or document.status != Document.Status.REVIEW:
        return None
    if llm_config.mode_for(document.document_type) != llm_config.MODE_BELOW_THRESHOLD:
        return None
    options = load_options()
    threshold = options.thresholds_by_type.get(document.document_type, options.auto_approve_threshold)
    if document.overall_confidence is not None and document.overall_confidence >= threshold:
        return None  # in review for another reason (a failed check): the model would not help
    try:
        return model_run_request(document=document, trigger=ModelRun.Trigger.AUTOMATIC)
    except ApplicationError as refusal:
        logger.info("No automatic model run for %s: %s", document.id, refusal.message)
        return None


def _finish(run: ModelRun, status: str, message: str, **values) -> ModelRun:
    for name, value in {"status": status, "message": message, "finished_at": timezone.now(), **values}.items():
        setattr(run, name, value)
    run.save()
    return run


def _page_images(document) -> list[bytes]:
    images = []
    for page in document.pages.order_by("page_number")[:MAX_IMAGE_PAGES]:
        if page.image_key:
            with default_storage.open(page.image_key, "rb") as handle:
                images.append(handle.read())
    return images


def model_run_execute(
    *, run_id, transport=None, breaker: CircuitBreaker | None = None, sleep=time.sleep, today: date | None = None
) -> ModelRun | None:
    """Execute a pending run; ``None`` when it is gone or another worker took it (idempotent)."""
    if ModelRun.objects.filter(id=run_id, status=ModelRun.Status.PENDING).update(status=ModelRun.Status.RUNNING) != 1:
        return None
    run = ModelRun.objects.select_related("document").get(id=run_id)
    document = run.document
    configured = llm_config.model_settings()
    if configured is None:
        return _finish(run, ModelRun.Status.UNAVAILABLE, _("Es ist kein Modell eingerichtet."))
    if reason := configured.unavailable_reason():
        return _finish(run, ModelRun.Status.UNAVAILABLE, reason)
    pages = document_page_contents(document)
    text = document_text(pages)
    run.model_name = configured.model_label()[:200]
    run.cache_key = cache_key(model=run.model_name, document_type=document.document_type, text=text)

    cached = (
        ModelRun.objects.filter(cache_key=run.cache_key, status=ModelRun.Status.SUCCEEDED)
        .exclude(id=run.id)
        .order_by("-created_at")
        .first()
    )
    if cached is not None:
        run.from_cache = True
        values, unknown = cached.answer.get("values", {}), cached.answer.get("ignored_keys", [])
    else:
        outcome = _ask(run, document, text, configured, transport=transport, breaker=breaker, sleep=sleep)
        if isinstance(outcome, ModelRun):
            return outcome  # finished without an answer
        values, unknown = outcome
    suggestions = check_values(values, build_layouts(pages))
    applied = _compare_and_apply(document=document, suggestions=suggestions, run=run)
    existing = dict(document.fields.values_list("name", "normalized_value"))
    checks = combined_checks(
        suggestions, existing, document_type=document.document_type, today=today or timezone.localdate()
    )
    verified = sum(1 for suggestion in suggestions if suggestion.verified)
    run.answer = {
        "values": values,
        "ignored_keys": unknown,
        "suggestions": [suggestion.as_json() for suggestion in suggestions],
        "failed_checks": [{"rule": c.rule, "message": c.message, "fields": list(c.fields)} for c in checks if not c.ok],
    }
    message = _(
        "%(count)s Vorschläge, %(verified)s davon auf der Seite belegt, %(applied)s in leere Felder übernommen."
    ) % {
        "count": len(suggestions),
        "verified": verified,
        "applied": len(applied),
    }
    if run.from_cache:
        message += " " + _("(Antwort aus dem Cache)")
    return _finish(run, ModelRun.Status.SUCCEEDED, message)


def _ask(run, document, text, configured, *, transport, breaker, sleep):
    """The model's field values, or the finished run when there is no answer to read."""
    breaker = breaker or CircuitBreaker(configured.breaker_name)
    if breaker.state() == OPEN:
        try:
            breaker.before_call()
        except CircuitOpen as exc:
            return _finish(run, ModelRun.Status.CIRCUIT_OPEN, exc.message)
    scope, team_id = budget_scope(document)
    calls_limit, tokens_limit = llm_config.monthly_limits()
    try:
        budget = budget_reserve(
            scope=scope,
            team_id=team_id,
            month=month_start(timezone.localdate()),
            calls_limit=calls_limit,
            tokens_limit=tokens_limit,
        )
    except BudgetReached as exc:
        return _finish(run, ModelRun.Status.BUDGET_REACHED, exc.message)
    images = _page_images(document) if configured.vision else []
    messages = build_messages(text, document_type=document.document_type, images=images)
    transport = transport or configured.transport()
    started = time.monotonic()
    try:
        completion, run.attempts = call_with_guards(
            transport, messages, breaker=breaker, max_attempts=configured.max_attempts, sleep=sleep
        )
    except CircuitOpen as exc:
        # Refused before anything went out: the reserved call was not used.
        ModelBudget.objects.filter(id=budget.id, calls__gt=0).update(calls=F("calls") - 1)
        return _finish(run, ModelRun.Status.CIRCUIT_OPEN, exc.message, latency_ms=_elapsed(started))
    except TransientModelError as exc:
        attempts = getattr(exc, "attempts", configured.max_attempts)
        return _finish(
            run,
            ModelRun.Status.FAILED,
            _("Keine Antwort nach %(attempts)s Versuchen: %(error)s") % {"attempts": attempts, "error": exc},
            attempts=attempts,
            latency_ms=_elapsed(started),
        )
    except ModelRequestError as exc:
        return _finish(run, ModelRun.Status.FAILED, str(exc), attempts=1, latency_ms=_elapsed(started))
    except ModelOutputError as exc:
        return _finish(
            run,
            ModelRun.Status.INVALID_OUTPUT,
            str(exc),
            attempts=getattr(exc, "attempts", 1),
            latency_ms=_elapsed(started),
        )
    run.latency_ms = _elapsed(started)
    run.prompt_tokens, run.completion_tokens = completion.prompt_tokens, completion.completion_tokens
    budget_add_tokens(budget=budget, tokens=completion.prompt_tokens + completion.completion_tokens)
    try:
        return parse_answer(completion.content)
    except ModelOutputError as exc:
        return _finish(
            run, ModelRun.Status.INVALID_OUTPUT, str(exc), answer={"content": completion.content[:MAX_STORED_CONTENT]}
        )


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _independent_values(document) -> dict[str, tuple[str, str]]:
    """Field values from supplier master data, with a label: a source the model cannot have invented."""
    supplier = document.supplier
    if supplier is None:
        return {}
    label = _("Stammdaten des Lieferanten")
    values = {"iban": supplier.iban, "supplier_vat_id": supplier.vat_id}
    return {name: (value.replace(" ", "").upper(), label) for name, value in values.items() if value}


@transaction.atomic
def _compare_and_apply(*, document, suggestions: list[Suggestion], run: ModelRun) -> list[str]:
    """Compare each usable suggestion with what is known; fill only empty, unlocked fields. Returns the filled names."""
    locked = Document.objects.select_for_update().get(id=document.id)
    fields = {field.name: field for field in locked.fields.all()}
    master = _independent_values(locked)
    to_fill = {}
    for suggestion in suggestions:
        if not suggestion.usable:
            continue
        current = fields.get(suggestion.name)
        if current is not None and (current.normalized_value or current.locked):
            same = current.normalized_value == suggestion.normalized
            suggestion.comparison = "agrees" if same else "conflicts"
            suggestion.other_value = f"{current.value} ({current.get_source_display()})"
            continue
        if suggestion.name in master:
            value, label = master[suggestion.name]
            suggestion.comparison = "agrees" if value == suggestion.normalized else "conflicts"
            suggestion.other_value = f"{value} ({label})"
        if locked.status != Document.Status.REVIEW or suggestion.comparison == "conflicts":
            continue  # a conflict is shown, not written over a blank that master data would fill differently
        to_fill[suggestion.name] = suggestion
    # Summary columns and a document version come with it, as for any later extraction pass.
    applied = document_fields_set_extracted(
        document=locked,
        values={
            name: FieldValue(
                name=name,
                value=suggestion.value,
                normalized=suggestion.normalized,
                confidence=VERIFIED_CONFIDENCE if suggestion.verified else UNVERIFIED_CONFIDENCE,
                page=suggestion.page,
                bbox=tuple(suggestion.bbox) if suggestion.bbox else None,
            )
            for name, suggestion in to_fill.items()
        },
        rule=f"modell:{run.model_name}",
        source=ExtractedField.Source.MODEL,
    )
    for name in applied:
        to_fill[name].applied = True
    if applied:
        audit_log_record(
            actor=run.requested_by,
            action="document.model_suggested",
            obj=locked,
            changes={"fields": applied, "model": run.model_name, "run": str(run.id)},
        )
    return applied
