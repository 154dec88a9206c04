"""Headless Chromium (Debian's chromium and chromedriver) driven by Selenium, for the UI checks."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Headless as root in a sandboxless container; the rest keeps Chromium from calling out to
# Google's services, which this machine's closed network refuses.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
]


@contextmanager
def chromium():
    # Both binaries named: Selenium Manager, which would look for them online, is not called.
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        try:
            yield driver
        finally:
            driver.quit()


def send_basic_auth(driver, user: str, password: str) -> None:
    """Every later request of the page carries this HTTP Basic login (MLflow's basic-auth app asks
    for one; headless Chromium cannot answer the browser's login prompt)."""
    import base64

    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})


def wait_for_text(driver, text: str, timeout: float = 60, ignore_case: bool = False) -> None:
    """Until ``text`` shows in the rendered page (the UIs are single-page apps that fill in late)."""
    from selenium.webdriver.support.ui import WebDriverWait

    def shown(d) -> bool:
        page = d.find_element("tag name", "body").text
        return text.lower() in page.lower() if ignore_case else text in page

    WebDriverWait(driver, timeout, poll_frequency=0.5).until(
        shown,
        message=f"{text!r} did not appear on {driver.current_url}",
    )


def wait_for_url(driver, accept, timeout: float = 60) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.5).until(
        lambda d: accept(d.current_url), message=f"still on {driver.current_url}"
    )


def wait_for_element(driver, by: str, value: str, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.5).until(
        lambda d: d.find_element(by, value), message=f"no element {by}={value!r} on {driver.current_url}"
    )


def screenshot(driver, directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
