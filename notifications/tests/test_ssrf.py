"""SSRF: internal addresses are refused when a webhook is saved and again before every attempt."""

import ipaddress

import pytest
from django.urls import reverse

from ablage import net
from notifications import webhooks
from notifications.models import WebhookDelivery, WebhookEndpoint
from notifications.tests.conftest import RECEIVER_HOST, Reply, make_document

ATTEMPTS = [
    "http://127.1/hook",
    "http://2130706433/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://internal.example.com/hook",  # DNS answers 10.0.0.1
    "http://mixed.example.com/hook",  # one public and one private answer
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://100.64.0.1/hook",
    "http://224.0.0.1/hook",
    "http://[::127.0.0.1]/hook",
    "http://[64:ff9b::a9fe:a9fe]/hook",
]


@pytest.mark.parametrize("url", ATTEMPTS)
def test_it_refuses_internal_addresses_in_every_spelling(production_guard, url):
    with pytest.raises(net.UnsafeURL):
        production_guard.check(url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://public.example.com/",
        "file:///etc/passwd",
        "http://public.example.com:22/",
        "http://user:pw@public.example.com/",
    ],
)
def test_it_refuses_other_schemes_ports_and_credentials(production_guard, url):
    with pytest.raises(net.UnsafeURL):
        production_guard.check(url)


def test_it_accepts_a_public_address_and_keeps_the_checked_ip(production_guard):
    checked = production_guard.check("https://public.example.com/hooks?x=1")
    assert checked.addresses == ("93.184.215.14",)
    assert (checked.host, checked.port, checked.path) == ("public.example.com", 443, "/hooks?x=1")


def test_it_opens_only_the_networks_an_admin_names():
    guard = net.UrlGuard(
        resolver=lambda host, port: ["192.168.10.5"],
        allowed_networks=(ipaddress.ip_network("192.168.10.5/32"),),
    )
    assert guard.check("http://erp.local/").addresses == ("192.168.10.5",)
    with pytest.raises(net.UnsafeURL):
        net.UrlGuard(resolver=lambda host, port: ["192.168.10.6"], allowed_networks=guard.allowed_networks).check(
            "http://erp.local/"
        )


@pytest.mark.django_db
@pytest.mark.parametrize("url", ATTEMPTS[:6])
def test_it_refuses_to_save_a_webhook_to_an_internal_address(owner, production_guard, url):
    with pytest.raises(net.UnsafeURL):
        webhooks.endpoint_create(
            owner=owner, name="ERP", url=url, events=["document.processed"], guard=production_guard
        )
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_it_shows_why_the_settings_page_refused_a_webhook(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("notifications:webhooks"),
        {
            "name": "Metadaten",
            "url": "http://169.254.169.254/latest/",
            "events": ["document.processed"],
            "scope": "own",
        },
    )
    assert response.status_code == 200
    assert "interne Adresse" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_it_refuses_at_send_time_when_dns_now_points_inside(owner, production_guard):
    # Saved while the name resolved to a public address; at send time DNS answers 10.0.0.1 (rebinding).
    saving_guard = net.UrlGuard(resolver=lambda host, port: ["93.184.215.14"])
    endpoint = webhooks.endpoint_create(
        owner=owner,
        name="ERP",
        url="http://internal.example.com/hook",
        events=["document.processed"],
        guard=saving_guard,
    )
    document = make_document(owner)
    (delivery,) = webhooks.event_emit(event="document.processed", occurrence="1", document=document)

    status = webhooks.delivery_attempt(delivery_id=delivery.id, guard=production_guard)

    delivery.refresh_from_db()
    assert status == WebhookDelivery.Status.DEAD
    assert "10.0.0.1" in delivery.last_error
    assert endpoint.deliveries.get().attempts == 1


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["http://127.1/hook", "http://2130706433/hook", "http://[::ffff:127.0.0.1]/hook"])
def test_it_refuses_at_send_time_an_address_stored_around_the_form(owner, receiver, production_guard, url):
    # Stored directly (an old row, a restored backup): the attempt itself checks again.
    WebhookEndpoint.objects.create(
        owner=owner, name="alt", url=url.replace("/hook", f":{receiver.port}/hook"), events=["document.processed"]
    )
    (delivery,) = webhooks.event_emit(event="document.processed", occurrence="1", document=make_document(owner))

    # The receiver's port is allowed: only the address can stop this request.
    guard = net.UrlGuard(resolver=production_guard.resolver, allowed_ports=frozenset({80, 443, receiver.port}))

    assert webhooks.delivery_attempt(delivery_id=delivery.id, guard=guard) == WebhookDelivery.Status.DEAD
    delivery.refresh_from_db()
    assert "interne Adresse" in delivery.last_error
    assert receiver.requests == []


@pytest.mark.django_db
def test_it_does_not_follow_a_redirect_to_an_internal_address(owner, receiver, loopback_guard):
    internal = type(receiver)()  # a second loopback server standing in for the internal target
    try:
        receiver.script = [Reply(302, headers={"Location": f"http://127.0.0.1:{internal.port}/admin"})]
        webhooks.endpoint_create(
            owner=owner, name="ERP", url=receiver.url(), events=["document.processed"], guard=loopback_guard
        )
        (delivery,) = webhooks.event_emit(event="document.processed", occurrence="1", document=make_document(owner))

        status = webhooks.delivery_attempt(delivery_id=delivery.id, guard=loopback_guard)

        delivery.refresh_from_db()
        assert status == WebhookDelivery.Status.DEAD
        assert "Weiterleitung" in delivery.last_error and delivery.response_status == 302
        assert len(receiver.requests) == 1
        assert internal.requests == []
    finally:
        internal.close()


def test_it_sends_the_test_hostname_as_host_header_while_connecting_to_the_checked_ip(receiver, loopback_guard):
    response = net.post_json(receiver.url("/x"), b"{}", headers={}, guard=loopback_guard)
    assert response.status == 200
    assert receiver.requests[0].headers["Host"] == f"{RECEIVER_HOST}:{receiver.port}"
