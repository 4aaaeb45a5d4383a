from vocalis.knowledge.vocabulary import business_words

FAQ = """Bright Smile Dental - Patient FAQ
Welcome to Bright Smile Dental on Larkspur Avenue. Our dentists, Dr. Okonkwo and Dr. Patel, see patients Mon-Fri.
Insurance. We accept Aetna, Delta Dental, MetLife and Guardian. We do not accept Medicaid at this time.
Whitening. Professional whitening costs $350. Please call us on Monday to book."""


def test_the_names_a_business_mentions_are_its_vocabulary() -> None:
    words = business_words([FAQ])
    for name in ("Bright Smile Dental", "Larkspur Avenue", "Dr. Okonkwo", "Dr. Patel", "Aetna", "Delta Dental"):
        assert name in words, words
    assert "MetLife" in words and "Guardian" in words and "Medicaid" in words


def test_words_capitalised_for_grammar_are_not() -> None:
    words = business_words([FAQ])
    for word in ("Welcome", "Insurance", "Our", "We", "Please", "Monday", "Whitening", "Professional"):
        assert word not in words, words


def test_the_most_mentioned_come_first_up_to_the_limit() -> None:
    text = "Call Dr. Okonkwo. Ask Dr. Okonkwo about Aetna. Dr. Okonkwo is in on Friday with Nurse Bell."
    assert business_words([text], limit=2) == ["Dr. Okonkwo", "Aetna"]
