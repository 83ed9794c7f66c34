"""Every page a seller, a buyer and staff can reach (`tests/page_sweep.pages()` over the demo data),
forms after bad input too, read as a person reads them: no "minor units", no field path like
milestones[1] or milestones.0, no "decimal string" or other words of the API, and no internal
id outside the ids shown for copying. Each page answers with the status it should."""

import pytest
from django.test import Client

from tests.page_sweep import build_world, pages, problems

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the demo's endpoint is on this machine
    return build_world()


def test_every_page_speaks_a_persons_words(world):
    clients = {"anonymous": Client()}
    for who, user in world.users.items():
        clients[who] = Client()
        clients[who].force_login(user)
    failures = []
    for page in pages(world):
        client = clients[page.who]
        if page.post is None:
            response = client.get(page.path)
        else:
            response = client.post(page.post_to or page.path, page.post, follow=True)
        if response.status_code not in page.status:
            failures.append(f"{page.name} ({page.path}): status {response.status_code}, not {page.status}")
            continue
        for problem in problems(response.content.decode(), ids_checked=page.ids_checked):
            failures.append(f"{page.name} ({page.path}): {problem}")
    assert not failures, "\n".join(failures)


def test_the_reader_finds_what_it_should():
    """The checks themselves: each pattern found in text, an id allowed only inside <code>."""
    html = (
        "<p>milestones[1].amount must be a decimal string</p><p>in minor units</p>"
        "<p>refund request rfq_0123456789abcdef01234567</p><code>intent_0123456789abcdef01234567</code>"
        '<code>milestone_0123456789abcdef01234567</code><input aria-label="milestones.0">'
        "<script>var x = 'minor units';</script>"
    )
    found = "\n".join(problems(html))
    assert "milestones[1]" in found and "milestones.0" in found and "decimal string" in found
    assert '"minor units"' in found and "rfq_0123456789abcdef01234567" in found
    assert "milestone_0123456789abcdef01234567" in found
    assert "intent_0123456789abcdef01234567" not in found
    assert len(problems(html)) == 7
    assert problems("<p>Stage 2 · 1,000.00 USD, fee schedule 2025.1</p>") == []
