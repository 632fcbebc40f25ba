"""Operations endpoints: health for load balancers and orchestrators, metrics for Prometheus."""

import hmac
import ipaddress

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from documents.models import Document
from documents.selectors import visible_documents
from monitoring import charts, health, lifecycle, selectors
from monitoring.metrics import metrics_text, queue_depths
from monitoring.models import ErrorLog


@never_cache
@require_GET
def health_alive(request):
    """The process answers."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def health_live(request):
    """503 once the process has begun to shut down, so no new work is routed here."""
    if lifecycle.shutting_down():
        return JsonResponse({"status": "shutting_down"}, status=503)
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def health_ready(request):
    """Database, Redis (when configured), storage and a worker for every required queue."""
    probes = health.readiness_probes()
    ready = all(probe.ok for probe in probes) and not lifecycle.shutting_down()
    body = {
        "status": "ready" if ready else "not_ready",
        "checks": {probe.component: probe.as_json() for probe in probes},
    }
    if lifecycle.shutting_down():
        body["shutting_down"] = True
    return JsonResponse(body, status=200 if ready else 503)


def _metrics_allowed(request) -> bool:
    token = settings.ABLAGE_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False) for network in settings.ABLAGE_METRICS_ALLOWED_NETWORKS
    )


@never_cache
@require_GET
def metrics(request):
    if not _metrics_allowed(request):
        return HttpResponse(
            "Metriken nur mit Token (Authorization: Bearer …) oder aus freigegebenen Netzen.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(metrics_text(), content_type="text/plain; version=0.0.4; charset=utf-8")


@login_required
def dashboard(request):
    """Operations dashboard for admins and team leads, over the documents they may see."""
    from django.core.exceptions import PermissionDenied

    if not (request.user.is_superuser or request.user.has_perm("monitoring.view_systemmetric")):
        raise PermissionDenied
    documents = visible_documents(request.user).filter(deleted_at=None)
    status_names = dict(Document.Status.choices)
    per_day = selectors.documents_per_day(documents)
    day_labels = [day.strftime("%d.%m.") for day in per_day["days"]]
    times = selectors.processing_time_percentiles(documents)
    rates = selectors.review_and_straight_through(documents)
    distribution = selectors.confidence_distribution(documents)
    context = {
        "documents_chart": charts.stacked_bars(
            _("Dokumente pro Tag nach Status"), day_labels, per_day["series"], status_names
        ),
        "times_chart": charts.lines(
            _("Verarbeitungszeit pro Dokument (Sekunden)"),
            [day.strftime("%d.%m.") for day in times["days"]],
            {"p50": times["p50"], "p95": times["p95"]},
        ),
        "rates_chart": charts.lines(
            _("Prüfquote und Dunkelverarbeitung"),
            [day.strftime("%d.%m.") for day in rates["days"]],
            {_("Prüfquote"): rates["review_rate"], _("ohne Prüfung freigegeben"): rates["straight_through"]},
            y_max=1.0,
            y_format=lambda v: f"{v * 100:.0f} %",
        ),
        "confidence_chart": charts.stacked_bars(
            _("Verteilung der Konfidenz"),
            [f"{index * 10}–{index * 10 + 10} %" for index in range(len(distribution))],
            {"documents": distribution},
            {"documents": _("Dokumente")},
        ),
        "accuracy": selectors.accuracy_drift(documents),
        **_learning_context(),
        "queues": queue_depths(),
        "review_size": documents.filter(status=Document.Status.REVIEW).count(),
        "suppliers": selectors.top_suppliers(documents),
        "errors_open": ErrorLog.objects.filter(resolved_at=None).count() if request.user.is_superuser else None,
    }
    return render(request, "monitoring/dashboard.html", context)


def _percent(value: float | None) -> float | None:
    return None if value is None else value * 100


FIXED_SERIES = {"overall": _lazy("Felder, alle Lieferanten"), "document_type": _lazy("Dokumenttyp erkannt")}


def _learning_context() -> dict:
    """The extraction-accuracy chart (overall and the busiest suppliers) with its table fallback."""
    learning = selectors.extraction_accuracy()
    labels: dict[str, str] = {}
    for key in learning["series"]:
        label = FIXED_SERIES[key] if key in FIXED_SERIES else learning["names"][key]
        while label in labels.values():  # two suppliers of the same name keep a line each
            label += " *"
        labels[key] = label
    day_labels = [day.strftime("%d.%m.") for day in learning["days"]]
    series = {labels[key]: points for key, points in learning["series"].items()}
    has_points = any(value is not None for points in series.values() for value in points)
    return {
        "learning_chart": charts.lines(
            _("Genauigkeit der Extraktion pro Tag (geprüfte Felder)"),
            day_labels,
            series,
            y_max=1.0,
            y_format=lambda v: f"{v * 100:.0f} %",
            join_gaps=True,
        )
        if has_points
        else None,
        "learning_columns": list(series),
        "learning_days": [
            {"day": day, "values": [_percent(points[position]) for points in series.values()]}
            for position, day in enumerate(learning["days"])
            if any(points[position] is not None for points in series.values())
        ],
        "learning_suppliers": [
            {**row, **{key: _percent(row[key]) for key in ("accuracy", "recent", "before")}}
            for row in learning["suppliers"]
        ],
    }
