"""English text for speech: each rule on its own cases, the properties every output keeps, and the loop that chose
the spellings (Piper speaks the spoken form, Whisper base writes back the numbers that were written)."""

import asyncio
import re

import numpy as np
import pytest
from pipecat.frames.frames import TTSAudioRawFrame, TTSSpeakFrame, TTSTextFrame
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import run_test

from tests.voice.speech import SAMPLE_RATE, caller_audio
from vocalis.config import Settings
from vocalis.voice.audio import resample_pcm16
from vocalis.voice.providers.piper import PiperServer
from vocalis.voice.providers.speech import PiperTTS, _transcribe
from vocalis.voice.responder import _speakable, answer
from vocalis.voice.spoken import for_speech
from vocalis.voice.weights import load_whisper

EN_DASH = "\u2013"

# rule: [(written, spoken)]
CASES: dict[str, list[tuple[str, str]]] = {
    "currency": [
        ("A haircut costs $95.", "A haircut costs ninety-five dollars."),
        ("There is a $30 fee.", "There is a thirty dollar fee."),
        ("Color is $4.99 extra.", "Color is four dollars ninety-nine extra."),
        ("The deposit is $1,200.", "The deposit is one thousand two hundred dollars."),
        ("It costs £5 or €10.", "It costs five pounds or ten euros."),
        ("£3.50 or €0.50 each.", "three pounds fifty or fifty cents each."),
        ("Prices are $30-$50.", "Prices are thirty to fifty dollars."),
        (f"Prices are $30{EN_DASH}50.", "Prices are thirty to fifty dollars."),
        ("From $60 to $80.", "From sixty to eighty dollars."),
        ("Prices start from $60.", "Prices start from sixty dollars."),
        ("It costs $0.99.", "It costs ninety-nine cents."),
        ("$1 only.", "one dollar only."),
        ("It's $95.00 flat.", "It's ninety-five dollars flat."),
        ("A $2M budget.", "A two million dollar budget."),
        ("Costs $2.5 million or $3k.", "Costs two point five million dollars or three thousand dollars."),
        ("A $1.25M budget.", "A one point two five million dollar budget."),
        ("Price: $30/hour.", "Price: thirty dollars per hour."),
        ("The $30 is refundable.", "The thirty dollars is refundable."),
    ],
    "numbers": [
        (
            "We have 1,200 clients and 3.5 stars.",
            "We have one thousand two hundred clients and three point five stars.",
        ),
        ("Only 10,000 spots.", "Only ten thousand spots."),
        ("It takes 2-3 weeks for ages 5+.", "It takes two to three weeks for ages five plus."),
        ("Order 483920 shipped.", "Order four eight three nine two zero shipped."),
        ("Our zip code is 90210.", "Our zip code is nine zero two one zero."),
        ("Call 911 now.", "Call nine one one now."),
        ("The kit is 1/2 price, save 1/3.", "The kit is half price, save one third."),
        ("1\u00bd hours", "one and a half hours"),
        ("COVID-19 rules apply to Room 4B.", "COVID-nineteen rules apply to Room four B."),
        ("Our A1 service.", "Our A one service."),
        ("We're open 24/7.", "We're open twenty-four seven."),
        ("Rated 4.8/5, or 4/5 stars.", "Rated four point eight out of five, or four out of five stars."),
        ("Popular in the 90s and 1990s.", "Popular in the nineties and nineteen nineties."),
        ("Come 2x a week.", "Come two times a week."),
        ("A 15-minute consultation, 30-day returns.", "A fifteen-minute consultation, thirty-day returns."),
    ],
    "ordinals": [
        ("Your 1st and 22nd visits.", "Your first and twenty-second visits."),
        ("We are on 5th Ave.", "We are on Fifth Avenue."),
        ("The 3rd-floor room.", "The third-floor room."),
    ],
    "years": [
        ("We opened in 2024.", "We opened in twenty twenty-four."),
        ("In 1998 we opened.", "In nineteen ninety-eight we opened."),
        ("Since 2005.", "Since two thousand five."),
    ],
    "times": [
        ("We open at 9:30am.", "We open at nine thirty AM."),
        ("We open at 9.30am.", "We open at nine thirty AM."),
        ("We open at 9 am.", "We open at nine AM."),
        ("We close at 10:00 PM.", "We close at ten PM."),
        ("We open at 9:05 a.m. every day.", "We open at nine oh five AM every day."),
        ("From 9 a.m. We also cut.", "From nine AM. We also cut."),
        ("We close at noon.", "We close at noon."),
        ("Open noon-2pm.", "Open noon to two PM."),
        ("We open at 9:30 and close 10:00-18:00.", "We open at nine thirty and close ten o'clock to six PM."),
        ("See you at 10AM-2PM.", "See you at ten AM to two PM."),
        (f"Open 8:00am {EN_DASH} 5:00pm daily.", "Open eight AM to five PM daily."),
    ],
    "days": [
        (f"Mon{EN_DASH}Fri 8am{EN_DASH}6pm", "Monday to Friday eight AM to six PM"),
        ("Mon-Fri, 9-5.", "Monday to Friday, nine to five."),
        (f"Monday{EN_DASH}Friday 9am-5pm.", "Monday to Friday nine AM to five PM."),
        ("Sat 10-4, Sun closed.", "Saturday ten to four, Sunday closed."),
        ("Open Sat & Sun.", "Open Saturday and Sunday."),
        ("From 9 a.m. to 5 p.m. Mon. through Fri.", "From nine AM to five PM Monday through Friday."),
        ("Mon, Wed, Fri 9-5", "Monday, Wednesday, Friday nine to five"),
        ("Open Tues/Thurs.", "Open Tuesday, Thursday."),
        ("Wed 9am.", "Wednesday nine AM."),
        ("On Monday, enjoy the Sun.", "On Monday, enjoy the Sun."),
        ("Monday - Friday: 9am - 5pm", "Monday to Friday: nine AM to five PM"),
    ],
    "dates": [
        ("We are closed Dec 24.", "We are closed December twenty-fourth."),
        ("Dec. 24th and Jan 1st.", "December twenty-fourth and January first."),
        ("The sale ends 12/24/2026.", "The sale ends December twenty-fourth, twenty twenty-six."),
        ("The sale ends 24/12/2026.", "The sale ends December twenty-fourth, twenty twenty-six."),
        ("The sale ends 2026-12-24.", "The sale ends December twenty-fourth, twenty twenty-six."),
        ("See 5/15.", "See May fifteenth."),
        ("Closed Dec 24-26.", "Closed December twenty-fourth to twenty-sixth."),
        (f"Mar 3{EN_DASH}5, 2026 only.", "March third to fifth, twenty twenty-six only."),
        ("Closed 24 Dec 2026.", "Closed the twenty-fourth of December, twenty twenty-six."),
        ("Closed Dec 2026.", "Closed December, twenty twenty-six."),
        (f"Jan{EN_DASH}Mar only.", "January to March only."),
    ],
    "phones": [
        ("Call 555-0142.", "Call five five five, zero one four two."),
        ("Call (555) 123-4567.", "Call five five five, one two three, four five six seven."),
        ("Call +1 555 123 4567.", "Call plus one, five five five, one two three, four five six seven."),
        ("Call +15551234567.", "Call plus one, five five five, one two three, four five six seven."),
        ("Call 1-800-FLOWERS.", "Call one, eight zero zero, Flowers."),
        ("Call 1-888-GO-FEDEX.", "Call one, eight eight eight, Go, Fedex."),
        ("Call 555-123-4567 ext. 12.", "Call five five five, one two three, four five six seven, extension one two."),
        (
            "Call 555.123.4567 x 204.",
            "Call five five five, one two three, four five six seven, extension two zero four.",
        ),
        (
            "Call us on +44 20 7946 0958.",
            "Call us on plus four four, two zero, seven nine four six, zero nine five eight.",
        ),
        ("Tel: 555.123.4567", "Phone: five five five, one two three, four five six seven"),
    ],
    "percentages": [
        ("Save 15% today.", "Save fifteen percent today."),
        ("Rates rise 2.5% in 2025.", "Rates rise two point five percent in twenty twenty-five."),
        ("Save 10-15%.", "Save ten to fifteen percent."),
    ],
    "units": [
        ("It is 3.5 km away, 2 mi by road.", "It is three point five kilometers away, two miles by road."),
        ("It is 2.25 mi away.", "It is two point two five miles away."),
        ("It weighs 5 kg, about 11 lbs.", "It weighs five kilograms, about eleven pounds."),
        ("It weighs 1 lb.", "It weighs one pound."),
        ("It takes 45 min, or 1.5 hrs.", "It takes forty-five minutes, or one point five hours."),
        ("The room is 10 ft wide.", "The room is ten feet wide."),
        ("It is 72°F or 22 °C outside.", "It is seventy-two degrees Fahrenheit or twenty-two degrees Celsius outside."),
        ("It is -5°C outside.", "It is minus five degrees Celsius outside."),
        ("It is 0.5 km.", "It is zero point five kilometers."),
    ],
    "abbreviations": [
        ("We are at 123 Main St., Springfield.", "We are at one hundred twenty-three Main Street, Springfield."),
        ("Ask for Dr. Smith on Oak Dr.", "Ask for Doctor Smith on Oak Drive."),
        ("We are at 1234 Oak Dr, Austin.", "We are at twelve thirty-four Oak Drive, Austin."),
        ("St. Louis is approx. 20 min away.", "Saint Louis is approximately twenty minutes away."),
        ("Visit St. Louis.", "Visit Saint Louis."),
        ("Meet at St Mary's church.", "Meet at Saint Mary's church."),
        ("We're on Main St.", "We're on Main Street."),
        ("We are at 12 Oak St. Come by!", "We are at twelve Oak Street. Come by!"),
        ("Call Mrs. Smith on Mt. Hood Ave.", "Call Mrs. Smith on Mount Hood Avenue."),
        ("Ask for Ms. Lee or Ms Chen.", "Ask for Miz Lee or Miz Chen."),
        ("Suite: Ste. 200, Apt 4B.", "Suite: Suite two hundred, Apartment four B."),
        (
            "Bring ID, e.g. a passport, i.e. photo ID, etc.",
            "Bring ID, for example a passport, that is photo ID, et cetera.",
        ),
        ("Shampoo, etc. We also cut.", "Shampoo, et cetera. We also cut."),
        ("Cats vs. dogs.", "Cats versus dogs."),
        ("Room No. 5 or #5.", "Room number five or number five."),
        ("Order no. 12.", "Order number twelve."),
        ("a.m. or p.m. slots at nine a.m.", "AM or PM slots at nine AM."),
        ("Our Q&A session, w/ snacks.", "Our Q and A session, with snacks."),
        ("He and/or she, yes/no.", "He and or she, yes or no."),
    ],
    "addresses": [
        ("Book at maplesalon.com/book.", "Book at maple salon dot com slash book."),
        ("Visit https://www.maplesalon.com/book?ref=abc123.", "Visit maple salon dot com slash book."),
        ("Email info@maplesalon.com.", "Email info at maple salon dot com."),
        ("Write to jane.doe@acme-plumbing.com today.", "Write to jane dot doe at acme dash plumbing dot com today."),
        ("See vocalis.ai for more.", "See vocalis dot ai for more."),
    ],
    "markup": [
        ("**Price:** $30", "Price: thirty dollars"),
        ("## Hours", "Hours."),
        ("Click [here](https://maplesalon.com/book).", "Click maple salon dot com slash book."),
        ("[Book online](https://maplesalon.com/book) today.", "Book online today."),
        ("<b>Open</b> daily &amp; weekends.", "Open daily and weekends."),
        ("Use code `SAVE10` at R&D.", "Use code SAVE ten at R and D."),
        ("Hello \U0001f44b How can I help? \U0001f60a", "Hello How can I help?"),
        ("We're open \u2014 come by!", "We're open, come by!"),
        ("Hi - how are you?", "Hi, how are you?"),
        (
            f"## Opening hours\n\n- Mon{EN_DASH}Fri: 9{EN_DASH}5\n- Sat: 10{EN_DASH}2\n\n"
            "| Service | Price |\n|---|---|\n| Haircut | $30 |\n| Color | $45-$60 |\n\n"
            "1. Book online\n2. Arrive early\n\n> Note: **cash only**\n\n```\nprint(1)\n```\nThanks!",
            "Opening hours. Monday to Friday: nine to five. Saturday: ten to two. Service, Price. "
            "Haircut, thirty dollars. Color, forty-five to sixty dollars. Book online. Arrive early. Note: cash only. "
            "Thanks!",
        ),
    ],
}
PARAMS = [
    pytest.param(written, spoken, id=f"{rule}-{index}")
    for rule, cases in CASES.items()
    for index, (written, spoken) in enumerate(cases)
]

# Words already: nothing to change, including the words some rules look for.
ALREADY_WORDS = [
    "We open at nine.",
    "A haircut costs thirty dollars.",
    "I sat down in the Sun.",
    "We wed in June. Jan will call you. May I help?",
    "No. We don't.",
    "The no. of guests is small.",
    "Our Doctor is in.",
    "Hello! How can I help you today?",
    "We are open Monday to Friday, nine AM to five PM.",
    "  Spaces   stay as they are.  ",
]


@pytest.mark.parametrize(("written", "spoken"), PARAMS)
def test_each_rule_says_the_written_form_in_words(written: str, spoken: str) -> None:
    assert for_speech(written, "en") == spoken


@pytest.mark.parametrize(("written", "spoken"), PARAMS)
def test_the_spoken_form_is_left_as_it_is(written: str, spoken: str) -> None:
    assert for_speech(spoken, "en") == spoken


@pytest.mark.parametrize("text", ALREADY_WORDS)
def test_text_that_is_already_words_passes_through_unchanged(text: str) -> None:
    assert for_speech(text, "en") == text


@pytest.mark.parametrize(
    "written",
    [written for rule, cases in CASES.items() if rule != "markup" for written, _ in cases],
)
def test_text_the_responder_cleaned_says_the_same(written: str) -> None:
    # The offline responder's `_speakable` turns "9-5" into "9 to 5", "#5" into "number 5", URLs into "site.com/path".
    assert for_speech(_speakable(written), "en") == for_speech(written, "en")


def test_the_responders_answers_are_said_in_words() -> None:
    passages = [
        f"## Opening hours\n- Monday{EN_DASH}Friday: 9am{EN_DASH}6pm\n- Saturday: 10am{EN_DASH}4pm\n- Sunday: closed",
        "**Prices**\n| Service | Price |\n|---|---|\n| Haircut | $30 |\n| Colour | from $60 |\n\n"
        "Students get 10% off. See [our price list](https://www.maplesalon.com/prices?utm_source=kb).",
        "Call us on (555) 123-4567 or write to info@maplesalon.com.",
    ]
    for question in ("When are you open on Saturday?", "How much is a haircut?", "What is your phone number?"):
        sentences = answer(question, passages)
        assert sentences, question
        for sentence in sentences:
            spoken = for_speech(sentence, "en")
            assert not re.search(r"[0-9$%@#*|]", spoken), (sentence, spoken)
            assert for_speech(spoken, "en") == spoken


@pytest.mark.parametrize("language", ["en", "en-US", "en_GB", "EN"])
def test_english_rules_apply_to_every_english(language: str) -> None:
    assert for_speech("It costs $95.", language) == "It costs ninety-five dollars."


def test_other_languages_only_lose_their_markup() -> None:
    assert for_speech("**Prix :** 95 $ \U0001f60a", "fr-FR") == "Prix : 95 $"
    assert for_speech("Cuesta 95 $.", "es") == "Cuesta 95 $."
    assert for_speech("Es kostet 95 \u20ac.", "de") == "Es kostet 95 \u20ac."


# --- the loop: what Piper's audio says, as Whisper base writes it back

# (written, the digits Whisper must write back, in order, and patterns its words must match). "$95" must come back as
# "$95" or "95 dollars" (digits "95"), never "$1.95" (digits "195": what Piper said of the written form).
# "maple", then "salon" however Whisper spells it (salon, selon, solon), then ".com"; the address written as one word
# was heard as "maplezellin.com".
ADDRESS = r"maple ?s[a-z]*(?:\.| dot )com"
ROUND_TRIP = [
    ("A haircut costs $95.", "95", ()),
    ("There is a $30 fee.", "30", ("fee",)),
    ("Color is $4.99 extra.", "499", ()),
    ("The deposit is $1,200.", "1200", ()),
    ("Prices are $30-$50.", "3050", ()),
    ("We open at 9:30am.", "930", ()),
    (f"Mon{EN_DASH}Fri 8am{EN_DASH}6pm", "86", ("monday", "friday")),
    ("Call 555-0142.", "5550142", ()),
    ("Call (555) 123-4567.", "5551234567", ()),
    ("Call 1-800-FLOWERS.", "1800", ("flowers",)),
    ("The sale ends 12/24/2026.", "242026", ("december",)),
    ("It is 72°F outside.", "72", ("fahrenheit",)),
    ("It is 3.5 km away.", "35", ("kilometers",)),
    ("We opened in 2024.", "2024", ()),
    ("We are at 123 Main St.", "123", ("main street",)),
    ("Book at maplesalon.com/book.", "", (ADDRESS,)),
    ("Email info@maplesalon.com.", "", (ADDRESS,)),
]
# Piper samples its voice (generator noise), so the same text sounds a little different each time and Whisper can
# slip on one reading: a sentence read wrong is read again, up to five times, and must come back right in most.
READINGS = 5


async def _heard(settings: Settings, audio: bytes) -> str:
    """What Whisper base writes for 16 kHz PCM."""
    model = await asyncio.to_thread(load_whisper, settings, "base")
    samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
    return await asyncio.to_thread(_transcribe, model, samples, "en")


def _digits(transcript: str) -> str:
    return "".join(re.findall(r"\d", transcript))


def _comes_back(transcript: str, digits: str, words: tuple[str, ...]) -> bool:
    lowered = transcript.lower()
    return _digits(transcript) == digits and all(re.search(word, lowered) for word in words)


@pytest.mark.parametrize(("written", "digits", "words"), [pytest.param(*case, id=case[0]) for case in ROUND_TRIP])
async def test_piper_says_what_was_written(
    speech_settings: Settings, piper_server: PiperServer, written: str, digits: str, words: tuple[str, ...]
) -> None:
    spoken = for_speech(written, "en")
    heard = [await _heard(speech_settings, await caller_audio(spoken))]
    while not _comes_back(heard[0], digits, words) and len(heard) < READINGS:
        pcm, rate = await piper_server.synthesize(spoken)
        heard.append(await _heard(speech_settings, resample_pcm16(pcm, rate, SAMPLE_RATE)))
    right = [transcript for transcript in heard if _comes_back(transcript, digits, words)]
    assert len(right) * 2 > len(heard), (spoken, heard)


async def test_piper_tts_speaks_the_spoken_form_and_reports_the_written_one(
    speech_settings: Settings, piper_server: PiperServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    synthesised: list[str] = []
    synthesize = piper_server.synthesize

    async def recording(text: str, speed: float = 1.0) -> tuple[bytes, int]:
        synthesised.append(text)
        return await synthesize(text, speed)

    monkeypatch.setattr(piper_server, "synthesize", recording)
    written = "A haircut costs $95."
    tts = PiperTTS(piper_server, language="en-US")
    down, _ = await run_test(
        tts,
        frames_to_send=[TTSSpeakFrame(written)],
        pipeline_params=PipelineParams(audio_out_sample_rate=SAMPLE_RATE),
    )

    spoken = "A haircut costs ninety-five dollars."
    assert [text.strip() for text in synthesised] == [spoken]
    assert tts.usage.tts_characters == len(synthesised[0])
    chunks = [frame for frame in down if isinstance(frame, TTSAudioRawFrame)]
    assert chunks
    # The recorder's metadata (how much of which sentence the caller heard) and the transcript keep the written form.
    assert {chunk.metadata["sentence"].strip() for chunk in chunks} == {written}
    assert "".join(frame.text for frame in down if isinstance(frame, TTSTextFrame)).strip() == written
    heard = await _heard(speech_settings, b"".join(chunk.audio for chunk in chunks))
    assert _digits(heard) == "95", heard
