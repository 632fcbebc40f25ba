"""The step types of a workflow: what each one's ``step_config`` means, how it is checked,
and what it does.

Each step type is a class with ``validate(config) -> [errors]`` (admin form, API and
service all call it) and ``run(run) -> output``. ``run.dry_run`` asks for the same work
without any write: the output then says what the step *would* do — that is the "test
against document X" of the workflow screen. Side effects are keyed by the step execution's
id (``run.idempotency_key``), so a redelivered run never sends or writes twice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ablage.errors import ApplicationError
from documents.models import Document, DocumentRelation, Tag
from workflows import jsonlogic
from workflows.context import render_values, template_errors
from workflows.models import WorkflowStep


class StepError(Exception):
    """A step could not do its work; ``on_error`` of the step decides what follows."""


@dataclass
class StepRun:
    step: WorkflowStep
    document: Document | None
    context: dict
    idempotency_key: str
    dry_run: bool = False


def _user_by_email(email: str):
    return get_user_model().objects.filter(email__iexact=email.strip(), is_active=True).first()


def _require_document(run: StepRun) -> Document:
    if run.document is None:
        raise StepError("Dieser Schritt braucht ein Dokument; die Ausführung hat keines.")
    return run.document


def _audit(run: StepRun, action: str, obj, changes: dict, message: str = "") -> None:
    from monitoring.services import audit_log_record

    audit_log_record(
        actor=None,
        action=action,
        obj=obj,
        changes=changes,
        message=message or f"Workflow-Schritt „{run.step.name}“ ({run.step.workflow.name})",
    )


class StepType:
    type: str = ""
    # Config keys whose strings are Jinja2 templates, rendered from the run's context.
    templated: tuple[str, ...] = ()

    def validate(self, config: dict) -> list[str]:
        errors = []
        for key in self.templated:
            value = config.get(key)
            for text in value if isinstance(value, list) else [value]:
                if isinstance(text, str):
                    errors += template_errors(text)
        return errors

    def rendered(self, run: StepRun) -> dict:
        config = dict(run.step.step_config or {})
        for key in self.templated:
            if key in config:
                try:
                    config[key] = render_values(config[key], run.context)
                except ApplicationError as error:
                    raise StepError(error.message) from error
        return config

    def run(self, run: StepRun) -> dict:
        raise NotImplementedError


def _pages(document: Document):
    from ocr.types import PageContent, Word

    return [
        PageContent(
            page.page_number,
            [Word.from_json(word) for word in page.words],
            page.text_source,
            page.ocr_backend,
            page.width_px,
            page.height_px,
            page.dpi,
        )
        for page in document.pages.order_by("page_number")
    ]


class ClassifyDocument(StepType):
    """Classify the document from its stored words; set the type when confident enough.

    Config: ``{"min_confidence": 0.6, "apply": true}``.
    """

    type = WorkflowStep.StepType.CLASSIFY_DOCUMENT

    def validate(self, config):
        errors = super().validate(config)
        threshold = config.get("min_confidence", 0.0)
        if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            errors.append("min_confidence muss eine Zahl zwischen 0 und 1 sein.")
        return errors

    def run(self, run):
        from extraction.classify import classify
        from extraction.layout import build_layouts

        document = _require_document(run)
        config = self.rendered(run)
        pages = _pages(document)
        if not pages:
            raise StepError("Das Dokument hat noch keinen erkannten Text (keine Seiten).")
        document_type, confidence = classify(build_layouts(pages))
        apply = config.get("apply", True) and confidence >= config.get("min_confidence", 0.0)
        changed = apply and document_type != document.document_type
        if changed and not run.dry_run:
            with transaction.atomic():
                Document.objects.filter(pk=document.pk).update(
                    document_type=document_type, document_type_confidence=confidence
                )
                _audit(
                    run, "document.type_changed", document, {"document_type": [document.document_type, document_type]}
                )
        return {"document_type": document_type, "confidence": round(confidence, 3), "changed": bool(changed)}


class ExtractData(StepType):
    """Extract the business fields again from the stored words.

    Config: ``{"fields": ["invoice_number", ...] (default all), "apply": false}``. With
    ``apply`` the values fill fields that are missing or were extracted with lower
    confidence; a clerk's correction (a locked field) is never overwritten.
    """

    type = WorkflowStep.StepType.EXTRACT_DATA

    def validate(self, config):
        errors = super().validate(config)
        fields = config.get("fields", [])
        if not isinstance(fields, list) or not all(isinstance(name, str) for name in fields):
            errors.append("fields muss eine Liste von Feldnamen sein.")
        return errors

    def run(self, run):
        from documents.services import document_fields_set_extracted
        from extraction.engine import extract

        document = _require_document(run)
        config = self.rendered(run)
        pages = _pages(document)
        if not pages:
            raise StepError("Das Dokument hat noch keinen erkannten Text (keine Seiten).")
        result = extract(pages)
        wanted = set(config.get("fields") or result.fields)
        values = {name: value for name, value in result.fields.items() if name in wanted}
        written: list[str] = []
        if config.get("apply") and not run.dry_run:
            written = document_fields_set_extracted(document=document, values=values, rule=f"workflow:{run.step.pk}")
        return {
            "fields": {name: value.normalized for name, value in values.items()},
            "confidence": {name: round(value.confidence, 3) for name, value in values.items()},
            "overall_confidence": round(result.overall_confidence, 3),
            "written": written,
        }


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


_VALIDATION_RULES = ("required", "sum", "range", "pattern", "condition")


class ValidateData(StepType):
    """Check the document's data against rules; the failures are the step's output.

    Config: ``{"rules": [...], "fail_on_error": true}`` with rules
    ``{"type": "required", "fields": [...]}``,
    ``{"type": "sum", "parts": ["net_amount", "vat_amount"], "total": "total_amount", "tolerance": 0.01}``,
    ``{"type": "range", "field": "total_amount", "min": 0, "max": 10000}``,
    ``{"type": "pattern", "field": "invoice_number", "regex": "^RE-"}``,
    ``{"type": "condition", "rule": <JSONLogic over the context>, "message": "..."}``.
    With ``fail_on_error`` a failure fails the step (then ``on_error`` decides).
    """

    type = WorkflowStep.StepType.VALIDATE_DATA

    def validate(self, config):
        errors = super().validate(config)
        rules = config.get("rules")
        if not isinstance(rules, list) or not rules:
            return [*errors, "rules muss eine nicht leere Liste von Prüfregeln sein."]
        for number, rule in enumerate(rules, start=1):
            kind = rule.get("type") if isinstance(rule, dict) else None
            if kind not in _VALIDATION_RULES:
                errors.append(f"Regel {number}: type muss einer von {', '.join(_VALIDATION_RULES)} sein.")
            elif kind == "required" and not isinstance(rule.get("fields"), list):
                errors.append(f"Regel {number}: fields (Liste) fehlt.")
            elif kind == "sum" and not (isinstance(rule.get("parts"), list) and rule.get("total")):
                errors.append(f"Regel {number}: parts (Liste) und total sind nötig.")
            elif kind in ("range", "pattern") and not rule.get("field"):
                errors.append(f"Regel {number}: field fehlt.")
            elif kind == "pattern":
                try:
                    re.compile(rule.get("regex", ""))
                except re.error as error:
                    errors.append(f"Regel {number}: regulärer Ausdruck fehlerhaft ({error}).")
            elif kind == "condition":
                errors += [f"Regel {number}: {message}" for message in jsonlogic.rule_errors(rule.get("rule"))]
        return errors

    def run(self, run):
        config = self.rendered(run)
        data = run.context.get("document", {})
        fields = data.get("fields", {})

        def value(name):
            return data.get(name) if data.get(name) not in (None, "") else fields.get(name)

        failures = []
        for rule in config["rules"]:
            kind = rule["type"]
            if kind == "required":
                missing = [name for name in rule["fields"] if value(name) in (None, "")]
                if missing:
                    failures.append(f"Pflichtfelder fehlen: {', '.join(missing)}")
            elif kind == "sum":
                parts = [_decimal(value(name)) for name in rule["parts"]]
                total = _decimal(value(rule["total"]))
                if total is None or any(part is None for part in parts):
                    failures.append(f"Summe nicht prüfbar: {' + '.join(rule['parts'])} = {rule['total']} (Wert fehlt)")
                else:
                    difference = abs(sum(parts) - total)
                    if difference > Decimal(str(rule.get("tolerance", "0.01"))):
                        failures.append(
                            f"{' + '.join(rule['parts'])} ≠ {rule['total']} (Differenz {difference:.2f})".replace(
                                ".", ","
                            )
                        )
            elif kind == "range":
                number = _decimal(value(rule["field"]))
                low, high = _decimal(rule.get("min")), _decimal(rule.get("max"))
                if number is None:
                    failures.append(f"{rule['field']} fehlt")
                elif (low is not None and number < low) or (high is not None and number > high):
                    failures.append(f"{rule['field']} = {number} liegt außerhalb von {low} … {high}")
            elif kind == "pattern":
                text = str(value(rule["field"]) or "")
                if not re.search(rule.get("regex", ""), text):
                    failures.append(f"{rule['field']} „{text}“ passt nicht zum Muster {rule.get('regex')}")
            elif kind == "condition" and not jsonlogic.truthy(jsonlogic.evaluate(rule.get("rule"), run.context)):
                failures.append(rule.get("message") or "Bedingung nicht erfüllt")
        output = {"valid": not failures, "failures": failures}
        if failures and config.get("fail_on_error", True):
            raise StepError("; ".join(failures))
        return output


# update_field: what a workflow may change, and how a value is checked.
UPDATABLE_FIELDS = ("title", "document_type", "priority", "category", "tags_add", "tags_remove")


class UpdateField(StepType):
    """Set one whitelisted document attribute, audited.

    Config: ``{"field": "priority", "value": "9"}``; ``value`` is a template. Fields:
    title, document_type, priority (1-10), category (an existing category's name),
    tags_add / tags_remove (comma-separated tag names).
    """

    type = WorkflowStep.StepType.UPDATE_FIELD
    templated = ("value",)

    def validate(self, config):
        errors = super().validate(config)
        if config.get("field") not in UPDATABLE_FIELDS:
            errors.append(f"field muss einer von {', '.join(UPDATABLE_FIELDS)} sein.")
        if "value" not in config:
            errors.append("value fehlt.")
        return errors

    def run(self, run):
        from documents.models import Category

        document = _require_document(run)
        config = self.rendered(run)
        field, raw = config["field"], str(config["value"]).strip()
        if field == "title":
            if not raw or len(raw) > 255:
                raise StepError("Titel leer oder länger als 255 Zeichen.")
            before, after, update = document.title, raw, {"title": raw}
        elif field == "document_type":
            if raw not in Document.DocumentType.values:
                raise StepError(f"Unbekannter Dokumenttyp „{raw}“.")
            before, after, update = document.document_type, raw, {"document_type": raw}
        elif field == "priority":
            if not raw.isdigit() or not 1 <= int(raw) <= 10:
                raise StepError(f"Priorität muss 1 bis 10 sein, nicht „{raw}“.")
            before, after, update = document.priority, int(raw), {"priority": int(raw)}
        elif field == "category":
            category = Category.objects.filter(name=raw).first()
            if category is None:
                raise StepError(f"Kategorie „{raw}“ gibt es nicht.")
            before = document.category.name if document.category_id else None
            after, update = category.name, {"category": category}
        else:
            names = sorted({name.strip() for name in raw.split(",") if name.strip()})
            current = sorted(document.tags.values_list("name", flat=True))
            after = sorted(set(current) | set(names)) if field == "tags_add" else sorted(set(current) - set(names))
            before, update = current, None
        if run.dry_run or before == after:
            return {"field": field, "before": before, "after": after, "changed": before != after}
        with transaction.atomic():
            if update is not None:
                Document.objects.filter(pk=document.pk).update(**update)
            elif field == "tags_add":
                document.tags.add(*[Tag.objects.get_or_create(name=name)[0] for name in names])
            else:
                document.tags.remove(*Tag.objects.filter(name__in=names))
            _audit(run, "document.updated_by_workflow", document, {field: [before, after]})
        return {"field": field, "before": before, "after": after, "changed": True}


class AssignUser(StepType):
    """Assign the document to a person: a named user, or one of a role (group).

    Config: ``{"user": "anna@firma.de"}`` or ``{"role": "reviewer", "strategy":
    "least_loaded" | "round_robin"}``. Only people who may see the document are candidates.
    """

    type = WorkflowStep.StepType.ASSIGN_USER
    templated = ("user",)

    def validate(self, config):
        errors = super().validate(config)
        if bool(config.get("user")) == bool(config.get("role")):
            errors.append("Entweder user (E-Mail) oder role (Gruppe) angeben.")
        if config.get("strategy", "least_loaded") not in ("least_loaded", "round_robin"):
            errors.append("strategy muss least_loaded oder round_robin sein.")
        return errors

    def _candidates(self, document: Document, config: dict) -> list:
        from documents.selectors import visible_documents

        users = get_user_model().objects.filter(is_active=True)
        if config.get("user"):
            users = users.filter(email__iexact=config["user"].strip())
        else:
            users = users.filter(groups__name=config["role"]).distinct()
        return [user for user in users.order_by("email") if visible_documents(user).filter(pk=document.pk).exists()]

    def run(self, run):
        from workflows.models import WorkflowStepExecution

        document = _require_document(run)
        config = self.rendered(run)
        candidates = self._candidates(document, config)
        if not candidates:
            who = config.get("user") or f"Rolle {config.get('role')}"
            raise StepError(f"Niemand zum Zuweisen: {who} (aktiv und mit Zugriff auf das Dokument).")
        if config.get("user"):
            chosen = candidates[0]
        elif config.get("strategy") == "round_robin":
            last = (
                WorkflowStepExecution.objects.filter(step=run.step, status="completed")
                .exclude(output_data__assigned_to=None)
                .order_by("-completed_at")
                .values_list("output_data", flat=True)
                .first()
            )
            emails = [user.email for user in candidates]
            previous = (last or {}).get("assigned_to")
            chosen = candidates[(emails.index(previous) + 1) % len(candidates)] if previous in emails else candidates[0]
        else:
            load = dict(
                get_user_model()
                .objects.filter(pk__in=[user.pk for user in candidates])
                .annotate(
                    open=Count(
                        "assigned_documents",
                        filter=Q(
                            assigned_documents__status=Document.Status.REVIEW, assigned_documents__deleted_at=None
                        ),
                    )
                )
                .values_list("pk", "open")
            )
            chosen = min(candidates, key=lambda user: (load.get(user.pk, 0), user.email))
        before = document.assigned_to.email if document.assigned_to_id else None
        if not run.dry_run and before != chosen.email:
            with transaction.atomic():
                Document.objects.filter(pk=document.pk).update(assigned_to=chosen)
                _audit(run, "document.assigned", document, {"assigned_to": [before, chosen.email]})
        return {"assigned_to": chosen.email, "before": before, "candidates": len(candidates)}


_RELATION_LOOKUPS = ("document_number", "invoice_number", "order_number", "customer_number")


class CreateRelation(StepType):
    """Link the document to another one of the same owner found by a field value.

    Config: ``{"relation_type": "credit_note_for", "target_field": "invoice_number",
    "target_value": "{{ document.fields.order_number }}", "target_type": "invoice"}``.
    """

    type = WorkflowStep.StepType.CREATE_RELATION
    templated = ("target_value",)

    def validate(self, config):
        errors = super().validate(config)
        if config.get("relation_type") not in DocumentRelation.RelationType.values:
            errors.append("relation_type ist keine bekannte Beziehungsart.")
        if config.get("target_field") not in _RELATION_LOOKUPS:
            errors.append(f"target_field muss einer von {', '.join(_RELATION_LOOKUPS)} sein.")
        if not config.get("target_value"):
            errors.append("target_value fehlt.")
        if config.get("target_type") and config["target_type"] not in Document.DocumentType.values:
            errors.append("target_type ist kein bekannter Dokumenttyp.")
        return errors

    def run(self, run):
        from documents.selectors import visible_documents

        document = _require_document(run)
        config = self.rendered(run)
        value = str(config["target_value"]).strip()
        if not value:
            raise StepError("Kein Wert, nach dem gesucht werden kann (target_value ist leer).")
        candidates = visible_documents(document.owner).exclude(pk=document.pk)
        if config.get("target_type"):
            candidates = candidates.filter(document_type=config["target_type"])
        field = config["target_field"]
        if field == "document_number":
            candidates = candidates.filter(document_number=value)
        else:
            candidates = candidates.filter(
                Q(fields__name=field) & (Q(fields__normalized_value=value) | Q(fields__value=value))
            )
        target = candidates.order_by("-created_at").first()
        if target is None:
            raise StepError(f"Kein Dokument mit {field} = „{value}“ gefunden.")
        created = False
        if not run.dry_run:
            _, created = DocumentRelation.objects.get_or_create(
                source=document, target=target, relation_type=config["relation_type"]
            )
            if created:
                _audit(
                    run,
                    "document.relation_created",
                    document,
                    {"relation": [None, f"{config['relation_type']}:{target.pk}"]},
                )
        return {"target": str(target.pk), "target_title": target.title, "created": created}


class ExportDocument(StepType):
    """Write the document's data (and optionally its original) to an export target.

    Config: ``{"target": "buchhaltung", "format": "json" | "csv", "include_original": false}``.
    A target is a folder in the storage (``exports/<target>/``; local disk or S3), which the
    accounting side picks up. Keys are per document, so a repeated run rewrites, never
    duplicates.
    """

    type = WorkflowStep.StepType.EXPORT_DOCUMENT
    _target = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")

    def validate(self, config):
        errors = super().validate(config)
        if not self._target.match(str(config.get("target", ""))):
            errors.append("target: Kleinbuchstaben, Ziffern, - und _ (höchstens 50 Zeichen).")
        if config.get("format", "json") not in ("json", "csv"):
            errors.append("format muss json oder csv sein.")
        return errors

    def run(self, run):
        import csv
        import io

        document = _require_document(run)
        config = self.rendered(run)
        data = run.context["document"]
        base = f"exports/{config['target']}/{timezone.localdate():%Y-%m}/{document.pk}"
        if config.get("format", "json") == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer, delimiter=";")
            row = {key: value for key, value in data.items() if not isinstance(value, dict | list)}
            writer.writerow(row.keys())
            writer.writerow(row.values())
            key, payload = f"{base}.csv", ("\ufeff" + buffer.getvalue()).encode("utf-8")
        else:
            key, payload = f"{base}.json", json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
        keys = [key]
        if config.get("include_original"):
            suffix = (
                document.original_filename.rsplit(".", 1)[-1].lower() if "." in document.original_filename else "bin"
            )
            keys.append(f"{base}.{suffix}")
        if not run.dry_run:
            _storage_replace(key, payload)
            if config.get("include_original"):
                with default_storage.open(document.storage_key, "rb") as original:
                    _storage_replace(keys[1], original.read())
        return {"keys": keys}


def _storage_replace(key: str, payload: bytes) -> None:
    if default_storage.exists(key):
        default_storage.delete(key)
    saved = default_storage.save(key, ContentFile(payload))
    if saved != key:
        raise StepError(f"Exportziel belegt: {key}")


class Conditional(StepType):
    """Branch: ``{"condition": <JSONLogic>, "true_step": 4, "false_step": 6}``; a missing
    branch target means "the next step"; ``0`` ends the run."""

    type = WorkflowStep.StepType.CONDITIONAL

    def validate(self, config):
        errors = super().validate(config)
        if "condition" not in config:
            errors.append("condition (JSONLogic) fehlt.")
        errors += jsonlogic.rule_errors(config.get("condition"))
        for key in ("true_step", "false_step"):
            if config.get(key) is not None and (not isinstance(config[key], int) or config[key] < 0):
                errors.append(f"{key} muss eine Schrittnummer sein (0 beendet den Ablauf).")
        return errors

    def run(self, run):
        config = run.step.step_config
        try:
            result = jsonlogic.truthy(jsonlogic.evaluate(config.get("condition"), run.context))
        except jsonlogic.JsonLogicError as error:
            raise StepError(str(error)) from error
        return {"result": result, "next_step": config.get("true_step" if result else "false_step")}


class Wait(StepType):
    """Pause the run: ``{"seconds": 3600}`` or ``{"until": "{{ document.due_date }}T09:00"}``.

    The worker does not sleep: the run is parked as ``waiting`` and resumed by a scheduled
    message (and the resume sweep as a safety net).
    """

    type = WorkflowStep.StepType.WAIT
    templated = ("until",)
    MAX_SECONDS = 366 * 24 * 3600

    def validate(self, config):
        errors = super().validate(config)
        seconds = config.get("seconds")
        if (seconds is None) == (config.get("until") is None):
            errors.append("Entweder seconds oder until angeben.")
        elif seconds is not None and (not isinstance(seconds, int) or not 0 <= seconds <= self.MAX_SECONDS):
            errors.append(f"seconds muss eine ganze Zahl von 0 bis {self.MAX_SECONDS} sein.")
        return errors

    def resume_at(self, run: StepRun) -> datetime:
        config = self.rendered(run)
        if config.get("seconds") is not None:
            return timezone.now() + timedelta(seconds=config["seconds"])
        moment = parse_datetime(str(config["until"]).strip())
        if moment is None:
            raise StepError(f"until ist kein Zeitpunkt: „{config['until']}“.")
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment

    def run(self, run):
        return {"resume_at": self.resume_at(run).isoformat()}


def _recipients(run: StepRun, config: dict) -> list:
    """People named by a notification step who may see the run's document."""
    from documents.selectors import visible_documents

    users = get_user_model().objects.filter(is_active=True)
    chosen = {}
    emails = [email.strip().lower() for email in config.get("users", []) if email.strip()]
    for user in users.filter(email__in=emails):
        chosen[user.pk] = user
    if config.get("role"):
        for user in users.filter(groups__name=config["role"]):
            chosen[user.pk] = user
    document = run.document
    if document is not None and config.get("assigned") and document.assigned_to_id:
        chosen[document.assigned_to_id] = document.assigned_to
    if document is not None and config.get("owner"):
        chosen[document.owner_id] = document.owner
    people = sorted(chosen.values(), key=lambda user: user.email)
    if document is None:
        return people
    return [user for user in people if visible_documents(user).filter(pk=document.pk).exists()]


class SendNotification(StepType):
    """Tell people in the app (and by e-mail): ``{"role": "reviewer" | "users": [...] |
    "assigned": true | "owner": true, "title": "...", "message": "...", "channels": ["in_app", "email"]}``.

    Only people who may see the document are told. Each person is told once per step
    execution, however often the step runs again.
    """

    type = WorkflowStep.StepType.SEND_NOTIFICATION
    templated = ("title", "message")
    CHANNELS = ("in_app", "email")

    def validate(self, config):
        errors = super().validate(config)
        if not any(config.get(key) for key in ("role", "users", "assigned", "owner")):
            errors.append("Empfänger fehlen: role, users, assigned oder owner angeben.")
        if not config.get("title"):
            errors.append("title fehlt.")
        if not set(config.get("channels", ["in_app"])) <= set(self.CHANNELS):
            errors.append("channels: in_app und/oder email.")
        return errors

    def run(self, run):
        from notifications import live
        from notifications.email import email_enqueue
        from notifications.models import Notification

        config = self.rendered(run)
        people = _recipients(run, config)
        if not people:
            raise StepError("Niemand zu benachrichtigen (Empfänger ohne Zugriff auf das Dokument oder inaktiv).")
        channels = config.get("channels", ["in_app"])
        title, text = str(config["title"])[:255], str(config.get("message", ""))
        if run.dry_run:
            return {"recipients": [user.email for user in people], "channels": channels, "title": title}
        told = []
        for user in people:
            if "in_app" in channels:
                already = Notification.objects.filter(user=user, data__step_execution=run.idempotency_key).exists()
                if not already:
                    notification = Notification.objects.create(
                        user=user,
                        type=Notification.Type.INFO,
                        title=title,
                        message=text,
                        document=run.document,
                        link_url=f"/dokumente/{run.document.pk}/" if run.document is not None else "",
                        data={"step_execution": run.idempotency_key, "workflow": run.step.workflow.name},
                    )
                    transaction.on_commit(lambda notification=notification: live.push(notification))
            if "email" in channels and user.email:
                email_enqueue(
                    template_key="workflow_message",
                    to_address=user.email,
                    to_name=user.get_full_name(),
                    context={"user_name": user.get_full_name(), "title": title, "message": text},
                    user=user,
                    document=run.document,
                    dedup_key=f"workflow:{run.idempotency_key}:{user.pk}",
                )
            told.append(user.email)
        return {"recipients": told, "channels": channels}


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SendEmail(StepType):
    """An e-mail to addresses from the context: ``{"to": ["{{ supplier.email }}"], "subject": "...",
    "body": "...", "attach_original": false}``. Queued once per step execution and address."""

    type = WorkflowStep.StepType.SEND_EMAIL
    templated = ("to", "subject", "body")

    def validate(self, config):
        errors = super().validate(config)
        if not isinstance(config.get("to"), list) or not config.get("to"):
            errors.append("to muss eine nicht leere Liste von Adressen (oder Vorlagen) sein.")
        if not config.get("subject"):
            errors.append("subject fehlt.")
        return errors

    def run(self, run):
        from notifications.email import email_enqueue

        config = self.rendered(run)
        addresses = sorted({str(address).strip().lower() for address in config["to"] if str(address).strip()})
        invalid = [address for address in addresses if not _EMAIL.match(address)]
        if invalid or not addresses:
            raise StepError(f"Keine gültige E-Mail-Adresse: {', '.join(invalid) or '(leer)'}")
        attachments = []
        if config.get("attach_original"):
            document = _require_document(run)
            attachments.append(
                {"key": document.storage_key, "name": document.original_filename, "mime_type": document.mime_type}
            )
        if not run.dry_run:
            for address in addresses:
                email_enqueue(
                    template_key="workflow_message",
                    to_address=address,
                    context={"user_name": "", "title": str(config["subject"]), "message": str(config.get("body", ""))},
                    document=run.document,
                    dedup_key=f"workflow:{run.idempotency_key}:{address}",
                    attachments=attachments,
                )
        return {"to": addresses, "subject": str(config["subject"]), "attachments": [a["name"] for a in attachments]}


class CallWebhook(StepType):
    """Send a JSON payload through the notifications delivery path (SSRF guard, retries, dedup):
    ``{"endpoint": "<id of a webhook endpoint>"}`` (signed with its secret) or ``{"url":
    "https://…"}`` (unsigned), plus ``"payload": {...}`` (templated)."""

    type = WorkflowStep.StepType.CALL_WEBHOOK
    templated = ("payload",)

    def validate(self, config):
        errors = super().validate(config)
        if bool(config.get("endpoint")) == bool(config.get("url")):
            return [*errors, "Entweder endpoint (ID eines Webhook-Endpunkts) oder url angeben."]
        if config.get("url"):
            from notifications.webhooks import check_url

            try:
                check_url(config["url"])
            except ApplicationError as refusal:
                errors.append(f"url: {refusal.message}")
        return errors

    def run(self, run):
        from notifications import webhooks
        from notifications.models import WebhookEndpoint

        config = self.rendered(run)
        event = WebhookEndpoint.Event.WORKFLOW_STEP
        data = {
            "workflow": {"id": str(run.step.workflow_id), "name": run.step.workflow.name},
            "step": run.step.name,
            "payload": config.get("payload", {}),
        }
        if config.get("endpoint"):
            endpoint = WebhookEndpoint.objects.filter(pk=config["endpoint"], is_active=True).first()
            if endpoint is None:
                raise StepError("Webhook-Endpunkt nicht gefunden oder nicht aktiv.")
            target = endpoint.url
        else:
            target = webhooks.check_url(config["url"])
        if run.dry_run:
            return {"target": target, "event": str(event)}
        payload = {
            "type": str(event),
            "timestamp": timezone.now().isoformat(),
            "data": {**({"document": webhooks.document_data(run.document)} if run.document else {}), **data},
        }
        delivery = webhooks.delivery_queue(
            event=event,
            occurrence=run.idempotency_key,
            payload=payload,
            document=run.document,
            endpoint=endpoint if config.get("endpoint") else None,
            url="" if config.get("endpoint") else target,
        )
        return {"target": target, "delivery": str(delivery.pk) if delivery else "schon gesendet"}


STEP_TYPES: dict[str, StepType] = {
    step.type: step
    for step in (
        ClassifyDocument(),
        ExtractData(),
        ValidateData(),
        UpdateField(),
        AssignUser(),
        CreateRelation(),
        ExportDocument(),
        Conditional(),
        Wait(),
        SendNotification(),
        SendEmail(),
        CallWebhook(),
    )
}


def step_config_errors(step_type: str, config) -> list[str]:
    """Everything wrong with a step's configuration, in words an admin understands."""
    if not isinstance(config, dict):
        return ["Erwartet wird ein JSON-Objekt."]
    handler = STEP_TYPES.get(step_type)
    if handler is None:
        return [f"Schritttyp „{step_type}“ ist in dieser Installation nicht verfügbar."]
    return handler.validate(config)
