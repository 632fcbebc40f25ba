import pytest
from django.contrib.auth.models import Group, Permission


def _codes(group_name):
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


@pytest.mark.django_db
def test_it_seeds_the_five_default_roles():
    roles = ["admin", "reviewer", "clerk", "viewer", "auditor"]
    assert set(Group.objects.filter(name__in=roles).values_list("name", flat=True)) == set(roles)


@pytest.mark.django_db
def test_it_gives_the_admin_role_every_permission_that_existed_at_seeding():
    codes = _codes("admin")
    for expected in (
        "documents.review_document",
        "documents.delete_document",
        "accounts.view_all_documents",
        "accounts.change_user",
        "suppliers.change_supplier",
        "system.change_systemconfig",
        "notifications.change_emailtemplate",
        "monitoring.view_auditlog",
        "auth.change_group",
    ):
        assert expected in codes


@pytest.mark.django_db
def test_it_lets_reviewers_review_and_correct_their_teams_documents_but_not_delete():
    assert _codes("reviewer") == {
        "documents.view_document",
        "documents.change_document",
        "documents.review_document",
        "documents.view_extractedfield",
        "documents.change_extractedfield",
        "suppliers.view_supplier",
    }


@pytest.mark.django_db
def test_it_lets_clerks_upload_and_look_up_suppliers():
    assert _codes("clerk") == {"documents.add_document", "documents.view_document", "suppliers.view_supplier"}


@pytest.mark.django_db
def test_it_lets_viewers_only_view():
    codes = _codes("viewer")
    assert codes == {"documents.view_document", "suppliers.view_supplier"}
    assert all(code.split(".")[1].startswith("view_") for code in codes)


@pytest.mark.django_db
def test_it_grants_role_permissions_to_group_members(django_user_model):
    clerk = django_user_model.objects.create_user("clerk@example.com", "Passwort-12345")
    clerk.groups.add(Group.objects.get(name="clerk"))
    assert clerk.has_perm("documents.add_document")
    assert not clerk.has_perm("documents.change_document")
    assert not clerk.has_perm("documents.review_document")


@pytest.mark.django_db
def test_it_creates_the_custom_review_permission():
    assert Permission.objects.filter(content_type__app_label="documents", codename="review_document").count() == 1


@pytest.mark.django_db
def test_it_lets_auditors_read_everything_and_change_nothing():
    codes = _codes("auditor")
    for expected in (
        "accounts.view_all_documents",
        "documents.view_document",
        "monitoring.view_auditlog",
        "system.view_systemconfig",
        "suppliers.view_supplier",
    ):
        assert expected in codes
    assert all(code.split(".")[1].startswith("view_") for code in codes)
