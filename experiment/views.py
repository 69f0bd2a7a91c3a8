"""Participant pages: entry, consent, instructions, trials, the answer endpoint, completion.

Views parse the request, call one service or selector, and render; the study's rules live in
experiment/services/. A participant is identified only by the unguessable token in the URL.
"""

import functools

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from experiment import mturk, selectors, services
from experiment.answers import LABEL_MAX_CHARS, LABEL_SEPARATOR_CHARS, Q3_MAX_CHARS
from experiment.forms import EXAMPLE_LABEL, QUESTIONS, answer_payload_parse, external_ids_from_query
from experiment.models import Experiment, Participant

BROWSER_COOKIE_DAYS = 90  # longer than any study runs
BROWSER_COOKIE_PARTICIPANTS = 40  # 40 tokens of 43 characters: within a cookie's 4 KB
MINUTES_PER_TRIAL = 0.25  # the consent page's time estimate: about 15 s a panel
COMPLETION_REDIRECT_SECONDS = 20


def participant_url(participant: Participant, name: str = "home") -> str:
    """The URL of one of the participant's pages."""
    kwargs = {"slug": participant.experiment.slug, "token": participant.token}
    return reverse(f"experiment:{name}", kwargs=kwargs)


def participant_or_404(slug: str, token: str) -> Participant:
    """The participant of this experiment and token; 404 for a stale or forged link."""
    experiment = get_object_or_404(Experiment, slug=slug)
    participant = selectors.participant_by_token(experiment=experiment, token=token)
    if participant is None:
        raise Http404("This participant link is not valid.")
    participant.experiment = experiment  # already loaded: spares a query per page
    return participant


def participant_json(view):
    """A participant's JSON endpoint: the view gets the participant of the URL's slug and
    token; a stale or forged link gets a JSON 404, which the pages' scripts read."""

    @functools.wraps(view)
    def with_participant(request, slug: str, token: str):
        try:
            participant = participant_or_404(slug, token)
        except Http404:
            return JsonResponse({"error": "This participant link is not valid."}, status=404)
        return view(request, participant)

    return with_participant


@never_cache
@require_GET
def study_enter(request, slug: str):
    """Entry from Prolific (PROLIFIC_PID, STUDY_ID, SESSION_ID) or a generic ?participant=."""
    experiment = get_object_or_404(Experiment, slug=slug)
    ids = external_ids_from_query(request.GET)
    # The page that asks for a missing id keeps Prolific's other ids, and no placeholder.
    context = {
        "experiment": experiment,
        **{
            name: ("" if services.is_placeholder(value) else value[:200])
            for name, value in ids.items()
        },
    }
    if not ids["external_id"]:
        if experiment.recruitment_refusal:  # no id may be typed in
            error = services.StudyUnavailable(experiment.recruitment_refusal)
            return unavailable(request, experiment, error)
        return render(request, "experiment/need_id.html", context)
    cookie = browser_cookie_name(experiment)
    # The participants this browser entered as (several: people sharing a lab's computer).
    held = request.get_signed_cookie(cookie, default="", salt=cookie).split(":")
    held = [token for token in held if token]
    try:
        participant = services.participant_enter(
            experiment=experiment,
            user_agent=request.headers.get("User-Agent", ""),
            browser_tokens=held,
            **ids,
        )
    except services.AnswerInvalid as error:
        return render(
            request, "experiment/need_id.html", context | {"error": error.message}, status=400
        )
    except services.StudyUnavailable as error:
        return unavailable(request, experiment, error)
    response = redirect(participant_url(participant))
    tokens = [*(token for token in held if token != participant.token), participant.token]
    response.set_signed_cookie(
        cookie,
        ":".join(tokens[-BROWSER_COOKIE_PARTICIPANTS:]),  # the latest ones
        salt=cookie,
        max_age=BROWSER_COOKIE_DAYS * 24 * 3600,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def browser_cookie_name(experiment: Experiment) -> str:
    """The cookie that says which participant this browser entered the study link as: whose
    id others may know is let back in only from that browser (services.participant_enter)."""
    return f"amrating-participant-{experiment.pk}"


@never_cache
@require_GET
@mturk.frameable_by_mturk
def mturk_hit(request, slug: str):
    """The page an MTurk ExternalQuestion HIT shows in its frame (see experiment/mturk.py).

    Previewing, it says what the study is and whether it takes new workers. Accepted, it enters
    the worker like the study link does, opens the study in a new tab and, once the participant
    has completed, submits the assignment to MTurk.
    """
    experiment = Experiment.objects.filter(slug=slug).first()
    if experiment is None:  # a wrong ExternalURL: said in MTurk's frame, which a 404 page is not
        error = (
            "This HIT links to a study that does not exist on this site. Please return it, "
            "and tell the requester through MTurk."
        )
        return render(request, "experiment/mturk_hit.html", {"error": error}, status=404)
    context = {"experiment": experiment}
    try:
        visit = mturk.hit_visit_parse(request.GET)
    except mturk.HitLinkInvalid as error:
        return render(
            request, "experiment/mturk_hit.html", context | {"error": error.message}, status=400
        )
    context["visit"] = visit
    if visit.is_preview:
        reason = selectors.experiment_join_refusal(experiment=experiment)
        trials = selectors.experiment_trials_most(experiment=experiment)
        context |= refusal(reason) | {"minutes": study_minutes(trials)}
        return render(request, "experiment/mturk_hit.html", context)
    try:
        participant = services.participant_enter(
            experiment=experiment,
            external_id=visit.worker_id,
            user_agent=request.headers.get("User-Agent", ""),
            mturk_assignment_id=visit.assignment_id,
            mturk_hit_id=visit.hit_id,
            entry=Participant.Entry.MTURK_HIT,
        )
    except services.AnswerInvalid as error:
        return render(
            request, "experiment/mturk_hit.html", context | {"error": error.message}, status=400
        )
    except services.StudyUnavailable as error:
        return render(request, "experiment/mturk_hit.html", context | refusal(error.reason))
    state = selectors.hit_state(participant=participant, assignment_id=visit.assignment_id)
    if state == "done_elsewhere":
        return render(request, "experiment/mturk_hit.html", context | {"done_elsewhere": True})
    completed = state == "completed"
    context |= {
        "study_url": participant_url(participant),
        "study_address": request.build_absolute_uri(participant_url(participant)),
        "status_url": participant_url(participant, "status"),
        "completed": completed,
    }
    return render(request, "experiment/mturk_hit.html", context)


def refusal(reason: str) -> dict:
    """The HIT page's context for a study a new worker cannot join (`reason`: "" when they can)."""
    return {"refusal": reason, "refusal_message": services.StudyUnavailable.MESSAGES.get(reason)}


def unavailable(request, experiment: Experiment, error: services.StudyUnavailable):
    """The polite page for a study nobody (or this returning participant) can join now."""
    context = {
        "experiment": experiment,
        "reason": error.reason,
        "returning": error.returning,
    }
    return render(request, "experiment/unavailable.html", context)


@never_cache
@require_GET
def participant_home(request, slug: str, token: str):
    """Send the participant to where they are: consent, trials, or the completion page."""
    participant = participant_or_404(slug, token)
    step = selectors.participant_step(participant=participant)
    return redirect(participant_url(participant, step))


@never_cache
@require_http_methods(["GET", "POST"])
def consent(request, slug: str, token: str):
    """Show the consent text; "I agree" records consent and moves on to the instructions."""
    participant = participant_or_404(slug, token)
    experiment = participant.experiment
    if participant.consented_at is not None:  # e.g. the Back button: consent is given once
        # Back from the instructions stays on them until the first answer, not in the trials.
        started = participant.responses.exists()
        return redirect(participant_url(participant, "home" if started else "instructions"))
    if request.method == "POST":
        if request.POST.get("consent") != "yes":
            services.participant_decline(participant=participant)
            return redirect("experiment:declined", slug=experiment.slug)
        try:
            services.participant_consent(participant=participant)
        except services.StudyUnavailable as error:
            return unavailable(request, experiment, error)
        except services.ParticipantGone:  # deleted (withdrawn) while this request waited
            raise Http404("This participant link is not valid.") from None
        return redirect(participant_url(participant, "instructions"))
    minutes = study_minutes(len(participant.trial_order))
    context = {
        "experiment": experiment,
        "consent_paragraphs": paragraphs(experiment.consent_text),
        "minutes": minutes,
        "reading_url": participant_url(participant, "reading"),
        # Three times within the time a visitor's place is held: one lost request costs nothing.
        "reading_seconds": selectors.hold_minutes(experiment=experiment, consented=False) * 20,
    }
    return render(request, "experiment/consent.html", context)


@never_cache
@require_POST
@participant_json
def reading(request, participant: Participant):
    """The consent page, still open, keeps the visitor's place (JSON: whether it was kept)."""
    return JsonResponse({"kept": services.participant_consent_reading(participant=participant)})


def study_minutes(trials: int) -> int:
    """About how long `trials` panels take, in whole 5 minutes (at least 5)."""
    return max(5, round(trials * MINUTES_PER_TRIAL / 5) * 5)


@require_GET
def declined(request, slug: str):
    """Where declining consent leads (a page of its own, so a reload does not post again)."""
    experiment = get_object_or_404(Experiment, slug=slug)
    return render(request, "experiment/declined.html", {"experiment": experiment})


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, each with its hard line breaks joined (they reflow)."""
    return [
        " ".join(block.split())
        for block in text.replace("\r\n", "\n").split("\n\n")
        if block.strip()
    ]


@never_cache
@require_GET
def instructions(request, slug: str, token: str):
    """The task explained, with the example screen of the paper's figure 6."""
    participant = participant_or_404(slug, token)
    if participant.consented_at is None:
        return redirect(participant_url(participant, "consent"))
    trials = selectors.participant_trials(participant=participant)
    example = selectors.example_panel(participant=participant)
    practice_count = sum(t.is_practice for t in trials)
    context = {
        "experiment": participant.experiment,
        "questions": QUESTIONS,
        "example_panel": example,
        "example_label": example.intended_label
        if example and example.intended_label
        else EXAMPLE_LABEL,
        "practice_count": practice_count,
        "main_count": len(trials) - practice_count,
        "trials_url": participant_url(participant, "trials"),
        "started": any(t.answered for t in trials),
    }
    return render(request, "experiment/instructions.html", context)


@never_cache
@require_GET
def trials(request, slug: str, token: str):
    """The trial page; it starts at the first unanswered trial (so a reload resumes)."""
    participant = participant_or_404(slug, token)
    step = selectors.participant_step(participant=participant)
    if step != "trials":
        return redirect(participant_url(participant, step))
    try:
        services.participant_seen(participant=participant)  # back after a long break, say
    except services.StudyUnavailable as error:
        return unavailable(request, participant.experiment, error)
    except services.ParticipantGone:  # deleted (withdrawn) while this request waited
        raise Http404("This participant link is not valid.") from None
    context = {
        "experiment": participant.experiment,
        "questions": QUESTIONS,
        "study_state": study_state(participant),
        "instructions_url": participant_url(participant, "instructions"),
        # Where they go on from another device (the study link may be tied to this browser).
        "study_address": request.build_absolute_uri(participant_url(participant)),
    }
    return render(request, "experiment/trial.html", context)


def study_state(participant: Participant) -> dict:
    """What the trial page's script needs: every trial in order and where to send answers."""
    trial_rows = [
        {
            "index": trial.index,
            "panelId": trial.panel.id,
            "display": trial.panel.display_image.url,
            "full": trial.panel.image.url,
            "practice": trial.is_practice,
            "answered": trial.answered,
        }
        for trial in selectors.participant_trials(participant=participant)
    ]
    return {
        "trials": trial_rows,
        "answerUrl": participant_url(participant, "answer"),
        "completeUrl": participant_url(participant, "complete"),
        # Q3's rules as the server applies them (experiment/answers.py), checked on the page too.
        "q3": {
            "separators": LABEL_SEPARATOR_CHARS,
            "labelMaxChars": LABEL_MAX_CHARS,
            "maxChars": Q3_MAX_CHARS,
        },
    }


@never_cache
@require_POST
@participant_json
def answer(request, participant: Participant):
    """Store one answer (JSON); 400 with {"error": ...} for anything invalid, nothing changed."""
    try:
        payload = answer_payload_parse(request.body)
        response = services.response_record(participant=participant, **vars(payload))
    except services.AnswerInvalid as error:
        return JsonResponse({"error": error.message}, status=error.status)
    completed = participant.status == Participant.Status.COMPLETED
    return JsonResponse(
        {"saved": True, "trial_index": response.trial_index, "completed": completed}
    )


@never_cache
@require_GET
@participant_json
def participant_status(request, participant: Participant):
    """Whether the participant has completed, and then the code, with the MTurk assignment that
    counts (JSON, for the MTurk HIT page: another HIT's page must not submit)."""
    completed = participant.status == Participant.Status.COMPLETED
    code = participant.experiment.completion_code if completed else ""
    return JsonResponse(
        {
            "completed": completed,
            "completion_code": code,
            "mturk_assignment_id": participant.mturk_assignment_id,
        }
    )


@never_cache
@require_http_methods(["GET", "POST"])
def complete(request, slug: str, token: str):
    """The completion code, a box for an optional comment, and a redirect to the experiment's
    completion URL when one is set (not for MTurk HIT workers, who go back to the HIT's tab
    and submit it there, nor for pilot runs). Sending a comment saves it, then redirects."""
    participant = participant_or_404(slug, token)
    if participant.status != Participant.Status.COMPLETED:
        return redirect(participant_url(participant))
    context = {
        "experiment": participant.experiment,
        "completion_url": selectors.participant_completion_url(participant=participant),
        "redirect_seconds": COMPLETION_REDIRECT_SECONDS,
        "from_mturk": participant.is_hit_worker,
        "is_pilot": participant.is_pilot,
        "feedback": participant.feedback,
        "feedback_max": services.FEEDBACK_MAX_CHARS,
    }
    if request.method == "POST":
        text = request.POST.get("feedback", "")
        try:
            services.participant_feedback_save(participant=participant, text=text)
        except services.AnswerInvalid as error:
            context |= {"feedback": text, "feedback_error": error.message}
            return render(request, "experiment/complete.html", context, status=400)
        if context["completion_url"]:
            return redirect(context["completion_url"])
        return redirect(participant_url(participant, "complete") + "?saved=1")
    context["feedback_saved"] = request.GET.get("saved") == "1" and bool(participant.feedback)
    return render(request, "experiment/complete.html", context)


def csrf_failure(request, reason: str = ""):
    """A refused form or answer (CSRF_FAILURE_VIEW), in words a participant can act on: most
    often their browser blocked or lost the site's cookie. Django's own page is for developers."""
    if request.content_type == "application/json":  # an answer sent by the trial page's script
        advice = (
            "Your browser did not send this site's cookie, so the answer could not be saved. "
            "Please allow cookies for this site."
        )
        return JsonResponse({"error": advice}, status=403)
    return render(request, "experiment/csrf_failure.html", status=403)
