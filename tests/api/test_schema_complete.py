"""The OpenAPI schema is generated without a warning or an error, valid, documents every route
under /v1/ (but the catch-alls answering unknown paths and the schema's own pages), and groups
each by its surface."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from escrows.api.urls import PROVIDER_PREFIXES

METHODS = ("get", "post", "put", "patch", "delete")
SCHEMA_PAGES = (SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView)
PAYLUK_TAGS = {"escrow-provider", "escrow-provider-not-offered"}
FINTERNET_TAGS = {
    "payment-intents",
    "payment-intents-not-offered",
    "conditional-payments",
    "disputes",
    "refunds",
    "change orders",
    "review clock",
    "fee quote",
}


@pytest.fixture(scope="module")
def schema():
    GENERATOR_STATS.reset()
    generated = SchemaGenerator().get_schema(request=None, public=True)
    warnings, errors = dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    return generated, warnings, errors


def test_generated_without_warnings_or_errors_and_valid(schema):
    generated, warnings, errors = schema
    assert (warnings, errors) == ({}, {})
    validate_schema(generated)


def _openapi_path(regex: str) -> str:
    """`^escrow/edit/(?P<payment_token>[...]{1,100})$` -> `escrow/edit/{payment_token}`."""
    out, i = [], 0
    while i < len(regex):
        named = re.match(r"\(\?P<(\w+)>", regex[i:])
        if named is None:
            out.append(regex[i])
            i += 1
            continue
        depth, i = 1, i + named.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(regex[i], 0) if regex[i - 1] != "\\" else 0
            i += 1
        out.append("{" + named.group(1) + "}")
    return "".join(out).removeprefix("^").removesuffix("$")


def _routes(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix + _openapi_path(str(p.pattern)))
        elif isinstance(p, URLPattern):
            yield prefix + _openapi_path(str(p.pattern)), p.callback


def api_routes() -> set[str]:
    routes = set()
    for path, callback in _routes(get_resolver().url_patterns):
        view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if not path.startswith("v1/") or (view is not None and issubclass(view, SCHEMA_PAGES)):
            continue
        if "[\\s\\S]" in path:  # the catch-alls: an unknown path gets the surface's own 404
            continue
        routes.add("/" + path)
    return routes


def test_every_route_under_v1_is_documented(schema):
    generated, _, _ = schema
    routes = api_routes()
    # The walk found the surfaces' routes, old and new, not only a few.
    assert {
        "/v1/escrow/delete/{payment_token}",
        "/v1/payment-intents/{intent_id}/confirm",
        "/v1/payment-intents/public/{intent_id}/transaction-hash",
        "/v1/card/{card_id}",
        "/v1/webhooks",
    } <= routes
    assert routes - set(generated["paths"]) == set()


def test_every_operation_is_grouped_by_its_surface(schema):
    generated, _, _ = schema
    for path, operations in generated["paths"].items():
        first = path.removeprefix("/v1/").split("/")[0]
        surface = (
            PAYLUK_TAGS
            if first in PROVIDER_PREFIXES
            else {"webhooks"}
            if first == "webhooks"
            else FINTERNET_TAGS
        )
        for method in METHODS:
            if method in operations:
                tags = operations[method].get("tags", [])
                assert len(tags) == 1 and tags[0] in surface, (method, path, tags)


def test_the_not_offered_routes_are_documented_as_refused(schema):
    generated, _, _ = schema
    for path in (
        "/v1/payment-intents/{intent_id}/confirm",
        "/v1/payment-intents/public/{intent_id}/transaction-hash",
    ):
        assert list(generated["paths"][path]) == ["post"]
        operation = generated["paths"][path]["post"]
        assert operation["tags"] == ["payment-intents-not-offered"]
        assert list(operation["responses"]) == ["403"] and "not offered" in operation["description"]


def test_every_operation_names_exactly_its_paths_placeholders(schema):
    """A path parameter the path has no `{...}` for (or a placeholder with no parameter) makes the
    schema invalid OpenAPI and breaks the clients generated from it."""
    generated, _, _ = schema
    for path, operations in generated["paths"].items():
        placeholders = set(re.findall(r"\{(\w+)\}", path))
        for method in METHODS:
            if method in operations:
                parameters = [*operations.get("parameters", []), *operations[method].get("parameters", [])]
                named = {p["name"] for p in parameters if p["in"] == "path"}
                assert named == placeholders, (method, path, named)
                for p in parameters:
                    if p["in"] == "path":
                        assert p["required"] is True, (method, path, p["name"])
