"""Conventions for the measures: the correct definitions, or those of the paper's published code.

The paper's code (ellagale/testing_object_detectors_in_deepCNNs) differs from the definitions in
docs/measures.md in five places; `gale2020` reproduces them for people comparing with the paper.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Conventions:
    """How thresholds, ties and false alarms are treated."""

    name: str = ""
    # "block": every threshold puts all images of equal activation on the same side.
    # "image": step image by image through the ranking, splitting ties by image order.
    ties: str = "block"
    # Divide false alarms by all images (gale2020) instead of by the images not in the class,
    # in the false-alarm rate, the specificity and so the informedness.
    false_alarms_over_all_images: bool = False
    # Evaluate informedness only for the first this-many classes seen in the top 100 images
    # (read from the 100th up, as the published code's Counter of them keeps them).
    informedness_classes: int | None = None
    informedness_classes_top: int = 100
    # Report the max-informedness threshold as a rank (images counted above it) not an activation.
    threshold_as_rank: bool = False
    # Precision and classes in the top 100 from the top k of the whole ranking, the images at
    # the lowest activation (ReLU zeros) included, the modal class on a tie the first one seen
    # reading the top k from the k-th up (the published code's Counter), instead of leaving the
    # lowest block out and taking the smallest class index.
    top_k_counts_lowest: bool = False


CONVENTIONS: dict[str, Conventions] = {}


def register_conventions(conventions: Conventions) -> Conventions:
    """Make a set of conventions available by its name."""
    CONVENTIONS[conventions.name] = conventions
    return conventions


def get_conventions(name: str | None) -> Conventions:
    """Return the conventions called `name` ("" or None: the correct definitions)."""
    key = name or ""
    if key not in CONVENTIONS:
        known = ", ".join(repr(n) for n in sorted(CONVENTIONS))
        raise ValueError(f"Unknown compat mode {name!r}; known modes: {known}.")
    return CONVENTIONS[key]


CORRECT = register_conventions(Conventions())
GALE2020 = register_conventions(
    Conventions(
        name="gale2020",
        ties="image",
        false_alarms_over_all_images=True,
        informedness_classes=10,
        threshold_as_rank=True,
        top_k_counts_lowest=True,
    )
)
