"""Files in and out: reading seeds safely, DAW-safe MIDI, FluidSynth audio, piano-roll pictures.

- `seed`: read and check a user's MIDI file (`read_seed`, `Limits`, `SeedFile`);
- `midi`: write DAW-safe MIDI (`write_midi`, `midi_bytes`);
- `channels`: the MIDI channel of each track, for the file and the synth (`assign_channels`);
- `audio`: render a score to WAV, with stems (`render`), built on `soundfont` (which .sf2),
  `schedule` (the score as sample-exact events in passes), `synth` (FluidSynth run offline,
  side by side) and `wav` (PCM files);
- `pianoroll`: pictures; `files`: atomic writes.

Submodules are imported on use (synth loads the FluidSynth library, pianoroll matplotlib).
"""

__all__ = [
    "audio",
    "channels",
    "files",
    "midi",
    "pianoroll",
    "schedule",
    "seed",
    "soundfont",
    "synth",
    "wav",
]
