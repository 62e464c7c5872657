"""A class challenge: the lecturer sets a task (a dataset, a parameter budget, steps of training),
students enter their designs under a display name, and a leaderboard ranks the runs as they finish.

Entries are ordinary runs (same queue, budgets and ownership); the challenge and who entered which
run live in two tables beside the run history, in its store (explorer/store/: the SQLite file or
the PostgreSQL server every replica of the server shares), so the board survives a restart.
Every entry trains with the challenge's one recipe for the same number of steps, so the board
compares designs alone: a budget of seconds gave one entry 35 epochs and another 126 in the same 20 s,
depending on what else the server was doing.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..arch.plan import plan_network
from ..arch.presets import PRESETS
from ..arch.share import closest_preset, spec_diff
from ..arch.spec import ResNetSpec, SpecError
from ..arch.validate import check_choice, check_int
from ..store import add_columns
from ..training.data import DATASETS
from ..training.recipe import Recipe, adapt_spec
from ..training.run_record import RunRecord, record_of
from ..training.runs import RunStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS challenges (
    id {id},
    title TEXT NOT NULL,
    dataset TEXT NOT NULL,
    max_params INTEGER NOT NULL,
    steps INTEGER NOT NULL,        -- of BATCH_SIZE images each, for every entry
    created DOUBLE PRECISION NOT NULL,
    closed DOUBLE PRECISION        -- no more entries after this; the board stays
);
CREATE TABLE IF NOT EXISTS entries (
    challenge_id BIGINT NOT NULL REFERENCES challenges(id) ON DELETE CASCADE,
    run_id BIGINT NOT NULL,
    display_name TEXT NOT NULL,
    params INTEGER NOT NULL,
    name_key TEXT,                 -- the name as compared (name_key): one person's on a board
    person TEXT,                   -- who first entered under it
    PRIMARY KEY (challenge_id, run_id)
);
"""
MAX_NAME = 40  # characters of a display name
MAX_ENTRIES = 3  # per display name and challenge: try a few designs, not a hundred
BATCH_SIZE = 128


@dataclass(frozen=True)
class Challenge:
    id: int
    title: str
    dataset: str
    max_params: int
    steps: int
    created: float
    closed: float | None

    @property
    def open(self) -> bool:
        return self.closed is None

    @property
    def recipe(self) -> Recipe:
        """The one recipe every entry trains with: momentum SGD with one-cycle at a rate that suits
        most small ResNets on these datasets (CPU_RECIPE's), for the challenge's steps."""
        return Recipe(
            dataset=self.dataset, batch_size=BATCH_SIZE, lr=0.1, optimizer="momentum", schedule="onecycle",
            weight_decay=5e-4, steps=self.steps,
        )  # fmt: skip

    @property
    def task(self) -> str:
        return (
            f"best {DATASETS[self.dataset].title} test accuracy with at most {self.max_params:,} parameters "
            f"after {self.steps:,} training steps of {BATCH_SIZE} images"
        )


@dataclass(frozen=True)
class Standing:
    """A row of the leaderboard: an entry and how its run stands."""

    rank: int | None  # 1.. for finished entries with an accuracy, None while they train (or failed)
    name: str
    run_id: int
    status: str
    test_acc: float | None
    params: int
    spec: dict


def check_challenge(title: str, dataset: str, max_params: int, steps: int) -> None:
    if not isinstance(title, str) or not 0 < len(title.strip()) <= 80:
        raise SpecError("title", "give the challenge a title of 1 to 80 characters")
    check_choice("dataset", dataset, tuple(DATASETS))
    check_int("max_params", max_params, 1_000, 100_000_000)
    check_int("steps", steps, 10, 100_000)


def entry_params(spec: ResNetSpec, challenge: Challenge) -> int:
    """The design's parameters as the challenge trains it: fitted to the dataset's channels and
    classes (what the budget counts). SpecError naming the limit if it is over."""
    fitted, _ = adapt_spec(spec, DATASETS[challenge.dataset], DATASETS[challenge.dataset].size)
    params = plan_network(fitted).params
    if params > challenge.max_params:
        raise SpecError(
            "max_params",
            f"this design has {params:,} parameters on {DATASETS[challenge.dataset].title}; "
            f"the challenge allows at most {challenge.max_params:,}",
        )
    return params


def entry_label(spec: ResNetSpec) -> str:
    """What an entry is, read off its design as it trains (fitted to the dataset): its closest preset,
    and whether it is that preset, an edited copy, or a plain network (no shortcuts)."""
    base = closest_preset(spec)
    preset = PRESETS[base].with_input(spec.input.channels, spec.input.height, spec.input.width)
    changes = spec_diff(preset.with_classes(spec.num_classes), spec)
    if not spec.residual:
        return f"{base}, plain (no shortcuts)" + (f", {len(changes) - 1} more edits" if len(changes) > 1 else "")
    return f"{base} (edited: {len(changes)} changes)" if changes else base


def check_name(name: str) -> str:
    name = " ".join(_visible(str(name)).split())
    if not 0 < len(name) <= MAX_NAME:
        raise SpecError("display name", f"a display name of 1 to {MAX_NAME} characters, please")
    scripts = sorted({_script(c) for c in name} - {None})
    if len(scripts) > 1:  # 'Αlice' with a Greek capital alpha passes for 'Alice' on a projector
        raise SpecError("display name", f"letters of one script, please ({name!r} mixes {' and '.join(scripts)})")
    return name


def name_key(name: str) -> str:
    """What two names are compared by: NFKC (full-width and ligatures to plain letters), case
    folded, invisible characters removed: 'alice', 'Alice' and 'Ａｌｉｃｅ' are one name."""
    return " ".join(unicodedata.normalize("NFKC", _visible(name)).casefold().split())


_IGNORABLE = {0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0, *range(0x180B, 0x1810), *range(0xFE00, 0xFE10)}
_SCRIPT_GROUPS = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK", "IDEOGRAPHIC": "CJK"}  # written together


def _visible(text: str) -> str:
    """Without format and control characters (zero-width spaces and joiners, direction marks) and
    the other default-ignorable code points, which show nothing."""
    return "".join(
        c for c in text if unicodedata.category(c) not in ("Cf", "Cc", "Co", "Cs", "Cn") and ord(c) not in _IGNORABLE
    )


def _script(char: str) -> str | None:
    """A letter's script, from its Unicode name's first word (LATIN, GREEK, CYRILLIC, CJK...)."""
    if not unicodedata.category(char).startswith("L"):
        return None  # digits, spaces and punctuation go with any script
    word = unicodedata.name(unicodedata.normalize("NFKC", char)[0], "UNKNOWN").split()[0]
    return _SCRIPT_GROUPS.get(word, word)


class ChallengeStore:
    """The challenges and their entries, in the run history's store (the same engine and database)."""

    def __init__(self, runs: RunStore) -> None:
        self.runs = runs
        self.engine = runs.engine
        with self.engine.connect() as db:
            db.lock_schema()
            if "seconds" in db.columns("challenges"):  # a board of the old time budget: not comparable, so it goes
                db.script("DROP TABLE IF EXISTS entries; DROP TABLE challenges;")
            db.script(SCHEMA.format(**db.types))
            add_columns(db, "entries", {"name_key": "TEXT", "person": "TEXT"})  # a board from before names had owners

    @property
    def where(self) -> str:
        return self.runs.where

    def current(self) -> Challenge | None:
        """The latest challenge (open or closed), None before the first or after a reset."""
        with self.engine.connect() as db:
            row = db.execute("SELECT * FROM challenges ORDER BY id DESC LIMIT 1").fetchone()
        return Challenge(**dict(row)) if row else None

    def start(self, title: str, dataset: str, max_params: int, steps: int) -> Challenge:
        """A new challenge; the previous one's board is cleared (one challenge at a time)."""
        check_challenge(title, dataset, max_params, steps)
        with self.engine.connect() as db:
            db.execute("DELETE FROM entries")
            db.execute("DELETE FROM challenges")
            db.execute(
                "INSERT INTO challenges (title, dataset, max_params, steps, created) VALUES (?, ?, ?, ?, ?)",
                (title.strip(), dataset, max_params, steps, time.time()),
            )
        return self.current()  # type: ignore[return-value]

    def close(self) -> None:
        with self.engine.connect() as db:
            db.execute("UPDATE challenges SET closed=? WHERE closed IS NULL", (time.time(),))

    def reset(self) -> None:
        """No challenge and an empty board (the entries' runs stay in the history)."""
        with self.engine.connect() as db:
            db.execute("DELETE FROM entries")
            db.execute("DELETE FROM challenges")

    def check_entry(self, challenge: Challenge, name: str, spec: ResNetSpec, person: str = "") -> tuple[str, int]:
        """The cleaned display name and the design's parameters, if `person` may enter under it
        (a name belongs to whoever first entered under it); else SpecError."""
        if not challenge.open:
            raise SpecError("challenge", "the challenge is closed: no more entries")
        name = check_name(name)
        params = entry_params(spec, challenge)
        with self.engine.connect() as db:
            rows = db.execute(
                "SELECT person FROM entries WHERE challenge_id=? AND name_key=? ORDER BY run_id",
                (challenge.id, name_key(name)),
            ).fetchall()
        if rows and rows[0]["person"] not in (None, person):  # None: entered before names had owners
            raise SpecError("display name", f"{name} is taken on this board by someone else: choose another name")
        if len(rows) >= MAX_ENTRIES:
            raise SpecError("entries", f"{name} has entered {len(rows)} designs; at most {MAX_ENTRIES} each")
        return name, params

    def enter(self, challenge: Challenge, name: str, run_id: int, params: int, person: str = "") -> None:
        with self.engine.connect() as db:
            db.execute(
                "INSERT INTO entries (challenge_id, run_id, display_name, params, name_key, person)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (challenge.id, run_id, name, params, name_key(name), person),
            )

    def remove(self, challenge: Challenge, run_id: int) -> None:
        """Take an entry off the board (the lecturer's; its run stays in the history)."""
        with self.engine.connect() as db:
            db.execute("DELETE FROM entries WHERE challenge_id=? AND run_id=?", (challenge.id, run_id))

    def standings(self, challenge: Challenge) -> list[Standing]:
        """The board: finished entries by test accuracy (fewer parameters first on a tie, then the
        earlier entry), ranked; then those still queued or training, then the failed ones."""
        with self.engine.connect() as db:  # one query for the board (it is polled while entries train)
            rows = db.execute(
                "SELECT runs.*, entries.display_name AS entry_name, entries.params AS entry_params FROM entries"
                " JOIN runs ON runs.id = entries.run_id WHERE entries.challenge_id=? ORDER BY entries.run_id",
                (challenge.id,),
            ).fetchall()  # a deleted run leaves the board
        entries = [(row, record_of(row)) for row in rows]
        done = sorted(
            (e for e in entries if _scored(e[1])), key=lambda e: (-e[1].test_acc, e[0]["entry_params"], e[1].id)
        )
        active = [e for e in entries if e[1].status in ("queued", "running")]
        rest = [e for e in entries if not _scored(e[1]) and e[1].status not in ("queued", "running")]
        board = [_standing(rank, row, run) for rank, (row, run) in enumerate(done, start=1)]
        return board + [_standing(None, row, run) for row, run in active + rest]


def _scored(run: RunRecord) -> bool:
    return run.status == "completed" and run.test_acc is not None


def _standing(rank: int | None, row: Mapping[str, Any], run: RunRecord) -> Standing:
    return Standing(rank, row["entry_name"], run.id, run.status, run.test_acc, row["entry_params"], run.spec)
