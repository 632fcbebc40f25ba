from django.urls import path

from extraction.api import views

urlpatterns = [
    path("extraction-rules/", views.RuleListCreateApi.as_view(), name="extraction-rule-list"),
    path("extraction-rules/test/", views.DraftRuleTestApi.as_view(), name="extraction-rule-draft-test"),
    path("extraction-rules/<uuid:rule_id>/", views.RuleDetailApi.as_view(), name="extraction-rule-detail"),
    path("extraction-rules/<uuid:rule_id>/test/", views.RuleTestApi.as_view(), name="extraction-rule-test"),
    path("extraction-rules/<uuid:rule_id>/rollback/", views.RuleRollbackApi.as_view(), name="extraction-rule-rollback"),
]
