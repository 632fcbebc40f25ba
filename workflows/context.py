"""What a workflow sees: a restricted, JSON-shaped context, and sandboxed templates over it.

Conditions (JSONLogic) and templates (Jinja2) only ever get plain values copied out of the
document, its supplier and the user — never model instances, so a template cannot reach
``document.owner.password`` or call a method with side effects.
"""

from __future__ import annotations

from decimal import Decimal

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ablage.errors import ApplicationError

_MAX_TEMPLATE_CHARS = 10_000

_text_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_html_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


def _number(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(Decimal(str(value)))
    except ArithmeticError:
        return None


def document_context(document) -> dict:
    """The document as workflow data: status, type, amounts, fields, supplier, tags."""
    if document is None:
        return {}
    fields = {field.name: field.normalized_value or field.value for field in document.fields.all()}
    return {
        "id": str(document.pk),
        "title": document.title,
        "filename": document.original_filename,
        "type": document.document_type,
        "type_confidence": document.document_type_confidence,
        "status": document.status,
        "source": document.source,
        "confidence": document.overall_confidence,
        "page_count": document.page_count,
        "priority": document.priority,
        "document_number": document.document_number,
        "document_date": document.document_date.isoformat() if document.document_date else None,
        "total_amount": _number(document.total_amount),
        "net_amount": _number(fields.get("net_amount")),
        "vat_amount": _number(fields.get("vat_amount")),
        "currency": document.currency,
        "invoice_number": fields.get("invoice_number"),
        "invoice_date": fields.get("invoice_date"),
        "due_date": fields.get("due_date"),
        "supplier_name": fields.get("supplier_name"),
        "line_item_count": len(document.line_items or []),
        "validation_failures": [check.get("message") for check in document.validation or [] if not check.get("ok")],
        "tags": sorted(tag.name for tag in document.tags.all()),
        "category": document.category.name if document.category_id else None,
        "assigned_to": document.assigned_to.email if document.assigned_to_id else None,
        "fields": fields,
    }


def supplier_context(supplier) -> dict | None:
    if supplier is None:
        return None
    return {
        "id": str(supplier.pk),
        "name": supplier.name,
        "supplier_number": supplier.supplier_number,
        "vat_id": supplier.vat_id,
        "iban": supplier.iban,
        "email": supplier.email,
        "city": supplier.city,
    }


def user_context(user) -> dict | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return {"email": user.email, "name": user.get_full_name() or user.email}


def execution_context(execution) -> dict:
    """Everything conditions and templates may read during one run."""
    document = execution.document
    # An unsaved execution (a dry run) has no step outputs yet.
    outputs = (
        {
            str(step.step_order): step.output_data
            for step in execution.step_executions.filter(status="completed").order_by("step_order", "visit")
        }
        if execution.pk and not execution._state.adding
        else {}
    )
    return {
        "document": document_context(document),
        "supplier": supplier_context(document.supplier if document is not None else None),
        "user": user_context(execution.triggered_by),
        "trigger": {"event": execution.trigger_event, "data": execution.trigger_data},
        "workflow": {"id": str(execution.workflow_id), "name": execution.workflow.name},
        "steps": outputs,
    }


def render(template: str, context: dict, *, html: bool = False) -> str:
    """Render one admin-written template; errors become a clear ApplicationError."""
    if len(template) > _MAX_TEMPLATE_CHARS:
        raise ApplicationError(f"Vorlage zu lang ({len(template)} Zeichen, höchstens {_MAX_TEMPLATE_CHARS}).")
    env = _html_env if html else _text_env
    try:
        return env.from_string(template).render(context)
    except TemplateError as error:
        raise ApplicationError(f"Vorlage fehlerhaft: {error}") from error


def render_values(value, context: dict):
    """Render every string inside ``value`` (dicts and lists walked) as a template."""
    if isinstance(value, str):
        return render(value, context) if ("{{" in value or "{%" in value) else value
    if isinstance(value, list):
        return [render_values(item, context) for item in value]
    if isinstance(value, dict):
        return {key: render_values(item, context) for key, item in value.items()}
    return value


def template_errors(template: str) -> list[str]:
    """Syntax errors of a template, found without rendering it."""
    try:
        _text_env.parse(template)
    except TemplateError as error:
        return [f"Vorlage fehlerhaft: {error}"]
    return []
