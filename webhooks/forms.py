from django import forms

from .models import WebhookFormat


class EndpointForm(forms.Form):
    # Checked for real (scheme, public address) by services.webhook_endpoint_create.
    url = forms.CharField(max_length=2000, label="Endpoint URL")
    description = forms.CharField(max_length=200, required=False)
    # Checked again by the service, which names the choices when one is not a format.
    format = forms.ChoiceField(
        choices=WebhookFormat.choices,
        initial=WebhookFormat.NATIVE,
        required=False,
        label="Format",
        error_messages={"invalid_choice": "Choose one of the formats in the list."},
        help_text="What each request looks like. Choose Payluk or Finternet to receive their "
        "events, signed their way, so a receiver written for them works as it is.",
    )
