"""The model card (card.md) of a checkpoint folder, written from its config.json.

Everything on the card is read from recorded numbers (training summary, corpus summary,
baselines); nothing is typed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path


def write_card(folder: str | Path) -> Path:
    """(Re)write folder/card.md from folder/config.json."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "card.md").write_text(render_card(config))
    return folder / "card.md"


def _fmt(value, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def render_card(config: dict) -> str:
    model = config["model"]
    training = config.get("training", {})
    lines = [
        f"# musegen checkpoint `{config.get('name', '?')}`",
        "",
        "A decoder-only transformer that continues MIDI by style and mood"
        + (
            ", with a plan of key, density, polyphony and register before every bar, and fills "
            "in bars and adds parts"
            if training.get("train", {}).get("infill_share")
            else ""
        )
        + f" (musegen {config.get('musegen_version', '?')}). Everything it writes is "
        "machine-generated and labelled as such inside the MIDI (marker) and in "
        "generation.json.",
        "",
        "## Model",
        "",
        f"- {model['n_layer']} layers, {model['n_head']} heads, width {model['n_embd']}, context "
        f"{model['context']} tokens, vocabulary {model['vocab_size']} (miditok REMI + BPE)",
        f"- parameters: {config.get('parameters', '?'):,}"
        if isinstance(config.get("parameters"), int)
        else "- parameters: see `musegen info`",
        f"- weights stored as {config.get('dtype', '?')} safetensors",
        f"- styles: {', '.join(config.get('styles', []))}",
        f"- moods: {', '.join(config.get('moods', []))} (valence/arousal quadrants)",
        *_instruments(config.get("programs", {})),
        "",
    ]
    if training:
        train = training.get("train", {})
        lines += [
            "## Training",
            "",
            f"- steps: {training.get('steps', '?')}, "
            f"tokens seen: {training.get('tokens_seen', 0):,}",
            f"- hardware: {training.get('hardware', '?')}",
            f"- wall time: {_fmt(training.get('seconds_this_session', 0) / 3600, 2)} h "
            "(the last session of the run)",
            f"- batch {train.get('batch_size', '?')} x accumulate {train.get('accumulate', '?')}, "
            f"lr {train.get('lr', '?')}, condition dropout {train.get('condition_dropout', '?')}, "
            f"style balance power {train.get('style_power', '?')}",
            _extras(train),
            *_earlier_stages(training),
            "",
        ]
    results = config.get("results")
    if results:
        lines += ["## Validation (held-out split)", "", "| model | nats/token | bits/note |",
                  "|---|---|---|"]  # fmt: skip
        for row in results:
            lines.append(f"| {row['model']} | {_fmt(row.get('nats_per_token'))} | "
                         f"{_fmt(row.get('bits_per_note'))} |")  # fmt: skip
        lines += ["", config.get("results_note", ""), ""]
    data = config.get("data")
    if data:
        lines += ["## Training data", "", data.get("summary", ""), "",
                  "| repertory | style | pieces | bars | hours | commercial use | licence note |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for name, rep in sorted(data.get("repertories", {}).items()):
            uses = ", ".join(f"{k}: {v}" for k, v in rep.get("commercial_use", {}).items())
            lines.append(f"| {name} | {rep['style']} | {rep['pieces']} | {rep.get('bars', '?')} "
                         f"| {rep['hours']:.1f} | {uses} | {rep['licence_note']} |")  # fmt: skip
        if data.get("style_mood"):
            moods = sorted({m for c in data["style_mood"].values() for m in c})
            lines += ["", "| style | " + " | ".join(moods) + " |",
                      "|---|" + "---|" * len(moods)]  # fmt: skip
            for style, counts in data["style_mood"].items():
                lines.append(f"| {style} | " + " | ".join(str(counts.get(m, 0)) for m in moods)
                             + " |")  # fmt: skip
        lines += ["", "Pieces whose terms forbid commercial use are flagged in the manifest; "
                  "`musegen corpus build --commercial-only` leaves them out. See data/README.md.",
                  ""]  # fmt: skip
    lines += [
        "## Intended use and limits",
        "",
        "Sketching continuations, infills and added parts of your own MIDI in a DAW. "
        + _corpus_note(data)
        + " Check generated material with `musegen continue --check-originality` before "
        "publishing it.",
        "",
    ]
    return "\n".join(line for line in lines if line is not None)


def _corpus_note(data: dict | None) -> str:
    """What the training music was, from the card's own repertories."""
    styles = {rep["style"] for rep in (data or {}).get("repertories", {}).values()}
    if styles and not styles <= {
        "celtic-fiddle",
        "chorale",
        "classical",
        "european-folk",
        "madrigal",
        "medieval",
        "renaissance-polyphony",
    }:
        return (
            "The corpus is Western art music and folk tunes (music21), Chinese pop songs "
            "as piano arrangements and as band arrangements (POP909, MMA grooves) and human "
            "drum performances (Groove MIDI); other idioms are outside what it has heard."
        )
    return (
        "The corpus is Western art music and folk tunes from before 1900 (as encoded in "
        "the music21 corpus); other idioms are outside what it has heard."
    )


def _extras(train: dict) -> str | None:
    """The recipe's augmentations and extra losses that were on, in one line (None: none)."""
    parts = [
        f"{share:g} of pieces {what}" for share, what in (
            (train.get("transpose_share", 0), f"transposed by up to {train.get('transpose_range')}"
                                              " semitones"),
            (train.get("piano_share", 0), "reduced to piano"),
            (train.get("mode_switch", 0), "switched to the other mode"),
            (train.get("plan_contrast", 0), "with bars edited against their plans (plans "
                                            "measured again; musegen.data.plan_contrast)"),
            (train.get("infill_share", 0), f"laid out fill-in-the-middle (regions of 1 to "
                                           f"{train.get('infill_max_bars')} bars)"),
        ) if share
    ] + [
        f"{kind} contrast loss weight {weight:g} (musegen.contrast)" for kind, weight in (
            ("style", train.get("style_contrast", 0)), ("mood", train.get("mood_contrast", 0)),
        ) if weight
    ]  # fmt: skip
    return f"- {'; '.join(parts)}" if parts else None


def _instruments(stats: dict) -> list[str]:
    """The programs the checkpoint knows; seed tracks on others are shown as one of these."""
    from musegen.music.instruments import instrument_name, known_programs

    known = sorted(((stats[str(p)]["share"], p) for p in known_programs(stats)), reverse=True)
    if not known:
        return []
    names = ", ".join(f"{instrument_name(p)} {share:.1%}" for share, p in known)
    return [f"- instruments it knows (share of training notes): {names}; a seed track on any "
            "other instrument is shown to the model as the nearest of these (of its own GM "
            "family first)"]  # fmt: skip


def _earlier_stages(training: dict) -> list[str]:
    """One line per checkpoint this run started from (fine-tuning, or a second stage)."""
    lines = []
    averaged = training.get("averaged_with")
    if averaged:
        lines.append(
            f"- weights: the average of this run's last ones and checkpoint "
            f"`{averaged.get('name')}`'s (sha256 {str(averaged.get('sha256'))[:12]})"
        )
    stage = training.get("initialised_from")
    while stage:
        earlier = stage.get("training", {})
        hours = earlier.get("seconds_this_session", 0) / 3600
        lines.append(
            f"- started from checkpoint `{stage.get('name')}` (sha256 "
            f"{str(stage.get('sha256'))[:12]}): {earlier.get('steps', '?')} steps, "
            f"{earlier.get('tokens_seen', 0):,} tokens seen, on "
            f"{earlier.get('hardware', '?')}, {_fmt(hours, 2)} h in its last session"
        )
        stage = earlier.get("initialised_from")
    return lines
