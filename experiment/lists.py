"""Counterbalanced trial lists, stratified by layer (paper section 3.2); no database here."""

import random
from collections import defaultdict
from collections.abc import Hashable, Iterable


def stratified_lists(
    panels: Iterable[tuple[int, Hashable]], *, lists: int, seed: int
) -> list[list[int]]:
    """Split panels into `lists` lists with an equal share (within one) of every stratum.

    Args:
        panels: (panel id, stratum) pairs; the stratum is e.g. (network, layer).
        lists: how many lists to make (1 or more, at most the number of panels).
        seed: the same panels and seed always give the same lists.

    Returns:
        `lists` lists of panel ids, each sorted. Every panel is in exactly one list; each list
        gets floor or ceil of (stratum size / lists) panels of every stratum and floor or ceil of
        (panels / lists) panels in all. The paper's 256 conv5, 995 fc8 and 2048 fc6 panels into
        64 lists give every list 4 conv5, 15 or 16 fc8 and 32 fc6 panels, 51 or 52 in all.
    """
    by_stratum: dict[Hashable, list[int]] = defaultdict(list)
    for panel_id, stratum in panels:
        by_stratum[stratum].append(panel_id)
    total = sum(len(ids) for ids in by_stratum.values())
    if isinstance(lists, bool) or not isinstance(lists, int) or lists < 1:
        raise ValueError(f"the number of lists must be a whole number of at least 1, not {lists!r}")
    if lists > total:
        if not total:
            raise ValueError("it has no main panels: import or generate them first")
        raise ValueError(f"cannot make {lists} lists from {total} main panels; use at most {total}")
    rng = random.Random(seed)
    dealt = []
    for stratum in sorted(by_stratum, key=repr):
        ids = sorted(by_stratum[stratum])
        rng.shuffle(ids)
        dealt.extend(ids)
    # Dealing one shuffled stratum after another round the lists, without restarting at list 0,
    # keeps every stratum and the totals within one; a shuffled list order spreads the extras.
    slots = list(range(lists))
    rng.shuffle(slots)
    assignment: list[list[int]] = [[] for _ in range(lists)]
    for position, panel_id in enumerate(dealt):
        assignment[slots[position % lists]].append(panel_id)
    return [sorted(ids) for ids in assignment]
