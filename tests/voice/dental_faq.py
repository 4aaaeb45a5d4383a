"""A dental clinic's FAQ as a PDF parser leaves it (titles on lines of their own, hard-wrapped sentences, a price list,
opening hours as short lines, page footers), and the overlapping chunks ingestion cuts it into."""

import re

EN_DASH = "\u2013"
DENTAL_FAQ = f"""BRIGHT SMILE DENTAL
Patient Information & Frequently Asked Questions

Opening Hours
Mon{EN_DASH}Fri 8am{EN_DASH}6pm
Saturday 9am{EN_DASH}1pm
We are closed on Sundays and on public holidays. The last
appointment of the day starts 30 minutes before closing time.

Contact Us
Front desk: (555) 014-2200
Email: hello@brightsmile.example
To speak with a member of our team, call the front desk at
(555) 014-2200 during opening hours.

Prices
Routine cleaning (scale and polish) $95
Teeth whitening, full in-office treatment $350
New patient exam with x-rays $120
A cleaning removes plaque and tartar; whitening lightens the
colour of your teeth and is a cosmetic treatment.

                                                   Page 1 of 2
Insurance
We accept Aetna, Delta Dental, MetLife and Guardian dental plans.
If your insurer is not on this list, you can still be treated and
claim the cost back yourself.

Cancellation Policy
Please give us at least 24 hours' notice if you need to cancel or
move an appointment. Appointments cancelled with less than 24 hours'
notice are charged a $30 cancellation fee.

Booking
You can book an appointment by phone or online at
brightsmile.example/book. New patients should arrive 15 minutes early.

                                                   Page 2 of 2"""
TITLES = [
    "BRIGHT SMILE DENTAL",
    "Patient Information",
    "Opening Hours",
    "Contact Us",
    "Prices",
    "Insurance",
    "Cancellation Policy",
    "Booking",
    "Page",
]


def chunked(text: str, size: int = 120, overlap: int = 20) -> list[str]:
    """Windows of `size` words overlapping by `overlap`, cut anywhere between words, as the ingestion's chunker does."""
    spans = [match.span() for match in re.finditer(r"\S+", text)]
    chunks, start = [], 0
    while True:
        end = min(start + size, len(spans))
        chunks.append(text[spans[start][0] : spans[end - 1][1]])
        if end == len(spans):
            return chunks
        start = end - overlap


PASSAGES = chunked(DENTAL_FAQ)
