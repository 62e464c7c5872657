"""Hostile students for `benchmarks/lecture_load.py --hostile N` (issue 22).

Each one connects through the machine's LAN address (the server listens on every interface), so
the server sees a client on the network, not its own user; all of them share that one address, as
several tabs of one laptop would. In turn, until the time is up, each:
- presses the heavy on-demand work at the budget's edge: resnet152 at 3x448x448, look inside on a
  sample, torchinfo and the ONNX export;
- uploads files past every uploader's limit (200 MB "pictures", straight to the upload endpoint);
- opens new tabs to submit runs (resnet-mini on the offline digits);
- opens links with Unicode digits, deep nesting and Markdown;
- guesses the lecturer key.
What the server answered is tallied: refusals are expected, an exception on a page is a bug.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HEAVY_QUERY = "preset=resnet152&input=3,448,448"  # within every per-request budget on a 24 GB machine
BAD_LINKS = [
    "input=3,%C2%B2,224",  # a superscript two: isdigit() but not int()
    "classes=%D9%A3",  # an Arabic-Indic three
    "recipe=" + "%5B" * 1000 + "%5D" * 1000,  # a thousand nested brackets
    "preset=" + urllib.parse.quote("[Lecturer solutions](http://evil.example) ![](http://evil.example/i.png)"),
    "job=%D9%A3",
]
UPLOAD_MB = 200
IMPORT_EXPORT = "Import / export"  # a view of ui/design_views.VIEWS (a radio sends its option)


@dataclass
class HostileTally:
    done: dict[str, int] = field(default_factory=dict)  # action -> times
    refused: dict[str, int] = field(default_factory=dict)  # action -> refusals the server gave
    bugs: list[str] = field(default_factory=list)  # exceptions on pages, unexpected answers

    def count(self, table: dict[str, int], action: str) -> None:
        table[action] = table.get(action, 0) + 1


def lan_url(url: str) -> str:
    """The same server through this machine's own non-loopback address."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("198.51.100.1", 9))  # UDP: no packet is sent, only the route's source address is read
            address = s.getsockname()[0]
    except OSError:  # no route out: the name this machine gives itself
        address = socket.gethostbyname(socket.gethostname())
    if address.startswith("127."):
        raise SystemExit("--hostile needs a non-loopback address on this machine")
    return url.replace("127.0.0.1", address)


async def heavy(session, tally: HostileTally) -> None:
    page = await session.open(HEAVY_QUERY)
    ids = dict(page.widgets)  # every widget seen so far: a rerun sends only what it draws
    page = await session.rerun("Design", HEAVY_QUERY, {ids["d_look_run"]: ("bool_value", True)})
    _check(page, tally, "look inside")
    page = await session.rerun("Design", HEAVY_QUERY, {ids["d_view"]: ("string_value", IMPORT_EXPORT)})
    for button in ("d_torchinfo", "d_onnx"):
        ids |= page.widgets
        if button not in ids:
            tally.bugs.append(f"{button}: not drawn")
            return
        state = {ids["d_view"]: ("string_value", IMPORT_EXPORT), ids[button]: ("trigger_value", True)}
        page = await session.rerun("Design", HEAVY_QUERY, state)
        _check(page, tally, button.removeprefix("d_"))


def _check(page, tally: HostileTally, action: str) -> None:
    tally.count(tally.done, action)
    if page.exceptions:
        tally.bugs.append(f"{action}: {page.exceptions[0]}")
    if any(t.startswith(("Not built here", "Not exported", "Not run here")) for t in page.texts):
        tally.count(tally.refused, action)


def _put(url: str, session_id: str, size: int) -> int:
    """PUT `size` bytes as a picture to the upload endpoint, as the browser does; the HTTP status."""
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=30) as first:  # the XSRF cookie, as the page gets it
        cookie = next((v for k, v in first.getheaders() if k.lower() == "set-cookie" and "_xsrf" in v), "")
    token = cookie.split(";", 1)[0].split("=", 1)[-1]
    boundary = secrets.token_hex(8)
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cat.png"\r\n'
    body = head.encode() + b"Content-Type: image/png\r\n\r\n" + bytes(size) + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"{url}/_stcore/upload_file/{session_id}/{secrets.token_hex(8)}", data=body, method="PUT",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": token,
                 "Cookie": cookie.split(";", 1)[0]},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def uploads(session, url: str, tally: HostileTally) -> None:
    await session.open()
    for _ in range(3):  # 600 MB from one address: past the per-person total
        status = await asyncio.to_thread(_put, url, session.session_id, UPLOAD_MB * 2**20)
        tally.count(tally.done, "upload")
        if status == 413:
            tally.count(tally.refused, "upload")
        elif status != 204:
            tally.bugs.append(f"upload: HTTP {status}")


async def tabs(new_session, submit_run, tally: HostileTally, count: int = 6) -> None:
    """New tabs, each submitting a run: the address's quota, not the tabs', decides."""
    from benchmarks.lecture_load import Tally

    for _ in range(count):
        session, answer = new_session(), Tally()
        try:
            await session.open()
            await submit_run(session, answer, epochs=100)  # long enough to stay queued: the quota counts those
        finally:
            await session.close()
        tally.count(tally.done, "new tab run")
        said = " ".join(answer.errors).replace("\\", "")  # the page escapes punctuation
        if "runs_per_address" in said:
            tally.count(tally.refused, "new tab run")
        elif answer.errors:
            tally.bugs.append(f"new tab run: {said[:160]}")


async def links(new_session, tally: HostileTally) -> None:
    for query in BAD_LINKS:
        for page_name in ("Design", "Train"):
            session = new_session()
            try:
                await session.open(query)
                page = await session.rerun(page_name, query, {})
            finally:
                await session.close()
            tally.count(tally.done, "bad link")
            if page.exceptions:
                tally.bugs.append(f"link {query[:40]}: {page.exceptions[0]}")


async def keys(session, tally: HostileTally, tries: int = 10) -> None:
    page = await session.open()
    for i in range(tries):
        page = await session.rerun("Design", "", {page.widgets["lecturer_key_typed"]: ("string_value", f"guess{i}")})
        tally.count(tally.done, "key guess")
        if any("wrong keys within a minute" in t for t in page.texts):
            tally.count(tally.refused, "key guess")


async def hostile(url: str, tally: HostileTally, until: float, rng: random.Random) -> None:
    """One hostile student: every kind of abuse in turn, until the time is up."""
    from benchmarks.lecture_load import Session, submit_run

    lan = lan_url(url)

    def new_session() -> Session:
        session = Session(lan)
        session.timeout = 300.0  # heavy work waits its turn: the server says so, then computes
        return session

    actions = [
        lambda s: heavy(s, tally),
        lambda s: uploads(s, lan, tally),
        lambda s: tabs(new_session, submit_run, tally),
        lambda s: links(new_session, tally),
        lambda s: keys(s, tally),
    ]
    rng.shuffle(actions)
    while time.perf_counter() < until:
        for action in actions:
            session = new_session()
            try:
                await action(session)
            except Exception as exc:  # a timeout or a dropped connection: the server's failure
                tally.bugs.append(f"{type(exc).__name__}: {exc}")
            finally:
                if session.ws is not None:
                    await session.close()
            if time.perf_counter() >= until:
                return


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
