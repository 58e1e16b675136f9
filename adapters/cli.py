"""The console front end: the `maisky` command. No tokens needed; runs on the bundled corpus."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from adapters import lifecycle
from adapters.explain import explain_reading
from bot import Maisky, MaiskyError, Reply, Settings, build
from bot.chat.commands import (
    About,
    Ask,
    Command,
    Daily,
    DailyAction,
    Help,
    Quiz,
    QuizAction,
    Quote,
    Sources,
    Timeline,
    Who,
)
from bot.chat.desk import Caller, FrontDesk
from bot.chat.reply import Kind
from bot.chat.voice import capped
from bot.ops.bootstrap import build_desk, build_quiz
from bot.ops.progress import Lines, Progress, for_stream
from bot.ops.runtime import use_threads

if TYPE_CHECKING:
    from bot.club.quiz import Quiz as QuizService
    from bot.search.evaluation import Answered, DialogueLine, DialogueReport

__all__ = ["main"]

Run = Callable[[argparse.Namespace, Maisky, TextIO], int]
PREFIX = "maisky "
ME = ("Maisky",)  # "@Maisky" typed at the console addresses the bot, as a mention does on a platform
ONE_SHOT = frozenset({"another"})  # needs a session: only `maisky chat` offers it


def desk(args: argparse.Namespace, core: Maisky, *, prefix: str = PREFIX, hide: frozenset[str] = ONE_SHOT) -> FrontDesk:
    """The console's front desk: the daily-post store is opened only when a daily command needs it;
    `--date` (where a command has it) is the desk's today."""
    day: dt.date | None = getattr(args, "date", None)
    clock = (lambda: dt.datetime.combine(day, dt.time(12), dt.UTC)) if day else (lambda: dt.datetime.now(dt.UTC))
    return build_desk(
        args.settings,
        core,
        daily=lambda: lifecycle.open_daily(args.settings, core),
        quiz=lambda: open_quiz(args.settings, core),
        prefix=prefix,
        hide=hide,
        clock=clock,
    )


def open_quiz(settings: Settings, core: Maisky) -> QuizService:
    """The quiz over the configured database; one that cannot be opened is a ConfigError naming the setting."""
    with lifecycle.database_errors(settings):
        return build_quiz(settings, core)


def caller(args: argparse.Namespace) -> Caller:
    """Whoever runs the console manages its local channels."""
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "console"
    channel = getattr(args, "channel", None) or "console"
    return Caller("console", "local", channel, user, may_manage=True, name=user, me=ME)


def handle(args: argparse.Namespace, core: Maisky, command: Command) -> Reply:
    return desk(args, core).handle(command, caller(args)).reply


def reply_json(core: Maisky, question: str, reply: Reply, text: str) -> dict[str, Any]:
    """The `ask --json` contract: passages best first, empty when declined."""
    shown = reply.matches[reply.rank :] if reply.answered else ()
    return {
        "question": reply.question or question,
        "answered": reply.answered,
        "reply": text,
        "passages": [
            {
                "id": m.passage.id,
                "text": capped(m.passage.text, m.passage.source)[0],  # a copyrighted source: its cap
                "score": round(m.score, 4),
                "speaker": core.voice.speaker(m.passage),
                "source": {
                    "title": m.passage.source.title,
                    "author": m.passage.source.author,
                    "publication": m.passage.source.publication,
                    "date": m.passage.source.date.isoformat(),
                    "url": m.passage.source.url,
                },
            }
            for m in shown
        ],
    }


def _ask(args: argparse.Namespace, core: Maisky, out: TextIO) -> int:
    question = " ".join(args.question)
    outcome = desk(args, core).handle(Ask(question), caller(args))
    reply = outcome.reply
    text = core.plain(reply)
    if args.json:
        out.write(json.dumps(reply_json(core, question, reply, text), ensure_ascii=False, indent=2) + "\n")
    else:
        out.write(text + "\n")
        if args.explain:
            explain_reading(outcome, core, out)
    return 0


def _quote(args: argparse.Namespace, core: Maisky, out: TextIO) -> int:
    front = desk(args, core)
    reply = front.handle(Quote(), caller(args)).reply
    day = front.clock().date()
    text = core.plain(reply)
    if args.json:
        c = reply.citation
        assert c is not None
        data = {
            "date": day.isoformat(),
            "quote": reply.passage,
            "speaker": reply.passage_by,
            "reply": text,
            "source": {
                "title": c.title,
                "author": c.author,
                "publication": c.publication,
                "date": c.date,
                "url": c.url,
            },
            "passage_id": c.passage_id,
        }
        out.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        out.write(text + "\n")
    return 0


def _show(make: Command | Callable[[argparse.Namespace], Command]) -> Run:
    """A command that prints its reply from the front desk as plain text."""

    def run(args: argparse.Namespace, core: Maisky, out: TextIO) -> int:
        command = make(args) if callable(make) else make
        out.write(core.plain(handle(args, core, command)) + "\n")
        return 0

    return run


def _index_build(args: argparse.Namespace, core: Maisky, out: TextIO) -> int:
    """`maisky index build`: the index is already built or read (by `build`); encode what the
    vector cache lacks, with progress, so no question waits for the model later."""
    semantic = core.matcher.semantic
    n = len(core.corpus.passages)
    out.write(f"index: {n} passages, {len(core.matcher.index.terms)} terms (cache: {core.matcher.cache_folder})\n")
    if semantic is None:
        out.write("semantic stage off (the model is not installed): nothing to encode\n")
        return 0
    started = time.monotonic()
    semantic.warm()  # the stage's progress says how many and how far (on stderr; none with --quiet)
    out.write(
        f"vectors: {semantic.texts.encoded} texts and {semantic.vectors.encoded} words encoded "
        f"in {time.monotonic() - started:.1f} s ({n} passages; the rest were cached)\n"
    )
    return 0


def _dialogue_eval(args: argparse.Namespace, core: Maisky, out: TextIO) -> int:
    """`maisky eval DIALOGUES.yaml`: each dialogue through a front desk of its own, its members in its
    channels, as a surface would send them; each line again as a single question."""

    # imported here, as in `_eval`: the evaluation brings YAML, which no other command needs
    from bot.search.evaluation import Answered, evaluate_dialogues, load_dialogues

    def talk() -> Callable[[DialogueLine], Answered]:
        front = FrontDesk(core, prefix="", hide=frozenset())

        def say(line: DialogueLine) -> Answered:
            outcome = front.handle_line(line.q, Caller("eval", "local", line.channel, line.member))
            reply = outcome.reply
            passage = reply.citation.passage_id if reply.citation is not None else None
            small = reply.kind is Kind.NOTICE and not reply.suggestions and passage is None
            return Answered(passage, small, outcome.reading.note if outcome.reading else "")

        return say

    report = evaluate_dialogues(talk, load_dialogues(Path(args.file)))
    if args.json:
        for r in report.records:
            out.write(json.dumps({
                "dialogue": r.dialogue, "q": r.line.q, "member": r.line.member, "channel": r.line.channel,
                "follow": r.line.follow, "passage": r.got.passage_id, "correct": r.correct,
                "passage_as_single_question": r.alone.passage_id, "correct_as_single_question": r.correct_alone,
            }, ensure_ascii=False) + "\n")  # fmt: skip
        out.write(json.dumps({"totals": report.totals()}) + "\n")
        return 0
    _dialogue_table(report, out, verbose=args.verbose)
    return 0


def _dialogue_table(report: DialogueReport, out: TextIO, *, verbose: bool) -> None:
    t = report.totals()
    out.write(
        f"dialogues: {t['dialogues']}, lines: {t['lines']} ({t['follow_ups']} follow-ups, {t['standalone']} standing"
        f" alone, {t['talk']} small talk)\n"
        f"follow-ups answered right:            {t['follow_up_right']:.3f}"
        f"  (as single questions: {t['follow_up_right_as_single_questions']:.3f})\n"
        f"standing alone answered right:        {t['standalone_right']:.3f}"
        f"  (as single questions: {t['standalone_right_as_single_questions']:.3f})\n"
        f"small talk answered in character:     {t['talk_right']:.3f}\n"
        f"overall:                              {t['overall']:.3f}\n"
    )
    if verbose:
        for r in report.records:
            if not r.correct:
                kind = "follow-up" if r.line.follow else "small talk" if r.line.talk else "alone"
                got = r.got.passage_id or ("small talk" if r.got.talk else "no passage")
                out.write(f"  miss ({kind}) in {r.dialogue!r}: {r.line.q!r} -> {got}; read: {r.got.reading}\n")


def _eval(args: argparse.Namespace, core: Maisky, out: TextIO) -> int:
    from bot.search.evaluation import evaluate, is_dialogues, load_questions  # YAML: only `maisky eval` needs it

    if is_dialogues(Path(args.file)):
        return _dialogue_eval(args, core, out)
    matcher = core.matcher
    if args.without_keywords or args.without_reader:
        matcher = matcher.rebuilt(keywords=not args.without_keywords, reader=not args.without_reader)
    report = evaluate(matcher, load_questions(Path(args.file)))
    if args.json:
        for r in report.records:
            top = r.result.matches[0].passage.text if r.result.answered and r.result.matches else None
            out.write(
                json.dumps(
                    {
                        "q": r.item.q,
                        "answered": r.result.answered,
                        "tier": r.result.tier,
                        "text": top,
                        "correct": r.correct,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
        out.write(json.dumps({"totals": report.totals()}) + "\n")
        return 0
    t = report.totals()
    out.write(
        f"questions: {t['in_scope']} in scope, {t['out_of_scope']} out of scope\n"
        f"top-1 hit rate (in scope):  {t['top1']:.3f}\n"
        f"top-3 hit rate (in scope):  {t['top3']:.3f}\n"
        f"declined (out of scope):    {t['declined']:.3f}\n"
        f"overall:                    {t['overall']:.3f}\n"
        f"replies: {t['answer']} answers ({t['wrong_answers']} wrong), {t['closest']} closest passages"
        f" ({t['closest_right']} holding what was asked), {t['decline']} declines\n"
    )
    if args.verbose:
        for r in report.records:
            if not r.correct:
                best = r.result.matches[0].passage.id if r.result.matches else "-"
                out.write(f"  miss: {r.item.q!r} -> {'answered' if r.result.answered else 'declined'} {best}\n")
    return 0


def _chat(args: argparse.Namespace, core: Maisky, out: TextIO) -> int:
    from adapters.chat import run_chat  # readline is only needed here

    return run_chat(desk(args, core, prefix="", hide=frozenset()), caller(args), out, explain=args.explain)


def _serve(platform: str) -> Run:
    """A long-running front end (adapters/launch.py starts it)."""

    def run(args: argparse.Namespace, core: Maisky, out: TextIO) -> int:
        # Imported here: the launcher brings discord.py and slack-bolt, which no console command needs
        # (they double the start-up time of `maisky ask`).
        from adapters import launch

        return launch.serve_slack(args, core, out) if platform == "slack" else launch.serve_discord(args, core, out)

    return run


class TerminalPoster:
    """Daily posts to console channels: printed, headed by the channel's name."""

    def __init__(self, core: Maisky, out: TextIO) -> None:
        self.core = core
        self.out = out

    def post(self, channel: str, reply: Reply, *key: str, workspace: str = "") -> None:
        self.out.write(f"--- #{channel} ---\n{self.core.plain(reply)}\n\n")


def _daily(action: DailyAction) -> Run:
    """`maisky daily subscribe|unsubscribe|status|preview`, for a named local channel."""

    def run(args: argparse.Namespace, core: Maisky, out: TextIO) -> int:
        command = Daily(action, getattr(args, "time", "") or "", getattr(args, "zone", "") or "")
        out.write(core.plain(handle(args, core, command)) + "\n")
        return 0

    return run


def _db_upgrade(args: argparse.Namespace, core: Maisky, out: TextIO) -> int:
    lifecycle.configure_logging(args.settings)
    lifecycle.warn_if_ephemeral(args.settings)
    daily = lifecycle.open_daily(args.settings, core)  # opening the store creates or upgrades its schema
    with lifecycle.database_errors(args.settings):
        out.write(f"database schema at version {daily.store.version}\n")
        daily.store.engine.dispose()
    return 0


def _run_due(args: argparse.Namespace, core: Maisky, out: TextIO) -> int:
    from adapters.run_due import print_report, run_due  # brings the platforms' libraries: only here

    lifecycle.configure_logging(args.settings)
    lifecycle.warn_if_ephemeral(args.settings)
    now = args.now or dt.datetime.now(dt.UTC)
    with lifecycle.database_errors(args.settings):
        if args.console:
            report = lifecycle.open_daily(args.settings, core).run_due(now, {"console": TerminalPoster(core, out)})
        else:
            report = run_due(args.settings, core, now)
    return print_report(report, out)


def _doctor(args: argparse.Namespace, core: Maisky | None, out: TextIO) -> int:
    """Check the settings, each configured token, the database and every subscribed channel; exit 1
    when anything needs fixing."""
    # imported here: the doctor brings SQLAlchemy and the platforms' libraries, which no other console command needs
    from adapters.checks import probes
    from bot.ops import doctor

    found, settings = doctor.check_settings(slack=args.slack)
    if settings is not None:
        mode = doctor.slack_mode(settings.values, args.slack)
        found = doctor.examine(settings, probes(settings, mode), found)
    out.write(doctor.table(found))
    return 0 if doctor.healthy(found) else 1


def _import(args: argparse.Namespace, core: Maisky | None, out: TextIO) -> int:
    """Draft seeds/<id>.toml from documents; the report goes to stdout (stderr with --dry-run, whose
    stdout is the TOML itself)."""
    from bot.curate.importer import Provenance, is_copyright, run_import, slug
    from bot.curate.limits import OPTIONS, ReadLimits

    prov = Provenance(
        id=args.id or slug(args.title, words=5, limit=40),
        title=args.title, author=args.author, publication=args.publication, date=args.date or args.retrieved,
        retrieved=args.date is None, url=args.url,
        licence=args.licence, copyright=is_copyright(args.licence), excerpt_words=args.excerpt_words or 0,
        notes=args.notes or "",
    )  # fmt: skip
    report, draft = run_import(
        [Path(f) for f in args.files], prov, args.settings.seeds_dir, dry_run=args.dry_run, force=args.force,
        encoding=args.encoding, limits=ReadLimits(**{k: getattr(args, k) for k in OPTIONS if getattr(args, k)}),
    )  # fmt: skip
    if args.dry_run:
        out.write(draft.toml())
        sys.stderr.write(report.text())
    else:
        out.write(report.text())
    if report.written:
        _encode_source(args.settings, prov.id, out)
    return 1 if report.refused else 0


def _encode_source(settings: Settings, source: str, out: TextIO) -> None:
    """After an import: encode the new source's passages now, with progress on stderr, so the
    first question about them does not wait for the model."""
    core = build(settings, progress=for_stream(sys.stderr))
    semantic = core.matcher.semantic
    if semantic is None:
        out.write("vectors: the model is not installed; the semantic stage is off\n")
        return
    chosen = [i for i, p in enumerate(core.corpus.passages) if p.source.id == source]
    started, before = time.monotonic(), semantic.encoded
    semantic.warm(passages=chosen)
    out.write(
        f"vectors: {semantic.encoded - before:,} sentences and words of its {len(chosen):,} passages encoded "
        f"in {time.monotonic() - started:.1f} s (the rest were in the cache: {core.matcher.cache_folder})\n"
    )


def _limit_options(parser: argparse.ArgumentParser) -> None:
    """One option per limit of bot.curate.limits, for the real book that goes past one (docs/hostile-input.md)."""
    from bot.curate.limits import OPTIONS, ReadLimits

    limits = parser.add_argument_group("limits on what one import reads (raise one when a real book needs it)")
    for name, (option, _) in OPTIONS.items():
        limits.add_argument(
            option, dest=name, type=_positive, metavar="N", help=f"default {getattr(ReadLimits(), name):,}"
        )


def _positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return int(text)


def _instant(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 time such as 2026-11-27T09:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def _version() -> str:
    """The installed version (pyproject.toml's), for bug reports and `maisky doctor` alike."""
    import importlib.metadata  # here: it imports the email package, 0.04 s that `maisky ask` never needs

    try:
        return importlib.metadata.version("maisky-bot")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


class _Version(argparse.Action):
    """`--version`, looked up only when asked for (argparse's own takes the text when the parser is built)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"maisky {_version()}")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    """A command's parser that takes its options anywhere among its words (`quiz answer --channel club A`
    as well as `quiz answer A --channel club`). argparse's own parse stops filling a command's words at
    the first option; its intermixed parse does not, but refuses parsers of subcommands, which parse as
    usual (their subcommands, built by this class, mix again)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._mixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._mixing or self._subparsers is not None:
            return super().parse_known_args(args, namespace)
        self._mixing = True  # the intermixed parse calls this method again, for each of its two passes
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._mixing = False


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="maisky",
        description="Maisky as narrator: an automated persona answering from cited sources about Ivan Maisky, "
        "Soviet ambassador in London 1932-1943. Not the historical person.",
    )
    p.add_argument("--version", action=_Version, help="show the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    a = sub.add_parser("ask", help="answer one question from the sources")
    a.add_argument("question", nargs="+", help="the question (quote it in the shell)")
    a.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    a.add_argument("--explain", action="store_true", help="also show why: terms, scores, runners-up")
    a.set_defaults(run=_ask)
    c = sub.add_parser("chat", help="an interactive session (type 'help' inside)")
    c.add_argument("--channel", default="console", help="the local channel for daily commands (default: console)")
    c.add_argument("--explain", action="store_true", help="after each answer, how the line was read and why")
    c.set_defaults(run=_chat)
    q = sub.add_parser("quote", help="one of Maisky's own quotations with its citation")
    q.add_argument("--date", type=_date, help="the day (YYYY-MM-DD); the same day always gives the same quotation")
    q.add_argument("--json", action="store_true", help="print JSON instead of text")
    q.set_defaults(run=_quote)
    w = sub.add_parser("who", help="what the sources say about a person")
    w.add_argument("person", nargs="+")
    w.set_defaults(run=_show(lambda a: Who(" ".join(a.person))))
    qz = sub.add_parser(
        "quiz", help="a quiz question for a console channel; 'quiz answer NAME', 'quiz stop', 'quiz scores'"
    )
    qz.add_argument("action", nargs="?", choices=["ask", "answer", "stop", "scores"], default="ask")
    qz.add_argument("answer", nargs="*", help="with 'answer': a name, a year, or an option's letter")
    qz.add_argument("--channel", default="console", help="the local channel's name (default: console)")
    qz.set_defaults(run=_show(lambda a: Quiz(QuizAction(a.action), " ".join(a.answer))))
    t = sub.add_parser("timeline", help="the dated passages in order: all, or a year, a decade or a range")
    t.add_argument("span", nargs="*", help="1939, 1930s, 1939-1941 (default: every year)")
    t.set_defaults(run=_show(lambda a: Timeline(" ".join(a.span))))
    for name, what, command in (
        ("sources", "the sources and how many passages each holds", Sources()),
        ("about", "what this bot is and how it answers", About()),
        ("help", "the commands, in the persona's words", Help()),
    ):
        sub.add_parser(name, help=what).set_defaults(run=_show(command))
    i = sub.add_parser(
        "import", help="draft a source in seeds/ from text, Markdown, HTML, EPUB or PDF files, with a report to review"
    )
    i.add_argument("files", nargs="+", metavar="FILE", help="files, or folders of files, that make up one source")
    i.add_argument("--title", required=True, help="the document's title")
    i.add_argument("--author", required=True, help="who wrote it (for an encyclopedia: 'Wikipedia contributors')")
    i.add_argument("--publication", required=True, help="where it appeared: newspaper, publisher, website")
    when = i.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", type=_date, help="when it appeared (YYYY-MM-DD)")
    when.add_argument("--retrieved", type=_date, help="for a page with no publication date: the day it was retrieved")
    i.add_argument("--url", required=True, help="where readers can read it (http:// or https://)")
    i.add_argument(
        "--licence", required=True, help="its licence, e.g. 'CC BY-SA 4.0'; '© ...' or 'copyright' caps quoting"
    )
    i.add_argument("--id", help="the source id and file name (default: from the title)")
    i.add_argument("--excerpt-words", type=int, help="for a copyrighted source: words of one passage a reply shows")
    i.add_argument("--notes", help="how the text was obtained (default: the files it was imported from)")
    i.add_argument("--encoding", help="the text's encoding when it is not UTF-8 (e.g. cp1252)")
    i.add_argument("--dry-run", action="store_true", help="print the TOML instead of writing it")
    i.add_argument("--force", action="store_true", help="replace an existing source file (keeps ids that still fit)")
    _limit_options(i)
    i.set_defaults(run=_import)
    doc = sub.add_parser(
        "doctor", help="check settings, tokens, scopes, commands, the database and every subscribed channel"
    )
    doc.add_argument(
        "--slack", choices=["http", "socket"], help="the Slack transport to check (default: SLACK_MODE, else socket "
        "when only SLACK_APP_TOKEN is set, else http)",
    )  # fmt: skip
    doc.set_defaults(run=_doctor)
    e = sub.add_parser(
        "eval", help="score the matcher on a question file (top-1, top-3, declines), or the bot on a dialogue file"
    )
    e.add_argument(
        "file", help="a YAML file of questions (as tests/data/dev-questions.yaml) or of dialogues (as "
        "tests/data/dialogues-tuning.yaml: follow-ups, lines standing alone and small talk scored apart)",
    )  # fmt: skip
    e.add_argument("--json", action="store_true", help="one JSON record per question, then the totals")
    e.add_argument("-v", "--verbose", action="store_true", help="list the questions it got wrong")
    e.add_argument(
        "--without-keywords",
        action="store_true",
        help="ignore every passage's curated keywords (how much the answers lean on them)",
    )
    e.add_argument(
        "--without-reader", action="store_true", help="the two stages alone, as before the reader (to compare)"
    )
    e.set_defaults(run=_eval)
    ix = sub.add_parser("index", help="the search index and vector cache").add_subparsers(
        dest="index", required=True, metavar="ACTION"
    )
    ixb = ix.add_parser(
        "build",
        help="index the corpus and encode every passage's vectors ahead (else each is encoded when first needed)",
    )
    ixb.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    ixb.set_defaults(run=_index_build)
    sl = sub.add_parser(
        "slack", help="run the Slack app: 'http' on $PORT at /slack/events (default) or 'socket' for Socket Mode"
    )
    sl.add_argument(
        "transport",
        nargs="?",
        choices=["http", "socket"],
        help="how Slack reaches the bot (default: SLACK_MODE, else http)",
    )
    sl.set_defaults(run=_serve("slack"))
    d = sub.add_parser(
        "discord", help="run the Discord bot with DISCORD_TOKEN ('maisky discord sync' pushes the commands)"
    )
    d.add_argument("action", nargs="?", choices=["run", "sync"], default="run", help="run (default) or sync and exit")
    d.set_defaults(run=_serve("discord"))
    daily = sub.add_parser("daily", help="daily quotation posts").add_subparsers(
        dest="daily", required=True, metavar="ACTION"
    )
    due = daily.add_parser("run-due", help="post whatever is due once and exit (for cron or Heroku Scheduler)")
    due.add_argument("--now", type=_instant, help="pretend it is this ISO-8601 time (default: now; no zone means UTC)")
    due.add_argument("--console", action="store_true", help="post what is due in console channels to this terminal")
    due.set_defaults(run=_run_due)
    for action, what in (
        (DailyAction.SUBSCRIBE, "post a quotation in a console channel every day (see run-due --console)"),
        (DailyAction.UNSUBSCRIBE, "stop a console channel's daily quotation"),
        (DailyAction.STATUS, "a console channel's daily time, next post and count"),
        (DailyAction.PREVIEW, "the quotation a console channel gets next"),
    ):
        one = daily.add_parser(action.value, help=what)
        if action is DailyAction.SUBSCRIBE:
            one.add_argument("time", nargs="?", default="", help="HH:MM, local time (default MAISKY_DAILY_TIME)")
            one.add_argument("zone", nargs="?", default="", help="Area/City (default MAISKY_DAILY_TIMEZONE)")
        one.add_argument("--channel", default="console", help="the local channel's name (default: console)")
        one.set_defaults(run=_daily(action))
    db = sub.add_parser("db", help="the database of daily posts").add_subparsers(
        dest="db", required=True, metavar="ACTION"
    )
    db.add_parser(
        "upgrade", help="create or upgrade the schema and exit (Heroku's release phase, compose's migrate service)"
    ).set_defaults(run=_db_upgrade)
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the `maisky` command; returns the exit code (0 ok, 1 bad data or settings, 2 bad usage)."""
    out = out or sys.stdout
    args = parser().parse_args(argv)
    if args.command == "doctor":  # reports bad settings itself, as rows of its table
        return int(args.run(args, None, out))
    try:
        args.settings = Settings.from_env()
        use_threads(args.settings.threads)  # every command, before any numeric work (bot/ops/runtime.py)
        if args.command == "import":  # drafts a source: needs no loaded corpus, only its folder
            return int(args.run(args, None, out))
        serving = args.command in ("slack", "discord")
        if args.command == "slack":  # a bad token is reported before the corpus is even loaded
            args.settings.slack(mode=args.transport)
        elif args.command == "discord":
            args.settings.discord()
        if not serving:  # one person at a console: no cooldown
            args.settings = replace(args.settings, cooldown=0)
        # passages to encode are announced at once: a bar on a terminal, plain lines on stderr
        # otherwise, and log lines (the log's format) from the servers
        progress = Lines() if serving else Progress() if getattr(args, "quiet", False) else for_stream(sys.stderr)
        core = build(args.settings, index=args.command != "daily", progress=progress)  # daily commands never search
        return int(args.run(args, core, out))
    except MaiskyError as exc:
        print(f"maisky: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before a front end took over its signals
        return 130


if __name__ == "__main__":
    sys.exit(main())
