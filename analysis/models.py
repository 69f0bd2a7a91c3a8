"""Stored results of the analysis: units' selectivity scores and researchers' label decisions."""

from django.db import models


class SelectivityScore(models.Model):
    """Every selectivity measure of one unit (paper section 2; docs/measures.md)."""

    network = models.CharField(max_length=100)
    layer = models.CharField(max_length=100)
    unit = models.PositiveIntegerField()
    n_images = models.PositiveIntegerField()
    compat = models.CharField(
        max_length=20, blank=True, help_text="Empty for the correct definitions, or e.g. gale2020."
    )
    source = models.CharField(max_length=500, blank=True, help_text="Activation file or CSV.")
    weights_sha256 = models.CharField(
        max_length=64, blank=True, help_text="Of the weights measured; empty when not recorded."
    )
    reduction = models.CharField(
        max_length=10,
        blank=True,
        help_text="How a conv layer's maps became one value per channel when recorded (max or "
        "mean); empty for an fc layer or when not recorded.",
    )
    pre_relu = models.BooleanField(
        null=True,
        blank=True,
        help_text="Recorded before the ReLU (record_activations --pre-relu); empty when not "
        "recorded.",
    )
    is_dead = models.BooleanField(default=False, help_text="All activations equal (or all zero).")

    is_localist = models.BooleanField(default=False)
    localist_class = models.IntegerField(null=True, blank=True)
    localist_gap = models.FloatField(null=True, blank=True)

    precision = models.FloatField(null=True, blank=True)
    precision_class = models.IntegerField(null=True, blank=True)
    precision_k = models.PositiveIntegerField(default=60)
    classes_in_top100 = models.PositiveIntegerField(null=True, blank=True)

    ccmas = models.FloatField(null=True, blank=True)
    ccmas_class = models.IntegerField(null=True, blank=True)

    most_active_class = models.IntegerField(null=True, blank=True)
    recall_at_100_precision = models.FloatField(null=True, blank=True)
    recall_at_95_precision = models.FloatField(null=True, blank=True)

    max_informedness = models.FloatField(null=True, blank=True)
    max_informedness_class = models.IntegerField(null=True, blank=True)
    max_informedness_threshold = models.FloatField(null=True, blank=True)
    sensitivity = models.FloatField(null=True, blank=True)
    specificity = models.FloatField(null=True, blank=True)
    false_alarm_rate = models.FloatField(null=True, blank=True)

    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["network", "layer", "unit"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "layer", "unit"], name="selectivity_unique_unit"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.network} {self.layer}.{self.unit}"


class LabelAgreementOverride(models.Model):
    """A researcher's decision that two labels do or do not name the same rough class.

    Labels are stored normalised; an ImageNet class is written as its WordNet id (e.g. n02099267).
    The pair is stored in sorted order so (a, b) and (b, a) are one decision.
    """

    label_a = models.CharField(max_length=200)
    label_b = models.CharField(max_length=200)
    agree = models.BooleanField()
    note = models.CharField(max_length=500, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["label_a", "label_b"]
        constraints = [
            models.UniqueConstraint(fields=["label_a", "label_b"], name="override_unique_pair"),
        ]

    def __str__(self) -> str:
        verdict = "agree" if self.agree else "disagree"
        return f"{self.label_a} / {self.label_b}: {verdict}"
