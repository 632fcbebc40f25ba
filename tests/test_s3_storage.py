"""Documents on S3: the real pipeline writes originals, page images and thumbnails into a bucket
(a moto server on loopback, spoken to over HTTP like any S3-compatible endpoint) and the
download views stream them back."""

import contextlib
import uuid
from pathlib import Path

import boto3
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, default_storage
from django.test import override_settings
from django.urls import reverse
from moto.server import ThreadedMotoServer
from storages.backends.s3 import S3Storage

from ablage.env import s3_encryption_parameters
from documents import services
from documents.models import Document

REGION = "eu-central-1"
CREDENTIALS = {"aws_access_key_id": "ablage-test", "aws_secret_access_key": "ablage-test-secret"}


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@contextlib.contextmanager
def _bucket_storage(s3_endpoint, monkeypatch, object_parameters=None):
    """A fresh bucket, and STORAGES["default"] pointing at it (as settings.py does for
    AWS_STORAGE_BUCKET_NAME). Yields a boto3 client and the bucket's name."""
    for name in ("AWS_PROFILE", "AWS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    name = f"ablage-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION, **CREDENTIALS)
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    storages = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": name,
                "endpoint_url": s3_endpoint,
                "region_name": REGION,
                "access_key": CREDENTIALS["aws_access_key_id"],
                "secret_key": CREDENTIALS["aws_secret_access_key"],
                "default_acl": None,
                "file_overwrite": False,
                "querystring_auth": True,
                "object_parameters": object_parameters or {},
            },
        },
    }
    # override_settings sends setting_changed, on which Django empties storages._storages and
    # resets default_storage._wrapped, on entry and again on exit.
    with override_settings(STORAGES=storages):
        # isinstance sees through the LazyObject (it proxies __class__).
        assert isinstance(default_storage, S3Storage)
        yield client, name
    assert isinstance(default_storage, FileSystemStorage), "the S3 storage leaked into later tests"


@pytest.fixture
def bucket(s3_endpoint, monkeypatch):
    with _bucket_storage(s3_endpoint, monkeypatch) as found:
        yield found


def _keys(client, bucket_name) -> set[str]:
    keys = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket_name):
        keys |= {item["Key"] for item in page.get("Contents", [])}
    return keys


@pytest.mark.django_db
def test_it_keeps_originals_pages_and_thumbnails_in_the_bucket(bucket, owner, born_digital_pdf, client):
    s3, bucket_name = bucket

    document = services.document_ingest(owner=owner, filename="Rechnung S3.pdf", data=born_digital_pdf)
    services.job_run(job_id=document.jobs.get().id)

    document.refresh_from_db()
    assert document.status in (Document.Status.REVIEW, Document.Status.APPROVED), document.status_reason
    keys = _keys(s3, bucket_name)
    page = document.pages.get()
    assert document.storage_key in keys
    assert {page.image_key, page.thumbnail_key} <= keys
    assert sorted(document.thumbnails) == sorted(services.THUMBNAIL_SIZES)
    assert set(document.thumbnails.values()) <= keys
    if document.archive_key:
        assert document.archive_key in keys
    assert s3.get_object(Bucket=bucket_name, Key=document.storage_key)["Body"].read() == born_digital_pdf
    assert s3.get_object(Bucket=bucket_name, Key=page.image_key)["Body"].read()[:3] == b"\xff\xd8\xff"  # JPEG
    assert not (Path(settings.MEDIA_ROOT) / document.storage_key).exists()

    client.force_login(owner)
    original = client.get(reverse("documents:original", args=[document.id]))
    thumbnail = client.get(reverse("documents:thumbnail", args=[document.id]), {"w": "200"})

    assert original.status_code == 200
    assert b"".join(original.streaming_content) == born_digital_pdf
    assert "Rechnung S3.pdf" in original["Content-Disposition"]
    assert thumbnail.status_code == 200
    thumbnail_key = document.thumbnails["200"]
    assert b"".join(thumbnail.streaming_content) == s3.get_object(Bucket=bucket_name, Key=thumbnail_key)["Body"].read()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"AWS_S3_SERVER_SIDE_ENCRYPTION": "AES256"}, {"ServerSideEncryption": "AES256"}),
        (
            {"AWS_S3_SERVER_SIDE_ENCRYPTION": "aws:kms", "AWS_S3_SSE_KMS_KEY_ID": "alias/ablage-dokumente"},
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/ablage-dokumente"},
        ),
    ],
)
def test_it_stores_every_object_with_the_configured_server_side_encryption(
    s3_endpoint, monkeypatch, owner, born_digital_pdf, environment, expected
):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with _bucket_storage(s3_endpoint, monkeypatch, s3_encryption_parameters()) as (s3, bucket_name):
        document = services.document_ingest(owner=owner, filename="Rechnung SSE.pdf", data=born_digital_pdf)
        services.job_run(job_id=document.jobs.get().id)
        keys = _keys(s3, bucket_name)
        assert document.storage_key in keys
        for key in keys:
            head = s3.head_object(Bucket=bucket_name, Key=key)
            assert head["ServerSideEncryption"] == expected["ServerSideEncryption"], key
            if "SSEKMSKeyId" in expected:
                assert head["SSEKMSKeyId"].endswith(expected["SSEKMSKeyId"]), (key, head["SSEKMSKeyId"])


def test_it_refuses_a_kms_key_without_kms_encryption(monkeypatch):
    monkeypatch.setenv("AWS_S3_SERVER_SIDE_ENCRYPTION", "AES256")
    monkeypatch.setenv("AWS_S3_SSE_KMS_KEY_ID", "alias/ablage-dokumente")
    with pytest.raises(ImproperlyConfigured, match="AWS_S3_SSE_KMS_KEY_ID needs"):
        s3_encryption_parameters()

    monkeypatch.setenv("AWS_S3_SERVER_SIDE_ENCRYPTION", "aes")
    with pytest.raises(ImproperlyConfigured, match="AWS_S3_SERVER_SIDE_ENCRYPTION"):
        s3_encryption_parameters()
