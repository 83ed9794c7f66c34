"""Finternet's payment-intents API, and the routes this product adds on its conventions
(disputes, refunds, mutual cancellation, the review clock, the fee quote): its error envelope
{"error": {"code", "message", "type"}}, decimal-string amounts, API-key or session auth,
Idempotency-Key on POST. One module per resource; base.py holds what they share."""
