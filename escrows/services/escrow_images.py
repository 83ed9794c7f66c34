"""Pictures of a standard escrow: checked before anything is written (at most
ESCROW_IMAGES_MAX, each at most ESCROW_IMAGE_MAX_BYTES, and a picture Pillow can read as PNG,
JPEG, GIF or WebP whatever the upload claims), then stored with the escrow's terms."""

import hashlib
import os
import warnings
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from core.errors import InvalidRequest

from ..models import Escrow, EscrowImage

# What Pillow calls each format we keep, and the extension and type it is stored and served as.
IMAGE_FORMATS = {
    "PNG": (".png", "image/png"),
    "JPEG": (".jpg", "image/jpeg"),
    "GIF": (".gif", "image/gif"),
    "WEBP": (".webp", "image/webp"),
}
# Larger than any photo a phone takes; a small file that claims more is a decompression bomb.
IMAGE_MAX_PIXELS = 50_000_000


def _size_words(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit // (1024 * 1024)} MB"
    return f"{limit // 1024} KB" if limit >= 1024 else f"{limit} bytes"


def _refused(message: str, code: str = "invalid_image") -> InvalidRequest:
    return InvalidRequest(message, field="imageUrl", code=code)


def _format_of(upload: Any, index: int) -> str:
    """Pillow's name of the upload's format, refused unless it is a picture we keep."""
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload) as image:
                width, height = image.size
                if width * height > IMAGE_MAX_PIXELS:
                    raise _refused(f"imageUrl[{index}] has too many pixels")
                image_format = image.format or ""
                image.verify()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ):
        raise _refused(f"imageUrl[{index}] must be a PNG, JPEG, GIF or WebP picture") from None
    finally:
        upload.seek(0)
    if image_format not in IMAGE_FORMATS:
        raise _refused(f"imageUrl[{index}] must be a PNG, JPEG, GIF or WebP picture")
    return image_format


def check_images(images: Sequence[Any]) -> list[tuple[Any, str]]:
    """Each upload with its format, or the first refusal: how many, how large, what they are."""
    if len(images) > settings.ESCROW_IMAGES_MAX:
        raise _refused(f"At most {settings.ESCROW_IMAGES_MAX} pictures (imageUrl)", code="too_many_images")
    checked = []
    for index, upload in enumerate(images):
        if not upload.size:
            raise _refused(f"imageUrl[{index}] is empty")
        if upload.size > settings.ESCROW_IMAGE_MAX_BYTES:
            limit = _size_words(settings.ESCROW_IMAGE_MAX_BYTES)
            raise _refused(f"imageUrl[{index}] is larger than {limit}", code="file_too_large")
        checked.append((upload, _format_of(upload, index)))
    return checked


def _store_images(escrow: Escrow, checked: Sequence[tuple[Any, str]]) -> list[EscrowImage]:
    """Replace the escrow's pictures with these (already checked) ones."""
    EscrowImage.objects.filter(escrow=escrow).delete()
    stored = []
    for position, (upload, image_format) in enumerate(checked):
        extension, content_type = IMAGE_FORMATS[image_format]
        digest = hashlib.sha256()
        size = 0
        upload.seek(0)
        for chunk in upload.chunks():
            digest.update(chunk)
            size += len(chunk)
        if size > settings.ESCROW_IMAGE_MAX_BYTES:  # the declared size may lie
            limit = _size_words(settings.ESCROW_IMAGE_MAX_BYTES)
            raise _refused(f"imageUrl[{position}] is larger than {limit}", code="file_too_large")
        row = EscrowImage(
            escrow=escrow,
            position=position,
            file_name=os.path.basename(upload.name or "picture")[:200],
            content_type=content_type,
            file_size=size,
            file_sha256=digest.hexdigest(),
        )
        upload.seek(0)
        row.file.save(f"{row.public_id}{extension}", upload, save=False)
        row.save()
        stored.append(row)
    return stored
