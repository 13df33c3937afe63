"""Draw docs/architecture.png: the subpackages of musegen as boxes, their imports as arrows.

The boxes, the file names inside them and the arrows are read from the code each time (every
`import` in every module, those inside functions included), so the picture follows the package
as it changes; only the layer of each subpackage is set here. An import that points up a layer
is drawn in red and printed. The numbered badges mark the path of one `musegen continue`
through the layers, as docs/architecture.md lists it.

    .venv/bin/python docs/architecture.py [--out docs/architecture.png]
"""

from __future__ import annotations

import argparse
import ast
import textwrap
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "musegen"

# Where each subpackage sits: (x, layer). Data flows up the page: lower layers know nothing of
# higher ones. A subpackage missing here is drawn on the top row, so it cannot go unseen.
PLACES: dict[str, tuple[float, float]] = {
    "music": (4.5, 1),
    "tokens": (2.4, 2),
    "io": (6.8, 2),
    "model": (0.7, 3),
    "checkpoint": (2.6, 4),
    "data": (6.2, 4),
    "train": (1.0, 5),
    "generate": (4.4, 5),
    "evaluate": (8.0, 6),
    "cli": (3.8, 7),
    "serve": (5.4, 6),
    "__init__": (0.7, 7),
}
LAYER = 1.25  # vertical distance between layers
SHARED = ("errors", "progress")  # imported from every layer: drawn as the floor, no arrows
PUBLIC_API = {"MuseGen", "Continuation", "MidiResult", "ContinueRequest"}  # lazy, from generate
ROLES = {
    "music": "bar grid, meter, key/mood, instruments",
    "tokens": "REMI + BPE, bar plans, grammar",
    "io": "seeds in; MIDI, audio, pictures out",
    "model": "pure torch transformer, sampling",
    "checkpoint": "safetensors + JSON folders, card",
    "data": "corpus, sources, shards, originality",
    "train": "Lightning: config, fit, contrast",
    "generate": "request, continue, infill, MuseGen",
    "evaluate": "likelihood, realism, control, ...",
    "cli": "musegen commands (Typer)",
    "serve": "local studio (web page + JSON API)",
    "__init__": "public API (lazy)",
}
# The path of one `musegen continue` (docs/architecture.md, "One continuation").
PATH_STEPS: dict[str, list[int]] = {
    "cli": [1],
    "generate": [2, 5, 9],
    "io": [3, 10],
    "checkpoint": [4],
    "music": [6],
    "tokens": [7],
    "model": [8],
}

BOX_W = 2.3


def unit_of(path: Path) -> str:
    """The subpackage (or top-level module) a file belongs to."""
    rel = path.relative_to(PACKAGE).parts
    return rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")


def resolve(module: str) -> str | None:
    """The unit a `musegen.X...` module name points to, or None when it does not exist."""
    parts = module.split(".")
    if parts[0] != "musegen" or len(parts) < 2:
        return None
    head = parts[1]
    if (PACKAGE / head).is_dir() or (PACKAGE / f"{head}.py").is_file():
        return head
    return None  # an old name kept as an ImportError fallback: nothing to draw


def imports() -> dict[tuple[str, str], int]:
    """(importer, imported) -> number of import statements, between different units."""
    edges: dict[tuple[str, str], int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = unit_of(path)
        if source == "__main__":
            source = "cli"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [resolve(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "musegen":
                    for alias in node.names:
                        if alias.name in PUBLIC_API:
                            targets.append("generate")
                        else:  # a subpackage, or __version__ (package metadata): no arrow
                            targets.append(resolve(f"musegen.{alias.name}"))
                else:
                    targets = [resolve(node.module)]
            for target in targets:
                if target and target != source and target not in SHARED:
                    edges[(source, target)] = edges.get((source, target), 0) + 1
    return edges


def contents(unit: str) -> str:
    """The modules of a subpackage, as the box lists them."""
    folder = PACKAGE / unit
    names = sorted(
        p.stem if p.is_file() else p.name + "/"
        for p in folder.iterdir()
        if (p.suffix == ".py" and not p.name.startswith("__")) or (p / "__init__.py").is_file()
    )
    return "\n".join(textwrap.wrap(" · ".join(names), 34))


def draw(out: Path) -> list[tuple[str, str]]:
    units = sorted(
        {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} | {"__init__"}
    )
    top = max(layer for _, layer in PLACES.values())
    places = dict(PLACES)
    for extra, unit in enumerate(u for u in units if u not in PLACES):
        places[unit] = (9.8 + 2.5 * extra, top)  # a new subpackage: top row, to the right
    edges = imports()
    upward = sorted(
        (a, b) for a, b in edges if a in places and b in places and places[b][1] >= places[a][1]
    )
    right = max(x for x, _ in places.values()) + BOX_W / 2 + 0.2

    fig = Figure(figsize=(14, 11), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.93))
    ax.set_xlim(-0.6, right)
    ax.set_ylim(0.0, top * LAYER + 1.0)
    ax.axis("off")
    fig.suptitle(
        "musegen: subpackages (boxes) and their imports (each arrow points at what is imported)",
        fontsize=14,
    )

    boxes = {}
    for unit in units:
        if unit not in places:
            continue
        x, layer = places[unit]
        y = layer * LAYER
        public = unit == "__init__"
        listing = "" if public else contents(unit)
        height = 0.5 + 0.13 * (listing.count("\n") + 1 if listing else 0)
        box = FancyBboxPatch(
            (x - BOX_W / 2, y - height / 2), BOX_W, height,
            boxstyle="round,pad=0.02,rounding_size=0.06",
            facecolor="#fdebd0" if public else "#eaf2f8",
            edgecolor="#b9770e" if public else "#2e86c1", lw=1.4, zorder=2,
        )  # fmt: skip
        ax.add_patch(box)
        boxes[unit] = box
        title = "musegen/__init__.py" if public else f"{unit}/"
        ax.text(x, y + height / 2 - 0.07, title, ha="center", va="top", fontsize=12,
                fontweight="bold", zorder=3)  # fmt: skip
        ax.text(x, y + height / 2 - 0.29, ROLES.get(unit, ""), ha="center", va="top",
                fontsize=8, style="italic", color="#34495e", zorder=3)  # fmt: skip
        if listing:
            ax.text(x, y + height / 2 - 0.47, listing, ha="center", va="top", fontsize=7.5,
                    family="monospace", color="#1b2631", linespacing=1.25, zorder=3)  # fmt: skip
        steps = PATH_STEPS.get(unit, [])
        if steps:
            ax.text(x + BOX_W / 2, y + height / 2, ",".join(map(str, steps)),
                    ha="center", va="center", fontsize=9, fontweight="bold", color="white",
                    zorder=4, bbox={"boxstyle": "circle,pad=0.25" if len(steps) == 1
                                    else "round,pad=0.25", "facecolor": "#e67e22",
                                    "edgecolor": "none"})  # fmt: skip

    for (a, b), count in sorted(edges.items()):
        if a not in boxes or b not in boxes:
            continue
        (xa, la), (xb, lb) = places[a], places[b]
        up = (a, b) in upward
        arrow = FancyArrowPatch(
            (xa, la * LAYER), (xb, lb * LAYER), patchA=boxes[a], patchB=boxes[b],
            arrowstyle="-|>", mutation_scale=15, shrinkA=1, shrinkB=1,
            connectionstyle="arc3,rad=0.06",
            color="#c0392b" if up else "#5d6d7e", lw=0.7 + 0.2 * min(count, 6),
            linestyle="--" if up else "-", alpha=0.95 if up else 0.5, zorder=1,
        )  # fmt: skip
        ax.add_patch(arrow)

    shared = " and ".join(f"{name}.py" for name in SHARED)
    ax.add_patch(FancyBboxPatch(
        (-0.5, 0.15), right + 0.4, 0.45, boxstyle="round,pad=0.02",
        facecolor="#f4f6f6", edgecolor="#95a5a6", lw=1.0, zorder=2,
    ))  # fmt: skip
    ax.text(
        (right - 0.6) / 2, 0.375,
        f"shared by every layer (no arrows drawn): {shared}: the errors a user can fix "
        "(one line, exit status 2) and the progress bar",
        ha="center", va="center", fontsize=10, zorder=3,
    )  # fmt: skip
    legend = (
        "grey arrow: an import pointing down a layer      "
        "red dashed arrow: an import pointing up or across (to remove)      "
        "orange badge: a step of one `musegen continue` (docs/architecture.md)"
    )
    ax.text(-0.5, top * LAYER + 0.8, legend, fontsize=9.5, color="#34495e", va="center")
    fig.savefig(out)
    return upward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("architecture.png"))
    args = parser.parse_args()
    upward = draw(args.out)
    print(f"wrote {args.out}")
    for a, b in upward:
        print(f"import pointing up or across: {a} -> {b}")


if __name__ == "__main__":
    main()
