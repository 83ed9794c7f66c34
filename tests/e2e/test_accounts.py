"""Account basics in a real browser, at desktop and phone widths: a forgotten password reset from
the link in the email (read from the test outbox), two-factor sign-in with a code computed from
the secret the page shows (and a recovery code), and a buyer who signs up from a payment link,
confirms their email with the mailed code and lands back on it. Every account page is
screenshotted into test-artifacts/ and checked by axe-core: no critical or serious violation."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from tests.e2e.browser import DESKTOP, PHONE, log_in
from tests.factories import UserFactory
from tests.helpers import mailed_code, make_escrow, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": DESKTOP, "phone": PHONE}


def assert_no_serious_violations(page: Page, what: str) -> None:
    """axe-core (WCAG 2.x A and AA rules): no critical and no serious violation on the page."""
    results = Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]})
    bad = [v for v in results.response["violations"] if v.get("impact") in ("critical", "serious")]
    assert bad == [], f"{what}:\n{results.generate_report()}"


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width}px wide"


def check_page(page: Page, shots, name: str, widths: tuple[str, ...] = tuple(WIDTHS)) -> None:
    """Screenshot and axe at each width (both, unless the test runs at one)."""
    current = page.viewport_size
    for label, size in ((w, WIDTHS[w]) for w in widths):
        page.set_viewport_size(size)
        shots(page, f"accounts-{name}-{label}")
        assert_no_serious_violations(page, f"{name} at {label} width")
        if label == "phone":
            no_sideways_scroll(page)
    page.set_viewport_size(current)


def reset_link(email: str, site: str) -> str:
    [message] = [m for m in mail.outbox if m.to == [email] and "Set a new password" in m.subject]
    link = re.search(rf"{re.escape(site)}/accounts/password/reset/\S+/", message.body)
    assert link, message.body
    return link.group(0)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_forgotten_password_is_reset_from_the_emailed_link(
    browser: Browser, site: str, shots, settings, width: str
) -> None:
    settings.SITE_URL = site
    email = f"rosa.{width}@example.test"
    UserFactory(email=email, first_name="Rosa", last_name="Reset")
    page = browser.new_context(viewport=WIDTHS[width]).new_page()

    page.goto(site + "/accounts/login/")
    check_page(page, shots, "00-login", (width,))
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    check_page(page, shots, "01-password-reset", (width,))
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    check_page(page, shots, "02-password-reset-sent", (width,))

    page.goto(reset_link(email, site))
    expect(page.get_by_role("heading", name="Set a new password")).to_be_visible()
    assert page.url.endswith("-set-password/")  # the key left the address bar
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("New password confirmation").fill("short")
    page.get_by_role("button", name="Set password and log in").click()
    expect(page.get_by_text("This password is too short")).to_be_visible()
    check_page(page, shots, "03-password-reset-set-error", (width,))
    page.get_by_label("New password", exact=True).fill("a-fresh-pass-phrase-7")
    page.get_by_label("New password confirmation").fill("a-fresh-pass-phrase-7")
    page.get_by_role("button", name="Set password and log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert User.objects.get(email=email).check_password("a-fresh-pass-phrase-7")

    # The used link no longer works.
    page.goto(reset_link(email, site))
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()
    check_page(page, shots, "04-password-reset-used-link", (width,))


def test_two_factor_sign_in_with_the_app_and_with_a_recovery_code(browser: Browser, site: str, shots) -> None:
    email = "tess.twofactor@example.test"
    UserFactory(email=email, first_name="Tess", last_name="Twofactor")
    page = browser.new_context(viewport=DESKTOP).new_page()
    log_in(page, site, email)

    # -- the account page, then two-factor sign-in turned on ---------------------------------------
    page.locator("header").get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.locator("[data-account-email]")).to_have_text(email)
    check_page(page, shots, "10-account")
    page.get_by_role("link", name="Turn on").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in", exact=True)).to_be_visible()
    check_page(page, shots, "11-two-factor-off")
    page.get_by_role("button", name="Turn on").click()
    # It asks for the password again first.
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    check_page(page, shots, "12-confirm-its-you")
    page.get_by_label("Password").fill("pass-word-123")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Turn on two-factor sign-in")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    check_page(page, shots, "13-two-factor-activate")
    secret = page.locator("[data-totp-secret]").input_value()
    page.get_by_label("Authenticator code").fill("000000" if totp_code(secret) != "000000" else "111111")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    page.get_by_label("Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator("[data-recovery-codes]").input_value().split()
    assert len(codes) == 10
    check_page(page, shots, "14-recovery-codes")
    page.goto(site + "/accounts/2fa/")
    check_page(page, shots, "15-two-factor-on")
    page.locator("header").get_by_role("button", name="Log out").click()

    # -- desktop: password, then the app's code ------------------------------------------------------
    page.goto(site + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("pass-word-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Enter your sign-in code")).to_be_visible()
    check_page(page, shots, "16-two-factor-sign-in")
    page.get_by_label("Code").fill("000000" if totp_code(secret) != "000000" else "111111")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    page.get_by_label("Code").fill(totp_code(secret))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # -- phone: password, then a recovery code (the app's code of this half-minute is spent) ------------
    phone = browser.new_context(viewport=PHONE).new_page()
    phone.goto(site + "/accounts/login/")
    phone.get_by_label("Email").fill(email)
    phone.get_by_label("Password").fill("pass-word-123")
    phone.get_by_role("button", name="Log in").click()
    expect(phone.get_by_role("heading", name="Enter your sign-in code")).to_be_visible()
    no_sideways_scroll(phone)
    shots(phone, "accounts-17-two-factor-sign-in-recovery-code-phone")
    phone.get_by_label("Code").fill(codes[0])
    phone.get_by_role("button", name="Log in").click()
    expect(phone.get_by_role("heading", name="Dashboard")).to_be_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_buyer_signs_up_from_the_payment_link_and_lands_back_on_it(
    browser: Browser, site: str, shots, width: str
) -> None:
    seller = UserFactory(email=f"sid.{width}@example.test", first_name="Sid", last_name="Seller")
    escrow = make_escrow(seller, parts=(40_000, 60_000), title="Shop fit-out")
    pay_url = f"{site}/pay/{escrow.payment_token}"
    email = f"bo.{width}@example.test"
    page = browser.new_context(viewport=WIDTHS[width]).new_page()

    page.goto(pay_url)
    sign_up_link = page.locator('header a[href^="/accounts/signup/"]')
    assert sign_up_link.get_attribute("href") == f"/accounts/signup/?next=%2Fpay%2F{escrow.payment_token}"
    if sign_up_link.is_visible():
        sign_up_link.click()
    else:  # a phone's menu may fold the header's links away; the link itself is what counts
        page.goto(site + sign_up_link.get_attribute("href"))
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    check_page(page, shots, "20-signup-from-payment-link", (width,))
    page.get_by_label("Email").fill(email)
    page.get_by_label("First name").fill("Bo")
    page.get_by_label("Last name").fill("Buyer")
    page.get_by_label("Password", exact=True).fill("a-long-pass-phrase-9")
    page.get_by_label("Password confirmation").fill("a-long-pass-phrase-9")
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", name="Confirm your email")).to_be_visible()
    expect(page.get_by_text(email, exact=True)).to_be_visible()
    check_page(page, shots, "21-confirm-email", (width,))
    page.get_by_label("Code").fill("WRONG-CODE")
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    page.get_by_label("Code").fill(mailed_code(email))
    page.get_by_role("button", name="Confirm", exact=True).click()

    expect(page).to_have_url(pay_url)
    expect(page.get_by_text("Shop fit-out").first).to_be_visible()
    expect(page.get_by_text("1,015.00 USD").first).to_be_visible()
    shots(page, f"accounts-22-back-on-the-payment-link-{width}")
