"""Supplier master data over REST: everyone signed in reads, administrators and reviewers write."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import APIKeyScopePermission
from suppliers import services
from suppliers.api.serializers import (
    BankAccountInputSerializer,
    BankAccountSerializer,
    ContactInputSerializer,
    ContactSerializer,
    DuplicateSerializer,
    ImportInputSerializer,
    ImportReportSerializer,
    MergeInputSerializer,
    SupplierDetailSerializer,
    SupplierInputSerializer,
    SupplierSerializer,
    TemplateDetailSerializer,
    TemplateInputSerializer,
    TemplateSerializer,
)
from suppliers.csv_exchange import supplier_export_csv, supplier_import_csv
from suppliers.models import Supplier
from suppliers.selectors import can_edit_suppliers, supplier_duplicates, supplier_list


class SupplierEditorOrReadOnly(BasePermission):
    message = "Nur Administratoren und Prüfer dürfen Lieferantenstammdaten ändern."

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or can_edit_suppliers(request.user)


# APIKeyScopePermission stays: a read-only key must not write master data (settings' defaults).
PERMISSIONS = [IsAuthenticated, APIKeyScopePermission, SupplierEditorOrReadOnly]


def _get_supplier(supplier_id) -> Supplier:
    return get_object_or_404(Supplier.objects.prefetch_related("tags"), id=supplier_id)


def _supplier_input(data) -> tuple[dict, list | None]:
    serializer = SupplierInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    values = dict(serializer.validated_data)
    return values, values.pop("tags", None)


class SupplierListCreateApi(ListAPIView):
    permission_classes = PERMISSIONS
    serializer_class = SupplierSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Suche in Namen, Nummer, USt-IdNr., IBAN, Ort"),
            OpenApiParameter("active", str, enum=["1", "0"]),
            OpenApiParameter("industry", str),
            OpenApiParameter("tag", str),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        return supplier_list(
            query=params.get("q", ""),
            active=params.get("active", ""),
            industry=params.get("industry", ""),
            tag=params.get("tag", ""),
        )

    @extend_schema(request=SupplierInputSerializer, responses={201: SupplierDetailSerializer})
    def post(self, request):
        data, tags = _supplier_input(request.data)
        supplier = services.supplier_create(user=request.user, data=data, tags=tags)
        return Response(SupplierDetailSerializer(supplier).data, status=status.HTTP_201_CREATED)


class SupplierDetailApi(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(responses=SupplierDetailSerializer)
    def get(self, request, supplier_id):
        return Response(SupplierDetailSerializer(_get_supplier(supplier_id)).data)

    @extend_schema(request=SupplierInputSerializer, responses=SupplierDetailSerializer)
    def patch(self, request, supplier_id):
        supplier = _get_supplier(supplier_id)
        data, tags = _supplier_input(request.data)
        supplier = services.supplier_update(supplier=supplier, user=request.user, data=data, tags=tags)
        return Response(SupplierDetailSerializer(supplier).data)


class SupplierMergeApi(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(
        request=MergeInputSerializer,
        responses=SupplierDetailSerializer,
        description="Übernimmt die Dublette `duplicate` in diesen Lieferanten (Dokumente, Ansprechpartner, "
        "Bankverbindungen, Vorlagen, Extraktionsregeln, Namen) und löscht sie.",
    )
    def post(self, request, supplier_id):
        supplier = _get_supplier(supplier_id)
        serializer = MergeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        duplicate = get_object_or_404(Supplier, id=serializer.validated_data["duplicate"])
        supplier = services.supplier_merge(source=duplicate, target=supplier, user=request.user)
        return Response(SupplierDetailSerializer(_get_supplier(supplier.id)).data)


class SupplierDuplicatesApi(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(responses=DuplicateSerializer(many=True))
    def get(self, request):
        return Response(DuplicateSerializer(supplier_duplicates(), many=True).data)


class SupplierExportApi(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY})
    def get(self, request):
        params = request.query_params
        suppliers = supplier_list(query=params.get("q", ""), active=params.get("active", ""))
        response = HttpResponse(supplier_export_csv(suppliers), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="lieferanten-{timezone.localdate().isoformat()}.csv"'
        return response


class SupplierImportApi(APIView):
    permission_classes = PERMISSIONS
    parser_classes = [MultiPartParser]

    @extend_schema(
        request=ImportInputSerializer,
        responses=ImportReportSerializer,
        description="CSV wie beim Export. Fehlerhafte Zeilen werden abgelehnt und im Bericht begründet, "
        "die übrigen übernommen (bei `dry_run` nur geprüft).",
    )
    def post(self, request):
        serializer = ImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dry_run = serializer.validated_data["dry_run"]
        report = supplier_import_csv(data=serializer.validated_data["file"].read(), user=request.user, dry_run=dry_run)
        return Response(ImportReportSerializer(report, context={"dry_run": dry_run}).data)


class ContactListApi(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(responses=ContactSerializer(many=True))
    def get(self, request, supplier_id):
        return Response(ContactSerializer(_get_supplier(supplier_id).contacts.all(), many=True).data)

    @extend_schema(request=ContactInputSerializer, responses={201: ContactSerializer})
    def post(self, request, supplier_id):
        supplier = _get_supplier(supplier_id)
        serializer = ContactInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact = services.supplier_contact_save(supplier=supplier, user=request.user, data=serializer.validated_data)
        return Response(ContactSerializer(contact).data, status=status.HTTP_201_CREATED)


class ContactDetailApi(APIView):
    permission_classes = PERMISSIONS

    def _contact(self, supplier_id, contact_id):
        supplier = _get_supplier(supplier_id)
        return supplier, get_object_or_404(supplier.contacts, id=contact_id)

    @extend_schema(responses=ContactSerializer)
    def get(self, request, supplier_id, contact_id):
        return Response(ContactSerializer(self._contact(supplier_id, contact_id)[1]).data)

    @extend_schema(request=ContactInputSerializer, responses=ContactSerializer)
    def patch(self, request, supplier_id, contact_id):
        supplier, contact = self._contact(supplier_id, contact_id)
        serializer = ContactInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact = services.supplier_contact_save(
            supplier=supplier, user=request.user, data=serializer.validated_data, contact=contact
        )
        return Response(ContactSerializer(contact).data)

    @extend_schema(responses={204: None})
    def delete(self, request, supplier_id, contact_id):
        services.supplier_contact_delete(contact=self._contact(supplier_id, contact_id)[1], user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BankAccountListApi(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(responses=BankAccountSerializer(many=True))
    def get(self, request, supplier_id):
        return Response(BankAccountSerializer(_get_supplier(supplier_id).bank_accounts.all(), many=True).data)

    @extend_schema(request=BankAccountInputSerializer, responses={201: BankAccountSerializer})
    def post(self, request, supplier_id):
        supplier = _get_supplier(supplier_id)
        serializer = BankAccountInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = services.supplier_bank_account_add(supplier=supplier, user=request.user, **serializer.validated_data)
        return Response(BankAccountSerializer(account).data, status=status.HTTP_201_CREATED)


class BankAccountDetailApi(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(responses={204: None})
    def delete(self, request, supplier_id, account_id):
        account = get_object_or_404(_get_supplier(supplier_id).bank_accounts, id=account_id)
        services.supplier_bank_account_delete(account=account, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplateListApi(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(responses=TemplateSerializer(many=True))
    def get(self, request, supplier_id):
        return Response(TemplateSerializer(_get_supplier(supplier_id).templates.all(), many=True).data)

    @extend_schema(request=TemplateInputSerializer, responses={201: TemplateDetailSerializer})
    def post(self, request, supplier_id):
        supplier = _get_supplier(supplier_id)
        serializer = TemplateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = {key: value for key, value in serializer.validated_data.items() if key != "note"}
        template = services.supplier_template_create(supplier=supplier, user=request.user, data=data)
        return Response(TemplateDetailSerializer(template).data, status=status.HTTP_201_CREATED)


class TemplateDetailApi(APIView):
    permission_classes = PERMISSIONS

    def _template(self, supplier_id, template_id):
        return get_object_or_404(_get_supplier(supplier_id).templates, id=template_id)

    @extend_schema(responses=TemplateDetailSerializer)
    def get(self, request, supplier_id, template_id):
        return Response(TemplateDetailSerializer(self._template(supplier_id, template_id)).data)

    @extend_schema(
        request=TemplateInputSerializer,
        responses=TemplateDetailSerializer,
        description="Jede echte Änderung erhöht `version` und legt eine Version ab; alte Versionen bleiben.",
    )
    def patch(self, request, supplier_id, template_id):
        template = self._template(supplier_id, template_id)
        serializer = TemplateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        note = data.pop("note", "")
        template = services.supplier_template_update(template=template, user=request.user, data=data, note=note)
        return Response(TemplateDetailSerializer(template).data)
