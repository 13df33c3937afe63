"""The MIDI channel of each track: one assignment for the written file and the synth alike.

`write_midi` writes every track on the channel given here and `render` plays it on the same
one, so a WAV sounds like the MIDI file played on a General MIDI synth, shared channels
included (GUIDE section 3: drums on channel 10, no melodic track there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from musegen.music.instruments import DRUM_CHANNEL

MELODIC_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)


def assign_channels(tracks: Sequence[Any], preferred: Mapping[int, int] | None = None) -> list[int]:
    """The channel (0-15) of each track (anything with `is_drum` and `program`), in order.

    Drums go on channel 9. A melodic track keeps its preferred channel (e.g. the seed's own,
    `SeedFile.channels`, by track index) unless it is 9 or an earlier track already has it;
    the others take the lowest free channels. Past 15 melodic tracks, a track shares the channel
    of one with the same program where there is one, so its program change agrees.
    """
    preferred = preferred or {}
    assigned: dict[int, int] = {}
    taken: set[int] = set()
    for i, track in enumerate(tracks):
        want = preferred.get(i)
        if track.is_drum:
            assigned[i] = DRUM_CHANNEL
        elif want in MELODIC_CHANNELS and want not in taken:
            assigned[i] = want
            taken.add(want)
    free = [c for c in MELODIC_CHANNELS if c not in taken]
    for i, track in enumerate(tracks):
        if i in assigned:
            continue
        if free:
            assigned[i] = free.pop(0)
            continue
        same = [assigned[j] for j in sorted(assigned) if tracks[j].program == track.program]
        same = [c for c in same if c != DRUM_CHANNEL]
        assigned[i] = same[0] if same else MELODIC_CHANNELS[i % 15]
    return [assigned[i] for i in range(len(tracks))]
