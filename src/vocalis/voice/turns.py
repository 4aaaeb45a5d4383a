"""Turn-taking: when the caller's turn starts, when it is over, and which of their words make one turn.

- A turn ends only once every stretch of the caller's speech has been transcribed (`SegmentTranscribedFrame`, see
  `workarounds.SegmentAwareTurnStop`): a pause inside a sentence never closes a turn on its first half.
- While the agent speaks, a short "uh-huh" or "okay" is a backchannel, not a barge-in: the agent stops only when the
  caller voices for `interruption_min_seconds` or says words that ask for the floor (`CallerTurnStart`).
- A turn that is only a greeting ("Hi there.", or a call's first one or two words) is answered no sooner than
  `OPENER_PAUSE_SECONDS` after the caller went quiet: callers pause after "hi" before their question
  (`workarounds.SegmentAwareTurnStop`).
- A caller who goes on speaking just after their turn closed, before they heard much of the reply, was not done:
  the reply is dropped and the fragments are answered as one turn (`TurnJoiner`).
- A turn Smart Turn judged unfinished (closed only by the silence limit) or whose words trail off, that the thinker
  cannot answer ("So, um, I was wondering ⟨pause⟩"), is answered no sooner than `UNFINISHED_HOLD_SECONDS` after the
  caller went quiet: a caller who goes on is joined before they hear "I'm sorry, I don't have information about
  that" (`workarounds.SegmentAwareTurnStop.unfinished_since`, `engine.ReplyProcessor`).
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    DataFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_start.base_user_turn_start_strategy import BaseUserTurnStartStrategy

# Words that ask for the floor while the agent speaks; a backchannel ("uh-huh", "okay", "right", "I see") has none.
FLOOR_TAKERS = frozenset(
    {
        "stop", "wait", "no", "nope", "sorry", "hi", "hello", "hey", "hold", "excuse", "pardon", "help", "operator",
        "human", "agent", "representative", "bye", "goodbye", "thanks", "actually", "but", "what", "how", "why",
        "which", "who", "where", "when",
    }
)  # fmt: skip
# As many words as this take the floor whatever they are: a backchannel is shorter.
FLOOR_WORDS = 5
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
# Seconds of quiet after a turn judged unfinished before a reply that does not answer it is spoken: a hesitant
# caller's pause of a second, and the VAD's ~0.3 s to hear them go on.
UNFINISHED_HOLD_SECONDS = 1.5
# Quiet that ends a sound over the agent's reply: voice after it is timed afresh ("Wait, ⟨pause⟩ what…" is one).
VOICE_RESET_SECONDS = 0.5
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


@dataclass
class BackchannelFrame(DataFrame):
    """Words the caller said while the agent spoke that did not take the floor: dropped from the conversation, and so
    from its transcript (pushed by `CallerTurnStart`, which decides)."""

    text: str


def _words(text: str) -> list[str]:
    # Letters spelt one by one are one word: Whisper writes a quick "mm-hm" as "M.M.H.M." or "M-M-H-M".
    text = re.sub(r"\b([a-z])[.-](?=[a-z]\b)", r"\1", text.lower())
    return re.findall(r"[a-z]+(?:[-'][a-z]+)*", text)


def takes_the_floor(text: str) -> bool:
    """Whether words the caller said while the agent spoke ask it to stop: a word such as "wait", "sorry", "what", or
    a sentence. The rest are a listener's "uh-huh", "okay", "right", or what Whisper makes of a hum ("MMA", "Collar",
    "and the major men")."""
    words = _words(text)
    return len(words) >= FLOOR_WORDS or any(word in FLOOR_TAKERS for word in words)


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
    (the reply is dropped, see `TurnJoiner`), and should not be talked over. Later in the reply, the caller must voice
    for `barge_in_seconds` (a backchannel is shorter), or their words must ask for it (`takes_the_floor`); words that
    do not are dropped (`BackchannelFrame`), so they join neither the caller's next turn nor the transcript.

    Voice is counted frame by frame (`voicing`: the VAD hears a voice in its latest frame) until the caller has been
    quiet for `VOICE_RESET_SECONDS`. Timed from the VAD's start to its stop, a 0.7 s "Mm-hm." would still be "speaking"
    when the time is up (the VAD reports the end `end_of_speech_ms` after the voice stops), while "Wait, ⟨pause⟩ what
    are your hours" would be timed from "what" ("Wait," alone is too short for the VAD to start). Words are judged as
    they come: the STT reads the caller's words so far while the agent speaks (interim transcripts).
    """

    def __init__(self, *, barge_in_seconds: float, voicing: Callable[[], bool], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type,no-untyped-call]
        self._barge_in_seconds = barge_in_seconds
        self._voicing = voicing
        self._agent_speaking = False
        self._agent_started_at = 0.0
        self._caller_speaking = False  # between the VAD's start and stop
        # The caller spoke over a reply they had heard and has not taken the floor: their voice is timed and their
        # words judged, until those words are transcribed (the reply may have ended meanwhile).
        self._over_agent = False
        self._voiced = 0.0  # seconds of the caller's voice over the agent's reply...
        self._quiet = 0.0  # ...and of quiet since

    async def handle_user_turn_started(self) -> None:
        await super().handle_user_turn_started()  # type: ignore[no-untyped-call]
        self._over_agent, self._voiced = False, 0.0
        self._quiet = 0.0

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, InputAudioRawFrame):
            if self._agent_speaking and not self._reply_just_started():
                await self._time_voice(len(frame.audio) / (2 * frame.sample_rate * frame.num_channels))
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._agent_speaking = True
            self._agent_started_at = time.monotonic()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._agent_speaking = False
            if self._over_agent and self._caller_speaking:
                await self.trigger_user_turn_started()  # the reply is over and they are still talking
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._caller_speaking = True
            if not self._agent_speaking or self._reply_just_started():
                await self.trigger_user_turn_started()
                return ProcessFrameResult.STOP
            self._over_agent = True
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._caller_speaking = False
        elif isinstance(frame, SegmentTranscribedFrame):
            self._over_agent = self._over_agent and self._caller_speaking  # the words so far have been judged
        elif isinstance(frame, InterimTranscriptionFrame) and self._over_agent:
            if takes_the_floor(frame.text):  # the words so far ask for it: no need to wait for the rest
                await self.trigger_user_turn_started()
                return ProcessFrameResult.STOP
        elif isinstance(frame, TranscriptionFrame) and self._over_agent:
            if not takes_the_floor(frame.text):
                await self.trigger_reset_aggregation()  # type: ignore[no-untyped-call]
                await self.push_frame(BackchannelFrame(frame.text))
                return ProcessFrameResult.CONTINUE
            await self.trigger_user_turn_started()
            return ProcessFrameResult.STOP
        return ProcessFrameResult.CONTINUE

    def _reply_just_started(self) -> bool:
        return time.monotonic() - self._agent_started_at <= CONTINUATION_HEARD_SECONDS

    async def _time_voice(self, seconds: float) -> None:
        """Counts a frame of audio over the reply (the VAD has just read it: the aggregator runs the VAD first)."""
        if self._voicing():
            self._voiced, self._quiet = self._voiced + seconds, 0.0
        else:
            self._quiet += seconds
            if self._quiet >= VOICE_RESET_SECONDS:
                self._voiced = 0.0
        if self._voiced >= self._barge_in_seconds:
            await self.trigger_user_turn_started()


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
