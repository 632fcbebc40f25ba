"""Teams widen visibility: own documents plus the teams' documents, and the review queue follows."""

import pytest
from django.contrib.auth.models import Group

from accounts.models import Team
from documents.models import Document
from documents.review_queue import review_queue
from documents.selectors import reviewable_documents, visible_documents

pytestmark = pytest.mark.django_db


def _document(owner, *, team=None, status=Document.Status.REVIEW):
    return Document.objects.create(
        owner=owner,
        team=team,
        title="Rechnung",
        original_filename="r.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256="0" * 64,
        storage_key=f"originals/{Document.objects.count()}-{owner.pk}.pdf",
        status=status,
    )


def _role(user, name):
    user.groups.add(Group.objects.get(name=name))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def teams(owner, outsider, django_user_model):
    buchhaltung = Team.objects.create(name="Buchhaltung")
    einkauf = Team.objects.create(name="Einkauf")
    teammate = django_user_model.objects.create_user("teammate@example.com", "Passwort-12345")
    buchhaltung.members.add(owner, teammate)
    einkauf.members.add(outsider)
    return buchhaltung, einkauf, teammate


def test_it_shows_team_documents_to_every_member_and_no_one_else(owner, outsider, teams):
    buchhaltung, einkauf, teammate = teams
    shared = _document(owner, team=buchhaltung)
    private = _document(owner)
    other_team = _document(outsider, team=einkauf)

    assert set(visible_documents(teammate)) == {shared}
    assert set(visible_documents(owner)) == {shared, private}
    assert set(visible_documents(outsider)) == {other_team}


def test_it_lists_a_document_once_for_a_member_of_several_teams(owner, teams):
    buchhaltung, einkauf, _teammate = teams
    einkauf.members.add(owner)
    _document(owner, team=buchhaltung)

    assert visible_documents(owner).count() == 1


def test_it_gives_reviewers_the_review_queue_of_their_teams_only(owner, outsider, teams, django_user_model):
    buchhaltung, einkauf, _teammate = teams
    reviewer = django_user_model.objects.create_user("pruefer@example.com", "Passwort-12345")
    buchhaltung.members.add(reviewer)
    reviewer = _role(reviewer, "reviewer")
    ours = _document(owner, team=buchhaltung)
    _document(outsider, team=einkauf)
    _document(owner)

    assert list(review_queue(reviewer)) == [ours]


def test_it_lets_team_members_without_the_review_role_see_but_not_review(owner, teams):
    buchhaltung, _einkauf, teammate = teams
    _document(owner, team=buchhaltung)

    assert visible_documents(teammate).count() == 1
    assert reviewable_documents(teammate).count() == 0


def test_it_shows_auditors_and_admins_everything(owner, outsider, teams, django_user_model):
    _document(owner)
    _document(outsider, team=teams[1])
    auditor = _role(django_user_model.objects.create_user("pruefung@example.com", "Passwort-12345"), "auditor")
    admin = _role(django_user_model.objects.create_user("admin@example.com", "Passwort-12345"), "admin")

    assert visible_documents(auditor).count() == 2
    assert visible_documents(admin).count() == 2
    assert reviewable_documents(auditor).count() == 0
