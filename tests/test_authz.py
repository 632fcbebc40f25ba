"""Authorisation matrix: every URL of the site (HTML, API, downloads) against people in every
position and API keys of every scope, plus websocket subscriptions and escalation attempts.

The URL list is read from the URL configuration, so a new endpoint fails
``test_it_classifies_every_url`` until it is entered in ``ROUTES`` with its intended access.
Outcomes: ``A`` allowed (any answer past the permission checks, incl. 400/409/412),
``D`` refused (403, or 404 which reveals nothing either), ``H`` hidden (exactly 404: the
object exists but is not the caller's business), anonymous: 401/403 in the API, a
redirect to the login page in HTML.
"""

import io
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, Group
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from rest_framework.test import APIClient

from ablage.testing.factories import stored_document
from accounts.models import Team
from accounts.services import api_key_create
from documents import events
from documents.annotations import document_note_add, document_relation_add
from documents.consumers import DocumentStatusConsumer
from documents.models import Document, SavedView
from extraction.models import ExtractionRule
from notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from suppliers.models import Supplier, SupplierBankAccount, SupplierContact, SupplierTemplate
from system.models import FeatureFlag, ScheduledTask
from system.scheduling import scheduled_tasks_sync
from workflows.models import Workflow, WorkflowExecution, WorkflowStep
from workflows.services import workflow_save

A, D, H = "allowed", "refused", "hidden"

POSITIONS = ["owner", "teammate", "team_reviewer", "other_clerk", "other_reviewer", "viewer", "auditor", "admin"]
# Who sees the owner's team document: owner and team, auditors and admins.
VISIBLE = {"owner", "teammate", "team_reviewer", "auditor", "admin"}


def _visible_else_hidden(allowed: set):
    return lambda position: A if position in allowed else (D if position in VISIBLE else H)


see = _visible_else_hidden(VISIBLE)
change = _visible_else_hidden({"owner", "team_reviewer", "admin"})  # clerks change their own uploads
note_add = _visible_else_hidden({"owner", "teammate", "team_reviewer", "admin"})  # not read-only roles
note_delete = _visible_else_hidden({"owner", "admin"})  # the author (owner) or an admin


def review(position):
    if position in {"team_reviewer", "admin"}:
        return A
    # Reviewers of another team have the permission but must not learn the document exists.
    return H if position == "other_reviewer" else D


def only(*allowed):
    return lambda position: A if position in allowed else D


signed_in = only(*POSITIONS)
reviewers = only("team_reviewer", "other_reviewer", "admin")
uploaders = only("owner", "teammate", "other_clerk", "admin")
readers_of_everything = only("admin", "auditor")
admins = only("admin")


rule_readers = only("team_reviewer", "other_reviewer", "auditor", "admin")


def rule_try(position):
    if position in {"team_reviewer", "auditor", "admin"}:
        return A
    return H if position == "other_reviewer" else D


RULE = {
    "name": "Belegnummer",
    "field_name": "invoice_number",
    "rule_type": "regex",
    "rule_config": {"pattern": r"Rechnung\s+(\S+)"},
}


PUBLIC = "public"
PROBE = "probe"  # public, and 503 is a legitimate answer (not ready, shutting down)
TOKEN = "token"  # authenticated by a secret of its own: refused to everyone who lacks it

supplier_editors = only("team_reviewer", "other_reviewer", "admin")
trash = _visible_else_hidden({"owner", "admin"})


def own_item(position):
    """Notifications, saved views: the owner's alone; anyone else, admins included, gets a 404."""
    return A if position == "owner" else H


def own_or_staff(position):
    """Webhook endpoints and their deliveries: the owner's, and every one for staff."""
    return A if position in {"owner", "admin"} else H


WORKFLOW = {
    "name": "Priorität setzen",
    "description": "",
    "trigger_type": "manual",
    "trigger_config": {},
    "conditions": None,
    "is_active": True,
    "steps": [
        {
            "step_order": 1,
            "name": "Priorität",
            "step_type": "update_field",
            "step_config": {"field": "priority", "value": "7"},
        }
    ],
}

# name -> [(method, expectation, body)]. Bodies are valid so that "allowed" is not a 400
# that happens to come before a permission check.
ROUTES = {
    # --- API --------------------------------------------------------------------------------
    "api-v1:document-list": [("get", signed_in, None), ("post", uploaders, {})],
    "api-v1:document-batch": [("post", uploaders, {})],
    "api-v1:document-bulk-tags": [("post", change, lambda ctx: {"documents": [ctx["document"].id], "tags": ["x"]})],
    "api-v1:document-detail": [("get", see, None)],
    "api-v1:document-fields": [("patch", review, {"fields": {"invoice_number": "4712"}})],
    "api-v1:document-approve": [("post", review, None)],
    "api-v1:document-reject": [("post", review, {"reason": "Doppelt"})],
    "api-v1:document-pages": [("get", see, None)],
    "api-v1:document-page-image": [("get", see, None)],
    "api-v1:document-original": [("get", see, None)],
    "api-v1:document-archive": [("get", see, None)],
    "api-v1:document-thumbnail": [("get", see, None)],
    "api-v1:document-tags": [("get", see, None), ("put", change, {"tags": ["Steuer"]})],
    "api-v1:document-notes": [("get", see, None), ("post", note_add, {"text": "Bitte prüfen"})],
    "api-v1:document-note-detail": [("delete", note_delete, None)],
    "api-v1:document-relations": [
        ("get", see, None),
        ("post", change, lambda ctx: {"target": ctx["second"].id, "relation_type": "references"}),
    ],
    "api-v1:document-relation-detail": [("delete", change, None)],
    "api-v1:document-history": [("get", see, None)],
    "api-v1:document-reprocess": [("post", change, None)],
    "api-v1:document-jobs": [("get", see, None)],
    "api-v1:job-detail": [("get", see, None)],
    "api-v1:job-retry": [("post", change, None)],
    "api-v1:review-queue": [("get", reviewers, None)],
    "api-v1:review-claim-next": [("post", reviewers, None)],
    "api-v1:review-release": [("post", review, None)],
    "api-v1:me": [("get", signed_in, None), ("patch", signed_in, {"display_name": "Neu"})],
    "api-v1:config-list": [("get", readers_of_everything, None)],
    "api-v1:config-detail": [("get", readers_of_everything, None), ("put", admins, {"value": 20})],
    "api-v1:health": [("get", PUBLIC, None)],
    "api-v1:audit-log": [("get", readers_of_everything, None)],
    # The API description is public on purpose: integrators read it before they have a key.
    "api-v1:schema": [("get", PUBLIC, None)],
    "api-v1:docs": [("get", PUBLIC, None)],
    "api-v1:extraction-rule-list": [("get", rule_readers, None), ("post", admins, RULE)],
    "api-v1:extraction-rule-draft-test": [("post", admins, lambda ctx: {**RULE, "document": ctx["document"].id})],
    "api-v1:extraction-rule-detail": [
        ("get", rule_readers, None),
        ("patch", admins, {"name": "Belegnummer neu"}),
        ("put", admins, RULE),
        ("delete", admins, None),
    ],
    # Readers of rules try them on documents they can see; another team's document stays hidden.
    "api-v1:extraction-rule-test": [("post", rule_try, lambda ctx: {"document": ctx["document"].id})],
    # --- accounts -----------------------------------------------------------------------------
    "accounts:login": [("get", PUBLIC, None)],
    "accounts:two-factor": [("get", PUBLIC, None)],
    "accounts:logout": [("post", PUBLIC, None)],
    "accounts:language-set": [("post", PUBLIC, {"language": "de"})],
    "accounts:password-reset": [("get", PUBLIC, None)],
    "accounts:password-reset-done": [("get", PUBLIC, None)],
    "accounts:password-reset-confirm": [("get", PUBLIC, None)],
    "accounts:password-reset-complete": [("get", PUBLIC, None)],
    "accounts:settings": [("get", signed_in, None)],
    "accounts:timezone-set": [("post", signed_in, {"timezone": "Europe/Berlin"})],
    "accounts:two-factor-start": [("post", signed_in, None)],
    "accounts:two-factor-confirm": [("post", signed_in, {"code": "000000"})],
    "accounts:two-factor-disable": [("post", signed_in, {"code": "000000"})],
    "accounts:api-key-create": [("post", signed_in, {"name": "ERP", "scopes": ["read"]})],
    "accounts:api-key-revoke": [("post", own_item, None)],
    # --- documents (HTML) ---------------------------------------------------------------------
    "documents:list": [("get", signed_in, None)],
    "documents:upload": [("post", uploaders, {})],
    "documents:review": [("get", see, None)],
    "documents:review-submit": [("post", review, {"action": "save", "field_invoice_number": "4712"})],
    "documents:original": [("get", see, None)],
    "documents:thumbnail": [("get", see, None)],
    "documents:archive": [("get", see, None)],
    "documents:einvoice": [("get", see, None)],
    "documents:page-image": [("get", see, None)],
    "documents:row": [("get", see, None)],
    "documents:queue": [("get", reviewers, None)],
    "documents:queue-claim-next": [("post", reviewers, None)],
    "documents:queue-release": [("post", review, None)],
    "documents:search": [("get", signed_in, None)],
    # --- extraction (HTML) --------------------------------------------------------------------
    # „Modell fragen“ on the review screen: reviewers of the document; others' documents stay hidden.
    "extraction:model-ask": [("post", review, None)],
    # --- suppliers ----------------------------------------------------------------------------
    # Only admins hold suppliers.add_supplier; everyone else is refused before any lookup.
    "suppliers:create-from-document": [("post", admins, None)],
    # Master data is read by everyone signed in and written by reviewers and admins.
    "suppliers:list": [("get", signed_in, None)],
    "suppliers:detail": [("get", signed_in, None)],
    "suppliers:export": [("get", signed_in, None)],
    # A template's page is readable (its versions); saving it is the editors' work.
    "suppliers:template": [("get", signed_in, None), ("post", supplier_editors, {})],
    "suppliers:create": [("get", supplier_editors, None)],
    "suppliers:edit": [("get", supplier_editors, None)],
    "suppliers:duplicates": [("get", supplier_editors, None)],
    "suppliers:import": [("get", supplier_editors, None)],
    "suppliers:merge": [("post", supplier_editors, {})],
    "suppliers:contact-add": [("post", supplier_editors, {"last_name": "Muster"})],
    "suppliers:contact-edit": [("get", supplier_editors, None)],
    "suppliers:contact-delete": [("post", supplier_editors, None)],
    "suppliers:bank-account-add": [("post", supplier_editors, {"iban": "DE89370400440532013000"})],
    "suppliers:bank-account-action": [("post", supplier_editors, {"action": "primary"})],
    "suppliers:template-create": [("get", supplier_editors, None)],
    "api-v1:supplier-list": [("get", signed_in, None), ("post", supplier_editors, {"name": "Neu GmbH"})],
    "api-v1:supplier-detail": [("get", signed_in, None), ("patch", supplier_editors, {"city": "Köln"})],
    "api-v1:supplier-duplicates": [("get", signed_in, None)],
    "api-v1:supplier-export": [("get", signed_in, None)],
    "api-v1:supplier-import": [("post", supplier_editors, {})],
    "api-v1:supplier-merge": [("post", supplier_editors, lambda ctx: {"duplicate": ctx["duplicate_supplier"].id})],
    "api-v1:supplier-contacts": [("get", signed_in, None), ("post", supplier_editors, {"last_name": "Muster"})],
    "api-v1:supplier-contact": [
        ("get", signed_in, None),
        ("patch", supplier_editors, {"last_name": "Muster-Neu"}),
        ("delete", supplier_editors, None),
    ],
    "api-v1:supplier-bank-accounts": [
        ("get", signed_in, None),
        ("post", supplier_editors, {"iban": "DE02120300000000202051"}),
    ],
    "api-v1:supplier-bank-account": [("delete", supplier_editors, None)],
    "api-v1:supplier-templates": [
        ("get", signed_in, None),
        ("post", supplier_editors, {"name": "Standard", "document_type": "invoice"}),
    ],
    "api-v1:supplier-template": [("get", signed_in, None), ("patch", supplier_editors, {"name": "Standard neu"})],
    # --- review workspace and inbox (HTML) ------------------------------------------------------
    "documents:progress": [("get", see, None)],
    "documents:review-changes": [("get", see, None)],
    # The side panel of the review screen is the reviewers' (claims, corrections, audit).
    "documents:review-validate": [("post", review, {"field_invoice_number": "4712"})],
    "documents:review-type": [("post", review, {"document_type": "invoice"})],
    "documents:review-supplier": [("post", review, {"supplier": ""})],
    "documents:review-supplier-search": [("get", review, None)],
    "documents:review-tags": [("post", review, {"tags": "Steuer"})],
    "documents:review-note": [("post", review, {"note": "Bitte prüfen"})],
    "documents:review-relation": [("post", review, {"target": "Lieferschein", "relation_type": "references"})],
    "documents:review-reprocess": [("post", review, None)],
    "documents:queue-skip": [("post", review, None)],
    # Bulk actions resolve every ticked id through the caller's own documents (documents.bulk);
    # the page itself is everyone's, the refusal of foreign ids is proven below and in documents.
    "documents:bulk": [("post", signed_in, lambda ctx: {"action": "tag", "tag": "Q3", "ids": [ctx["document"].id]})],
    "documents:saved-view-create": [("post", signed_in, {"name": "Offen", "query": "status=review"})],
    "documents:saved-view-delete": [("post", own_item, None)],
    # --- archive: trash and restore (owner, admin), hold and erasure (admin), state (readers) ---
    "api-v1:document-retention": [("get", see, None)],
    "api-v1:document-trash": [("post", trash, {"reason": "Doppelt hochgeladen"})],
    "api-v1:document-restore": [("post", trash, None)],
    "api-v1:document-legal-hold": [
        ("post", admins, {"reason": "Betriebsprüfung 2026"}),
        ("delete", admins, {"reason": "Prüfung abgeschlossen"}),
    ],
    "api-v1:gdpr-erasure": [("post", admins, {"subject": "max.mustermann@example.com"})],
    # --- exports: of what the caller sees; the GoBD data access for auditors and admins -------
    "api-v1:export": [("post", signed_in, {"format": "json"})],
    "api-v1:export-audit": [("post", readers_of_everything, {"date_from": "2026-01-01", "date_to": "2026-12-31"})],
    "export": [("get", signed_in, None), ("post", signed_in, {"format": "csv"})],
    # --- workflows: admins define and test; clerks start manual ones on documents they change --
    "api-v1:workflow-list": [("get", signed_in, None), ("post", admins, lambda ctx: WORKFLOW)],
    "api-v1:workflow-detail": [("get", signed_in, None), ("put", admins, lambda ctx: WORKFLOW)],
    "api-v1:workflow-run": [("post", change, lambda ctx: {"document_id": ctx["document"].id})],
    "api-v1:workflow-dry-run": [("post", admins, lambda ctx: {"document_id": ctx["document"].id})],
    # Authenticated by the workflow's own token only (workflows tests): no session, no API key.
    "api-v1:workflow-hook": [("post", TOKEN, {})],
    "api-v1:workflow-execution-list": [("get", signed_in, None)],
    "api-v1:workflow-execution-detail": [("get", see, None)],
    "workflows:list": [("get", signed_in, None)],
    "workflows:detail": [("get", signed_in, None)],
    "workflows:create": [("get", admins, None)],
    "workflows:edit": [("get", admins, None)],
    "workflows:start": [("post", change, lambda ctx: {"document": ctx["document"].id})],
    "workflows:execution": [("get", see, None)],
    # --- notifications: each person's own; webhooks also for staff ------------------------------
    "api-v1:notification-list": [("get", signed_in, None)],
    "api-v1:notification-read": [("post", own_item, None)],
    "api-v1:notification-read-all": [("post", signed_in, None)],
    "api-v1:webhook-list": [
        ("get", signed_in, None),
        ("post", signed_in, {"name": "CRM", "url": "http://10.0.0.1/hook", "events": ["document.processed"]}),
    ],
    "api-v1:webhook-detail": [
        ("get", own_or_staff, None),
        ("put", own_or_staff, {"name": "ERP", "url": "http://10.0.0.1/hook", "events": ["document.processed"]}),
        ("delete", own_or_staff, None),
    ],
    "api-v1:webhook-deliveries": [("get", own_or_staff, None)],
    "api-v1:webhook-delivery-resend": [("post", own_or_staff, None)],
    "notifications:list": [("get", signed_in, None)],
    "notifications:bell": [("get", signed_in, None)],
    "notifications:read-all": [("post", signed_in, None)],
    "notifications:open": [("get", own_item, None)],
    "notifications:read": [("post", own_item, None)],
    "notifications:settings": [("get", signed_in, None)],
    "notifications:webhooks": [("get", signed_in, None)],
    "notifications:webhook": [("get", own_or_staff, None)],
    "notifications:webhook-delete": [("post", own_or_staff, {"confirm": "yes"})],
    "notifications:delivery-resend": [("post", own_or_staff, None)],
    # --- rules, settings, operations ------------------------------------------------------------
    "api-v1:extraction-rule-rollback": [("post", admins, {"version": 1})],
    "system:settings": [("get", admins, None)],
    "system:config-update": [("post", admins, {"value": "20"})],
    "system:flag-update": [("post", admins, {"enabled": "on"})],
    "system:task-toggle": [("post", admins, None)],
    "dashboard": [("get", readers_of_everything, None)],
    # Probes for load balancers: no session; "ready" may be 503 without a worker (PROBE).
    "health": [("get", PROBE, None)],
    "health-live": [("get", PROBE, None)],
    "health-ready": [("get", PROBE, None)],
    # Prometheus: a bearer token or an allowed network (127.0.0.0/8 by default, the test client's).
    "metrics": [("get", PUBLIC, None)],
}

# Views an API key with only the "admin" scope may use; everything else needs read/write.
ADMIN_SCOPE_ROUTES = {"api-v1:config-list", "api-v1:config-detail"}


def _routes(patterns=None, namespace="", params=()):
    """(name, URL parameter names) of every named URL outside Django's admin."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        names = (*params, *getattr(entry.pattern, "converters", {}))
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue  # Django's admin: is_staff only, see test_it_keeps_the_admin_site_to_staff
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace or namespace
            yield from _routes(entry.url_patterns, inner, names)
        elif isinstance(entry, URLPattern):
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), names


ROUTE_PARAMETERS = dict(_routes())


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    caches["throttle"].clear()


@pytest.fixture
def world(db, django_user_model):
    """Two teams, a person in every position, a document of the owner's team with everything attached."""
    roles = {name: Group.objects.get(name=name) for name in ("admin", "reviewer", "clerk", "viewer", "auditor")}
    team_a, team_b = Team.objects.create(name="Buchhaltung"), Team.objects.create(name="Einkauf")
    layout = {
        "owner": ("clerk", team_a),
        "teammate": ("clerk", team_a),
        "team_reviewer": ("reviewer", team_a),
        "other_clerk": ("clerk", team_b),
        "other_reviewer": ("reviewer", team_b),
        "viewer": ("viewer", None),
        "auditor": ("auditor", None),
        "admin": ("admin", None),
    }
    users = {}
    for position, (role, team) in layout.items():
        user = django_user_model.objects.create_user(
            f"{position}@example.com", "Passwort-12345", is_staff=position == "admin"
        )
        user.groups.add(roles[role])
        if team:
            team.members.add(user)
        users[position] = django_user_model.objects.get(pk=user.pk)
    owner = users["owner"]
    document = stored_document(owner, team=team_a)
    second = stored_document(owner, team=team_a, title="Lieferschein")
    einvoice_key = default_storage.save(f"einvoices/{document.id}.xml", ContentFile(b"<Invoice/>"))
    Document.objects.filter(pk=document.pk).update(einvoice_key=einvoice_key)
    note = document_note_add(document=document, user=owner, text="Skonto geklärt")
    relation = document_relation_add(source=document, target=second, user=owner, relation_type="delivery_for")
    rule = ExtractionRule.objects.create(**RULE)
    owner_key, _raw = api_key_create(user=owner, actor=owner, name="eigener", scopes=["read"])
    workflow = workflow_save(
        workflow=Workflow(name="Priorität", trigger_type=Workflow.Trigger.MANUAL),
        steps=[
            WorkflowStep(
                name="p", step_type="update_field", step_config={"field": "priority", "value": "7"}, step_order=1
            )
        ],
    )
    execution = WorkflowExecution.objects.create(
        workflow=workflow, document=document, trigger_event=Workflow.Trigger.MANUAL, triggered_by=owner
    )
    supplier = Supplier.objects.create(name="Muster GmbH", city="Berlin")
    duplicate_supplier = Supplier.objects.create(name="Muster GmbH & Co.", city="Berlin")
    contact = SupplierContact.objects.create(supplier=supplier, last_name="Schmidt")
    account = SupplierBankAccount.objects.create(supplier=supplier, iban="DE89370400440532013000")
    template = SupplierTemplate.objects.create(supplier=supplier, name="Rechnung", document_type="invoice")
    notification = Notification.objects.create(
        user=owner, type=Notification.Type.SYSTEM_ALERT, title="Hinweis", document=document
    )
    endpoint = WebhookEndpoint.objects.create(
        owner=owner, name="ERP", url="https://erp.example.com/hook", events=["document.processed"]
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, document=document, event="document.processed", event_id=uuid.uuid4(), payload={}
    )
    saved_view = SavedView.objects.create(user=owner, name="Offen", query="status=review")
    flag = FeatureFlag.objects.create(key="authz.matrix")
    scheduled_tasks_sync()  # the default rows, as the settings screen lists them
    task = ScheduledTask.objects.order_by("name").first()
    keys = {}
    for label, position, scopes in (
        ("owner+read", "owner", {"read"}),
        ("owner+write", "owner", {"write"}),
        ("admin+admin", "admin", {"admin"}),
        ("admin+all", "admin", {"read", "write", "admin"}),
    ):
        user = users[position]
        keys[label] = (position, scopes, api_key_create(user=user, actor=user, name=label, scopes=scopes)[1])
    return {
        "users": users,
        "document": document,
        "second": second,
        "keys": keys,
        "duplicate_supplier": duplicate_supplier,
        "kwargs": {
            "workflow_id": workflow.id,
            "execution_id": execution.id,
            "supplier_id": supplier.id,
            "contact_id": contact.id,
            "account_id": account.id,
            "template_id": template.id,
            "notification_id": notification.id,
            "endpoint_id": endpoint.id,
            "delivery_id": delivery.id,
            "view_id": saved_view.id,
            "flag_key": flag.key,
            "name": task.name,
            "document_id": document.id,
            "page_number": 1,
            "note_id": note.id,
            "relation_id": relation.id,
            "job_id": document.jobs.get().id,
            "key_id": owner_key.id,
            "rule_id": rule.id,
            "key": "auth.lockout_minutes",
            "uidb64": "MQ",
            "token": "abc-123",
        },
    }


# URL parameters whose value depends on the route (a feature flag's key is not a config key).
ROUTE_KWARGS = {"system:flag-update": {"key": "flag_key"}}


def _url(name, kwargs):
    renamed = ROUTE_KWARGS.get(name, {})
    return reverse(name, kwargs={key: kwargs[renamed.get(key, key)] for key in ROUTE_PARAMETERS[name]})


def _outcome(response, *, api: bool) -> str:
    status = response.status_code
    assert status < 500, f"{status} {getattr(response, 'content', b'')[:300]}"
    assert status != 405, "method not allowed: the matrix names a method the view does not offer"
    if status == 404:
        return H
    if status in (401, 403):
        return D
    if not api and status == 302 and response["Location"].startswith(reverse("accounts:login")):
        return "login"
    return A


def _send(client, method, url, body, ctx, *, api: bool):
    if callable(body):
        body = body(ctx)
    headers = {"HTTP_IF_MATCH": "*"} if method == "patch" else {}
    with transaction.atomic():
        if api:
            response = getattr(client, method)(url, body, format="json", **headers)
        else:
            response = getattr(client, method)(url, body or {}, **headers)
        # Each request sees the same starting state: approve, reject, delete roll back.
        transaction.set_rollback(True)
    return response


def test_it_classifies_every_url():
    names = set(ROUTE_PARAMETERS)

    assert names - set(ROUTES) == set(), "new URL: add it to ROUTES with its intended access"
    assert set(ROUTES) - names == set(), "ROUTES names a URL that no longer exists"


def test_it_lists_every_method_each_api_view_offers():
    for name, checks in ROUTES.items():
        if not name.startswith("api-v1:") or name in {"api-v1:schema", "api-v1:docs"}:
            continue
        view_class = resolve(_dummy_url(name)).func.view_class
        offered = {method for method in ("get", "post", "put", "patch", "delete") if hasattr(view_class, method)}
        assert offered == {method for method, _expectation, _body in checks}, name


def _dummy_url(name):
    dummy = {"page_number": 1, "key": "x"}
    return _url(name, {key: dummy.get(key, uuid.uuid4()) for key in ROUTE_PARAMETERS[name]})


# Four groups of URLs, one shared set-up each: the set-up costs more than a dozen requests.
ROUTE_GROUPS = [sorted(ROUTES)[start::4] for start in range(4)]


@pytest.mark.parametrize("names", ROUTE_GROUPS, ids=[f"group-{n}" for n in range(4)])
def test_it_gives_each_position_exactly_the_intended_access(world, names):
    failures = []
    for name in names:
        failures += _check_route(world, name)
    assert not failures, "\n".join(failures)


def _check_route(world, name) -> list[str]:
    api = name.startswith("api-v1:")
    url = _url(name, world["kwargs"])
    failures = []
    for method, expectation, body in ROUTES[name]:
        request = f"{method.upper()} {url} ({name})"
        if expectation == PROBE:
            status = _send(Client(), method, url, body, world, api=False).status_code
            if status not in (200, 503):
                failures.append(f"{request} anonymous: {status}")
            continue
        anonymous = _outcome(_send(APIClient() if api else Client(), method, url, body, world, api=api), api=api)
        if expectation == TOKEN:
            # Neither a session nor an API key stands in for the token: everyone else is refused.
            failures += [f"{request} anonymous: {anonymous}"] if anonymous not in (D, H) else []
            failures += _check_positions(world, method, url, body, only(), api=api, request=request)
            failures += _check_keys(world, name, method, url, body, only())
            continue
        if expectation == PUBLIC:
            # A public page may still send an anonymous visitor to the login (sign-out, code step).
            if anonymous not in (A, "login"):
                failures.append(f"{request} anonymous: {anonymous}")
            continue
        if anonymous != (D if api else "login"):
            failures.append(f"{request} anonymous: {anonymous}")
        failures += _check_positions(world, method, url, body, expectation, api=api, request=request)
        if api:
            failures += _check_keys(world, name, method, url, body, expectation)
    return failures


def _check_positions(world, method, url, body, expectation, *, api: bool, request: str) -> list[str]:
    failures = []
    for position in POSITIONS:
        client = APIClient() if api else Client()
        client.force_login(world["users"][position])
        got = _outcome(_send(client, method, url, body, world, api=api), api=api)
        wanted = expectation(position)
        if not (got == wanted or (wanted == D and got == H)):
            failures.append(f"{request} as {position}: {got}, wanted {wanted}")
    return failures


def _check_keys(world, name, method, url, body, expectation) -> list[str]:
    needed = "admin" if name in ADMIN_SCOPE_ROUTES else ("read" if method == "get" else "write")
    failures = []
    for label, (position, scopes, raw_key) in world["keys"].items():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
        got = _outcome(_send(client, method, url, body, world, api=True), api=True)
        wanted = expectation(position) if needed in scopes else D
        if not (got == wanted or (wanted == D and got == H)):
            failures.append(f"{method.upper()} {url} ({name}) with key {label}: {got}, wanted {wanted}")
    return failures


def test_it_keeps_the_admin_site_to_staff(world):
    for position in POSITIONS:
        client = Client()
        client.force_login(world["users"][position])
        response = client.get("/admin/")
        assert response.status_code == (200 if position == "admin" else 302), position


# --- websockets -------------------------------------------------------------------------------

REDIS_LAYER = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:6379/14"], "prefix": "ablage-test-authz"},
    }
}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_it_pushes_document_events_exactly_to_those_who_may_see_them(django_user_model):
    world_data = await sync_to_async(_websocket_world)(django_user_model)
    with override_settings(CHANNEL_LAYERS=REDIS_LAYER):
        channel_layers.backends.clear()
        try:
            sockets = {}
            for position, user in world_data["users"].items():
                communicator = WebsocketCommunicator(DocumentStatusConsumer.as_asgi(), "/ws/documents/")
                communicator.scope["user"] = user
                connected, _ = await communicator.connect(timeout=10)
                assert connected, position
                sockets[position] = communicator
            document = world_data["document"]
            await sync_to_async(events.publish)(
                events.DocumentEvent(str(document.id), str(document.owner_id), "review", stage="review")
            )
            for position, socket in sockets.items():
                if position in VISIBLE:
                    message = await socket.receive_json_from(timeout=10)
                    assert message["document_id"] == str(document.id), position
                else:
                    assert await socket.receive_nothing(timeout=0.3), position
                await socket.disconnect()

            anonymous = WebsocketCommunicator(DocumentStatusConsumer.as_asgi(), "/ws/documents/")
            anonymous.scope["user"] = AnonymousUser()
            connected, _ = await anonymous.connect(timeout=10)
            assert not connected
        finally:
            channel_layers.backends.clear()


def _websocket_world(django_user_model):
    roles = {name: Group.objects.get(name=name) for name in ("admin", "reviewer", "clerk", "viewer", "auditor")}
    team_a, team_b = Team.objects.create(name="A"), Team.objects.create(name="B")
    layout = {
        "owner": ("clerk", team_a),
        "teammate": ("clerk", team_a),
        "team_reviewer": ("reviewer", team_a),
        "other_clerk": ("clerk", team_b),
        "other_reviewer": ("reviewer", team_b),
        "viewer": ("viewer", None),
        "auditor": ("auditor", None),
        "admin": ("admin", None),
    }
    users = {}
    for position, (role, team) in layout.items():
        user = django_user_model.objects.create_user(f"ws-{position}@example.com", "Passwort-12345")
        user.groups.add(roles[role])
        if team:
            team.members.add(user)
        users[position] = django_user_model.objects.get(pk=user.pk)
    document = Document.objects.create(
        owner=users["owner"],
        team=team_a,
        title="Rechnung",
        original_filename="r.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256="0" * 64,
        storage_key="originals/ws-authz.pdf",
        status=Document.Status.REVIEW,
    )
    return {"users": users, "document": document}


# --- escalation ---------------------------------------------------------------------------------


def test_it_refuses_is_staff_through_the_profile_api_without_partial_effect(world):
    owner = world["users"]["owner"]
    client = APIClient()
    client.force_login(owner)

    response = client.patch("/api/v1/me/", {"display_name": "Chefin", "is_staff": True}, format="json")

    owner.refresh_from_db()
    assert response.status_code == 400
    assert (owner.is_staff, owner.display_name) == (False, "")


def test_it_ignores_an_owner_sent_along_with_an_upload(world, born_digital_pdf):
    owner, other = world["users"]["owner"], world["users"]["other_clerk"]
    client = APIClient()
    client.force_login(owner)
    upload = io.BytesIO(born_digital_pdf)
    upload.name = "r.pdf"

    response = client.post(
        "/api/v1/documents/", {"file": upload, "owner": str(other.id), "team": "x"}, format="multipart"
    )

    assert response.status_code == 202
    assert Document.objects.get(id=response.json()["id"]).owner == owner


def test_it_refuses_a_bulk_edit_mixing_foreign_ids_and_changes_nothing(world):
    owner, other = world["users"]["owner"], world["users"]["other_clerk"]
    foreign = stored_document(other)
    client = APIClient()
    client.force_login(owner)
    ids = [str(world["document"].id), str(world["second"].id), str(foreign.id)]

    response = client.post("/api/v1/documents/bulk/tags/", {"documents": ids, "tags": ["gekapert"]}, format="json")

    assert response.status_code == 404
    assert not Document.objects.filter(tags__name="gekapert").exists()


def test_it_refuses_a_bulk_edit_mixing_unchangeable_ids_and_changes_nothing(world):
    teammate = world["users"]["teammate"]
    own = stored_document(teammate)
    client = APIClient()
    client.force_login(teammate)

    response = client.post(
        "/api/v1/documents/bulk/tags/",
        {"documents": [str(own.id), str(world["document"].id)], "tags": ["fremd"]},
        format="json",
    )

    assert response.status_code == 403
    assert not Document.objects.filter(tags__name="fremd").exists()


def test_it_applies_a_bulk_edit_of_own_documents(world):
    client = APIClient()
    client.force_login(world["users"]["owner"])
    ids = [str(world["document"].id), str(world["second"].id)]

    response = client.post("/api/v1/documents/bulk/tags/", {"documents": ids, "tags": ["Q3"]}, format="json")

    assert response.json() == {"updated": 2}
    assert Document.objects.filter(tags__name="Q3").count() == 2
