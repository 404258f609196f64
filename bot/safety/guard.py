"""The `llm` scanner: a guard model (Llama Guard 3 and compatibles) behind any OpenAI-compatible chat endpoint.

The guard answers "safe", or "unsafe" and a line of S-codes ("unsafe\nS1,S10"). Codes become readable category
names; an answer we cannot read is an error, never a silent "safe".
"""

from __future__ import annotations

import re

import openai

from bot.jobs import JobError
from bot.llm.provider import Endpoint, provider_error
from bot.safety.verdict import Verdict, safe, unsafe

# Llama Guard 3 hazard taxonomy (MLCommons).
S_CATEGORIES: dict[str, str] = {
    "S1": "violent_crimes",
    "S2": "non_violent_crimes",
    "S3": "sex_related_crimes",
    "S4": "child_sexual_exploitation",
    "S5": "defamation",
    "S6": "specialized_advice",
    "S7": "privacy",
    "S8": "intellectual_property",
    "S9": "indiscriminate_weapons",
    "S10": "hate",
    "S11": "suicide_self_harm",
    "S12": "sexual_content",
    "S13": "elections",
    "S14": "code_interpreter_abuse",
}
_CODE = re.compile(r"\bS(\d{1,2})\b", re.IGNORECASE)


def parse_guard(answer: str) -> tuple[bool, list[str]]:
    """(unsafe?, category names) from a guard model's answer; ValueError when it is neither safe nor unsafe."""
    lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
    if not lines:
        raise ValueError("empty guard answer")
    head = lines[0].lower().strip(" .:")
    if head == "safe":
        return False, []
    if not head.startswith("unsafe"):
        raise ValueError(f"unreadable guard answer: {answer[:60]!r}")
    codes = [f"S{int(n)}" for n in _CODE.findall(" ".join([head, *lines[1:]]))]
    names = [S_CATEGORIES.get(code, code) for code in dict.fromkeys(codes)]
    return True, names or ["unspecified"]


class GuardScanner:
    name = "llm"

    def __init__(self, client: openai.AsyncOpenAI, endpoint: Endpoint, *, model: str) -> None:
        self.client = client
        self.endpoint = endpoint
        self.model = model

    async def scan(self, text: str) -> Verdict:
        try:
            completion = await self.client.chat.completions.create(
                model=self.model, messages=[{"role": "user", "content": text}], temperature=0, max_tokens=24
            )
        except openai.OpenAIError as exc:
            raise provider_error(exc, endpoint=self.endpoint, model=self.model) from None
        answer = (completion.choices[0].message.content or "") if completion.choices else ""
        try:
            flagged, categories = parse_guard(answer)
        except ValueError:
            raise JobError("the guard model gave an unreadable answer") from None
        return unsafe(self.name, categories, {c: 1.0 for c in categories}) if flagged else safe(self.name)
