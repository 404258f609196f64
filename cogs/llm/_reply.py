"""The bot's answer on Discord: a reply that appears with the first streamed chunk, grows by edits at most about
once a second, and ends as the final text split over as many messages as it needs.

Every message it sends or edits carries the same `allowed_mentions`: only the member being answered may be pinged,
never @everyone/@here or a role, whatever the model wrote.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio
import nextcord

from bot.llm.output import sanitize_reply, split_message
from bot.llm.payload import preview

log = logging.getLogger(__name__)

EDIT_INTERVAL = 1.0  # seconds between two edits of the live preview
PREVIEW_SEND_LIMIT = 15.0  # seconds one preview send/edit may take


def reply_mentions(author: nextcord.abc.Snowflake) -> nextcord.AllowedMentions:
    return nextcord.AllowedMentions(everyone=False, roles=False, users=[author], replied_user=True)


class LiveReply:
    def __init__(
        self,
        message: nextcord.Message,
        *,
        edit_interval: float = EDIT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.message = message
        self.allowed = reply_mentions(message.author)
        self.edit_interval = edit_interval
        self.clock = clock
        self.chunks: list[str] = []
        self.sent: list[nextcord.Message] = []
        self._last_edit = 0.0
        self._shown = ""

    @property
    def started(self) -> bool:
        return bool(self.sent)

    async def on_chunk(self, text: str) -> None:
        """New streamed text. Shielded: the job client cancels its chunk poller as soon as the result is in, and a
        send cut off half-way would leave a message we do not know about (and then a second one)."""
        self.chunks.append(text)
        # Bounded, so a hung request cannot hold up shutdown; the final text still follows.
        with anyio.CancelScope(shield=True), anyio.move_on_after(PREVIEW_SEND_LIMIT):
            try:
                if not self.sent:
                    await self._send_first(preview(self.chunks))
                elif self.clock() - self._last_edit >= self.edit_interval:
                    await self._edit_first(preview(self.chunks))
            except nextcord.HTTPException as exc:  # a missed preview is harmless; the final text follows
                log.info("could not update the streamed reply to %s: %s", self.message.id, exc)

    async def finish(self, text: str) -> None:
        """Show the final answer: the first piece in the (possibly already sent) reply, the rest as follow-ups."""
        pieces = split_message(sanitize_reply(text)) or ["…"]
        if self.sent:
            await self._edit_first(pieces[0])
        else:
            await self._send_first(pieces[0])
        for piece in pieces[1:]:
            self.sent.append(await self.message.channel.send(piece, allowed_mentions=self.allowed))

    async def fail(self, line: str | None) -> None:
        """Replace the preview (or reply) with a short error line; with no line, remove a half-written preview."""
        if line is None:
            if self.sent:
                await self.sent[0].delete()
            return
        if self.sent:
            await self._edit_first(line)
        else:
            await self._send_first(line)

    async def _send_first(self, text: str) -> None:
        sent = await self.message.reply(text, allowed_mentions=self.allowed, mention_author=True)
        self.sent.append(sent)
        self._shown = text
        self._last_edit = self.clock()

    async def _edit_first(self, text: str) -> None:
        if text == self._shown:
            return
        await self.sent[0].edit(content=text, allowed_mentions=self.allowed)
        self._shown = text
        self._last_edit = self.clock()
