import datetime
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

import system.selectors
from ablage.errors import ApplicationError
from monitoring.models import AuditLog
from system.models import FeatureFlag, SystemConfig, SystemParameter
from system.selectors import config_cache_invalidate, config_get, feature_enabled, parameter_get, rollout_bucket
from system.services import config_clean_value, config_save, config_set, parameter_purge_expired, parameter_set


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser("admin@example.com", "Passwort-12345")


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    config_cache_invalidate()
    yield
    config_cache_invalidate()


# --- config_get -------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_returns_seeded_values_in_their_declared_types():
    threshold = config_get("extraction.auto_approve_threshold")
    dpi = config_get("ocr.render_dpi")
    assert threshold == 0.85 and isinstance(threshold, float)
    assert dpi == 300 and isinstance(dpi, int)
    assert config_get("ocr.languages") == "deu+eng"


@pytest.mark.django_db
def test_it_reads_decimals_exactly_and_booleans_as_booleans(admin):
    config_save(key="billing.vat_rate", value_type="decimal", value="0.19", user=admin)
    config_save(key="ocr.deskew", value_type="bool", value=True, user=admin)
    assert config_get("billing.vat_rate") == Decimal("0.19")
    assert config_get("ocr.deskew") is True


@pytest.mark.django_db
def test_it_hands_out_copies_of_json_values(admin):
    config_save(key="ocr.backends", value_type="json", value={"order": ["tesseract"]}, user=admin)
    first = config_get("ocr.backends")
    first["order"].append("surya")
    assert config_get("ocr.backends") == {"order": ["tesseract"]}


@pytest.mark.django_db
def test_it_returns_the_default_for_an_unknown_key():
    assert config_get("does.not.exist", default=7) == 7
    assert config_get("does.not.exist", default=None) is None


@pytest.mark.django_db
def test_it_refuses_an_unknown_key_without_a_default():
    with pytest.raises(ApplicationError) as excinfo:
        config_get("does.not.exist")
    assert excinfo.value.code == "config_unknown_key"
    assert "does.not.exist" in excinfo.value.message


# --- config_set -------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_stores_a_valid_value_and_records_who_changed_it(admin):
    config_set(key="ocr.render_dpi", value=400, user=admin)
    row = SystemConfig.objects.get(key="ocr.render_dpi")
    assert row.value == 400
    assert row.updated_by == admin
    assert config_get("ocr.render_dpi") == 400
    entry = AuditLog.objects.get(action="config.set", object_id=str(row.pk))
    assert entry.actor == admin
    assert entry.changes == {"value": {"old": 300, "new": 400}}


@pytest.mark.django_db
def test_it_accepts_numbers_typed_the_german_way(admin):
    config_set(key="extraction.auto_approve_threshold", value="0,9", user=admin)
    assert config_get("extraction.auto_approve_threshold") == 0.9


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "value", "code", "words"),
    [
        ("ocr.render_dpi", "abc", "config_invalid_type", "Ganzzahl"),
        ("ocr.render_dpi", True, "config_invalid_type", "Ganzzahl"),
        ("ocr.render_dpi", 300.5, "config_invalid_type", "Ganzzahl"),
        ("ocr.render_dpi", 601, "config_out_of_range", "höchstens 600"),
        ("ocr.render_dpi", 71, "config_out_of_range", "mindestens 72"),
        ("extraction.auto_approve_threshold", 1.5, "config_out_of_range", "höchstens 1.0"),
        ("extraction.auto_approve_threshold", float("nan"), "config_invalid_type", "endliche Zahl"),
        ("ocr.languages", "deu eng", "config_pattern_mismatch", "Format"),
        ("ocr.languages", 42, "config_invalid_type", "Text"),
        ("notifications.digest_hour", None, "config_missing_value", "braucht einen Wert"),
    ],
)
def test_it_refuses_bad_values_with_a_german_message(admin, key, value, code, words):
    with pytest.raises(ApplicationError) as excinfo:
        config_set(key=key, value=value, user=admin)
    assert excinfo.value.code == code
    assert words in excinfo.value.message
    assert key in excinfo.value.message
    assert SystemConfig.objects.get(key=key).updated_by is None


@pytest.mark.django_db
def test_it_refuses_a_value_outside_the_allowed_choices(admin):
    config_save(
        key="ocr.engine",
        value_type="string",
        value="tesseract",
        validation_rules={"choices": ["tesseract", "surya"]},
        user=admin,
    )
    with pytest.raises(ApplicationError) as excinfo:
        config_set(key="ocr.engine", value="abbyy", user=admin)
    assert excinfo.value.code == "config_not_in_choices"
    assert "tesseract, surya" in excinfo.value.message


@pytest.mark.django_db
def test_it_refuses_to_set_an_unknown_key(admin):
    with pytest.raises(ApplicationError) as excinfo:
        config_set(key="ocr.unknown", value=1, user=admin)
    assert excinfo.value.code == "config_unknown_key"
    assert not SystemConfig.objects.filter(key="ocr.unknown").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value_type", "rules"),
    [
        ("string", {"min": 1}),
        ("int", {"min": 10, "max": 1}),
        ("int", {"maximum": 3}),
        ("string", {"regex": "(unclosed"}),
        ("bool", {"choices": [True]}),
        ("int", {"min": "viel"}),
    ],
)
def test_it_refuses_rules_that_do_not_fit_the_type(admin, value_type, rules):
    with pytest.raises(ApplicationError) as excinfo:
        config_save(key="x.y", value_type=value_type, value="1", validation_rules=rules, user=admin)
    assert excinfo.value.code in {"config_invalid_rules", "config_invalid_type"}


@pytest.mark.django_db
def test_it_refuses_to_change_the_type_of_an_existing_key(admin):
    with pytest.raises(ApplicationError) as excinfo:
        config_save(key="ocr.render_dpi", value_type="string", value="300", user=admin)
    assert excinfo.value.code == "config_type_change"


def test_it_compares_decimal_bounds_exactly():
    rules = {"min": "0.10", "max": "0.30"}
    assert config_clean_value(value_type="decimal", value="0.30", rules=rules) == Decimal("0.30")
    with pytest.raises(ApplicationError):
        config_clean_value(value_type="decimal", value="0.3000001", rules=rules)


@pytest.mark.django_db
def test_it_masks_secret_values_in_the_audit_log(admin):
    config_save(key="mail.smtp_password", value_type="string", value="geheim-1", is_secret=True, user=admin)
    config_set(key="mail.smtp_password", value="geheim-2", user=admin)
    changes = [entry.changes for entry in AuditLog.objects.filter(object_type="system.systemconfig")]
    assert changes
    assert "geheim" not in repr(changes)


@pytest.mark.django_db
def test_it_does_not_cache_reads_made_inside_a_transaction():
    # Every django_db test runs inside a transaction, like a service decorated with atomic.
    assert config_get("ocr.render_dpi") == 300
    SystemConfig.objects.filter(key="ocr.render_dpi").update(value=150)
    assert config_get("ocr.render_dpi") == 150


@pytest.mark.django_db
def test_it_caches_reads_and_drops_the_cache_on_change(admin, monkeypatch):
    # Outside a transaction (a plain request) reads are cached; the test runs inside one,
    # so it declares itself outside instead of flushing the database with transaction=True.
    monkeypatch.setattr(system.selectors, "_cacheable", lambda: True)
    assert config_get("ocr.render_dpi") == 300
    # A write that bypasses the service is invisible until the cache entry runs out ...
    SystemConfig.objects.filter(key="ocr.render_dpi").update(value=150)
    assert config_get("ocr.render_dpi") == 300
    # ... while the service invalidates it, so the change is visible at once.
    config_set(key="ocr.render_dpi", value=200, user=admin)
    assert config_get("ocr.render_dpi") == 200


# --- feature flags ----------------------------------------------------------------------


def _users(django_user_model, count):
    return django_user_model.objects.bulk_create(
        [
            django_user_model(email=f"user{index}@example.com", id=uuid.uuid5(uuid.NAMESPACE_DNS, f"user{index}"))
            for index in range(count)
        ]
    )


@pytest.mark.django_db
def test_it_gives_the_same_user_the_same_answer_every_time(django_user_model):
    FeatureFlag.objects.create(key="review.new_layout", enabled=True, rollout_percentage=50)
    for user in _users(django_user_model, 20):
        answers = {feature_enabled("review.new_layout", user=user) for _ in range(3)}
        assert len(answers) == 1
        assert answers == {rollout_bucket("review.new_layout", user.pk) < 50}


@pytest.mark.django_db
def test_it_rolls_out_to_roughly_the_configured_share(django_user_model):
    FeatureFlag.objects.create(key="review.new_layout", enabled=True, rollout_percentage=30)
    users = _users(django_user_model, 400)
    share = sum(feature_enabled("review.new_layout", user=user) for user in users) / len(users)
    assert 0.24 <= share <= 0.36


def test_it_spreads_rollout_buckets_evenly():
    ids = [uuid.uuid5(uuid.NAMESPACE_URL, str(index)) for index in range(10_000)]
    for percentage in (10, 50, 90):
        share = sum(rollout_bucket("flag", user_id) < percentage for user_id in ids) / len(ids)
        assert abs(share - percentage / 100) < 0.02


def test_it_picks_different_users_for_different_flags():
    ids = [uuid.uuid5(uuid.NAMESPACE_URL, str(index)) for index in range(1000)]
    first = {user_id for user_id in ids if rollout_bucket("flag.a", user_id) < 50}
    second = {user_id for user_id in ids if rollout_bucket("flag.b", user_id) < 50}
    assert first != second


@pytest.mark.django_db
def test_it_switches_off_for_everyone_when_disabled_or_unknown(django_user_model):
    FeatureFlag.objects.create(key="review.new_layout", enabled=False, rollout_percentage=100)
    user = _users(django_user_model, 1)[0]
    assert not feature_enabled("review.new_layout", user=user)
    assert not feature_enabled("does.not.exist", user=user)


@pytest.mark.django_db
def test_it_honours_zero_and_full_rollout(django_user_model):
    FeatureFlag.objects.create(key="flag.none", enabled=True, rollout_percentage=0)
    FeatureFlag.objects.create(key="flag.all", enabled=True, rollout_percentage=100)
    users = _users(django_user_model, 50)
    assert not any(feature_enabled("flag.none", user=user) for user in users)
    assert all(feature_enabled("flag.all", user=user) for user in users)
    assert feature_enabled("flag.all")
    assert not feature_enabled("flag.none")


@pytest.mark.django_db
def test_it_limits_a_flag_to_the_named_groups(django_user_model):
    FeatureFlag.objects.create(
        key="review.bulk", enabled=True, rollout_percentage=100, conditions={"groups": ["reviewer"]}
    )
    member, other = _users(django_user_model, 2)
    member.groups.add(Group.objects.get(name="reviewer"))
    assert feature_enabled("review.bulk", user=member)
    assert not feature_enabled("review.bulk", user=other)
    assert not feature_enabled("review.bulk")


@pytest.mark.django_db
def test_it_always_lets_listed_users_in(django_user_model):
    FeatureFlag.objects.create(
        key="review.bulk", enabled=True, rollout_percentage=0, conditions={"users": ["USER1@example.com"]}
    )
    user0, user1 = _users(django_user_model, 2)
    assert feature_enabled("review.bulk", user=user1)
    assert not feature_enabled("review.bulk", user=user0)


# --- parameters -------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_treats_expired_parameters_as_absent():
    SystemParameter.objects.create(
        key="sync.token", value="alt", expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    SystemParameter.objects.create(
        key="sync.cursor", value="42", expires_at=timezone.now() + datetime.timedelta(hours=1)
    )
    SystemParameter.objects.create(key="sync.last_run", value="2025-03-01")
    assert parameter_get("sync.token") is None
    assert parameter_get("sync.token", default="neu") == "neu"
    assert parameter_get("sync.cursor") == "42"
    assert parameter_get("sync.last_run") == "2025-03-01"


@pytest.mark.django_db
def test_it_replaces_a_parameter_and_purges_expired_ones():
    SystemParameter.objects.create(
        key="sync.token", value="alt", expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    SystemParameter.objects.create(key="sync.old", value="x", expires_at=timezone.now() - datetime.timedelta(days=1))
    parameter_set(key="sync.token", value="neu", expires_at=timezone.now() + datetime.timedelta(minutes=5))
    assert parameter_get("sync.token") == "neu"
    assert parameter_purge_expired() == 1
    assert not SystemParameter.objects.filter(key="sync.old").exists()


@pytest.mark.django_db
def test_it_refuses_a_parameter_that_is_already_expired():
    with pytest.raises(ApplicationError):
        parameter_set(key="sync.token", value="x", expires_at=timezone.now() - datetime.timedelta(minutes=1))
