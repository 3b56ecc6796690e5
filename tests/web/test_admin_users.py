"""/admin/users: administrators only; add, role, disable and enable, password and TOTP reset, delete."""

from __future__ import annotations

import re

import requests

from tests.web.conftest import Api
from tests.web.signin import csrf_token, sign_in_form, signed_in
from umfax.store.accounts import AccountStore
from umfax.web.second_factor import seal

NEW = "a brand new password"


def test_only_administrators_reach_the_page(api: Api) -> None:
    ann = signed_in(api, "ann")
    assert ann.get(api.url + "/admin/users", timeout=10).status_code == 403
    token = csrf_token(ann, api)
    sneaky = ann.post(
        api.url + "/admin/users",
        data={
            "csrf_token": token,
            "name": "x",
            "email": "x@example.com",
            "password": NEW,
            "password_again": NEW,
        },
        timeout=10,
    )
    assert sneaky.status_code == 403 and AccountStore(api.store).find("x") is None


def test_admin_manages_users(api: Api) -> None:
    root = signed_in(api, "root")
    page = root.get(api.url + "/admin/users", timeout=10)
    assert page.status_code == 200 and '<th scope="row">ann' in page.text
    token = csrf_token(root, api, "/admin/users")

    def post(path: str, **data: str) -> requests.Response:
        return root.post(
            api.url + path, data={"csrf_token": token, **data}, allow_redirects=False, timeout=10
        )

    added = post(
        "/admin/users", name="carol", email="carol@example.com", role="user", password=NEW, password_again=NEW
    )
    assert added.status_code == 303 and added.headers["location"] == "/admin/users?done=added"
    assert "The user was added." in root.get(api.url + added.headers["location"], timeout=10).text
    carol = AccountStore(api.store).get("carol")
    assert sign_in_form(requests.Session(), api, "carol", NEW).status_code == 303
    assert (
        post(
            "/admin/users", name="carol", email="c@example.com", password=NEW, password_again=NEW
        ).status_code
        == 400
    )

    assert post(f"/admin/users/{carol.user_id}/role", role="admin").status_code == 303
    assert AccountStore(api.store).get("carol").admin
    ann = AccountStore(api.store, api.config).get("ann")
    refused = post(f"/admin/users/{ann.user_id}/role", role="admin")
    assert refused.status_code == 400 and "[[users]]" in refused.text

    carol_browser = signed_in(api, "carol", NEW, set_password=False)
    assert post(f"/admin/users/{carol.user_id}/disable").status_code == 303
    assert carol_browser.get(api.url + "/", allow_redirects=False, timeout=10).status_code == 303
    assert post(f"/admin/users/{carol.user_id}/enable").status_code == 303

    AccountStore(api.store).set_totp_secret(carol.user_id, seal(api.config, "JBSWY3DPEHPK3PXPJBSWY3DP"))
    assert post(f"/admin/users/{carol.user_id}/totp-reset").status_code == 303
    assert not AccountStore(api.store).get("carol").has_totp
    assert (
        post(
            f"/admin/users/{carol.user_id}/password", password=NEW + "!", password_again=NEW + "!"
        ).status_code
        == 303
    )
    assert sign_in_form(requests.Session(), api, "carol", NEW + "!").status_code == 303

    me = AccountStore(api.store).get("root")
    assert post(f"/admin/users/{me.user_id}/disable").status_code == 400
    assert post("/admin/users/99999/disable").status_code == 404
    assert post(f"/admin/users/{carol.user_id}/delete").status_code == 303
    assert AccountStore(api.store).find("carol") is None
    assert not re.search(r">carol<", root.get(api.url + "/admin/users", timeout=10).text)
