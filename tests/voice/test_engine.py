from vocalis.voice.engine import ReplyProcessor
from vocalis.voice.responder import ExtractiveResponder
from vocalis.voice.settings import VoiceSettings
from vocalis.voice.thinking import CallbackRequest
from vocalis.voice.turns import TurnJoiner

PASSAGES = {
    "prices": "Prices\nA routine cleaning costs $95.",
    "insurance": "Insurance\nWe accept Aetna, Delta Dental and MetLife.",
}


def reply_processor(searched: list[str]) -> ReplyProcessor:
    async def retrieve(query: str) -> list[str]:
        """A search that finds one passage: the insurers for a question naming one, else the prices."""
        searched.append(query)
        return [PASSAGES["insurance" if "delta" in query.lower() and "much" not in query else "prices"]]

    async def on_end(reason: str, detail: str | None) -> None:
        pass

    def on_callback(request: CallbackRequest) -> None:
        pass

    return ReplyProcessor(VoiceSettings(), ExtractiveResponder(), retrieve, TurnJoiner(), on_end, on_callback)


async def test_each_question_of_a_turn_is_searched_for() -> None:
    searched: list[str] = []
    said = "How much is a cleaning, and do you take Delta Dental?"

    passages = await reply_processor(searched)._passages(said)

    assert searched == [said, "How much is a cleaning", "do you take Delta Dental?"]
    assert passages == [PASSAGES["prices"], PASSAGES["insurance"]]  # each once, the whole turn's first


async def test_a_single_question_is_searched_for_once() -> None:
    searched: list[str] = []

    passages = await reply_processor(searched)._passages("Do you take Delta Dental?")

    assert searched == ["Do you take Delta Dental?"]
    assert passages == [PASSAGES["insurance"]]
