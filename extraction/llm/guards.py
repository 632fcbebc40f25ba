"""What stands between a document and the model: the team's budget, the circuit breaker, retries.

Budget and breaker live in the database so that every worker on every machine agrees on them
(the embedded SQLite install included, which has no Redis). Clocks and sleeps are injectable:
the tests drive the breaker through its states without waiting 30 seconds.
"""

import logging
import random
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from extraction.llm.config import BREAKER_COOLDOWN_SECONDS, BREAKER_FAILURES
from extraction.llm.transport import Completion, ModelOutputError, ModelRequestError, TransientModelError
from extraction.models import ModelBudget, ModelCircuit

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 20.0


class BudgetReached(Exception):
    """The team used up this month's calls or tokens."""

    def __init__(self, message: str, *, calls: int, tokens: int, calls_limit: int, tokens_limit: int):
        super().__init__(message)
        self.message = message
        self.calls, self.tokens, self.calls_limit, self.tokens_limit = calls, tokens, calls_limit, tokens_limit


class CircuitOpen(Exception):
    """The breaker is open (or another worker holds the half-open probe): no call goes out."""

    def __init__(self, message: str, *, retry_at: datetime | None = None):
        super().__init__(message)
        self.message = message
        self.retry_at = retry_at


# --- budget --------------------------------------------------------------------------------------


def budget_scope(document) -> tuple[str, object]:
    """Whose budget a document's calls count against: its team's, else its owner's own."""
    if document.team_id:
        return f"team:{document.team_id}", document.team_id
    return f"owner:{document.owner_id}", None


def month_start(today: date) -> date:
    return today.replace(day=1)


def budget_usage(*, scope: str, month: date) -> ModelBudget | None:
    return ModelBudget.objects.filter(scope=scope, month=month).first()


def budget_reserve(*, scope: str, team_id, month: date, calls_limit: int, tokens_limit: int) -> ModelBudget:
    """Count one call against the month's budget, or raise ``BudgetReached`` without counting it.

    The increment is a guarded update (``calls < limit and tokens < limit``): two workers racing for
    the last call cannot both get it.
    """
    try:
        with transaction.atomic():
            budget, _created = ModelBudget.objects.get_or_create(
                scope=scope, month=month, defaults={"team_id": team_id}
            )
    except IntegrityError:  # created by a parallel worker between our read and our insert
        budget = ModelBudget.objects.get(scope=scope, month=month)
    reserved = ModelBudget.objects.filter(id=budget.id, calls__lt=calls_limit, tokens__lt=tokens_limit).update(
        calls=F("calls") + 1
    )
    budget.refresh_from_db()
    if reserved != 1:
        raise BudgetReached(
            _(
                "Monatsbudget für Modellanfragen erreicht: %(calls)s von %(calls_limit)s Aufrufen, "
                "%(tokens)s von %(tokens_limit)s Tokens. Das Dokument wird wie gewohnt von Hand geprüft."
            )
            % {
                "calls": budget.calls,
                "calls_limit": calls_limit,
                "tokens": budget.tokens,
                "tokens_limit": tokens_limit,
            },
            calls=budget.calls,
            tokens=budget.tokens,
            calls_limit=calls_limit,
            tokens_limit=tokens_limit,
        )
    return budget


def budget_add_tokens(*, budget: ModelBudget, tokens: int) -> None:
    if tokens:
        ModelBudget.objects.filter(id=budget.id).update(tokens=F("tokens") + tokens)


# --- circuit breaker -----------------------------------------------------------------------------

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """Open after ``failures`` consecutive failures; after ``cooldown`` one probe call decides."""

    def __init__(
        self,
        name: str,
        *,
        failures: int = BREAKER_FAILURES,
        cooldown: timedelta = timedelta(seconds=BREAKER_COOLDOWN_SECONDS),
        probe_lease: timedelta = timedelta(seconds=120),
        clock: Callable[[], datetime] = timezone.now,
    ):
        self.name = name[:200]
        self.failures = failures
        self.cooldown = cooldown
        self.probe_lease = probe_lease
        self.clock = clock

    def _row(self) -> ModelCircuit:
        try:
            with transaction.atomic():
                return ModelCircuit.objects.get_or_create(name=self.name)[0]
        except IntegrityError:
            return ModelCircuit.objects.get(name=self.name)

    def state(self) -> str:
        row = ModelCircuit.objects.filter(name=self.name).first()
        if row is None or row.opened_at is None:
            return CLOSED
        return OPEN if self.clock() < row.opened_at + self.cooldown else HALF_OPEN

    def before_call(self) -> None:
        """Return if a call may go out now; raise ``CircuitOpen`` otherwise."""
        row = self._row()
        if row.opened_at is None:
            return
        now = self.clock()
        retry_at = row.opened_at + self.cooldown
        if now < retry_at:
            raise CircuitOpen(
                _("Das Modell hat %(count)s Mal in Folge nicht geantwortet und ist bis %(time)s gesperrt.")
                % {"count": row.consecutive_failures, "time": timezone.localtime(retry_at).strftime("%H:%M:%S")},
                retry_at=retry_at,
            )
        # Half-open: exactly one worker gets the probe; the lease frees it if that worker dies.
        claimed = (
            ModelCircuit.objects.filter(id=row.id, opened_at=row.opened_at)
            .filter(Q(probe_until__isnull=True) | Q(probe_until__lt=now))
            .update(probe_until=now + self.probe_lease)
        )
        if claimed != 1:
            raise CircuitOpen(_("Das Modell wird gerade mit einer Probeanfrage geprüft."), retry_at=retry_at)

    def record_success(self) -> None:
        ModelCircuit.objects.filter(name=self.name).update(consecutive_failures=0, opened_at=None, probe_until=None)

    def record_failure(self) -> None:
        with transaction.atomic():
            row = ModelCircuit.objects.select_for_update().get(id=self._row().id)
            row.consecutive_failures += 1
            if row.opened_at is not None or row.consecutive_failures >= self.failures:
                # A failed probe opens it again for a whole cool-down.
                row.opened_at = self.clock()
                row.probe_until = None
            row.save(update_fields=["consecutive_failures", "opened_at", "probe_until", "updated_at"])


# --- retries -------------------------------------------------------------------------------------


def backoff_seconds(attempt: int, *, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: up to 1 s, 2 s, 4 s ... (capped), never in lockstep."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return (rng or random).uniform(0, ceiling)


def call_with_guards(
    transport,
    messages: list,
    *,
    breaker: CircuitBreaker,
    max_attempts: int,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Completion, int]:
    """The completion and the number of attempts it took.

    Retries only ``TransientModelError``; every failed attempt counts for the breaker, and an
    attempt the breaker refuses ends the retries (``CircuitOpen``). ``ModelRequestError`` is
    raised at once. After the last attempt the last ``TransientModelError`` is raised.
    """
    for attempt in range(1, max_attempts + 1):
        breaker.before_call()
        try:
            completion = transport.complete(messages)
        except TransientModelError as exc:
            breaker.record_failure()
            logger.warning("Model call attempt %s/%s failed: %s", attempt, max_attempts, exc)
            if attempt == max_attempts:
                exc.attempts = attempt
                raise
            sleep(backoff_seconds(attempt))
            continue
        except ModelRequestError as exc:
            breaker.record_failure()
            exc.attempts = attempt
            raise
        except ModelOutputError as exc:
            # The server is up and answered; an unusable answer is no reason to cut it off.
            breaker.record_success()
            exc.attempts = attempt
            raise
        breaker.record_success()
        return completion, attempt
    raise AssertionError("unreachable: the loop returns or raises")
