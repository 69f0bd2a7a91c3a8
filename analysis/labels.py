"""Label normalisation and WordNet agreement for participants' Q3 answers (paper appendix 5).

Django-free: the WordNet folder and the researchers' overrides are passed in. Two labels agree
when they name the same rough class, as the paper's coders judged it (docs/analysis.md), through
their frequent senses (used in the SemCor counts): the same synset; one a hypernym of the other
within `max_hypernym_distance`, and deep enough (`min_depth`) to name it ("beverage" for eggnog,
not "entity"); both kinds of one rough class a lay person names (`basic_classes`, `rough_classes`:
people, dogs, cats, drinks with their glasses, fruit and vegetables, ...); or, among living
things, both kinds of a small group (at most `max_shared_living_hyponyms` kinds: big cats,
bears, cattle; not rodents: a mouse is no beaver). Siblings under any other hypernym disagree:
a car is no bike (wheeled vehicles), water no sky (fluids). A rare sense counts only where it
is, or names, what the other side means: "mouse" agrees with the ImageNet class computer mouse
(its fourth sense) and with "computer mouse", not with "dog". An ImageNet class takes part
through its WordNet id (n02099267), as a label with that one sense.
"""

import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

MAX_LABELS = 2  # "You may write a maximum of two things."
WNID_PATTERN = re.compile(r"^n\d{8}$")
_SPLIT = re.compile(r"\s*(?:[,;/|]|\n)\s*")  # always separates two things
_JOINED = re.compile(r"\s*(?:[+&]|\band\b|\bor\b)\s*")  # separates unless a term ("fish and chips")
# Answers that name nothing, as they are after cleaning (lower case, punctuation removed).
NON_ANSWERS = frozenset(
    {"n a", "na", "nil", "none", "nothing", "no", "nope", "no answer", "not applicable"}
    | {"not sure", "unsure", "not certain", "i'm not sure", "im not sure", "i am not sure"}
    | {"no idea", "no clue", "idk", "dunno", "unknown", "can't tell", "cant tell", "cannot tell"}
    | {"don't know", "dont know", "do not know", "i don't know", "i dont know", "i do not know"}
)
# Right and left single quotes, and the modifier letter apostrophe some keyboards type.
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc", "'"))
# Latin letters that Unicode does not decompose into an ASCII letter and a mark.
_LATIN_LETTERS = str.maketrans(
    {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)
_NOT_WORD = re.compile(r"[^\w' -]|_")  # punctuation and symbols of any script
# Longest first: the regex takes the first alternative that matches ("a" would eat "a lot of").
_LEADING = re.compile(r"^(?:(?:a lot of|lots of|several|some|many|the|an|a|of)\s+)+")
# Words for persons that WordNet files away from person.n.01, which their singular forms keep:
# "people" is a group (people.n.01), "human" a hominid (homo.n.02), "humans" the human race.
SAME_AS = dict.fromkeys(["people", "human", "humans", "human being", "human beings"], "person")
# "clothes" is WordNet's apparel, a sister of the clothing that garments are filed under.
SAME_AS["clothes"] = "clothing"
INSTALL_HINT = (
    "Run `make wordnet` (it copies Debian's wordnet-base and wordnet-sense-index, "
    "`apt-get install wordnet-base wordnet-sense-index`, into var/nltk_data), "
    "or point the NLTK_DATA environment variable at a folder holding corpora/wordnet."
)


# The files NLTK's reader opens on first use, not when it is made: the noun synsets, the sense
# index and the SemCor usage counts (cntlist.rev) that choose a label's senses.
LAZY_FILES = ("data.noun", "index.sense", "cntlist.rev")


class WordNetMissingError(RuntimeError):
    """WordNet data cannot be found where the analysis looks for it."""


@dataclass(frozen=True)
class AgreementSettings:
    """How generous the automatic agreement is; saved beside every report."""

    max_senses: int = 3  # the most frequent noun senses of a label taken into account
    min_sense_share: float = 0.1  # a later sense needs this share of the first sense's uses
    max_hypernym_distance: int = 6  # also how far below a rough class its kinds may lie
    min_depth: int = 5  # a hypernym label ("beverage") must be at least this deep
    # Rough classes however shallow and wide WordNet files them (with rough_classes): person.n.01
    # is 3 deep (through "causal agent") with thousands of kinds of person below it, yet "man",
    # "woman" and "scuba diver" are all people to a coder, as every dog breed is a dog.
    basic_classes: tuple[str, ...] = ("person.n.01",)
    # Living things are filed by biology, whose small groups (a genus or family) people name as
    # one: two kinds within `max_shared_distance` under a hypernym below these with at most
    # `max_shared_living_hyponyms` kinds agree: big cats (19), bears (11), apes (16), cattle (29:
    # a cow is an ox). A few odd pairs pass (armadillo and sloth, 21; cockroach and mantis, 8).
    # Larger ones are orders people split: rodents (138: a mouse is no beaver), canines (223: a
    # wolf is no dog), carnivores (365: a cat is no dog).
    living_things: tuple[str, ...] = ("organism.n.01",)
    max_shared_living_hyponyms: int = 30
    max_shared_distance: int = 5
    # Animal names call people names only in figures of speech ("tiger": a fierce person, as
    # often as the big cat in SemCor; "bull", "worm"): a label with a frequent sense that is a
    # kind of these (two or more steps below: not "adult", "male") keeps its senses below
    # `basic_classes` only where one is used more than every such sense (and that is used).
    literal_kinds: tuple[str, ...] = ("animal.n.01",)
    # Rough classes beyond `basic_classes`: the kinds of one agree with each other, however
    # WordNet files them, as the paper's coders took "beer", "glass" and "drink" for one object.
    # Each is a class a lay person names, as one or more WordNet branches; a kind belongs within
    # `max_hypernym_distance` of a branch. Siblings elsewhere disagree: "car" and "bike" are both
    # wheeled vehicles, "cat" and "dog" both carnivores, but no one names those classes. Birds
    # and fish are left out: their kinds look unlike (a duck and an eagle, a shark and a
    # goldfish), and "bird" and "fish" still name every kind of them.
    rough_classes: tuple[tuple[str, ...], ...] = (
        ("dog.n.01",),  # dog: every breed and puppies
        ("feline.n.01",),  # cat: house cats and big cats
        ("snake.n.01",),
        ("produce.n.01",),  # fruit and vegetables: green peppers and apples (the paper, Fig. 4)
        # drink: "beer", "glass" and "drink" (the paper, section 3.2), beverages and what they
        # are drunk from
        ("beverage.n.01", "glass.n.02", "drinking_vessel.n.01", "cup.n.01"),
        ("car.n.01",),
        ("vessel.n.02",),  # boat: boats and ships
        ("shore.n.01", "beach.n.01"),  # shore: seashore, lakeside, beach
    )
    # A word whose frequent senses are not what a lay person means by it gets the senses meant
    # instead (all its senses, rare ones too): WordNet's "fruit" is the botanical one, the
    # ripened body of a seed plant, so an ear of corn, an acorn and rapeseed were fruit; people
    # mean edible fruit.
    lay_senses: tuple[tuple[str, tuple[str, ...]], ...] = (("fruit", ("edible_fruit.n.01",)),)


def cleaned_labels(*answers: str, is_term: Callable[[str], bool] | None = None) -> tuple[str, ...]:
    """Every distinct cleaned label of the answers, in order (LabelMatcher.labels keeps two).

    "Green Peppers, apples!" -> ("green peppers", "apples"). "and", "or", "&" and "+" also
    separate two things, unless `is_term` says the whole phrase is one ("fish and chips").
    Non-answers ("n/a", "none", "no idea") give no label, also when the experiment stored
    "n/a" split on its slash as the two answers "n" and "a". Nor does text shaped like a
    WordNet id ("n02099267"): agreement reads those as ImageNet classes, never what a
    participant typed.
    """
    answers = tuple(_lower(answer) for answer in answers)
    if _clean("/".join(answer for answer in answers if answer.strip())) in NON_ANSWERS:
        return ()
    labels: list[str] = []
    for answer in answers:
        if _clean(answer) in NON_ANSWERS:  # before "/" splits "n/a"
            continue
        for part in _SPLIT.split(answer):
            # WordNet is asked only about phrases with a joiner in them: it is slow to load.
            joined = _JOINED.search(part) and is_term and is_term(_clean(part))
            pieces = [part] if joined else _JOINED.split(part)
            for label in map(_clean, pieces):
                named = label and label not in NON_ANSWERS and not WNID_PATTERN.match(label)
                if named and label not in labels:
                    labels.append(label)
    return tuple(labels)


def _lower(answer: str | None) -> str:
    """Lower case folded to ASCII where a letter has an ASCII form: full-width "ｄｏｇ" (phone
    keyboards) is "dog", "jalapeño" "jalapeno", "smørrebrød" "smorrebrod", and typographic
    apostrophes are plain ("I don’t know")."""
    text = unicodedata.normalize("NFKC", answer or "").lower()
    marked = unicodedata.normalize("NFD", text)
    text = "".join(char for char in marked if unicodedata.category(char) != "Mn")
    return text.translate(_APOSTROPHES).translate(_LATIN_LETTERS)


def _clean(text: str) -> str:
    """Lower-case ASCII words only, without punctuation, leading articles and quantifiers."""
    return _LEADING.sub("", " ".join(_readable_words(text))).strip(" '-")


def _readable_words(text: str) -> list[str]:
    """The words of folded text (_lower) that WordNet can read. A word with a letter that has
    no ASCII form (Greek, Chinese) is left out whole: its fragments ("jalape o" of a letter
    cut out) would be judged as other words."""
    return [word for word in _NOT_WORD.sub(" ", text).split() if word.isascii()]


def has_unreadable_words(*answers: str) -> bool:
    """Whether the answers hold words that labels leave out (_readable_words)."""
    return any(
        not word.isascii()
        for answer in answers
        for word in _NOT_WORD.sub(" ", _lower(answer)).split()
    )


def load_wordnet(data_dir: Path | str | None):
    """Open WordNet 3.0 with NLTK from `data_dir` (holding corpora/wordnet) or NLTK's own paths.

    Raises WordNetMissingError saying how to install it when it is not there.
    """
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    if data_dir is not None and str(Path(data_dir).resolve()) not in nltk.data.path:
        nltk.data.path.insert(0, str(Path(data_dir).resolve()))
    try:
        root = nltk.data.find("corpora/wordnet")
    except LookupError as error:
        raise WordNetMissingError(f"WordNet not found in {data_dir}. {INSTALL_HINT}") from error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": not used
        try:
            reader = WordNetCorpusReader(root, None)
            for name in LAZY_FILES:  # missing, they would fail mid-analysis
                reader.open(name).close()
            return reader
        except (OSError, ValueError) as error:
            message = f"WordNet in {root} is unusable ({error}). {INSTALL_HINT}"
            raise WordNetMissingError(message) from error


def _usage_count(synset, word: str) -> int:
    """How often SemCor uses `word` in this sense (WordNet's cntlist; 0 for unseen senses)."""
    return sum(lemma.count() for lemma in synset.lemmas() if lemma.name().lower() == word.lower())


def pair_key(a: str, b: str) -> tuple[str, str]:
    """The order-free key of a pair of labels (overrides are stored sorted)."""
    return (a, b) if a <= b else (b, a)


@dataclass
class LabelMatcher:
    """Normalises labels and decides agreement through WordNet, caching every decision.

    WordNet is loaded on the first label or pair not in the caches, so an analysis whose
    decisions were all stored (labels_cache_load) never pays its loading time.
    """

    load: Callable[[], object]  # returns the WordNet reader, e.g. lambda: load_wordnet(dir)
    settings: AgreementSettings = field(default_factory=AgreementSettings)
    normalised: dict[str, str] = field(default_factory=dict)
    decided: dict[tuple[str, str], bool] = field(default_factory=dict)
    terms: dict[str, bool] = field(default_factory=dict)  # joined phrase -> WordNet noun?
    saved_entries: int = 0  # normalisations + decisions the cache file holds (labels_cache_*)

    def __post_init__(self):
        self.senses = cache(self._senses)
        self.all_senses = cache(self._all_senses)
        self.ancestors = cache(self._ancestors)
        self.hyponym_count = cache(self._hyponym_count)

    @cached_property
    def wordnet(self):
        return self.load()

    @property
    def cache_entries(self) -> int:
        return len(self.normalised) + len(self.decided) + len(self.terms)

    def normalise(self, label: str) -> str:
        """Singular form of a cleaned label (cached)."""
        if label not in self.normalised:
            self.normalised[label] = self._normalise(label)
        return self.normalised[label]

    def auto_agree(self, first: str, second: str) -> bool:
        """The automatic decision for two normalised labels or WordNet ids (cached)."""
        key = pair_key(first, second)
        if key not in self.decided:
            self.decided[key] = self._auto_agree(*key)
        return self.decided[key]

    def labels(self, *answers: str) -> tuple[str, ...]:
        """Normalised labels of a response's Q3 fields (at most two distinct ones)."""
        labels = cleaned_labels(*answers, is_term=self.is_term)
        normalised = (self.normalise(label) for label in labels)
        # The limit counts things, so it applies after "dogs" and "dog" have become one.
        return tuple(dict.fromkeys(label for label in normalised if label))[:MAX_LABELS]

    def is_term(self, phrase: str) -> bool:
        """Whether WordNet knows a multi-word phrase as one noun ("macaroni and cheese"; cached)."""
        if phrase not in self.terms:
            known = " " in phrase and self.wordnet.synsets(phrase.replace(" ", "_"), "n")
            self.terms[phrase] = bool(known)
        return self.terms[phrase]

    def _normalise(self, label: str) -> str:
        """Singular form of a cleaned label, via WordNet's morphology ("green peppers")."""
        phrase = label.replace(" ", "_")
        lemma = self.wordnet.morphy(phrase, "n")
        if lemma is None and "_" in phrase:
            head, _, last = phrase.rpartition("_")
            last_lemma = self.wordnet.morphy(last, "n")
            lemma = f"{head}_{last_lemma}" if last_lemma else None
        singular = (lemma or phrase).replace("_", " ")
        return SAME_AS.get(singular, singular)

    def _senses(self, label: str) -> tuple:
        """The noun synsets agreement compares: a label's frequent senses, or a class's synset.

        A label keeps its first sense and the others SemCor used it in at least `min_sense_share`
        as often (WordNet's cntlist), at most `max_senses`: rare senses ("dog" as a man, 0 of 42
        uses; "fish" as a Piscean, 1 of 12) make false matches. Unseen words keep `max_senses`.
        """
        if WNID_PATTERN.match(label):
            return self.all_senses(label)
        word, synsets = self._noun_synsets(label)
        counts = [_usage_count(synset, word) for synset in synsets]
        needed = self.settings.min_sense_share * (counts[0] if counts else 0)
        used = [(s, count) for s, count in zip(synsets, counts, strict=True) if count >= needed]
        # Counted by the word's base forms too: "tigers" (a Tamil group in WordNet) is no
        # plural to WordNet's morphology, yet SemCor counts its senses as "tiger"'s.
        forms = {word, *self._base_forms(word)}
        uses = {s: max(_usage_count(s, form) for form in forms) for s, _ in used}
        literal = max((uses[s] for s, _ in used if self._is_kind_of_animal(s)), default=0)
        if literal:  # a figurative person is no person to a coder looking at the picture
            used = [
                (s, count)
                for s, count in used
                if uses[s] > literal or not self._is_below(s, self.settings.basic_classes)
            ]
        return tuple(s for s, _ in used[: self.settings.max_senses])

    def _all_senses(self, label: str) -> tuple:
        """Every noun synset of a label, rare ones too, or a class's synset (none for a
        WordNet id that WordNet 3.0 lacks)."""
        if WNID_PATTERN.match(label):
            synset = self._class_synset(label)
            return () if synset is None else (synset,)
        return tuple(self._noun_synsets(label)[1])

    def _base_forms(self, word: str) -> list[str]:
        """The noun base forms WordNet's morphology gives a word ("tigers": "tigers", "tiger")."""
        return list(self.wordnet._morphy(word, "n"))  # morphy() gives only the first of them

    def _is_kind_of_animal(self, synset) -> bool:
        """A kind of one of `literal_kinds` two or more steps below it (a tiger, a bull, a
        worm), not a role any animal can have one step below ("adult", "male", "giant"),
        whose person senses are no figure of speech."""
        distances = self.ancestors(synset)
        return any(distances.get(kind, 0) >= 2 for kind in self._literal_synsets)

    @cached_property
    def _literal_synsets(self) -> list:
        return [self.wordnet.synset(name) for name in self.settings.literal_kinds]

    @cached_property
    def _rough_classes(self) -> list[tuple]:
        """The branches of each rough class: `basic_classes` one each, then `rough_classes`."""
        settings = self.settings
        groups = [(name,) for name in settings.basic_classes] + list(settings.rough_classes)
        return [tuple(self.wordnet.synset(name) for name in group) for group in groups]

    def _class_synset(self, wnid: str):
        """The synset of an ImageNet class's WordNet id (n02099267), None when there is none."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "No WordNet synset found": None says so
            return self.wordnet.synset_from_pos_and_offset("n", int(wnid[1:]))

    def _noun_synsets(self, label: str) -> tuple[str, list]:
        """(word looked up, all its noun synsets in WordNet's order, most frequent first; for a
        word in `lay_senses` the senses a lay person means)."""
        phrase = label.replace(" ", "_")
        synsets = self.wordnet.synsets(phrase, "n")
        if not synsets and "_" in phrase:  # "shiny red apple" -> senses of "apple"
            phrase = phrase.rpartition("_")[2]
            synsets = self.wordnet.synsets(phrase, "n")
        lay_senses = dict(self.settings.lay_senses)
        if phrase in lay_senses:
            synsets = [self.wordnet.synset(name) for name in lay_senses[phrase]]
        return phrase, synsets

    def _ancestors(self, synset) -> dict:
        """The synset (at 0) and every hypernym (instance hypernyms too) with its shortest
        distance."""
        distances: dict = {}
        for ancestor, distance in synset.hypernym_distances(simulate_root=False):
            if distance < distances.get(ancestor, distance + 1):
                distances[ancestor] = distance
        return distances

    def _hyponym_count(self, synset) -> int:
        """How many synsets lie under this one (counting stops past the limit): how general."""
        seen, frontier = set(), [synset]
        while frontier and len(seen) <= self.settings.max_shared_living_hyponyms:
            below = frontier.pop()
            for child in below.hyponyms() + below.instance_hyponyms():
                if child not in seen:
                    seen.add(child)
                    frontier.append(child)
        return len(seen)

    def synsets_agree(self, first, second) -> bool:
        """Same synset, one names the other, one rough class, or one small group of living
        things."""
        return (
            first == second
            or self._names(first, second)
            or self._names(second, first)
            or self._share_rough_class(first, second)
            or self._share_small_living_group(first, second)
        )

    def _names(self, general, specific) -> bool:
        """`general` is a hypernym of `specific` within `max_hypernym_distance`, specific enough
        to name it: at least `min_depth` deep or one of `basic_classes` ("beverage" for eggnog,
        "person" for a scuba diver, not "entity")."""
        distance = self.ancestors(specific).get(general, 0)
        return 0 < distance <= self.settings.max_hypernym_distance and (
            self._is_basic(general) or general.min_depth() >= self.settings.min_depth
        )

    def _share_rough_class(self, first, second) -> bool:
        """Both are kinds of one rough class (`basic_classes`, `rough_classes`)."""
        return any(
            self._in_class(first, branches) and self._in_class(second, branches)
            for branches in self._rough_classes
        )

    def _in_class(self, synset, branches: tuple) -> bool:
        """One of `branches` or within `max_hypernym_distance` below one."""
        distances = self.ancestors(synset)
        limit = self.settings.max_hypernym_distance
        return any(distances.get(branch, limit + 1) <= limit for branch in branches)

    def _share_small_living_group(self, first, second) -> bool:
        """Both lie within `max_shared_distance` under a kind of living thing with at most
        `max_shared_living_hyponyms` kinds below it (big cats, bears; not rodents)."""
        up_first, up_second = self.ancestors(first), self.ancestors(second)
        settings = self.settings
        return any(
            max(up_first[h], up_second[h]) <= settings.max_shared_distance
            and self.hyponym_count(h) <= settings.max_shared_living_hyponyms
            and self._is_below(h, settings.living_things)
            for h in up_first.keys() & up_second.keys()
        )

    def _is_below(self, synset, names: tuple[str, ...]) -> bool:
        """A kind of one of the synsets `names` (or one itself)."""
        found = {ancestor.name() for ancestor in self.ancestors(synset)}
        return not found.isdisjoint(names)

    def _is_basic(self, synset) -> bool:
        """One of `basic_classes`: a rough class however shallow and wide WordNet files it."""
        return synset.name() in self.settings.basic_classes

    def _auto_agree(self, first: str, second: str) -> bool:
        """Decide a pair of normalised labels (or WordNet ids) through WordNet."""
        if first == second:
            return True
        frequent_first, frequent_second = self.senses(first), self.senses(second)
        return (
            any(self.synsets_agree(a, b) for a in frequent_first for b in frequent_second)
            or self._rare_sense_names(first, frequent_second)
            or self._rare_sense_names(second, frequent_first)
        )

    def _rare_sense_names(self, label: str, meant: tuple) -> bool:
        """Whether a rare sense of `label` is, or names, a sense the other side means: a
        participant who sees computer mice writes "mouse" (its fourth sense), so "mouse" agrees
        with that class and with "computer mouse", though not with a rodent's kin."""
        frequent = self.senses(label)
        return any(
            sense == other or self._names(sense, other)
            for sense in self.all_senses(label)
            if sense not in frequent
            for other in meant
        )


@dataclass
class AgreementJudge:
    """Automatic decisions with the researchers' overrides on top; counts the overrides used."""

    matcher: LabelMatcher
    overrides: Mapping[tuple[str, str], bool] = field(default_factory=dict)
    asked: set = field(default_factory=set)  # every pair decided, for the researchers' review

    def agree(self, first: str, second: str) -> bool:
        """Whether two normalised labels (or a label and a WordNet id) agree."""
        key = pair_key(first, second)
        self.asked.add(key)
        if key in self.overrides:
            return self.overrides[key]
        return self.matcher.auto_agree(*key)

    @property
    def used_overrides(self) -> set:
        """The overrides that changed or confirmed a decision in this analysis."""
        return self.asked & self.overrides.keys()

    def decisions(self) -> list[dict]:
        """Every pair decided: automatic decision, override (None when none) and the result."""
        rows = []
        for first, second in sorted(self.asked):
            automatic = self.matcher.auto_agree(first, second)
            override = self.overrides.get((first, second))
            agree = automatic if override is None else override
            rows.append(
                {"label_a": first, "label_b": second, "automatic": automatic}
                | {"override": override, "agree": agree}
            )
        return rows

    def any_agree(self, firsts: Iterable[str], seconds: Iterable[str]) -> bool:
        """Two responses agree when any label of one agrees with any label of the other."""
        seconds = tuple(seconds)
        return any(self.agree(a, b) for a in firsts for b in seconds)
