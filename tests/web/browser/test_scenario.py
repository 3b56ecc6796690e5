"""Issue 18's scenario in Chromium against one real ``umfax serve`` on the default
simulated lines: a user signs in, uploads a PDF and a DOCX, checks the preview, faxes them
to the other simulated line, watches the status reach "sent" live, and finds the fax that
came back in on the other line in the inbox with its thumbnail; another user reaches none
of it by any URL.

The tests share the module's server and run in file order (each step builds on the
records of the one before); every step saves screenshots and runs axe on its pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conversion import makers
from tests.web.browser.browsing import Browsing
from tests.web.browser.checks import check_page, check_page_everywhere
from tests.web.browser.console_server import ConsoleServer
from tests.web.browser.layout import tab_stops

pytest.importorskip("umfax.web.pages.signin", reason="the sign-in pages (web-auth) are not on main yet")
pytest.importorskip("umfax.web.pages.send", reason="/send (web-send) is not on main yet")
pytest.importorskip("umfax.web.pages.inbox", reason="/faxes and /inbox (web-inbox) are not on main yet")
pytest.importorskip("umfax.store.console_routing", reason="console routes (web-admin) are not on main yet")

from tests.web.browser.people import Person, add_account, add_route, save_session

pytestmark = pytest.mark.browser

SENDING_LINE, RECEIVING_LINE = "+12125550100", "+12125550101"  # the default simulated lines
SENT_TIMEOUT_MS = 90_000


@dataclass
class Story:
    """What the scenario's steps hand on to the next."""

    ann: Person
    bob: Person
    documents: dict[str, Path] = field(default_factory=dict)
    job_id: int | None = None
    inbound_id: int | None = None

    def sent_fax(self) -> int:
        """The fax the sending step sent (that step failed, or was not selected: skip)."""
        if self.job_id is None:
            pytest.skip("needs the fax of the sending step")
        return self.job_id

    def received_fax(self) -> int:
        """The fax that came back in (the inbox step failed, or was not selected: skip)."""
        if self.inbound_id is None:
            pytest.skip("needs the received fax of the inbox step")
        return self.inbound_id


@pytest.fixture(scope="module")
def story(
    console: ConsoleServer, chromium: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Story]:
    base = tmp_path_factory.mktemp("story")
    ann = Person("ann", "ann@example.com")
    bob = Person("bob", "bob@example.com")
    for person in (ann, bob):
        add_account(console, person)
        save_session(chromium, console, person, base)
    add_route(console, RECEIVING_LINE, (ann.name,))
    pdf = base / "letter.pdf"
    pdf.write_bytes(makers.pdf([makers.text_page(["Dear Bob,", "the umfax browser test sends this PDF."])]))
    docx = base / "memo.docx"
    docx.write_bytes(makers.docx(["Memo", "This DOCX page comes second."]))
    yield Story(ann, bob, {"pdf": pdf, "docx": docx})


def _as(browsing: Browsing, person: Person) -> Page:
    assert person.state is not None
    return browsing.page(storage_state=person.state)


def test_a_user_signs_in_and_lands_on_the_start_page(browsing: Browsing, story: Story) -> None:
    page = browsing.page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin\?next=/$"))
    check_page(browsing, page, "signin")
    page.get_by_label("Name or email").fill(story.ann.name)
    page.get_by_label("Password").fill(story.ann.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    check_page(browsing, page, "home")


def test_a_wrong_password_is_refused_on_the_page(browsing: Browsing, story: Story) -> None:
    page = browsing.page()
    page.goto("/signin")
    page.get_by_label("Name or email").fill(story.bob.name)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check_page(browsing, page, "signin-refused")


def test_a_user_previews_a_pdf_and_a_docx_and_sends_them_watching_the_status_live(
    browsing: Browsing, story: Story
) -> None:
    page = _as(browsing, story.ann)
    page.goto("/send")
    check_page(browsing, page, "send")
    page.get_by_label("Documents to fax").set_input_files([story.documents["pdf"], story.documents["docx"]])
    page.get_by_label("Fax numbers").fill(RECEIVING_LINE)
    page.get_by_label("Add a cover page").check()
    page.get_by_label("To", exact=True).fill("Bob at the other line")
    page.get_by_label("Subject").fill("Browser test")
    browsing.shot(page, "send-filled")
    page.get_by_role("button", name="Preview", exact=True).click()

    expect(page.get_by_role("heading", name="Preview", level=1)).to_be_visible(timeout=60_000)
    images = page.locator("ol.fax-pages img")
    expect(images).to_have_count(3)  # the cover, the PDF's page, the DOCX's page
    for index in range(3):  # every page rendered: the image loaded and is not empty
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 100
    expect(page.locator("#summary")).to_contain_text("3 pages")
    check_page(browsing, page, "preview")

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page).to_have_url(re.compile(r"/faxes/\d+$"))
    story.job_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("body[data-live='open']")).to_have_count(1)  # the event stream is open
    page.evaluate("() => { window.notReloaded = true; }")
    state = page.locator("[data-live-job] [data-field='state']")
    browsing.shot(page, "fax-sending")
    expect(state).to_have_text("sent", timeout=SENT_TIMEOUT_MS)
    assert page.evaluate("() => window.notReloaded === true"), "the page was reloaded"
    assert page.evaluate("() => window.umfaxLive.received.length") > 0
    expect(page.locator("[data-live-job] [data-field='pages']")).to_have_text("3 of 3")
    page.reload()
    check_page(browsing, page, "fax-sent")
    expect(page.get_by_role("cell", name="ok", exact=False).first).to_be_visible()


def test_the_fax_comes_back_in_on_the_other_line_with_its_thumbnail(browsing: Browsing, story: Story) -> None:
    story.sent_fax()
    page = _as(browsing, story.ann)
    link = page.locator("table a[href^='/inbox/']").first
    for _ in range(60):  # the receiving line stores the fax a moment after the sender is done
        page.goto("/inbox")
        if link.count():
            break
        page.wait_for_timeout(500)
    thumb = page.locator("img.thumb").first
    expect(thumb).to_be_visible()
    expect(thumb).to_have_js_property("complete", True)
    assert thumb.evaluate("img => img.naturalWidth") > 20
    expect(page.locator("tbody")).to_contain_text(SENDING_LINE[-4:])
    check_page(browsing, page, "inbox")
    thumb.click()
    expect(page).to_have_url(re.compile(r"/inbox/\d+$"))
    story.inbound_id = int(page.url.rsplit("/", 1)[1])
    check_page(browsing, page, "inbox-fax")


def test_another_user_reaches_none_of_it_by_any_url(browsing: Browsing, story: Story) -> None:
    job, inbound = story.sent_fax(), story.inbound_id
    page = _as(browsing, story.bob)
    paths = [
        f"/faxes/{job}",
        f"/faxes/{job}/pdf",
        f"/faxes/{job}/report",
        f"/faxes/{job}/pages/1.png",
        f"/faxes/{job}/pages/1.png?size=thumb",
    ]
    if inbound is not None:
        paths += [
            f"/inbox/{inbound}",
            f"/inbox/{inbound}/pages/1.png",
            f"/inbox/{inbound}/pages/1.png?size=thumb",
            f"/inbox/{inbound}/pdf",
            f"/inbox/{inbound}/audio",
        ]
    for path in paths:
        answer = page.request.get(path, max_redirects=0)
        assert answer.status == 404, f"bob GET {path}: {answer.status}"
    page.goto("/faxes")
    csrf = page.locator("input[name='csrf_token']").first.get_attribute("value")
    assert csrf
    posts = [f"/faxes/{job}/cancel", f"/faxes/{job}/retry", f"/faxes/{job}/resend"]
    if inbound is not None:
        actions = ("read", "note", "tags", "assign", "forward", "delete")
        posts += [f"/inbox/{inbound}/{action}" for action in actions]
    for path in posts:
        answer = page.request.post(
            path, form={
                "csrf_token": csrf, "number": SENDING_LINE, "note": "x", "tag": "x", "assignee": "1",
                "to_user": story.bob.name,
            },
            max_redirects=0,
        )
        assert answer.status == 404, f"bob POST {path}: {answer.status}"
    expect(page.locator(f"a[href='/faxes/{job}']")).to_have_count(0)
    events = page.request.get(f"/faxes/events?job={job}", timeout=5_000)
    assert events.status == 404, f"bob's live status of fax {job}: {events.status}"
    page.goto("/inbox")
    expect(page.locator("img.thumb")).to_have_count(0)
    check_page(browsing, page, "inbox-other-user")


PAGES = [
    ("signin", "/signin", None),
    ("home", "/", "ann"),
    ("send", "/send", "ann"),
    ("faxes", "/faxes", "ann"),
    ("fax", "/faxes/{job}", "ann"),
    ("inbox", "/inbox", "ann"),
    ("inbox-fax", "/inbox/{inbound}", "ann"),
    ("contacts", "/contacts", "ann"),
]


@pytest.mark.parametrize(("name", "path", "who"), PAGES, ids=[name for name, _, _ in PAGES])
def test_every_page_passes_axe_and_fits_a_phone_and_200_percent_zoom(
    browsing: Browsing, story: Story, name: str, path: str, who: str | None
) -> None:
    job = story.sent_fax() if "{job}" in path else None
    inbound = story.received_fax() if "{inbound}" in path else None
    person = {"ann": story.ann, "bob": story.bob}.get(who or "")
    state = person.state if person else None
    check_page_everywhere(browsing, path.format(job=job, inbound=inbound), name, state)


#: The controls Tab must reach on a page (``tag:label`` as :func:`layout.focused` names them).
MAIN_CONTROLS = {
    "/signin": ["input:Name or email", "input:Password", "button:Sign in"],
    "/send": ["input:Documents to fax", "textarea:Fax numbers", "input:Add a cover page", "button:Preview"],
    "/inbox": ["input:Number", "input:Tag", "button:Search"],
}


@pytest.mark.parametrize("path", list(MAIN_CONTROLS))
def test_tab_reaches_the_main_controls(browsing: Browsing, story: Story, path: str) -> None:
    state = None if path == "/signin" else story.ann.state
    page = browsing.page(storage_state=state)
    page.goto(path)
    stops = tab_stops(page, limit=80)
    assert stops[0].startswith("a:Skip to"), stops[:3]
    missing = [control for control in MAIN_CONTROLS[path] if control not in stops]
    assert not missing, f"Tab on {path} never reaches {missing}; it visits {stops}"
