"""Text analysis shared by indexing and questions: folding, tokens, names, synonyms and stems."""

from __future__ import annotations

import importlib.util
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.sources.corpus import Cue, Person

__all__ = ["PERSON_PREFIX", "Analyzer", "Speller", "Token", "fold", "foreign", "reading"]

PERSON_PREFIX = "@"

# Function words, and the words people wrap around a question ("tell me", "what did you think of").
# Neither says what a question is about, so neither may make a passage look relevant.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren as at be because been before being
    below between both but by can cannot could couldn d did didn do does doesn doing don down during each
    else ever few for from further get got had hadn has hasn have haven having he her here hers herself him
    himself his how i if in into is isn it its itself just ll let like m me might more most much must mustn
    my myself no nor not now o of off on once only or other ought our ours ourselves out over own re really
    s same shan she should shouldn so some such t than that the their theirs them themselves then there
    these they this those through to too under until up upon ve very was wasn we were weren what whats when
    where which while who whom whose why will with won would wouldn y yet anything something someone anyone
    everything thing things stuff kind sort lot lots bit tell told say said says saying describe described
    explain know knew think thought thoughts thinks feel felt happen happened happens please mean meant
    remember give show find ok okay hey hi hello yeah yes guy guys fellow bloke chap dude man mr mrs ms sir
    make makes making take takes taking go goes going went gone come comes came want wanted wants become
    became becomes actually exactly maybe perhaps probably basically becoming
    """.split()
)
# Contractions typed without their apostrophe ("didnt", "wasnt") are stop words like "didn't", not
# typos of English words ("didst", "want") nor of the sources' words
STOPWORDS = STOPWORDS | frozenset(
    """
    didnt doesnt dont wasnt werent isnt arent hasnt havent hadnt wouldnt couldnt shouldnt mustnt cant wont
    im ive hes shes thats theres theyre theyve weve lets
    """.split()
)
SECOND_PERSON = frozenset("you your yours yourself u ur ya yer thee thou thy youre youve youd youll".split())
MEMO_LIMIT = 200_000  # the sources' words remembered by stem() and term(); others are worked out, never kept
_WORD = re.compile(r"([a-z0-9]+)(?:'[a-z]+)?")  # the group drops possessives and contractions
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def fold(text: str) -> str:
    """Lower-case, strip accents and unify apostrophes, so that spellings compare equal."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def words(text: str) -> list[str]:
    """Folded words, with possessives and contractions cut off ("churchill's" -> "churchill")."""
    return [w for w in _WORD.findall(fold(text)) if len(w) > 1 or w.isdigit()]


_POSSESSIVE = frozenset(["your", "yours", "ur", "yer", "thy"])


def reading(question: str, fixes: Mapping[str, str] | None = None) -> str:
    """The question as the sentence model should read it: typos repaired ("chamberlin umbrela" ->
    "chamberlain umbrella") and the second person made the third ("when did you die" -> "when did he
    die"), because the sources speak of Maisky, not to him. "He", not "Maisky": the name would pull
    every question towards the passages that sum up his life."""
    fixes = fixes or {}

    def swap(m: re.Match[str]) -> str:
        w = m.group(1)
        fixed = fixes.get(w, w)
        if fixed in SECOND_PERSON:
            return "his" if fixed in _POSSESSIVE else "he"
        return fixed + m.group(0)[len(w) :]

    return _WORD.sub(swap, fold(question))


@dataclass(frozen=True)
class Token:
    """One word of a question as the matcher saw it."""

    surface: str  # what the user typed (folded)
    term: str  # the index term it became
    corrected: str = ""  # the known word a typo was corrected to
    via: str = ""  # "name", "you", "synonym", "cue", "question" (a cue that counts as evidence) or ""


class Analyzer:
    """Turns passages and questions into index terms the same way."""

    def __init__(
        self,
        people: Mapping[str, Person],
        synonyms: Sequence[Sequence[str]],
        cues: Sequence[Cue] = (),
    ) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._stemmer.maxCacheSize = 0  # its own cache of 10,000 words would fill with users' words
        self._stems: dict[str, str] = {}
        self._terms: dict[str, str] = {}
        self._canonical: dict[str, str] = {}
        for group in synonyms:
            head = self.stem(words(group[0])[0]) if words(group[0]) else ""
            for w in group:
                ws = words(w)
                if len(ws) == 1 and head:
                    self._canonical[self.stem(ws[0])] = head
        self.names: dict[tuple[str, ...], str] = {}
        for person in people.values():
            for alias in (person.name, *person.aliases):
                key = tuple(w for w in words(alias) if w not in STOPWORDS)
                if key:
                    self.names.setdefault(key, person.id)
        self._namesakes, self._namesake_groups = _namesakes(self.names, people)
        self._longest_name = max((len(k) for k in self.names), default=1)
        self._name_starts = frozenset(k[0] for k in self.names)
        self.cues: list[tuple[frozenset[str], str, bool, bool]] = []
        self._keep: set[str] = set()  # cue words are indexed even where they are stop words
        for when, adds, evidence, every in cues:
            if words(adds):
                trigger = frozenset(w for t in when for w in words(t))
                self.cues.append((trigger, self.term(words(adds)[0]), evidence, every))
                self._keep.add(words(adds)[0])

    def stem(self, word: str) -> str:
        s = self._stems.get(word)
        return s if s is not None else self._stemmer.stemWord(word)

    def term(self, word: str) -> str:
        """The index term of a word. Only the sources' words are remembered (`_learn`): a question's
        new word is worked out each time (a microsecond), so what users type never grows memory."""
        t = self._terms.get(word)
        if t is None:
            s = self.stem(word)
            t = self._canonical.get(s, s)
        return t

    def _learn(self, word: str) -> str:
        """term(), remembered: for the sources' words, looked up again at every question."""
        t = self._terms.get(word)
        if t is None:
            s = self._stemmer.stemWord(word)
            t = self._canonical.get(s, s)
            if len(self._terms) < MEMO_LIMIT:  # a bound even for a huge corpus
                self._stems[word] = s
                self._terms[word] = t
        return t

    def names_in(self, ws: Sequence[str]) -> list[tuple[int, int, str]]:
        """(start, end, person id) of each name in a stopword-free word list, longest alias first."""
        found: list[tuple[int, int, str]] = []
        i = 0
        starts = self._name_starts
        while i < len(ws):
            if ws[i] not in starts:
                i += 1
                continue
            for n in range(min(self._longest_name, len(ws) - i), 0, -1):
                pid = self.names.get(tuple(ws[i : i + n]))
                if pid:
                    found.append((i, i + n, pid))
                    i += n
                    break
            else:
                i += 1
        return found

    def in_context(self, ws: Sequence[str], spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        """A bare surname that two people share ("Kennedy": Joe Kennedy's alias, and the historian Paul
        Kennedy's surname) is the person whose full name the text gave last before it; people are never
        merged by their surname."""
        if not self._namesakes:
            return spans
        out: list[tuple[int, int, str]] = []
        last_full: dict[str, str] = {}  # surname -> the person its last full mention named
        for start, end, pid in spans:
            if end - start >= 2:
                last_full[ws[end - 1]] = pid
            elif ws[start] in self._namesakes and ws[start] in last_full:
                pid = last_full[ws[start]]
            out.append((start, end, pid))
        return out

    def namesakes(self, pid: str) -> frozenset[str]:
        """The other people who share a surname with `pid` (Paul Kennedy for Joseph P. Kennedy)."""
        return self._namesake_groups.get(pid, frozenset())

    def document_terms(self, *texts: str) -> tuple[list[str], list[str]]:
        """Index terms of a passage's text and annotations (names included as @person terms),
        and the words they came from (the vocabulary that typos are corrected to)."""
        terms: list[str] = []
        seen: list[str] = []
        learn = self._learn
        for text in texts:
            ws = [w for w in words(text) if w not in STOPWORDS or w in self._keep]
            terms.extend([learn(w) for w in ws])
            terms.extend(PERSON_PREFIX + pid for _, _, pid in self.in_context(ws, self.names_in(ws)))
            seen.extend(ws)
        return terms, seen

    def question_tokens(self, question: str, correct: Mapping[str, str] | None = None) -> list[Token]:
        """A question's tokens: "you" means Maisky, names become @person, typos are corrected through `correct`."""
        tokens: list[Token] = []
        typed: list[str] = []
        ws: list[str] = []
        said = words(question)
        fixes = correct or {}
        heard = [fixes.get(w, w) for w in said]  # a repaired typo may turn out a stop word ("wat" -> "what")
        for trigger, term, evidence, every in self.cues:
            hit = trigger.intersection(heard)
            if hit and (not every or hit == trigger):
                tokens.append(Token(" ".join(sorted(hit)), term, via="question" if evidence else "cue"))
        for w, fixed in zip(said, heard, strict=True):
            if fixed in SECOND_PERSON:
                tokens.append(Token(w, PERSON_PREFIX + "maisky", via="you"))
            elif fixed not in STOPWORDS:
                typed.append(w)
                ws.append(fixed)
        spans = self.names_in(ws)
        named = {i for start, end, _ in spans for i in range(start, end)}
        for start, end, pid in spans:
            fixed = " ".join(ws[start:end]) if ws[start:end] != typed[start:end] else ""
            tokens.append(Token(" ".join(typed[start:end]), PERSON_PREFIX + pid, corrected=fixed, via="name"))
        for i, (w, fixed) in enumerate(zip(typed, ws, strict=True)):
            if i in named:
                continue
            t = self.term(fixed)
            tokens.append(
                Token(w, t, corrected=fixed if fixed != w else "", via="synonym" if t != self.stem(fixed) else "")
            )
        return tokens


def _namesakes(
    names: Mapping[tuple[str, ...], str], people: Mapping[str, Person]
) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """Surnames that are one person's bare alias and end another person's full name ("kennedy": Joseph P.
    Kennedy, John F. Kennedy, and an imported Paul Kennedy), and for each person, their namesakes."""
    shared: dict[str, set[str]] = {}
    for key, pid in names.items():
        owner = names.get(key[-1:]) if len(key) >= 2 else None
        if not owner or owner == pid or owner not in people:
            continue
        owner_name = [w for w in words(people[owner].name) if w not in STOPWORDS]
        if owner_name and owner_name[-1] == key[-1]:  # a surname, not a first name ("Uncle Joe")
            shared.setdefault(key[-1], {owner}).add(pid)
    groups: dict[str, frozenset[str]] = {}
    for members in shared.values():
        for pid in members:
            groups[pid] = groups.get(pid, frozenset()) | frozenset(members - {pid})
    return frozenset(shared), groups


class Speller:
    """Repairs typos in ordinary English words ("thnik", "waht", "wen") with an English frequency
    dictionary (the one symspellpy ships, 82,765 words), and never "repairs" a correct word.

    A word the dictionary lacks becomes its most frequent neighbour one edit away (a swap of two
    letters is one edit; two edits for words of seven letters or more). A short word the
    dictionary holds is only replaced when a neighbour is a hundred times as common ("wat" is in
    the dictionary, but "what" is 280 times as frequent); "communist", "thanks" and any word of
    the sources are left alone. The dictionary is read on first use.
    """

    RATIO = 100  # how much more common a neighbour must be to replace a short dictionary word
    SHORT = 4  # only dictionary words this short are ever replaced

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._freq: dict[str, int] | None = None
        self._known: frozenset[str] | None = None
        self._by_length: dict[int, list[str]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def bundled() -> Path | None:
        spec = importlib.util.find_spec("symspellpy")
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / "frequency_dictionary_en_82_765.txt"
        return path if path.is_file() else None

    def _load(self) -> dict[str, int]:
        with self._lock:
            if self._freq is None:
                freq: dict[str, int] = {}
                path = self._path or self.bundled()
                if path is not None:
                    # each line is "word count": one split of the whole file, not a Python loop over its
                    # lines, read at every start (a fifth of a small start's CPU before)
                    fields = path.read_text(encoding="utf-8").split()
                    freq = {
                        w: int(c)
                        for w, c in zip(fields[0::2], fields[1::2], strict=False)
                        if w.isalpha() and c.isdigit()
                    }
                by_length: dict[int, list[str]] = defaultdict(list)
                for word in freq:
                    by_length[len(word)].append(word)
                self._by_length = dict(by_length)
                self._freq = freq
            return self._freq

    def _words(self) -> frozenset[str]:
        """The dictionary's words, without their counts: all that `knows` needs, and a question made of
        words the dictionary or the sources know needs nothing more (the counts and the words by length
        cost 0.07 s of CPU more to build, at each start). Where every count is a number (the bundled
        dictionary), a word is in `_load`'s table exactly when it is here and alphabetic."""
        if self._known is None:
            with self._lock:
                if self._known is None and self._freq is None:
                    path = self._path or self.bundled()
                    fields = path.read_text(encoding="utf-8").split() if path is not None else []
                    words, counts = fields[0::2], fields[1::2]
                    if words and len(words) == len(counts) and "".join(counts).isdigit():
                        self._known = frozenset(words)
            if self._known is None:
                self._known = frozenset(self._load())
        return self._known

    def knows(self, word: str) -> bool:
        return word in self._words() and word.isalpha()

    def repair(self, word: str, protected: Iterable[str] = ()) -> str:
        """The word this one is a typo of, or "" when it is not a typo (or nothing is close)."""
        if not word.isalpha() or len(word) < 3 or word in protected:
            return ""
        freq = self._load()
        own = freq.get(word)
        if own is not None and len(word) > self.SHORT:
            return ""
        reach = 2 if len(word) >= 7 else 1
        best, rank = "", (False, 0)
        for n in range(len(word) - reach, len(word) + reach + 1):
            pool = self._by_length.get(n)
            if not pool:
                continue
            for cand, _, _ in process.extract(word, pool, scorer=OSA.distance, score_cutoff=reach, limit=None):
                r = (cand[0] == word[0], freq[cand])  # a typo seldom changes the first letter
                if cand != word and r > rank:
                    best, rank = cand, r
        if not best:
            return ""
        best_freq = rank[1]
        if own is not None and best_freq < own * self.RATIO:
            return ""
        return best


SPELLER = Speller()  # shared: the dictionary is read once per process


# Function words of the other languages a club member may write in Latin script (French, German,
# Spanish, Italian, Portuguese, Dutch), less any English word ("die", "was", "come", "as")
_FOREIGN = (
    frozenset(
        """de di le la les des du une est que qui quoi pour avec dans sur pas vous tu elle ils nous votre pourquoi
    comment quand où qu ce cette ces était sont aux avez êtes der das und ist nicht mit von wie warum wer
    wann ein eine einen dem sie ich wir sind ihr über haben hat los las por qué cómo con una del cuando
    donde dónde quién pero para muy fue sus usted della delle che chi perché quando dove sono gli cosa
    não com quem você het een en van wat wie waarom hoe niet zijn""".split()
    )
    - STOPWORDS
)


def foreign(text: str) -> bool:
    """Whether a question in Latin script is written in another language: at least two distinct
    function words of French, German, Spanish, Italian, Portuguese or Dutch, and more of them than
    English ones ("Que pensait Chamberlain de Munich ?", not "What did de Gaulle say?")."""
    said = [w.lower() for w in re.findall(r"[^\W\d_]+", text)]
    theirs = {w for w in said if w in _FOREIGN}
    ours = sum(w in STOPWORDS for w in said)
    return len(theirs) >= 2 and sum(w in _FOREIGN for w in said) > ours
