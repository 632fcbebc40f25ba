"""Budget and circuit breaker of model-assisted extraction, with a controlled clock and a scripted server."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import Team
from extraction.llm.guards import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpen
from extraction.llm.services import budget_state, model_run_execute, model_run_request
from extraction.models import ModelBudget, ModelRun
from extraction.tests.model_server import Reply, invoice_document
from system.selectors import config_cache_invalidate
from system.services import config_set

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


class Clock:
    def __init__(self):
        self.now = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)

    def __call__(self):
        return self.now

    def advance(self, seconds: float):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def single_attempt(settings):
    settings.ABLAGE_MODEL_MAX_ATTEMPTS = 1


def _breaker(clock, configured_model=None):
    from extraction.llm.config import model_settings

    return CircuitBreaker(model_settings().breaker_name, clock=clock)


def _ask(document, breaker):
    run = ModelRun.objects.create(document=document, trigger=ModelRun.Trigger.ON_DEMAND, team_id=document.team_id)
    return model_run_execute(run_id=run.id, breaker=breaker, sleep=lambda seconds: None)


def _set(key, value):
    config_set(key=key, value=value, user=None)
    config_cache_invalidate()


# --- circuit breaker -----------------------------------------------------------------------------


def test_it_opens_after_five_consecutive_failures_and_sends_nothing_while_open(
    owner, configured_model, single_attempt, clock
):
    configured_model.script = [Reply(status=500)]
    document = invoice_document(owner)
    breaker = _breaker(clock)

    for _ in range(4):
        assert _ask(document, breaker).status == ModelRun.Status.FAILED
        assert breaker.state() == CLOSED
    assert _ask(document, breaker).status == ModelRun.Status.FAILED
    assert breaker.state() == OPEN

    refused = _ask(document, breaker)
    assert refused.status == ModelRun.Status.CIRCUIT_OPEN
    assert "5 Mal in Folge" in refused.message
    assert len(configured_model.requests) == 5
    assert ModelBudget.objects.get().calls == 5  # the refused run used no budget

    clock.advance(29)
    assert _ask(document, breaker).status == ModelRun.Status.CIRCUIT_OPEN
    assert len(configured_model.requests) == 5


def test_it_lets_one_probe_through_after_thirty_seconds_and_closes_on_success(
    owner, configured_model, single_attempt, clock
):
    configured_model.script = [Reply(status=500)] * 5 + [Reply()]
    document = invoice_document(owner)
    breaker = _breaker(clock)
    for _ in range(5):
        _ask(document, breaker)

    clock.advance(30)
    assert breaker.state() == HALF_OPEN
    run = _ask(document, breaker)

    assert run.status == ModelRun.Status.SUCCEEDED
    assert breaker.state() == CLOSED
    assert len(configured_model.requests) == 6


def test_a_failed_probe_opens_it_for_another_thirty_seconds(owner, configured_model, single_attempt, clock):
    configured_model.script = [Reply(status=500)]
    document = invoice_document(owner)
    breaker = _breaker(clock)
    for _ in range(5):
        _ask(document, breaker)

    clock.advance(31)
    assert _ask(document, breaker).status == ModelRun.Status.FAILED  # the probe
    assert breaker.state() == OPEN
    clock.advance(29)
    assert _ask(document, breaker).status == ModelRun.Status.CIRCUIT_OPEN
    assert len(configured_model.requests) == 6
    clock.advance(2)
    assert breaker.state() == HALF_OPEN


def test_only_one_worker_gets_the_half_open_probe(configured_model, clock):
    first, second = _breaker(clock), _breaker(clock)  # two workers, one row in the database
    for _ in range(5):
        first.record_failure()
    assert second.state() == OPEN

    clock.advance(30)
    first.before_call()  # claims the probe
    with pytest.raises(CircuitOpen, match="Probeanfrage"):
        second.before_call()
    first.record_success()
    second.before_call()
    assert second.state() == CLOSED


def test_a_probe_whose_worker_died_is_given_to_another_after_its_lease(configured_model, clock):
    first, second = _breaker(clock), _breaker(clock)
    for _ in range(5):
        first.record_failure()
    clock.advance(30)
    first.before_call()

    clock.advance(121)
    second.before_call()


def test_a_success_resets_the_count_of_failures(configured_model, clock):
    breaker = _breaker(clock)
    for _ in range(4):
        breaker.record_failure()
    breaker.record_success()
    for _ in range(4):
        breaker.record_failure()
    assert breaker.state() == CLOSED


# --- budget --------------------------------------------------------------------------------------


def test_it_stops_at_the_monthly_call_budget_with_a_clear_state(owner, configured_model, clock):
    _set("extraction.model.monthly_calls", 2)
    documents = [invoice_document(owner, title=f"R{n}", lines=[f"Rechnung Nr. RE-{n}"]) for n in range(3)]
    breaker = _breaker(clock)

    assert [_ask(document, breaker).status for document in documents[:2]] == [ModelRun.Status.SUCCEEDED] * 2
    refused = _ask(documents[2], breaker)

    assert refused.status == ModelRun.Status.BUDGET_REACHED
    assert "Monatsbudget für Modellanfragen erreicht: 2 von 2 Aufrufen" in refused.message
    assert len(configured_model.requests) == 2
    state = budget_state(documents[2])
    assert state["reached"] and state["calls"] == 2 and state["tokens"] == 320
    with pytest.raises(Exception, match="Monatsbudget") as refusal:
        model_run_request(document=documents[2], trigger=ModelRun.Trigger.ON_DEMAND)
    assert refusal.value.code == "model_budget_reached"


def test_it_stops_at_the_monthly_token_budget(owner, configured_model, clock):
    _set("extraction.model.monthly_tokens", 100)
    configured_model.script = [Reply(prompt_tokens=90, completion_tokens=30)]
    first = invoice_document(owner, title="R1", lines=["Rechnung Nr. RE-1"])
    second = invoice_document(owner, title="R2", lines=["Rechnung Nr. RE-2"])

    assert _ask(first, _breaker(clock)).status == ModelRun.Status.SUCCEEDED
    refused = _ask(second, _breaker(clock))

    assert refused.status == ModelRun.Status.BUDGET_REACHED
    assert "120 von 100 Tokens" in refused.message


def test_each_team_has_its_own_budget(owner, configured_model, clock):
    _set("extraction.model.monthly_calls", 1)
    buchhaltung, einkauf = Team.objects.create(name="Buchhaltung"), Team.objects.create(name="Einkauf")
    first = invoice_document(owner, team=buchhaltung, title="R1", lines=["Rechnung Nr. RE-1"])
    second = invoice_document(owner, team=buchhaltung, title="R2", lines=["Rechnung Nr. RE-2"])
    other = invoice_document(owner, team=einkauf, title="R3", lines=["Rechnung Nr. RE-3"])

    assert _ask(first, _breaker(clock)).status == ModelRun.Status.SUCCEEDED
    assert _ask(second, _breaker(clock)).status == ModelRun.Status.BUDGET_REACHED
    assert _ask(other, _breaker(clock)).status == ModelRun.Status.SUCCEEDED
    assert ModelBudget.objects.get(team=buchhaltung).calls == 1
