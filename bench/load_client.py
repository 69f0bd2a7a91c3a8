"""Simulated participants for bench/load_participants.py: a tiny asyncio HTTP/1.1 client.

Only the standard library: one keep-alive connection per participant, cookies kept by hand,
bounded retries. Each participant does the whole flow a browser does (enter, consent, trial
page, one JSON answer per trial, completion page) and records every request's latency.
"""

import asyncio
import json
import random
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

REQUEST_TIMEOUT_S = 60
RECONNECTS = 3
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
STUDY_STATE = re.compile(rb'<script id="study-state" type="application/json">(.*?)</script>', re.S)


class FlowError(RuntimeError):
    """The server answered something a participant's browser would not expect."""


@dataclass
class Reply:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), [""])[0]


class Connection:
    """One keep-alive HTTP/1.1 connection that reconnects when the server closed it."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes = b"", headers=None) -> Reply:
        head = {"Host": f"{self.host}:{self.port}", "Content-Length": str(len(body))}
        raw = f"{method} {path} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in (head | (headers or {})).items()
        )
        for attempt in range(RECONNECTS + 1):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                self.writer.write(raw.encode("latin-1") + b"\r\n" + body)
                return await asyncio.wait_for(self.read_reply(), REQUEST_TIMEOUT_S)
            except (ConnectionError, asyncio.IncompleteReadError, EOFError):
                await self.close()
                if attempt == RECONNECTS:
                    raise
        raise AssertionError("unreachable")

    async def read_reply(self) -> Reply:
        status_line = await self.reader.readline()
        if not status_line:
            raise EOFError("server closed the connection")
        headers: dict[str, list[str]] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        if headers.get("transfer-encoding", [""])[0].lower() == "chunked":
            body = await self.read_chunked()
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", ["0"])[0]))
        if headers.get("connection", [""])[0].lower() == "close":
            await self.close()
        return Reply(int(status_line.split()[1]), headers, body)

    async def read_chunked(self) -> bytes:
        parts = []
        while size := int((await self.reader.readline()).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        await self.reader.readline()
        return b"".join(parts)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Participant:
    """One simulated participant's cookies, what it sent, and how long each request took."""

    external_id: str
    connection: Connection
    cookies: dict[str, str] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    answered_at: list[float] = field(default_factory=list)  # perf_counter() when each answer came
    answers: dict[int, dict] = field(default_factory=dict)  # trial index -> the answer sent
    resent: int = 0

    async def request(self, kind: str, method: str, path: str, body=b"", headers=None) -> Reply:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        reply = await self.connection.request(method, path, body, headers)
        self.latencies.setdefault(kind, []).append(time.perf_counter() - started)
        for cookie in reply.headers.get("set-cookie", []):
            name, _, value = cookie.split(";")[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return reply


def expect(reply: Reply, status: int, what: str) -> Reply:
    if reply.status != status:
        raise FlowError(f"{what}: HTTP {reply.status}, expected {status}: {reply.body[:200]!r}")
    return reply


def location(reply: Reply) -> str:
    return urlsplit(reply.header("Location")).path


async def participant_run(
    participant: Participant,
    slug: str,
    think_s: float,
    resend_share: float,
    rng: random.Random,
    start_s: float = 0.0,
) -> None:
    """The whole flow of one participant, from `start_s`; raises FlowError on a wrong reply."""
    await asyncio.sleep(start_s)
    query = urlencode({"PROLIFIC_PID": participant.external_id, "STUDY_ID": "bench"})
    home = location(
        expect(await participant.request("enter", "GET", f"/study/{slug}/?{query}"), 302, "enter")
    )
    consent_path = location(expect(await participant.request("page", "GET", home), 302, "home"))
    page = expect(await participant.request("page", "GET", consent_path), 200, "consent page")
    form = urlencode(
        {"csrfmiddlewaretoken": CSRF_INPUT.search(page.body).group(1).decode(), "consent": "yes"}
    )
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    reply = await participant.request("consent", "POST", consent_path, form.encode(), form_headers)
    instructions_path = location(expect(reply, 302, "consent"))
    expect(await participant.request("page", "GET", instructions_path), 200, "instructions")
    trials_path = instructions_path.replace("instructions/", "trials/")
    page = expect(await participant.request("trial_page", "GET", trials_path), 200, "trial page")
    state = json.loads(STUDY_STATE.search(page.body).group(1))
    for trial in state["trials"]:
        await asyncio.sleep(rng.uniform(0, 2 * think_s))
        answer = answer_random(trial, rng)
        await answer_send(participant, state["answerUrl"], answer)
        if rng.random() < resend_share:  # a browser retrying after a lost reply
            participant.resent += 1
            await answer_send(participant, state["answerUrl"], answer)
    done = expect(await participant.request("page", "GET", state["completeUrl"]), 200, "complete")
    if b"completion-code" not in done.body:
        raise FlowError("the completion page shows no completion code")


def answer_random(trial: dict, rng: random.Random) -> dict:
    """A protocol-valid answer: 'no', or 'yes' with a bin and one or two labels."""
    answer = {
        "trial_index": trial["index"],
        "panel_id": trial["panelId"],
        "q1": rng.choice(["yes", "no"]),
        "q2": None,
        "q3": "",
        "response_ms": rng.randint(800, 9000),
    }
    if answer["q1"] == "yes":
        answer |= {"q2": rng.randrange(5), "q3": rng.choice(["dog", "fish, boat", "car; wheel"])}
    return answer


async def answer_send(participant: Participant, url: str, answer: dict) -> None:
    """POST one answer as the trial page does (JSON, CSRF header); expects 200."""
    headers = {"Content-Type": "application/json", "X-CSRFToken": participant.cookies["csrftoken"]}
    reply = await participant.request("answer", "POST", url, json.dumps(answer).encode(), headers)
    expect(reply, 200, f"answer {answer['trial_index']}")
    participant.answered_at.append(time.perf_counter())
    participant.answers[answer["trial_index"]] = answer


async def crowd_run(
    host: str,
    port: int,
    slug: str,
    count: int,
    think_s: float,
    resend_share: float,
    seed: int,
    ramp_s: float = 0.0,
) -> tuple[list[Participant], list[str], float]:
    """Start `count` participants evenly over `ramp_s` (0: all at once); returns them, their
    errors, and the wall time."""
    crowd = [Participant(f"bench-{n}", Connection(host, port)) for n in range(count)]
    started = time.perf_counter()
    results = await asyncio.gather(
        *(
            participant_run(
                p, slug, think_s, resend_share, random.Random(seed + n), n * ramp_s / count
            )
            for n, p in enumerate(crowd)
        ),
        return_exceptions=True,
    )
    wall = time.perf_counter() - started
    for participant in crowd:
        await participant.connection.close()
    errors = [
        f"{p.external_id}: {r!r}" for p, r in zip(crowd, results, strict=True) if r is not None
    ]
    return crowd, errors, wall
