from django.core.management.base import BaseCommand

from accounts.models import User
from escrows import services
from escrows.models import Escrow
from escrows.services import EscrowTerms, MilestoneInput

DEMO_PASSWORD = "demo-pass-123"
DEMO_USERS = {
    "seller": "seller@demo.test",
    "buyer": "buyer@demo.test",
    "platform": "platform@demo.test",
    "admin": "admin@demo.test",
}


def _user(email: str, **extra: object) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email, DEMO_PASSWORD, **extra)
    return user


def _escrow(seller: User, title: str, parts: list[int]) -> Escrow:
    return services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title=title, currency="USD", amount=sum(parts), description=f"Demo: {title}"),
        milestones=[MilestoneInput(amount=p, title=f"Stage {i + 1}") for i, p in enumerate(parts)],
    )


class Command(BaseCommand):
    help = "Create demo seller, buyer, platform and admin accounts and escrows in every state (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        seller = _user(DEMO_USERS["seller"], first_name="Sam", last_name="Seller")
        buyer = _user(DEMO_USERS["buyer"], first_name="Bea", last_name="Buyer")
        _user(DEMO_USERS["platform"], first_name="Demo", last_name="Platform", is_platform=True)
        _user(DEMO_USERS["admin"], is_staff=True, is_superuser=True)
        if not Escrow.objects.filter(seller=seller).exists():
            self._escrows(seller, buyer)
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        for role, email in DEMO_USERS.items():
            self.stdout.write(f"  {role:9} {email}")
        self.extra_output(seller=seller, buyer=buyer)

    def extra_output(self, **users: User) -> None:
        """Hook for other apps' demo output. API keys: a fresh one per run (keys are stored
        hashed, so an old one cannot be shown again)."""
        from accounts.services import api_key_create

        self.stdout.write("API keys (new on every run; use in X-API-Key or Authorization: Bearer):")
        for role in ("seller", "buyer", "platform"):
            user = User.objects.get(email=DEMO_USERS[role])
            _, key = api_key_create(user=user, name="seed_demo")
            self.stdout.write(f"  {role:9} {key}")

    def _escrows(self, seller: User, buyer: User) -> None:
        services.wallet_topup(customer=buyer, amount=2_000_000, currency="USD")
        _escrow(seller, "Logo design (awaiting payment)", [30_000, 50_000, 20_000])
        opened = _escrow(seller, "Website build (in progress)", [100_000, 150_000, 50_000])
        services.escrow_fund(escrow=opened, by=buyer)
        first = opened.milestones.get(index=0)
        services.milestone_complete(milestone=first, by=seller, proof="Wireframes delivered")
        services.milestone_release(milestone=first, by=buyer)
        second = opened.milestones.get(index=1)
        services.milestone_complete(milestone=second, by=seller, proof="Staging link sent")
        done = _escrow(seller, "Mobile app icons (completed)", [20_000, 20_000])
        services.escrow_fund(escrow=done, by=buyer)
        for m in done.milestones.order_by("index"):
            services.milestone_release(milestone=m, by=buyer)
        cancelled = _escrow(seller, "Brochure (cancelled)", [10_000, 10_000])
        services.escrow_cancel(escrow=cancelled, by=seller)
        disputed = _escrow(seller, "Copywriting (disputed)", [15_000, 15_000])
        services.escrow_fund(escrow=disputed, by=buyer)
        services.dispute_open(
            escrow=disputed,
            milestone=disputed.milestones.get(index=0),
            by=buyer,
            reason="First draft missing agreed sections",
            evidence=services.EvidenceInput(text="The brief listed five sections; the draft has three."),
        )
        # A standard escrow (no milestones) disputed as a whole: the escrow itself is DISPUTED.
        laptop = services.escrow_create(
            seller=seller,
            terms=EscrowTerms(
                title="Used laptop (disputed)",
                currency="USD",
                amount=60_000,
                description="Demo: a standard escrow, paid out at once on delivery",
                settlement_type="STANDARD",
            ),
            milestones=[],
        )
        services.escrow_fund(escrow=laptop, by=buyer)
        services.dispute_open(escrow=laptop, by=buyer, reason="Arrived with a cracked screen")
        refunded = _escrow(seller, "Photo shoot (refunded)", [40_000, 40_000])
        services.escrow_fund(escrow=refunded, by=buyer)
        services.escrow_refund(escrow=refunded, by=seller)
