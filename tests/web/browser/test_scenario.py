"""Issue 18's scenario in Chromium against one real ``umfax serve`` on embedded defaults
(SQLite, the two default simulated lines, which call each other): the first-run link
creates the administrator, who adds two users and routes the second line's number to ann;
ann turns on TOTP and signs in with it, uploads a PDF and a DOCX, checks the preview,
faxes them to the second line, watches the status reach "sent" live, and finds the fax that
came back in on the other line in her inbox with its thumbnail; bob reaches none of it by
any URL; the administrator sees the lines busy during a call, edits the route, and the next
fax goes to bob.  Every step saves screenshots; pages met only on the way (setup, TOTP code,
preview) get axe there, the others in the sweep of every page at the end.

The tests share the session's server and run in file order, each step building on the one
before (a step whose prerequisite did not run is skipped).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.conversion import makers
from tests.web.browser.browsing import Browsing
from tests.web.browser.checks import check_page, check_page_everywhere
from tests.web.browser.console_server import ConsoleServer
from tests.web.browser.layout import tab_stops
from tests.web.browser.people import Person, enrol_totp, keep_session, save_session, sign_in


def _missing(module: str, what: str) -> pytest.MarkDecorator:
    """Skip a step while its pages (another task's module) are not in the tree yet."""
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"{what} is not on main yet")


needs_send = _missing("umfax.web.pages.send", "/send (web-send)")
needs_inbox = _missing("umfax.web.pages.inbox", "/faxes and /inbox (web-inbox)")
needs_admin = _missing("umfax.web.pages.admin_routing", "/admin/lines, /admin/routing... (web-admin)")
needs_contacts = _missing("umfax.web.pages.contacts", "/contacts (web-send)")

pytestmark = pytest.mark.browser

SENDING_LINE, RECEIVING_LINE = "+12125550100", "+12125550101"  # the default simulated lines
SENT_TIMEOUT_MS = 90_000
#: Bob's page subscribes to the live status of "his" faxes (his list is empty, so the
#: page's own script does not) and notes every fax it hears of.
LISTEN_JS = """() => {
  window.heard = { open: false, jobs: [] };
  const source = new EventSource('/faxes/events');
  source.addEventListener('open', () => { window.heard.open = true; });
  source.addEventListener('status', message => { window.heard.jobs.push(JSON.parse(message.data).job); });
}"""


@dataclass
class Story:
    """What the scenario's steps hand on to the next."""

    console: ConsoleServer
    sessions: Path
    root: Person
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
def story(console: ConsoleServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    base = tmp_path_factory.mktemp("story")
    pdf = base / "letter.pdf"
    pdf.write_bytes(makers.pdf([makers.text_page(["Dear Bob,", "the umfax browser test sends this PDF."])]))
    docx = base / "memo.docx"
    docx.write_bytes(makers.docx(["Memo", "This DOCX page comes second."]))
    long_pdf = base / "report.pdf"
    pages = [makers.text_page([f"Report page {n}", "x " * 40] * 30) for n in range(1, 6)]
    long_pdf.write_bytes(makers.pdf(pages))
    yield Story(
        console,
        base,
        Person("root", "root@example.com"),
        Person("ann", "ann@example.com"),
        Person("bob", "bob@example.com"),
        {"pdf": pdf, "docx": docx, "report": long_pdf},
    )


def _as(browsing: Browsing, person: Person) -> Page:
    if person.state is None:
        pytest.skip(f"{person.name} is not signed in (an earlier step did not run)")
    return browsing.page(storage_state=person.state)


def test_the_first_run_link_creates_the_administrator(browsing: Browsing, story: Story) -> None:
    printed = story.console.wait_for_stderr(r"open (http://\S+/setup/\S+) to create the first")
    link = printed.group(1)
    page = browsing.page()
    page.goto(link)
    check_page(browsing, page, "setup")
    page.get_by_label("User name").fill(story.root.name)
    page.get_by_label("Email").fill(story.root.email)
    page.get_by_label("Password (at least 10 characters)").fill(story.root.password)
    page.get_by_label("Password again").fill(story.root.password)
    page.get_by_role("button", name="Create administrator").click()
    expect(page.get_by_role("link", name="Admin", exact=True)).to_be_visible()
    keep_session(page, story.root, story.sessions)
    browsing.shot(page, "home-admin")
    again = browsing.page()
    answer = again.goto(link)
    assert answer is not None and answer.status == 404, "the setup link worked twice"


def test_the_administrator_adds_two_users(browsing: Browsing, story: Story) -> None:
    page = _as(browsing, story.root)
    page.goto("/admin/users")
    browsing.shot(page, "admin-users")
    for person in (story.ann, story.bob):
        form = page.locator("form[action='/admin/users']")
        form.get_by_label("User name").fill(person.name)
        form.get_by_label("Email").fill(person.email)
        form.get_by_label("Password (at least 10 characters)").fill(person.password)
        form.get_by_label("Password again").fill(person.password)
        form.get_by_role("button", name="Add user").click()
        expect(page.get_by_role("rowheader", name=person.name, exact=True)).to_be_visible()
    browsing.shot(page, "admin-users-added")
    bob_page = browsing.page()
    sign_in(bob_page, story.bob)
    keep_session(bob_page, story.bob, story.sessions)


def test_a_user_turns_on_totp_and_signs_in_with_it(browsing: Browsing, story: Story) -> None:
    if story.bob.state is None:
        pytest.skip("the users were not added")
    page = browsing.page()
    sign_in(page, story.ann)
    enrol_totp(page, story.ann)
    browsing.shot(page, "totp-on")
    page.goto("/account")
    expect(page.get_by_text("Signing in asks for a code")).to_be_visible()
    browsing.shot(page, "account")
    page.get_by_role("button", name="Sign out").click()

    page.goto("/signin")
    page.get_by_label("Name or email").fill(story.ann.name)
    page.get_by_label("Password").fill(story.ann.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/signin/totp"))
    check_page(browsing, page, "signin-totp")
    page.get_by_label(re.compile("code", re.I)).fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_be_visible()  # a wrong code is refused on the page
    save_session(browsing.browser, story.console, story.ann, story.sessions)


@needs_admin
def test_the_administrator_routes_the_second_line_to_the_user(browsing: Browsing, story: Story) -> None:
    page = _as(browsing, story.root)
    page.goto("/admin/routing")
    browsing.shot(page, "admin-routing")
    add = page.locator("form[action='/admin/routing/routes']")
    add.get_by_label("Users (names, comma-separated)").fill(story.ann.name)
    add.get_by_label("Called number (DID)").fill(RECEIVING_LINE)
    add.get_by_role("button", name="Add route").click()
    expect(page.locator("ol.routes > li")).to_have_count(1)
    page.get_by_label("To (called number)").fill(RECEIVING_LINE)
    page.get_by_role("button", name="Try").click()
    expect(page.get_by_role("status")).to_contain_text(f"Goes to: {story.ann.name}")
    browsing.shot(page, "admin-routing-dry-run")


@needs_send
@needs_inbox
def test_a_user_previews_a_pdf_and_a_docx_and_sends_them_watching_the_status_live(
    browsing: Browsing, story: Story
) -> None:
    page = _as(browsing, story.ann)
    page.goto("/send")
    browsing.shot(page, "send")
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
    intruder = _as(browsing, story.bob)  # ann's preview and its page images are hers alone
    for path in (urlsplit(page.url).path, urlsplit(page.url).path + "/page/1.png"):
        answer = intruder.request.get(path, max_redirects=0)
        assert answer.status == 404, f"bob GET {path}: {answer.status}"

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
    browsing.shot(page, "fax-sent")
    expect(page.get_by_role("cell", name="ok", exact=False).first).to_be_visible()


@needs_inbox
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
    browsing.shot(page, "inbox")
    thumb.click()
    expect(page).to_have_url(re.compile(r"/inbox/\d+$"))
    story.inbound_id = int(page.url.rsplit("/", 1)[1])
    browsing.shot(page, "inbox-fax")
    viewer = page.locator("[data-viewer]")  # zoom and rotate by keyboard
    width = viewer.locator("img").first.bounding_box()
    page.get_by_role("button", name="Zoom in").focus()
    page.keyboard.press("Enter")
    expect(viewer).to_have_class(re.compile(r"\bzoom-150\b"))
    page.get_by_role("button", name="Rotate").focus()
    page.keyboard.press("Space")
    expect(viewer).to_have_class(re.compile(r"\brot-90\b"))
    zoomed = viewer.locator("img").first.bounding_box()
    assert width is not None and zoomed is not None and zoomed["width"] != width["width"]
    browsing.shot(page, "inbox-fax-zoomed-rotated")


@needs_inbox
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
    for search in ("", "?number=" + SENDING_LINE, "?station=" + SENDING_LINE[-4:]):
        page.goto("/inbox" + search)
        expect(page.locator("img.thumb")).to_have_count(0)
    browsing.shot(page, "inbox-other-user")


@needs_admin
@needs_send
@needs_inbox
def test_the_administrator_sees_the_lines_busy_and_an_edited_route_routes_the_next_fax(
    browsing: Browsing, story: Story
) -> None:
    first = story.received_fax()
    admin = _as(browsing, story.root)
    admin.goto("/admin/routing")
    route = admin.locator("ol.routes > li").first
    route.get_by_label("Users (names, comma-separated)").fill(story.bob.name)
    route.get_by_role("button", name=re.compile("Save")).click()
    saved = admin.locator("ol.routes > li").first.get_by_label("Users (names, comma-separated)")
    expect(saved).to_have_value(story.bob.name)
    admin.goto("/admin/lines")
    browsing.shot(admin, "admin-lines-idle")
    watcher = _as(browsing, story.bob)  # bob's stream of live status must carry nothing of ann's fax
    watcher.goto("/faxes")
    watcher.evaluate(LISTEN_JS)
    watcher.wait_for_function("() => window.heard.open")

    ann = _as(browsing, story.ann)
    ann.goto("/send")
    ann.get_by_label("Documents to fax").set_input_files([story.documents["report"]])
    ann.get_by_label("Fax numbers").fill(RECEIVING_LINE)
    ann.get_by_role("button", name="Send without preview").click()
    expect(ann).to_have_url(re.compile(r"/faxes/\d+$"), timeout=60_000)
    second = int(ann.url.rsplit("/", 1)[1])

    busy = admin.locator("#lines-live tbody tr", has=admin.locator(".state-sending"))
    expect(busy).to_have_count(1, timeout=30_000)  # refreshed in place by admin.js
    expect(busy.locator(f"a[href='/faxes/{second}']")).to_be_visible()
    expect(admin.locator("#lines-live .state-receiving")).to_have_count(1)
    browsing.shot(admin, "admin-lines-busy")
    expect(ann.locator("[data-live-job] [data-field='state']")).to_have_text("sent", timeout=SENT_TIMEOUT_MS)
    expect(admin.locator("#lines-live .state-sending")).to_have_count(0, timeout=15_000)

    bob_inbox = _as(browsing, story.bob)
    rows = bob_inbox.locator("table a[href^='/inbox/'] img.thumb")
    for _ in range(60):
        bob_inbox.goto("/inbox")
        if rows.count():
            break
        bob_inbox.wait_for_timeout(500)
    expect(rows).to_have_count(1)
    browsing.shot(bob_inbox, "inbox-bob-routed")
    ann.goto("/inbox")
    expect(ann.locator("img.thumb")).to_have_count(1)  # still only the first fax
    expect(ann.locator(f"a[href='/inbox/{first}']").first).to_be_visible()
    heard = watcher.evaluate("() => window.heard.jobs")
    assert second not in heard, f"bob's page heard of ann's fax {second}: {heard}"


PAGES = [
    pytest.param("signin", "/signin", None, id="signin"),
    pytest.param("home", "/", "ann", id="home"),
    pytest.param("send", "/send", "ann", marks=needs_send, id="send"),
    pytest.param("faxes", "/faxes", "ann", marks=needs_inbox, id="faxes"),
    pytest.param("fax", "/faxes/{job}", "ann", marks=needs_inbox, id="fax"),
    pytest.param("inbox", "/inbox", "ann", marks=needs_inbox, id="inbox"),
    pytest.param("inbox-fax", "/inbox/{inbound}", "ann", marks=needs_inbox, id="inbox-fax"),
    pytest.param("contacts", "/contacts", "ann", marks=needs_contacts, id="contacts"),
    pytest.param("account", "/account", "ann", id="account"),
    pytest.param("admin", "/admin", "root", marks=needs_admin, id="admin"),
    pytest.param("admin-lines", "/admin/lines", "root", marks=needs_admin, id="admin-lines"),
    pytest.param("admin-queue", "/admin/queue", "root", marks=needs_admin, id="admin-queue"),
    pytest.param("admin-users", "/admin/users", "root", id="admin-users"),
    pytest.param("admin-routing", "/admin/routing", "root", marks=needs_admin, id="admin-routing"),
    pytest.param("admin-keys", "/admin/keys", "root", marks=needs_admin, id="admin-keys"),
    pytest.param("admin-outbox", "/admin/outbox", "root", marks=needs_admin, id="admin-outbox"),
    pytest.param("admin-audit", "/admin/audit", "root", marks=needs_admin, id="admin-audit"),
    pytest.param("admin-usage", "/admin/usage", "root", marks=needs_admin, id="admin-usage"),
    pytest.param("inbox-admin", "/inbox", "root", marks=needs_inbox, id="inbox-admin"),
    pytest.param("faxes-admin", "/faxes", "root", marks=needs_inbox, id="faxes-admin"),
]


@pytest.mark.parametrize(("name", "path", "who"), PAGES)
def test_every_page_passes_axe_and_fits_a_phone_and_200_percent_zoom(
    browsing: Browsing, story: Story, name: str, path: str, who: str | None
) -> None:
    job = story.sent_fax() if "{job}" in path else None
    inbound = story.received_fax() if "{inbound}" in path else None
    person = {"ann": story.ann, "bob": story.bob, "root": story.root}.get(who or "")
    state = None
    if person is not None:
        if person.state is None:
            pytest.skip(f"{person.name} is not signed in (an earlier step did not run)")
        state = person.state
    check_page_everywhere(browsing, path.format(job=job, inbound=inbound), name, state)


#: The controls Tab must reach on a page (``tag:label`` as :func:`layout.focused` names them).
MAIN_CONTROLS = {
    "/signin": ["input:Name or email", "input:Password", "button:Sign in"],
    "/send": ["input:Documents to fax", "textarea:Fax numbers", "input:Add a cover page", "button:Preview"],
    "/inbox": ["input:Number", "input:Tag", "button:Search"],
    "/faxes": ["a:Send", "a:Sent", "a:Inbox", "button:Sign out"],
}
_CONTROL_MARKS = {"/send": needs_send, "/inbox": needs_inbox, "/faxes": needs_inbox}


@pytest.mark.parametrize(
    "path", [pytest.param(path, marks=_CONTROL_MARKS.get(path, ())) for path in MAIN_CONTROLS]
)
def test_tab_reaches_the_main_controls(browsing: Browsing, story: Story, path: str) -> None:
    page = browsing.page() if path == "/signin" else _as(browsing, story.ann)
    page.goto(path)
    stops = tab_stops(page, limit=80)
    assert stops[0].startswith("a:Skip to"), stops[:3]
    missing = [control for control in MAIN_CONTROLS[path] if control not in stops]
    assert not missing, f"Tab on {path} never reaches {missing}; it visits {stops}"
