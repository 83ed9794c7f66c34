"""What the browser tests share: viewport sizes and logging in through the real login page."""

from playwright.sync_api import Locator, Page, expect

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def log_in(page: Page, site: str, email: str, password: str = "pass-word-123") -> None:
    page.goto(site + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def balance_total(page: Page, name: str, currency: str = "USD") -> Locator:
    """The amount of one of the balance page's totals ("Available", "Held in escrow for you",
    ...), found as a person finds it: the currency's section, then the total's heading."""
    section = page.get_by_role("region", name=f"Your money in {currency}")
    return section.get_by_role("article", name=name).get_by_role("paragraph")
