import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.db import connection
from jinja2.sandbox import SandboxedEnvironment

from documents.models import Category
from notifications.models import EmailTemplate, email_template_problems
from system.models import SystemConfig
from system.selectors import config_cache_invalidate, config_get

seed = importlib.import_module("system.migrations.0002_seed_defaults")

SEEDED_SLUGS = [
    "eingangsrechnungen",
    "ausgangsrechnungen",
    "gutschriften",
    "lieferscheine",
    "vertraege",
    "korrespondenz",
    "sonstiges",
]


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    config_cache_invalidate()
    yield
    config_cache_invalidate()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "expected", "rules"),
    [
        ("extraction.auto_approve_threshold", 0.85, {"min": 0.0, "max": 1.0}),
        ("review.sla_hours.invoice", 48, {"min": 1, "max": 720}),
        ("upload.max_pages", 100, {"min": 1, "max": 5000}),
        ("ocr.languages", "deu+eng", {"regex": r"[a-z_]{3,}(\+[a-z_]{3,})*"}),
        ("ocr.render_dpi", 300, {"min": 72, "max": 600}),
        ("notifications.digest_hour", 8, {"min": 0, "max": 23}),
    ],
)
def test_it_seeds_the_default_configuration(key, expected, rules):
    assert config_get(key) == expected
    assert type(config_get(key)) is type(expected)
    assert SystemConfig.objects.get(key=key).validation_rules == rules


@pytest.mark.django_db
def test_it_seeds_german_email_templates_that_validate_and_render():
    # HTML is rendered with autoescaping, subject and plain text without (they are not HTML).
    environment = SandboxedEnvironment(autoescape=True)
    plain_environment = SandboxedEnvironment(autoescape=False)
    keys = {"document_processed", "review_required", "processing_failed", "review_completed"}
    templates = EmailTemplate.objects.filter(key__in=keys)
    assert {template.key for template in templates} == keys
    context = {
        "user_name": "Olga",
        "document": {"title": "Rechnung <Stadtwerke>", "original_filename": "rechnung.pdf"},
        "document_url": "https://ablage.example.com/dokumente/1/",
        "reason": "Betrag unsicher",
        "error": "Datei beschädigt",
        "decision": "freigegeben",
        "reviewer_name": "Rita",
    }
    for template in templates:
        assert template.language == "de" and template.is_active
        sources = {"subject": template.subject_template, "html": template.html_template, "text": template.text_template}
        assert email_template_problems(sources=sources, variables=template.variables) == {}
        html = environment.from_string(template.html_template).render(**context)
        assert "Hallo Olga" in html
        assert "Rechnung &lt;Stadtwerke&gt;" in html  # document titles are escaped in HTML mail
        assert "Rechnung <Stadtwerke>" in plain_environment.from_string(template.subject_template).render(**context)
        assert "Hallo Olga" in plain_environment.from_string(template.text_template).render(**context)


@pytest.mark.django_db
def test_it_seeds_top_level_categories_with_their_slug_as_path():
    categories = {category.slug: category for category in Category.objects.filter(slug__in=SEEDED_SLUGS)}
    assert set(categories) == set(SEEDED_SLUGS)
    assert categories["vertraege"].name == "Verträge"
    for slug, category in categories.items():
        assert category.path == slug
        assert category.parent is None


def _run(function):
    function(apps, SimpleNamespace(connection=connection))


@pytest.mark.django_db
def test_it_reverses_only_what_it_seeded():
    custom_group = Group.objects.create(name="buchhaltung")
    SystemConfig.objects.create(key="custom.setting", value_type="int", value=1)
    projects = Category.objects.create(name="Projekte", slug="projekte", path="projekte")
    incoming = Category.objects.get(slug="eingangsrechnungen")
    energy = Category.objects.create(name="Energie", slug="energie", path="eingangsrechnungen/energie", parent=incoming)

    for function in (seed.unseed_categories, seed.unseed_email_templates, seed.unseed_config, seed.unseed_roles):
        _run(function)

    assert not Group.objects.filter(name__in=["admin", "reviewer", "clerk", "viewer"]).exists()
    assert not SystemConfig.objects.filter(key="ocr.render_dpi").exists()
    assert not EmailTemplate.objects.filter(key="review_required").exists()
    assert not Category.objects.filter(slug="sonstiges").exists()
    # What others created stays, including a seeded category that now holds a subcategory.
    assert Group.objects.filter(pk=custom_group.pk).exists()
    assert SystemConfig.objects.filter(key="custom.setting").exists()
    assert Category.objects.filter(pk__in=[projects.pk, incoming.pk, energy.pk]).count() == 3


@pytest.mark.django_db
def test_it_seeds_again_after_a_reverse_without_duplicates():
    for function in (seed.unseed_categories, seed.unseed_email_templates, seed.unseed_config, seed.unseed_roles):
        _run(function)
    for function in (seed.seed_roles, seed.seed_config, seed.seed_email_templates, seed.seed_categories):
        _run(function)
        _run(function)  # running twice must not duplicate anything
    assert Group.objects.filter(name="reviewer").count() == 1
    assert Group.objects.get(name="reviewer").permissions.filter(codename="review_document").exists()
    assert SystemConfig.objects.filter(key__in=[entry["key"] for entry in seed.CONFIG_DEFAULTS]).count() == len(
        seed.CONFIG_DEFAULTS
    )
    assert Category.objects.filter(slug__in=SEEDED_SLUGS).count() == len(SEEDED_SLUGS)
