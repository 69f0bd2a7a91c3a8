"""The generative model of simulate_responses (docs/analysis.md, "Simulated participants").

Each unit u of layer group g has an interpretability p_u ~ Beta(k m_g, k (1 - m_g)), mean m_g
(the paper's Table 1 (a) for AlexNet's conv5, fc6 and fc8; 0.3 otherwise). Participant i has a
bias b_i ~ N(0, sigma) on the logit scale: P(yes) = sigmoid(logit(p_u) + b_i). A 'yes' names the
unit's own label (its most-active ImageNet class's name) with probability p_u, otherwise a
random class name. Q2 is the bin of p_u plus N(0, 0.15) noise; response times are
log-normal around `median_ms` (6 s).
"""

from dataclasses import dataclass

import numpy as np

LAYER_YES_RATE = {"conv5": 0.217, "fc6": 0.210, "fc8": 0.712}  # paper Table 1 (a)


@dataclass(frozen=True)
class SimulationSettings:
    seed: int = 0
    concentration: float = 2.0  # k of the Beta prior; small k spreads units towards 0 and 1
    participant_sd: float = 0.5  # sigma of the logit bias
    default_yes_rate: float = 0.3
    median_ms: float = 6000.0
    practice_accuracy: float = 0.9  # share of practice answers equal to the intended one


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def unit_interpretability(layers: list[str], settings: SimulationSettings, rng) -> np.ndarray:
    """p_u for each unit, drawn around its layer's yes-rate, (U,)."""
    means = np.array([LAYER_YES_RATE.get(layer, settings.default_yes_rate) for layer in layers])
    k = settings.concentration
    return rng.beta(k * means, k * (1 - means))


def simulate_answers(
    interpretability: np.ndarray,
    participant_bias: np.ndarray,
    own_labels: list[str],
    other_labels: list[str],
    settings: SimulationSettings,
    rng,
) -> dict[str, np.ndarray]:
    """Answers of participants to units, one element per response.

    interpretability, participant_bias: (R,) per response. Returns yes (R,) bool, q2_bin (R,)
    (-1 for 'no'), label (R,) str ('' for 'no') and response_ms (R,).
    """
    n = len(interpretability)
    p_yes = 1 / (1 + np.exp(-(_logit(interpretability) + participant_bias)))
    yes = rng.random(n) < p_yes
    coherent = rng.random(n) < interpretability
    random_labels = np.asarray(other_labels)[rng.integers(0, len(other_labels), n)]
    label = np.where(coherent, np.asarray(own_labels), random_labels)
    q2 = np.clip(((interpretability + rng.normal(0, 0.15, n)) * 5).astype(int), 0, 4)
    return {
        "yes": yes,
        "q2_bin": np.where(yes, q2, -1),
        "label": np.where(yes, label, ""),
        "response_ms": rng.lognormal(np.log(settings.median_ms), 0.4, n).astype(int),
    }
