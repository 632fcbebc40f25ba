"""``/api/v1/extraction-rules/``: admins write, reviewers read, a rule can be tried on a visible document."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from documents.models import Document, DocumentPage
from extraction.models import ExtractionRule
from extraction.services import rule_create
from extraction.tests.pages import PageBuilder

pytestmark = [pytest.mark.django_db]

LIST = reverse("api-v1:extraction-rule-list")
DRAFT_TEST = reverse("api-v1:extraction-rule-draft-test")
RULE = {
    "name": "Belegnummer Lindner",
    "field_name": "invoice_number",
    "rule_type": "regex",
    "rule_config": {"pattern": r"Beleg-Kennung:\s*(\S+)"},
}


def _detail(rule):
    return reverse("api-v1:extraction-rule-detail", args=[rule.id])


def _test_url(rule):
    return reverse("api-v1:extraction-rule-test", args=[rule.id])


def _client(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def rule_admin(django_user_model):
    user = django_user_model.objects.create_user("regeln@example.com", "Passwort-12345")
    for action in ("view", "add", "change", "delete"):
        user.user_permissions.add(Permission.objects.get(codename=f"{action}_extractionrule"))
    return user


@pytest.fixture
def rule():
    return rule_create(user=None, **RULE)


@pytest.fixture
def document(owner):
    document = Document.objects.create(
        owner=owner,
        title="Rechnung Lindner",
        original_filename="lindner.pdf",
        mime_type="application/pdf",
        file_size=100,
        sha256="1" * 64,
        storage_key="originals/lindner.pdf",
        document_type="invoice",
        status=Document.Status.REVIEW,
    )
    page = PageBuilder()
    page.text(0.60, 0.18, "Beleg-Kennung:   LX/2026/0042")
    # Enough text for a badly written pattern to backtrack long enough to be stopped.
    page.lines(0.08, 0.30, ["Kaffee Espresso 1 kg   2 Stk.   21,00   42,00 Nettobetrag 42,00 EUR"] * 25, spacing=0.02)
    DocumentPage.objects.create(
        document=document,
        page_number=1,
        image_key="pages/p1.jpg",
        width_px=1240,
        height_px=1754,
        dpi=150,
        text_source="text_layer",
        words=[word.as_json() for word in page.build().words],
    )
    return document


# --- permissions ---------------------------------------------------------------------------------


def test_it_refuses_anonymous_requests(rule):
    assert _client().get(LIST).status_code in (401, 403)


def test_it_refuses_a_clerk_without_rule_or_review_permission(owner, rule):
    assert _client(owner).get(LIST).status_code == 403
    assert _client(owner).get(_detail(rule)).status_code == 403


def test_it_lets_a_reviewer_read_but_not_write(reviewer, rule):
    client = _client(reviewer)

    listed = client.get(LIST)
    assert listed.status_code == 200 and listed.json()["results"][0]["name"] == RULE["name"]
    assert client.get(_detail(rule)).json()["versions"][0]["version"] == 1
    assert client.post(LIST, RULE, format="json").status_code == 403
    assert client.patch(_detail(rule), {"priority": 3}, format="json").status_code == 403
    assert client.delete(_detail(rule)).status_code == 403
    assert ExtractionRule.objects.get().priority == 0


def test_it_filters_rules_and_refuses_a_malformed_supplier_filter(rule_admin, rule):
    client = _client(rule_admin)

    assert len(client.get(LIST, {"field_name": "invoice_number"}).json()["results"]) == 1
    assert client.get(LIST, {"field_name": "iban"}).json()["results"] == []
    refused = client.get(LIST, {"supplier": "kein-uuid"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_filter"


def test_it_answers_404_for_a_rule_that_does_not_exist(rule_admin):
    missing = reverse("api-v1:extraction-rule-detail", args=["00000000-0000-4000-8000-000000000000"])
    assert _client(rule_admin).get(missing).status_code == 404


# --- create, update, delete ----------------------------------------------------------------------


def test_it_creates_a_rule_at_version_one(rule_admin):
    response = _client(rule_admin).post(LIST, {**RULE, "priority": 7, "notes": "Erste Fassung"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["version"], body["priority"], body["usage_count"]) == (1, 7, 0)
    assert body["versions"][0]["notes"] == "Erste Fassung"
    assert ExtractionRule.objects.get().created_by == rule_admin


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"rule_config": {"pattern": "(["}}, "rule_config", "„pattern“ ist kein gültiger regulärer Ausdruck"),
        ({"rule_type": "anchor", "rule_config": {"label": "Nr."}}, None, None),
        ({"rule_type": "anchor", "rule_config": {}}, "rule_config", "„label“ fehlt"),
        ({"field_name": "lieblingsfarbe"}, "field_name", "lieblingsfarbe"),
        ({"validation_regex": "(x"}, "validation_regex", "Kein gültiger regulärer Ausdruck"),
        ({"rule_type": "template", "rule_config": {}}, "template", "braucht eine Vorlage"),
    ],
)
def test_it_validates_the_config_with_a_clear_message(rule_admin, changes, field, message):
    response = _client(rule_admin).post(LIST, {**RULE, **changes}, format="json")

    if field is None:
        assert response.status_code == 201
        return
    assert response.status_code == 400
    assert message in str(response.json()["error"]["fields"][field])


def test_it_makes_a_new_version_when_the_config_is_patched(rule_admin, rule):
    response = _client(rule_admin).patch(
        _detail(rule), {"rule_config": {"pattern": r"Kennung:?\s*(\S+)"}, "notes": "kürzer"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 2
    assert [version["version"] for version in body["versions"]] == [2, 1]
    assert body["versions"][0]["performance_delta"]["previous_version"] == 1


def test_it_checks_a_patched_config_against_the_stored_rule_type(rule_admin, rule):
    response = _client(rule_admin).patch(_detail(rule), {"rule_config": {"label": "Nr."}}, format="json")

    assert response.status_code == 400
    assert "„pattern“ fehlt" in str(response.json()["error"]["fields"]["rule_config"])


def test_it_deletes_a_rule(rule_admin, rule):
    assert _client(rule_admin).delete(_detail(rule)).status_code == 204
    assert not ExtractionRule.objects.exists()


# --- dry run -------------------------------------------------------------------------------------


def test_it_shows_what_a_stored_rule_would_extract_from_a_document(reviewer, rule, document):
    response = _client(reviewer).post(_test_url(rule), {"document": str(document.id)}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["found"], body["value"], body["normalized"], body["page"]) == (True, "LX/2026/0042", "LX/2026/0042", 1)
    assert body["applies"] is True and body["error"] == ""
    assert body["rule"] == {"id": str(rule.id), "version": 1, "name": RULE["name"], "field_name": "invoice_number"}
    assert document.fields.count() == 0  # a dry run changes nothing


def test_it_answers_404_for_a_document_the_user_cannot_see(rule_admin, rule, document):
    # The rule admin sees only their own documents; the owner's document does not exist for them.
    response = _client(rule_admin).post(_test_url(rule), {"document": str(document.id)}, format="json")
    assert response.status_code == 404


def test_it_tries_a_draft_rule_and_says_why_it_would_not_apply(owner, rule_admin, document):
    owner.user_permissions.add(Permission.objects.get(codename="add_extractionrule"))
    draft = {**RULE, "document_type": "credit_note", "document": str(document.id)}

    body = _client(owner).post(DRAFT_TEST, draft, format="json").json()

    assert body["found"] is True and body["applies"] is False
    assert (
        body["not_applicable_reason"] == "Die Regel gilt für den Dokumenttyp „credit_note“, das Dokument ist „invoice“."
    )
    assert not ExtractionRule.objects.exists()


def test_it_reports_a_draft_rule_that_times_out_in_the_dry_run(owner, document):
    owner.user_permissions.add(Permission.objects.get(codename="add_extractionrule"))
    draft = {**RULE, "rule_config": {"pattern": r"(.*\s?)*\d{40}", "flags": "s"}, "document": str(document.id)}

    body = _client(owner).post(DRAFT_TEST, draft, format="json").json()

    assert body["found"] is False
    assert "abgebrochen" in body["error"]


def test_it_refuses_a_dry_run_on_a_document_without_pages(reviewer, rule, document):
    document.pages.all().delete()

    response = _client(reviewer).post(_test_url(rule), {"document": str(document.id)}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "document_not_processed"


def test_it_refuses_a_draft_test_without_the_right_to_create_rules(reviewer, document):
    response = _client(reviewer).post(DRAFT_TEST, {**RULE, "document": str(document.id)}, format="json")
    assert response.status_code == 403
