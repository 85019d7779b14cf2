"""The operations console in a real headless Chromium (Debian's, through chromium-driver).

An officer signs in with their own key, finds a held order, releases it, and the order ships;
the console shows it. Screenshots of every page go to CONSOLE_SCREENSHOT_DIR
(.data/console-screenshots unless set; docs/console holds the README's copies).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import OPERATOR_KEYS
from tests.e2e.orders import wait_for_status
from tests.e2e.test_saga import held_order
from tests.infrastructure import ROOT, devstack

pytestmark = pytest.mark.e2e

CONSOLE_PORT = 18005
SCREENSHOTS = Path(os.environ.get("CONSOLE_SCREENSHOT_DIR", ROOT / ".data" / "console-screenshots"))


@pytest.fixture(scope="module")
def console(stack) -> Iterator[str]:
    # No trace backend in this test: the order page falls back to a search link.
    ports = {service: stack.port(service) for service in devstack.SERVICES}
    yield devstack.start_console(
        ports, port=CONSOLE_PORT, name="console-test", trace_ui="http://127.0.0.1:1/zipkin"
    )
    devstack.stop_pid(devstack.RUN / "console-test.pid", "console-test")


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1280,1000")
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def visible(browser: WebDriver, css: str, timeout: float = 10):
    return WebDriverWait(browser, timeout).until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
    )


def sign_in(browser: WebDriver, console: str, operator: str) -> None:
    browser.delete_all_cookies()
    browser.get(f"{console}/sign-in")
    visible(browser, "#key").send_keys(OPERATOR_KEYS[operator])
    browser.find_element(By.ID, "sign-in").click()
    assert operator in visible(browser, "#signed-in-as").text


def screenshot(browser: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(max(height + 40, 700), 2400))
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    browser.set_window_size(1280, 1000)


def test_a_wrong_key_does_not_sign_in(console, browser):
    browser.delete_all_cookies()
    browser.get(f"{console}/orders")
    assert browser.current_url.startswith(f"{console}/sign-in"), "pages need a sign-in"
    visible(browser, "#key").send_keys("not-a-key")
    browser.find_element(By.ID, "sign-in").click()
    assert "not a valid operator key" in visible(browser, "[role=alert]").text
    screenshot(browser, "sign-in")


def test_an_officer_releases_a_held_order_and_the_console_shows_it_shipped(
    console, browser, partner, databases
):
    order_id = held_order(partner)
    sign_in(browser, console, "officer.janssens")
    screenshot(browser, "overview")

    browser.find_element(By.LINK_TEXT, "Held declarations").click()
    row = visible(browser, f"tr[data-order-id='{order_id}']")
    screenshot(browser, "held-declarations")
    row.find_element(By.LINK_TEXT, "Review").click()
    assert visible(browser, "#declaration-status").text == "Held"
    assert "denied party" in browser.find_element(By.ID, "assessment").text
    screenshot(browser, "declaration")

    browser.find_element(By.ID, "release-reason").send_keys("different person: birth date checked")
    browser.find_element(By.ID, "release").click()

    assert "released under your name" in visible(browser, "#decision-done").text
    assert browser.find_element(By.ID, "declaration-status").text == "Cleared"
    decisions = browser.find_element(By.CSS_SELECTOR, "section table").text
    assert "officer.janssens" in decisions
    wait_for_status(partner, order_id, {"SHIPPED"})

    browser.get(f"{console}/")
    browser.find_element(By.ID, "q").send_keys(order_id)
    browser.find_element(By.ID, "find").click()
    assert visible(browser, "#order-status").text == "Shipped"
    timeline = browser.find_element(By.ID, "timeline").text
    assert "CustomsCleared" in timeline and "ShipmentDispatched" in timeline
    assert "ehub.order_id" in browser.find_element(By.ID, "trace-link").get_attribute("href")
    # An officer sees the order, not the payment: that takes the finance role.
    assert "Your role does not show payments" in browser.find_element(By.ID, "payment").text


def test_an_administrator_sees_every_panel_of_a_shipped_order(console, browser, partner):
    order_id = held_order(partner)
    sign_in(browser, console, "e2e.admin")
    browser.get(f"{console}/customs/{order_id}")
    browser.find_element(By.ID, "release-reason").send_keys("checked against the passport")
    browser.find_element(By.ID, "release").click()
    visible(browser, "#decision-done")
    order = wait_for_status(partner, order_id, {"SHIPPED"})

    browser.get(f"{console}/orders?q={order['partner_reference']}")
    assert visible(browser, "#order-status").text == "Shipped"
    assert "Captured" in browser.find_element(By.ID, "payment").text
    # Booked and built up into a ULD; with the test stack's hub clock stopped it waits there.
    assert browser.find_element(By.ID, "shipment-status").text == "Consolidated"
    screenshot(browser, "order")

    browser.get(f"{console}/departures")
    assert visible(browser, "h1").text == "Departures"
    assert browser.find_elements(By.CSS_SELECTOR, f"a[href='/orders/{order_id}']"), (
        "the shipped parcel is listed in its ULD"
    )
    screenshot(browser, "departures")
    for page, heading in (("/stuck", "Stuck orders"), ("/dead-letters", "Dead letters")):
        browser.get(f"{console}{page}")
        assert visible(browser, "h1").text == heading
        assert not browser.find_elements(By.CSS_SELECTOR, "p.error"), browser.page_source
        screenshot(browser, page.strip("/"))
