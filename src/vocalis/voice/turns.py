"""Turn-taking: when the caller's turn starts, when it is over, and which of their words make one turn.

- A turn ends only once every stretch of the caller's speech has been transcribed (`SegmentTranscribedFrame`, see
  `workarounds.SegmentAwareTurnStop`): a pause inside a sentence never closes a turn on its first half.
- While the agent speaks, a short "uh-huh" or "okay" is a backchannel, not a barge-in: the agent stops only for
  speech that lasts (`interruption_min_seconds`) or for words that are more than a backchannel (`CallerTurnStart`).
- A caller who goes on speaking just after their turn closed, before they heard much of the reply, was not done:
  the reply is dropped and the fragments are answered as one turn (`TurnJoiner`).
"""

import asyncio
import re
import time

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    DataFrame,
    Frame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_start.base_user_turn_start_strategy import BaseUserTurnStartStrategy

# Caller sounds that say "go on" rather than ask for the floor.
BACKCHANNELS = frozenset(
    {
        "uh-huh", "uh huh", "uhhuh", "mm-hm", "mm-hmm", "mhm", "mm", "hmm", "mm hmm", "okay", "ok", "yeah", "yes",
        "yep", "right", "sure", "i see", "got it", "alright", "all right", "cool", "great", "oh", "ah", "uh", "um",
        "okay okay", "yeah yeah", "right right", "oh okay", "i see okay", "mm okay", "uh-huh okay",
    }
)  # fmt: skip
# A caller who speaks again within this many seconds of their turn closing may be finishing it...
CONTINUATION_SECONDS = 2.5
# ...if they have heard no more than this much of the reply (past that, they are answering it).
CONTINUATION_HEARD_SECONDS = 1.0


class SegmentTranscribedFrame(DataFrame):
    """A segmented STT finished one stretch of speech (whether or not it held words). In order after the
    transcript, so the turn's end can wait for the last stretch's words."""


def is_backchannel(text: str) -> bool:
    """Whether the words are only a listener's "uh-huh", "okay", "right"."""
    words = " ".join(re.findall(r"[a-z]+(?:[-'][a-z]+)*", text.lower()))
    return words in BACKCHANNELS


class CallerTurnStart(BaseUserTurnStartStrategy):
    """Starts the caller's turn on their voice; while the agent speaks, only on a real barge-in.

    With the agent quiet, the turn starts as soon as the VAD hears speech. While the agent speaks, speech must last
    `barge_in_seconds` (a backchannel is shorter), or its transcript must hold more than a backchannel; a backchannel's
    transcript is dropped, so it does not join the caller's next turn.
    """

    def __init__(self, *, barge_in_seconds: float, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type,no-untyped-call]
        self._barge_in_seconds = barge_in_seconds
        self._agent_speaking = False
        self._timer: asyncio.Task[None] | None = None

    async def reset(self) -> None:
        await super().reset()  # type: ignore[no-untyped-call]
        self._cancel_timer()

    async def cleanup(self) -> None:
        self._cancel_timer()
        await super().cleanup()  # type: ignore[no-untyped-call]

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, BotStartedSpeakingFrame):
            self._agent_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._agent_speaking = False
            self._cancel_timer()
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            if not self._agent_speaking:
                await self.trigger_user_turn_started()
                return ProcessFrameResult.STOP
            self._cancel_timer()
            self._timer = asyncio.create_task(self._barge_in_after(self._barge_in_seconds - frame.start_secs))
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._cancel_timer()
        elif isinstance(frame, TranscriptionFrame) and self._agent_speaking:
            if is_backchannel(frame.text):
                await self.trigger_reset_aggregation()  # type: ignore[no-untyped-call]
                return ProcessFrameResult.CONTINUE
            self._cancel_timer()
            await self.trigger_user_turn_started()
            return ProcessFrameResult.STOP
        return ProcessFrameResult.CONTINUE

    async def _barge_in_after(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))
        self._timer = None
        await self.trigger_user_turn_started()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class TurnJoiner:
    """Decides when the caller's new words finish their previous turn, and then drops the reply to that turn.

    The engine tells it when a caller turn stops and starts (with how much of the reply the caller had heard); the
    reply processor asks it, before answering, to `join` the context: the assistant messages after the previous
    caller turn are removed, so the caller's consecutive messages read as one turn.
    """

    def __init__(self) -> None:
        self._stopped_at: float | None = None
        self._joining = False

    def turn_stopped(self) -> None:
        self._stopped_at = time.monotonic()

    def turn_started(self, heard_seconds: float) -> None:
        recent = self._stopped_at is not None and time.monotonic() - self._stopped_at < CONTINUATION_SECONDS
        self._joining = recent and heard_seconds <= CONTINUATION_HEARD_SECONDS

    def join(self, context: LLMContext) -> None:
        """Once per continued turn: drop the agent's messages since the caller's previous message."""
        if not self._joining:
            return
        self._joining = False
        messages = list(context.get_messages())
        roles = [message.get("role") if isinstance(message, dict) else None for message in messages]
        if not roles or roles[-1] != "user":
            return
        previous_user = next((i for i in range(len(roles) - 2, -1, -1) if roles[i] == "user"), None)
        if previous_user is None:
            return
        since = zip(messages[previous_user + 1 :], roles[previous_user + 1 :], strict=True)
        kept = [message for message, role in since if role != "assistant"]
        context.set_messages(messages[: previous_user + 1] + kept)
