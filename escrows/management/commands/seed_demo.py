from allauth.account.models import EmailAddress
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
    # Demo people have confirmed their email, so they log in without a code.
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def _escrow(
    seller: User, title: str, description: str, stages: list[tuple[str, int]], *, buyer_email: str = ""
) -> Escrow:
    """A milestone escrow in USD; each stage a (title, amount in cents) pair."""
    return services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title=title,
            currency="USD",
            amount=sum(amount for _, amount in stages),
            description=description,
            buyer_email=buyer_email,
        ),
        milestones=[MilestoneInput(amount=amount, title=name) for name, amount in stages],
    )


class Command(BaseCommand):
    help = "Create demo seller, buyer, platform and admin accounts and escrows in every state (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        seller = _user(DEMO_USERS["seller"], first_name="Maya", last_name="Okafor")
        buyer = _user(DEMO_USERS["buyer"], first_name="Daniel", last_name="Brooks")
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
        """Maya Okafor, a freelance designer and developer, sells to Daniel Brooks, who runs a
        small café chain: one deal in each state an escrow can be in."""
        services.wallet_topup(customer=buyer, amount=5_000_000, currency="USD")
        # Awaiting payment: the payment link is out, nothing is held yet.
        _escrow(
            seller,
            "Logo and brand identity for Brooks Coffee",
            "A logo, a colour palette and type for the shops, cups and website, in three rounds.",
            [
                ("Three logo concepts", 45_000),
                ("Refined logo and colour palette", 60_000),
                ("Brand guide and final files", 35_000),
            ],
            buyer_email=buyer.email,
        )
        # In progress: paid, the first stage released, the second delivered and under review.
        app = _escrow(
            seller,
            "Ordering app MVP (iOS and Android)",
            "Order ahead and pay in the app, collect at the counter. Built in Flutter; the source "
            "code and the store listings are handed over.",
            [
                ("Clickable prototype", 250_000),
                ("Ordering and payment flows", 600_000),
                ("Store release and handover", 350_000),
            ],
        )
        services.escrow_fund(escrow=app, by=buyer)
        first = app.milestones.get(index=0)
        services.milestone_complete(
            milestone=first, by=seller, proof="Figma prototype with the menu, basket and checkout screens"
        )
        services.milestone_release(milestone=first, by=buyer)
        second = app.milestones.get(index=1)
        services.milestone_complete(
            milestone=second, by=seller, proof="Test build on TestFlight and Google Play internal testing"
        )
        # Completed: every stage released.
        menu = _escrow(
            seller,
            "Menu board photography",
            "Photos of 24 drinks and pastries for the menu boards and the website.",
            [("Shoot day at the Mill Street shop", 80_000), ("Edited photos, web and print sizes", 40_000)],
        )
        services.escrow_fund(escrow=menu, by=buyer)
        for m in menu.milestones.order_by("index"):
            services.milestone_release(milestone=m, by=buyer)
        # Cancelled before payment.
        flyers = _escrow(
            seller,
            "Opening-week flyers",
            "Flyer design and print for the Harbour Road opening, 2,000 copies.",
            [("Flyer design", 18_000), ("Print and delivery", 22_000)],
        )
        services.escrow_cancel(escrow=flyers, by=seller)
        # A stage in dispute: the buyer says the copy is missing what was agreed.
        website = _escrow(
            seller,
            "Website copy for five pages",
            "Home, menu, locations, catering and about pages, with search-friendly headings.",
            [("Home and menu pages", 30_000), ("Locations, catering and about pages", 30_000)],
        )
        services.escrow_fund(escrow=website, by=buyer)
        services.dispute_open(
            escrow=website,
            milestone=website.milestones.get(index=0),
            by=buyer,
            reason="The menu page leaves out the seasonal drinks and the allergy notes we agreed on.",
            evidence=services.EvidenceInput(
                text="The brief of 3 March lists seasonal drinks and allergy notes."
            ),
        )
        # A standard escrow (no milestones) disputed as a whole: the escrow itself is DISPUTED.
        machine = services.escrow_create(
            seller=seller,
            terms=EscrowTerms(
                title="Refurbished espresso machine",
                currency="USD",
                amount=420_000,
                description="A two-group espresso machine, serviced, with a 6-month warranty. "
                "One payment, released on delivery.",
                settlement_type="STANDARD",
            ),
            milestones=[],
        )
        services.escrow_fund(escrow=machine, by=buyer)
        services.dispute_open(
            escrow=machine, by=buyer, reason="It arrived with a leaking steam wand and a cracked drip tray."
        )
        # Refunded: the seller could not take the job on after all.
        kitchen = _escrow(
            seller,
            "Kitchen renovation drawings",
            "Layout and equipment drawings for the Mill Street kitchen, ready for the builder's quote.",
            [("Survey and layout options", 90_000), ("Final drawings and equipment list", 110_000)],
        )
        services.escrow_fund(escrow=kitchen, by=buyer)
        services.escrow_refund(escrow=kitchen, by=seller)
