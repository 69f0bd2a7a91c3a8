"""Small hand-built response tables for the ratings tests (not a test module)."""

import pandas as pd
import pytest

from analysis.labels import AgreementJudge, LabelMatcher

FLAT_COATED_RETRIEVER, GRANNY_SMITH, SPORTS_CAR, EGGNOG = (
    "n02099267",
    "n07742313",
    "n04285008",
    "n07932039",
)


@pytest.fixture(scope="session")
def matcher() -> LabelMatcher:
    """The real WordNet matcher (make wordnet builds var/nltk_data), loaded once per session."""
    from django.conf import settings

    from analysis.selectors import labels_matcher

    return labels_matcher(str(settings.NLTK_DATA_DIR))


def units_frame(rows: list[tuple]) -> pd.DataFrame:
    """Units from (key, network, layer, unit, most_active_wnid, ccmas_wnid)."""
    columns = ["key", "network", "layer", "unit", "most_active_wnid", "ccmas_wnid"]
    return pd.DataFrame(rows, columns=columns).set_index("key")


def responses_frame(rows: list[tuple], matcher: LabelMatcher) -> pd.DataFrame:
    """Main responses from (participant, unit key, yes, label text)."""
    frame = pd.DataFrame(rows, columns=["participant", "unit", "yes", "text"])
    frame["labels"] = [matcher.labels(text) for text in frame["text"]]
    frame["is_practice"] = False
    frame["q2_bin"] = float("nan")
    frame["response_ms"] = 5000
    frame["panel"] = frame["unit"]
    frame["intended_answer"] = ""
    return frame


def hand_case(matcher, overrides=None):
    """Layer L with three units; the expected values are worked out in test_ratings_table1."""
    units = units_frame(
        [
            ("u1", "net", "L", 1, FLAT_COATED_RETRIEVER, SPORTS_CAR),
            ("u2", "net", "L", 2, GRANNY_SMITH, ""),
            ("u3", "net", "L", 3, EGGNOG, EGGNOG),
        ]
    )
    responses = responses_frame(
        [
            (1, "u1", True, "dogs"), (2, "u1", True, "Dog"), (3, "u1", True, "a dog"),
            (4, "u1", True, "puppies"), (5, "u1", True, "car"),
            (1, "u2", True, "apples"), (2, "u2", True, "apple"), (3, "u2", True, "green peppers"),
            (4, "u2", True, "car"), (5, "u2", False, ""),
            (1, "u3", True, "drink"), (2, "u3", False, ""), (3, "u3", False, ""),
            (4, "u3", False, ""),
        ],
        matcher,
    )  # fmt: skip
    return responses, units, AgreementJudge(matcher, overrides or {})
