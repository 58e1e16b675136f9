"""The persona's voice: renders replies from persona/ data and jinja2 templates.

The core decides what to say (passages, scores, citations); the templates own every word the
persona says and only choose among lines. Choices are seeded, so the same question always gets
the same wording and tests are deterministic.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import tomllib
from collections.abc import Sequence
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2.bccache import Bucket

from bot.chat.excerpt import excerpt
from bot.chat.reply import Citation, Kind, Quotation, Reply, Words, neutralise
from bot.errors import CorpusError
from bot.search.matcher import Match, MatchResult
from bot.sources.corpus import Corpus, Passage, Person, Quote, Source
from bot.sources.quotes import choice_for

if TYPE_CHECKING:
    from bot.sources.timeline import Dated

__all__ = ["Voice", "load_persona", "templates_folder"]

log = logging.getLogger(__name__)

_REQUIRED_TEXT = (
    "label", "disclosure", "name", "no_more", "unknown_person", "invalid_empty", "invalid_too_long",
    "invalid_no_words", "invalid_language", "error", "cooldown", "expired", "busy",
)  # fmt: skip
_REQUIRED_LINES = (
    "openers_own_words", "openers_author", "openers_caption", "openers_another", "openers_who",
    "openers_quote", "openers_daily", "declines", "suggestions", "about", "closest_own_words", "closest_author",
)  # fmt: skip
_NOTICES = (
    "daily_subscribed", "daily_unsubscribed", "daily_not_subscribed", "daily_status", "daily_status_unconfirmed",
    "daily_paused",
    "daily_bad_time", "daily_bad_zone", "daily_not_allowed", "daily_unavailable", "another_first",
    "daily_admins_only", "daily_grant_who", "daily_granted", "daily_revoked", "daily_not_granted",
    "daily_grant_nobody", "daily_grant_several", "daily_grant_lookup_failed",
    "daily_refused_invite", "daily_refused_invite_or_scope", "daily_refused_permissions", "daily_refused_archived",
    "daily_refused_hidden", "daily_refused_conversation", "daily_refused_conversation_scope",
)  # fmt: skip
_CLUB_TEXT = (
    "quiz_who", "quiz_when", "quiz_how", "quiz_how_alone", "quiz_again", "quiz_right", "quiz_stopped", "quiz_wrong",
    "quiz_wrong_again", "quiz_tried",
    "quiz_unclear_who", "quiz_unclear_when", "quiz_none_open", "quiz_closed", "quiz_empty", "quiz_unavailable",
    "quiz_scores_title", "quiz_no_scores", "timeline_title", "timeline_empty", "timeline_bad_span", "unknown_passage",
)  # fmt: skip
_LAYOUT = tuple(f.name for f in dataclass_fields(Words))
QUOTE_OPENING = 90  # characters of a long quotation shown in its attribution line
# words a cut quotation must not end on: "...to the fingers of a …" reads as a slip
_DANGLING = frozenset(
    """a an the of to and or but nor in on at by for from with into onto as than that which who whom whose
    his her its their my our your this these those is was were be been are not no very so such""".split()
)
TIMELINE_OPENING = 110  # characters of a passage shown in its timeline line
CUT_MARK = " […]"


def capped(text: str, source: Source) -> tuple[str, bool]:
    """At most the source's `excerpt_words` words of `text` when the source is copyrighted, cut at a
    sentence end where one falls late enough; and whether it was cut."""
    if not source.copyright:
        return text, False
    ends = [m.end() for m in re.finditer(r"\S+", text)]
    if len(ends) <= source.excerpt_words:
        return text, False
    return excerpt(text, ends[source.excerpt_words - 1] + len(CUT_MARK), mark=CUT_MARK)


def load_persona(folder: Path) -> dict[str, Any]:
    """Read and check persona.toml; raise CorpusError naming the field that is wrong."""
    path = folder / "persona.toml"
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CorpusError(str(path), f"cannot be read: {exc}") from exc
    for key in _REQUIRED_TEXT:
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise CorpusError(path.name, "must be non-empty text", field=key)
    for key in _REQUIRED_LINES:
        lines = data.get(key)
        if not isinstance(lines, list) or not lines or not all(isinstance(x, str) and x.strip() for x in lines):
            raise CorpusError(path.name, "must be a non-empty list of lines", field=key)
    for key in (*_NOTICES, *_CLUB_TEXT):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise CorpusError(path.name, "must be non-empty text", field=key)
    layout = data.get("layout")
    if not isinstance(layout, dict) or not all(isinstance(layout.get(f), str) and layout[f].strip() for f in _LAYOUT):
        raise CorpusError(path.name, f"must be a table with the text of {', '.join(_LAYOUT)}", field="layout")
    for key in ("questions", "greetings", "thanks", "acknowledgements"):  # optional lists
        lines = data.get(key, [])
        if not isinstance(lines, list) or not all(isinstance(x, str) and x.strip() for x in lines):
            raise CorpusError(path.name, "must be a list of lines", field=key)
    commands = data.get("commands")
    if not isinstance(commands, dict) or not all(isinstance(v, str) for v in commands.values()):
        raise CorpusError(path.name, "must be a table of command = description", field="commands")
    return data


def _pick(lines: Sequence[str], variant: int) -> str:
    return lines[variant % len(lines)]


class _TemplateCache(jinja2.FileSystemBytecodeCache):
    """The templates compiled once, into the cache folder: jinja2 keys each by the template's file
    and checks it against a hash of its text, so an edited template is compiled again. A file that
    cannot be read back or written is compiled in memory, as without a cache; never fatal."""

    def __init__(self, folder: Path) -> None:
        super().__init__(str(folder), "%s.j2c")
        self.folder = folder

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a torn or foreign file: compiled from the template again
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            super().dump_bytecode(bucket)
        except OSError as exc:
            log.debug("template %s not cached in %s: %s", bucket.key, self.folder, exc)


# How templates are compiled; the compiled templates' folder is named by these and by jinja2's version
_OPTIONS: dict[str, Any] = {
    "undefined": jinja2.StrictUndefined,
    "autoescape": False,  # plain text; each front end escapes for its own markup
    "keep_trailing_newline": False,
}


def templates_folder(cache_dir: Path) -> Path:
    """Where the compiled templates are kept in a cache folder."""
    options = sorted((k, getattr(v, "__name__", v)) for k, v in _OPTIONS.items())
    tag = hashlib.sha256(f"{jinja2.__version__}:{options}".encode()).hexdigest()[:12]
    return cache_dir / f"templates-{tag}"


class Voice:
    """Turns match results and corpus data into Replies."""

    def __init__(self, persona_dir: Path, corpus: Corpus, seed: int = 0, cache_dir: Path | None = None) -> None:
        """With `cache_dir`, the templates are compiled once into it (`templates_folder`)."""
        self.persona_dir = persona_dir
        self.persona = load_persona(persona_dir)
        self.words = Words(**{f: str(self.persona["layout"][f]) for f in _LAYOUT})
        self.corpus = corpus
        self.seed = seed
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(persona_dir / "templates"),
            bytecode_cache=_TemplateCache(templates_folder(cache_dir)) if cache_dir is not None else None,
            **_OPTIONS,
        )
        self.env.filters["pick"] = _pick
        try:
            for name in (
                "answer",
                "closest",
                "who",
                "quote",
                "decline",
                "passage_by",
                "attribution",
                "citation",
                "sources",
                "source_line",
                "help",
                "plain",
                "quote_by",
                "quiz_question",
                "quiz_reveal",
                "quiz_scores",
                "quiz_score_line",
                "timeline",
                "timeline_line",
            ):
                self.env.get_template(f"{name}.j2")
        except jinja2.TemplateError as exc:
            raise CorpusError(str(persona_dir / "templates"), f"template error: {exc}") from exc

    @property
    def label(self) -> str:
        return str(self.persona["label"])

    def _render(self, name: str, **data: Any) -> str:
        return self.env.get_template(f"{name}.j2").render(persona=self.persona, **data).strip()

    def _variant(self, *key: object) -> int:
        return random.Random(":".join(map(str, (self.seed, *key)))).randrange(1 << 30)

    def _reply(self, kind: Kind, narration: str, **fields: Any) -> Reply:
        return Reply(
            kind=kind, label=self.label, disclosure=str(self.persona["disclosure"]), narration=narration,
            words=self.words, **fields,
        )  # fmt: skip

    def plain(self, reply: Reply) -> str:
        """The whole reply as plain text (console output, chat fallback text)."""
        return self._render("plain", reply=reply)

    def citation(self, passage: Passage, cut: bool = False) -> Citation:
        s = passage.source
        return Citation(
            title=s.title,
            author=s.author,
            publication=s.publication,
            date=s.date.isoformat(),
            url=s.url,
            passage_id=passage.id,
            paragraph=passage.paragraph,
            line=self._render("citation", source=s, passage=passage, cut=cut),
        )

    def quotation(self, quote: Quote, source: Source | None = None) -> Quotation:
        """A quotation's attribution line; one without a speaker is shown as quoted in `source`."""
        text, cut = excerpt(quote.text, QUOTE_OPENING, mark="")
        if cut:
            text = text.rstrip(" ,;:—–-")
            head, _, last = text.rpartition(" ")
            while head and last.lower().strip("’'\"“”‘,;:") in _DANGLING:
                text = head.rstrip(" ,;:—–-")
                head, _, last = text.rpartition(" ")
        speaker = self.corpus.people[quote.speaker].name if quote.speaker else ""
        line = self._render("attribution", text=text, cut=cut, speaker=speaker, quote=quote, source=source)
        return Quotation(text=text, speaker=speaker, context=quote.context, line=line)

    def own_words(self, passage: Passage) -> bool:
        """Whether the passage is Maisky's own text (bot.sources.corpus.Passage.own_words: the one rule)."""
        return passage.own_words("maisky")

    def speaker(self, passage: Passage) -> str:
        """Who the reply says wrote the passage (`ask --json` shows the same)."""
        if self.own_words(passage) and "maisky" in self.corpus.people:
            return self.corpus.people["maisky"].name
        return passage.source.publication if passage.caption else passage.source.author

    def _passage_fields(self, passage: Passage, evidence: tuple[int, int] | None = None) -> dict[str, Any]:
        """The passage as a reply shows it. `evidence`: the sentences that answer (the reader's best
        window, as character offsets): marked in the reply, and what a copyrighted source's cap
        shows, rather than the passage's opening words."""
        whole = passage.text.strip()
        if evidence is not None:
            start, end = evidence
            part = passage.text[start:end].strip()
            evidence = (start, end) if part and part != whole else None
        if evidence is not None and passage.source.copyright:
            start, end = evidence
            text, cut = capped(passage.text[start:end].strip(), passage.source)
            if start > 0:
                text, cut = CUT_MARK.strip() + " " + text, True
            if end < len(passage.text.rstrip()) and not text.endswith(CUT_MARK):
                text, cut = text + CUT_MARK, True
        else:
            text, cut = capped(passage.text, passage.source)
        return {
            # a capped passage is its evidence already; a whole one marks the sentences that answer
            "evidence": passage.text[evidence[0] : evidence[1]].strip()
            if evidence is not None and not passage.source.copyright
            else "",
            "note": " ".join(dict.fromkeys(q.content_note for q in passage.quotes if q.content_note)),
            "passage": text,
            "passage_by": self._render(
                "passage_by", passage=passage, own_words=self.own_words(passage), speaker=self.speaker(passage)
            ),
            "quotations": tuple(self.quotation(q, passage.source) for q in passage.quotes if not cut or q.text in text),
            "citation": self.citation(passage, cut=cut),
        }

    def answer(self, result: MatchResult, rank: int = 0, asked: str = "") -> Reply:
        match = result.matches[rank]
        p = match.passage
        narration = self._render(
            "answer",
            passage=p,
            own_words=self.own_words(p),
            another=rank > 0,
            variant=self._variant(result.question, p.id),
        )
        return self._reply(
            Kind.ANSWER, narration, question=neutralise(asked or result.question), matches=result.matches, rank=rank,
            **self._passage_fields(p, match.evidence),
        )  # fmt: skip

    def closest(self, result: MatchResult, asked: str = "") -> Reply:
        """The passage nearest the question, said honestly: not an answer, and cited like one."""
        p = result.matches[0].passage
        narration = self._render(
            "closest", passage=p, own_words=self.own_words(p), variant=self._variant(result.question, p.id)
        )
        return self._reply(
            Kind.CLOSEST, narration, question=neutralise(asked or result.question), matches=result.matches,
            **self._passage_fields(p, result.matches[0].evidence),
        )  # fmt: skip

    def decline(
        self, question: str, *, no_more: bool = False, matches: tuple[Match, ...] = (), suggestions: Sequence[str] = ()
    ) -> Reply:
        """Word that the sources are silent, offering `suggestions` (default: the persona's own)."""
        narration = self._render("decline", no_more=no_more, variant=self._variant(question))
        return self._reply(
            Kind.DECLINE, narration, question=neutralise(question),
            suggestions=tuple(suggestions or self.persona["suggestions"]), matches=matches,
        )  # fmt: skip

    def who(self, person: Person, match: Match) -> Reply:
        narration = self._render("who", person=person, variant=self._variant(person.id))
        return self._reply(
            Kind.WHO,
            narration,
            question=neutralise(person.name),
            matches=(match,),
            **self._passage_fields(match.passage),
        )

    def unknown_person(self, name: str, people: Sequence[Person]) -> Reply:
        narration = str(self.persona["unknown_person"]).format(people=", ".join(p.name for p in people))
        return self._reply(Kind.DECLINE, narration, question=neutralise(name))

    def quote(self, passage: Passage, quote: Quote, day: str, *, daily: bool = False) -> Reply:
        """A line of the speaker's own: a fragment within its sentence from the passage, verbatim,
        with whoever said each quotation in it, and any curator's content note."""
        choice = choice_for(passage, quote)
        narration = self._render("quote", variant=self._variant(day), daily=daily)
        text, cut = capped(choice.text, passage.source)
        by = self._render("quote_by", choice=choice, speaker=self.quotation(quote).speaker)
        inner = [q for q in choice.inner if not cut or q.text in text]
        others = any(q.speaker != quote.speaker for q in inner)
        return self._reply(
            Kind.QUOTE, narration, passage=text, passage_by=by, citation=self.citation(passage, cut=cut),
            quotations=tuple(self.quotation(q, passage.source) for q in inner) if others else (),
            note=" ".join(choice.notes),
        )  # fmt: skip

    def passage(self, passage: Passage) -> Reply:
        """One passage whole, asked for by its id (a timeline line, a button)."""
        narration = self._render(
            "answer", passage=passage, own_words=self.own_words(passage), another=False,
            variant=self._variant(passage.id),
        )  # fmt: skip
        return self._reply(Kind.ANSWER, narration, question=passage.id, **self._passage_fields(passage))

    def timeline(self, entries: Sequence[Dated], span: str) -> Reply:
        """One line per dated passage: its date, its opening words, its citation and its id."""
        items = tuple(
            self._render(
                "timeline_line", entry=e, passage=e.passage, source=e.passage.source,
                opening=excerpt(" ".join(e.passage.text.split()), TIMELINE_OPENING, mark=" …")[0],
            )
            for e in entries
        )  # fmt: skip
        return self._reply(Kind.TIMELINE, self._render("timeline", span=span, count=len(items)), items=items)

    def quiz_question(
        self, kind: str, prompt: str, choices: tuple[str, ...], token: str, *, again: bool = False, alone: bool = False
    ) -> Reply:
        """A quiz question: the verbatim quotation or the date-hidden passage, and the options; `alone`
        where one member plays and may try again."""
        narration = self._render("quiz_question", kind=kind, again=again, alone=alone)
        return self._reply(Kind.QUIZ, narration, passage=prompt, choices=choices, token=token)

    def quiz_reveal(self, passage: Passage, answer: str, winner: str = "") -> Reply:
        """The answer, with the whole passage, who said each quotation in it, and its citation."""
        narration = self._render("quiz_reveal", answer=answer, winner=winner)
        return self._reply(Kind.QUIZ, narration, **self._passage_fields(passage))

    def quiz_scores(self, rows: Sequence[tuple[str, int]]) -> Reply:
        items = tuple(
            self._render("quiz_score_line", rank=n, member=member, points=points)
            for n, (member, points) in enumerate(rows, 1)
        )
        return self._reply(Kind.QUIZ, self._render("quiz_scores", empty=not rows), items=items)

    def sources(self) -> Reply:
        items = tuple(self._render("source_line", source=s, count=self.corpus.count(s)) for s in self.corpus.sources)
        return self._reply(Kind.SOURCES, self._render("sources"), items=items)

    def about(self) -> Reply:
        return self._reply(Kind.ABOUT, "\n\n".join(self.persona["about"]))

    def small_talk(self, kind: str, said: str) -> Reply:
        """A short line in character for a greeting ("greetings") or thanks ("thanks"); never a passage."""
        lines = self.persona.get(kind) or ["Ask me about my years in London, and the sources will answer."]
        return self._reply(Kind.NOTICE, _pick(lines, self._variant(kind, said)), question=neutralise(said))

    def help(self, prefix: str = "") -> Reply:
        items = tuple(f"{prefix}{cmd}: {what}" for cmd, what in self.persona["commands"].items())
        return self._reply(Kind.HELP, self._render("help"), items=items, suggestions=tuple(self.persona["suggestions"]))

    def invalid(self, problem: str, **values: Any) -> Reply:
        return self._reply(
            Kind.INVALID,
            str(self.persona[f"invalid_{problem}"]).format(**values),
            suggestions=tuple(self.persona["suggestions"][:3]),
        )

    def notice(self, key: str, **values: object) -> Reply:
        """One of the persona's `daily_*` or other notice lines, filled in."""
        return self._reply(Kind.NOTICE, str(self.persona[key]).format(**values))

    def error(self) -> Reply:
        return self._reply(Kind.ERROR, str(self.persona["error"]))

    def expired(self) -> Reply:
        return self._reply(Kind.INVALID, str(self.persona["expired"]))

    def changed(self) -> Reply:
        return self._reply(Kind.INVALID, str(self.persona["command_changed"]))

    def cooldown(self, seconds: float) -> Reply:
        return self._reply(Kind.COOLDOWN, str(self.persona["cooldown"]).format(seconds=max(1, round(seconds))))

    def busy(self) -> Reply:
        """Every answer thread is taken and the queue is full (bot.chat.pool): ask again in a moment."""
        return self._reply(Kind.COOLDOWN, str(self.persona["busy"]))
