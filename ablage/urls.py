from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from documents.exports.views import export_page

api_v1 = [
    path("", include("documents.api.urls")),
    path("", include("extraction.api.urls")),
    path("", include("workflows.api.urls")),
    path("", include("documents.exports.urls_api")),
    path("", include("suppliers.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("system.api.urls")),
    path("", include("monitoring.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script as a file, which the CSP (ablage.csp) allows.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-v1:schema"), name="docs"),
]

urlpatterns = [
    path("", include("monitoring.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api-v1"))),
    path("konto/", include("accounts.urls")),
    path("lieferanten/", include("suppliers.urls")),
    path("workflows/", include("workflows.urls")),
    path("einstellungen/", include("system.urls")),
    path("export/", export_page, name="export"),
    path("benachrichtigungen/", include("notifications.urls")),
    path("modell/", include("extraction.urls")),
    path("", include("documents.urls")),
]

admin.site.site_header = "Ablage – Verwaltung"
admin.site.site_title = "Ablage"
