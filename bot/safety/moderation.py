"""The `openai` scanner: OpenAI's moderation endpoint (`omni-moderation-latest`) with our own per-category
thresholds instead of the endpoint's `flagged` bit, so a guild can be stricter or laxer per category.

Default thresholds (score >= threshold flags the category):
    sexual/minors 0.2, self-harm/intent 0.4, self-harm/instructions 0.4, hate/threatening 0.4,
    harassment/threatening 0.5, illicit/violent 0.5, everything else 0.7.
Lower means stricter. Categories the endpoint adds later fall under `default_threshold`.
"""

from __future__ import annotations

from collections.abc import Mapping

import openai

from bot.llm.provider import Endpoint, provider_error
from bot.safety.verdict import Verdict, safe, unsafe

DEFAULT_THRESHOLD = 0.7
DEFAULT_THRESHOLDS: dict[str, float] = {
    "sexual/minors": 0.2,
    "self-harm/intent": 0.4,
    "self-harm/instructions": 0.4,
    "hate/threatening": 0.4,
    "harassment/threatening": 0.5,
    "illicit/violent": 0.5,
}


def judge(
    scores: Mapping[str, float], thresholds: Mapping[str, float] | None = None, default: float = DEFAULT_THRESHOLD
) -> list[str]:
    """The categories whose score reaches its threshold, most confident first."""
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    hits = [c for c, s in scores.items() if s is not None and s >= limits.get(c, default)]
    return sorted(hits, key=lambda c: -scores[c])


class ModerationScanner:
    name = "openai"

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        endpoint: Endpoint,
        *,
        model: str = "omni-moderation-latest",
        thresholds: Mapping[str, float] | None = None,
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.model = model
        self.thresholds = dict(thresholds or {})

    async def scan(self, text: str) -> Verdict:
        try:
            response = await self.client.moderations.create(model=self.model, input=text)
        except openai.OpenAIError as exc:
            raise provider_error(exc, endpoint=self.endpoint, model=self.model) from None
        result = response.results[0]
        # by_alias gives the endpoint's own names ("self-harm/intent"), which the thresholds use.
        scores = {k: float(v) for k, v in result.category_scores.model_dump(by_alias=True).items() if v is not None}
        hits = judge(scores, self.thresholds)
        return unsafe(self.name, hits, scores) if hits else safe(self.name, scores)
