"""The miditok REMI tokenizer with Style_* / Mood_* condition tokens, trained with BPE.

REMI's Bar and Position tokens let the sampler count bars and land on the grid; Program tokens
put every track in one stream; TimeSig and Tempo tokens carry the meter and tempo.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import miditok
import numpy as np
from symusic import Score, TimeSignature

from musegen.music import timeline
from musegen.music.labels import MOODS
from musegen.tokens.controls import control_tokens

ANY = "any"
PITCH_RANGE = (21, 109)  # MIDI pitches with a Pitch token: A0 to C8 (upper bound exclusive)
STYLE = "Style"
MOOD = "Mood"

# Meters the corpus uses (and most DAW material): denominator -> numerators.
TIME_SIGNATURES = {
    2: [1, 2, 3, 4, 6, 8],
    4: [1, 2, 3, 4, 5, 6, 7, 8, 9, 12],
    8: [2, 3, 4, 5, 6, 7, 9, 11, 12, 15],
    16: [5, 7, 9, 13, 15],
}


def tokenizer_config(
    styles: Sequence[str], moods: Sequence[str] = MOODS
) -> miditok.TokenizerConfig:
    """REMI + programs in one stream, tempo and meter tokens, 8 velocities, conditions."""
    for name in [*styles, *moods]:
        if "_" in name or " " in name or not name:
            raise ValueError(f"style/mood names may not be empty or hold '_' or spaces: {name!r}")
    specials = ["PAD", "BOS", "EOS"]
    specials += [f"{STYLE}_{s}" for s in [*sorted(styles), ANY]]
    specials += [f"{MOOD}_{m}" for m in [*moods, ANY]]
    return miditok.TokenizerConfig(
        pitch_range=PITCH_RANGE,
        # 12 steps per beat hold sixteenths and eighth/sixteenth triplets (fiddle ornaments).
        beat_res={(0, 4): 12, (4, 12): 4},
        num_velocities=8,
        special_tokens=specials,
        use_programs=True,
        one_token_stream_for_programs=True,
        use_tempos=True,
        num_tempos=24,
        tempo_range=(40, 250),
        log_tempos=True,
        use_time_signatures=True,
        time_signature_range=TIME_SIGNATURES,
        remove_duplicated_notes=True,
        encode_ids_split="bar",
    )


class GenerationMeter(NamedTuple):
    """How new bars of a meter are generated: `parts` bars of numerator/denominator each,
    using the first `positions` positions of each (MuseTokenizer.generation_meter)."""

    numerator: int
    denominator: int
    parts: int
    positions: int


EXTRA_KEY = "musegen_extra_tokens"  # where tokenizer.json lists the tokens after miditok's


@dataclass
class MuseTokenizer:
    """A trained miditok REMI tokenizer plus the id lookups that sampling needs.

    `extra` names tokens that are not miditok's (musegen.tokens.controls, styles added to a
    trained vocabulary): they take the ids after miditok's, so adding them never moves an id.
    """

    remi: miditok.REMI
    extra: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ creation / files
    @classmethod
    def create(
        cls, styles: Sequence[str], moods: Sequence[str] = MOODS, controls: bool = True
    ) -> MuseTokenizer:
        """A new tokenizer; `controls` adds the bar-plan and infill tokens."""
        return cls(miditok.REMI(tokenizer_config(styles, moods)),
                   control_tokens() if controls else [])  # fmt: skip

    @classmethod
    def load(cls, path: str | Path) -> MuseTokenizer:
        remi = miditok.REMI(params=Path(path))
        extra = list(getattr(remi, EXTRA_KEY, []))  # miditok keeps unknown keys as attributes
        return cls(remi, extra)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.remi.save(path)
        if self.extra:
            params = json.loads(path.read_text())
            params[EXTRA_KEY] = self.extra
            path.write_text(json.dumps(params))
        return path

    def with_extra(self, names: Sequence[str]) -> MuseTokenizer:
        """This vocabulary plus the named tokens it lacks, at new ids after the last."""
        known = set(self.remi.vocab) | set(self.extra)
        extra = list(self.extra) + [n for n in dict.fromkeys(names) if n not in known]
        return MuseTokenizer(self.remi, extra)

    @property
    def has_controls(self) -> bool:
        return bool(self.extra) and control_tokens()[0] in self._extra_ids

    def train_bpe(self, midi_paths: Sequence[Path], vocab_size: int) -> None:
        """Learn BPE merges on the base tokens of these files (merges stay inside a bar)."""
        self.remi.train(vocab_size=vocab_size, model="BPE", files_paths=list(midi_paths))
        for cached in ("base_tokens", "_extra_ids"):  # ids after miditok's move with its size
            self.__dict__.pop(cached, None)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, MuseTokenizer) and self.remi == other.remi
                and self.extra == other.extra)  # fmt: skip

    # ------------------------------------------------------------------ vocabulary
    @property
    def vocab_size(self) -> int:
        return len(self.remi) + len(self.extra)

    @cached_property
    def _extra_ids(self) -> dict[str, int]:
        return {name: len(self.remi) + i for i, name in enumerate(self.extra)}

    def is_extra(self, i: int) -> bool:
        """Whether id i is one of the tokens after miditok's (controls, added styles)."""
        return i >= len(self.remi)

    @property
    def styles(self) -> list[str]:
        return self._condition_names(STYLE)

    @property
    def moods(self) -> list[str]:
        return self._condition_names(MOOD)

    def _condition_names(self, kind: str) -> list[str]:
        tokens = [*self.remi.special_tokens, *self.extra]
        names = [t.split("_", 1)[1] for t in tokens if t.startswith(kind + "_")]
        return [n for n in names if n != ANY]

    def token_id(self, base_token: str) -> int:
        """Id of a special (condition) or extra token, e.g. "Style_chorale"; never merged."""
        found = self._extra_ids.get(base_token)
        return self.remi.vocab[base_token] if found is None else found

    def condition_ids(self, style: str | None, mood: str | None) -> list[int]:
        """[Style_x, Mood_y]; None means the "any" token. Unknown names raise ValueError."""
        for kind, value, valid in ((STYLE, style, self.styles), (MOOD, mood, self.moods)):
            if value is not None and value not in valid:
                raise ValueError(
                    f"unknown {kind.lower()} {value!r}; this checkpoint knows: {', '.join(valid)}"
                )
        return [
            self.token_id(f"{STYLE}_{style or ANY}"),
            self.token_id(f"{MOOD}_{mood or ANY}"),
        ]

    def condition_groups(self) -> list[list[int]]:
        """Ids of every Style_* token and of every Mood_* token ("any" included)."""
        return [
            [self.token_id(f"{kind}_{name}") for name in [*self._condition_names(kind), ANY]]
            for kind in (STYLE, MOOD)
        ]

    @property
    def pad_id(self) -> int:
        return self.remi.pad_token_id

    @property
    def eos_id(self) -> int:
        return self.remi.vocab["EOS_None"]

    @cached_property
    def base_tokens(self) -> list[list[str]]:
        """For each id of the (BPE) vocabulary, the base tokens it stands for."""
        n = len(self.remi)
        if not self.remi.is_trained:
            return [[self.remi[i]] for i in range(n)] + [[name] for name in self.extra]
        seqs = [miditok.TokSequence(ids=[i], are_ids_encoded=True) for i in range(n)]
        self.remi.decode_token_ids(seqs)  # each BPE id to the base tokens it stands for
        return [seq.tokens for seq in seqs] + [[name] for name in self.extra]

    @cached_property
    def bar_count(self) -> np.ndarray:
        """Number of Bar base tokens inside each id: (V,) int."""
        return np.array([sum(t.startswith("Bar_") for t in ts) for ts in self.base_tokens])

    @cached_property
    def starts_bar(self) -> np.ndarray:
        """Ids whose first base token is a Bar: (V,) bool; windows and prompts start there."""
        return np.array([bool(ts) and ts[0].startswith("Bar_") for ts in self.base_tokens])

    @cached_property
    def meters(self) -> list[tuple[int, int]]:
        """(numerator, denominator) of every meter with a TimeSig token."""
        return [tuple(m) for m in self.remi.time_signatures]

    def vocab_meter(self, numerator: int, denominator: int) -> tuple[int, int, int] | None:
        """(n, d, parts): a bar of numerator/denominator is written as `parts` bars of n/d.

        One bar of the meter itself when the vocabulary has it, else of the meter of the same
        bar length on the finest grid (the largest denominator): 3/1 as 12/4, 4/1 as 8/2, 10/8
        as 5/4, 12/16 as 6/8. Else the fewest equal parts, up to 4, that have a token: 7/2 as
        two bars of 7/4, 36/4 as three of 12/4. None when there are none (1/8, 11/16).
        """
        if (numerator, denominator) in self.meters:
            return numerator, denominator, 1
        for parts in range(1, 5):
            same = [(n, d) for n, d in self.meters if n * denominator * parts == numerator * d]
            if same:
                return *max(same, key=lambda m: m[1]), parts
        return None

    def generation_meter(self, numerator: int, denominator: int) -> GenerationMeter | None:
        """The meter new bars of numerator/denominator are generated in, forced by the grammar.

        Its vocab_meter, using every position of its bars. For a meter without one (1/8,
        11/16), one bar of the shortest meter whose bar holds the whole bar on a whole number
        of positions, using only those: 1/8 in the first 12 of 2/8's 24 positions, 11/16 in
        the first 66 of 6/8's 72, so that no new note falls outside the seed's bar.
        """
        per_beat = self.remi.config.max_num_pos_per_beat
        written = self.vocab_meter(numerator, denominator)
        if written is not None:
            n, d, parts = written
            return GenerationMeter(n, d, parts, n * per_beat)
        holders = [
            (n, d) for n, d in self.meters
            if n * denominator >= numerator * d and per_beat * numerator * d % denominator == 0
        ]  # fmt: skip
        if not holders:
            return None
        n, d = min(holders, key=lambda m: (m[0] / m[1], -m[1]))  # shortest, finest grid
        return GenerationMeter(n, d, 1, per_beat * numerator * d // denominator)

    def in_vocab_meters(self, score: Score) -> Score:
        """The score with bars the vocabulary can count where the file has them.

        Each meter is written as its vocab_meter, a bar as one or more bars of it (miditok
        drops a meter it lacks and counts 4/4 bars instead). A pickup bar in a meter with no
        token (a 1/8 anacrusis before 6/8, as a notation program may export one) becomes the
        end of a full bar of the meter after it: the music moves later by the rest, and the
        tempo and key at tick 0 stay there. The score given is not changed.
        """
        changes = timeline.meter_changes(score)  # (tick, Meter), deduplicated, one at 0
        vocab = {m: self.vocab_meter(m.numerator, m.denominator) for _, m in changes}
        # What each meter's TimeSig says: its vocab_meter's, or its own (dropped by miditok).
        written = {m: (v or (m.numerator, m.denominator))[:2] for m, v in vocab.items()}
        shift = 0
        if len(changes) > 1 and vocab[changes[0][1]] is None:
            shift = max(0, changes[1][1].bar_ticks(score.ticks_per_quarter) - changes[1][0])
            changes = changes[1:] if shift else changes  # longer than a bar: no pickup
        if not shift and all(written[m] == (m.numerator, m.denominator) for _, m in changes):
            return score
        out = score.shift_time(shift) if shift else score.copy()
        for events in (out.tempos, out.key_signatures):
            for event in events:
                if shift and event.time == shift:  # was at tick 0
                    event.time = 0
        out.time_signatures.clear()
        for i, (tick, meter) in enumerate(changes):
            out.time_signatures.append(
                TimeSignature(0 if i == 0 else tick + shift, *written[meter])
            )
        return out

    # ------------------------------------------------------------------ encode / decode
    def encode(self, score: Score) -> list[int]:
        """Piece tokens (BPE ids) of a score, without condition tokens, its bars counted where
        the file has them (in_vocab_meters)."""
        seq = self.remi.encode(self.in_vocab_meters(score))
        seq = seq[0] if isinstance(seq, list) else seq
        return list(seq.ids)

    def decode(self, ids: Iterable[int]) -> Score:
        """A symusic Score (at the tokenizer's own ticks per quarter) from piece token ids."""
        specials, n = set(self.remi.special_tokens_ids), len(self.remi)
        ids = [int(i) for i in ids if int(i) not in specials and int(i) < n]
        return self.remi.decode(ids) if ids else Score(self.remi.time_division)

    def from_base(self, tokens: Sequence[str]) -> list[int]:
        """Ids (BPE-encoded when trained) of a sequence of base token strings; to_base inverse."""
        # One sequence per bar, as the tokenizer encodes scores (merges stay inside a bar);
        # extra tokens stand alone, never merged.
        runs: list[list[str] | int] = []
        for t in tokens:
            if t in self._extra_ids:
                runs.append(self._extra_ids[t])
            else:
                if t.startswith("Bar_") or not runs or not isinstance(runs[-1], list):
                    runs.append([])
                runs[-1].append(t)
        seqs = [miditok.TokSequence(tokens=run) for run in runs if isinstance(run, list)]
        for seq in seqs:
            self.remi.complete_sequence(seq)
        if self.remi.is_trained and seqs:
            self.remi.encode_token_ids(seqs)
        encoded = iter(seqs)
        return [
            i
            for run in runs
            for i in ([run] if isinstance(run, int) else map(int, next(encoded).ids))
        ]

    def to_base(self, ids: Iterable[int]) -> list[str]:
        """Base token strings of a sequence of ids (for grammar checks and debugging)."""
        table = self.base_tokens
        return [t for i in ids for t in table[int(i)]]
