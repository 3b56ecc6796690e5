"""The console is served beside the API: sign-in redirect, security headers, static files."""

from __future__ import annotations

import requests

from tests.web.conftest import Api


def test_console_asks_for_sign_in_and_keeps_the_api_apart(api: Api) -> None:
    home = requests.get(api.url + "/", allow_redirects=False, timeout=10)
    assert home.status_code == 303
    assert home.headers["location"].startswith("/signin?next=/")
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
    assert "script-src 'self';" in home.headers["content-security-policy"]
    assert home.headers["x-frame-options"] == "DENY"
    faxes = requests.get(api.url + "/api/v1/faxes", timeout=10)
    assert faxes.status_code == 401 and "content-security-policy" not in faxes.headers
    css = requests.get(api.url + "/static/console.css", timeout=10)
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
