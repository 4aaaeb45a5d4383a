"""Generated text about fictional businesses for `benchmarks.knowledge`: passages, documents and labelled questions.

Every business has passages on ten topics (hours, prices, cancellation, location, staff, payment, booking, access,
holidays, specialities), each written from one of several templates. Questions are written from separate templates
in the words a caller would use: paraphrases ("a cap for a broken tooth" for "a porcelain crown") and synonyms ("the
dentist" for "Harbor Light Dental"), and sometimes a rare word of the answer (a staff member's name, a street, a
product). Each question is labelled with the one passage that answers it. Everything comes from a seeded
`random.Random`, so a run is reproducible.
"""

import random
from dataclasses import dataclass

TOPICS = (
    "hours",
    "prices",
    "cancellation",
    "location",
    "staff",
    "payment",
    "booking",
    "access",
    "holidays",
    "specials",
)


@dataclass(frozen=True)
class Kind:
    word: str  # the last word of a business name
    noun: str  # what the passages call it
    caller: str  # what a caller calls it
    services: tuple[tuple[str, str], ...]  # (the passage's words, a caller's words)
    roles: tuple[tuple[str, str], ...]  # (what a staff member does, what a caller needs)
    signature: tuple[str, str]  # (the passage's words, a caller's short form), with a rare word


KINDS = (
    Kind(
        "Dental",
        "dental practice",
        "dentist",
        (
            ("a check-up with scale and polish", "a teeth cleaning"),
            ("a porcelain crown", "a cap for a broken tooth"),
            ("professional whitening", "getting my teeth whiter"),
        ),
        (
            ("specialises in orthodontics and clear aligners", "straightening crooked teeth"),
            ("treats anxious patients and children", "a child who is scared of the dentist"),
            ("handles emergency extractions", "a tooth that has to come out urgently"),
        ),
        ("its same-day LumaFit veneers", "LumaFit veneers"),
    ),
    Kind(
        "Bakery",
        "bakery",
        "bakery",
        (
            ("a whole sourdough loaf", "a loaf of bread"),
            ("a dozen cinnamon buns", "twelve sweet rolls"),
            ("a custom celebration cake for 20 people", "a birthday cake for a party"),
        ),
        (
            ("runs the pastry kitchen", "croissants and pastries"),
            ("takes wedding cake commissions", "a cake for my wedding"),
            ("bakes the gluten-free range", "bread for someone with coeliac disease"),
        ),
        ("its cardamom knots made with Brakstad flour", "Brakstad cardamom knots"),
    ),
    Kind(
        "Motors",
        "garage",
        "mechanic",
        (
            ("an annual roadworthiness inspection", "the yearly safety test for my car"),
            ("a full brake pad replacement", "new brakes"),
            ("a tyre change with balancing", "swapping my tires"),
        ),
        (
            ("is our diagnostics specialist for engine warning lights", "the check engine light coming on"),
            ("looks after hybrid and electric vehicles", "my electric car"),
            ("runs the bodywork and paint shop", "a dent in my door"),
        ),
        ("its Vektorline wheel alignment rig", "Vektorline alignment"),
    ),
    Kind(
        "Yoga",
        "yoga studio",
        "yoga place",
        (
            ("a single drop-in class", "just one session"),
            ("a ten-class pass", "a bundle of lessons"),
            ("a monthly unlimited membership", "unlimited classes for a month"),
        ),
        (
            ("teaches prenatal yoga", "yoga while pregnant"),
            ("leads the beginners' foundations course", "someone who has never done yoga"),
            ("runs meditation and breathwork evenings", "learning to meditate"),
        ),
        ("its heated Ashtanga Ember sessions", "Ashtanga Ember"),
    ),
    Kind(
        "Veterinary",
        "veterinary clinic",
        "vet",
        (
            ("a yearly vaccination booster for a dog", "my dog's shots"),
            ("neutering a cat", "getting my cat fixed"),
            ("microchipping", "putting a chip in my puppy"),
        ),
        (
            ("is our exotic animals vet for reptiles and birds", "my pet lizard"),
            ("leads dental care for pets", "my dog's bad teeth"),
            ("runs the after-hours emergency line", "an emergency at night with my pet"),
        ),
        ("its Pawsley hydrotherapy pool", "Pawsley pool"),
    ),
    Kind(
        "Plumbing",
        "plumbing company",
        "plumber",
        (
            ("a call-out visit during working hours", "someone coming to my house"),
            ("unblocking a drain", "a clogged sink"),
            ("replacing a hot water cylinder", "a new boiler tank"),
        ),
        (
            ("handles gas boiler servicing", "my heating system"),
            ("manages bathroom renovations", "redoing my bathroom"),
            ("dispatches the emergency crew for burst pipes", "water pouring out of a pipe"),
        ),
        ("its Thermodrake leak detection camera", "Thermodrake camera"),
    ),
    Kind(
        "Legal",
        "law firm",
        "lawyer",
        (
            ("a first consultation of 30 minutes", "an initial meeting"),
            ("drafting a will", "writing my will"),
            ("conveyancing for a home purchase", "the legal side of buying a house"),
        ),
        (
            ("leads our family law and divorce work", "splitting up with my husband"),
            ("handles employment disputes", "being fired unfairly"),
            ("advises on immigration and visas", "a work permit"),
        ),
        ("its Halvorsen fixed-fee probate package", "Halvorsen package"),
    ),
    Kind(
        "Hotel",
        "hotel",
        "hotel",
        (
            ("a standard double room per night", "a room for two"),
            ("a family suite per night", "a room for me and my kids"),
            ("breakfast for one guest", "the morning meal"),
        ),
        (
            ("manages group and conference bookings", "a block of rooms for a conference"),
            ("is the head concierge", "tips on local sights"),
            ("runs the spa", "a massage during my stay"),
        ),
        ("its rooftop Skylark terrace", "Skylark terrace"),
    ),
    Kind(
        "Kitchen",
        "restaurant",
        "restaurant",
        (
            ("the three-course set lunch", "the lunch menu"),
            ("the chef's tasting menu", "the full dinner experience"),
            ("corkage per bottle", "bringing my own wine"),
        ),
        (
            ("is the head chef", "who cooks the food"),
            ("manages private dining and events", "a private party"),
            ("is our sommelier", "advice on wine"),
        ),
        ("its slow-roasted Vardo lamb shoulder", "Vardo lamb"),
    ),
    Kind(
        "Fitness",
        "fitness centre",
        "gym",
        (
            ("a day pass", "working out just once"),
            ("an off-peak monthly membership", "a cheaper membership for quiet times"),
            ("a one-hour personal training session", "a private trainer"),
        ),
        (
            ("coaches strength and powerlifting", "lifting heavy weights"),
            ("runs rehabilitation classes after injury", "getting fit again after a knee operation"),
            ("leads group spinning", "indoor cycling"),
        ),
        ("its Kraftwerk climbing wall", "Kraftwerk wall"),
    ),
    Kind(
        "Cycles",
        "bicycle shop",
        "bike shop",
        (
            ("a basic tune-up", "a bike service"),
            ("fixing a puncture", "a flat tire"),
            ("renting an e-bike for a day", "borrowing an electric bike"),
        ),
        (
            ("builds custom wheels", "new wheels"),
            ("fits bikes to your body", "getting the right frame size"),
            ("repairs e-bike motors", "my electric bike's motor"),
        ),
        ("its Fjellfold folding bikes", "Fjellfold bikes"),
    ),
    Kind(
        "Flowers",
        "flower shop",
        "florist",
        (
            ("a hand-tied bouquet", "a bunch of flowers"),
            ("a funeral wreath", "flowers for a funeral"),
            ("same-day delivery within the city", "getting flowers sent today"),
        ),
        (
            ("designs wedding flowers", "flowers for my wedding"),
            ("looks after corporate subscriptions", "weekly flowers for our office"),
            ("runs the Saturday arranging workshops", "learning to arrange flowers"),
        ),
        ("its rare Ellesmere peonies", "Ellesmere peonies"),
    ),
    Kind(
        "Pharmacy",
        "pharmacy",
        "chemist",
        (
            ("a flu vaccination", "a flu jab"),
            ("a blood pressure check", "measuring my blood pressure"),
            ("a travel health consultation", "advice before a trip abroad"),
        ),
        (
            ("is the lead pharmacist for prescriptions", "refilling my medication"),
            ("runs the stop-smoking programme", "quitting cigarettes"),
            ("handles home delivery of medicines", "getting my pills brought to my house"),
        ),
        ("its Medivault repeat-prescription lockers", "Medivault lockers"),
    ),
    Kind(
        "Accounting",
        "accounting firm",
        "accountant",
        (
            ("a personal tax return", "doing my taxes"),
            ("monthly bookkeeping for a small business", "keeping the books for my shop"),
            ("payroll for up to ten staff", "paying my employees"),
        ),
        (
            ("handles self-employed and freelancer clients", "a freelancer like me"),
            ("deals with tax investigations", "a letter from the tax office"),
            ("advises start-ups", "setting up a new company"),
        ),
        ("its Ledgerly client portal", "Ledgerly portal"),
    ),
    Kind(
        "Nursery",
        "childcare centre",
        "daycare",
        (
            ("a full day place", "a whole day for my toddler"),
            ("a half-day morning session", "just the mornings"),
            ("after-school care", "looking after my son after school"),
        ),
        (
            ("is the nursery manager", "the person in charge of the children"),
            ("leads the baby room for under-twos", "my baby who is one"),
            ("coordinates special educational needs support", "my daughter who has autism"),
        ),
        ("its outdoor Forest Wren programme", "Forest Wren"),
    ),
    Kind(
        "Rentals",
        "car rental agency",
        "car hire place",
        (
            ("a compact car per day", "a small car for a day"),
            ("a seven-seat minivan per day", "a big car for the whole family"),
            ("a one-way rental surcharge", "dropping the car off in another city"),
        ),
        (
            ("manages long-term leases", "renting for several months"),
            ("handles damage claims", "a scratch I made on the car"),
            ("runs the airport desk", "picking up the car at the airport"),
        ),
        ("its Nordvik electric fleet", "Nordvik fleet"),
    ),
    Kind(
        "Grooming",
        "pet grooming salon",
        "dog groomer",
        (
            ("a full groom for a small dog", "a haircut for my little dog"),
            ("a bath and brush for a large dog", "washing my big dog"),
            ("nail clipping", "trimming my dog's claws"),
        ),
        (
            ("specialises in hand-stripping terriers", "my terrier's coat"),
            ("handles nervous and elderly pets", "an old dog who gets anxious"),
            ("grooms cats", "my cat"),
        ),
        ("its Oatmilk Mudbath spa treatment", "Oatmilk Mudbath"),
    ),
    Kind(
        "Optics",
        "optician",
        "eye doctor",
        (
            ("a full eye examination", "an eye test"),
            ("a pair of single-vision glasses", "new glasses"),
            ("a month of daily contact lenses", "contacts"),
        ),
        (
            ("fits contact lenses", "trying contacts for the first time"),
            ("specialises in children's eyesight", "my son's eyes"),
            ("handles frame repairs", "my broken glasses"),
        ),
        ("its Kestrelview retinal scanner", "Kestrelview scan"),
    ),
    Kind(
        "Physio",
        "physiotherapy clinic",
        "physical therapist",
        (
            ("an initial assessment", "the first visit"),
            ("a 45-minute follow-up treatment", "a regular session"),
            ("sports massage", "a massage for sore muscles"),
        ),
        (
            ("specialises in back and neck pain", "my bad back"),
            ("treats running injuries", "pain in my knee from jogging"),
            ("runs pilates-based rehab", "exercises after an operation"),
        ),
        ("its Motionlab gait analysis", "Motionlab analysis"),
    ),
    Kind(
        "Hair",
        "hair salon",
        "hairdresser",
        (
            ("a women's cut and blow-dry", "a haircut for a woman"),
            ("a men's cut", "a haircut for a man"),
            ("full head highlights", "colouring my hair"),
        ),
        (
            ("is our colour specialist", "dyeing my hair"),
            ("handles bridal styling", "my hair for my wedding"),
            ("cuts curly hair", "my curls"),
        ),
        ("its Solvei bond-repair treatment", "Solvei treatment"),
    ),
    Kind(
        "Storage",
        "self-storage facility",
        "storage place",
        (
            ("a small 25 square foot unit per month", "a little locker"),
            ("a large 100 square foot unit per month", "a big room for my furniture"),
            ("a padlock", "a lock"),
        ),
        (
            ("manages business storage accounts", "storing stock for my company"),
            ("runs the van hire for moving day", "a truck to move my stuff"),
            ("handles access cards", "getting in after hours"),
        ),
        ("its climate-controlled Frostvault units", "Frostvault units"),
    ),
    Kind(
        "Driving",
        "driving school",
        "driving instructor",
        (
            ("a single 60-minute lesson", "one lesson"),
            ("a block of ten lessons", "a package of lessons"),
            ("a motorway lesson", "driving on the highway"),
        ),
        (
            ("teaches automatic cars", "learning in an automatic"),
            ("prepares pupils for the test", "passing my exam"),
            ("coaches nervous learners", "being scared behind the wheel"),
        ),
        ("its Roadwise simulator", "Roadwise simulator"),
    ),
    Kind(
        "Cleaning",
        "cleaning company",
        "cleaner",
        (
            ("a regular weekly clean of a two-bedroom flat", "cleaning my apartment every week"),
            ("an end-of-tenancy deep clean", "cleaning before I move out"),
            ("carpet shampooing per room", "washing my rugs"),
        ),
        (
            ("manages office contracts", "cleaning our office"),
            ("handles after-builders cleaning", "dust after renovation work"),
            ("schedules the domestic teams", "changing my cleaning day"),
        ),
        ("its Verdant eco-certified products", "Verdant products"),
    ),
    Kind(
        "Tutoring",
        "tutoring centre",
        "tutor",
        (
            ("a one-hour maths lesson", "help with math"),
            ("an exam preparation course", "getting ready for exams"),
            ("a trial session", "trying it out first"),
        ),
        (
            ("teaches chemistry and physics", "science homework"),
            ("supports students with dyslexia", "my son who has dyslexia"),
            ("runs the university application coaching", "applying to college"),
        ),
        ("its Quillmark essay clinic", "Quillmark clinic"),
    ),
    Kind(
        "Print",
        "print shop",
        "printer",
        (
            ("500 business cards", "calling cards"),
            ("an A1 poster", "a big poster"),
            ("binding a thesis", "binding my dissertation"),
        ),
        (
            ("handles large-format printing", "a banner"),
            ("runs the design desk", "someone to design my flyer"),
            ("manages wholesale orders", "printing thousands of leaflets"),
        ),
        ("its Heidelwren letterpress", "Heidelwren letterpress"),
    ),
)

# The names of the labelled corpus's businesses (one per kind, in order); other text uses random combinations.
NAMES = (
    "Harbor Light",
    "Copper Kettle",
    "Juniper Lane",
    "Bluebell",
    "Granite Peak",
    "Silver Birch",
    "Old Mill",
    "Maple Row",
    "Red Fern",
    "Lantern",
    "Quarry Hill",
    "Willow Bend",
    "Northgate",
    "Saffron",
    "Kestrel",
    "Blackthorn",
    "Pebble Beach",
    "Orchard",
    "Cobalt",
    "Thistle",
    "Ivy Court",
    "Sunridge",
    "Marigold",
    "Foxglove",
    "Larkspur",
)
ADJECTIVES = (  # noqa: SIM905
    "Amber Blue Bright Cedar Coral Crimson Eastern Emerald Golden Green Hidden High Lucky Misty Noble Northern "
    "Olive Pine Quiet Royal Rustic Scarlet Silver Southern Stone Sunny Swift True Upper Velvet Western Wild"
).split()
NOUNS = (  # noqa: SIM905
    "Anchor Arrow Beacon Bridge Brook Canyon Castle Cove Crown Dale Falcon Field Forest Garden Gate Grove Harbor "
    "Haven Hollow Island Meadow Mountain Oak Path Pond Ridge River Rock Spring Star Summit Valley Wharf Wood"
).split()
FIRST_NAMES = (  # noqa: SIM905
    "Amara Anders Beatrix Caleb Dalia Dmitri Elena Farid Greta Hiroshi Ines Jonas Keziah Lorenzo Maren Nikhil Odile"
    " Pavel Quinn Rosalind Sven Tamsin Ulla Viktor Wanjiru Xavier Yasmin Zoltan"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Abernethy Baptiste Castellanos Drummond Eriksen Fairweather Gallagher Holloway Iwasaki Jankowski Kowalczyk "
    "Lindqvist Mbeki Novak Okonkwo Petrakis Quintero Rasmussen Szabo Thorne Underhill Varga Whitcombe Yilmaz"
).split()
STREETS = (  # noqa: SIM905
    "Tanner Street, Wexford Road, Millbrook Avenue, Chandler Lane, Rookery Close, Barrow Street, Fenwick Road, "
    "Ashgrove Avenue, Cooper's Row, Dunmore Street, Hawthorn Road, Kingsway, Lockhart Lane, Marlow Street, "
    "Pemberton Road, Quayside, Ravensworth Avenue, Saltmarsh Lane, Tolliver Street, Elmstead Road"
).split(", ")
DISTRICTS = (  # noqa: SIM905
    "the Old Town, the harbour quarter, Westfield, the university district, Northside, Riverside, the market "
    "district, Eastbrook, the cathedral quarter, Southbank"
).split(", ")
HOURS = ("7 am", "7.30 am", "8 am", "8.30 am", "9 am", "9.30 am", "10 am")
CLOSING = ("4 pm", "5 pm", "5.30 pm", "6 pm", "6.30 pm", "7 pm", "8 pm", "9 pm")


@dataclass(frozen=True)
class Passage:
    number: int  # the passage's index in its corpus
    business: str
    topic: str
    text: str


@dataclass(frozen=True)
class Question:
    text: str
    passage: int  # Passage.number of the answer
    names_business: bool  # the question names the business (else only its kind: "the dentist")


@dataclass(frozen=True)
class Business:
    name: str
    kind: Kind
    staff: tuple[str, str, str]
    street: str


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _business(rng: random.Random, name: str, kind: Kind) -> Business:
    return Business(f"{name} {kind.word}", kind, (_person(rng), _person(rng), _person(rng)), rng.choice(STREETS))


def labelled_businesses(rng: random.Random, count: int) -> list[Business]:
    if not 1 <= count <= len(KINDS):
        raise ValueError(f"between 1 and {len(KINDS)} businesses")
    return [_business(rng, NAMES[i], KINDS[i]) for i in range(count)]


def random_business(rng: random.Random) -> Business:
    return _business(rng, f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}", rng.choice(KINDS))


def _price(rng: random.Random) -> str:
    return f"${rng.choice([5, 8, 12, 15, 20, 25, 35, 45, 60, 75, 90, 120, 150, 240, 380])}"


def passage(rng: random.Random, business: Business, topic: str) -> str:
    """One passage of `business` on `topic`, from one of the topic's templates."""
    name, kind = business.name, business.kind
    if topic == "hours":
        opens, closes = rng.choice(HOURS), rng.choice(CLOSING)
        saturday = rng.choice(["from 9 am to 1 pm", "from 10 am to 4 pm", "by appointment only", "closed"])
        sunday = rng.choice(["We are closed on Sundays.", "Sunday hours are 11 am to 3 pm.", "Sundays are closed."])
        return rng.choice(
            [
                f"{name} opening hours: Monday to Friday {opens} to {closes}, Saturday {saturday}. {sunday}",
                f"You can visit {name} on weekdays between {opens} and {closes}. On Saturdays the {kind.noun} is "
                f"{saturday if saturday == 'closed' else 'open ' + saturday}. {sunday}",
                f"{name} opens its doors at {opens} every weekday and locks up at {closes}. Saturday: {saturday}. "
                f"{sunday}",
            ]
        )
    if topic == "prices":
        (s1, _), (s2, _), (s3, _) = kind.services
        note = rng.choice(
            ["All prices include VAT.", "Written quotes are free of charge.", "Prices were last updated in March."]
        )
        return rng.choice(
            [
                f"Prices at {name}: {s1} costs {_price(rng)}, {s2} is {_price(rng)} and {s3} is {_price(rng)}. {note}",
                f"The {kind.noun}'s current rates are {_price(rng)} for {s1}, {_price(rng)} for {s2} and "
                f"{_price(rng)} for {s3}. "
                f"{note}",
                f"At {name} you pay {_price(rng)} for {s3}, while {s1} comes to {_price(rng)}. {s2.capitalize()} "
                f"is priced at {_price(rng)}. {note}",
            ]
        )
    if topic == "cancellation":
        notice, fee = rng.choice([12, 24, 48, 72]), rng.choice(["$20", "$35", "half the price", "the full price"])
        return rng.choice(
            [
                f"If you need to cancel, please tell {name} at least {notice} hours ahead. Later cancellations "
                f"and missed appointments are charged {fee}.",
                f"The {kind.noun}'s cancellation policy: changes are free until {notice} hours before your "
                f"appointment; after that a fee of {fee} applies, and no-shows pay the full price.",
                f"Bookings at {name} may be moved or called off free of charge with {notice} hours' notice. "
                f"Anything shorter costs {fee}.",
            ]
        )
    if topic == "location":
        number, district = rng.randint(2, 240), rng.choice(DISTRICTS)
        parking = rng.choice(
            [
                "Free parking is available behind the building.",
                "There is a paid car park across the road.",
                f"Street parking is limited, so we recommend the multi-storey garage on {rng.choice(STREETS)}.",
            ]
        )
        transit = rng.choice(
            [
                f"Bus {rng.randint(3, 99)} stops right outside.",
                f"The {rng.choice(NOUNS)} Square tram stop is a five-minute walk away.",
                "The central railway station is ten minutes away on foot.",
            ]
        )
        return rng.choice(
            [
                f"{name} is located at {number} {business.street}, in {district}. {parking} {transit}",
                f"Find the {kind.noun} at {number} {business.street} in {district}. {transit} {parking}",
            ]
        )
    if topic == "staff":
        (r1, _), (r2, _), (r3, _) = kind.roles
        p1, p2, p3 = business.staff
        return rng.choice(
            [
                f"The team at {name} is led by {p1}, who {r1}. {p2} {r2}, and {p3} {r3}.",
                f"Meet the people of {name}: {p2} {r2}. {p1} {r1}. {p3} {r3} and has been with us for "
                f"{rng.randint(2, 19)} years.",
            ]
        )
    if topic == "payment":
        methods = rng.choice(
            [
                "cash, debit cards and all major credit cards",
                "card payments and mobile wallets such as Apple Pay and Google Pay",
                "debit and credit cards only; the till does not take cash",
            ]
        )
        refused = rng.choice(
            ["We no longer accept cheques.", "American Express is not accepted.", "Gift vouchers cannot be used."]
        )
        extra = rng.choice(
            [
                "Interest-free instalments are available on bills over $300.",
                "Invoices for companies are payable within 30 days.",
                "A receipt is emailed after every payment.",
            ]
        )
        return rng.choice(
            [
                f"{name} accepts {methods}. {refused} {extra}",
                f"Payment at the {kind.noun}: we accept {methods}. {extra} {refused}",
            ]
        )
    if topic == "booking":
        site = name.lower().replace(" ", "") + ".example"
        phone = f"555-{rng.randint(1000, 9999)}"
        walk_in = rng.choice(
            [
                "Walk-ins are welcome when a slot is free.",
                "We do not take walk-ins.",
                "Walk-in customers are seen between 2 pm and 4 pm.",
            ]
        )
        lead = rng.choice(
            [
                "Most weeks are fully booked about ten days ahead.",
                "Same-day appointments are often possible.",
                "Book two to three weeks in advance for Saturdays.",
            ]
        )
        return rng.choice(
            [
                f"Appointments at {name} can be booked online at {site}, by phone on {phone}, or at the front desk. "
                f"{walk_in} {lead}",
                f"To reserve at {name}, call {phone} or use the booking page at {site}. {lead} {walk_in}",
            ]
        )
    if topic == "access":
        access = rng.choice(
            [
                "step-free access and an accessible toilet",
                "a ramp at the side entrance and a lift to the first floor",
                "a ground-floor entrance, though the upstairs rooms are reached only by stairs",
            ]
        )
        pets = rng.choice(
            [
                "Assistance dogs are welcome; other animals must stay outside.",
                "Well-behaved dogs on a lead are welcome inside.",
            ]
        )
        kids = rng.choice(
            [
                "Children under 12 must be accompanied by an adult.",
                "There is a small play corner with toys for children.",
                "Baby-changing facilities are on the ground floor.",
            ]
        )
        return rng.choice(
            [
                f"{name} has {access}. {pets} {kids}",
                f"Accessibility: the {kind.noun} offers {access}. {kids} {pets}",
            ]
        )
    if topic == "holidays":
        period = rng.choice(
            [
                "24 December to 2 January",
                "the first two weeks of August",
                "the week after Easter",
                "23 December until 3 January",
            ]
        )
        public = rng.choice(
            [
                "On public holidays we open from 10 am to 2 pm.",
                "We are closed on all public holidays.",
                "Public holidays follow the Saturday timetable.",
            ]
        )
        return rng.choice(
            [
                f"{name} closes for its annual break from {period}. {public}",
                f"Holiday closures: the {kind.noun} is shut from {period}. {public}",
            ]
        )
    if topic == "specials":
        offer = rng.choice(
            [
                "Students and seniors get 10% off on weekdays.",
                "Every tenth visit is free with our stamp card.",
                "Refer a friend and you both receive $15 credit.",
            ]
        )
        return rng.choice(
            [
                f"{name} is best known for {kind.signature[0]}. {offer}",
                f"Regulars come back to the {kind.noun} for {kind.signature[0]}. {offer} "
                f"Ask {business.staff[0]} for details.",
            ]
        )
    raise ValueError(topic)


def question(rng: random.Random, business: Business, topic: str, names_business: bool) -> str:
    """A caller's question answered by `business`'s passage on `topic`, naming the business or only its kind."""
    kind = business.kind
    ref = business.name if names_business else f"the {kind.caller}"
    options: list[str]
    if topic == "hours":
        options = [
            f"What time does {ref} open in the morning?",
            f"How late is {ref} open during the week?",
            f"Can I come to {ref} at the weekend?",
            f"Is {ref} open on Sunday?",
            f"Until when can I drop by {ref} after work?",
        ]
    elif topic == "prices":
        service = rng.choice(kind.services)[1]
        options = [
            f"How much would {ref} charge for {service}?",
            f"What does {ref} charge for {service}?",
            f"What would {service} cost me at {ref}?",
        ]
    elif topic == "cancellation":
        options = [
            f"What happens if I can't make it to my appointment at {ref}?",
            f"Is there a charge for cancelling late at {ref}?",
            f"How much notice does {ref} need if I have to call off my booking?",
            f"Will {ref} bill me if I don't show up?",
        ]
    elif topic == "location":
        options = [
            f"Where exactly is {ref}?",
            f"What's the address of {ref}?",
            f"Is there somewhere to leave my car near {ref}?",
            f"How do I get to {ref} by public transport?",
            f"Is {ref} the one on {business.street}?",
        ]
    elif topic == "staff":
        need = rng.choice(kind.roles)[1]
        options = [
            f"Who should I talk to at {ref} about {need}?",
            f"Does anyone at {ref} know about {need}?",
            f"Is {business.staff[0]} still working at {ref}?",
            f"Who's in charge at {ref}?",
        ]
    elif topic == "payment":
        options = [
            f"Can I pay with my card at {ref}?",
            f"Does {ref} take cheques?",
            f"Can I use my phone to pay at {ref}?",
            f"Is it possible to spread the cost over a few months at {ref}?",
        ]
    elif topic == "booking":
        options = [
            f"How do I make an appointment with {ref}?",
            f"Can I just turn up at {ref} without booking?",
            f"How far ahead should I reserve a slot at {ref}?",
            f"What's the phone number for {ref}?",
        ]
    elif topic == "access":
        options = [
            f"I use a wheelchair, can I get into {ref}?",
            f"Is it ok to bring my dog to {ref}?",
            f"Can I bring my kids along to {ref}?",
            f"Does {ref} have an elevator?",
        ]
    elif topic == "holidays":
        options = [
            f"Is {ref} open between Christmas and New Year?",
            f"When does {ref} shut for vacation?",
            f"Is {ref} open on bank holidays?",
        ]
    elif topic == "specials":
        options = [
            f"Do you still have the {kind.signature[1]} at {ref}?",
            f"Is there a student discount at {ref}?",
            f"Does {ref} have a loyalty card?",
            f"What is {ref} famous for?",
        ]
    else:
        raise ValueError(topic)
    return rng.choice(options)


def labelled_corpus(
    seed: int, businesses: int, questions_per_business: int
) -> tuple[list[Business], list[Passage], list[Question]]:
    """One passage per (business, topic), and questions each labelled with its passage (six in ten name the
    business, the others only its kind)."""
    rng = random.Random(seed)
    chosen = labelled_businesses(rng, businesses)
    passages: list[Passage] = []
    for business in chosen:
        for topic in TOPICS:
            passages.append(Passage(len(passages), business.name, topic, passage(rng, business, topic)))
    questions: list[Question] = []
    for index, business in enumerate(chosen):
        for topic in rng.sample(TOPICS, min(questions_per_business, len(TOPICS))):
            names_business = rng.random() < 0.6
            answer = index * len(TOPICS) + TOPICS.index(topic)
            questions.append(Question(question(rng, business, topic, names_business), answer, names_business))
    return chosen, passages, questions


STORY_TOPICS = ("history", "community", "sustainability", "news", "tips")  # only in unlabelled text
PROFESSIONS = (  # noqa: SIM905
    "nurse teacher carpenter chemist sailor engineer librarian journalist firefighter architect farmer pilot "
    "accountant electrician photographer surveyor translator geologist"
).split()
TOWNS = (  # noqa: SIM905
    "Ashbury Brackenfield Carrow Dunholme Elmswick Fordingham Glenmoor Hartlepool Ivybridge Kelso Lydbrook "
    "Marchwood Netherby Oakhampton Pennington Rushden Stowmarket Thornbury Upton Wetherby"
).split()
STORY_EVENTS = (
    "a flood in the old premises",
    "a fire next door",
    "winning a regional business award",
    "the landlord sold the building",
    "a second partner joined",
    "demand doubled during the pandemic",
    "a grant from the chamber of commerce",
)
COMMUNITY = (
    "sponsors the {town} half marathon",
    "collects coats for the {town} winter shelter",
    "hosts a free open day for the {town} scouts",
    "runs a stall at the {town} harvest fair",
    "donates a share of December sales to the {town} food bank",
    "supports the {town} youth football league",
)
GREEN = (
    "switched to a renewable electricity tariff",
    "replaced its delivery van with a cargo bike",
    "installed solar panels on the roof",
    "stopped using single-use plastic",
    "started composting all organic waste",
    "cut its water use by a third",
    "sources supplies from within fifty miles",
)
NEWS = (
    "renovated its waiting area with new furniture and brighter lighting",
    "hired two apprentices from the local college",
    "launched a newsletter with monthly updates",
    "extended the car park by twelve spaces",
    "introduced text-message reminders the day before each visit",
    "celebrated its anniversary with a street party",
    "redesigned its website and logo",
)
TIPS = (
    "bring any paperwork from previous visits, it saves time at the counter",
    "arrive ten minutes early on your first visit to fill in the short form",
    "the quietest time of the week is usually Tuesday mid-morning",
    "photos of the problem sent in advance help us prepare the right parts",
    "ask at reception about the waiting list for cancellations",
    "keep your receipt, it doubles as a guarantee certificate",
    "the side entrance avoids the stairs and the queue",
)
MONTHS = "January February March April May June July August September October November December".split()  # noqa: SIM905


def story(rng: random.Random, business: Business, topic: str) -> str:
    """A passage of narrative text (for unlabelled chunks), with a broader vocabulary than the FAQ topics."""
    name, kind = business.name, business.kind
    person, town = rng.choice(business.staff), rng.choice(TOWNS)
    if topic == "history":
        year = rng.randint(1952, 2019)
        return (
            f"{name} was founded in {year} by {person}, a former {rng.choice(PROFESSIONS)} from {town}. The "
            f"{kind.noun} moved to {business.street} in {year + rng.randint(1, 5)} after {rng.choice(STORY_EVENTS)}."
        )
    if topic == "community":
        return (
            f"Every year the {kind.noun} {rng.choice(COMMUNITY).format(town=town)}, and {person} "
            f"{rng.choice(COMMUNITY).format(town=rng.choice(TOWNS)).replace('sponsors', 'helps sponsor')} too."
        )
    if topic == "sustainability":
        first, second = rng.sample(GREEN, 2)
        return f"Since {rng.randint(2008, 2023)}, {name} has {first} and {second}."
    if topic == "news":
        return f"In {rng.choice(MONTHS)}, {name} {rng.choice(NEWS)}. {person} hopes customers will notice."
    if topic == "tips":
        return f"A tip from {person} at the {kind.noun}: {rng.choice(TIPS)}."
    raise ValueError(topic)


def any_passage(rng: random.Random, business: Business) -> str:
    """A passage on any topic, the FAQ ones or the narrative ones."""
    topic = rng.choice(TOPICS + STORY_TOPICS)
    return story(rng, business, topic) if topic in STORY_TOPICS else passage(rng, business, topic)


def random_passages(rng: random.Random, count: int) -> list[str]:
    """Passages of random businesses (a new business every few passages), for unlabelled chunks."""
    texts: list[str] = []
    while len(texts) < count:
        business = random_business(rng)
        texts.extend(any_passage(rng, business) for _ in range(rng.randint(2, 5)))
    return texts[:count]


def handbook_pages(rng: random.Random, pages: int, passages_per_page: int) -> list[str]:
    """The pages of one random business's handbook, each made of a few passages on any topics."""
    business = random_business(rng)
    return [" ".join(any_passage(rng, business) for _ in range(passages_per_page)) for _ in range(pages)]
