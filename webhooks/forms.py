from django import forms


class EndpointForm(forms.Form):
    # Checked for real (scheme, public address) by services.webhook_endpoint_create.
    url = forms.CharField(max_length=2000, label="Endpoint URL")
    description = forms.CharField(max_length=200, required=False)
