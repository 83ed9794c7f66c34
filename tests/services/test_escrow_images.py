"""A standard escrow's pictures: at most ESCROW_IMAGES_MAX, each at most ESCROW_IMAGE_MAX_BYTES,
and a PNG, JPEG, GIF or WebP by what it contains; refused before anything is written, stored
with the terms under names of our choosing, replaced by an edit that sends others."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from core.errors import InvalidRequest
from escrows import services
from escrows.models import Escrow, EscrowImage
from escrows.services import EscrowTerms
from escrows.services.escrow_images import IMAGE_MAX_PIXELS, check_images

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_media")]


def picture(image_format="PNG", size=(3, 2), name="p"):
    data = io.BytesIO()
    Image.new("RGB", size).save(data, image_format)
    return SimpleUploadedFile(
        f"{name}.{image_format.lower()}", data.getvalue(), content_type="image/whatever"
    )


def terms(**changes):
    return EscrowTerms(
        **{"title": "Laptop", "currency": "USD", "amount": 50_000, "settlement_type": "STANDARD", **changes}
    )


def test_formats_are_read_from_the_content_not_the_claim():
    checked = check_images([picture("PNG"), picture("JPEG"), picture("GIF"), picture("WEBP")])
    assert [f for _, f in checked] == ["PNG", "JPEG", "GIF", "WEBP"]
    for content in (b"GIF89a but not really", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40):
        with pytest.raises(InvalidRequest, match=r"^imageUrl\[0\] must be a PNG, JPEG, GIF or WebP picture$"):
            check_images([SimpleUploadedFile("x.gif", content, content_type="image/gif")])
    with pytest.raises(InvalidRequest, match=r"^imageUrl\[0\] must be a PNG, JPEG, GIF or WebP picture$"):
        check_images([picture("BMP")])


def test_how_many_and_how_large(settings):
    assert len(check_images([picture() for _ in range(5)])) == 5
    with pytest.raises(InvalidRequest, match=r"^At most 5 pictures \(imageUrl\)$") as refused:
        check_images([picture() for _ in range(6)])
    assert refused.value.code == "too_many_images" and refused.value.field == "imageUrl"
    big = picture(size=(64, 64))
    settings.ESCROW_IMAGE_MAX_BYTES = big.size
    assert check_images([big])
    settings.ESCROW_IMAGE_MAX_BYTES = big.size - 1
    with pytest.raises(InvalidRequest, match=r"^imageUrl\[0\] is larger than") as refused:
        check_images([big])
    assert refused.value.code == "file_too_large"
    settings.ESCROW_IMAGE_MAX_BYTES = 5 * 1024 * 1024
    with pytest.raises(InvalidRequest, match=r"^imageUrl\[0\] is empty$"):
        check_images([SimpleUploadedFile("e.png", b"", content_type="image/png")])


def test_a_picture_claiming_too_many_pixels_is_refused(monkeypatch):
    monkeypatch.setattr("escrows.services.escrow_images.IMAGE_MAX_PIXELS", 5)
    with pytest.raises(InvalidRequest, match=r"^imageUrl\[0\] has too many pixels$"):
        check_images([picture(size=(3, 2))])
    assert IMAGE_MAX_PIXELS == 50_000_000


def test_stored_with_the_terms_and_replaced_by_an_edit(seller):
    escrow = services.escrow_create(
        seller=seller, terms=terms(), milestones=[], images=[picture(name="front")]
    )
    stored = EscrowImage.objects.get(escrow=escrow)
    assert (stored.position, stored.content_type, stored.file_name) == (0, "image/png", "front.png")
    assert stored.file.name.endswith(f"/{stored.public_id}.png") and len(stored.file_sha256) == 64
    assert stored.file_size == stored.file.size
    services.escrow_edit(escrow=escrow, by=seller, terms=terms(title="Laptop 2"), milestones=[])
    assert EscrowImage.objects.filter(escrow=escrow).count() == 1
    services.escrow_edit(
        escrow=escrow, by=seller, terms=terms(), milestones=[], images=[picture("JPEG"), picture("GIF")]
    )
    assert list(EscrowImage.objects.filter(escrow=escrow).values_list("content_type", flat=True)) == [
        "image/jpeg",
        "image/gif",
    ]
    with pytest.raises(InvalidRequest):
        services.escrow_edit(escrow=escrow, by=seller, terms=terms(), milestones=[], images=[picture("BMP")])
    assert EscrowImage.objects.filter(escrow=escrow).count() == 2


def test_a_refused_picture_creates_nothing(seller):
    with pytest.raises(InvalidRequest):
        services.escrow_create(
            seller=seller, terms=terms(), milestones=[], images=[picture(), picture("BMP")]
        )
    assert not Escrow.objects.exists() and not EscrowImage.objects.exists()
