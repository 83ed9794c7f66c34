"""Proofs of delivery of a conditional payment (Finternet's escrow order): what the seller
submitted when marking the escrow, or its current stage, delivered."""

from django.conf import settings
from django.db import models

from .escrows import Escrow, Milestone, random_id


def new_delivery_proof_id() -> str:
    return random_id("delivery_proof_")


class DeliveryProof(models.Model):
    public_id = models.CharField(max_length=48, unique=True, default=new_delivery_proof_id, editable=False)
    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="delivery_proofs")
    # The stage it delivered (milestone escrows); none for a standard escrow.
    milestone = models.ForeignKey(
        Milestone, on_delete=models.PROTECT, null=True, blank=True, related_name="delivery_proofs"
    )
    # A 32-byte hash of the proof, as 0x and 64 lowercase hex digits.
    proof_hash = models.CharField(max_length=66)
    # Where the proof can be read: any URI (https:, ipfs:, ...), not only a web address.
    proof_uri = models.CharField(max_length=2000, blank=True)
    # Who submitted it as the API caller named them (e.g. a wallet address), and who it was.
    submitted_by = models.CharField(max_length=200)
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="delivery_proofs"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["escrow", "id"], name="delivery_proof_escrow_seq")]

    def __str__(self) -> str:
        return self.public_id
