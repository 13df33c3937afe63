"""The Python API in a dozen lines: continue a seed, save MIDI, audio and a picture.

Run from the repository root: .venv/bin/python examples/continue_api.py
"""

from pathlib import Path

from musegen import MuseGen

out = Path("out/api")
out.mkdir(parents=True, exist_ok=True)
mg = MuseGen.from_pretrained()  # the shipped default checkpoint
print("styles:", ", ".join(mg.styles), "| moods:", ", ".join(mg.moods))
result = mg.continue_midi("examples/seeds/fiddle_jig.mid", bars=8, style="celtic-fiddle",
                          mood="happy", temperature=0.9, top_p=0.95, seed=7)  # fmt: skip
result.save(out / "full.mid")  # seed + new bars
result.continuation.save(out / "new.mid")  # new bars only, from tick 0
result.render(out / "full.wav")  # FluidSynth
result.plot(out / "pianoroll.png")
for i, variation in enumerate(mg.variations("examples/seeds/fiddle_jig.mid", 3, bars=4, seed=1),
                              start=1):  # fmt: skip
    variation.continuation.save(out / f"variation-{i}.mid")
print("wrote", sorted(p.name for p in out.iterdir()))
