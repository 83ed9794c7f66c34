"""Dispute evidence through the services: what is kept of a text, a link and a file (the file's
own hash and size, whatever size it claimed), the exact refusal for each bad piece, how many
pieces a dispute takes, and the event each piece leaves in the record."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from core.errors import InvalidRequest
from escrows import services
from escrows.models import DisputeEvidence, Event
from escrows.services import EvidenceInput
from tests.helpers import milestones

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_media")]


@pytest.fixture
def dispute(funded, buyer):
    return services.dispute_open(escrow=funded, milestone=milestones(funded)[1], by=buyer, reason="Late")


def add(dispute, by, **evidence):
    return services.dispute_add_evidence(dispute=dispute, by=by, evidence=EvidenceInput(**evidence))


def refused(dispute, by, **evidence):
    with pytest.raises(InvalidRequest) as caught:
        add(dispute, by, **evidence)
    assert not DisputeEvidence.objects.exists()
    return caught.value


def upload(data, name="note.txt", content_type="text/plain"):
    return SimpleUploadedFile(name, data, content_type=content_type)


# -- the record ------------------------------------------------------------------------------


def test_each_piece_is_an_event_with_who_added_it_and_the_files_hash(funded, dispute, seller):
    data = b"%PDF-1.4 invoice"
    row = add(
        dispute,
        seller,
        text="See the invoice",
        url="https://x.test/a",
        file=upload(data, "i.pdf", "application/pdf"),
    )
    event = Event.objects.get(kind="dispute.evidence_added")
    assert (event.actor, event.actor_kind, event.escrow_id, event.milestone_id) == (
        seller,
        "user",
        funded.pk,
        milestones(funded)[1].pk,
    )
    assert (event.from_status, event.to_status) == ("", "")
    assert event.details == {
        "dispute": dispute.public_id,
        "evidence": row.public_id,
        "submittedBy": "seller",
        "hasText": True,
        "url": "https://x.test/a",
        "fileSha256": hashlib.sha256(data).hexdigest(),
        "fileSize": len(data),
    }


def test_a_link_alone_keeps_no_text_and_no_file(funded, dispute, buyer):
    row = add(dispute, buyer, url="  http://x.test/photo  ")
    assert (row.text, row.url, row.file_sha256, row.file_size, row.file_name, row.content_type) == (
        "",
        "http://x.test/photo",
        "",
        None,
        "",
        "",
    )
    assert not row.file
    assert Event.objects.get(kind="dispute.evidence_added").details == {
        "dispute": dispute.public_id,
        "evidence": row.public_id,
        "submittedBy": "buyer",
        "hasText": False,
        "url": "http://x.test/photo",
        "fileSha256": None,
        "fileSize": None,
    }


def test_evidence_given_when_opening_is_recorded_as_the_openers(funded, seller):
    dispute = services.dispute_open(
        escrow=funded,
        milestone=milestones(funded)[0],
        by=seller,
        reason="Unpaid",
        evidence=EvidenceInput(text="  Delivered on Monday  "),
    )
    row = dispute.evidence.get()
    assert (row.text, row.submitted_by, row.submitter_role) == ("Delivered on Monday", seller, "seller")
    event = Event.objects.get(kind="dispute.evidence_added")
    assert (event.actor, event.escrow_id, event.milestone_id) == (seller, funded.pk, milestones(funded)[0].pk)
    assert event.details == {
        "dispute": dispute.public_id,
        "evidence": row.public_id,
        "submittedBy": "seller",
        "hasText": True,
        "url": "",
        "fileSha256": None,
        "fileSize": None,
    }


# -- text and links --------------------------------------------------------------------------


def test_text_of_the_limit_is_kept_and_one_more_character_is_refused(dispute, buyer):
    error = refused(dispute, buyer, text="x" * 5001)
    assert (error.message, error.field) == ("Evidence text must be at most 5000 characters", "text")
    assert add(dispute, buyer, text="x" * 5000).text == "x" * 5000


def test_text_with_a_nul_character_is_refused(dispute, buyer):
    error = refused(dispute, buyer, text="before\x00after")
    assert (error.message, error.field) == ("Evidence text contains characters that cannot be stored", "text")


@pytest.mark.parametrize(
    "url",
    ["ftp://x.test/file", "javascript:alert(1)", "https://", "https://x.test/" + "a" * (2001 - 15)],
)
def test_a_link_must_be_http_or_https_and_at_most_2000_characters(dispute, buyer, url):
    error = refused(dispute, buyer, url=url)
    assert (error.message, error.field) == (
        "url must be an http(s) address of at most 2000 characters",
        "url",
    )


@pytest.mark.parametrize(
    "url", ["http://x.test/a", "HTTPS://x.test/a", "https://x.test/" + "a" * (2000 - 15)]
)
def test_http_and_https_links_of_up_to_2000_characters_are_kept(dispute, buyer, url):
    assert add(dispute, buyer, url=url).url == url


# -- files -----------------------------------------------------------------------------------


def test_an_empty_file_is_refused(dispute, buyer):
    error = refused(dispute, buyer, file=upload(b""))
    assert (error.message, error.field) == ("The evidence file is empty", "file")


def test_a_file_larger_than_the_limit_is_refused_in_megabytes(dispute, buyer, settings):
    settings.ESCROW_EVIDENCE_MAX_BYTES = 1024 * 1024
    error = refused(dispute, buyer, file=upload(b"x" * (1024 * 1024 + 1)))
    assert (error.message, error.field, error.code) == (
        "The evidence file is larger than 1 MB",
        "file",
        "file_too_large",
    )


def test_a_file_of_exactly_the_limit_is_kept(dispute, buyer, settings):
    settings.ESCROW_EVIDENCE_MAX_BYTES = 10
    row = add(dispute, buyer, file=upload(b"0123456789"))
    assert row.file_size == 10


def test_a_file_that_claims_to_be_smaller_than_it_is_is_measured(dispute, buyer, settings):
    settings.ESCROW_EVIDENCE_MAX_BYTES = 10
    lying = upload(b"x" * 11)
    lying.size = 5
    error = refused(dispute, buyer, file=lying)
    assert (error.message, error.field, error.code) == (
        "The evidence file is too large",
        "file",
        "file_too_large",
    )
    exact = upload(b"y" * 10)
    exact.size = 5
    row = add(dispute, buyer, file=exact)
    assert (row.file_size, row.file_sha256) == (10, hashlib.sha256(b"y" * 10).hexdigest())


def test_a_file_of_several_chunks_is_hashed_and_measured_whole(dispute, buyer):
    data = bytes(range(256)) * 600  # 153,600 bytes: three chunks of 64 KiB from a file on disk
    on_disk = TemporaryUploadedFile("scan.png", "image/png", len(data), None)
    on_disk.write(data)
    assert len(list(on_disk.chunks())) == 3
    row = add(dispute, buyer, file=on_disk)
    assert (row.file_size, row.file_sha256) == (len(data), hashlib.sha256(data).hexdigest())
    with row.file.open("rb") as f:
        assert f.read() == data


def test_a_file_read_before_is_stored_from_its_start(dispute, buyer):
    data = b"the whole note"
    partly_read = upload(data)
    partly_read.read(4)
    row = add(dispute, buyer, file=partly_read)
    assert (row.file_size, row.file_sha256) == (len(data), hashlib.sha256(data).hexdigest())
    with row.file.open("rb") as f:
        assert f.read() == data


@pytest.mark.parametrize("content_type", ["application/x-msdownload", "", None, "text/html; charset=utf-8"])
def test_a_file_of_another_type_is_refused(dispute, buyer, content_type):
    error = refused(dispute, buyer, file=upload(b"MZ", "a.exe", content_type))
    assert (error.message, error.field, error.code) == (
        "The evidence file must be a PDF, an image (PNG, JPEG, GIF, WebP), text, CSV or ZIP",
        "file",
        "unsupported_file_type",
    )


def test_a_content_type_with_parameters_is_kept_without_them(dispute, buyer):
    row = add(dispute, buyer, file=upload(b"a,b\n1,2\n", "t.csv", "Text/CSV; charset=utf-8"))
    assert row.content_type == "text/csv"
    assert row.file.name.endswith(f"{row.public_id}.csv")


def test_the_submitted_file_name_is_a_label_of_at_most_200_characters(dispute, buyer):
    long_name = "r" * 240 + ".txt"
    assert add(dispute, buyer, file=upload(b"1", long_name)).file_name == "r" * 200
    assert add(dispute, buyer, file=upload(b"2", None)).file_name == "evidence"


# -- how many --------------------------------------------------------------------------------


def test_a_dispute_takes_at_most_the_configured_number_of_pieces(funded, seller, buyer, settings):
    settings.ESCROW_EVIDENCE_MAX_ITEMS = 2
    dispute = services.dispute_open(
        escrow=funded,
        milestone=milestones(funded)[1],
        by=buyer,
        reason="Late",
        evidence=EvidenceInput(text="First"),
    )
    add(dispute, seller, text="Second")
    with pytest.raises(InvalidRequest) as caught:
        add(dispute, buyer, text="Third")
    assert caught.value.message == "A dispute takes at most 2 pieces of evidence"
    assert list(dispute.evidence.values_list("text", flat=True)) == ["First", "Second"]
    assert Event.objects.filter(kind="dispute.evidence_added").count() == 2
