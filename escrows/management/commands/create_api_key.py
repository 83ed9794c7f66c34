from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from accounts.models import User
from accounts.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key (the account too, if missing) and print it: the only time it is shown."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--platform", action="store_true", help="mark the account as a platform")
        parser.add_argument("--name", default="CLI key")

    def handle(self, *args: object, email: str, platform: bool, name: str, **options: object) -> None:
        email = email.strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"Not a valid email address: {email!r}") from None
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email, None, is_platform=platform)
            self.stderr.write(f"Created account {email} ({user.customer_id})")
        elif platform and not user.is_platform:
            user.is_platform = True
            user.save(update_fields=["is_platform"])
        _, key = api_key_create(user=user, name=name)
        self.stdout.write(key)
