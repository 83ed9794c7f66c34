"""Pictures of what a standard escrow is for, as the seller uploaded them with its terms."""

from django.db import models

from .escrows import Escrow, random_id


def new_image_id() -> str:
    return random_id("img_")


class EscrowImage(models.Model):
    """One picture, stored under a name of our choosing (the submitted name is kept as a label)
    and served only through the API to whoever may see the escrow (never from a public
    MEDIA_URL). An edit that sends pictures replaces the set."""

    public_id = models.CharField(max_length=40, unique=True, default=new_image_id, editable=False)
    escrow = models.ForeignKey(Escrow, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField()
    file = models.FileField(upload_to="escrow-images/%Y/%m/", max_length=300)
    file_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=40)
    file_size = models.PositiveIntegerField()
    file_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["escrow_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["escrow", "position"], name="escrow_image_unique_position"),
        ]

    def __str__(self) -> str:
        return self.public_id
