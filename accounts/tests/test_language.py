"""The interface language: English translations, the selector, and saving the choice on the user."""

import pytest
from django.conf import settings
from django.urls import reverse

from ablage.errors import ApplicationError
from accounts.services import user_language_set

pytestmark = pytest.mark.django_db

LIST_URL = "/"


def _post_language(client, language, next_url=LIST_URL):
    return client.post(reverse("accounts:language-set"), {"language": language, "next": next_url})


def test_it_shows_the_document_list_in_english_to_an_english_user(client, owner):
    owner.language = "en"
    owner.save(update_fields=["language"])
    client.force_login(owner)

    page = client.get(LIST_URL).content.decode()

    assert '<html lang="en">' in page
    assert ">Documents</a>" in page
    assert ">Upload</button>" in page
    assert ">Sign out</button>" in page
    assert "Hochladen" not in page


def test_it_shows_the_document_list_in_german_to_a_german_user(client, owner):
    client.force_login(owner)

    page = client.get(LIST_URL).content.decode()

    assert '<html lang="de">' in page
    assert ">Dokumente</a>" in page
    assert ">Hochladen</button>" in page
    assert ">Upload</button>" not in page


def test_it_prefers_the_users_language_over_the_browsers(client, owner):
    client.force_login(owner)

    page = client.get(LIST_URL, headers={"accept-language": "en"}).content.decode()

    assert ">Hochladen</button>" in page


def test_it_offers_every_language_in_the_selector_with_the_current_one_selected(client, owner):
    client.force_login(owner)

    page = client.get(LIST_URL).content.decode()

    assert f'action="{reverse("accounts:language-set")}"' in page
    assert '<option value="de" lang="de" selected>Deutsch</option>' in page
    assert '<option value="en" lang="en" >English</option>' in page


def test_it_saves_the_chosen_language_on_the_user_and_shows_the_next_page_in_it(client, owner):
    client.force_login(owner)

    response = _post_language(client, "en")

    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    owner.refresh_from_db()
    assert owner.language == "en"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = client.get(response["Location"]).content.decode()
    assert ">Upload</button>" in page


def test_it_switches_an_english_user_back_to_german(client, owner):
    owner.language = "en"
    owner.save(update_fields=["language"])
    client.force_login(owner)

    _post_language(client, "de")

    owner.refresh_from_db()
    assert owner.language == "de"
    assert ">Hochladen</button>" in client.get(LIST_URL).content.decode()


def test_it_refuses_a_language_that_is_not_offered(client, owner):
    client.force_login(owner)

    response = _post_language(client, "fr")

    assert response.status_code == 400
    assert "nicht angeboten" in response.content.decode()
    owner.refresh_from_db()
    assert owner.language == "de"
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_it_refuses_a_missing_language_code(client, owner):
    client.force_login(owner)

    response = client.post(reverse("accounts:language-set"), {})

    assert response.status_code == 400


def test_it_only_switches_on_post(client, owner):
    client.force_login(owner)

    response = client.get(reverse("accounts:language-set"), {"language": "en"})

    assert response.status_code == 405
    owner.refresh_from_db()
    assert owner.language == "de"


def test_it_does_not_redirect_to_another_site(client, owner):
    client.force_login(owner)

    response = _post_language(client, "en", next_url="https://evil.example.com/")

    assert response.status_code == 302
    assert response["Location"] == reverse("documents:list")


def test_it_lets_an_anonymous_visitor_switch_by_cookie(client):
    login_url = reverse("accounts:login")

    response = _post_language(client, "en", next_url=login_url)

    assert response["Location"] == login_url
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = client.get(login_url).content.decode()
    assert "<h1>Sign in</h1>" in page
    assert "Password" in page


def test_it_shows_the_login_page_in_english_for_the_language_cookie(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    page = client.get(reverse("accounts:login")).content.decode()

    assert "<h1>Sign in</h1>" in page
    assert '<option value="en" lang="en" selected>English</option>' in page


def test_it_shows_the_login_page_in_english_for_an_english_browser(client):
    page = client.get(reverse("accounts:login"), headers={"accept-language": "en-GB,en;q=0.8"}).content.decode()

    assert "<h1>Sign in</h1>" in page


def test_it_shows_the_login_page_in_german_by_default(client):
    page = client.get(reverse("accounts:login")).content.decode()

    assert "<h1>Anmelden</h1>" in page


def test_it_refuses_to_store_an_unoffered_language_on_the_user(owner):
    with pytest.raises(ApplicationError) as refusal:
        user_language_set(user=owner, language="xx")

    assert refusal.value.code == "unsupported_language"
    owner.refresh_from_db()
    assert owner.language == "de"


def test_it_stores_an_offered_language_on_the_user(owner):
    user_language_set(user=owner, language="en")

    owner.refresh_from_db()
    assert owner.language == "en"
