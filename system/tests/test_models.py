import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from system.models import FeatureFlag, ScheduledTask, SystemConfig, SystemParameter


@pytest.mark.django_db
@pytest.mark.parametrize("percentage", [101, 250])
def test_it_refuses_a_rollout_above_one_hundred_percent(percentage):
    with pytest.raises(IntegrityError):
        FeatureFlag.objects.create(key="review.new_layout", rollout_percentage=percentage)


@pytest.mark.django_db
def test_it_refuses_unknown_feature_flag_conditions():
    flag = FeatureFlag(key="review.new_layout", conditions={"country": ["DE"]})
    with pytest.raises(ValidationError) as excinfo:
        flag.full_clean()
    assert "country" in str(excinfo.value.message_dict["conditions"])


@pytest.mark.django_db
def test_it_refuses_feature_flag_groups_that_are_not_a_list():
    flag = FeatureFlag(key="review.new_layout", conditions={"groups": "reviewer"})
    with pytest.raises(ValidationError):
        flag.full_clean()


@pytest.mark.django_db
def test_it_refuses_an_unknown_config_value_type():
    with pytest.raises(IntegrityError):
        SystemConfig.objects.create(key="ocr.mode", value_type="enum", value="fast")


@pytest.mark.django_db
def test_it_refuses_a_config_key_outside_the_dotted_lowercase_format():
    with pytest.raises(IntegrityError):
        SystemConfig.objects.create(key="OCR Mode", value_type="string", value="fast")


@pytest.mark.django_db
def test_it_refuses_a_half_open_execution_window():
    with pytest.raises(IntegrityError):
        ScheduledTask.objects.create(
            name="Aufräumen", task="documents.tasks.purge", cron_expression="0 3 * * *", window_start=datetime.time(1)
        )


@pytest.mark.django_db
def test_it_refuses_a_scheduled_task_that_is_not_a_dotted_path():
    with pytest.raises(IntegrityError):
        ScheduledTask.objects.create(name="Aufräumen", task="purge everything", cron_expression="0 3 * * *")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [("cron_expression", "61 * * * *"), ("cron_expression", "jeden Tag"), ("timezone", "Europe/Atlantis")],
)
def test_it_rejects_an_invalid_schedule_in_validation(field, value):
    task = ScheduledTask(name="Aufräumen", task="documents.tasks.purge", cron_expression="0 3 * * *")
    setattr(task, field, value)
    with pytest.raises(ValidationError) as excinfo:
        task.full_clean()
    assert field in excinfo.value.message_dict


def test_it_knows_whether_a_time_is_inside_a_window_over_midnight():
    task = ScheduledTask(window_start=datetime.time(22), window_end=datetime.time(4))
    assert task.in_window(datetime.time(23))
    assert task.in_window(datetime.time(3, 59))
    assert not task.in_window(datetime.time(12))
    assert ScheduledTask().in_window(datetime.time(12))


@pytest.mark.django_db
def test_it_keeps_system_parameter_keys_unique():
    SystemParameter.objects.create(key="sync.last_run", value="2025-01-01")
    with pytest.raises(IntegrityError):
        SystemParameter.objects.create(key="sync.last_run", value="2025-01-02")
