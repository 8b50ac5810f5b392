"""Fake personal identifiers for planting in synthetic narratives.

Everything here is reserved or fictional: NHS numbers from the 999 test range, phone numbers
from Ofcom's drama ranges, ``example.*`` email domains, NI numbers with the ``QQ`` example
prefix (and a few other well-formed prefixes), and names from common UK name lists. Values
are generated in vectorised batches so 100,000 incidents cost milliseconds. NHS check digits
are computed here with numpy rather than per number through ``nhs-number`` because a batch
needs to be fast; tests cross-check them against ``nhs-number``.
"""

from __future__ import annotations

import numpy as np

FIRST_MALE = (
    "John", "David", "Michael", "James", "Paul", "Mark", "Daniel", "Thomas", "Ryan", "Liam",
    "Connor", "Jamal", "Mohammed", "Ahmed", "Tomasz", "Kieran", "Gareth", "Stephen", "Ian",
    "Lee", "Darren", "Craig", "Wayne", "Callum", "Aaron", "Kwame", "Ravi", "Sanjay", "Peter",
    "George",
)
FIRST_FEMALE = (
    "Sarah", "Emma", "Laura", "Jessica", "Rachel", "Claire", "Nicola", "Amy", "Chloe", "Sophie",
    "Hannah", "Aisha", "Fatima", "Priya", "Agnieszka", "Chantelle", "Kelly", "Donna", "Joanne",
    "Lisa", "Michelle", "Tracey", "Leanne", "Megan", "Niamh", "Grace", "Amina", "Olivia",
    "Zara", "Margaret",
)
SURNAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Thomas", "Clarke", "Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper",
    "Hill", "Khan", "Ahmed", "Begum", "Hussain", "Kowalski", "Nowak", "Okafor", "Mensah",
    "Campbell", "Murphy", "O'Brien", "Kelly", "McDonald", "Lewis", "Hughes", "Morgan", "Price",
    "Singh", "Kaur", "Ali", "Baker", "Shaw",
)

_INWARD_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
_UPPER = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def _digits(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 10, size=shape)


def _join_cols(cols: list[np.ndarray]) -> np.ndarray:
    out = cols[0].astype(str).astype(object)
    for c in cols[1:]:
        out = out + c.astype(str).astype(object)
    return out


def nhs_check_digit(first9: np.ndarray) -> np.ndarray:
    """Check digit for rows of 9 digits (mod 11, weights 10..2); 10 means no valid number."""
    total = (first9 * np.arange(10, 1, -1)).sum(axis=1)
    check = 11 - total % 11
    return np.where(check == 11, 0, check)


def nhs_numbers(
    rng: np.random.Generator, m: int, wrong_rate: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    """``m`` NHS numbers from the 999 test range as written in notes, with validity flags.

    About ``wrong_rate`` carry a wrong check digit (a typo, as in real records). Formats:
    ``999 123 4567``, ``9991234567`` and ``999-123-4567``.
    """
    body = np.column_stack([np.full((m, 3), 9), _digits(rng, (m, 6))])
    check = nhs_check_digit(body)
    bad = check == 10
    while bad.any():
        body[bad, 3:] = _digits(rng, (int(bad.sum()), 6))
        check = nhs_check_digit(body)
        bad = check == 10
    wrong = rng.random(m) < wrong_rate
    shift = rng.integers(1, 10, size=m)
    last = np.where(wrong, (check + shift) % 10, check)
    digits = np.column_stack([body, last])
    plain = _join_cols([digits[:, i] for i in range(10)])
    fmt = rng.choice(3, size=m, p=[0.55, 0.3, 0.15])
    spaced = np.array([f"{s[:3]} {s[3:6]} {s[6:]}" for s in plain], dtype=object)
    dashed = np.array([f"{s[:3]}-{s[3:6]}-{s[6:]}" for s in plain], dtype=object)
    text = np.where(fmt == 0, spaced, np.where(fmt == 1, plain, dashed))
    return text, ~wrong


def postcodes(rng: np.random.Generator, m: int) -> np.ndarray:
    """Postcodes in all six outward formats (A9, A99, A9A, AA9, AA99, AA9A + inward 9AA)."""
    one = np.array(["B", "E", "G", "L", "M", "N", "S", "W"])
    two = np.array(["LS", "BD", "NE", "SK", "CF", "HU", "DN", "TS", "WF", "PR", "SW", "EC"])
    d1 = _digits(rng, (m,)).astype(str).astype(object)
    d2 = _digits(rng, (m,)).astype(str).astype(object)
    d1nz = rng.integers(1, 10, size=m).astype(str).astype(object)
    a1 = rng.choice(one, size=m).astype(object)
    a2 = rng.choice(two, size=m).astype(object)
    suffix = rng.choice(np.array(list("ABCEHMNPRVWXY")), size=m).astype(object)
    outward_by_fmt = [
        a1 + d1nz,
        a1 + d1nz + d2,
        rng.choice(np.array(["E", "N", "W"]), size=m).astype(object) + d1nz + suffix,
        a2 + d1nz,
        a2 + d1nz + d2,
        rng.choice(np.array(["EC", "SW", "WC"]), size=m).astype(object)
        + rng.integers(1, 3, size=m).astype(str).astype(object) + suffix,
    ]
    fmt = rng.integers(0, 6, size=m)
    outward = np.choose(fmt, outward_by_fmt)
    inward = d1 + _join_cols([rng.choice(_INWARD_LETTERS, size=m), rng.choice(_INWARD_LETTERS, size=m)])
    return outward + " " + inward


def phones(rng: np.random.Generator, m: int) -> np.ndarray:
    """UK numbers from Ofcom's drama ranges, in the ways people write them."""
    k = rng.integers(0, 1000, size=m)
    k3 = np.char.zfill(k.astype(str), 3).astype(object)
    k4 = np.char.zfill(k.astype(str), 4).astype(object)
    forms = [
        "07700 900" + k3,
        "07700900" + k3,
        "+44 7700 900" + k3,
        "01632 960" + k3,
        "020 7946 " + k4,
        "+44 20 7946 " + k4,
        "0113 496 " + k4,
    ]
    fmt = rng.choice(len(forms), size=m, p=[0.3, 0.15, 0.1, 0.15, 0.15, 0.05, 0.1])
    return np.choose(fmt, forms)


def emails(rng: np.random.Generator, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Emails built from the given names on ``example.*`` domains."""
    m = len(first)
    domains = np.array(["example.com", "example.org", "example.net", "mail.example.co.uk"], dtype=object)
    dom = rng.choice(domains, size=m)
    f = np.char.lower(first.astype(str)).astype(object)
    lname = np.char.lower(np.char.replace(last.astype(str), "'", "")).astype(object)
    num = rng.integers(1, 99, size=m).astype(str).astype(object)
    forms = [f + "." + lname, f + lname + num, np.array([s[0] for s in f], dtype=object) + lname]
    local = np.choose(rng.integers(0, 3, size=m), forms)
    return local + "@" + dom


_MONTHS = np.array(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"], dtype=object,
)


def dates_of_birth(rng: np.random.Generator, m: int) -> np.ndarray:
    """Dates of birth as written after "DOB"/"born": 01/02/1980, 3/2/79, 3 March 1975 ..."""
    year = rng.integers(1940, 2006, size=m)
    month = rng.integers(1, 13, size=m)
    day = rng.integers(1, 29, size=m)
    dd = np.char.zfill(day.astype(str), 2).astype(object)
    mm = np.char.zfill(month.astype(str), 2).astype(object)
    yyyy = year.astype(str).astype(object)
    forms = [
        dd + "/" + mm + "/" + yyyy,
        day.astype(str).astype(object) + "/" + month.astype(str).astype(object) + "/"
        + np.char.zfill((year % 100).astype(str), 2).astype(object),
        day.astype(str).astype(object) + " " + _MONTHS[month - 1] + " " + yyyy,
        dd + "-" + mm + "-" + yyyy,
        dd + "." + mm + "." + yyyy,
    ]
    return np.choose(rng.choice(5, size=m, p=[0.4, 0.15, 0.25, 0.1, 0.1]), forms)


def ni_numbers(rng: np.random.Generator, m: int) -> np.ndarray:
    """National Insurance numbers, mostly the ``QQ`` example prefix, spaced or not."""
    first = np.array(list("ABCEGHJKLMNPRSTWXYZ"))
    second = np.array(list("ABCEGHJKLMNPRSTWXYZ"))
    prefix = np.where(
        rng.random(m) < 0.7,
        "QQ",
        rng.choice(first, size=m).astype(object) + rng.choice(second, size=m).astype(object),
    ).astype(object)
    d = _digits(rng, (m, 6)).astype(str)
    pairs = [np.char.add(d[:, i], d[:, i + 1]).astype(object) for i in (0, 2, 4)]
    letter = rng.choice(np.array(list("ABCD")), size=m).astype(object)
    spaced = prefix + " " + pairs[0] + " " + pairs[1] + " " + pairs[2] + " " + letter
    plain = prefix + pairs[0] + pairs[1] + pairs[2] + letter
    return np.where(rng.random(m) < 0.6, spaced, plain)


#: Sentences that carry an identifier (``{v}``), by identifier type.
ID_SENTENCES: dict[str, tuple[str, ...]] = {
    "NHS_NUMBER": (
        "NHS no {v}.",
        "NHS number {v} checked against wristband.",
        "(NHS {v})",
        "Pt's NHS number is {v}.",
        "nhs no: {v}",
    ),
    "POSTCODE": (
        "{Pt} lives at a flat in {v}.",
        "Home address postcode {v}.",
        "Police attended the address ({v}).",
        "{Pt} has moved to a hostel, postcode {v}.",
    ),
    "PHONE": (
        "{Rel} can be contacted on {v}.",
        "{Pt}'s mobile is {v}.",
        "Contact number for NOK: {v}.",
        "Called {pt} on {v}, no answer.",
        "Social worker's direct line {v}.",
    ),
    "EMAIL": (
        "Email received from {v} raising concerns.",
        "{Rel} emailed the ward ({v}).",
        "Copy of the letter sent to {v}.",
    ),
    "DOB": (
        "DOB {v}.",
        "D.O.B. {v}",
        "{Pt} (born {v}) is known to services.",
        "dob: {v}",
        "Date of birth {v}.",
    ),
    "NI_NUMBER": (
        "NI number {v} on the benefits letter.",
        "NINO {v}.",
        "DWP reference (NI no {v}) given to the appointee.",
    ),
}
