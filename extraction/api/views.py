import uuid

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from ablage.errors import ApplicationError
from documents.selectors import visible_documents
from extraction import services
from extraction.api.serializers import (
    DraftRuleTestInputSerializer,
    RuleDetailOutputSerializer,
    RuleInputSerializer,
    RuleOutputSerializer,
    RuleRollbackInputSerializer,
    RuleTestInputSerializer,
    RuleTestOutputSerializer,
)
from extraction.models import ExtractionRule
from extraction.selectors import extraction_rules, rule_spec, rule_try_on_document


def _require(user, permission: str, message: str) -> None:
    if not user.has_perm(permission):
        raise PermissionDenied(message)


def _require_read(user) -> None:
    if not (user.has_perm("extraction.view_extractionrule") or user.has_perm("documents.review_document")):
        raise PermissionDenied("Keine Berechtigung, Extraktionsregeln zu sehen.")


def _get_rule_for_user(user, rule_id) -> ExtractionRule:
    _require_read(user)
    return get_object_or_404(extraction_rules(user).prefetch_related("versions"), id=rule_id)


def _document_for_user(user, document_id):
    # The one access path to documents: another owner's document is 404, not 403.
    return get_object_or_404(visible_documents(user), id=document_id)


class RuleListCreateApi(ListAPIView):
    serializer_class = RuleOutputSerializer

    def get_queryset(self):
        _require_read(self.request.user)
        rules = extraction_rules(self.request.user)
        params = self.request.query_params
        if params.get("field_name"):
            rules = rules.filter(field_name=params["field_name"])
        if params.get("supplier"):
            try:
                supplier_id = uuid.UUID(params["supplier"])
            except ValueError:
                raise ApplicationError(
                    "„supplier“ muss die ID eines Lieferanten sein.", code="invalid_filter"
                ) from None
            rules = rules.filter(supplier_id=supplier_id)
        if params.get("is_active") in ("true", "false"):
            rules = rules.filter(is_active=params["is_active"] == "true")
        return rules

    @extend_schema(request=RuleInputSerializer, responses={201: RuleDetailOutputSerializer})
    def post(self, request):
        _require(request.user, "extraction.add_extractionrule", "Keine Berechtigung, Regeln anzulegen.")
        serializer = RuleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        notes = values.pop("notes", "")
        rule = services.rule_save(rule=ExtractionRule(**values), user=request.user, notes=notes)
        return Response(RuleDetailOutputSerializer(rule).data, status=status.HTTP_201_CREATED)


class RuleDetailApi(APIView):
    @extend_schema(responses=RuleDetailOutputSerializer)
    def get(self, request, rule_id):
        return Response(RuleDetailOutputSerializer(_get_rule_for_user(request.user, rule_id)).data)

    @extend_schema(request=RuleInputSerializer, responses=RuleDetailOutputSerializer)
    def patch(self, request, rule_id):
        return self._update(request, rule_id, partial=True)

    @extend_schema(request=RuleInputSerializer, responses=RuleDetailOutputSerializer)
    def put(self, request, rule_id):
        return self._update(request, rule_id, partial=False)

    def _update(self, request, rule_id, *, partial: bool):
        rule = _get_rule_for_user(request.user, rule_id)
        _require(request.user, "extraction.change_extractionrule", "Keine Berechtigung, Regeln zu ändern.")
        serializer = RuleInputSerializer(data=request.data, partial=partial, context={"rule": rule})
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        notes = values.pop("notes", "")
        rule = services.rule_update(rule=rule, user=request.user, notes=notes, **values)
        rule = _get_rule_for_user(request.user, rule.id)
        return Response(RuleDetailOutputSerializer(rule).data)

    @extend_schema(responses={204: None})
    def delete(self, request, rule_id):
        rule = _get_rule_for_user(request.user, rule_id)
        _require(request.user, "extraction.delete_extractionrule", "Keine Berechtigung, Regeln zu löschen.")
        services.rule_delete(rule=rule, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RuleTestApi(APIView):
    """Dry run of a stored rule on a document the user can see: what it would extract, nothing saved."""

    @extend_schema(request=RuleTestInputSerializer, responses=RuleTestOutputSerializer)
    def post(self, request, rule_id):
        rule = _get_rule_for_user(request.user, rule_id)
        serializer = RuleTestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = _document_for_user(request.user, serializer.validated_data["document"])
        return Response(rule_try_on_document(spec=rule_spec(rule), document=document))


class DraftRuleTestApi(APIView):
    """Dry run of a rule not yet saved (same fields as creating one, plus ``document``)."""

    @extend_schema(
        request=DraftRuleTestInputSerializer,
        responses=RuleTestOutputSerializer,
        operation_id="extraction_rules_draft_test",
    )
    def post(self, request):
        _require(request.user, "extraction.add_extractionrule", "Keine Berechtigung, Regeln anzulegen.")
        serializer = DraftRuleTestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        document = _document_for_user(request.user, values.pop("document"))
        values.pop("notes", None)
        draft = ExtractionRule(**values)
        problems = services.rule_problems(draft)
        if problems:
            raise ApplicationError(" ".join(problems), code="invalid_rule")
        return Response(rule_try_on_document(spec=rule_spec(draft), document=document))


class RuleRollbackApi(APIView):
    """Put back an earlier version (default: the previous one) as a new version; see ``rule_rollback``."""

    @extend_schema(request=RuleRollbackInputSerializer, responses=RuleDetailOutputSerializer)
    def post(self, request, rule_id):
        rule = _get_rule_for_user(request.user, rule_id)
        _require(request.user, "extraction.change_extractionrule", "Keine Berechtigung, Regeln zu ändern.")
        serializer = RuleRollbackInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = services.rule_rollback(rule=rule, user=request.user, to_version=serializer.validated_data.get("version"))
        return Response(RuleDetailOutputSerializer(_get_rule_for_user(request.user, rule.id)).data)
