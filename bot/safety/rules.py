"""The offline `rules` scanner: word, phrase and regex lists per category, scam links and invites.

Evasion is normalised away before matching: zero-width characters, Unicode look-alikes (NFKC), case, leetspeak
(`b4dw0rd`), stretched letters (`baaadword`) and spelled-out letters (`b a d w o r d`, `b.a.d`). Words match whole
tokens only, so a listed "ass" does not flag "class".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from bot.antispam.normalize import extract_links, strip_invisible
from bot.safety.verdict import Verdict, safe, unsafe

_LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "@": "a",
        "$": "s",
        "€": "e",
    }
)
_TOKEN = re.compile(r"[a-z0-9]+")
_INNER_BANG = re.compile(r"(?<=\w)!(?=\w)")
_INNER_PIPE = re.compile(r"(?<=\w)\|(?=\w)")
_REPEATS = re.compile(r"(.)\1+")

# Small, conservative defaults; guilds add their own lists in their safety settings.
DEFAULT_WORDS: dict[str, tuple[str, ...]] = {
    "self_harm": ("kys", "kill yourself", "kill urself", "go die", "end yourself"),
    "harassment": ("retard", "retarded"),
}
# Scam bait counts only together with a link ("free nitro" alone is just chat about Nitro).
SCAM_BAIT = ("free nitro", "nitro gift", "steam gift", "free discord nitro", "claim your gift", "airdrop", "free robux")
OFFICIAL_DOMAINS = frozenset(
    {
        "discord.com",
        "discord.gg",
        "discord.media",
        "discordapp.com",
        "discordapp.net",
        "discord.new",
        "discord.dev",
        "discordstatus.com",
        "steamcommunity.com",
        "steampowered.com",
        "store.steampowered.com",
    }
)
LOOKALIKE_TARGETS = ("discord", "discordapp", "steamcommunity", "steampowered")
DEFAULT_SCAM_DOMAINS = frozenset({"grabify.link", "iplogger.org", "iplogger.com", "2no.co", "blasze.tk"})


def normalize(text: str) -> str:
    """Lowercase ASCII-ish text with invisible characters, look-alikes and leetspeak undone."""
    text = unicodedata.normalize("NFKC", strip_invisible(text)).casefold()
    # "!" and "|" stand for letters only inside a word ("k!ll"); at the end they are punctuation ("word!").
    text = _INNER_BANG.sub("i", text)
    text = _INNER_PIPE.sub("l", text)
    return text.translate(_LEET)


def squeeze(word: str) -> str:
    """`baaadword` -> `badword` (and, harmlessly, `kill` -> `kil`): compare both sides squeezed."""
    return _REPEATS.sub(r"\1", word)


def tokens(normalized: str) -> list[str]:
    """Tokens, plus runs of single letters joined (`f u c k` and `f.u.c.k` become `fuck`)."""
    toks = _TOKEN.findall(normalized)
    out = list(toks)
    run: list[str] = []
    for tok in [*toks, ""]:
        if len(tok) == 1:
            run.append(tok)
            continue
        if len(run) >= 3:
            out.append("".join(run))
        run = []
    return out


def _host_matches(host: str, domains: Iterable[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


# Well-known hosts that legitimately carry "discord" in a name (discord.js.org, discordpy.readthedocs.io).
TRUSTED_HOSTS = frozenset(
    {"js.org", "readthedocs.io", "github.com", "github.io", "gitlab.com", "pypi.org", "npmjs.com"}
)


def is_lookalike(host: str) -> bool:
    """A host dressed up as Discord or Steam without being theirs (`dlscord.gift`, `discord-nitro.ru`,
    `steamcomunity.ru`): a near-miss spelling, or the real name next to gift/nitro bait."""
    if _host_matches(host, OFFICIAL_DOMAINS | TRUSTED_HOSTS):
        return False
    labels = normalize(host).replace("-", ".").split(".")
    for label in labels:
        for target in LOOKALIKE_TARGETS:
            score = fuzz.ratio(label, target)
            if 80 <= score < 100 or (score == 100 and {"nitro", "gift", "gifts", "promo", "free"} & set(labels)):
                return True
    return False


@dataclass(frozen=True, slots=True)
class RuleLists:
    words: Mapping[str, Iterable[str]] = field(default_factory=lambda: DEFAULT_WORDS)  # category -> words/phrases
    patterns: Mapping[str, Iterable[str]] = field(default_factory=dict)  # category -> regexes (case-insensitive)
    scam_domains: frozenset[str] = DEFAULT_SCAM_DOMAINS
    flag_invites: bool = True
    allowed_invites: frozenset[str] = frozenset()  # invite codes that are fine (the guild's own)


class RulesScanner:
    name = "rules"

    def __init__(self, lists: RuleLists | None = None) -> None:
        lists = lists or RuleLists()
        self.lists = lists
        self._single: dict[str, str] = {}  # squeezed token -> category
        self._phrases: list[tuple[str, str]] = []  # (" squeezed phrase ", category)
        for category, words in lists.words.items():
            for word in words:
                toks = tokens(normalize(word))
                if len(toks) == 1:
                    self._single[squeeze(toks[0])] = category
                elif toks:
                    self._phrases.append((" " + " ".join(squeeze(t) for t in toks) + " ", category))
        self._patterns = [
            (re.compile(p, re.IGNORECASE), category) for category, ps in lists.patterns.items() for p in ps
        ]
        self._bait = [" " + " ".join(squeeze(t) for t in tokens(normalize(b))) + " " for b in SCAM_BAIT]

    def check(self, text: str) -> Verdict:
        found: list[str] = []
        norm = normalize(text)
        toks = [squeeze(t) for t in tokens(norm)]
        joined = " " + " ".join(toks) + " "
        found += [self._single[t] for t in toks if t in self._single]
        found += [category for phrase, category in self._phrases if phrase in joined]
        plain = unicodedata.normalize("NFKC", strip_invisible(text))
        found += [category for rx, category in self._patterns if rx.search(plain) or rx.search(norm)]
        links = extract_links(plain)
        if links.count:
            hosts = [h.lower() for h in links.domains]
            if any(_host_matches(h, self.lists.scam_domains) or is_lookalike(h) for h in hosts):
                found.append("scam_link")
            elif any(bait in joined for bait in self._bait) and not all(
                _host_matches(h, OFFICIAL_DOMAINS) for h in hosts
            ):
                found.append("scam_link")
            if self.lists.flag_invites and set(links.invite_codes) - self.lists.allowed_invites:
                found.append("invite")
        if not found:
            return safe(self.name)
        return unsafe(self.name, found, {c: 1.0 for c in found})

    async def scan(self, text: str) -> Verdict:
        return self.check(text)
