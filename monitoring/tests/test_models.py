import datetime

import pytest
from django.db import IntegrityError
from django.utils import timezone

from monitoring.models import BackendMetric, ErrorLog, HealthCheck, SystemMetric

FINGERPRINT = "a" * 64


def _error(**overrides):
    values = {"error_type": "OCRTimeout", "message": "Tesseract brauchte zu lange", "fingerprint": FINGERPRINT}
    return ErrorLog.objects.create(**{**values, **overrides})


@pytest.mark.django_db
def test_it_keeps_one_open_error_per_fingerprint():
    _error()
    with pytest.raises(IntegrityError):
        _error()


@pytest.mark.django_db
def test_it_opens_a_new_error_when_a_resolved_one_recurs(django_user_model):
    admin = django_user_model.objects.create_user("admin@example.com", "Passwort-12345")
    first = _error()
    ErrorLog.objects.filter(pk=first.pk).update(resolved_at=timezone.now(), resolved_by=admin)
    second = _error()
    assert second.pk != first.pk
    assert ErrorLog.objects.filter(fingerprint=FINGERPRINT).count() == 2


@pytest.mark.django_db
def test_it_refuses_a_resolver_without_a_resolution_time(django_user_model):
    admin = django_user_model.objects.create_user("admin@example.com", "Passwort-12345")
    with pytest.raises(IntegrityError):
        _error(resolved_by=admin)


@pytest.mark.django_db
def test_it_refuses_an_error_last_seen_before_it_was_first_seen():
    now = timezone.now()
    with pytest.raises(IntegrityError):
        _error(first_seen_at=now, last_seen_at=now - datetime.timedelta(seconds=1))


def _backend_metric(**overrides):
    values = {"backend": "tesseract", "metric_date": datetime.date(2025, 3, 1)}
    return BackendMetric.objects.create(**{**values, **overrides})


@pytest.mark.django_db
def test_it_refuses_an_hour_outside_the_day():
    with pytest.raises(IntegrityError):
        _backend_metric(hour_of_day=24)


@pytest.mark.django_db
def test_it_refuses_more_successes_and_failures_than_requests():
    with pytest.raises(IntegrityError):
        _backend_metric(total_requests=10, successful_requests=8, failed_requests=3)


@pytest.mark.django_db
def test_it_refuses_percentiles_out_of_order():
    with pytest.raises(IntegrityError):
        _backend_metric(p50_processing_ms=900, p95_processing_ms=800)


@pytest.mark.django_db
def test_it_keeps_one_daily_row_per_backend_and_date():
    _backend_metric()
    _backend_metric(hour_of_day=9)
    _backend_metric(backend="surya")
    with pytest.raises(IntegrityError):
        _backend_metric()


@pytest.mark.django_db
def test_it_keeps_one_hourly_row_per_backend_date_and_hour():
    _backend_metric(hour_of_day=9)
    with pytest.raises(IntegrityError):
        _backend_metric(hour_of_day=9)


def test_it_computes_the_success_rate_of_a_backend():
    assert BackendMetric(total_requests=4, successful_requests=3).success_rate == 0.75
    assert BackendMetric(total_requests=0).success_rate is None


@pytest.mark.django_db
def test_it_refuses_a_metric_whose_minimum_exceeds_its_maximum():
    with pytest.raises(IntegrityError):
        SystemMetric.objects.create(
            name="ocr.duration_ms", metric_type=SystemMetric.MetricType.HISTOGRAM, value=5, min_value=9, max_value=3
        )


@pytest.mark.django_db
def test_it_refuses_a_component_down_without_an_error_message():
    with pytest.raises(IntegrityError):
        HealthCheck.objects.create(component="database", status=HealthCheck.Status.DOWN)


@pytest.mark.django_db
def test_it_records_a_component_down_with_its_error_message():
    check = HealthCheck.objects.create(component="redis", status=HealthCheck.Status.DOWN, error_message="refused")
    assert str(check) == "redis: Ausgefallen"
