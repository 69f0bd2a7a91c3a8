"""MTurk's ExternalQuestion HITs: what MTurk adds to the HIT page's URL, where the HIT is
submitted, and who may show that page in a frame.

A HIT shows /study/<slug>/mturk/ in a frame on mturk.com, with assignmentId, hitId, workerId and
turkSubmitTo added to the URL (assignmentId is ASSIGNMENT_ID_NOT_AVAILABLE while the worker only
previews the HIT). The study itself opens in a tab of its own: inside mturk.com's frame the site's
CSRF cookie would be a third-party cookie, which many browsers block, and the panels need the
whole window. Once the worker has finished, the frame's form posts the assignment to
turkSubmitTo's /mturk/externalSubmit, which submits the HIT.
"""

import re
from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.views.decorators.clickjacking import xframe_options_exempt

PREVIEW_ASSIGNMENT_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"
# MTurk's ids are letters and digits (capitals in practice; up to 255 bytes by its API, but a
# worker id becomes the participant's external id, whose column holds 200).
ID_PATTERN = re.compile(r"[A-Za-z0-9]{1,200}")
SUBMIT_PATH = "/mturk/externalSubmit"


class HitLinkInvalid(Exception):
    """The HIT page's URL lacks what MTurk adds to it, or holds something MTurk would not."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class HitVisit:
    """One load of the HIT page: a preview (no worker yet) or an accepted assignment."""

    assignment_id: str
    hit_id: str = ""
    worker_id: str = ""
    submit_url: str = ""  # where the frame's form posts the assignment; "" in a preview

    @property
    def is_preview(self) -> bool:
        return self.assignment_id == PREVIEW_ASSIGNMENT_ID


def hit_visit_parse(query) -> HitVisit:
    """The HIT visit described by a QueryDict; HitLinkInvalid saying what is missing or wrong."""
    # A name given twice counts by its last value, the one MTurk appended to the ExternalURL.
    ids = {name: query.get(name, "").strip() for name in ("assignmentId", "hitId", "workerId")}
    if not ids["assignmentId"]:
        raise HitLinkInvalid(
            "This page is the study's MTurk HIT and needs the assignmentId that MTurk adds to "
            "its address. Open the HIT on MTurk, or use the study's own link."
        )
    if ids["assignmentId"] == PREVIEW_ASSIGNMENT_ID:
        return HitVisit(assignment_id=PREVIEW_ASSIGNMENT_ID)
    if not ids["workerId"]:
        raise HitLinkInvalid(
            "MTurk did not say which worker accepted this HIT (no workerId in the address). "
            "Please open the HIT again from MTurk."
        )
    for name, value in ids.items():
        if value and not ID_PATTERN.fullmatch(value):
            raise HitLinkInvalid(
                f"{name} is not an MTurk id (letters and digits, at most 200): {value[:40]!r}."
            )
    return HitVisit(
        assignment_id=ids["assignmentId"],
        hit_id=ids["hitId"],
        worker_id=ids["workerId"],
        submit_url=submit_url(query.get("turkSubmitTo", "")),
    )


def submit_url(turk_submit_to: str) -> str:
    """The externalSubmit URL of turkSubmitTo (e.g. "https://www.mturk.com/"), which must be one
    of settings.MTURK_SUBMIT_ORIGINS: the worker's answers go nowhere else."""
    try:
        parts = urlsplit(turk_submit_to.strip())
    except ValueError:  # e.g. "https://[::1": not an address at all
        parts = None
    origin = parts and f"{parts.scheme}://{parts.netloc}".lower()
    allowed = [allowed.rstrip("/").lower() for allowed in settings.MTURK_SUBMIT_ORIGINS]
    if not parts or parts.path.strip("/") or parts.query or parts.fragment or origin not in allowed:
        shown = turk_submit_to.strip()[:100] or "nothing"
        raise HitLinkInvalid(
            f"The HIT would be submitted to {shown}, which is not MTurk "
            f"(expected one of {', '.join(settings.MTURK_SUBMIT_ORIGINS)} as turkSubmitTo)."
        )
    return origin + SUBMIT_PATH


def frameable_by_mturk(view):
    """Let MTurk's pages (settings.MTURK_FRAME_ANCESTORS), and no other site, show the view in
    a frame; every other page of the site refuses to be framed (X-Frame-Options: DENY)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        ancestors = " ".join(["'self'", *settings.MTURK_FRAME_ANCESTORS])
        response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
        return response

    return xframe_options_exempt(wrapped)
