"""The experiment's data: panels to rate, counterbalanced lists, participants and answers."""

import hashlib
import secrets
import unicodedata
from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models


def new_completion_code() -> str:
    """A short random code participants paste back into Prolific/MTurk."""
    return secrets.token_hex(4).upper()


def new_participant_token() -> str:
    """An unguessable token (256 bits) that identifies a participant in URLs."""
    return secrets.token_urlsafe(32)


class Experiment(models.Model):
    class Recruitment(models.TextChoices):
        """Which ways in new participants may take (participant_enter); those already in go on
        whichever way they came, and pilot runs are always possible."""

        ANY = "any", "Any: Prolific's link, the MTurk HIT, or the study link with any id"
        PROLIFIC = "prolific", "Prolific only: the study link opened from Prolific"
        MTURK = "mturk", "MTurk only: the study's ExternalQuestion HIT"

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    consent_text = models.TextField(
        blank=True,
        help_text="Shown on the consent page; a default text is used when empty, which says "
        "how long the study takes (about 15 s a panel). A text of your own is shown as written: "
        "say in it how long the study takes.",
    )
    completion_code = models.CharField(max_length=32, default=new_completion_code)
    completion_url = models.URLField(
        blank=True, help_text="Where participants go when done, e.g. Prolific's completion URL."
    )
    recruitment = models.CharField(
        max_length=10,
        choices=Recruitment.choices,
        default=Recruitment.ANY,
        help_text="Which ways in new participants may take. Prolific only: the link must carry "
        "a Prolific ID (24 hex digits), STUDY_ID and SESSION_ID, so ids typed in, links opened "
        "elsewhere and MTurk workers are turned away. Participants already in go on.",
    )
    practice_trials = models.PositiveSmallIntegerField(default=6)
    participants_per_list = models.PositiveIntegerField(
        default=6,
        validators=[MinValueValidator(1)],
        help_text="Cap of participants (completed or in progress) per list.",
    )
    hold_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1)],
        help_text="How long an unfinished participant keeps their list slot.",
    )
    is_open = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def recruitment_refusal(self) -> str:
        """The StudyUnavailable reason of a new participant who came another way than the
        recruitment lets them: "prolific_only" or "mturk_only"; "" when any way is open."""
        return "" if self.recruitment == self.Recruitment.ANY else f"{self.recruitment}_only"

    def clean(self):
        """The code shown at the end must be the one the recruitment site expects (Prolific's
        completion URL carries it as ``cc=``), or participants who paste it are rejected."""
        expected = parse_qs(urlsplit(self.completion_url).query).get("cc", [])
        if expected and self.completion_code not in expected:
            # On the URL: the code is read-only once a participant has completed (admin).
            raise ValidationError(
                {
                    "completion_url": f"This URL expects the code {expected[0]} "
                    f"(cc={expected[0]}), not the completion code {self.completion_code}: make "
                    "them the same (once a participant has completed, the code is fixed: take "
                    f"a URL with cc={self.completion_code}), or participants who paste the code "
                    "shown at the end are rejected."
                }
            )


class Panel(models.Model):
    """One image panel: 10x10 AM images of a unit, or a practice panel of natural images."""

    class Answer(models.TextChoices):
        YES = "yes", "Yes"
        NO = "no", "No"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="panels")
    source = models.CharField(
        max_length=500, help_text="Where the panel came from; re-imports skip known sources."
    )
    image = models.ImageField(upload_to="panels/full/", help_text="Full resolution, for zooming.")
    display_image = models.ImageField(
        upload_to="panels/display/", help_text="Web-friendly size shown on the trial page."
    )
    network = models.CharField(max_length=100, blank=True)
    layer = models.CharField(max_length=100, blank=True)
    unit = models.PositiveIntegerField(null=True, blank=True)
    is_practice = models.BooleanField(default=False)
    intended_answer = models.CharField(max_length=3, choices=Answer.choices, blank=True)
    intended_label = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True, help_text="Generator settings, etc.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["experiment", "is_practice", "network", "layer", "unit", "id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "source"], name="panel_unique_source"),
            # The analysis pools a unit's ratings: one main panel per unit and experiment.
            models.UniqueConstraint(
                fields=["experiment", "network", "layer", "unit"],
                condition=models.Q(is_practice=False),
                name="panel_one_per_unit",
            ),
        ]
        indexes = [models.Index(fields=["experiment", "network", "layer", "unit"])]

    def __str__(self) -> str:
        if self.is_practice:
            return f"practice {self.source}"
        return f"{self.network} {self.layer}.{self.unit}"


class TrialList(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="trial_lists")
    number = models.PositiveIntegerField()
    seed = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["experiment", "number"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "number"], name="trial_list_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment.slug} list {self.number}"


class TrialListItem(models.Model):
    """A main panel's place in a list; every main panel is in exactly one list."""

    trial_list = models.ForeignKey(TrialList, on_delete=models.CASCADE, related_name="items")
    # RESTRICT: a panel in a list is in participants' stored trial orders; deleting it would
    # break their trial pages. Rebuilding lists, or deleting an experiment without
    # participants, still works.
    panel = models.OneToOneField(Panel, on_delete=models.RESTRICT, related_name="list_item")

    class Meta:
        ordering = ["trial_list", "panel"]

    def __str__(self) -> str:
        return f"{self.trial_list}: {self.panel}"


# The recruitment site's ids of a participant's visit (participant_enter stores them).
VISIT_ID_FIELDS = (
    "prolific_study_id",
    "prolific_session_id",
    "mturk_assignment_id",
    "mturk_hit_id",
)


def external_id_key(external_id: str) -> str:
    """What tells participants' ids apart: the id with letter case and character width left
    out (Unicode NFKC, then case folding), as a SHA-256. Ids are typed in by hand, and the
    recruitment sites' ids do not depend on case (MTurk's are upper case, Prolific's lower
    case hex): "a3xyz" is the worker "A3XYZ", and a full-width "ＡＢＣ" is "abc". Folded in
    Python, so every database and the withdrawals' digests fold alike."""
    folded = unicodedata.normalize("NFKC", external_id).casefold()
    return hashlib.sha256(folded.encode()).hexdigest()


class Participant(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        ABANDONED = "abandoned", "Abandoned"

    class Entry(models.TextChoices):
        """How a participant first came in: it decides where the completion page sends them."""

        PROLIFIC = "prolific", "Prolific link (PROLIFIC_PID)"
        LINK = "link", "study link (?participant= or an id typed in)"
        WORKER_LINK = "worker_link", "survey link with a worker id (?workerId=)"
        MTURK_HIT = "mturk_hit", "MTurk HIT"

    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="participants"
    )
    token = models.CharField(max_length=64, unique=True, default=new_participant_token)
    external_id = models.CharField(
        max_length=200,
        help_text="Prolific PID, MTurk worker id, ...; as first given. Ids differing only in "
        "letter case or character width are one participant.",
    )
    external_key = models.CharField(
        max_length=80, editable=False, help_text="What tells ids apart (external_id_key)."
    )
    prolific_study_id = models.CharField(max_length=200, blank=True)
    prolific_session_id = models.CharField(max_length=200, blank=True)
    # MTurk's ExternalQuestion HITs (experiment/mturk.py): the assignment to approve, its HIT.
    mturk_assignment_id = models.CharField(max_length=255, blank=True)
    mturk_hit_id = models.CharField(max_length=255, blank=True)
    entry = models.CharField(
        max_length=20,
        choices=Entry.choices,
        blank=True,
        help_text="How they first came in (empty: before this was recorded).",
    )
    browser_bound = models.BooleanField(
        default=False,
        help_text="Entered the study link since browsers were recorded: an id others may know "
        "goes on only in that browser (a cookie).",
    )
    trial_list = models.ForeignKey(
        TrialList, on_delete=models.PROTECT, null=True, blank=True, related_name="participants"
    )
    trial_order = models.JSONField(
        default=list, help_text="Panel ids in the order shown: practice first, then the list."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)
    consented_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    feedback = models.TextField(
        blank=True, help_text="What the participant wrote on the completion page (optional)."
    )
    is_synthetic = models.BooleanField(
        default=False, help_text="Made by simulate_responses; never mixed silently with real data."
    )
    is_pilot = models.BooleanField(
        default=False,
        help_text="A researcher's own run through the study (the progress page's pilot run); "
        "always excluded, never a participant.",
    )
    excluded = models.BooleanField(default=False)
    exclusion_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["experiment", "started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "external_key"], name="participant_unique_external_key"
            ),
        ]
        indexes = [models.Index(fields=["experiment", "trial_list", "status"])]

    def __str__(self) -> str:
        return f"{self.experiment.slug}/{self.external_id}"

    def save(self, *args, **kwargs):
        """The key follows the id (bulk_create does not save: give it external_key there)."""
        self.external_key = external_id_key(self.external_id)
        fields = kwargs.get("update_fields")
        if fields is not None and "external_id" in fields:
            kwargs["update_fields"] = {*fields, "external_key"}
        super().save(*args, **kwargs)

    @property
    def is_hit_worker(self) -> bool:
        """Whether they take part through an MTurk HIT (and submit it, not go to a completion
        URL). The entry says so also after the researcher freed their assignment, which
        leaves the assignment id empty until their next HIT page."""
        return self.entry == self.Entry.MTURK_HIT or bool(self.mturk_assignment_id)

    @property
    def id_is_public(self) -> bool:
        """Whether others may know the id they entered the study link with: an MTurk worker's
        (every requester sees those) or one typed in. Prolific PIDs are 24 random hex digits,
        and a HIT's worker comes back through the HIT, whose assignment id only they know."""
        if self.entry == "":  # before entries were recorded: Prolific if it left its ids
            return not (self.prolific_study_id or self.prolific_session_id or self.mturk_hit_id)
        return self.entry in (self.Entry.LINK, self.Entry.WORKER_LINK)


class Response(models.Model):
    """One participant's answer to one panel; stored once, whatever the retries."""

    class Q2Bin(models.IntegerChoices):
        P0_20 = 0, "0-20%"
        P20_40 = 1, "20-40%"
        P40_60 = 2, "40-60%"
        P60_80 = 3, "60-80%"
        P80_100 = 4, "80-100%"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="responses")
    panel = models.ForeignKey(Panel, on_delete=models.PROTECT, related_name="responses")
    trial_index = models.PositiveIntegerField(help_text="Position in the trial order.")
    is_practice = models.BooleanField(default=False)
    q1_yes = models.BooleanField()
    q2_bin = models.PositiveSmallIntegerField(choices=Q2Bin.choices, null=True, blank=True)
    q3_first = models.CharField(max_length=100, blank=True)
    q3_second = models.CharField(max_length=100, blank=True)
    response_ms = models.PositiveIntegerField(help_text="From panel shown to answer sent.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["participant", "trial_index"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "panel"], name="response_once_a_panel"),
            models.UniqueConstraint(
                fields=["participant", "trial_index"], name="response_once_per_trial"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} #{self.trial_index}"


class Withdrawal(models.Model):
    """A participant deleted at their request (participants_withdraw): the id they entered with,
    as a keyed digest (external_id_digest), may not enter the study again."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="withdrawals")
    id_digest = models.CharField(max_length=64, help_text="HMAC-SHA256 of the external id.")
    key_check = models.CharField(
        max_length=16,
        blank=True,
        help_text="Which pseudonym key made the digest (export.key_fingerprint; empty for "
        "withdrawals stored before it was recorded).",
    )
    withdrawn_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["experiment", "-withdrawn_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "id_digest"], name="withdrawal_unique_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.experiment.slug}: withdrawal of {self.withdrawn_at:%Y-%m-%d %H:%M}"
