"""Payluk's escrow API: envelope {"status", "message", "data"}, integer amounts in major units,
`customer-id` naming whom the call acts for. One module per resource; base.py holds what they
share."""
