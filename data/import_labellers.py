"""A preference or KTO row's own labeller: labels made outside the app (a team's Label Studio or Argilla export, a
spreadsheet, a vendor's delivery) measured per labeller, as the app's are.

A chosen/rejected row, or a KTO row (one answer and its desirable/undesirable label), naming its labeller in a
``labeller`` column (``annotator``, Label Studio's, or ``user_id``, Argilla's, spell it too; a null one names none)
is that labeller's label, not the `import` annotator's: `stats --labellers`, Dawid–Skene, gold accuracy and the
exports read it as an app label. The name is checked as the app checks a user name (`data.annotators.is_user_name`:
a machine's name is reserved), refused in one line naming the file, row and column, as an empty cell, or one of
spaces, is. (A ranking or ratings row's labeller column is not read: such a cell names nobody there,
`data.import_columns.holds_nothing`.)

Agreement needs overlap, so labellers' rows on one prompt and the same two answer texts are one pair, whichever
file, row or labeller gives them (`LabelledPairs`): the pair stored over those texts (not an edit pair, whose
label is an editor's verdict; the earliest; where a merge brought several, the earliest holding the labeller's
records), an arena pair only where no other is (its label is then a vote on the arena's leaderboard, as the arena
app's, and evaluation data: no export or `train` reads it unless ``--kinds arena``; `write_records` counts them
``arena_votes``; where a pair for labelling came after, the labeller's votes an import stored on the arena pair are
still theirs, so a re-import adds nothing and `--remove` withdraws them: a vote cast in the arena app is no row of a
file, and does not count), else one over the stored answers of those texts (the earliest stored answer of each: an
answer imported with ``--unlabelled``, or sampled), else the answers are new (their source the file's name or
``--source``, as any import's), the first file or row giving them in one import; that pair's id is its two answers'
(`Pair`'s, in the order of their ids), so whichever labeller comes first makes the same pair. A row over a stored
answer of the arena (`data.selection.arena_answers`: evaluation data) and no arena pair is refused, naming the
field (``--on-error skip`` leaves it out: ``arena_answer``): a new pair would make that answer an ordinary one
(served by every app, its labels trained on), and a preference across no arena pair is no vote. A label's id is its
labeller's, pair's, choice and strength: importing the file again adds nothing; a file labelled again (a label
changed) adds the new label, which is that labeller's latest on the pair (as an edit in the app); but a row over a
pair whose labeller holds a label in force made in the app is not stored, agreeing or not (`data.import_labels.
keep_app_labels`, counted ``labelled_in_app``): nothing labelled in the app is lost to an import. One labeller holds
one label per pair: two rows (in one import) giving one labeller's different labels of one pair are refused, the
later naming the earlier (``--on-error skip`` leaves it out: ``conflicting_labeller_rows``), as which is theirs
is a guess; the same label twice is one.

A KTO row's item is an answer, by the same rules (`LabelledPairs.answer`): the stored answer of its prompt and
text that the KTO app serves (`data.selection.NO_ITEM_ENGINES` aside; the earliest; where several, the earliest
holding the labeller's records), else the one this import made of that text, else a new one of the file's source;
its label's id is its labeller's, answer's and choice, and everything above holds for it (one label per answer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import pyarrow as pa
import pyarrow.compute as pc

from data.annotators import EARLIEST, USER_NAME_RULE, is_user_name
from data.choice_agreement import SWAPPED
from data.errors import shown
from data.import_columns import LABELLER_COLUMNS, Reading
from data.import_labels import HISTORY_COLUMNS, labeller_label_id, made_by_import
from data.import_records import RecordError
from data.import_text import RecordContext
from data.records import Completion, Label, Pair
from data.selection import ARENA_RECORD_COLUMNS, NO_ITEM_ENGINES, arena_answers
from data.workspace import Workspace

LABELLER_CONFLICT = "conflicting_labeller_rows"
ITEM = {"pairwise": "pair", "kto": "answer"}  # what a labeller's label of each task is on, said
# the reason a row over an arena answer and no arena pair is refused (a KTO label naming nobody, a ranking or a
# rating, on one too)
ARENA_ANSWER = "arena_answer"
ARENA_UNNAMED = "arena_vote_unnamed"  # the reason a preference over an arena pair naming nobody is refused
ARENA_PAIR = "arena_pair_exists"  # a count key (`LabelledPairs.arena_held`): every two an arena pair's
ARENA_HELD = "arena_answer_exists"  # a count key (`LabelledPairs.arena_held`): answers, each the arena's
ANSWER_COLUMNS = ["prompt_id", "text", "engine", "created_at"]  # of the stored answers read (and the id)
NOT_REUSED = ("edit",)  # pair kinds whose labels mean something else: an editor's verdict
ARENA = "arena"  # a pair kind reused only where no other pair is over its texts: its labels are votes


@dataclass(frozen=True)
class Labeller:
    """The labeller a row names, and the column that names them."""

    name: str
    column: str


def row_labeller(row: Reading, ctx: RecordContext) -> Labeller | None:
    """The labeller ``row`` names (`LABELLER_COLUMNS`), or None; a name the app would refuse is a RecordError naming
    the column. A whole number (Label Studio's user id) is its digits."""
    given = [key for key in LABELLER_COLUMNS if key in row]  # a membership test reads nothing
    if not given:
        return None
    if len(given) > 1:
        message = f"columns {', '.join(given)} each name the row's labeller: give one"
        raise ctx.error(message, given[1], "bad_labeller")
    name = row.get(given[0])
    if isinstance(name, int) and not isinstance(name, bool):
        name = str(name)
    if not is_user_name(name):
        raise ctx.error(
            f"labeller {shown(name)}: a labeller's name is {USER_NAME_RULE}", given[0], "bad_labeller"
        )
    return Labeller(name, given[0])


@dataclass
class _Answers:
    """One prompt's answers and pairs, stored and made by this import's rows: each text's answer id (and KTO item),
    each pair of texts' (pair id, its first answer's text), and the new records that made them."""

    answers: dict[str, str] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)  # text -> its answer the KTO app serves
    # text -> every stored answer of it the KTO app serves, the earliest first, where there are several
    several_items: dict[str, list[str]] = field(default_factory=dict)
    pairs: dict[frozenset[str], tuple[str, str]] = field(default_factory=dict)
    made: dict[str, list[object]] = field(default_factory=dict)  # answer or pair id -> its new records
    # texts -> every stored pair over them, the earliest first, where there are several (a merge brought one)
    several: dict[frozenset[str], list[tuple[str, str]]] = field(default_factory=dict)
    arena: set[str] = field(default_factory=set)  # the stored answers that are the arena's (evaluation data)
    arena_pairs: set[frozenset[str]] = field(default_factory=set)  # the texts of each stored arena pair


class LabelledPairs:
    """The pairs of an import's labeller rows (module docstring), over every file of one import: one instance a
    `data.spellings.Spellings`, which every file of an import shares. The stored answers and pairs of the prompts
    the files' rows name (`expect`) are read at the first labeller row, in one read of each table for them all; a
    prompt the workspace does not hold (``holds``) is read nowhere."""

    def __init__(self, workspace: Workspace | None, holds: Callable[[str], bool]):
        self.workspace = workspace
        self.holds = holds
        self._prompts: dict[str, _Answers] = {}
        self._expected: set[str] = set()  # stored prompts of rows to come, not read yet
        # the stored answers of these prompts, as the spellings read them (`answers_read`), not read again
        self._given: pa.Table | None = None
        self._given_ids: set[str] = set()
        # pair or answer id -> the annotators of its labels, where several pairs (answers) hold one's texts
        self._holders: dict[str, set[str]] = {}
        # pair or answer id -> every stored one over its texts (pairs: with their first text), where there are several
        self._sharing: dict[str, list[tuple[str, str | None]]] = {}
        self._votes: dict[tuple[str, str], tuple[str, int, str, int | None]] = {}
        # `is_arena`: the workspace's arena records (`_arenas`); the prompts whose pairs' kinds were read, and those
        # of them with an arena pair
        self._arena_records: pa.Table | None = None
        self._kinds_read: set[str] = set()
        self._arena_prompts: set[str] = set()

    def expect(self, prompt_ids: Iterable[str]) -> None:
        """The stored prompts of the rows to come (`data.spellings.Spellings.expect`): read with the first one a
        labeller row names."""
        self._expected.update(id_ for id_ in prompt_ids if id_ not in self._prompts)

    def answers_read(self, prompt_ids: set[str], answers: pa.Table) -> None:
        """Stored ``answers`` (`ANSWER_COLUMNS`) of ``prompt_ids`` that `data.spellings` read: `_read` takes them."""
        self._given = answers if self._given is None else pa.concat_tables([self._given, answers])
        self._given_ids |= prompt_ids

    def _of(self, prompt_id: str) -> _Answers:
        if prompt_id not in self._prompts:
            if self.holds(prompt_id):
                self._read({prompt_id, *self._expected})
            else:  # a new prompt: nothing stored to read
                self._prompts[prompt_id] = _Answers()
        return self._prompts[prompt_id]

    def _read(self, prompt_ids: set[str]) -> None:
        """The stored answers and pairs of ``prompt_ids`` into `_prompts`, in one read of each table; where several
        pairs (KTO items) hold one's texts, their labels' annotators too."""
        self._expected -= prompt_ids
        found = {prompt_id: _Answers() for prompt_id in prompt_ids}
        self._prompts |= found
        where = ("prompt_id", prompt_ids)
        # pairs before their answers (`Workspace.read`): an answer of every pair read is read too (`_answers_of`)
        columns = ["prompt_id", "completion_a", "completion_b", "kind", "created_at"]
        records = self._arenas()  # before the pairs, as `Workspace.read` reads children first
        pairs = self.workspace.read("pairs", columns, where)
        answers = self._answers_of(prompt_ids, pairs)
        text_of = _answers_into(found, answers.sort_by(EARLIEST))
        _pairs_into(found, pairs.sort_by(EARLIEST), text_of)
        arena = set(arena_answers(pairs, records).to_pylist())
        for known in found.values():
            known.arena = {id_ for id_ in known.answers.values() if id_ in arena}
        several: dict[str, list[tuple[str, str | None]]] = {}  # KTO items: no first text
        for known in found.values():
            items = ([(id_, None) for id_ in ids] for ids in known.several_items.values())
            several |= {id_: stored for stored in [*known.several.values(), *items] for id_, _ in stored}
        self._sharing |= several
        if several:
            # of an arena pair, a labeller's labels an import stored only: a vote cast in the arena app keeps no
            # row of theirs from the pair for labelling over its texts
            on_arena = set(pairs.filter(pc.equal(pairs.column("kind"), ARENA)).column("id").to_pylist())
            labels = self.workspace.read("labels", HISTORY_COLUMNS, ("item_id", list(several)))
            for record in labels.to_pylist():
                if record["item_id"] not in on_arena or made_by_import(record):
                    self._holders.setdefault(record["item_id"], set()).add(record["annotator"])

    def _answers_of(self, prompt_ids: set[str], pairs: pa.Table) -> pa.Table:
        """The stored answers of ``prompt_ids``: those the spellings read (`answers_read`), the others read now, and
        the answers of ``pairs`` stored since the spellings read (read after them: every pair's answers are read)."""
        where = ("prompt_id", prompt_ids - self._given_ids)
        tables = [self.workspace.read("completions", ANSWER_COLUMNS, where)] if where[1] else []
        if given := prompt_ids & self._given_ids:
            of = pc.is_in(self._given.column("prompt_id"), value_set=pa.array(list(given), pa.string()))
            tables.append(self._given.filter(of))
            sides = [pairs.column(c).combine_chunks() for c in ("completion_a", "completion_b")]
            paired = pc.unique(pa.concat_arrays(sides))
            held = pa.concat_arrays([table.column("id").combine_chunks() for table in tables])
            if len(since := paired.filter(pc.invert(pc.is_in(paired, value_set=held)))):
                tables.append(self.workspace.read("completions", ANSWER_COLUMNS, ("id", since)))
        return pa.concat_tables(tables)

    def _theirs(self, labeller: str, stored: list[str]) -> str | None:
        """The earliest of ``stored`` (pairs over one row's texts, or answers of its text) holding a record of
        ``labeller``, or None."""
        return next((id_ for id_ in stored if labeller in self._holders.get(id_, ())), None)

    def _new(self, known: _Answers, answer: Completion) -> str:
        """The answer of ``answer``'s text (new records made of it are the file's): the earliest stored, else the
        one this import made of it first, else ``answer``, made now."""
        if answer.text not in known.answers:
            known.answers[answer.text] = answer.id
            known.made[answer.id] = [answer]
            known.items[answer.text] = answer.id
        return known.answers[answer.text]

    def pair(
        self,
        prompt_id: str,
        chosen: Completion,
        rejected: Completion,
        ctx: RecordContext,
        labeller: str | None = None,
        fields: tuple[str, str] = ("chosen", "rejected"),
    ) -> tuple[list[object], str, str]:
        """The records a row preferring ``chosen`` to ``rejected`` (new answers, made as the file's) adds (those
        this import made already among them, so each file's records stand alone), its pair's id, and its choice.
        Where several pairs are stored over the texts (a merge brought an earlier one), ``labeller``'s is the one
        holding their records: their label there is found again (a re-import adds nothing, `--remove` finds it).
        A RecordError (`ARENA_ANSWER`) where no pair is over the texts and a stored answer of one is the arena's,
        naming its field of the record (``fields``: those of ``chosen`` and ``rejected``)."""
        known = self._of(prompt_id)
        texts = frozenset((chosen.text, rejected.text))
        if labeller is not None and texts in known.several:
            stored = dict(known.several[texts])
            pair_id = self._theirs(labeller, list(stored))
            if pair_id is not None:
                return [], pair_id, "a" if stored[pair_id] == chosen.text else "b"
        if texts not in known.pairs:
            for name, field_, answer in zip(("chosen", "rejected"), fields, (chosen, rejected)):
                if known.answers.get(answer.text) in known.arena:
                    raise _arena_answer(ctx, name, field_, NO_VOTE)
            ids = [self._new(known, answer) for answer in (chosen, rejected)]
            a, b = sorted(ids)
            pair = Pair(prompt_id, a, b, kind="imported")
            known.pairs[texts] = (pair.id, chosen.text if a == ids[0] else rejected.text)
            known.made[pair.id] = [*known.made.get(a, []), *known.made.get(b, []), pair]
        pair_id, first = known.pairs[texts]
        return list(known.made.get(pair_id, [])), pair_id, "a" if first == chosen.text else "b"

    def arena_row(
        self,
        prompt_id: str,
        texts: Sequence[str],
        fields: Sequence[str],
        ctx: RecordContext,
        labelled: bool,
    ) -> str | None:
        """What a row naming no labeller over ``texts`` (its answers, each given in its field of ``fields``: its
        chosen and rejected, its 'completions' list, or its KTO answer; ``labelled``: a preference or KTO label, else
        answers to pair or to label) is counted where the arena holds them already, storing nothing: the arena's
        texts never become ordinary answers (served by every app, trained on), counted as a ranking's (`arena_held`).
        None where none is an arena answer. A RecordError naming the field where one is and the arena holds them not,
        or a preference is over an arena answer and no arena pair (`ARENA_ANSWER`), where one is over an arena pair
        (`ARENA_UNNAMED`: a vote, and the leaderboard counts people's), and where a KTO label is on an arena answer
        (`ARENA_ANSWER`: the import's label there is trained on nowhere)."""
        on = [self.is_arena(prompt_id, text) for text in texts]
        if not any(on):
            return None
        one = len(set(texts)) == 1
        names = (
            ("chosen", "rejected") if len(texts) == 2 and fields[0] != "completions" else ("",) * len(texts)
        )
        name, field_ = next((n, f) for n, f, arena in zip(names, fields, on) if arena)
        if not labelled:
            if held := self.arena_held(prompt_id, texts, to_pair=True):
                return held
            raise _arena_answer(ctx, name, field_, ORDINARY)
        if not one and not self._arena_paired(prompt_id, texts):
            raise _arena_answer(ctx, name, field_, NO_VOTE)
        if one:
            message = (
                "the answer is one the arena gave to this prompt (evaluation data): a KTO label of it naming no "
                "labeller would be the import's, which no export or train reads on the arena's answers, nor any "
                "board counts (a 'labeller' column stores it as theirs, counted arena_only)"
            )
            raise ctx.error(message, field_, ARENA_ANSWER)
        message = (
            "the chosen and rejected answers are an arena pair's (evaluation data): a preference between them "
            "is a vote on the leaderboard, which counts people's votes, and the row names no labeller (a "
            "'labeller' column stores it as theirs; as the import's label no board would count it)"
        )
        raise ctx.error(message, fields[0], ARENA_UNNAMED)

    def arena_held(self, prompt_id: str, texts: Iterable[str], to_pair: bool) -> str | None:
        """The count key of a row of answers to pair (``to_pair``: a 'completions' list, an ``--unlabelled``
        preference) or to label (KTO, rank, rate) over ``texts`` that the arena holds, one rule for every such row:
        `ARENA_PAIR` where every two are an arena pair's answers (answers to pair; or to label, where one of them is
        an ordinary answer the arena reused), else `ARENA_HELD` where each is the arena's answer. None where the
        arena holds them not: one is a new text, or an ordinary one on no arena pair with the others."""
        paired = self._arena_paired(prompt_id, texts)
        if paired and to_pair:
            return ARENA_PAIR
        if all(self.is_arena(prompt_id, text) for text in texts):
            return ARENA_HELD
        return ARENA_PAIR if paired else None

    def _arena_paired(self, prompt_id: str, texts: Iterable[str]) -> bool:
        """Whether ``texts`` are two or more, every two an arena pair's (each the arena's answer, or one it reused)."""
        distinct, known = set(texts), self._of(prompt_id)
        pairs = combinations(distinct, 2)
        return len(distinct) > 1 and all(frozenset(two) in known.arena_pairs for two in pairs)

    def is_arena(self, prompt_id: str, text: str) -> bool:
        """Whether the stored answer of ``prompt_id`` and ``text`` (its earliest) is the arena's (evaluation data).
        Its answers are read only where the workspace holds an arena's records, or an arena pair of the prompt (the
        kinds of the expected prompts' pairs read at once); the answers the spellings read (`answers_read`)."""
        if prompt_id not in self._prompts and not self._may_hold_arena(prompt_id):
            return False
        known = self._of(prompt_id)
        return known.answers.get(text) in known.arena

    def _may_hold_arena(self, prompt_id: str) -> bool:
        if self.workspace is None or not self.holds(prompt_id):
            return False
        records = len(self._arenas()) > 0
        if not records and prompt_id not in self._kinds_read:
            ids = {prompt_id, *self._expected} - self._kinds_read
            pairs = self.workspace.read("pairs", ["prompt_id", "kind"], ("prompt_id", ids))
            self._kinds_read |= ids
            arena = pairs.filter(pc.equal(pairs.column("kind"), ARENA)).column("prompt_id")
            self._arena_prompts.update(arena.to_pylist())
        return records or prompt_id in self._arena_prompts

    def _arenas(self) -> pa.Table:
        """The workspace's arena records (`ARENA_RECORD_COLUMNS`), read once: `_may_hold_arena`'s and `_read`'s."""
        if self._arena_records is None:
            self._arena_records = self.workspace.read("arenas", ARENA_RECORD_COLUMNS)
        return self._arena_records

    def answer(self, prompt_id: str, answer: Completion, labeller: str) -> tuple[list[object], str]:
        """The records a KTO row labelling ``answer`` (made as the file's) adds (as `pair`'s), and the id of the
        answer its label is on (the module docstring says which); where several stored answers of the text are the
        KTO app's, ``labeller``'s is the one holding their records."""
        known = self._of(prompt_id)
        item = self._theirs(labeller, known.several_items.get(answer.text, []))
        if item is None and answer.text not in known.items:
            if answer.text in known.answers:  # stored as no KTO item (a gold answer, an edit): a new answer
                known.items[answer.text] = answer.id
                known.made[answer.id] = [answer]
            else:
                self._new(known, answer)
        item = item or known.items[answer.text]
        return list(known.made.get(item, [])), item

    def elsewhere(self, label: Label) -> tuple[str, ...]:
        """The ids a labeller row's ``label`` has on the other stored pairs (answers) over its texts, where there are
        several: `pair` (`answer`) takes the one holding the labeller's records, else the earliest, so where a merge
        brought the labeller's own pair but left their label on it out (`data.merge_left_out`), the row's label is
        one of these. `data import --remove` counts such a row."""
        stored = self._sharing.get(label.item_id, [])
        first = dict(stored).get(label.item_id)
        return tuple(
            labeller_label_id(
                label.annotator,
                other,
                label.choice if text == first else SWAPPED.get(label.choice, label.choice),
                label.strength,
            )
            for other, text in stored
            if other != label.item_id
        )

    def label(
        self,
        labeller: Labeller,
        item_id: str,
        choice: str,
        strength: int | None,
        ctx: RecordContext,
        task: str = "pairwise",
    ) -> Label:
        """``labeller``'s label of ``task`` on ``item_id`` (a pair, or a KTO row's answer); a RecordError where a
        row before (of this import) gave them another label of it."""
        name, vote = labeller.name, (ctx.source, ctx.row, choice, strength)
        source, row, *earlier = self._votes.setdefault((name, item_id), vote)
        if earlier != [choice, strength]:
            where = f"row {row}" if source == ctx.source else f"{source}, row {row}"
            message = (
                f"{name} labels {'these answers' if task == 'pairwise' else 'this answer'} otherwise at {where}: "
                f"a labeller holds one label per {ITEM[task]}, and which is theirs is a guess"
            )
            raise ctx.error(message, labeller.column, LABELLER_CONFLICT)
        label_id = labeller_label_id(name, item_id, choice, strength)
        return Label(item_id, name, task, choice, strength=strength, id=label_id)


NO_VOTE = "a preference between them is no vote on the leaderboard, and the arena's answers never train"
ORDINARY = "pairing it for labelling would make it an ordinary answer, served by every app and trained on"


def _arena_answer(ctx: RecordContext, name: str, field_: str, why: str) -> RecordError:
    """The refusal (`ARENA_ANSWER`) of a row whose ``name``d answer (given in ``field_``; "": one of the row's answers
    to pair) is one of the arena's and the row's answers are no arena pair's, saying ``why``."""
    which = f"the {name} answer is one" if name else "one of the answers is one"
    message = f"{which} the arena gave to this prompt (evaluation data), and the row's answers are no arena pair: {why}"
    return ctx.error(message, field_, ARENA_ANSWER)


def _answers_into(found: dict[str, _Answers], answers: pa.Table) -> dict[str, str]:
    """The stored ``answers`` (`EARLIEST` first) into their prompts' `_Answers`: each text's first answer, and its
    first the KTO app serves (all of those, where there are several); returns each answer's text."""
    text_of = {}
    columns = ("prompt_id", "id", "text", "engine")
    for prompt_id, id_, text, engine in zip(*(answers.column(c).to_pylist() for c in columns)):
        found[prompt_id].answers.setdefault(text, id_)
        text_of[id_] = text
        if engine not in NO_ITEM_ENGINES:
            found[prompt_id].several_items.setdefault(text, []).append(id_)
    for known in found.values():
        known.items = {text: ids[0] for text, ids in known.several_items.items()}
        known.several_items = {text: ids for text, ids in known.several_items.items() if len(ids) > 1}
    return text_of


def _pairs_into(found: dict[str, _Answers], pairs: pa.Table, text_of: dict[str, str]) -> None:
    """The stored ``pairs`` (`EARLIEST` first) of two answers of ``text_of`` into their prompts' `_Answers`: each
    pair of texts' first pair that is not `NOT_REUSED` nor `ARENA`, else its first arena pair (all of those, where
    there are several)."""
    pairs = pairs.filter(pc.invert(pc.is_in(pairs.column("kind"), value_set=pa.array(NOT_REUSED))))
    arena: dict[str, dict[frozenset[str], list[tuple[str, str]]]] = {prompt_id: {} for prompt_id in found}
    columns = ("prompt_id", "id", "completion_a", "completion_b", "kind")
    for prompt_id, id_, a, b, kind in zip(*(pairs.column(c).to_pylist() for c in columns)):
        if a in text_of and b in text_of and text_of[a] != text_of[b]:
            texts = frozenset((text_of[a], text_of[b]))
            held = arena[prompt_id] if kind == ARENA else found[prompt_id].several
            if kind == ARENA:
                found[prompt_id].arena_pairs.add(texts)
            held.setdefault(texts, []).append((id_, text_of[a]))
    for prompt_id, known in found.items():
        # a pair for labelling over the texts first; the arena's after it, where a labeller's votes an import stored
        # on it are found again (a re-import adds nothing, `--remove` withdraws them)
        known.several = arena[prompt_id] | {
            t: [*stored, *arena[prompt_id].get(t, [])] for t, stored in known.several.items()
        }
        known.pairs = {texts: stored[0] for texts, stored in known.several.items()}
        known.several = {texts: stored for texts, stored in known.several.items() if len(stored) > 1}
