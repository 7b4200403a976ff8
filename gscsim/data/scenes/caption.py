"""Captions from scene graphs: every object named once, with its size, colour, material and
shape, in varied natural wording, and pairwise relations seen from the camera."""
from __future__ import annotations

import numpy as np

from gscsim.data.scenes.graph import Scene, SceneObject

MATERIAL_WORDS = {"matte": ("matte", "rubber"), "shiny": ("shiny", "metal")}


def camera_frame(scene: Scene, obj: SceneObject) -> tuple[float, float]:
    """(right, forward) coordinates of an object's base centre seen from the camera."""
    pos, target = np.asarray(scene.camera.position), np.asarray(scene.camera.target)
    forward = target - pos
    forward[1] = 0.0
    forward /= np.linalg.norm(forward)
    right = np.array([forward[2], 0.0, -forward[0]])
    rel = np.array([obj.x, 0.0, obj.z]) - pos
    return float(rel @ right), float(rel @ forward)


def relations(scene: Scene) -> list[tuple[int, str, int]]:
    """(i, relation, j) for every ordered pair: to the left / right of, in front of / behind."""
    frames = [camera_frame(scene, o) for o in scene.objects]
    out = []
    for i, (xi, zi) in enumerate(frames):
        for j, (xj, zj) in enumerate(frames):
            if i != j:
                out.append((i, "to the left of" if xi < xj else "to the right of", j))
                out.append((i, "in front of" if zi < zj else "behind", j))
    return out


def describe(obj: SceneObject, rng: np.random.Generator) -> str:
    material = MATERIAL_WORDS[obj.material][int(rng.integers(2))]
    return f"{obj.size} {obj.colour} {material} {obj.shape}"


def caption(scene: Scene, rng: np.random.Generator) -> str:
    """One sentence naming every object exactly once; wording drawn from `rng`."""
    objs = list(scene.objects)
    order = list(rng.permutation(len(objs)))
    names = {i: describe(objs[i], rng) for i in order}
    if len(objs) == 1:
        template = ["a {0} on the ground", "there is a {0}", "a single {0} on a grey floor"]
        return template[int(rng.integers(3))].format(names[order[0]]).capitalize() + "."
    rel = {(i, j): r for i, r, j in relations(scene) if r.startswith("to the")}
    depth = {(i, j): r for i, r, j in relations(scene) if r in ("in front of", "behind")}
    first, second = order[0], order[1]
    kind = rel if rng.random() < 0.5 else depth
    head = f"a {names[first]} {kind[(first, second)]} a {names[second]}"
    rest = [f"a {names[i]}" for i in order[2:]]
    if rest:
        joiner = [", with ", ", next to ", " and also "][int(rng.integers(3))]
        tail = rest[0] if len(rest) == 1 else ", ".join(rest[:-1]) + " and " + rest[-1]
        head = head + joiner + tail
    return head[0].upper() + head[1:] + "."
