"""Pictures of a standard escrow, the size limit and the stored rows: the refusal names the limit
in words a person reads (bytes, KB or whole MB), the size is counted from what arrives (not what
the upload claims), and each picture becomes one row, written once, holding exactly its bytes."""

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.db.models.signals import post_save
from PIL import Image

from core.errors import InvalidRequest
from escrows import services
from escrows.models import EscrowImage
from escrows.services import EscrowTerms
from escrows.services.escrow_images import _store_images, check_images

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_media")]

MB = 1024 * 1024


def png_bytes(size=(3, 2), noise=False):
    width, height = size
    image = Image.frombytes("RGB", size, os.urandom(width * height * 3)) if noise else Image.new("RGB", size)
    data = io.BytesIO()
    image.save(data, "PNG")
    return data.getvalue()


def picture(name="p.png", content=None):
    return SimpleUploadedFile(name, png_bytes() if content is None else content, content_type="image/png")


@pytest.fixture
def escrow(seller):
    terms = EscrowTerms(title="Laptop", currency="USD", amount=50_000, settlement_type="STANDARD")
    return services.escrow_create(seller=seller, terms=terms, milestones=[])


@pytest.mark.parametrize(
    ("limit", "words"),
    [
        (1000, "1000 bytes"),
        (1024, "1 KB"),
        (MB - 1, "1023 KB"),
        (MB, "1 MB"),
        (3 * MB + 1, "3 MB"),
        (5 * MB, "5 MB"),
    ],
)
def test_the_refusal_names_the_limit_in_bytes_kb_or_whole_mb(settings, limit, words):
    settings.ESCROW_IMAGE_MAX_BYTES = limit
    too_large = SimpleUploadedFile("big.png", b"\0" * (limit + 1), content_type="image/png")
    with pytest.raises(InvalidRequest) as refused:
        check_images([picture(), too_large])
    assert refused.value.message == f"imageUrl[1] is larger than {words}"
    assert (refused.value.code, refused.value.field) == ("file_too_large", "imageUrl")


def test_a_refused_format_is_an_invalid_image_on_the_pictures_field():
    with pytest.raises(InvalidRequest) as refused:
        check_images([SimpleUploadedFile("x.gif", b"GIF89a but not really", content_type="image/gif")])
    assert (refused.value.code, refused.value.field) == ("invalid_image", "imageUrl")


def test_the_size_is_counted_over_every_chunk_whatever_the_upload_claims(settings, escrow):
    # A large upload arrives on disk and is read in 64 KB chunks; it claims to be tiny.
    content = png_bytes(size=(200, 200), noise=True)
    settings.ESCROW_IMAGE_MAX_BYTES = 100 * 1024
    assert 100 * 1024 < len(content) < 100 * 1024 + 64 * 1024
    lying = TemporaryUploadedFile("big.png", "image/png", size=10, charset=None)
    lying.write(content)
    lying.flush()
    assert lying.size == 10 and len(list(lying.chunks())) == 2
    checked = check_images([picture(), lying])  # the claim passes the first check
    with pytest.raises(InvalidRequest) as refused:
        _store_images(escrow, checked)
    assert refused.value.message == "imageUrl[1] is larger than 100 KB"
    assert (refused.value.code, refused.value.field) == ("file_too_large", "imageUrl")
    lying.close()


def test_a_picture_exactly_at_the_limit_is_stored(settings, escrow):
    upload = picture()
    settings.ESCROW_IMAGE_MAX_BYTES = upload.size
    [row] = _store_images(escrow, check_images([upload]))
    assert row.file_size == upload.size


def test_each_picture_is_one_row_written_once_holding_exactly_its_bytes(escrow):
    first, second = png_bytes(size=(5, 4), noise=True), png_bytes(size=(7, 3), noise=True)
    writes = []

    def record(sender, instance, created, **kwargs):
        writes.append((instance.position, created))

    post_save.connect(record, sender=EscrowImage)
    try:
        stored = _store_images(escrow, check_images([picture("a.png", first), picture("b.png", second)]))
    finally:
        post_save.disconnect(record, sender=EscrowImage)
    assert writes == [(0, True), (1, True)]
    assert [row.pk for row in stored] == list(
        EscrowImage.objects.filter(escrow=escrow).order_by("position").values_list("pk", flat=True)
    )
    for row, content in zip(stored, (first, second), strict=True):
        row.refresh_from_db()
        with row.file.open("rb") as stored_file:
            assert stored_file.read() == content
        assert row.file_size == len(content)


def test_the_submitted_name_is_kept_as_a_label_of_at_most_200_characters(escrow):
    nameless = picture(name=None)
    long_name = "n" * 246 + ".png"
    rows = _store_images(escrow, check_images([nameless, picture(name=long_name)]))
    assert [row.file_name for row in rows] == ["picture", long_name[:200]]
    assert len(rows[1].file_name) == 200


def test_a_picture_of_exactly_the_most_pixels_allowed_is_kept(monkeypatch):
    monkeypatch.setattr("escrows.services.escrow_images.IMAGE_MAX_PIXELS", 6)
    assert [kind for _, kind in check_images([picture()])] == ["PNG"]  # 3 x 2 pixels
    monkeypatch.setattr("escrows.services.escrow_images.IMAGE_MAX_PIXELS", 5)
    with pytest.raises(InvalidRequest, match=r"^imageUrl\[0\] has too many pixels$"):
        check_images([picture()])


def test_a_picture_big_enough_to_be_a_decompression_bomb_is_refused_as_not_a_picture():
    # A few kilobytes of PNG that would unpack to 90 million pixels: Pillow warns of it as it opens
    # the file, and the warning is treated as the refusal it announces.
    bomb = io.BytesIO()
    Image.new("1", (10_000, 9_000)).save(bomb, "PNG")
    upload = SimpleUploadedFile("bomb.png", bomb.getvalue(), content_type="image/png")
    with pytest.raises(InvalidRequest) as refused:
        check_images([upload])
    assert refused.value.message == "imageUrl[0] must be a PNG, JPEG, GIF or WebP picture"
    assert (refused.value.code, refused.value.field) == ("invalid_image", "imageUrl")
