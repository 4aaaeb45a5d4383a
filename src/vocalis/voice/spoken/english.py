"""English written text as the voice should say it: prices, times, dates, phone numbers, units, addresses and
abbreviations in words.

Piper's front end (espeak-ng) reads "$95" as "dollar ninety-five" and "a $30 fee" as "a dollar thirty fee", and
spells most abbreviations; callers ask for prices, hours and phone numbers more than anything. Every rule writes
words, never digits, so its own output gives the rules nothing to do. The spellings were chosen by listening through
the loop (Piper speaks, Whisper base writes back what it heard): "nine thirty AM", "four dollars ninety-nine",
"five five five, zero one four two", "maple salon dot com" (tests/voice/spoken has the round trip).

It runs on the event loop for every sentence spoken, so each rule runs only when its trigger is in the sentence
(most have no digit and no abbreviation), and the regular expressions are compiled once here.
"""

import functools
import re

from num2words import num2words  # type: ignore[import-untyped]

from vocalis.voice.spoken.wordsplit import split_words

# Larger numbers are codes, not quantities anyone says ("one quadrillion"): read digit by digit.
LARGEST_SAID = 10**15
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_MONTH_NUMBERS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)} | {
    "Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Sept": 9, "Oct": 10, "Nov": 11,
    "Dec": 12,
}  # fmt: skip
_MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sept", "Sep", "Oct", "Nov", "Dec")
_MONTH = f"(?:{'|'.join(_MONTH_NAMES + _MONTH_ABBREVIATIONS)})"
_DAY_NAMES = {
    "Mon": "Monday", "Tue": "Tuesday", "Tues": "Tuesday", "Wed": "Wednesday", "Thu": "Thursday", "Thur": "Thursday",
    "Thurs": "Thursday", "Fri": "Friday", "Sat": "Saturday", "Sun": "Sunday",
}  # fmt: skip
_DAY_ABBREVIATION = r"(?:Mon|Tues|Tue|Wed|Thurs|Thur|Thu|Fri|Sat|Sun)"
_DAY = rf"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|{_DAY_ABBREVIATION}\b(?:\.(?!\w))?)"
_CALENDAR_WORD = re.compile(rf"(?:{_DAY}|{_MONTH})\b")

# --- numbers in words


@functools.lru_cache(maxsize=4096)  # prices and hours repeat; num2words takes ~30 us a number
def _cardinal(number: int) -> str:
    if number >= LARGEST_SAID:
        return _digits(str(number))
    # num2words writes "one thousand, two hundred and five": the comma would be a pause, and "and" is British.
    return str(num2words(number, lang="en")).replace(",", "").replace(" and ", " ")


@functools.lru_cache(maxsize=1024)
def _ordinal(number: int) -> str:
    if number >= LARGEST_SAID:
        return _digits(str(number))
    return str(num2words(number, lang="en", to="ordinal")).replace(",", "").replace(" and ", " ")


@functools.lru_cache(maxsize=512)
def _year(number: int) -> str:
    """Years as said: "twenty twenty-four", "nineteen ninety-eight", "two thousand five"."""
    return str(num2words(number, lang="en", to="year")).replace(" and ", " ").replace("oh-", "oh ")


def _digits(text: str) -> str:
    """Each digit on its own: phone numbers, codes ("zero", which reads back right, where "oh" was lost)."""
    return " ".join(_DIGIT_WORDS[int(character)] for character in text if character.isdigit())


def _decimal(text: str) -> str:
    """A written quantity ("1,200", "3.5", ".75") in words; digits after the point one by one."""
    whole, _, fraction = text.replace(",", "").partition(".")
    words = _cardinal(int(whole)) if whole else "zero"
    return f"{words} point {_digits(fraction)}" if fraction else words


def _integer(text: str) -> str:
    """A bare integer as said: 1998 as a year, long codes (zip, order numbers) and leading zeros digit by digit."""
    if "," in text:
        return _cardinal(int(text.replace(",", "")))
    if len(text) > 1 and text[0] == "0":
        return _digits(text)
    number = int(text)
    if len(text) == 4 and 1100 <= number <= 2099:
        return _year(number)  # years, and addresses ("1234 Main Street" is "twelve thirty-four")
    if len(text) >= 5 and not text.endswith("000"):
        return _digits(text)
    return _cardinal(number)


def _plural(count_words: str, singular: str, plural: str) -> str:
    return f"{count_words} {singular if count_words == 'one' else plural}"


def _full_stop(match: re.Match[str]) -> str:
    """A full stop when the abbreviation's own period also ended the sentence ("... etc." at the end, or before a
    capital that is not a day or a month: "9 a.m. We..." but not "9 a.m. Mon. to Fri.")."""
    if not match[0].endswith("."):
        return ""
    rest = match.string[match.end() :]
    stripped = rest.lstrip()
    if not stripped:
        return "."
    return "." if stripped[0].isupper() and rest[:1].isspace() and not _CALENDAR_WORD.match(stripped) else ""


# --- e-mail addresses and web addresses

_TLDS = (
    "com|org|net|edu|gov|io|co|us|uk|ca|au|nz|ie|de|fr|es|it|nl|eu|info|biz|app|dev|ai|me|tv|shop|store|online|site|"
    "health|clinic|dental|salon|studio|agency|services|law|care|pet|vet|club|fit|yoga|spa|cafe|restaurant|menu|page"
)
_EMAIL = re.compile(r"(?<![\w.+-])(?P<user>[\w.+-]+)@(?P<host>[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+)(?<![.-])")
_WEB_ADDRESS = re.compile(
    r"(?<![\w@/.-])(?:https?://)?(?:www\.)?"
    rf"(?P<host>(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.)+(?:{_TLDS}))\b"
    r"(?P<path>/[^\s<>()\"']*)?",
    re.IGNORECASE,
)
_ANY_URL = re.compile(
    r"(?<![\w@/.-])(?:https?://(?:www\.)?|www\.)(?P<host>[a-zA-Z0-9.-]+\.[a-zA-Z]{2,})(?P<path>/[^\s<>()\"']*)?"
)
_ADDRESS_SYMBOLS = {".": "dot", "-": "dash", "_": "underscore", "+": "plus", "/": "slash"}
_ADDRESS_PARTS = re.compile(r"[./_+-]|[^./_+-]+")
# A path part is said when it is a word or two ("book", "gift-cards"); ids and query strings are left out.
_SPEAKABLE_PATH_PART = re.compile(r"[a-zA-Z]{2,20}(?:-[a-zA-Z]{2,20}){0,2}")


@functools.lru_cache(maxsize=256)
def _say_label(label: str) -> str:
    """One part of an address, its joined words split ("maplesalon" -> "maple salon", which reads back right)."""
    return " ".join(split_words(label))


def _say_address(address: str) -> str:
    """An address part by part: "info.desk" -> "info dot desk", "maple-salon.com" -> "maple dash salon dot com"."""
    words = []
    for part in _ADDRESS_PARTS.findall(address.lower()):
        words.append(_ADDRESS_SYMBOLS.get(part) or _say_label(part))
    return " ".join(words)


def _say_email(match: re.Match[str]) -> str:
    return f"{_say_address(match['user'])} at {_say_address(match['host'])}"


def _say_web_address(match: re.Match[str]) -> str:
    spoken = _say_address(match["host"])
    path = match["path"] or ""
    trailing = ""
    while path and path[-1] in ".,;:!?":
        trailing, path = path[-1] + trailing, path[:-1]
    for part in path.split("?")[0].split("#")[0].strip("/").split("/")[:2]:
        if not _SPEAKABLE_PATH_PART.fullmatch(part):
            break
        spoken += f" slash {_say_address(part)}"
    return spoken + trailing


# --- phone numbers: digit by digit, a pause (comma) between groups

_EXTENSION = r"(?P<extension_part>,?\s?(?:ext\.?|x|extension)\s?(?P<extension>\d{1,5}))?"
_PHONE = re.compile(
    r"(?<![\w+$£€/.,:-])(?:"
    # international: +44 20 7946 0958, +1 555 123 4567, +15551234567
    r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}"
    # toll-free words: 1-800-FLOWERS, 800-GOT-JUNK, 1-888-GO-FEDEX
    r"|(?:1[ .-])?8(?:00|33|44|55|66|77|88)[ .-](?:\d{3}[ .-])?[A-Z]{2,}(?:-[A-Z]{2,})*"
    # North American: (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567, 1-555-123-4567
    r"|(?:1[ .-]?)?(?:\(\d{3}\)[ ]?|\d{3}[ .-])\d{3}[ .-]\d{4}"
    # local: 555-0142
    r"|[2-9]\d{2}-\d{4}"
    rf"){_EXTENSION}(?![\w-]|[.,]\d|\s?%)"
)
_PHONE_GROUP = re.compile(r"\+|\d+|[A-Za-z]+")


def _phone_groups(digits: str, international: bool) -> list[str]:
    """Groups for a number written without separators: 1 555 123 4567, else threes ending in a four."""
    if len(digits) == 11 and digits[0] == "1":
        return [digits[0], digits[1:4], digits[4:7], digits[7:]]
    if len(digits) == 10 and not international:
        return [digits[:3], digits[3:6], digits[6:]]
    head, tail = digits[:-4], digits[-4:]
    return [head[i : i + 3] for i in range(0, len(head), 3)] + [tail]


def _say_phone(match: re.Match[str]) -> str:
    number = match[0][: match.start("extension_part") - match.start()] if match["extension"] else match[0]
    groups = _PHONE_GROUP.findall(number)
    international = groups[0] == "+"
    digit_groups = [group for group in groups if group.isdigit()]
    if sum(len(group) for group in digit_groups) < 7 and not any(group.isalpha() for group in groups):
        return match[0]
    if international and len(digit_groups) <= 2 and len(digit_groups[-1]) > 6:
        # "+15551234567": the country code runs into the number.
        groups = ["+", *_phone_groups("".join(digit_groups), international=True)]
    spoken = []
    for group in groups:
        if group == "+":
            continue
        # Letters are a word ("FLOWERS"): said as one, not spelled.
        spoken.append(_digits(group) if group.isdigit() else group.capitalize())
    said = ", ".join(spoken)
    if international:
        said = "plus " + said
    if match["extension"]:
        said += f", extension {_digits(match['extension'])}"
    return said


# --- dates

_ISO_DATE = re.compile(r"(?<![\w/.-])(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?![\w-]|[.,]\d)")
_NUMERIC_DATE = re.compile(
    r"(?<![\w/.-])(?P<first>\d{1,2})(?P<separator>[/-])(?P<second>\d{1,2})(?P=separator)(?P<year>\d{4}|\d{2})"
    r"(?![\w/-]|[.,]\d)"
)
_SLASHED = re.compile(r"(?<![\w/.-])(?P<first>\d{1,2})/(?P<second>\d{1,2})(?![\w/]|[.,]\d)")
_FRACTIONS = {
    (1, 2): "half", (1, 3): "one third", (2, 3): "two thirds", (1, 4): "one quarter", (3, 4): "three quarters",
}  # fmt: skip
_MONTH_DAY = re.compile(
    rf"\b(?P<month>{_MONTH})\.?\s(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?!:|\.\d|\s?[ap]\.?m\b)"
    # "Dec 24-26", "Dec 24 to 26" (not "Dec 24 to 5pm")
    r"(?:(?:\s?[-\u2013]\s?|\s(?:to|through|thru)\s)(?P<last>\d{1,2})(?:st|nd|rd|th)?\b(?!:|\.\d|\s?[ap]\.?m\b))?"
    r"(?:,?\s(?P<year>\d{4})\b)?"
)
_DAY_MONTH = re.compile(
    rf"(?<![\w.,])(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s(?:of\s)?(?P<month>{_MONTH})\b\.?(?:,?\s(?P<year>\d{{4}})\b)?"
)
_MONTH_YEAR = re.compile(rf"\b(?P<month>{_MONTH})\.?,?\s(?P<year>\d{{4}})\b")


def _date(month: int, day: int, year: str | None, day_first: bool = False) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    name = _MONTH_NAMES[month - 1]
    said = f"the {_ordinal(day)} of {name}" if day_first else f"{name} {_ordinal(day)}"
    if year:
        said += f", {_year(int(year) + (2000 if len(year) == 2 else 0))}"
    return said


def _say_iso_date(match: re.Match[str]) -> str:
    return _date(int(match["month"]), int(match["day"]), match["year"]) or match[0]


def _say_numeric_date(match: re.Match[str]) -> str:
    first, second = int(match["first"]), int(match["second"])
    if first > 12:  # 24/12/2026 can only be day first
        return _date(second, first, match["year"]) or match[0]
    return _date(first, second, match["year"]) or match[0]


def _say_slashed(match: re.Match[str]) -> str:
    first, second = int(match["first"]), int(match["second"])
    if (first, second) == (24, 7):
        return "twenty-four seven"
    if fraction := _FRACTIONS.get((first, second)):
        return fraction
    return _date(first, second, None) or f"{_cardinal(first)} slash {_cardinal(second)}"


def _say_month_day(match: re.Match[str]) -> str:
    month, day, last = _MONTH_NUMBERS[match["month"]], int(match["day"]), match["last"]
    if last is not None:
        said = _date(month, day, None)
        if said is None or not 1 <= int(last) <= 31:
            return match[0]
        return f"{said} to {_ordinal(int(last))}" + (f", {_year(int(match['year']))}" if match["year"] else "")
    return _date(month, day, match["year"]) or match[0]


def _say_day_month(match: re.Match[str]) -> str:
    said = _date(_MONTH_NUMBERS[match["month"]], int(match["day"]), match["year"], day_first=True)
    return said + _full_stop(match) if said else match[0]


def _say_month_year(match: re.Match[str]) -> str:
    # The comma keeps the year apart: "December twenty twenty-six" was heard as "December 20, 2026".
    return f"{_MONTH_NAMES[_MONTH_NUMBERS[match['month']] - 1]}, {_year(int(match['year']))}"


# --- ranges, times, money, percentages, units, ordinals

_CURRENCIES = {  # symbol: (one, many, one hundredth, hundredths)
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "sen", "sen"),
}
_AMOUNT = r"\d{1,3}(?:,\d{3})+|\d+"
_SCALE = r"(?:(?P<letter>[kKmMbB]|bn)\b|\s(?P<word>thousand|million|billion|trillion)\b)"
_SCALE_WORDS = {"k": "thousand", "m": "million", "b": "billion", "bn": "billion"}
_DETERMINER_BEFORE = re.compile(r"\b(?:[Aa]n?|[Tt]he|[Tt]his|[Tt]hat|[Oo]ur|[Yy]our|[Tt]heir)\s$")
_NOUN_AFTER = re.compile(
    r"\s(?!(?:a|an|the|and|or|but|for|per|to|in|at|on|of|off|by|each|extra|more|less|than|plus|with|without|if|is"
    r"|was|will|would|can|only|total|back|instead|up|down|now|then|so|too|including|includes)\b)[a-z]"
)
_MONEY = re.compile(rf"(?P<symbol>[$£€¥])\s?(?P<whole>{_AMOUNT})(?:\.(?P<fraction>\d+))?{_SCALE}?")
_MONEY_RANGE = re.compile(
    rf"(?P<symbol>[$£€¥])\s?(?P<low>{_AMOUNT})\s?(?:[-\u2013]|to)\s?(?P=symbol)?\s?(?P<high>{_AMOUNT})"
    r"(?![.,]?\d|[kKmMbB]\b|\s(?:thousand|million|billion|trillion)\b)"
)
# A dash between two numbers (or times, or prices) is a range: "9-5", "8am-6pm", "$30-$50", "10-15 minutes".
_RANGE = re.compile(
    r"(?P<low>(?<![\w.,:/-])(?:[$£€¥]?\d[\d,]*(?:[.:]\d+)?(?:\s?[aApP]\.?[mM]\b\.?)?%?|noon|midnight))"
    r"\s?[-\u2013]\s?(?=[$£€¥]?\d)"
)
_TIME = re.compile(
    r"(?<![\w:.,])(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?\s?(?P<meridiem>[aApP])\.?\s?[mM]\b\.?", re.ASCII
)
_CLOCK = re.compile(r"(?<![\w:.,])(?P<hour>\d{1,2}):(?P<minute>\d{2})(?![\d:]|[.,]\d)")
_PERCENT = re.compile(r"(?<![\w.,])(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.?\d+)\s?%")
_UNITS = {  # written: (one, many)
    "km": ("kilometer", "kilometers"), "kms": ("kilometer", "kilometers"), "m": ("meter", "meters"),
    "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"), "mi": ("mile", "miles"),
    "ft": ("foot", "feet"), "yd": ("yard", "yards"), "yds": ("yard", "yards"), "kg": ("kilogram", "kilograms"),
    "kgs": ("kilogram", "kilograms"), "g": ("gram", "grams"), "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"), "mL": ("milliliter", "milliliters"), "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "hr": ("hour", "hours"), "hrs": ("hour", "hours"), "h": ("hour", "hours"), "sec": ("second", "seconds"),
    "secs": ("second", "seconds"), "mph": ("mile per hour", "miles per hour"),
    "km/h": ("kilometer per hour", "kilometers per hour"), "kph": ("kilometer per hour", "kilometers per hour"),
    "sq ft": ("square foot", "square feet"), "sqft": ("square foot", "square feet"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"), "°C": ("degree Celsius", "degrees Celsius"),
    "°": ("degree", "degrees"),
}  # fmt: skip
_UNIT = re.compile(
    r"(?<![\w.,])(?P<minus>[-\u2212](?=\d+(?:\.\d+)?\s?°))?(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.?\d+)"
    r"(?:\s?(?P<unit>km/h|sq\.? ?ft|°\s?[FC]\b|°"
    r"|(?:kms?|cm|mm|mi|ft|yds?|kgs?|mg|lbs?|oz|mL|ml|mins?|hrs?|secs?|mph|kph|sqft)\b\.?)"
    r"|(?P<tight>m|g|h)\b)"  # "100m", "5g", "24h": only written against the number
)
_ORDINAL = re.compile(r"(?<![\w.,])(?P<number>\d+)(?:st|nd|rd|th|ST|ND|RD|TH)\b")
_CAPITAL_AFTER = re.compile(r" [A-Z]")
_NUMBER_SIGN = re.compile(r"(?:#|\bN[oO]\.|\bno\.)\s?(?=\d)|#(?=[A-Z]{1,3}\d)")
_NUMBER = re.compile(
    r"(?<![\d.])(?P<letter_before>(?<=[A-Za-z]))?(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<fraction>\d+))?"
    r"(?P<letter>(?=[A-Za-z]))?"
)
_SAID_AS_DIGITS = {"911"}  # the emergency number is "nine one one"
_DECADE = re.compile(r"(?<![\w.,])(?P<number>(?:1[1-9]|20)?[0-9]0)'?s\b")  # "the 90s", "1990s", "the 2020's"
_TIMES = re.compile(r"(?<![\w.,])(?P<number>\d{1,3})x\b")  # "2x a week"
_RATING = re.compile(r"(?<![\w/.])(?P<score>\d{1,2}(?:\.\d{1,2})?)\s?/\s?(?P<scale>5|10|100)(?![\d/])")
_RATING_AFTER = re.compile(r"\s?(?:stars?|rating)\b")
_HALF = {"\u00bd": "a half", "\u00bc": "a quarter", "\u00be": "three quarters"}
_VULGAR_FRACTION = re.compile(r"(?:(?P<whole>\d+)\s?)?(?P<fraction>[\u00bd\u00bc\u00be])")


def _say_money_amount(symbol: str, whole: str, fraction: str | None, scale: str | None) -> str:
    one, many, hundredth, hundredths = _CURRENCIES[symbol]
    number = int(whole.replace(",", ""))
    if scale:
        return f"{_decimal(whole + ('.' + fraction if fraction else ''))} {scale} {many}"
    if fraction and len(fraction) > 2:
        return f"{_decimal(whole + '.' + fraction)} {many}"
    cents = int(fraction.ljust(2, "0")) if fraction else 0
    if number == 0 and cents:
        return _plural(_cardinal(cents), hundredth, hundredths)
    said = _plural(_cardinal(number), one, many)
    # "four dollars ninety-nine" reads back as $4.99, like the longer "... and ninety-nine cents".
    return f"{said} {_cardinal(cents)}" if cents else said


def _before_noun(match: re.Match[str]) -> bool:
    """Whether an amount qualifies the noun after it ("a $30 fee": "a thirty dollar fee")."""
    before = match.string[max(0, match.start() - 8) : match.start()]
    return bool(_DETERMINER_BEFORE.search(before) and _NOUN_AFTER.match(match.string, match.end()))


def _say_money(match: re.Match[str]) -> str:
    scale = match["word"] or (_SCALE_WORDS[match["letter"].lower()] if match["letter"] else None)
    said = _say_money_amount(match["symbol"], match["whole"], match["fraction"], scale)
    if (match["fraction"] is None or scale) and _before_noun(match):  # not "a four dollar ninety-nine fee"
        one, many = _CURRENCIES[match["symbol"]][:2]
        said = said.removesuffix(many) + one if said.endswith(many) else said
    return said


def _say_money_range(match: re.Match[str]) -> str:
    # "$30-$50" is "thirty to fifty dollars"; Whisper writes back "30 to $50".
    one, many = _CURRENCIES[match["symbol"]][:2]
    unit = one if _before_noun(match) else many
    return f"{_integer_quantity(match['low'])} to {_integer_quantity(match['high'])} {unit}"


def _integer_quantity(text: str) -> str:
    return _cardinal(int(text.replace(",", "")))


def _say_range(match: re.Match[str]) -> str:
    return f"{match['low']} to "


def _hour_words(hour: int, minute: int, oclock: bool) -> str:
    said = _cardinal(hour)
    if minute:
        said += f" oh {_cardinal(minute)}" if minute < 10 else f" {_cardinal(minute)}"
    elif oclock:
        said += " o'clock"
    return said


def _say_time(match: re.Match[str]) -> str:
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if not (1 <= hour <= 12 and minute < 60):
        return match[0]
    # "nine thirty AM" reads back as "9.30 a.m."; "a m" was heard as "Adam", "in the morning" is longer.
    meridiem = "AM" if match["meridiem"] in "aA" else "PM"
    return f"{_hour_words(hour, minute, oclock=False)} {meridiem}{_full_stop(match)}"


def _say_clock(match: re.Match[str]) -> str:
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        return match[0]
    if hour > 12 or hour == 0:  # a 24-hour clock, said the American way
        return f"{_hour_words(hour - 12 if hour > 12 else 12, minute, oclock=False)} {'PM' if hour else 'AM'}"
    return _hour_words(hour, minute, oclock=True)


def _say_percent(match: re.Match[str]) -> str:
    return f"{_decimal(match['number'])} percent"


def _say_unit(match: re.Match[str]) -> str:
    unit = match["unit"] or match["tight"]
    key = "sq ft" if unit.startswith("sq") else unit.replace(" ", "").removesuffix(".")
    one, many = _UNITS[key]
    number = match["number"]
    count = _decimal(number) if "." in number or "," in number else _integer_quantity(number)
    said = f"{'minus ' if match['minus'] else ''}{count} {one if number == '1' else many}"
    return said + (_full_stop(match) if unit.endswith(".") else "")


def _say_ordinal(match: re.Match[str]) -> str:
    said = _ordinal(int(match["number"]))
    # Part of a name ("5th Ave."): "Fifth Avenue" read back right where "fifth Avenue" was heard as "Tiff's".
    return said.capitalize() if _CAPITAL_AFTER.match(match.string, match.end()) else said


def _say_number(match: re.Match[str]) -> str:
    whole, fraction = match["whole"], match["fraction"]
    if fraction:
        said = _decimal(f"{whole}.{fraction}")
    else:
        said = _digits(whole) if whole in _SAID_AS_DIGITS else _integer(whole)
    # Apart from the letters it is written against: "4B" -> "four B", "A1" -> "A one".
    before = " " if match["letter_before"] is not None else ""
    return before + said + (" " if match["letter"] is not None else "")


def _say_rating(match: re.Match[str]) -> str:
    # "4.8/5" or "4/5 stars" is "four point eight out of five"; "4/5" alone is left to the dates (April fifth).
    if "." not in match["score"] and not _RATING_AFTER.match(match.string, match.end()):
        return match[0]
    return f"{_decimal(match['score'])} out of {_cardinal(int(match['scale']))}"


def _say_decade(match: re.Match[str]) -> str:
    number = match["number"]
    said = _year(int(number)) if len(number) == 4 else _cardinal(int(number))
    return said[:-1] + "ies" if said.endswith("y") else said + "s"  # "nineteen nineties", "the eighties"


def _say_vulgar_fraction(match: re.Match[str]) -> str:
    part = _HALF[match["fraction"]]
    # "1½ hours" is "one and a half hours"; "½ price" is "half price".
    return f"{_integer(match['whole'])} and {part}" if match["whole"] else part.removeprefix("a ")


# --- days, months and abbreviations

_DAY_RANGE = re.compile(
    rf"\b(?P<low>{_DAY})\s?(?P<separator>[-\u2013/&,]|\s(?:to|through|thru|and|or)\s)\s?(?P<high>{_DAY})"
)
_DAY_WORD = re.compile(rf"\b(?P<word>{_DAY_ABBREVIATION})\b(?:\.(?!\w))?(?!')")
# Sat and Sun are words too: days only beside a time or a date, or in a sentence that names another day.
_WEEKDAY = re.compile(r"\b(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|Mon|Tues?|Wed|Thu(?:rs?)?|Fri)\b")
_WEEKEND_CONTEXT = re.compile(rf":|\s?\d|,?\s{_MONTH}\b")
_MONTH_RANGE = re.compile(
    rf"\b(?P<low>{_MONTH})\b\.?\s?(?P<separator>[-\u2013/]|\s(?:to|through|thru)\s)\s?(?P<high>{_MONTH})\b\.?"
)
_MONTH_ABBREVIATION = re.compile(rf"\b(?P<month>{'|'.join(_MONTH_ABBREVIATIONS)})\.(?!\w)")
_RANGE_WORDS = {"-": " to ", "\u2013": " to ", "/": ", ", ",": ", ", "&": " and ", "thru": " through "}

# A street or title abbreviation: which word is meant depends on its neighbours ("12 Main St." / "St. Louis").
_PLACE = re.compile(r"\b(?P<word>St|Dr|Ave|Blvd|Rd|Ln|Hwy|Pkwy|Ste|Apt|Mt|Ft)\b(?P<period>\.)?(?!\w|')")
_PLACE_WORDS = {
    "Ave": "Avenue", "Blvd": "Boulevard", "Rd": "Road", "Ln": "Lane", "Hwy": "Highway", "Pkwy": "Parkway",
    "Ste": "Suite", "Apt": "Apartment", "Mt": "Mount", "Ft": "Fort",
}  # fmt: skip
_TITLE_OR_PLACE = {"St": ("Saint", "Street"), "Dr": ("Doctor", "Drive")}
_STREET_BEFORE = re.compile(r"\d\w*\s(?:[A-Z][\w'-]*\s){1,3}$")  # "123 Main ", "12 Oak Tree "
_NAME_AFTER = re.compile(r"\s[A-Z][a-z]")
_ABBREVIATIONS = {
    "e.g.": "for example", "i.e.": "that is", "etc.": "et cetera", "vs.": "versus", "vs": "versus",
    "approx.": "approximately", "approx": "approximately", "Approx.": "Approximately", "Approx": "Approximately",
    "Ms.": "Miz", "Ms": "Miz", "Jr.": "Junior",
    "Sr.": "Senior", "w/": "with", "w/o": "without", "ext.": "extension", "appt.": "appointment",
    "appt": "appointment", "hrs.": "hours", "hrs": "hours", "mins.": "minutes", "mins": "minutes",
    "N/A": "not applicable", "Tel:": "Phone:", "Tel.": "Phone", "a.m.": "AM", "p.m.": "PM", "A.M.": "AM",
    "P.M.": "PM",
}  # fmt: skip
# Before a name, so their period never ends the sentence. ("Mr." and "Mrs." Piper says right as written; "Missus"
# was heard as "Calmness is".)
_TITLES = {"Ms.", "Ms"}
_ABBREVIATION = re.compile(
    r"(?<![\w.])(?:e\.g\.|i\.e\.|etc\.|vs\.?|[Aa]pprox\.?|Ms\.?(?=\s[A-Z])|[JS]r\.|w/o|w/|ext\.|appt\.?|hrs\.?"
    r"|mins\.?|N/A|Tel[:.]|[aApP]\.[mM]\.)(?![\w/])"
)
# What each group of rules needs in a sentence before it runs (one search instead of a dozen substring tests).
_ABBREVIATION_TRIGGER = re.compile(r"e\.g|i\.e|etc|vs|pprox|Ms|[JS]r\.|w/|ext\.|appt|hrs|mins|N/A|\.[mM]\.|Tel")
_PLACE_TRIGGER = re.compile(r"St|Dr|Ave|Blvd|Rd|Ln|Hwy|Pkwy|Ste|Apt|Mt|Ft")
_DAY_TRIGGER = re.compile(r"Mon|Tue|Wed|Thu|Fri|Sat|Sun")
_MONTH_TRIGGER = re.compile("|".join(_MONTH_ABBREVIATIONS))
_MONEY_TRIGGER = re.compile(r"[$£€¥]")

# --- symbols and the final tidy

_PER = re.compile(
    r"\s?/\s?(?P<unit>hour|hr|h|day|night|week|wk|month|mo|year|yr|person|pp|head|session|visit|class|lesson|item"
    r"|kg|lb|mile|mi|km)\b"
)
_PER_WORDS = {"hr": "hour", "h": "hour", "wk": "week", "mo": "month", "yr": "year", "pp": "person", "mi": "mile",
              "kg": "kilogram", "lb": "pound", "km": "kilometer"}  # fmt: skip
_WORD_SLASH = re.compile(r"(?<=[A-Za-z])/(?=[A-Za-z])")
_ARROW = re.compile(r"\s*(?:->|\u2192|\u27f6|=>)\s*")
_EN_DASH = re.compile(r"(?<=\w)\s?\u2013\s?(?=\w)")
_DASH_PAUSE = re.compile(r"(?:\s+[\u2013\u2014-]+)+\s+|\s*\u2014\s*")
_SPACES = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")
_DOT_LETTERS = re.compile(r"\.[a-zA-Z]{2}")  # what a web address needs, and most sentences lack
# Not before a dot that starts a word: " .com" joined to the word before would read as a web address next time.
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+(?=[,;:!?]|\.(?!\w))")
_REPEATED_COMMAS = re.compile(r",(?:\s*,)+")


def _say_days(text: str) -> str:
    text = _DAY_RANGE.sub(_say_day_range, text)
    days_named = bool(_WEEKDAY.search(text)) or any(
        _WEEKEND_CONTEXT.match(text, match.end("word")) for match in _DAY_WORD.finditer(text)
    )

    def say_day(match: re.Match[str]) -> str:
        if match["word"] in ("Sat", "Sun") and (not days_named or text.endswith("the ", 0, match.start())):
            return match[0]  # "the Sun"
        return _DAY_NAMES[match["word"]] + _full_stop(match)

    return _DAY_WORD.sub(say_day, text)


def _full_day(text: str) -> str:
    word = text.rstrip(".")
    return _DAY_NAMES.get(word, word)


def _say_day_range(match: re.Match[str]) -> str:
    separator = match["separator"].strip()
    joined = _RANGE_WORDS.get(separator, f" {separator} ")
    return f"{_full_day(match['low'])}{joined}{_full_day(match['high'])}{_full_stop(match)}"


def _full_month(text: str) -> str:
    return _MONTH_NAMES[_MONTH_NUMBERS[text.rstrip(".")] - 1]


def _say_month_range(match: re.Match[str]) -> str:
    separator = match["separator"].strip()
    joined = " to " if separator in ("-", "\u2013", "/") else _RANGE_WORDS.get(separator, f" {separator} ")
    return f"{_full_month(match['low'])}{joined}{_full_month(match['high'])}{_full_stop(match)}"


def _say_place(match: re.Match[str]) -> str:
    word = match["word"]
    if word in ("Mt", "Ft"):
        return _PLACE_WORDS[word]  # always before a name: "Mt. Hood"
    if word not in _TITLE_OR_PLACE:
        return _PLACE_WORDS[word] + _full_stop(match)
    title, place = _TITLE_OR_PLACE[word]
    rest = match.string[match.end() :]
    before = match.string[max(0, match.start() - 60) : match.start()]
    # "Dr. Smith", "St. Louis": a name follows. "12 Oak Dr.", "Main St, Springfield": a street name comes before.
    name_follows = bool(_NAME_AFTER.match(rest))
    if name_follows and not _STREET_BEFORE.search(before):
        return title
    if not name_follows and not before.strip() and word == "Dr":
        return title  # "Dr. said..." at the start: a title without its name
    return place + _full_stop(match)


def _say_abbreviation(match: re.Match[str]) -> str:
    written = match[0]
    said = _ABBREVIATIONS.get(written) or ("AM" if written[0] in "aA" else "PM")  # "A.m.", "p.M."
    return said if written in _TITLES else said + _full_stop(match)


def _say_per(match: re.Match[str]) -> str:
    unit = match["unit"]
    return f" per {_PER_WORDS.get(unit, unit)}"


def _tidy(text: str) -> str:
    text = _SPACES.sub(" ", text)
    text = _SPACE_BEFORE_PUNCTUATION.sub("", text)
    if ",," in text or ", ," in text:
        text = _REPEATED_COMMAS.sub(",", text)
    return text.strip()


def for_speech(text: str) -> str:
    """English text with its numbers, symbols and abbreviations said in words; plain words come back unchanged."""
    original = text
    if "@" in text:
        text = _EMAIL.sub(_say_email, text)
    if "://" in text or "www." in text:
        text = _ANY_URL.sub(_say_web_address, text)
    if _DOT_LETTERS.search(text):
        text = _WEB_ADDRESS.sub(_say_web_address, text)
    # Before the numbers: "Sat" is a day when a time follows ("Sat 10-4"), "St." a street after a house number.
    text = _names_for_speech(text)
    if _DIGIT.search(text):
        text = _digits_for_speech(text)
        text = _names_for_speech(text)  # those written against a number ("Ave67") stand alone now
    text = _words_for_speech(text)
    if text == original:
        return text
    return _tidy(text)


def _names_for_speech(text: str) -> str:
    if _DAY_TRIGGER.search(text):
        text = _say_days(text)
    if _PLACE_TRIGGER.search(text):
        text = _PLACE.sub(_say_place, text)
    return text


def _digits_for_speech(text: str) -> str:
    text = _PHONE.sub(_say_phone, text)
    if "-" in text:
        text = _ISO_DATE.sub(_say_iso_date, text)
    if "/" in text or "-" in text:
        text = _NUMERIC_DATE.sub(_say_numeric_date, text)
    if "/" in text:
        text = _RATING.sub(_say_rating, text)
        text = _SLASHED.sub(_say_slashed, text)
    text = _MONTH_DAY.sub(_say_month_day, text)
    text = _DAY_MONTH.sub(_say_day_month, text)
    text = _MONTH_YEAR.sub(_say_month_year, text)
    has_money = bool(_MONEY_TRIGGER.search(text))
    if has_money:
        text = _MONEY_RANGE.sub(_say_money_range, text)
    if "-" in text or "\u2013" in text:
        text = _RANGE.sub(_say_range, text)
    text = _TIME.sub(_say_time, text)
    if ":" in text:
        text = _CLOCK.sub(_say_clock, text)
    if has_money:
        text = _MONEY.sub(_say_money, text)
    if "%" in text:
        text = _PERCENT.sub(_say_percent, text)
    if "/" in text:
        text = _PER.sub(_say_per, text)
    text = _UNIT.sub(_say_unit, text)
    text = _ORDINAL.sub(_say_ordinal, text)
    if "#" in text or "o." in text or "O." in text:
        text = _NUMBER_SIGN.sub("number ", text)
    if not text.isascii():
        text = _VULGAR_FRACTION.sub(_say_vulgar_fraction, text)
    if "0s" in text or "0's" in text:
        text = _DECADE.sub(_say_decade, text)
    if "x" in text:
        text = _TIMES.sub(lambda m: f"{_integer_quantity(m['number'])} times", text)
    return _NUMBER.sub(_say_number, text)


def _words_for_speech(text: str) -> str:
    if _MONTH_TRIGGER.search(text):
        text = _MONTH_RANGE.sub(_say_month_range, text)
        text = _MONTH_ABBREVIATION.sub(lambda m: _full_month(m["month"]) + _full_stop(m), text)
    if _ABBREVIATION_TRIGGER.search(text):
        text = _ABBREVIATION.sub(_say_abbreviation, text)
    if "/" in text:
        text = _PER.sub(_say_per, text)
        text = text.replace("and/or", "and or")
        text = _WORD_SLASH.sub(" or ", text)
    if "&" in text:
        text = text.replace("&", " and ")
    if "+" in text:
        text = text.replace("+", " plus ")
    if "~" in text:
        text = text.replace("~", " about ")
    if "@" in text:
        text = text.replace("@", " at ")
    if "=" in text:
        text = _ARROW.sub(" to ", text).replace("=", " equals ")
    if "\u2192" in text or "->" in text or "\u27f6" in text:
        text = _ARROW.sub(" to ", text)
    if "|" in text:
        text = text.replace("|", ", ")
    if "\u2013" in text:
        text = _EN_DASH.sub(" to ", text)  # left between words once numbers are said: "noon\u2013three", "A\u2013Z"
    if " -" in text or "- " in text or "\u2013" in text or "\u2014" in text:
        text = _DASH_PAUSE.sub(", ", text)  # a dash set apart is a pause
    return text
