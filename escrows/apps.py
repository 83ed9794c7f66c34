from django.apps import AppConfig


class EscrowsConfig(AppConfig):
    name = "escrows"
    default_auto_field = "django.db.models.BigAutoField"
