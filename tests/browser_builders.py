"""Helpers of the browser tests (tests/e2e/*_browser.py), whose fixtures are in tests/e2e/conftest.py:
Debian's Chromium driven by Playwright against the real application served by uvicorn."""

from __future__ import annotations

import re
import socket

from playwright.sync_api import Page, expect

from builders import PASSWORD

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    """A TCP port of 127.0.0.1 free at the time of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def browser_sign_in(page: Page, console_url: str, *, username: str = "officer") -> None:
    """Sign in through the console's login form, reached by the redirect from the console's home."""
    page.goto(f"{console_url}/console")
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Xin chào, {username.title()}")
