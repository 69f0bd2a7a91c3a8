"""The label-agreement decisions cached on disk between reports (WordNet look-ups are slow).

A cache is used only with the settings and the rules (analysis/labels.py) that made it.
"""

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from analysis import labels
from analysis.labels import AgreementSettings, LabelMatcher
from generator.am.outputs import json_write_atomic


def labels_cache_key(settings: AgreementSettings) -> str:
    """Stored decisions are only valid for the same settings and the same rules (labels.py)."""
    source = Path(labels.__file__).read_bytes()
    stamp = json.dumps(asdict(settings), sort_keys=True).encode()
    return hashlib.sha256(source + stamp).hexdigest()[:16]


def labels_cache_load(matcher: LabelMatcher, path: Path) -> int:
    """Fill the matcher's caches from `path` when it holds decisions for the same key.

    Returns how many pair decisions were loaded (0 for a missing, stale or unreadable file).
    """
    try:
        stored = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return 0
    if not isinstance(stored, dict) or stored.get("key") != labels_cache_key(matcher.settings):
        return 0
    matcher.normalised.update(stored.get("normalised", {}))
    matcher.terms.update(stored.get("terms", {}))
    matcher.decided.update({(a, b): bool(agree) for a, b, agree in stored.get("decided", [])})
    matcher.saved_entries = matcher.cache_entries
    return len(stored.get("decided", []))


def labels_cache_save(matcher: LabelMatcher, path: Path) -> None:
    """Write the matcher's decisions to `path` atomically (readers never see half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = {
        "key": labels_cache_key(matcher.settings),
        "normalised": matcher.normalised,
        "terms": matcher.terms,
        "decided": [[a, b, agree] for (a, b), agree in matcher.decided.items()],
    }
    json_write_atomic(path, stored)
    matcher.saved_entries = matcher.cache_entries
