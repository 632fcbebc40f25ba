"""E-mail intake over IMAPS and STARTTLS against a real dovecot whose certificate comes from a
CA made here (cryptography): trusted only when that CA is given, refused with a clear reason
otherwise."""

import datetime
import ipaddress
import shutil
import tempfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ablage.errors import ApplicationError
from documents.mail.admin import MailAccountForm
from documents.mail.services import mail_account_poll, mail_account_set_password, mail_account_test_connection
from documents.models import Document, MailAccount
from documents.tests.test_mail import PASSWORD, _append, _mail, dovecot_running

pytestmark = pytest.mark.django_db


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _server_certificate(ca_key, ca_certificate):
    """For 127.0.0.1 only (no DNS name): connecting as "localhost" is a host name mismatch."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("Testpostfach"))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, certificate


def _pem(certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


@pytest.fixture(scope="module")
def company_ca():
    return _ca("Muster GmbH interne CA")


@pytest.fixture(scope="module")
def tls_imap_server(company_ca):
    ca_key, ca_certificate = company_ca
    key, certificate = _server_certificate(ca_key, ca_certificate)
    directory = Path(tempfile.mkdtemp(prefix="ablage-imap-tls-"))
    (directory / "cert.pem").write_text(_pem(certificate))
    (directory / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (directory / "key.pem").chmod(0o600)
    try:
        with dovecot_running(certificate=directory / "cert.pem", key=directory / "key.pem") as server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _account(server, owner, *, security, ca_certificate="", host=None) -> MailAccount:
    account = MailAccount(
        name="Rechnungseingang",
        owner=owner,
        host=host or server.host,
        port=server.imaps_port if security == MailAccount.Security.SSL else server.port,
        security=security,
        username=server.add_user(),
        tls_ca_certificate=ca_certificate,
    )
    mail_account_set_password(account=account, password=PASSWORD)
    account.save()
    return account


@pytest.mark.parametrize("security", [MailAccount.Security.SSL, MailAccount.Security.STARTTLS])
def test_it_takes_mail_over_tls_when_the_company_ca_is_trusted(
    tls_imap_server, company_ca, owner, born_digital_pdf, security
):
    account = _account(tls_imap_server, owner, security=security, ca_certificate=_pem(company_ca[1]))
    _append(tls_imap_server, account.username, _mail(files=[("RE-42.pdf", born_digital_pdf, "application", "pdf")]))

    assert "1 ungelesene Mails" in mail_account_test_connection(account=account)
    result = mail_account_poll(account=account)

    assert (result.taken, result.documents) == (1, 1)
    assert Document.objects.get(owner=owner).original_filename == "RE-42.pdf"
    account.refresh_from_db()
    assert account.last_error == ""


@pytest.mark.parametrize("security", [MailAccount.Security.SSL, MailAccount.Security.STARTTLS])
def test_it_refuses_a_certificate_the_system_does_not_trust_and_says_why(
    tls_imap_server, owner, born_digital_pdf, security
):
    account = _account(tls_imap_server, owner, security=security)
    _append(tls_imap_server, account.username, _mail(files=[("RE-42.pdf", born_digital_pdf, "application", "pdf")]))

    with pytest.raises(ApplicationError) as raised:
        mail_account_poll(account=account)

    message = raised.value.message
    assert message.startswith(f"Das Zertifikat des Servers 127.0.0.1:{account.port} ist nicht vertrauenswürdig")
    assert "unable to get local issuer certificate" in message
    assert "eigenen Zertifizierungsstelle" in message
    account.refresh_from_db()
    assert account.last_error == message
    assert not Document.objects.filter(owner=owner).exists()


def test_it_refuses_a_certificate_from_another_ca_than_the_one_given(tls_imap_server, owner):
    other_ca = _ca("Fremde CA")[1]
    account = _account(tls_imap_server, owner, security=MailAccount.Security.SSL, ca_certificate=_pem(other_ca))

    with pytest.raises(ApplicationError, match="ist nicht vertrauenswürdig"):
        mail_account_test_connection(account=account)


def test_it_refuses_a_certificate_issued_for_another_host_name(tls_imap_server, company_ca, owner):
    account = _account(
        tls_imap_server,
        owner,
        security=MailAccount.Security.STARTTLS,
        ca_certificate=_pem(company_ca[1]),
        host="localhost",
    )

    with pytest.raises(ApplicationError) as raised:
        mail_account_test_connection(account=account)

    assert "ist nicht vertrauenswürdig" in raised.value.message
    assert "Hostname mismatch" in raised.value.message


def test_it_rejects_a_ca_field_that_holds_no_certificate_in_the_admin_form(owner):
    form = MailAccountForm(
        data={
            "name": "Eingang",
            "owner": owner.pk,
            "active": "on",
            "host": "imap.example.com",
            "port": 993,
            "security": MailAccount.Security.SSL,
            "tls_ca_certificate": "-----BEGIN CERTIFICATE-----\nkein Zertifikat\n-----END CERTIFICATE-----\n",
            "username": "eingang",
            "password": "geheim",
            "folder": "INBOX",
            "processed_action": MailAccount.ProcessedAction.MARK_SEEN,
        }
    )

    assert not form.is_valid()
    assert form.errors["tls_ca_certificate"][0].startswith("Das Zertifikat lässt sich nicht lesen")
