"""The learning loop in the database: training data from reviews, learned supplier rules, rollback,
the document-type model, daily metrics and rule suggestions."""

import json
import uuid
from datetime import date
from io import BytesIO

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from rest_framework.test import APIClient

from ablage.errors import ApplicationError
from documents import services as document_services
from documents.models import Document, DocumentPage
from extraction import tasks
from extraction.classify import classify
from extraction.layout import build_layouts
from extraction.learning.classifier import NaiveBayes
from extraction.models import ClassifierModel, ExtractionRule, ExtractionRuleVersion, ModelPerformance, TrainingData
from extraction.selectors import active_classifier, rule_suggestions
from extraction.services import (
    classifier_train,
    model_performance_compute,
    rule_create,
    rule_rollback,
    rule_save,
    rule_update,
    supplier_learn,
    training_data_record_review,
)
from extraction.tests.pages import PageBuilder
from monitoring.models import AuditLog
from suppliers.models import Supplier

pytestmark = [pytest.mark.django_db]

VAT_ID = "DE136695976"
DOCUMENTS = [
    ("LG 2025/0815", "03.02.2025", "M-2291"),
    ("LG 2025/0902", "17.03.2025", "M-2291"),
    ("LG 2025/1147", "28.04.2025", "M-2291"),
]


def _unseen_invoice(number: str, day: str, customer: str) -> bytes:
    """A born-digital invoice whose header labels ("Vorgang:", "Erstellt:", "Mandant:") no extractor knows."""
    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    _, height = A4
    pdf.setFont("Helvetica-Bold", 11)
    pdf.drawString(60, height - 60, "Gartenbau Lindner GmbH")
    pdf.setFont("Helvetica", 10)
    for offset, line in enumerate(["Firma Muster AG", "Am Markt 1", "10115 Berlin"]):
        pdf.drawString(60, height - 140 - 13 * offset, line)
    for offset, (label, value) in enumerate([("Vorgang:", number), ("Erstellt:", day), ("Mandant:", customer)]):
        pdf.drawString(360, height - 140 - 14 * offset, label)
        pdf.drawRightString(530, height - 140 - 14 * offset, value)
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawString(60, height - 230, "Rechnung")
    pdf.setFont("Helvetica", 10)
    pdf.drawString(60, height - 260, "Rasenpflege")
    pdf.drawRightString(530, height - 260, "100,00 €")
    for offset, (label, value) in enumerate(
        [("Nettobetrag", "100,00 €"), ("USt 19 %", "19,00 €"), ("Gesamtbetrag", "119,00 €")]
    ):
        pdf.drawString(360, height - 300 - 14 * offset, label)
        pdf.drawRightString(530, height - 300 - 14 * offset, value)
    pdf.setFont("Helvetica", 8)
    pdf.drawString(60, 60, f"USt-IdNr. {VAT_ID} · IBAN DE89 3704 0044 0532 0130 00 · BIC COBADEFFXXX")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@pytest.fixture
def supplier():
    return Supplier.objects.create(name="Gartenbau Lindner GmbH", vat_id=VAT_ID)


def _process(owner, data) -> Document:
    document = document_services.document_ingest(owner=owner, filename="lindner.pdf", data=data)
    document_services.job_run(job_id=document.jobs.get().id)
    document.refresh_from_db()
    return document


def _review(document, reviewer, number, day, customer) -> None:
    document_services.document_update_fields(
        document=document,
        user=reviewer,
        values={"invoice_number": number, "invoice_date": day, "customer_number": customer},
    )
    document_services.document_approve(document=document, user=reviewer)


def _field(document, name):
    return document.fields.filter(name=name).first()


# --- training data -------------------------------------------------------------------------------


def test_it_records_every_reviewed_field_once_with_the_box_of_the_accepted_value(
    owner, reviewer, supplier, django_capture_on_commit_callbacks
):
    number, day, customer = DOCUMENTS[0]
    document = _process(owner, _unseen_invoice(number, day, customer))
    assert document.status == Document.Status.REVIEW and _field(document, "invoice_number") is None

    with django_capture_on_commit_callbacks() as callbacks:
        _review(document, reviewer, number, day, customer)

    corrected = TrainingData.objects.get(document=document, field_name="invoice_number")
    assert (corrected.expected_value, corrected.extracted_value, corrected.was_correct) == (number, "", False)
    assert corrected.page == 1 and corrected.bounding_box[0] > 0.5  # the value on the right, not a guess
    assert corrected.validated_by == reviewer and corrected.confidence is None
    confirmed = TrainingData.objects.get(document=document, field_name="total_amount")
    assert confirmed.was_correct is True and confirmed.bounding_box == _field(document, "total_amount").bbox
    kind = TrainingData.objects.get(document=document, field_name="document_type")
    assert (kind.expected_value, kind.extracted_value) == ("invoice", "invoice")
    assert any("_enqueue_supplier_learning" in repr(callback) for callback in callbacks)

    rows = TrainingData.objects.filter(document=document).count()
    training_data_record_review(document=document, user=reviewer)
    assert TrainingData.objects.filter(document=document).count() == rows


def test_it_keeps_only_the_corrected_fields_of_a_rejected_document(owner, reviewer, supplier):
    number, day, customer = DOCUMENTS[0]
    document = _process(owner, _unseen_invoice(number, day, customer))
    document_services.document_update_fields(document=document, user=reviewer, values={"invoice_number": number})

    document_services.document_reject(document=document, user=reviewer, reason="Doppelt eingereicht")

    assert list(TrainingData.objects.filter(document=document).values_list("field_name", flat=True)) == [
        "invoice_number"
    ]


# --- supplier rules, end to end ------------------------------------------------------------------


def test_it_learns_from_corrections_so_the_suppliers_next_document_is_read_right(owner, reviewer, supplier):
    first, second = (_process(owner, _unseen_invoice(*values)) for values in DOCUMENTS[:2])
    _review(first, reviewer, *DOCUMENTS[0])
    assert supplier_learn(supplier_id=supplier.id) == []  # one reviewed document is not enough (default 2)
    _review(second, reviewer, *DOCUMENTS[1])

    assert tasks.supplier_learn.apply(args=[str(supplier.id)]).get() >= 2  # the task as the worker runs it

    rule = ExtractionRule.objects.get(supplier=supplier, field_name="invoice_number")
    assert (rule.rule_type, rule.rule_config["label"], rule.learned_from) == ("anchor", "Vorgang:", 2)
    version = rule.versions.get()
    assert version.measurement["correct"] == 2 and version.measurement["baseline_correct"] == 0
    assert version.measurement["corrections"] == 2
    third = _process(owner, _unseen_invoice(*DOCUMENTS[2]))
    number = _field(third, "invoice_number")
    assert number.normalized_value == DOCUMENTS[2][0] and number.rule == f"regel:{rule.id}@v1"
    assert _field(third, "customer_number").normalized_value == DOCUMENTS[2][2]
    client = APIClient()
    client.force_authenticate(owner)
    fields = {f["name"]: f for f in client.get(f"/api/v1/documents/{third.id}/").json()["fields"]}
    assert fields["invoice_number"]["learned"]["text"] == "gelernt aus 2 Korrekturen"
    assert fields["total_amount"]["learned"] is None

    # Idempotent: nothing new, nothing written.
    versions = ExtractionRuleVersion.objects.count()
    assert tasks.supplier_learn.apply(args=[str(supplier.id)]).get() == 0
    assert ExtractionRuleVersion.objects.count() == versions

    # Rolled back: the learned rule is switched off and learning does not bring it back.
    rule_rollback(rule=rule, user=reviewer)
    rule.refresh_from_db()
    assert rule.is_active is False and rule.versions.get(version=1).rolled_back
    supplier_learn(supplier_id=supplier.id)
    rule.refresh_from_db()
    assert rule.is_active is False


# --- rollback ------------------------------------------------------------------------------------


def _rule(**values):
    values = {
        "name": "Belegnummer",
        "field_name": "invoice_number",
        "rule_type": "regex",
        "rule_config": {"pattern": r"Vorgang:\s*(\S+)"},
        **values,
    }
    return rule_create(user=None, **values)


@pytest.mark.embedded
def test_it_rolls_back_to_the_previous_version_as_a_new_version(reviewer):
    rule = _rule()
    rule_update(rule=rule, user=None, rule_type="anchor", rule_config={"label": "Vorgang"})

    rule = rule_rollback(rule=rule, user=reviewer)

    assert (rule.version, rule.rule_type, rule.rule_config) == (3, "regex", {"pattern": r"Vorgang:\s*(\S+)"})
    assert rule.versions.get(version=2).rolled_back and not rule.versions.get(version=3).rolled_back
    assert AuditLog.objects.filter(action="extraction_rule.rolled_back", object_id=str(rule.id)).exists()


@pytest.mark.embedded
def test_it_refuses_to_roll_back_a_hand_made_rule_without_an_earlier_version():
    with pytest.raises(ApplicationError, match="keine frühere Version"):
        rule_rollback(rule=_rule(), user=None)


@pytest.fixture
def rule_admin(django_user_model):
    user = django_user_model.objects.create_user("regeln@example.com", "Passwort-12345")
    for action in ("view", "change"):
        user.user_permissions.add(Permission.objects.get(codename=f"{action}_extractionrule"))
    return user


def test_it_rolls_back_through_the_api_and_explains_a_refusal(rule_admin, reviewer):
    rule = _rule()
    url = reverse("api-v1:extraction-rule-rollback", args=[rule.id])
    client = APIClient()
    client.force_authenticate(rule_admin)

    refused = client.post(url, {}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "no_previous_version"

    rule_update(rule=rule, user=None, rule_config={"pattern": r"Nr\.\s*(\S+)"})
    answer = client.post(url, {"version": 1}, format="json")
    assert answer.status_code == 200 and answer.json()["version"] == 3
    assert answer.json()["rule_config"] == {"pattern": r"Vorgang:\s*(\S+)"}

    reader = APIClient()
    reader.force_authenticate(reviewer)
    assert reader.post(url, {}, format="json").status_code == 403


def test_it_rolls_back_from_the_admin_list(admin_client):
    rule = _rule()
    rule_update(rule=rule, user=None, rule_config={"pattern": r"Nr\.\s*(\S+)"})

    admin_client.post(
        reverse("admin:extraction_extractionrule_changelist"),
        {"action": "rollback_selected", "_selected_action": [str(rule.id)]},
    )

    rule.refresh_from_db()
    assert rule.version == 3 and rule.rule_config == {"pattern": r"Vorgang:\s*(\S+)"}


# --- document-type model -------------------------------------------------------------------------


def _typed_document(owner, lines: list[str], document_type: str, reviewer) -> Document:
    document = Document.objects.create(
        owner=owner,
        title=lines[0],
        original_filename="brief.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256=uuid.uuid4().hex * 2,
        storage_key=f"originals/{uuid.uuid4().hex}.pdf",
        document_type=document_type,
        status=Document.Status.APPROVED,
        reviewed_by=reviewer,
    )
    page = PageBuilder()
    for index, line in enumerate(lines):
        page.text(0.1, 0.1 + index * 0.03, line)
    DocumentPage.objects.create(
        document=document,
        page_number=1,
        image_key="p.jpg",
        width_px=1,
        height_px=1,
        dpi=150,
        text_source="text_layer",
        words=[word.as_json() for word in page.build().words],
    )
    training_data_record_review(document=document, user=reviewer)
    return document


PLAN = ["Pflanzplan Saison", "Beete Stauden Rosen", "Pflege Rasen Hecken"]
NOTICE = ["Wartungsprotokoll Anlage", "Filter Pumpe geprueft", "Techniker Besuch"]


def test_it_trains_the_type_model_only_on_new_data_and_stores_it_as_json(owner, reviewer):
    for _ in range(3):
        _typed_document(owner, PLAN, "contract", reviewer)
        _typed_document(owner, NOTICE, "form", reviewer)

    model = classifier_train()

    assert model is not None and model.version == 1 and model.trained_examples == 6
    assert json.loads(json.dumps(model.parameters)) == model.parameters  # plain JSON, nothing to unpickle
    performance = ModelPerformance.objects.get(model_name="document_type_classifier", model_version="v1")
    assert performance.accuracy == 1.0 and performance.total_predictions == 6
    assert classifier_train() is None  # nothing new
    assert TrainingData.objects.filter(field_name="document_type", used_for_training=False).count() == 0

    _typed_document(owner, PLAN, "contract", reviewer)
    assert classifier_train().version == 2
    assert list(ClassifierModel.objects.filter(is_active=True).values_list("version", flat=True)) == [2]


def test_it_lets_the_learned_model_decide_what_the_keywords_leave_open(owner, reviewer):
    for _ in range(3):
        _typed_document(owner, PLAN, "contract", reviewer)
        _typed_document(owner, NOTICE, "form", reviewer)
    classifier_train()
    page = PageBuilder()
    for index, line in enumerate(PLAN):
        page.text(0.1, 0.1 + index * 0.03, line)
    layouts = build_layouts([page.build()])

    assert classify(layouts)[0] == "unknown"
    assert classify(layouts, learned=active_classifier())[0] == "contract"


def test_it_ignores_a_model_row_that_is_not_a_valid_model():
    ClassifierModel.objects.create(
        name="document_type_classifier", version=1, parameters={"format": 1, "documents": "x"}, trained_examples=1
    )

    assert active_classifier() is None
    with pytest.raises(ValueError):
        NaiveBayes.from_json(["not", "a", "model"])


# --- metrics and suggestions ---------------------------------------------------------------------


def _example(document, name, expected, extracted, *, method="", confidence=0.9):
    return TrainingData.objects.create(
        document=document,
        field_name=name,
        expected_value=expected,
        extracted_value=extracted,
        was_correct=expected == extracted,
        extraction_method=method,
        confidence=confidence,
        validated_at=timezone.now(),
    )


@pytest.fixture
def reviewed(owner, supplier):
    return Document.objects.create(
        owner=owner,
        supplier=supplier,
        title="Rechnung Lindner",
        original_filename="lindner.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256="3" * 64,
        storage_key="originals/lindner.pdf",
        status=Document.Status.APPROVED,
    )


def test_it_computes_daily_precision_recall_and_f1_per_field_and_supplier(reviewed, supplier):
    _example(reviewed, "invoice_number", "LG 1", "LG 1")
    _example(reviewed, "invoice_date", "2025-02-03", "2025-01-01", confidence=0.5)
    _example(reviewed, "customer_number", "M-2291", "")

    model_performance_compute(day=timezone.localdate())
    rows = model_performance_compute(day=timezone.localdate())  # again: the same rows, updated

    overall = ModelPerformance.objects.get(model_name="extraction", model_version="gesamt")
    assert ModelPerformance.objects.filter(model_name="extraction").count() == 2 == len(rows)
    assert (overall.total_predictions, overall.correct_predictions) == (3, 1)
    assert overall.precision_score == 0.5 and overall.recall == pytest.approx(0.3333, abs=1e-4)
    assert overall.field_metrics["invoice_date"] == {
        "total": 1,
        "accuracy": 0.0,
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "avg_confidence": 0.5,
    }
    assert ModelPerformance.objects.get(model_version=f"lieferant:{supplier.id}").accuracy == pytest.approx(
        0.3333, abs=1e-4
    )
    assert model_performance_compute(day=date(2020, 1, 1)) == []


def test_it_suggests_a_rule_whose_values_clerks_corrected_with_the_documents(reviewed, admin_client):
    rule = _rule()
    healthy = _rule(name="Kundennummer", field_name="customer_number", rule_config={"pattern": r"Mandant:\s*(\S+)"})
    _example(reviewed, "invoice_number", "LG 1", "LG 7", method=f"regel:{rule.id}@v1")
    _example(reviewed, "customer_number", "M-1", "M-1", method=f"regel:{healthy.id}@v1")

    suggestions = rule_suggestions()

    assert [s["rule"] for s in suggestions] == [rule]
    assert suggestions[0]["documents"][0]["document"] == reviewed
    page = admin_client.get(reverse("admin:extraction_extractionrule_suggestions"))
    assert page.status_code == 200
    assert "Belegnummer" in page.content.decode() and "LG 7" in page.content.decode()
    rules = admin_client.get(reverse("admin:extraction_extractionrule_changelist")).content.decode()
    assert f'href="{reverse("admin:extraction_extractionrule_suggestions")}"' in rules


def test_it_suggests_a_rule_whose_success_rate_fell_against_its_previous_version():
    rule = _rule()
    ExtractionRule.objects.filter(id=rule.id).update(usage_count=10, success_count=9, success_rate=0.9)
    rule.refresh_from_db()
    rule = rule_update(rule=rule, user=None, rule_config={"pattern": r"Nr\.\s*(\S+)"})
    ExtractionRule.objects.filter(id=rule.id).update(usage_count=10, success_count=5, success_rate=0.5)

    reasons = rule_suggestions()[0]["reasons"]

    assert any("90 %" in reason and "50 %" in reason for reason in reasons)


# --- learned evidence in the review screen -------------------------------------------------------


def _row(body: str, name: str) -> str:
    """The review form's table row of one field."""
    start = body.index(f'<tr data-field="{name}">')
    return body[start : body.index("</tr>", start)]


def test_it_shows_on_the_review_screen_which_fields_a_learned_rule_read(client, owner, reviewer, supplier):
    from documents.tests.factories import make_document

    learned = rule_save(
        rule=ExtractionRule(
            name="Gelernt: invoice_number (invoice)",
            supplier=supplier,
            field_name="invoice_number",
            rule_type="anchor",
            rule_config={"label": "Vorgang:", "direction": "right"},
            learned_from=3,
        ),
        user=None,
        measurement={"correct": 3, "baseline_correct": 0, "corrections": 3},
    )
    configured = _rule(name="Kundennummer", field_name="customer_number", rule_config={"pattern": r"Mandant:\s*(\S+)"})
    document = make_document(
        owner,
        supplier=supplier,
        fields={
            "invoice_number": ("LG 2025/1147", "LG 2025/1147"),
            "customer_number": ("M-2291", "M-2291"),
            "order_number": ("B-17", "B-17"),
        },
    )
    document.fields.filter(name="invoice_number").update(rule=f"regel:{learned.id}@v1")
    document.fields.filter(name="customer_number").update(rule=f"regel:{configured.id}@v1")
    # A value the clerk corrected is theirs, whichever rule had read it before.
    document.fields.filter(name="order_number").update(rule=f"regel:{learned.id}@v1", locked=True)

    client.force_login(reviewer)
    body = client.get(reverse("documents:review", args=[document.id])).content.decode()

    assert 'class="evidence-learned"' in _row(body, "invoice_number")
    assert "gelernt aus 3 Korrekturen" in _row(body, "invoice_number")
    assert "evidence-learned" not in _row(body, "customer_number")  # configured by hand, not learned
    assert "evidence-learned" not in _row(body, "order_number")
    assert body.count("evidence-learned") == 1
