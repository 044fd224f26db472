"""Built-in, offline generator of GSM8K-style grade-school word problems.

Each template is a plain function that draws its numbers from a `random.Random`, records the
reasoning steps through `Solution.step` and returns the question text. `Solution.step` computes
every value from the expression string, so a written value can never disagree with its
`<<expr=value>>` annotation. Numbers are drawn so that every value is non-negative and exact to the
cent. Row i depends only on `(seed, offset + i)`, so growing a split never changes earlier rows.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

from rewardpipe.data.solution import format_number, safe_eval
from rewardpipe.errors import UserError

Num = int | float

MIN_STEPS = 2
MAX_STEPS = 8


# ---------------------------------------------------------------------------------------------
# Building blocks


@dataclass(frozen=True)
class Person:
    """A named character and the pronouns that go with them."""

    name: str
    he: str

    @property
    def He(self) -> str:
        return self.he.capitalize()

    @property
    def him(self) -> str:
        return "him" if self.he == "he" else "her"

    @property
    def his(self) -> str:
        return "his" if self.he == "he" else "her"

    @property
    def His(self) -> str:
        return self.his.capitalize()


_NAMES_SHE = (
    "Natalia", "Betty", "Julie", "Maria", "Aisha", "Sofia", "Emma", "Priya", "Mei", "Fatima",
    "Grace", "Olivia", "Chloe", "Hannah", "Leila", "Rosa", "Yuki", "Zoe", "Amara", "Nina", "Lucia",
)  # fmt: skip
_NAMES_HE = (
    "James", "Mohammed", "Carlos", "Liam", "Ethan", "Raj", "Kenji", "Omar", "Daniel", "Lucas",
    "Noah", "Tariq", "Mateo", "Samuel", "Jamal", "Ivan", "Hugo", "Ben", "Diego", "Kwame",
)  # fmt: skip
PEOPLE = tuple(Person(n, "she") for n in _NAMES_SHE) + tuple(Person(n, "he") for n in _NAMES_HE)


class Solution:
    """Collects GSM8K step lines; each value is computed from its expression, never typed."""

    def __init__(self, rng: random.Random) -> None:
        self._spaced = rng.random() < 0.75
        self._times = rng.choice(("*", "x")) if self._spaced else "*"
        self._lines: list[str] = []
        self._last: Num | None = None

    def step(self, before: str, expr: str, after: str = "", money: bool = False) -> Num:
        """Append `before EXPR = <<expr=value>>value after` and return the value.

        `expr` uses + - * / with spaces between terms; the annotation drops the spaces and always
        uses `*`, while the visible copy may use `x` like GSM8K writers do.
        """
        annotation = expr.replace(" ", "")
        value = _clean_value(annotation)
        written = format_number(value)
        shown = (expr if self._spaced else annotation).replace("*", self._times)
        calc = f"{shown} = {'$' if money else ''}<<{annotation}={written}>>{written}"
        line = f"{before} {calc}" if before else calc
        if after:
            line += after if after[0] in ".,;:!?" else f" {after}"
        self._lines.append(line)
        self._last = value
        return value

    def text(self) -> str:
        """The full answer: step lines, then `#### <value of the last step>`."""
        if self._last is None or not MIN_STEPS <= len(self._lines) <= MAX_STEPS:
            raise ValueError(f"a solution needs {MIN_STEPS}-{MAX_STEPS} steps, got {self._lines}")
        return "\n".join([*self._lines, f"#### {format_number(self._last)}"])


def _clean_value(expr: str) -> Num:
    """Evaluate `expr`; it must be non-negative and exact to the cent (a template bug otherwise)."""
    value = safe_eval(expr)
    if value is None or value < 0 or abs(value * 100 - round(value * 100)) > 1e-6:
        raise ValueError(f"template produced an unclean value: {expr} = {value}")
    value = round(value, 2)
    return int(value) if value == int(value) else value


@dataclass(frozen=True)
class Template:
    """One problem family: `build(rng, solution)` records the steps and returns the question."""

    name: str
    topic: str
    build: Callable[[random.Random, Solution], str]

    def __call__(self, rng: random.Random) -> dict[str, str]:
        solution = Solution(rng)
        question = self.build(rng, solution)
        return {"question": question, "answer": solution.text()}


def _person(rng: random.Random) -> Person:
    return rng.choice(PEOPLE)


def _people(rng: random.Random, k: int) -> list[Person]:
    return rng.sample(PEOPLE, k)


def _money(value: Num) -> str:
    """`$12` or `$2.50` for question text."""
    return f"${value}" if value == int(value) else f"${value:.2f}"


def _join(parts: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"


def _sum(values: Sequence[Num]) -> str:
    return " + ".join(str(v) for v in values)


def _cents(value: Fraction) -> bool:
    """Whether an exact value is a whole number of cents (used when drawing numbers)."""
    return (value * 100).denominator == 1


def _relation(rng: random.Random, x: int, grow: bool = True) -> tuple[str, str, str]:
    """A comparison with `x`: (phrase, `as`/`than`, expression), e.g. ("twice as many", "as", "x * 2")."""
    k = rng.randint(2, 15)
    options = [(f"{k} more", "than", f"{x} + {k}")]
    if grow:
        options += [("twice as many", "as", f"{x} * 2"), ("three times as many", "as", f"{x} * 3")]
    if x % 2 == 0:
        options.append(("half as many", "as", f"{x} / 2"))
    if x % 3 == 0 and x >= 6:
        options.append(("a third as many", "as", f"{x} / 3"))
    if x > k + 1:
        options.append((f"{k} fewer", "than", f"{x} - {k}"))
    return rng.choice(options)


_FRACTION_WORDS = {2: "half", 3: "a third", 4: "a quarter", 5: "a fifth"}
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Shopping

_STORE = (
    ("notebooks", (2, 3, 4, 5)),
    ("pens", (1, 1.5, 2)),
    ("erasers", (0.5, 1, 1.25)),
    ("folders", (1.5, 2, 3)),
    ("markers", (2, 2.5, 3)),
    ("apples", (0.5, 0.75, 1)),
    ("muffins", (2, 2.5, 3)),
    ("bottles of juice", (1.5, 2, 3)),
    ("packs of stickers", (1, 2, 4)),
    ("comic books", (3, 4, 6)),
    ("candles", (2, 5, 6)),
    ("T-shirts", (8, 10, 12)),
    ("pairs of socks", (3, 4, 5)),
)


def shopping_list(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    orders = [
        (noun, rng.randint(2, 9), rng.choice(prices))
        for noun, prices in rng.sample(_STORE, rng.randint(2, 4))
    ]
    listed = _join([f"{q} {noun} at {_money(price)} each" for noun, q, price in orders])
    costs = [s.step(f"The {noun} cost", f"{q} * {pr}", ".", money=True) for noun, q, pr in orders]
    total = s.step(f"In total, {p.he} spends", _sum(costs), ".", money=True)
    question = f"{p.name} buys {listed}."
    if rng.random() < 0.5:
        bill = min(b for b in (10, 20, 50, 100, 200, 500) if b > total)
        s.step(f"{p.He} gets", f"{bill} - {total}", "in change.", money=True)
        return f"{question} {p.He} pays with a ${bill} bill. How much change does {p.he} get?"
    return f"{question} How much does {p.he} spend in all?"


def bulk_savings(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    item, single = rng.choice(
        (
            ("granola bars", 1.5),
            ("yogurt cups", 1.25),
            ("juice boxes", 1),
            ("pencils", 0.5),
            ("tennis balls", 2),
        )
    )
    per_pack = rng.choice((6, 8, 10, 12))
    pack_price = rng.randint(int(single * per_pack * 0.5), int(single * per_pack) - 1)
    packs = rng.randint(2, 6)
    count = s.step(f"{p.He} needs", f"{packs} * {per_pack}", f"{item}.")
    loose = s.step("Buying them one at a time would cost", f"{count} * {single}", ".", money=True)
    bulk = s.step(f"Buying {packs} packs costs", f"{packs} * {pack_price}", ".", money=True)
    s.step(f"{p.He} saves", f"{loose} - {bulk}", "by buying packs.", money=True)
    return (
        f"A store sells {item} for {_money(single)} each or in packs of {per_pack} for "
        f"{_money(pack_price)}. {p.name} buys {packs} packs. How much money does {p.he} save "
        f"compared with buying the same number of {item} one at a time?"
    )


def party_planning(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    while True:
        friends, cousins, each = rng.randint(4, 15), rng.randint(2, 10), rng.choice((2, 3, 4))
        if (friends + cousins) * each % 8 == 0:
            break
    pizza_price, drink = rng.choice((10, 12, 14, 15)), rng.choice((1, 1.5, 2))
    decorations = rng.randint(10, 40)
    favors = rng.choice((None, 2, 3, 4))
    hosts = rng.choice((None, 2, 4))
    guests = s.step("There will be", f"{friends} + {cousins}", "guests.")
    slices = s.step("The guests will eat", f"{guests} * {each}", "slices of pizza.")
    pizzas = s.step(f"{p.He} needs", f"{slices} / 8", "pizzas.")
    costs = [s.step("The pizzas cost", f"{pizzas} * {pizza_price}", ".", money=True)]
    costs.append(s.step("The drinks cost", f"{guests} * {drink}", ".", money=True))
    favor_text = ""
    if favors is not None:
        costs.append(s.step("The party favors cost", f"{guests} * {favors}", ".", money=True))
        favor_text = f" and a ${favors} party favor"
    total = s.step("The party costs", _sum([*costs, decorations]), "in total.", money=True)
    question = (
        f"{p.name} is throwing a party for {friends} friends and {cousins} cousins. Each guest "
        f"will eat {each} slices of pizza, and each pizza has 8 slices and costs ${pizza_price}. "
        f"Each guest also gets a drink that costs {_money(drink)}{favor_text}, and decorations "
        f"cost ${decorations}."
    )
    if hosts is None:
        return f"{question} How much will the party cost?"
    s.step("Each host pays", f"{total} / {hosts}", ".", money=True)
    return f"{question} If {p.name} splits the cost equally with {hosts - 1} co-hosts, how much does each host pay?"


# ---------------------------------------------------------------------------------------------
# Comparisons

_ACTIVITIES = (
    ("sold", "sell", "cupcakes", "on Saturday", "on Sunday"),
    ("collected", "collect", "seashells", "in the morning", "in the afternoon"),
    ("picked", "pick", "apples", "on Monday", "on Tuesday"),
    ("baked", "bake", "cookies", "last week", "this week"),
    ("folded", "fold", "paper cranes", "in April", "in May"),
    ("planted", "plant", "tulip bulbs", "in the first hour", "in the second hour"),
    ("sold", "sell", "raffle tickets", "on Friday", "on Saturday"),
    ("washed", "wash", "cars", "in June", "in July"),
)


def relative_amounts(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    did, do, noun, first, second = rng.choice(_ACTIVITIES)
    x = rng.randint(6, 90)
    phrase, _, expr = _relation(rng, x)
    y = s.step(f"{p.name} {did}", expr, f"{noun} {second}.")
    s.step(f"{p.name} {did}", f"{x} + {y}", f"{noun} altogether.")
    return (
        f"{p.name} {did} {x} {noun} {first}, and then {p.he} {did} {phrase} {noun} {second}. "
        f"How many {noun} did {p.name} {do} altogether?"
    )


def collection_chain(rng: random.Random, s: Solution) -> str:
    folks = _people(rng, rng.randint(2, 7))
    noun = rng.choice(("marbles", "stickers", "stamps", "trading cards", "seashells", "coins"))
    counts = [rng.randint(5, 40)]
    sentences = [f"{folks[0].name} has {counts[0]} {noun}."]
    for prev, person in pairwise(folks):
        phrase, word, expr = _relation(rng, counts[-1], grow=counts[-1] <= 60)
        sentences.append(f"{person.name} has {phrase} {noun} {word} {prev.name}.")
        counts.append(s.step(f"{person.name} has", expr, f"{noun}."))
    total = s.step("Altogether they have", _sum(counts), f"{noun}.")
    if rng.random() < 0.5:
        price = rng.choice((0.5, 1, 2, 3))
        s.step("They would make", f"{total} * {price}", ".", money=True)
        ask = f"If they sell all of their {noun} for {_money(price)} each, how much money will they make?"
    else:
        ask = f"How many {noun} do they have altogether?"
    return " ".join([*sentences, ask])


# ---------------------------------------------------------------------------------------------
# Rates and speed


def two_leg_trip(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    s1, s2 = rng.sample(range(30, 75, 5), 2)
    t1, t2 = rng.randint(2, 5), rng.randint(1, 4)
    d1 = s.step(f"In the first part of the trip, {p.he} drives", f"{s1} * {t1}", "miles.")
    d2 = s.step(f"In the second part, {p.he} drives", f"{s2} * {t2}", "miles.")
    total = s.step(f"{p.He} drives", f"{d1} + {d2}", "miles in total.")
    legs = f"{p.He} drives at {s1} miles per hour for {t1} hours and then at {s2} miles per hour for {t2} hours."
    if rng.random() < 0.5:
        return f"{p.name} is on a road trip. {legs} How many miles does {p.he} drive in total?"
    distance = total + rng.randint(10, 150)
    s.step(f"{p.He} still has to drive", f"{distance} - {total}", "miles.")
    return f"{p.name} is driving to a city {distance} miles away. {legs} How many more miles does {p.he} have to drive?"


def average_speed(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    while True:
        t1, t2 = rng.randint(2, 5), rng.randint(2, 5)
        s1, s2 = rng.randrange(20, 70, 5), rng.randrange(20, 70, 5)
        if (s1 * t1 + s2 * t2) % (t1 + t2) == 0 and s1 != s2:
            break
    d1 = s.step(f"In the first {t1} hours {p.he} drove", f"{s1} * {t1}", "miles.")
    d2 = s.step(f"In the next {t2} hours {p.he} drove", f"{s2} * {t2}", "miles.")
    distance = s.step(f"{p.He} drove", f"{d1} + {d2}", "miles in total.")
    hours = s.step("The trip took", f"{t1} + {t2}", "hours.")
    s.step(f"{p.His} average speed was", f"{distance} / {hours}", "miles per hour.")
    return (
        f"{p.name} drove for {t1} hours at {s1} miles per hour and then for {t2} hours at {s2} "
        f"miles per hour. What was {p.his} average speed, in miles per hour, for the whole trip?"
    )


def babysitting_minutes(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    job = rng.choice(("babysitting", "tutoring", "dog walking", "gardening"))
    rate, minutes = rng.randrange(6, 31, 3), rng.randrange(10, 60, 5)
    per_minute = s.step(f"{p.name} earns", f"{rate} / 60", "per minute.", money=True)
    s.step(
        f"Working {minutes} minutes, {p.he} earned", f"{per_minute} * {minutes}", ".", money=True
    )
    return (
        f"{p.name} earns ${rate} an hour for {job}. Yesterday, {p.he} did {minutes} minutes of "
        f"{job}. How much did {p.he} earn?"
    )


# ---------------------------------------------------------------------------------------------
# Work


def factory_output(rng: random.Random, s: Solution) -> str:
    item = rng.choice(("toy cars", "bottles", "bolts", "candles", "notebooks", "mugs"))
    a, b = rng.randint(5, 30), rng.randint(5, 30)
    hours, days = rng.randint(6, 10), rng.randint(2, 6)
    made = (a + b) * hours * days
    box = rng.choice([k for k in (2, 3, 4, 5, 6, 8, 10, 12, 20, 25) if made % k == 0])
    per_hour = s.step("Together the machines make", f"{a} + {b}", f"{item} per hour.")
    per_day = s.step("Each day they make", f"{per_hour} * {hours}", f"{item}.")
    total = s.step(f"In {days} days they make", f"{per_day} * {days}", f"{item}.")
    s.step("That fills", f"{total} / {box}", "boxes.")
    return (
        f"A factory has two machines. The first makes {a} {item} per hour and the second makes "
        f"{b} {item} per hour. Both machines run {hours} hours a day, and the {item} are packed "
        f"in boxes of {box}. How many boxes are filled in {days} days?"
    )


_CREWS = (
    ("painters", "paint a house"),
    ("workers", "build a wall"),
    ("gardeners", "plant a park"),
    ("movers", "pack up a house"),
    ("volunteers", "clean a beach"),
    ("cleaners", "clean an office building"),
    ("builders", "put up a shed"),
    ("farmhands", "harvest a field"),
)


def crew_hours(rng: random.Random, s: Solution) -> str:
    crew, task = rng.choice(_CREWS)
    while True:
        w1, h1 = rng.randint(2, 6), rng.randint(2, 12)
        options = [w for w in range(2, 13) if w != w1 and w1 * h1 % w == 0]
        if options:
            break
    w2 = rng.choice(options)
    work = s.step("The job takes", f"{w1} * {h1}", f"{crew[:-1]}-hours.")
    hours = s.step(f"With {w2} {crew} it takes", f"{work} / {w2}", "hours.")
    question = f"It takes {w1} {crew} {h1} hours to {task}."
    if rng.random() < 0.5:
        return f"{question} How many hours would it take {w2} {crew} working at the same rate?"
    rate = rng.randint(10, 25)
    s.step(f"The {w2} {crew} earn", f"{w2} * {hours} * {rate}", "in total.", money=True)
    return (
        f"{question} Next time, {w2} {crew} working at the same rate do the job, and each of "
        f"them is paid ${rate} per hour. How much are they paid in total?"
    )


# ---------------------------------------------------------------------------------------------
# Time


def homework_time(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    first, second, third = rng.sample(("math", "reading", "science", "history", "Spanish"), 3)
    while True:
        m1, m2, days = rng.randrange(10, 50, 5), rng.randrange(10, 60, 5), rng.randint(3, 6)
        if (3 * m1 + m2) * days % 60 == 0:
            break
    doubled = s.step(f"{p.He} spends", f"{m1} * 2", f"minutes on {third}.")
    daily = s.step(f"Each day {p.he} spends", f"{m1} + {m2} + {doubled}", "minutes on homework.")
    weekly = s.step("Each week that is", f"{daily} * {days}", "minutes.")
    s.step("That is", f"{weekly} / 60", "hours.")
    return (
        f"Every school day, {p.name} spends {m1} minutes on {first} homework, {m2} minutes on "
        f"{second} and twice as long on {third} as on {first}. {p.He} does homework {days} days "
        f"a week. How many hours does {p.he} spend on homework each week?"
    )


def practice_hours(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    hobby = rng.choice(("the piano", "the violin", "the guitar", "chess", "swimming", "drawing"))
    while True:
        minutes, days, weeks = (
            rng.choice((15, 20, 30, 40, 45, 90)),
            rng.randint(2, 7),
            rng.randint(2, 8),
        )
        if minutes * days * weeks % 60 == 0:
            break
    weekly = s.step(f"Each week {p.he} practices", f"{minutes} * {days}", "minutes.")
    total = s.step(f"In {weeks} weeks {p.he} practices", f"{weekly} * {weeks}", "minutes.")
    s.step("That is", f"{total} / 60", "hours.")
    return (
        f"{p.name} practices {hobby} for {minutes} minutes a day, {days} days a week. How many "
        f"hours does {p.he} practice in {weeks} weeks?"
    )


# ---------------------------------------------------------------------------------------------
# Ages


def ages_future(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    relative = rng.choice(("mother", "father", "aunt", "uncle", "grandmother", "grandfather"))
    while True:
        age, times = rng.randint(4, 15), rng.randint(3, 8)
        if 24 <= age * times <= 75:
            break
    later = rng.randint(2, 12)
    theirs = s.step(f"{p.His} {relative} is", f"{age} * {times}", "years old.")
    mine = s.step(f"In {later} years, {p.name} will be", f"{age} + {later}", "years old.")
    other = s.step(f"{p.His} {relative} will be", f"{theirs} + {later}", "years old.")
    s.step("The sum of their ages will be", f"{mine} + {other}", "years.")
    return (
        f"{p.name} is {age} years old. {p.His} {relative} is {times} times as old as {p.him}. "
        f"In {later} years, what will be the sum of their ages?"
    )


def ages_chain(rng: random.Random, s: Solution) -> str:
    a, b, c = _people(rng, 3)
    youngest, gap, ago = rng.randint(3, 20), rng.randint(2, 9), rng.randint(2, 8)
    middle = s.step(f"{b.name} is", f"{youngest} + {gap}", "years old.")
    oldest = s.step(f"{a.name} is", f"{middle} * 2", "years old.")
    s.step(f"{ago} years ago, {a.name} was", f"{oldest} - {ago}", "years old.")
    return (
        f"{a.name} is twice as old as {b.name}. {b.name} is {gap} years older than {c.name}, who "
        f"is {youngest} years old. How old was {a.name} {ago} years ago?"
    )


# ---------------------------------------------------------------------------------------------
# Percentages


def sale_discount(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    item = rng.choice(("jacket", "pair of boots", "backpack", "lamp", "bicycle helmet", "watch"))
    price, percent, count = rng.randrange(20, 220, 20), rng.randrange(10, 55, 5), rng.randint(2, 4)
    off = s.step("The discount is", f"{price} * {percent} / 100", ".", money=True)
    sale = s.step("The sale price is", f"{price} - {off}", ".", money=True)
    s.step(f"{p.He} pays", f"{sale} * {count}", "in total.", money=True)
    return (
        f"A {item} costs ${price}. During a sale, the price is reduced by {percent}%. {p.name} "
        f"buys {count} of them. How much does {p.he} pay?"
    )


def percent_club(rng: random.Random, s: Solution) -> str:
    place, member = rng.choice(
        (
            ("A school", "students"),
            ("A summer camp", "campers"),
            ("A sports center", "members"),
            ("A youth club", "members"),
        )
    )
    club = rng.choice(
        ("in the chess club", "in the choir", "on the robotics team", "on the soccer team")
    )
    while True:
        total, girls_pct, club_pct = (
            rng.randrange(20, 420, 20),
            rng.randrange(30, 75, 5),
            rng.randrange(10, 90, 10),
        )
        boys = total - total * girls_pct // 100
        if total * girls_pct % 100 == 0 and boys * club_pct % 100 == 0:
            break
    girls = s.step("There are", f"{total} * {girls_pct} / 100", "girls.")
    boys = s.step("There are", f"{total} - {girls}", "boys.")
    joined = s.step("Of the boys,", f"{boys} * {club_pct} / 100", f"are {club}.")
    question = f"{place} has {total} {member}, and {girls_pct}% of them are girls. {club_pct}% of the boys are {club}."
    if rng.random() < 0.5:
        return f"{question} How many boys are {club}?"
    s.step("So", f"{boys} - {joined}", f"boys are not {club}.")
    return f"{question} How many boys are not {club}?"


def restaurant_bill(rng: random.Random, s: Solution) -> str:
    people = rng.randint(2, 5)
    while True:
        mains, main_price = rng.randint(2, 6), rng.randint(8, 20)
        drinks, drink_price = rng.randint(2, 6), rng.choice((2, 2.5, 3))
        tip = rng.choice((10, 15, 20))
        subtotal = mains * main_price + drinks * Fraction(str(drink_price))
        total = subtotal * (100 + tip) / 100
        if _cents(subtotal * tip / 100) and _cents(total / people):
            break
    split = rng.random() < 0.5
    food = s.step("The meals cost", f"{mains} * {main_price}", ".", money=True)
    drink = s.step("The drinks cost", f"{drinks} * {drink_price}", ".", money=True)
    bill = s.step("The bill comes to", f"{food} + {drink}", ".", money=True)
    extra = s.step("The tip is", f"{bill} * {tip} / 100", ".", money=True)
    paid = s.step("They pay", f"{bill} + {extra}", "in total.", money=True)
    question = (
        f"{people} friends go out to eat. They order {mains} meals at ${main_price} each and "
        f"{drinks} drinks at {_money(drink_price)} each, and they leave a {tip}% tip on the bill."
    )
    if not split:
        return f"{question} How much do they pay in total?"
    s.step("Each friend pays", f"{paid} / {people}", ".", money=True)
    return f"{question} If they split the cost evenly, how much does each friend pay?"


# ---------------------------------------------------------------------------------------------
# Fractions


def fraction_spending(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    first, second = rng.sample(
        ("books", "a new game", "snacks", "a gift", "art supplies", "a concert ticket"), 2
    )
    a, b = rng.randint(2, 5), rng.randint(2, 4)
    money = a * b * rng.randint(2, 15)
    spent = s.step(f"{p.He} spends", f"{money} / {a}", f"on {first}.", money=True)
    left = s.step(f"{p.He} has", f"{money} - {spent}", "left.", money=True)
    spent2 = s.step(f"{p.He} spends", f"{left} / {b}", f"on {second}.", money=True)
    s.step(f"{p.He} has", f"{left} - {spent2}", "left.", money=True)
    return (
        f"{p.name} has ${money}. {p.He} spends {_FRACTION_WORDS[a]} of it on {first} and then "
        f"{_FRACTION_WORDS[b]} of what is left on {second}. How much money does {p.he} have left?"
    )


def pizza_fraction(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    event, eaters = rng.choice(
        (
            ("a party", "guests"),
            ("a team dinner", "players"),
            ("a movie night", "friends"),
            ("a class celebration", "students"),
        )
    )
    pizzas, per = rng.randint(2, 9), rng.choice((6, 8, 10, 12))
    options = [(x, y) for x, y in ((1, 2), (2, 3), (3, 4), (3, 5), (5, 6)) if pizzas * per % y == 0]
    num, den = rng.choice(options)
    total = s.step("There were", f"{pizzas} * {per}", "slices.")
    eaten = s.step(f"The {eaters} ate", f"{total} * {num} / {den}", "slices.")
    s.step("There were", f"{total} - {eaten}", "slices left.")
    return (
        f"{p.name} ordered {pizzas} pizzas for {event}, and each pizza was cut into {per} slices. "
        f"The {eaters} ate {num}/{den} of the slices. How many slices were left?"
    )


def class_activities(rng: random.Random, s: Solution) -> str:
    teacher = _person(rng)
    first, second, third = rng.sample(("art", "music", "drama", "chess", "sports", "cooking"), 3)
    a, b = rng.randint(2, 5), rng.randint(2, 4)
    students = a * b * rng.randint(2, 12)
    one = s.step("", f"{students} / {a}", f"students choose {first}.")
    rest = s.step("That leaves", f"{students} - {one}", "students.")
    two = s.step("", f"{rest} / {b}", f"students choose {second}.")
    s.step("So", f"{rest} - {two}", f"students choose {third}.")
    return (
        f"{teacher.name}'s class of {students} students picks afternoon activities. "
        f"{_FRACTION_WORDS[a].capitalize()} of the students choose {first}, {_FRACTION_WORDS[b]} "
        f"of the remaining students choose {second}, and the rest choose {third}. How many "
        f"students choose {third}?"
    )


# ---------------------------------------------------------------------------------------------
# Unit conversion


def rope_pieces(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    feet = rng.randint(3, 20)
    piece = rng.choice(
        [k for k in (2, 3, 4, 6, 8, 9, 12, 18, 24) if feet * 12 % k == 0 and k < feet * 12]
    )
    inches = s.step("The rope is", f"{feet} * 12", "inches long.")
    pieces = s.step(f"{p.He} gets", f"{inches} / {piece}", "pieces.")
    question = f"{p.name} has a rope that is {feet} feet long. {p.He} cuts it into pieces that are each {piece} inches long."
    if rng.random() < 0.5:
        return f"{question} How many pieces does {p.he} get?"
    price = rng.choice((0.5, 1, 1.5, 2))
    s.step(f"{p.He} makes", f"{pieces} * {price}", ".", money=True)
    return f"{question} If {p.he} sells each piece for {_money(price)}, how much money does {p.he} make?"


def water_cups(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    jug = rng.choice(("jug", "bottle", "cooler", "pitcher"))
    drink = rng.choice(("water", "lemonade", "iced tea", "juice"))
    liters, jugs = rng.choice((2, 3, 4, 5, 10)), rng.randint(2, 6)
    cup = rng.choice([c for c in (150, 200, 250, 300, 400, 500) if liters * 1000 * jugs % c == 0])
    per_jug = s.step(f"One {jug} holds", f"{liters} * 1000", "milliliters.")
    total = s.step(f"{jugs} {jug}s hold", f"{per_jug} * {jugs}", "milliliters.")
    s.step(f"{p.He} can fill", f"{total} / {cup}", "cups.")
    return (
        f"A {jug} holds {liters} liters of {drink}. {p.name} fills {jugs} {jug}s and pours the "
        f"{drink} into cups that hold {cup} milliliters each. How many cups can {p.he} fill?"
    )


def fabric_dresses(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    yards = rng.randint(4, 30)
    need = rng.choice([f for f in (2, 3, 4, 5, 6, 9) if yards * 3 % f == 0])
    feet = s.step(f"{p.He} has", f"{yards} * 3", "feet of fabric.")
    dresses = s.step(f"{p.He} can make", f"{feet} / {need}", "dresses.")
    question = f"{p.name} buys {yards} yards of fabric. Each dress {p.he} sews needs {need} feet of fabric. There are 3 feet in a yard."
    if rng.random() < 0.5:
        return f"{question} How many dresses can {p.he} make?"
    price = rng.randint(15, 60)
    s.step(f"{p.He} earns", f"{dresses} * {price}", ".", money=True)
    return f"{question} If {p.he} sells every dress for ${price}, how much money does {p.he} earn?"


# ---------------------------------------------------------------------------------------------
# Sharing and division


def candy_sharing(rng: random.Random, s: Solution) -> str:
    a, b, c = _people(rng, 3)
    noun = rng.choice(("candies", "stickers", "crayons", "grapes", "baseball cards"))
    while True:
        x, y = rng.randint(4, 40), rng.randint(4, 40)
        if (3 * x + y) % 3 == 0:
            break
    third = s.step(f"{c.name} has", f"{x} * 2", f"{noun}.")
    total = s.step("Together they have", f"{x} + {y} + {third}", f"{noun}.")
    s.step("Each of them gets", f"{total} / 3", f"{noun}.")
    return (
        f"{a.name} has {x} {noun}, {b.name} has {y} {noun}, and {c.name} has twice as many "
        f"{noun} as {a.name}. They put all their {noun} together and share them equally among "
        f"the three of them. How many {noun} does each of them get?"
    )


def bake_sale_bags(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    treat = rng.choice(("cookies", "brownies", "muffins", "cupcakes"))
    trays, per_tray = rng.randint(2, 6), rng.choice((12, 16, 20, 24))
    bag = rng.choice([b for b in (2, 3, 4, 6, 8) if trays * per_tray % b == 0])
    price = rng.choice((2, 2.5, 3, 4, 5))
    made = s.step(f"{p.He} bakes", f"{trays} * {per_tray}", f"{treat}.")
    bags = s.step(f"{p.He} fills", f"{made} / {bag}", "bags.")
    s.step(f"{p.He} makes", f"{bags} * {price}", ".", money=True)
    return (
        f"{p.name} bakes {trays} trays of {treat} with {per_tray} {treat} on each tray. {p.He} "
        f"puts them into bags of {bag} and sells each bag for {_money(price)}. How much money "
        f"does {p.he} make?"
    )


def ratio_split(rng: random.Random, s: Solution) -> str:
    a, b = _people(rng, 2)
    big = rng.randint(2, 7)
    small = rng.randint(1, big - 1)
    amount = (big + small) * rng.randint(3, 30)
    parts = s.step("The ratio has", f"{big} + {small}", "parts.")
    part = s.step("Each part is worth", f"{amount} / {parts}", ".", money=True)
    share_a = s.step(f"{a.name} gets", f"{part} * {big}", ".", money=True)
    share_b = s.step(f"{b.name} gets", f"{part} * {small}", ".", money=True)
    s.step(f"{a.name} gets", f"{share_a} - {share_b}", f"more than {b.name}.", money=True)
    return (
        f"{a.name} and {b.name} share ${amount} in the ratio {big}:{small}, with {a.name} getting "
        f"the larger share. How much more money does {a.name} get than {b.name}?"
    )


# ---------------------------------------------------------------------------------------------
# Profit and loss


def resale_profit(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    item = rng.choice(("vases", "phone cases", "plant pots", "picture frames", "mugs"))
    bought, broken, cost = rng.randint(10, 40), rng.randint(1, 5), rng.randint(2, 12)
    sell = -(-bought * cost // (bought - broken)) + rng.randint(0, 6)
    spent = s.step(f"{p.He} spends", f"{bought} * {cost}", ".", money=True)
    sold = s.step(f"{p.He} sells", f"{bought} - {broken}", f"{item}.")
    revenue = s.step(f"{p.He} earns", f"{sold} * {sell}", "from the sales.", money=True)
    s.step(f"{p.His} profit is", f"{revenue} - {spent}", ".", money=True)
    return (
        f"{p.name} buys {bought} {item} for ${cost} each. {broken} of them break, and {p.he} "
        f"sells the rest for ${sell} each. How much profit does {p.he} make?"
    )


def lemonade_stand(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    lemons, sugar = rng.randint(5, 15), rng.randint(2, 8)
    price = rng.choice((0.5, 0.75, 1, 1.25, 1.5, 2))
    cups = -(-(lemons + sugar) * 4 // int(price * 4)) + rng.randint(0, 30)
    costs = s.step(f"{p.He} spends", f"{lemons} + {sugar}", "on supplies.", money=True)
    revenue = s.step(f"{p.He} takes in", f"{cups} * {price}", ".", money=True)
    s.step(f"{p.His} profit is", f"{revenue} - {costs}", ".", money=True)
    return (
        f"{p.name} runs a lemonade stand. {p.He} spends ${lemons} on lemons and ${sugar} on "
        f"sugar, then sells {cups} cups of lemonade for {_money(price)} each. How much profit "
        f"does {p.he} make?"
    )


# ---------------------------------------------------------------------------------------------
# Savings and interest


def bike_savings(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    thing = rng.choice(("bike", "video game console", "skateboard", "telescope", "guitar"))
    job = rng.choice(("mowing lawns", "walking dogs", "washing cars", "delivering newspapers"))
    allowance, earned, weeks, has = (
        rng.randint(3, 15),
        rng.randint(5, 25),
        rng.randint(2, 12),
        rng.randint(10, 80),
    )
    price = has + weeks * (allowance + earned)
    need = s.step(f"{p.He} still needs", f"{price} - {has}", ".", money=True)
    weekly = s.step(f"Each week {p.he} saves", f"{allowance} + {earned}", ".", money=True)
    s.step(f"It will take {p.him}", f"{need} / {weekly}", "weeks.")
    return (
        f"{p.name} wants to buy a {thing} that costs ${price}. {p.He} already has ${has}. {p.He} "
        f"gets ${allowance} a week in allowance and earns ${earned} a week {job}. How many weeks "
        f"will it take {p.him} to save enough money?"
    )


def doubling_savings(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    months = rng.randint(3, 6)
    start = rng.randint(0, 12 - months)
    names = _MONTHS[start : start + months]
    saved = [rng.randint(2, 20)]
    for month in names[1:]:
        saved.append(s.step(f"In {month}, {p.he} saved", f"{saved[-1]} * 2", ".", money=True))
    total = s.step(f"In total, {p.he} saved", _sum(saved), ".", money=True)
    question = (
        f"{p.name} saved ${saved[0]} in {names[0]}. Each month after that, {p.he} saved twice as "
        f"much as the month before."
    )
    if rng.random() < 0.5:
        return f"{question} How much had {p.he} saved in total by the end of {names[-1]}?"
    spend = rng.randint(1, int(total))
    s.step(f"{p.He} has", f"{total} - {spend}", "left.", money=True)
    return f"{question} At the end of {names[-1]}, {p.he} spends ${spend} of the savings. How much does {p.he} have left?"


def simple_interest(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    principal, rate, years = rng.randrange(100, 5100, 100), rng.randint(2, 10), rng.randint(2, 6)
    yearly = s.step("Each year the interest is", f"{principal} * {rate} / 100", ".", money=True)
    interest = s.step(f"In {years} years the interest is", f"{yearly} * {years}", ".", money=True)
    s.step(f"{p.He} will have", f"{principal} + {interest}", ".", money=True)
    return (
        f"{p.name} puts ${principal} in a savings account that pays {rate}% simple interest per "
        f"year. How much money will be in the account after {years} years?"
    )


def compound_interest(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    # A principal in hundreds at 10% or 20% stays exact to the cent for three years.
    principal, rate, years = 100 * rng.randint(5, 120), rng.choice((10, 20)), rng.randint(2, 3)
    balance = principal
    for year in ("first", "second", "third")[:years]:
        interest = s.step(
            f"In the {year} year, the interest is", f"{balance} * {rate} / 100", ".", money=True
        )
        balance = s.step("The balance becomes", f"{balance} + {interest}", ".", money=True)
    return (
        f"{p.name} invests ${principal} in an account that earns {rate}% interest each year, "
        f"added to the balance at the end of the year. How much is in the account after {years} "
        f"years?"
    )


# ---------------------------------------------------------------------------------------------
# Recipes


def recipe_scale(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    dish, liquid = rng.choice(
        (("pancakes", "milk"), ("bread", "water"), ("muffins", "milk"), ("pizza dough", "water"))
    )
    servings, factor = rng.choice((2, 3, 4, 6)), rng.randint(2, 5)
    flour, wet = rng.choice((1, 1.5, 2, 2.5, 3, 4)), rng.choice((0.5, 1, 1.5, 2))
    times = s.step(f"{p.He} is making", f"{servings * factor} / {servings}", "times the recipe.")
    need_flour = s.step(f"{p.He} needs", f"{flour} * {times}", "cups of flour.")
    need_wet = s.step(f"{p.He} needs", f"{wet} * {times}", f"cups of {liquid}.")
    s.step(f"Altogether {p.he} uses", f"{need_flour} + {need_wet}", "cups.")
    return (
        f"A recipe for {servings} servings of {dish} uses {format_number(flour)} cups of flour "
        f"and {format_number(wet)} cups of {liquid}. {p.name} wants to make {servings * factor} "
        f"servings. How many cups of flour and {liquid} will {p.he} use altogether?"
    )


def egg_cartons(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    dish = rng.choice(("cakes", "quiches", "custards", "pancakes", "cookies", "sponge cakes"))
    carton, per_batch = rng.choice((6, 12)), rng.randint(2, 5)
    batches = rng.choice([b for b in range(2, 25) if b * per_batch % carton == 0])
    price = rng.choice((1.5, 2, 2.5, 3, 3.5, 4, 4.5))
    eggs = s.step(f"{p.He} needs", f"{per_batch} * {batches}", "eggs.")
    cartons = s.step(f"{p.He} buys", f"{eggs} / {carton}", "cartons.")
    s.step(f"{p.He} spends", f"{cartons} * {price}", "on eggs.", money=True)
    return (
        f"{p.name} is making {batches} batches of {dish}, and each batch needs {per_batch} eggs. "
        f"Eggs are sold in cartons of {carton} for {_money(price)} a carton. How much does "
        f"{p.he} spend on eggs?"
    )


# ---------------------------------------------------------------------------------------------
# Areas and perimeters


def fence_cost(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    length, width, price = rng.randint(10, 60), rng.randint(5, 40), rng.choice((2, 3, 4, 5, 2.5))
    fence = s.step("The perimeter is", f"2 * {length} + 2 * {width}", "feet.")
    garden = f"{p.name} has a rectangular garden that is {length} feet long and {width} feet wide."
    ask = f"Fencing costs {_money(price)} per foot. How much will the fence cost?"
    if rng.random() < 0.5:
        gate = rng.choice((3, 4, 5, 6))
        fence = s.step(
            f"Leaving room for the gate, {p.he} needs", f"{fence} - {gate}", "feet of fencing."
        )
        garden += f" {p.He} wants to fence it, leaving a {gate}-foot gap for a gate."
    else:
        garden += f" {p.He} wants to put a fence all the way around it."
    s.step("The fence will cost", f"{fence} * {price}", ".", money=True)
    return f"{garden} {ask}"


def floor_tiles(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    while True:
        length, width, cover = (
            rng.randint(6, 30),
            rng.randint(6, 25),
            rng.choice((8, 10, 12, 15, 20)),
        )
        if length * width % cover == 0:
            break
    price = rng.randint(15, 60)
    area = s.step("The floor is", f"{length} * {width}", "square feet.")
    boxes = s.step(f"{p.He} needs", f"{area} / {cover}", "boxes of tiles.")
    s.step("The tiles cost", f"{boxes} * {price}", ".", money=True)
    return (
        f"{p.name} is tiling a floor that is {length} feet by {width} feet. One box of tiles "
        f"covers {cover} square feet and costs ${price}. How much will the tiles cost?"
    )


def wall_paint(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    while True:
        length, height, door, cover = (
            rng.randint(8, 20),
            rng.randint(8, 10),
            rng.choice((18, 20, 21, 24)),
            rng.choice((25, 50, 100)),
        )
        if (4 * length * height - door) % cover == 0:
            break
    wall = s.step("One wall is", f"{length} * {height}", "square feet.")
    walls = s.step("The four walls are", f"{wall} * 4", "square feet.")
    paint = s.step("Without the door, there are", f"{walls} - {door}", "square feet to paint.")
    cans = s.step(f"{p.He} needs", f"{paint} / {cover}", "cans of paint.")
    question = (
        f"{p.name} is painting the four walls of a room. Each wall is {length} feet long and "
        f"{height} feet high, and the door takes up {door} square feet that will not be painted. "
        f"A can of paint covers {cover} square feet."
    )
    if rng.random() < 0.5:
        return f"{question} How many cans of paint does {p.he} need?"
    price = rng.randint(12, 40)
    s.step("The paint costs", f"{cans} * {price}", ".", money=True)
    return f"{question} If each can costs ${price}, how much does {p.he} spend on paint?"


# ---------------------------------------------------------------------------------------------
# Tickets


def family_tickets(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    adults, kids = rng.randint(1, 4), rng.randint(1, 5)
    adult_price = rng.randint(8, 20)
    kid_price = rng.randint(4, adult_price - 2)
    snacks, snack_price = rng.randint(1, 5), rng.choice((3, 4.5, 5, 6))
    place = rng.choice(("the movies", "the zoo", "a museum", "an aquarium"))
    grown = s.step("Adult tickets cost", f"{adults} * {adult_price}", ".", money=True)
    young = s.step("Children's tickets cost", f"{kids} * {kid_price}", ".", money=True)
    food = s.step("The snacks cost", f"{snacks} * {snack_price}", ".", money=True)
    total = s.step("Altogether they spend", f"{grown} + {young} + {food}", ".", money=True)
    question = (
        f"{p.name} takes {adults} adults and {kids} children to {place}, counting {p.him}self "
        f"as one of the adults. Adult tickets cost ${adult_price}, children's tickets cost "
        f"${kid_price}, and they buy {snacks} snacks at {_money(snack_price)} each."
    )
    if rng.random() < 0.5:
        return f"{question} How much do they spend in total?"
    bill = min(b for b in (50, 100, 150, 200) if b > total)
    s.step(f"{p.He} gets", f"{bill} - {total}", "in change.", money=True)
    return f"{question} {p.name} pays for everything with ${bill}. How much change does {p.he} get?"


def concert_sales(rng: random.Random, s: Solution) -> str:
    show = rng.choice(("a school play", "a concert", "a magic show", "a comedy night"))
    monday, fewer, price = rng.randint(20, 150), rng.randint(5, 30), rng.choice((5, 8, 10, 12, 15))
    tuesday = s.step("On Tuesday", f"{monday} * 2", "tickets were sold.")
    wednesday = s.step("On Wednesday", f"{tuesday} - {fewer}", "tickets were sold.")
    sold = s.step("In total", f"{monday} + {tuesday} + {wednesday}", "tickets were sold.")
    s.step("The tickets brought in", f"{sold} * {price}", ".", money=True)
    return (
        f"Tickets for {show} cost ${price} each. {monday} tickets were sold on Monday, twice as "
        f"many on Tuesday, and {fewer} fewer on Wednesday than on Tuesday. How much money did the "
        f"ticket sales bring in?"
    )


# ---------------------------------------------------------------------------------------------
# Wages


def overtime_pay(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    rate, hours = rng.randrange(10, 32, 2), rng.randint(42, 55)
    tax = rng.choice((None, 10, 20, 25))
    weeks = rng.choice((1, 1, 2, 3, 4))
    regular = s.step(f"For the first 40 hours {p.he} earns", f"40 * {rate}", ".", money=True)
    extra = s.step(f"{p.He} works", f"{hours} - 40", "hours of overtime.")
    extra_rate = s.step(f"{p.His} overtime rate is", f"{rate} * 1.5", "per hour.", money=True)
    extra_pay = s.step(f"{p.He} earns", f"{extra} * {extra_rate}", "for overtime.", money=True)
    pay = s.step(f"Each week {p.he} earns", f"{regular} + {extra_pay}", ".", money=True)
    question = (
        f"{p.name} earns ${rate} an hour for the first 40 hours {p.he} works each week and 1.5 "
        f"times that rate for every hour over 40. {p.He} works {hours} hours a week."
    )
    if tax is not None:
        withheld = s.step("Taxes take", f"{pay} * {tax} / 100", ".", money=True)
        pay = s.step(f"{p.He} takes home", f"{pay} - {withheld}", "a week.", money=True)
        question += f" {tax}% of {p.his} pay is withheld for taxes."
    kept = "take home" if tax is not None else "earn"
    if weeks == 1:
        return f"{question} How much does {p.he} {kept} in a week?"
    s.step(f"In {weeks} weeks {p.he} gets", f"{pay} * {weeks}", ".", money=True)
    return f"{question} How much does {p.he} {kept} in {weeks} weeks?"


def weekly_wages(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    job = rng.choice(("at a bookstore", "at a bakery", "as a lifeguard", "at a cafe", "at a farm"))
    hours, rate, days, weeks = (
        rng.randint(3, 8),
        rng.randint(8, 25),
        rng.randint(2, 6),
        rng.randint(2, 5),
    )
    daily = s.step(f"Each day {p.he} earns", f"{hours} * {rate}", ".", money=True)
    weekly = s.step(f"Each week {p.he} earns", f"{daily} * {days}", ".", money=True)
    total = s.step(f"In {weeks} weeks {p.he} earns", f"{weekly} * {weeks}", ".", money=True)
    question = f"{p.name} works {job} for {hours} hours a day, {days} days a week, and is paid ${rate} an hour."
    if rng.random() < 0.5:
        return f"{question} How much does {p.he} earn in {weeks} weeks?"
    spend = rng.randint(10, int(total) - 1)
    s.step(f"{p.He} has", f"{total} - {spend}", "left.", money=True)
    return f"{question} After {weeks} weeks {p.he} spends ${spend} on a gift. How much of {p.his} earnings does {p.he} have left?"


# ---------------------------------------------------------------------------------------------
# Sports and averages


def basketball_points(rng: random.Random, s: Solution) -> str:
    p, mate = _people(rng, 2)
    twos, threes, free = rng.randint(2, 12), rng.randint(0, 6), rng.randint(0, 8)
    from_twos = s.step(f"{p.name} scored", f"{twos} * 2", "points from two-pointers.")
    from_threes = s.step(f"{p.He} scored", f"{threes} * 3", "points from three-pointers.")
    points = s.step(f"{p.He} scored", f"{from_twos} + {from_threes} + {free}", "points in all.")
    phrase, word, expr = _relation(rng, points)
    other = s.step(f"{mate.name} scored", expr, "points.")
    s.step("Together they scored", f"{points} + {other}", "points.")
    return (
        f"In a basketball game, {p.name} made {twos} two-point shots, {threes} three-point shots "
        f"and {free} free throws worth 1 point each. {mate.name} scored {phrase} points {word} "
        f"{p.name}. How many points did the two of them score together?"
    )


def points_needed(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    sport = rng.choice(("basketball", "handball", "rugby"))
    games, avg = rng.randint(3, 6), rng.randint(8, 25)
    target = avg + rng.randint(1, 5)
    so_far = s.step(f"So far {p.he} has scored", f"{avg} * {games}", "points.")
    needed = s.step(
        f"To average {target} over {games + 1} games {p.he} needs",
        f"{target} * {games + 1}",
        "points.",
    )
    s.step(f"{p.He} must score", f"{needed} - {so_far}", "points in the next game.")
    return (
        f"{p.name} has averaged {avg} points per game over {p.his} first {games} {sport} games. "
        f"How many points must {p.he} score in the next game to average {target} points per game?"
    )


def test_average(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    count = rng.randint(3, 6)
    while True:
        mean = rng.randint(60, 95)
        scores = [mean + rng.randint(-10, 10) for _ in range(count - 1)]
        scores.append(mean * count - sum(scores))
        if 0 <= scores[-1] <= 100:
            break
    total = s.step(f"{p.His} scores add up to", _sum(scores), "points.")
    s.step(f"{p.His} average is", f"{total} / {count}", ".")
    return f"{p.name} scored {_join([str(x) for x in scores])} on {p.his} {count} tests. What is {p.his} average score?"


# ---------------------------------------------------------------------------------------------
# Reading


def book_plan(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    while True:
        pages, first = rng.randrange(60, 420, 10), rng.randint(5, 40)
        if pages > 3 * first + 10 and (pages - 3 * first) % 2 == 0:
            break
    today = s.step(f"{p.name} read", f"{first} * 2", "pages today.")
    read = s.step(f"So {p.he} has read a total of", f"{first} + {today}", "pages.")
    left = s.step("There are", f"{pages} - {read}", "pages left.")
    s.step(f"{p.He} should read", f"{left} / 2", "pages tomorrow.")
    return (
        f"{p.name} is reading a {pages}-page book. Yesterday, {p.he} read {first} pages and "
        f"today, {p.he} read twice as many pages as yesterday. If {p.he} wants to read half of "
        f"the remaining pages tomorrow, how many pages should {p.he} read?"
    )


def reading_weeks(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    weekday, weekend, weeks = rng.randint(5, 30), rng.randint(10, 60), rng.randint(2, 8)
    pages = weeks * (5 * weekday + 2 * weekend)
    on_weekdays = s.step(f"On weekdays {p.he} reads", f"{weekday} * 5", "pages.")
    on_weekend = s.step(f"On the weekend {p.he} reads", f"{weekend} * 2", "pages.")
    weekly = s.step(f"Each week {p.he} reads", f"{on_weekdays} + {on_weekend}", "pages.")
    s.step(f"{p.He} finishes in", f"{pages} / {weekly}", "weeks.")
    return (
        f"{p.name} reads {weekday} pages every weekday and {weekend} pages on each day of the "
        f"weekend. How many weeks will it take {p.him} to read a {pages}-page book?"
    )


# ---------------------------------------------------------------------------------------------
# Fuel


def road_trip_fuel(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    while True:
        mpg, gallons = rng.choice((20, 25, 30, 35, 40)), rng.randint(2, 20)
        if gallons * mpg % 2 == 0:
            break
    one_way, price = gallons * mpg // 2, rng.choice((3, 3.5, 4, 2.5, 4.25))
    miles = s.step("The round trip is", f"{one_way} * 2", "miles.")
    used = s.step(f"{p.He} uses", f"{miles} / {mpg}", "gallons of gas.")
    s.step("The gas costs", f"{used} * {price}", ".", money=True)
    return (
        f"{p.name} drives to a lake {one_way} miles away and back. {p.His} car goes {mpg} miles "
        f"on a gallon of gas, and gas costs {_money(price)} per gallon. How much does {p.he} "
        f"spend on gas for the trip?"
    )


def fill_tank(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    vehicle = rng.choice(("car", "truck", "van", "pickup", "SUV"))
    tank = rng.choice((12, 14, 15, 16, 18, 20, 21, 24, 28, 30, 32, 36))
    fractions = ((1, 4), (1, 3), (1, 2), (3, 4), (2, 3), (1, 6), (5, 6), (1, 8), (3, 8))
    num, den = rng.choice([(a, b) for a, b in fractions if tank % b == 0])
    price = rng.choice((2.5, 2.75, 3, 3.25, 3.5, 3.75, 4))
    part = f"{tank} / {den}" if num == 1 else f"{tank} * {num} / {den}"
    inside = s.step("The tank has", part, "gallons in it.")
    need = s.step(f"{p.He} needs", f"{tank} - {inside}", "gallons to fill it.")
    s.step(f"{p.He} pays", f"{need} * {price}", ".", money=True)
    return (
        f"{p.name}'s {vehicle} has a {tank}-gallon gas tank that is {num}/{den} full. Gas costs "
        f"{_money(price)} a gallon. How much will it cost {p.him} to fill the tank?"
    )


# ---------------------------------------------------------------------------------------------
# Gardening and farms


def tomato_harvest(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    crop = rng.choice(("tomatoes", "peppers", "cucumbers", "zucchini"))
    while True:
        rows, per_row, yield_ = rng.randint(3, 10), rng.randint(4, 12), rng.randint(5, 20)
        box = rng.choice((4, 5, 6, 8, 10, 12))
        if rows * per_row * yield_ % box == 0:
            break
    price = rng.choice((2, 3, 4, 5))
    plants = s.step(f"{p.He} has", f"{rows} * {per_row}", "plants.")
    picked = s.step(f"{p.He} picks", f"{plants} * {yield_}", f"{crop}.")
    boxes = s.step(f"{p.He} fills", f"{picked} / {box}", "boxes.")
    s.step(f"{p.He} earns", f"{boxes} * {price}", ".", money=True)
    return (
        f"{p.name} plants {rows} rows of {crop} with {per_row} plants in each row. Each plant "
        f"gives {yield_} {crop}. {p.He} packs them in boxes of {box} and sells each box for "
        f"${price}. How much money does {p.he} make?"
    )


def flower_bed(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    first, second, third = rng.sample(("roses", "tulips", "daisies", "lilies", "pansies"), 3)
    pest = rng.choice(("Rabbits", "Deer", "Snails", "A hungry goat"))
    while True:
        x, times, fewer = rng.randint(4, 30), rng.randint(2, 4), rng.randint(2, 10)
        part = rng.randint(2, 5)
        if fewer < x * times and (x * (2 * times + 1) - fewer) % part == 0:
            break
    many = s.step(f"{p.He} planted", f"{x} * {times}", f"{second}.")
    few = s.step(f"{p.He} planted", f"{many} - {fewer}", f"{third}.")
    total = s.step(f"{p.He} planted", f"{x} + {many} + {few}", "flowers in all.")
    eaten = s.step(f"{pest} ate", f"{total} / {part}", "flowers.")
    s.step("There are", f"{total} - {eaten}", "flowers left.")
    times_word = {2: "twice", 3: "three times", 4: "four times"}[times]
    return (
        f"{p.name} planted {x} {first}, {times_word} as many {second} as {first}, and {fewer} "
        f"fewer {third} than {second}. {pest} ate {_FRACTION_WORDS[part]} of all the flowers. "
        f"How many flowers are left?"
    )


def farm_legs(rng: random.Random, s: Solution) -> str:
    p = _person(rng)
    birds = rng.choice(("chickens", "ducks", "geese", "turkeys"))
    beasts = rng.sample(("cows", "pigs", "goats", "sheep", "horses"), rng.randint(1, 2))
    counts = [rng.randint(3, 30) for _ in range(len(beasts) + 1)]
    legs = [s.step(f"The {birds} have", f"{counts[0]} * 2", "legs.")]
    legs += [
        s.step(f"The {b} have", f"{n} * 4", "legs.")
        for b, n in zip(beasts, counts[1:], strict=True)
    ]
    s.step("Altogether there are", _sum(legs), "legs.")
    animals = _join([f"{n} {name}" for name, n in zip((birds, *beasts), counts, strict=True)])
    return f"{p.name} has a farm with {animals}. How many legs do the animals have altogether?"


# ---------------------------------------------------------------------------------------------
# Classroom


def school_supplies(rng: random.Random, s: Solution) -> str:
    classes, per_class = rng.randint(2, 6), rng.randint(18, 32)
    while True:
        absent, each, pack = rng.randint(1, 12), rng.randint(2, 6), rng.choice((5, 10, 12, 20))
        if (classes * per_class - absent) * each % pack == 0:
            break
    supply = rng.choice(("pencils", "erasers", "glue sticks", "crayons"))
    students = s.step("The school has", f"{classes} * {per_class}", "students.")
    present = s.step("Today", f"{students} - {absent}", "students are present.")
    needed = s.step("They need", f"{present} * {each}", f"{supply}.")
    s.step("The teachers open", f"{needed} / {pack}", "packs.")
    return (
        f"A school has {classes} classes with {per_class} students in each. Today {absent} "
        f"students are absent. Every student who is present gets {each} {supply}, and {supply} "
        f"come in packs of {pack}. How many packs do the teachers need to open?"
    )


def field_trip(rng: random.Random, s: Solution) -> str:
    teacher = _person(rng)
    place = rng.choice(("science museum", "zoo", "aquarium", "art gallery", "farm", "planetarium"))
    while True:
        classes, per_class, adults = rng.randint(2, 6), rng.randint(18, 30), rng.randint(2, 12)
        seats = rng.choice((8, 10, 12, 15, 20))
        if (classes * per_class + adults) % seats == 0:
            break
    students = s.step("There are", f"{classes} * {per_class}", "students.")
    riders = s.step("With the adults, there are", f"{students} + {adults}", "people.")
    s.step("They need", f"{riders} / {seats}", "vans.")
    return (
        f"{teacher.name} is organizing a field trip to the {place} for {classes} classes of "
        f"{per_class} students each, with {adults} adult helpers. Each van holds {seats} people, "
        f"and every van will be full. How many vans do they need?"
    )


TEMPLATES: list[Template] = [
    Template("shopping_list", "shopping", shopping_list),
    Template("bulk_savings", "shopping", bulk_savings),
    Template("party_planning", "shopping", party_planning),
    Template("relative_amounts", "comparisons", relative_amounts),
    Template("collection_chain", "comparisons", collection_chain),
    Template("two_leg_trip", "rates", two_leg_trip),
    Template("average_speed", "rates", average_speed),
    Template("babysitting_minutes", "rates", babysitting_minutes),
    Template("factory_output", "work", factory_output),
    Template("crew_hours", "work", crew_hours),
    Template("homework_time", "time", homework_time),
    Template("practice_hours", "time", practice_hours),
    Template("ages_future", "ages", ages_future),
    Template("ages_chain", "ages", ages_chain),
    Template("sale_discount", "percentages", sale_discount),
    Template("percent_club", "percentages", percent_club),
    Template("restaurant_bill", "percentages", restaurant_bill),
    Template("fraction_spending", "fractions", fraction_spending),
    Template("pizza_fraction", "fractions", pizza_fraction),
    Template("class_activities", "fractions", class_activities),
    Template("rope_pieces", "units", rope_pieces),
    Template("water_cups", "units", water_cups),
    Template("fabric_dresses", "units", fabric_dresses),
    Template("candy_sharing", "sharing", candy_sharing),
    Template("bake_sale_bags", "sharing", bake_sale_bags),
    Template("ratio_split", "sharing", ratio_split),
    Template("resale_profit", "profit", resale_profit),
    Template("lemonade_stand", "profit", lemonade_stand),
    Template("bike_savings", "savings", bike_savings),
    Template("doubling_savings", "savings", doubling_savings),
    Template("simple_interest", "interest", simple_interest),
    Template("compound_interest", "interest", compound_interest),
    Template("recipe_scale", "recipes", recipe_scale),
    Template("egg_cartons", "recipes", egg_cartons),
    Template("fence_cost", "geometry", fence_cost),
    Template("floor_tiles", "geometry", floor_tiles),
    Template("wall_paint", "geometry", wall_paint),
    Template("family_tickets", "tickets", family_tickets),
    Template("concert_sales", "tickets", concert_sales),
    Template("overtime_pay", "wages", overtime_pay),
    Template("weekly_wages", "wages", weekly_wages),
    Template("basketball_points", "sports", basketball_points),
    Template("points_needed", "averages", points_needed),
    Template("test_average", "averages", test_average),
    Template("book_plan", "reading", book_plan),
    Template("reading_weeks", "reading", reading_weeks),
    Template("road_trip_fuel", "fuel", road_trip_fuel),
    Template("fill_tank", "fuel", fill_tank),
    Template("tomato_harvest", "gardening", tomato_harvest),
    Template("flower_bed", "gardening", flower_bed),
    Template("farm_legs", "counting", farm_legs),
    Template("school_supplies", "classroom", school_supplies),
    Template("field_trip", "classroom", field_trip),
]


def draw(seed: int, index: int) -> tuple[Template, dict[str, str]]:
    """Problem number `index` of the stream for `seed` and the template that wrote it.

    Seeding with a string goes through SHA-512, so the stream is the same in every process.
    """
    rng = random.Random(f"{seed}:{index}")
    template = rng.choice(TEMPLATES)
    return template, template(rng)


def generate(n: int, seed: int, offset: int = 0) -> list[dict[str, str]]:
    """`n` GSM8K-style rows `{"question", "answer"}` for indices `offset .. offset + n - 1`."""
    if n < 0 or offset < 0:
        raise UserError(f"synthetic data: n and offset must be >= 0, got n={n}, offset={offset}")
    return [draw(seed, offset + i)[1] for i in range(n)]
