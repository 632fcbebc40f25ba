"""Supplier screens: list, detail with the user's documents, edit forms, templates,
duplicates and merge, CSV import and export. Everyone signed in reads; administrators and
reviewers write (``can_edit_suppliers``). Documents appear only through ``visible_documents``.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ablage.errors import ApplicationError
from documents.selectors import reviewable_documents, visible_documents
from suppliers import services
from suppliers.csv_exchange import supplier_export_csv, supplier_import_csv
from suppliers.forms import BankAccountForm, ContactForm, ImportForm, MergeForm, SupplierForm, TemplateForm
from suppliers.models import Supplier
from suppliers.selectors import (
    can_edit_suppliers,
    supplier_chart,
    supplier_duplicates,
    supplier_industries,
    supplier_list,
    supplier_statistics,
)


def _get_supplier(supplier_id) -> Supplier:
    return get_object_or_404(Supplier.objects.prefetch_related("tags"), id=supplier_id)


def _require_editor(user) -> None:
    if not can_edit_suppliers(user):
        raise PermissionDenied


def _form_errors(form, refusal: ApplicationError) -> None:
    """Put a service's refusal on the form: on the named fields where it says which, else on top."""
    fields = refusal.extra.get("fields") or {}
    placed = False
    for name, errors in fields.items():
        if name in form.fields:
            form.add_error(name, errors)
            placed = True
    if not placed:
        form.add_error(None, refusal.message)


@login_required
@require_GET
def supplier_list_page(request):
    query = request.GET.get("q", "").strip()
    active = request.GET.get("active", "")
    industry = request.GET.get("industry", "")
    tag = request.GET.get("tag", "")
    page = Paginator(supplier_list(query=query, active=active, industry=industry, tag=tag), 50).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "query": query,
        "active": active,
        "industry": industry,
        "tag": tag,
        "industries": supplier_industries(),
        "can_edit": can_edit_suppliers(request.user),
    }
    if request.htmx and request.GET.get("partial") == "table":
        return render(request, "suppliers/partials/table.html", context)
    return render(request, "suppliers/list.html", context)


@login_required
@require_GET
def supplier_detail(request, supplier_id):
    supplier = Supplier.all_objects.filter(id=supplier_id).select_related("merged_into").first()
    if supplier is None:
        raise Http404
    if supplier.deleted_at is not None:
        if supplier.merged_into is not None and supplier.merged_into.deleted_at is None:
            messages.info(
                request,
                _("„%(name)s“ wurde mit „%(target)s“ zusammengeführt.")
                % {"name": supplier.name, "target": supplier.merged_into.name},
            )
            return redirect("suppliers:detail", supplier_id=supplier.merged_into_id)
        raise Http404
    return render(request, "suppliers/detail.html", _detail_context(request, supplier))


def _detail_context(request, supplier: Supplier, **forms) -> dict:
    documents = visible_documents(request.user)
    statistics = supplier_statistics(supplier=supplier, documents=documents)
    can_edit = can_edit_suppliers(request.user)
    return {
        "supplier": supplier,
        "contacts": supplier.contacts.all(),
        "bank_accounts": supplier.bank_accounts.all(),
        "templates": supplier.templates.all(),
        "learning_events": supplier.learning_events.select_related("user", "document")[:20],
        "documents": documents.filter(supplier=supplier).order_by("-document_date", "-created_at")[:25],
        "statistics": statistics,
        "chart": supplier_chart(statistics.months),
        "duplicates": supplier_duplicates(supplier=supplier) if can_edit else [],
        "can_edit": can_edit,
        "contact_form": forms.get("contact_form") or ContactForm(),
        "bank_form": forms.get("bank_form") or BankAccountForm(),
        "merge_form": forms.get("merge_form") or MergeForm(supplier=supplier),
    }


@login_required
@require_http_methods(["GET", "POST"])
def supplier_create(request):
    _require_editor(request.user)
    form = SupplierForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data, tags = form.service_data()
        try:
            supplier = services.supplier_create(user=request.user, data=data, tags=tags)
        except ApplicationError as refusal:
            _form_errors(form, refusal)
        else:
            messages.success(request, _("Lieferant „%(name)s“ angelegt.") % {"name": supplier.name})
            return redirect("suppliers:detail", supplier_id=supplier.id)
    status = 400 if form.is_bound else 200
    return render(request, "suppliers/form.html", {"form": form, "supplier": None}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def supplier_edit(request, supplier_id):
    _require_editor(request.user)
    supplier = _get_supplier(supplier_id)
    form = SupplierForm(request.POST or None, instance=supplier)
    if request.method == "POST" and form.is_valid():
        data, tags = form.service_data()
        try:
            services.supplier_update(supplier=supplier, user=request.user, data=data, tags=tags)
        except ApplicationError as refusal:
            _form_errors(form, refusal)
        else:
            messages.success(request, _("Änderungen gespeichert."))
            return redirect("suppliers:detail", supplier_id=supplier.id)
    status = 400 if form.is_bound else 200
    return render(request, "suppliers/form.html", {"form": form, "supplier": supplier}, status=status)


@login_required
@require_POST
def supplier_contact_add(request, supplier_id):
    _require_editor(request.user)
    supplier = _get_supplier(supplier_id)
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            services.supplier_contact_save(supplier=supplier, user=request.user, data=form.cleaned_data)
        except ApplicationError as refusal:
            _form_errors(form, refusal)
        else:
            messages.success(request, _("Ansprechpartner gespeichert."))
            return redirect("suppliers:detail", supplier_id=supplier.id)
    return render(request, "suppliers/detail.html", _detail_context(request, supplier, contact_form=form), status=400)


@login_required
@require_http_methods(["GET", "POST"])
def supplier_contact_edit(request, supplier_id, contact_id):
    _require_editor(request.user)
    supplier = _get_supplier(supplier_id)
    contact = get_object_or_404(supplier.contacts, id=contact_id)
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        try:
            services.supplier_contact_save(
                supplier=supplier, user=request.user, data=form.cleaned_data, contact=contact
            )
        except ApplicationError as refusal:
            _form_errors(form, refusal)
        else:
            messages.success(request, _("Ansprechpartner gespeichert."))
            return redirect("suppliers:detail", supplier_id=supplier.id)
    context = {"form": form, "supplier": supplier, "contact": contact}
    return render(request, "suppliers/contact_form.html", context, status=400 if form.is_bound else 200)


@login_required
@require_POST
def supplier_contact_delete(request, supplier_id, contact_id):
    _require_editor(request.user)
    supplier = _get_supplier(supplier_id)
    contact = get_object_or_404(supplier.contacts, id=contact_id)
    services.supplier_contact_delete(contact=contact, user=request.user)
    messages.success(request, _("Ansprechpartner entfernt."))
    return redirect("suppliers:detail", supplier_id=supplier.id)


@login_required
@require_POST
def supplier_bank_account_add(request, supplier_id):
    _require_editor(request.user)
    supplier = _get_supplier(supplier_id)
    form = BankAccountForm(request.POST)
    if form.is_valid():
        try:
            services.supplier_bank_account_add(supplier=supplier, user=request.user, **form.cleaned_data)
        except ApplicationError as refusal:
            _form_errors(form, refusal)
        else:
            messages.success(request, _("Bankverbindung hinzugefügt."))
            return redirect("suppliers:detail", supplier_id=supplier.id)
    return render(request, "suppliers/detail.html", _detail_context(request, supplier, bank_form=form), status=400)


@login_required
@require_POST
def supplier_bank_account_action(request, supplier_id, account_id):
    """Make an account the Hauptkonto (``action=primary``) or remove it (``action=delete``)."""
    _require_editor(request.user)
    supplier = _get_supplier(supplier_id)
    account = get_object_or_404(supplier.bank_accounts, id=account_id)
    if request.POST.get("action") == "delete":
        services.supplier_bank_account_delete(account=account, user=request.user)
        messages.success(request, _("Bankverbindung entfernt."))
    else:
        services.supplier_bank_account_make_primary(account=account, user=request.user)
        messages.success(request, _("Hauptkonto geändert."))
    return redirect("suppliers:detail", supplier_id=supplier.id)


@login_required
@require_http_methods(["GET", "POST"])
def supplier_template_edit(request, supplier_id, template_id=None):
    supplier = _get_supplier(supplier_id)
    template = get_object_or_404(supplier.templates, id=template_id) if template_id else None
    if request.method == "POST" or template is None:
        _require_editor(request.user)
    initial = {}
    if template is not None:
        initial = {key: getattr(template, key) for key in services.TEMPLATE_FIELDS}
    form = TemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if template is None:
                template = services.supplier_template_create(
                    supplier=supplier, user=request.user, data=form.service_data()
                )
            else:
                services.supplier_template_update(
                    template=template, user=request.user, data=form.service_data(), note=form.cleaned_data["note"]
                )
        except ApplicationError as refusal:
            _form_errors(form, refusal)
        else:
            messages.success(request, _("Vorlage gespeichert."))
            return redirect("suppliers:template", supplier_id=supplier.id, template_id=template.id)
    context = {
        "form": form,
        "supplier": supplier,
        "template": template,
        "versions": template.versions.select_related("created_by") if template else [],
        "can_edit": can_edit_suppliers(request.user),
    }
    return render(request, "suppliers/template_form.html", context, status=400 if form.is_bound else 200)


@login_required
@require_POST
def supplier_merge(request, supplier_id):
    """Merge the chosen duplicate into this supplier (this one is kept)."""
    _require_editor(request.user)
    supplier = _get_supplier(supplier_id)
    form = MergeForm(request.POST, supplier=supplier)
    if form.is_valid():
        duplicate = form.cleaned_data["duplicate"]
        try:
            services.supplier_merge(source=duplicate, target=supplier, user=request.user)
        except ApplicationError as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(
                request,
                _("„%(source)s“ wurde in „%(target)s“ übernommen.")
                % {"source": duplicate.name, "target": supplier.name},
            )
            return redirect("suppliers:detail", supplier_id=supplier.id)
    return render(request, "suppliers/detail.html", _detail_context(request, supplier, merge_form=form), status=400)


@login_required
@require_GET
def supplier_duplicates_page(request):
    _require_editor(request.user)
    return render(request, "suppliers/duplicates.html", {"duplicates": supplier_duplicates()})


@login_required
@require_GET
def supplier_export(request):
    suppliers = supplier_list(
        query=request.GET.get("q", ""),
        active=request.GET.get("active", ""),
        industry=request.GET.get("industry", ""),
        tag=request.GET.get("tag", ""),
    )
    response = HttpResponse(supplier_export_csv(suppliers), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="lieferanten-{stamp}.csv"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def supplier_import(request):
    _require_editor(request.user)
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                report = supplier_import_csv(
                    data=form.cleaned_data["file"].read(), user=request.user, dry_run=form.cleaned_data["dry_run"]
                )
            except ApplicationError as refusal:
                form.add_error("file", refusal.message)
            else:
                status = 200
    return render(request, "suppliers/import.html", {"form": form, "report": report}, status=status)


@login_required
@permission_required("suppliers.add_supplier", raise_exception=True)
@require_POST
def supplier_create_from_document_view(request, document_id):
    document = get_object_or_404(reviewable_documents(request.user), id=document_id)
    try:
        supplier = services.supplier_create_from_document(document=document, user=request.user)
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("Lieferant „%(name)s“ angelegt und verknüpft.") % {"name": supplier.name})
    return redirect("documents:review", document_id=document.id)
