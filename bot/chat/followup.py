"""Follow-ups: a line read in the context of its conversation's last turn, or on its own.

A line stands alone, and is answered exactly as a single question, unless the matcher's own analysis
of it says it cannot: it continues ("tell me more", "go on", "what happened next?"), asks why or who
with nothing else ("why?", "who was he?"), swaps one thing of the last question ("and Eden?", "what
about 1939?"), leans on a pronoun with no name of its own ("what did he think of Britain?"), or is so
short that the sources cannot answer it alone while its words are theirs ("who gave the order?").
Such a line is answered from the last turn: the next passage on the same question, the following
paragraph of the same source, the next passage in time, the same question about another person or
year. Each reading carries a sentence saying how the line was read (`--explain`). A follow-up that finds
nothing is not remembered, so the conversation keeps its subject; reading on after a decline reads on from
the last passage shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Protocol

from bot.chat.core import MAX_QUESTION, Maisky
from bot.chat.reading import Move, Reading
from bot.chat.reply import Kind, Reply
from bot.chat.smalltalk import small_talk
from bot.search.analysis import PERSON_PREFIX, STOPWORDS, fold, words
from bot.search.matcher import QueryTerm
from bot.sources.corpus import Passage
from bot.sources.timeline import EARLIEST, LATEST, Dated, Span, dated, timeline

__all__ = ["FollowUps", "Move", "Reading", "Said", "Shown"]


class Said(Protocol):
    """What a follow-up needs of the conversation's last turn (bot.chat.memory.Turn has it)."""

    @property
    def question(self) -> str: ...

    @property
    def passage_id(self) -> str | None: ...

    @property
    def rank(self) -> int: ...

    @property
    def people(self) -> tuple[str, ...]: ...

    @property
    def years(self) -> tuple[int, ...]: ...


@dataclass(frozen=True)
class Shown:
    """One answered line: the reading, the reply, and what the conversation should remember of it."""

    reading: Reading
    reply: Reply
    question: str  # the question to remember: a follow-up's is written out in full ("What did you think of Eden?")
    rank: int
    people: tuple[str, ...]  # the question's people first, then those the shown passage names
    years: tuple[int, ...]

    @property
    def passage_id(self) -> str | None:
        return self.reply.citation.passage_id if self.reply.citation is not None else None

    @property
    def remembered(self) -> bool:
        """Whether the turn is worth remembering: an answer, or the decline of a line that stands alone
        ("and Halifax?" may follow it); not small talk or a notice, and not a follow-up that found nothing
        (the conversation keeps the subject it had: "when was that?" declined, "go on" still reads on)."""
        if self.reply.kind is Kind.DECLINE:
            return not self.reading.follows
        return self.reply.kind in (Kind.ANSWER, Kind.WHO)


def _norm(line: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", fold(line).replace("'", "").replace("\u2019", "")))


# Whole lines (folded, punctuation dropped) that continue the last turn. A leading "ok", "so", "and",
# "but", "please" or "well" is dropped first.
_LEAD = re.compile(r"^(?:(?:ok|okay|so|and|but|please|well|alright|right|hmm|oh)\s+)+")
_PRONOUN = r"(?:he|she|they|you|it|him|her|them)"
_MORE = re.compile(
    r"^(?:(?:can you |could you |would you |will you )?(?:tell|say|give|show)(?: me| us)?(?: a (?:bit|little))?"
    r"(?: some)? more(?: about (?:that|it|this|him|her|them|those))?(?: please)?"
    r"|more(?: please| of that| on that| about that)?"
    r"|(?:is there |was there )?(?:anything|something|what) (?:else|more)"
    r"|(?:is there |any )?more|elaborate|another(?: one| passage)?|what else did " + _PRONOUN + r" (?:say|write|do))$"
)
_NEXT = re.compile(
    r"^(?:go on|carry on|keep going|continue|next|read on|and then|then|then what|what next|what comes next"
    r"|what follows"
    r"|and next|what did " + _PRONOUN + r" (?:say|write|do|add|note|tell \w+)(?: next| then| after that| afterwards)"
    r"|what (?:was|is) next)$"
)
_LATER = re.compile(
    r"^(?:what happened (?:next|then|after that|afterwards|later|after)|after that|and after that|later"
    r"|what came (?:next|after|after that|later)|what happened to (?:him|her|them) (?:next|then|later|after that))$"
)
_EARLIER = re.compile(
    r"^(?:what happened (?:before|earlier|before that|before then)|before that|before then|earlier"
    r"|what came (?:before|before that|earlier)|and before that|what was before that)$"
)
_WHY = re.compile(r"^(?:why|how come|for what reason|what for)\b")
_WHO = re.compile(
    r"^who(?:s| (?:was|is|were|are))?(?: (he|she|him|her|that|this|they|them))?(?: again| exactly| then)?$"
)
_SWAP_WORDS = (
    r"(?:and|but|what about|how about|and what about|and how about|what of|and what of|same for|same about|now|also"
    r"|and also|then)"
)
_SWAP = re.compile(rf"^{_SWAP_WORDS}\s+(.+)$")
_SWAP_TYPED = re.compile(rf"^\W*{_SWAP_WORDS}\s+", re.IGNORECASE)  # the same, on the line as typed
_ASKING = frozenset(
    "what who whom whose why how when where which did does do was were is are can could would should will has"
    " have".split()
)
_WH = frozenset("what who whom whose when where which how".split())
_ONLY_ASKS = _WH | frozenset("about of from for with to in at on by".split())  # "and where?", "about what?"
_AUXILIARIES = [[w] for w in "was were is are did does do had has have could would should will can".split()]
_FIRST_PERSON = re.compile(r"\b(?:[Mm]e|[Mm]y|[Mm]ine|[Mm]yself|I(?= (?!and\b|or\b)[a-z]))\b")  # not "World War I"
_QUOTED = re.compile(r"“[^”]*”?|\"[^\"]*\"?")  # a quotation, to its end or the text's
_OBJECT = frozenset("him her".split())
_HE = frozenset("he him his himself".split())
_SHE = frozenset("she her hers herself".split())
_THEY = frozenset("they them their theirs themselves".split())
_IT = frozenset("it its itself that this those these".split())
_YEAR = re.compile(r"\b(1\d{3}|2\d{3})(?:s)?\b")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’]?\s+")
SHORT = 6  # words: a line this short whose words the sources hold may lean on the question before
NARRATOR = "maisky"  # people.toml's id of the narrator, whom nearly every passage is about
YEAR_TRIES = 10  # the passages nearest a question about another year that are looked at for one of that year
MORE_TRIES = 5  # passages further down the last question's list that "more" looks at for one not yet shown


class FollowUps:
    """Reads lines in the context of the last turn, and answers them through the core."""

    def __init__(self, core: Maisky) -> None:
        self.core = core

    @cached_property
    def _order(self) -> dict[str, tuple[Passage, Passage | None]]:
        """Each passage and the one that follows it: worked out at the first "read on", not at start."""
        return _reading_order(self.core.corpus.passages)

    # the reading

    def respond(self, line: str, last: Said | None, earlier: Callable[[], Sequence[Said]] = tuple) -> Shown:
        """Answer `line`, given the conversation's last turn (None: none, or it expired); `earlier`
        gives its recent turns, so that a decline never suggests what was asked or shown already."""
        shown = self._read(line, last, earlier)
        reply = shown.reply
        if reply.kind is Kind.DECLINE and reply.suggestions:
            turns = earlier()
            near = self.core.suggestions.nearest(
                self.core.matcher.terms(shown.reading.question), reply.matches,
                asked=[line, shown.question, *(t.question for t in turns)],
                shown=[t.passage_id for t in turns if t.passage_id],
            )  # fmt: skip
            shown = replace(shown, reply=replace(reply, suggestions=near or reply.suggestions))
        return shown

    def _read(self, line: str, last: Said | None, earlier: Callable[[], Sequence[Said]] = tuple) -> Shown:
        core = self.core
        said = " ".join(line.split())
        if len(said) > MAX_QUESTION or not said or small_talk(said) is not None or said in core.passage_ids:
            return self._alone(line, "small talk, a passage's id, or no question at all")  # core.ask handles these
        full = _norm(said)
        norm = _LEAD.sub("", full) or full
        if not full and ("..." in said or "…" in said):
            norm = "go on"  # an ellipsis alone: go on

        def fits(pattern: re.Pattern[str]) -> re.Match[str] | None:
            return pattern.match(full) or pattern.match(norm)

        continuing = fits(_MORE) or fits(_NEXT) or fits(_LATER) or fits(_EARLIER) or fits(_WHO)
        if last is None:
            if continuing:
                reading = Reading(Move.FIRST, said, "it continues, but this conversation has no earlier turn")
                return Shown(reading, core.voice.notice("another_first"), said, 0, (), ())
            return self._alone(said, "no earlier turn in this conversation (or it was too long ago)")
        if fits(_MORE):
            return self._more(last, earlier)
        if fits(_NEXT):
            return self._next(self._reading(last, earlier))
        if fits(_LATER):
            return self._later(self._reading(last, earlier))
        if fits(_EARLIER):
            return self._later(self._reading(last, earlier), before=True)
        who = fits(_WHO)
        if who:
            return self._who(last, who.group(1) or "")
        terms = self.core.matcher.terms(said)
        content = [qt for qt in terms if not qt.cue and qt.token.via != "you"]
        if _WHY.match(norm) and not content:
            return self._ask(Move.WHY, f"Why? {last.question}", last, "it asks why, and nothing else")
        asks = norm.split()
        if not content and _ONLY_ASKS.issuperset(asks) and _WH.intersection(asks):
            return self._asks_only(said, asks, last)  # "and where?", "about what?": the last question, asked so
        swap = _SWAP.match(_norm(said))
        if swap and not _ASKING.intersection(swap.group(1).split()) and len(swap.group(1).split()) <= 5:
            return self._swap(said, _SWAP_TYPED.sub("", said).strip(" ?!.") or swap.group(1), last)
        named = [qt for qt in content if qt.token.via == "name"]
        if content and len(norm.split()) <= 4 and all(_is_name_or_year(qt) for qt in content):
            return self._swap(said, said.strip(" ?!."), last)  # "Eden?", "1939?": the last question about it
        said_words = set(words(said))
        if not named and said_words & (_HE | _SHE):
            pronoun = "she" if said_words & _SHE and not said_words & _HE else "he"
            person = self._person(last, pronoun)
            if person:
                shown = self._pronoun(said, person, last)
                if shown.reply.answered:
                    return shown
                # "who gave it to him?": the pronoun's question found nothing; the line with the last question may
                again = self._with_context(said, last, content, "the pronoun's question found nothing")
                if again is not None:
                    return again
                # else the pronoun may mean the narrator, whom nearly every passage is about
                if person != NARRATOR and self._fits(NARRATOR, pronoun):
                    narrator = self._pronoun(said, NARRATOR, last)
                    if narrator.reply.answered:
                        return narrator
                return shown
        if named and said_words & _OBJECT:
            # "what did Churchill think of him?": him is the person just spoken of, not the one the line names
            other = self._object(said, last, [qt.token.term[len(PERSON_PREFIX) :] for qt in named])
            if other is not None:
                return other
        asking = bool(_ASKING.intersection(norm.split()))
        if not named and said_words & (_IT | _THEY) and (content or asking):
            # "was it dangerous?", and "when was that?" whose only words ask: of what the last turn was about
            leaning = self._with_context(said, last, content, "it says it, that or they and names no one")
            if leaning is not None:
                return leaning
        alone = self._alone(said, "it names or asks something of its own")
        if (
            not alone.reply.answered and content and len(norm.split()) <= SHORT and all(qt.known for qt in content)
        ):  # the sources hold its words but cannot answer it alone: it leans on the question before
            leaning = self._with_context(
                said, last, content, "the sources cannot answer it alone, though they hold its words"
            )
            if leaning is not None:
                return leaning
        return alone

    # the moves

    def _alone(self, said: str, why: str) -> Shown:
        reply = self.core.ask(said)
        return self._shown(Reading(Move.ALONE, said, why), reply, said, (), ())

    def _ask(self, move: Move, question: str, last: Said, why: str, rank: int = 0) -> Shown:
        reply = self.core.ask(question, rank=rank)
        return self._shown(
            Reading(move, question, why), reply, question if move is not Move.WHY else last.question, (), last.years
        )

    def _more(self, last: Said, earlier: Callable[[], Sequence[Said]] = tuple) -> Shown:
        """The next passage on the last question not yet shown in the conversation; when it has no more,
        another passage about the same people, then the following paragraph."""
        if last.passage_id is None:
            reading = Reading(Move.MORE, last.question, "it asks for more, but the last question found nothing")
            return Shown(
                reading,
                self.core.voice.decline(last.question, no_more=True),
                last.question,
                last.rank,
                last.people,
                last.years,
            )
        seen = {last.passage_id, *(t.passage_id for t in earlier())}
        found = self.core.matcher.search(last.question, limit=last.rank + 1 + MORE_TRIES)
        for rank in range(last.rank + 1, len(found.matches) if found.answered else 0):
            if not found.matches[rank].accepted:
                break  # the passages further down do not answer the question
            if found.matches[rank].passage.id not in seen:
                reply = replace(self.core.voice.answer(found, rank, asked=last.question), search=found)
                reading = Reading(Move.MORE, last.question, f"the passage ranked {rank + 1} for {last.question!r}")
                return self._shown(reading, reply, last.question, last.people, last.years, rank=rank)
        # the narrator is in nearly every passage: "another about Maisky" would be any passage, so after a
        # question about him alone, reading on is the better "more"
        about = [p for p in last.people if p != NARRATOR and p in self.core.corpus.people]
        for person in about[:2]:
            name = self.core.corpus.people[person].name
            term = PERSON_PREFIX + person
            result = self.core.matcher.search(name, limit=10)
            named = [
                (rank, m)
                for rank, m in enumerate(result.matches)
                if m.passage.id not in seen and term in m.matched and not m.passage.caption
            ]
            if named:  # the passage that says most about them (as `who` chooses), then the matcher's order
                rank, _ = max(named, key=lambda rm: (self._mentions(rm[1].passage, term), rm[1].score))
                reading = Reading(Move.MORE, name, f"{last.question!r} has no further passage; another about {name}")
                reply = self.core.voice.answer(result, rank, asked=last.question)
                return self._shown(reading, reply, last.question, last.people, last.years, rank=last.rank)
        return self._next(last)

    def _reading(self, last: Said, earlier: Callable[[], Sequence[Said]]) -> Said:
        """The turn that "go on" reads on from: the last one, or, when it showed nothing (a decline), the
        latest turn of the conversation that showed a passage."""
        if last.passage_id is not None:
            return last
        return next((t for t in earlier() if t.passage_id is not None), last)

    def _next(self, last: Said) -> Shown:
        following = self._following(last.passage_id)
        if following is None:
            reading = Reading(Move.NEXT, last.question, "no paragraph follows the last one shown")
            reply = self.core.voice.decline(last.question, no_more=True)
            return Shown(reading, reply, last.question, last.rank, last.people, last.years)
        reading = Reading(Move.NEXT, following.id, f"the paragraph after {last.passage_id}")
        return self._shown(
            reading, self.core.passage(following.id), last.question, last.people, last.years, rank=last.rank
        )

    def _later(self, last: Said, *, before: bool = False) -> Shown:
        """The first passage dated after the last one shown (`before`: the latest dated before it); the
        following paragraph when it is undated or nothing is."""
        if last.passage_id is None:
            return self._next(last)
        order = timeline(self.core.corpus, Span(EARLIEST, LATEST))
        ids = [d.passage_id for d in order]
        if last.passage_id not in ids:  # undated: read on instead
            return self._next(last)
        at = ids.index(last.passage_id)
        here = order[at]

        def key(d: Dated) -> tuple[int, int, int]:
            return (d.year, d.month, d.day)

        if before:
            found = [d for d in reversed(order[:at]) if key(d) < key(here) and not d.passage.caption][:1]
        else:
            found = [d for d in order[at + 1 :] if key(d) > key(here)][:1]
        if not found:
            return self._next(last)
        move, which = (
            (Move.EARLIER, "latest passage dated before") if before else (Move.LATER, "first passage dated after")
        )
        reading = Reading(move, found[0].passage_id, f"the {which} {order[at].label} ({last.passage_id})")
        reply = self.core.passage(found[0].passage_id)
        return self._shown(reading, reply, last.question, last.people, last.years, rank=last.rank)

    def _who(self, last: Said, pronoun: str) -> Shown:
        person = self._person(last, "she" if pronoun in ("she", "her") else "he" if pronoun in ("he", "him") else "")
        person = person or NARRATOR
        name = self.core.corpus.people[person].name if person in self.core.corpus.people else person
        reply = self.core.who(name)
        reading = Reading(Move.WHO, f"who {name}", f"{pronoun or 'who'} is {name}, the person just spoken of")
        return self._shown(reading, reply, f"Who was {name}?", (person,), ())

    def _swap(self, said: str, other: str, last: Said) -> Shown:
        """The last question about another person, year or subject; the line alone if that finds nothing."""
        terms = self.core.matcher.terms(other)
        named = [qt.token.term[len(PERSON_PREFIX) :] for qt in terms if qt.token.via == "name"]
        years = [int(y) for y in _YEAR.findall(other)]
        question = last.question
        if named:
            old = self._names_in(last.question)
            keep = [(surface, pid) for surface, pid in old if pid not in named]
            target = next((s for s, pid in reversed(keep) if pid != NARRATOR), "") or self._unknown(last.question)
            target = target or next((s for s, _ in keep), "")
            question = _replace(question, target, other) if target else f"{question.rstrip(' ?')} {other}?"
            what = f"about {', '.join(self.core.corpus.people[p].name for p in named)}"
        elif years:
            said_years = _YEAR.findall(question)
            if said_years:
                question = _YEAR.sub(str(years[0]), question, count=1)
            else:
                question = f"{question.rstrip(' ?')} in {years[0]}?"
            what = f"in {years[0]}"
        else:
            mine = self._resolved(other, last)
            people = [self.core.corpus.people[p].name for p in last.people if p != NARRATOR][:1]
            question = " ".join([mine, *people]) if people else mine
            what = f"about {other!r}"
        reply = self._in_year(question, years[0]) if years and not named else self.core.ask(question)
        if not reply.answered and question != said:
            alone = self.core.ask(said)
            if alone.answered:
                reading = Reading(Move.ALONE, said, f"{question!r} found nothing; the line alone did")
                return self._shown(reading, alone, said, (), ())
        reading = Reading(Move.SWAP, question, f"the last question {what}: {question!r}")
        return self._shown(reading, reply, question, (), tuple(years) or last.years)

    def _asks_only(self, said: str, asks: Sequence[str], last: Said) -> Shown:
        """A line of question words alone ("and where?", "about what?"): the last question with its question
        word swapped ("When was he born?", "and where?": "Where was he born?"), else the line asked with it."""
        first, _, rest = last.question.strip().partition(" ")
        # only where the question word is not the subject: "Who arranged it?" cannot become "How arranged it?"
        if len(asks) == 1 and _norm(first) in _WH | {"why"} and _norm(rest).split()[:1] in _AUXILIARIES:
            question = f"{asks[0].capitalize()} {rest}"
            reply = self.core.ask(question)
            if reply.answered:
                reading = Reading(Move.SWAP, question, f"the last question, asking {asks[0]}: {question!r}")
                return self._shown(reading, reply, question, last.people, last.years)
        leaning = self._with_context(said, last, (), "its words only ask")
        return leaning if leaning is not None else self._alone(said, "its words only ask, and nothing answers them")

    def _unknown(self, question: str) -> str:
        """The last word of `question` the sources never use ("Mussolini"): what a declined question
        asked about, and what "and Eden?" puts Eden in place of."""
        missing = [
            qt for qt in self.core.matcher.terms(question) if not qt.known and not qt.cue and qt.token.via != "you"
        ]
        return missing[-1].token.surface if missing else ""

    def _in_year(self, question: str, year: int) -> Reply:
        """The passage for `question` that speaks of `year`: first one the matcher accepts that is dated in
        it, then any of its nearest passages dated in it ("what about 1943?" after Munich in 1938: Maisky's
        recall, though Munich is not in it), then one the matcher accepts that names the year in its text;
        the best passage when none does."""
        result = self.core.matcher.search(question, limit=YEAR_TRIES)
        if not result.answered:
            return self.core.ask(question)

        def dated_in(passage: Passage) -> bool:
            when = dated(passage)
            return when is not None and when.year <= year <= when.last_year

        found = list(enumerate(result.matches))
        ranks = [
            *(r for r, m in found if m.accepted and dated_in(m.passage)),
            *(r for r, m in found if dated_in(m.passage) and not m.passage.caption),
            *(r for r, m in found if m.accepted and str(year) in m.passage.text),
        ]
        if ranks:
            return self.core.voice.answer(result, ranks[0], asked=question)
        return self.core.voice.answer(result, 0, asked=question)

    def _pronoun(self, said: str, person: str, last: Said) -> Shown:
        name = self.core.corpus.people[person].name
        question = self._resolved(said, last, person)
        reply = self.core.ask(question)
        reading = Reading(Move.PRONOUN, question, f"the pronoun is {name}: {question!r}")
        return self._shown(reading, reply, question, (person,), last.years)

    def _object(self, said: str, last: Said, named: Sequence[str]) -> Shown | None:
        """The line with him or her written as the last turn's person whom the line does not name; None when
        there is none, or the question so written finds no passage that names them."""
        people = self.core.corpus.people
        pronoun = "he" if "him" in words(said) else "she"
        fits = [p for p in last.people if p in people and p not in named and people[p].pronoun in ("", pronoun)]
        person = next((p for p in fits if p != NARRATOR), fits[0] if fits else "")
        if not person:
            return None
        name = people[person].name
        question = re.sub(r"\b(?:him|her)\b", name, said, flags=re.IGNORECASE)
        reply = self.core.ask(question)
        if not reply.answered or PERSON_PREFIX + person not in reply.matches[reply.rank].matched:
            return None
        reading = Reading(Move.PRONOUN, question, f"{'him' if pronoun == 'he' else 'her'} is {name}: {question!r}")
        return self._shown(reading, reply, question, (person,), last.years)

    def _with_context(self, said: str, last: Said, content: Sequence[QueryTerm], why: str) -> Shown | None:
        """The line asked together with the last question; kept only when the passage holds some of
        the line's own words (else the last question alone would have answered it)."""
        question = f"{said.rstrip()} {last.question}"
        result = self.core.matcher.search(question, limit=5)
        own = {qt.token.term for qt in content if qt.known}
        # a line with words of its own needs the passage to hold some; one whose words only ask ("when was
        # that?") is about the last question's subject, whatever the passage
        if not result.answered or (content and not own.intersection(result.matches[0].matched)):
            return None
        reply = self.core.voice.answer(result, 0, asked=said)
        reading = Reading(Move.CONTEXT, question, f"{why}; asked with {last.question!r}")
        return self._shown(reading, reply, question, last.people, last.years)

    # what the moves share

    def _shown(
        self,
        reading: Reading,
        reply: Reply,
        question: str,
        people: Sequence[str],
        years: Sequence[int],
        *,
        rank: int | None = None,
    ) -> Shown:
        """The reply with what to remember of it: the question's people first, then the passage's."""
        mine = [pid for _, pid in self._names_in(question)]
        shown = self.core.corpus.passage(reply.citation.passage_id) if reply.citation is not None else None
        theirs = self._by_subject(shown, question) if shown is not None else []
        ordered = tuple(dict.fromkeys([*people, *mine, *theirs]))
        own_years = tuple(int(y) for y in _YEAR.findall(question))
        return Shown(reading, reply, question, reply.rank if rank is None else rank, ordered, own_years or tuple(years))

    def _by_subject(self, passage: Passage, question: str) -> list[str]:
        """The people the passage names: first those of its sentences that hold most of the question's own words
        (the king, not Churchill, after "Whose funeral did Maisky cry at?"), then in the text's order. A
        sentence whose writer says I outside quotation marks names the source's author, where people.toml
        knows them ("who found the diary?": the historian who writes "I came across the diary")."""
        asked = {
            qt.token.term
            for qt in self.core.matcher.terms(question)
            if qt.known and not qt.cue and qt.token.via not in ("name", "you")
        }
        analyzer = self.core.matcher.analyzer
        text = passage.text
        unquoted = _QUOTED.sub(lambda m: " " * len(m.group(0)), text)  # the same length, so spans agree
        author = self._author(passage)
        found: list[tuple[int, int, str]] = []
        start = 0
        for end, after in [*((m.start(), m.end()) for m in _SENTENCE_END.finditer(text)), (len(text), len(text))]:
            sentence = text[start:end]
            hits = len(asked.intersection(analyzer.document_terms(sentence)[0])) if asked else 0
            named = [pid for _, pid in self._names_in(sentence)]
            if author and _FIRST_PERSON.search(unquoted[start:end]):
                named.insert(0, author)
            found += [(-hits, len(found), pid) for pid in named]
            start = after
        return list(dict.fromkeys(pid for *_, pid in sorted(found)))

    def _author(self, passage: Passage) -> str:
        """The id of the person who wrote the passage's source, if people.toml knows them."""
        by_name = {person.name: pid for pid, person in self.core.corpus.people.items()}
        return by_name.get(passage.source.author, "")

    def _mentions(self, passage: Passage, term: str) -> int:
        return self.core.matcher.analyzer.document_terms(passage.text)[0].count(term)

    def _names_in(self, text: str) -> list[tuple[str, str]]:
        """(words as written, person id) of each person `text` names, in order."""
        analyzer = self.core.matcher.analyzer
        kept = [w for w in words(text) if w not in STOPWORDS]
        return [(" ".join(kept[a:b]), pid) for a, b, pid in analyzer.names_in(kept)]

    def _person(self, last: Said, pronoun: str) -> str:
        """The person a he or she most likely means: the last turn's people other than Maisky, of
        that pronoun where people.toml says; Maisky when he is the only one."""
        people = self.core.corpus.people
        fits = [p for p in last.people if p in people and (not pronoun or people[p].pronoun in ("", pronoun))]
        others = [p for p in fits if p != NARRATOR]
        if others:
            return others[0]
        return fits[0] if fits else ""

    def _fits(self, person: str, pronoun: str) -> bool:
        """Whether `pronoun` can mean `person` (people.toml's pronoun, where it gives one)."""
        known = self.core.corpus.people.get(person)
        return known is not None and known.pronoun in ("", pronoun)

    def _resolved(self, text: str, last: Said, person: str = "") -> str:
        """`text` with he/him/his (or she/her) written as the person's name."""
        person = person or self._person(last, "")
        if not person:
            return text
        name = self.core.corpus.people[person].name
        pronouns = _SHE if self.core.corpus.people[person].pronoun == "she" else _HE

        def name_for(m: re.Match[str]) -> str:
            w = m.group(0).lower()
            return f"{name}'s" if w in ("his", "hers") else name

        return re.sub(r"\b(" + "|".join(sorted(pronouns)) + r")\b", name_for, text, flags=re.IGNORECASE)

    def _following(self, passage_id: str | None) -> Passage | None:
        """The next paragraph of the same source that is prose, not a caption."""
        if passage_id is None or passage_id not in self._order:
            return None
        return self._order[passage_id][1]


def _is_name_or_year(qt: QueryTerm) -> bool:
    return qt.token.via == "name" or bool(_YEAR.fullmatch(qt.token.surface))


def _replace(question: str, surface: str, other: str) -> str:
    """`question` with the name written `surface` (folded words) replaced by `other`."""
    pattern = r"\b" + r"\W+".join(re.escape(w) for w in surface.split()) + r"(?:'s|’s)?\b"
    found = re.search(pattern, fold(question)) if question.isascii() else None
    if not found:
        return f"{question.rstrip(' ?')} {other}?"
    return question[: found.start()] + other + question[found.end() :]


def _reading_order(passages: Sequence[Passage]) -> dict[str, tuple[Passage, Passage | None]]:
    """Each passage, with the prose passage that follows it in its source (None for the last)."""
    by_source: dict[str, list[Passage]] = {}
    for p in passages:
        by_source.setdefault(p.source.id, []).append(p)
    order: dict[str, tuple[Passage, Passage | None]] = {}
    for group in by_source.values():
        group.sort(key=lambda p: p.paragraph)
        after: Passage | None = None
        for p in reversed(group):  # one pass from the end: a source of 100,000 passages takes 0.1 s, not minutes
            order[p.id] = (p, after)
            if not p.caption:
                after = p
    return order
