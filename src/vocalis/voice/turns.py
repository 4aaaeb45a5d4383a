"""Turn-taking: when the caller's turn starts, when it is over, and which of their words make one turn.

- A turn ends only once every stretch of the caller's speech has been transcribed (`SegmentTranscribedFrame`, see
  `workarounds.SegmentAwareTurnStop`): a pause inside a sentence never closes a turn on its first half.
- While the agent speaks, a short "uh-huh" or "okay" is a backchannel, not a barge-in: the agent stops only for
  speech that lasts (`interruption_min_seconds`) or for words that are more than a backchannel (`CallerTurnStart`).
- A turn that is only a greeting ("Hi there.", or a call's first one or two words) is answered no sooner than
  `OPENER_PAUSE_SECONDS` after the caller went quiet: callers pause after "hi" before their question
  (`workarounds.SegmentAwareTurnStop`).
- A caller who goes on speaking just after their turn closed, before they heard much of the reply, was not done:
  the reply is dropped and the fragments are answered as one turn (`TurnJoiner`).
"""

import asyncio
import re
import time
from dataclasses import dataclass, field

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
# One word that does ask for the floor while the agent speaks.
FLOOR_TAKERS = frozenset(
    {
        "stop", "wait", "no", "nope", "sorry", "hello", "hold", "excuse", "pardon", "what", "hey", "help", "operator",
        "human", "agent", "representative", "bye", "goodbye", "thanks", "actually", "but",
    }
)  # fmt: skip
# Words a caller opens with before saying what they want ("Okay, ⟨pause⟩ that's all I needed"); a turn of only these
# may not be over.
OPENERS = frozenset(
    {
        "hi", "hello", "hey", "hiya", "howdy", "there", "good", "morning", "afternoon", "evening", "um", "uh", "er",
        "erm", "so", "well", "oh", "okay", "ok", "alright", "right", "and", "also", "actually", "sorry",
    }
)  # fmt: skip
# Seconds of quiet after a greeting-only turn before it is answered (a reply usually starts ~0.5 s after speech).
OPENER_PAUSE_SECONDS = 1.0
# A caller who speaks again within this many seconds of their turn closing may be finishing it...
CONTINUATION_SECONDS = 2.5
# ...if they have heard no more than this much of the reply (past that, they are answering it).
CONTINUATION_HEARD_SECONDS = 1.0


@dataclass
class SegmentTranscribedFrame(DataFrame):
    """A segmented STT finished one stretch of speech (whether or not it held words). In order after the
    transcript, so the turn's end can wait for the last stretch's words; kept through interruptions (a barge-in
    its own transcript starts would otherwise drop it, and every later turn would wait for it)."""

    interruptible: bool = field(default=False, init=False)


def _words(text: str) -> list[str]:
    # Letters spelt one by one are one word: Whisper writes a quick "mm-hm" as "M.M.H.M." or "M-M-H-M".
    text = re.sub(r"\b([a-z])[.-](?=[a-z]\b)", r"\1", text.lower())
    return re.findall(r"[a-z]+(?:[-'][a-z]+)*", text)


def is_backchannel(text: str) -> bool:
    """Whether the words are only a listener's "uh-huh", "okay", "right": known ones, or one word that is not a call
    to stop (Whisper writes a quick "uh-huh" or "mm-hm" as "Collar", "MMA", "Oh")."""
    words = _words(text)
    return " ".join(words) in BACKCHANNELS or (len(words) == 1 and words[0] not in FLOOR_TAKERS)


def is_opener(text: str, *, first_turn: bool = False) -> bool:
    """Whether the words are only a greeting or a filler ("Hi there.", "Hello, um"): the caller may not be done. As
    the first words of a call, any one or two words are taken as a greeting: Whisper often writes a quick "Hi there"
    as "Hydra" or "Hide there"."""
    words = _words(text)
    return bool(words) and (all(word in OPENERS for word in words) or (first_turn and len(words) <= 2))


class CallerTurnStart(BaseUserTurnStartStrategy):
    """Starts the caller's turn on their voice; while the agent speaks, only on a real barge-in.

    With the agent quiet, the turn starts as soon as the VAD hears speech, and so it does in the reply's first
    `CONTINUATION_HEARD_SECONDS`: that caller is going on with their turn, not answering a reply they have barely heard
    (the reply is dropped, see `TurnJoiner`), and should not be talked over. Later in the reply, speech must last
    `barge_in_seconds` (a backchannel is shorter), or its transcript must hold more than a backchannel; a backchannel's
    transcript is dropped, so it does not join the caller's next turn.
    """

    def __init__(self, *, barge_in_seconds: float, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type,no-untyped-call]
        self._barge_in_seconds = barge_in_seconds
        self._agent_speaking = False
        self._agent_started_at = 0.0
        self._timer: asyncio.Task[None] | None = None

    async def handle_user_turn_started(self) -> None:
        await super().handle_user_turn_started()  # type: ignore[no-untyped-call]
        self._cancel_timer()

    async def cleanup(self) -> None:
        self._cancel_timer()
        await super().cleanup()  # type: ignore[no-untyped-call]

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, BotStartedSpeakingFrame):
            self._agent_speaking = True
            self._agent_started_at = time.monotonic()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._agent_speaking = False
            self._cancel_timer()
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            just_started = time.monotonic() - self._agent_started_at <= CONTINUATION_HEARD_SECONDS
            if not self._agent_speaking or just_started:
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
    """Keeps the conversation's context true to what the caller said and heard, when they speak during a reply.

    The engine tells it when a caller turn stops and starts (with what of the reply the caller had heard); the reply
    processor asks it, before answering, to `join` the context:
    - a caller who went on with their turn (they spoke again soon, having heard little of the reply) has the
      assistant messages since their previous message removed, so their consecutive messages read as one turn;
    - a caller who barged in has the words of the reply they heard put before their new message, when Pipecat
      left them out (it keeps a sentence only once all of it was played), so the new words are a turn of their own.
    """

    def __init__(self) -> None:
        self._stopped_at: float | None = None
        self._joining = False
        self._heard = ""

    def turn_stopped(self) -> None:
        self._stopped_at = time.monotonic()

    def turn_started(self, heard_seconds: float, heard_words: str = "") -> None:
        recent = self._stopped_at is not None and time.monotonic() - self._stopped_at < CONTINUATION_SECONDS
        self._joining = recent and heard_seconds <= CONTINUATION_HEARD_SECONDS
        self._heard = "" if self._joining else heard_words

    def join(self, context: LLMContext) -> None:
        """Once per caller turn that started during, or just after, a reply."""
        joining, heard, self._joining, self._heard = self._joining, self._heard, False, ""
        if not joining and not heard:
            return
        messages = list(context.get_messages())
        roles = [message.get("role") if isinstance(message, dict) else None for message in messages]
        if not roles or roles[-1] != "user":
            return
        previous_user = next((i for i in range(len(roles) - 2, -1, -1) if roles[i] == "user"), None)
        if previous_user is None:
            return
        since = list(zip(messages[previous_user + 1 :], roles[previous_user + 1 :], strict=True))
        if joining:
            kept = [message for message, role in since if role != "assistant"]
        elif all(role != "assistant" for _, role in since):
            kept = [{"role": "assistant", "content": heard}, *(message for message, _ in since)]
        else:
            return
        context.set_messages(messages[: previous_user + 1] + kept)
