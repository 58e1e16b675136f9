"""Conversation basics: the few things people say to a bot that are not questions for the sources.

"Who are you?", "Are you an AI?", "Who made you?" ask what the bot is: the disclosure answers them.
"Hello", "thanks" and an acknowledgement ("ok", "I see", "lol") get a short line in character.
"Who was Maisky?" and "Tell me about yourself" ask about the man: the sources answer them, as
`who Maisky` does. Anything else is a question.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.search.analysis import SPELLER, fold

__all__ = ["Talk", "small_talk"]


class Talk(StrEnum):
    ABOUT = "about"  # what the bot is: the disclosure
    GREETING = "greeting"
    THANKS = "thanks"
    ACK = "acknowledgement"  # "ok", "I see", "lol": the member heard the answer; never a decline
    SELF = "self"  # about Maisky himself: answered from the sources


_TOKEN = re.compile(r"[a-z0-9]+")
_OWN = frozenset(
    "maisky ivan mikhailovich maysky spasibo privet chatgpt llm lol lmao rofl haha hahaha hehe hmm hmmm ok okay kk"
    " gotcha huh wow ooh ahh aha".split()
)
_NAME = r"(?: (?:ivan|mr|comrade|ambassador|sir|maisky|bot|there|again|everyone|all))*"
_PATTERNS = [
    (Talk.ABOUT, r"(?:who|what) (?:are|r) (?:you|u)(?: really| exactly| actually)?"),
    (
        Talk.ABOUT,
        r"(?:are|r) (?:you|u)(?: an?| the)?(?: real| really| actually)?"
        r" (?:ai|a ?i|bot|robot|chatbot|real|human|person|man|alive|machine|program|computer|llm|chatgpt|gpt"
        r"|the real maisky|really maisky|maisky|him|ivan maisky)",
    ),
    (
        Talk.ABOUT,
        r"(?:who|what) (?:made|created|built|wrote|programmed|coded|designed|runs|owns) (?:you|u|this bot|this)",
    ),
    (
        Talk.ABOUT,
        r"(?:is this|am i talking to|am i speaking to|are you) (?:an? )?(?:ai|bot|robot|chatbot|real person|human)",
    ),
    (Talk.ABOUT, r"what is this(?: bot)?"),
    (Talk.SELF, r"(?:who|what) (?:was|is|were) (?:ivan )?(?:mikhailovich )?maisky"),
    (Talk.SELF, r"who (?:were|was) (?:you|u)"),
    (Talk.SELF, r"(?:tell|talk) (?:me |us )?(?:a (?:bit|little) )?about (?:yourself|you|ivan maisky|maisky)"),
    (Talk.SELF, r"(?:introduce|describe) yourself"),
    (
        Talk.GREETING,
        r"(?:hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening|day)|yo|hallo|privet"
        r"|how are you|how do you do|hows it going|how is it going|whats up|sup)" + _NAME,
    ),
    (
        Talk.THANKS,
        r"(?:thanks|thank you|thank u|thx|ty|cheers|many thanks|much appreciated|thanks a lot"
        r"|thank you very much|thanks very much|thanks so much|thank you so much|ta|spasibo)" + _NAME,
    ),
]
_ADJ = (
    r"(?:cool|nice|neat|great|good|interesting|fascinating|amazing|incredible|brilliant|remarkable|funny|sad|odd"
    r"|strange|surprising|wild|crazy|true|right|fair|helpful|useful)"
)
_ACK = (
    r"(?:ok|okay|k|kk|alright|all right|sure|fine|yes|yeah|yep|indeed|noted|understood|got it|gotcha|i see|oh i see"
    r"|i understand|i get it|makes sense|fair enough|good to know|lol|lmao|rofl|ha|haha|hahaha|hehe|hmm|hmmm|huh|oh"
    r"|ah|aha|ooh|ahh|wow|really|no way|" + _ADJ + r"|(?:that is|thats|very|so|how|quite|really) " + _ADJ + r")"
)
_PATTERNS.append((Talk.ACK, rf"{_ACK}(?: {_ACK})*" + _NAME))
_PATTERNS.append((Talk.THANKS, rf"{_ACK}(?: {_ACK})* (?:thanks|thank you|thank u|thx|cheers)" + _NAME))
_COMPILED = [
    (talk, re.compile(rf"^(?:(?:oh|well|ok|okay|so|and|but|please) )*{p}(?: please)?$")) for talk, p in _PATTERNS
]


def small_talk(text: str) -> Talk | None:
    """What kind of conversation basic `text` is, or None for a question the sources should answer."""
    said = _TOKEN.findall(fold(text).replace("'", ""))  # "who're", "what's": contractions join up
    if not said or len(said) > 9:
        return None
    repaired = [w if SPELLER.knows(w) else (SPELLER.repair(w, _OWN) or w) for w in said]
    line = " ".join(repaired)
    for talk, pattern in _COMPILED:
        if pattern.match(line):
            return talk
    return None
