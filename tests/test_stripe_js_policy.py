"""The Content-Security-Policy lets Stripe.js in only when cards go through Stripe: its script and
frames from js.stripe.com (and its subdomains, 3D Secure from hooks.stripe.com) and its calls to
api.stripe.com, as Stripe's security guide lists them, derived from STRIPE_JS_URL; a stand-in
served from elsewhere gets its own origin. Without Stripe no page may load anything of it."""

import json
import os
import subprocess
import sys
from pathlib import Path

from escrow_site.settings import with_stripe_js

BASE = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "frame-ancestors": ["'none'"],
}


def policy_with_env(**env: str) -> dict[str, list[str]]:
    """SECURE_CSP as the settings module builds it from this environment."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    code = "import json, escrow_site.settings as s; print(json.dumps(s.SECURE_CSP))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**environ, **env},
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_stripes_own_library_gets_the_origins_stripe_documents():
    policy = with_stripe_js(BASE, "https://js.stripe.com/v3/")
    assert policy["script-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"]
    assert policy["frame-src"] == [
        "'self'",
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "https://hooks.stripe.com",
    ]
    assert policy["connect-src"] == ["'self'", "https://api.stripe.com"]
    assert {k: policy[k] for k in ("default-src", "img-src", "frame-ancestors")} == {
        k: BASE[k] for k in ("default-src", "img-src", "frame-ancestors")
    }
    assert BASE["script-src"] == ["'self'"]  # the policy given is left as it was


def test_a_stand_in_served_elsewhere_gets_its_own_origin():
    policy = with_stripe_js(BASE, "http://127.0.0.1:5123/v3/")
    for directive in ("script-src", "frame-src", "connect-src"):
        assert policy[directive] == ["'self'", "http://127.0.0.1:5123"], directive


def test_the_settings_allow_stripe_js_only_with_both_keys():
    off = policy_with_env(STRIPE_SECRET_KEY="sk_test_x")
    assert "stripe" not in json.dumps(off)
    assert "connect-src" not in off and off["script-src"] == ["'self'"]

    on = policy_with_env(STRIPE_SECRET_KEY="sk_test_x", STRIPE_PUBLISHABLE_KEY="pk_test_x")
    assert on["script-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"]
    assert on["connect-src"] == ["'self'", "https://api.stripe.com"]

    elsewhere = policy_with_env(
        STRIPE_SECRET_KEY="sk_test_x",
        STRIPE_PUBLISHABLE_KEY="pk_test_x",
        STRIPE_JS_URL="http://127.0.0.1:5123/v3/",
    )
    assert elsewhere["script-src"] == ["'self'", "http://127.0.0.1:5123"]
