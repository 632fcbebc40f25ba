"""The SystemConfig admin validates like ``config_set`` and keeps secrets out of the page."""

import pytest
from django.urls import reverse

from monitoring.models import AuditLog
from system.models import FeatureFlag, SystemConfig
from system.selectors import config_cache_invalidate, config_get


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    config_cache_invalidate()
    yield
    config_cache_invalidate()


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("chef@example.com", "Passwort-12345")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _change_url(config):
    return reverse("admin:system_systemconfig_change", args=[config.pk])


def _form(config, raw_value, **overrides):
    return {
        "raw_value": raw_value,
        "category": config.category,
        "description": config.description,
        "validation_rules": '{"min": 72, "max": 600}',
        **overrides,
    }


@pytest.mark.django_db
def test_it_shows_the_current_value_in_the_form(admin_client):
    config = SystemConfig.objects.get(key="ocr.render_dpi")
    response = admin_client.get(_change_url(config))
    assert response.status_code == 200
    assert response.context["adminform"].form.initial["raw_value"] == "300"


@pytest.mark.django_db
def test_it_saves_a_valid_value_through_the_service(admin_client, superuser):
    config = SystemConfig.objects.get(key="ocr.render_dpi")
    response = admin_client.post(_change_url(config), _form(config, "450"))
    assert response.status_code == 302
    config.refresh_from_db()
    assert config.value == 450
    assert config.updated_by == superuser
    assert config_get("ocr.render_dpi") == 450
    assert AuditLog.objects.filter(action="config.update", object_id=str(config.pk)).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("raw", "message"), [("9000", "höchstens 600"), ("dreihundert", "Ganzzahl")])
def test_it_shows_a_german_form_error_for_a_bad_value(admin_client, raw, message):
    config = SystemConfig.objects.get(key="ocr.render_dpi")
    response = admin_client.post(_change_url(config), _form(config, raw))
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors["raw_value"])
    config.refresh_from_db()
    assert config.value == 300


@pytest.mark.django_db
def test_it_shows_a_form_error_for_rules_that_do_not_fit(admin_client):
    config = SystemConfig.objects.get(key="ocr.render_dpi")
    response = admin_client.post(_change_url(config), _form(config, "300", validation_rules='{"regex": "x"}'))
    assert response.status_code == 200
    assert "validation_rules" in response.context["adminform"].form.errors


@pytest.mark.django_db
def test_it_creates_a_json_setting_from_the_add_form(admin_client):
    response = admin_client.post(
        reverse("admin:system_systemconfig_add"),
        {
            "key": "ocr.backends",
            "value_type": "json",
            "raw_value": '{"order": ["tesseract"]}',
            "validation_rules": "{}",
        },
    )
    assert response.status_code == 302
    assert config_get("ocr.backends") == {"order": ["tesseract"]}


@pytest.mark.django_db
def test_it_refuses_invalid_json_in_the_add_form(admin_client):
    response = admin_client.post(
        reverse("admin:system_systemconfig_add"),
        {"key": "ocr.backends", "value_type": "json", "raw_value": "{order: tesseract}", "validation_rules": "{}"},
    )
    assert response.status_code == 200
    assert "Kein gültiges JSON" in str(response.context["adminform"].form.errors["raw_value"])
    assert not SystemConfig.objects.filter(key="ocr.backends").exists()


@pytest.mark.django_db
def test_it_never_puts_a_secret_value_into_the_page_and_keeps_it_when_left_empty(admin_client):
    admin_client.post(
        reverse("admin:system_systemconfig_add"),
        {
            "key": "mail.smtp_password",
            "value_type": "string",
            "raw_value": "streng-geheim",
            "is_secret": "on",
            "validation_rules": "{}",
        },
    )
    config = SystemConfig.objects.get(key="mail.smtp_password")
    assert "streng-geheim" not in admin_client.get(_change_url(config)).content.decode()
    assert "streng-geheim" not in admin_client.get(reverse("admin:system_systemconfig_changelist")).content.decode()
    response = admin_client.post(
        _change_url(config), {"raw_value": "", "is_secret": "on", "description": "SMTP", "validation_rules": "{}"}
    )
    assert response.status_code == 302
    assert config_get("mail.smtp_password") == "streng-geheim"


@pytest.mark.django_db
def test_it_validates_feature_flag_conditions_in_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:system_featureflag_add"),
        {"key": "review.bulk", "enabled": "on", "rollout_percentage": "50", "conditions": '{"land": ["DE"]}'},
    )
    assert response.status_code == 200
    assert not FeatureFlag.objects.filter(key="review.bulk").exists()
