"""Scene graphs: objects with shape, colour, size, material and position on the ground plane,
drawn reproducibly from a seed, plus the camera and light that see them."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SHAPES = ("sphere", "cube", "cylinder", "cone")
COLOURS = {                       # name -> linear RGB albedo
    "red": (0.80, 0.10, 0.10), "green": (0.10, 0.65, 0.15), "blue": (0.12, 0.25, 0.85),
    "yellow": (0.90, 0.80, 0.10), "purple": (0.50, 0.15, 0.70), "cyan": (0.10, 0.75, 0.80),
    "brown": (0.45, 0.28, 0.12), "gray": (0.50, 0.50, 0.50),
}
SIZES = {"small": 0.35, "large": 0.7}     # half-extent (sphere radius) in metres
MATERIALS = ("matte", "shiny")


@dataclass(frozen=True)
class SceneObject:
    shape: str
    colour: str
    size: str
    material: str
    x: float                 # position on the ground plane (metres); y is up
    z: float
    angle: float = 0.0       # rotation about the vertical axis (radians), cubes only

    @property
    def half(self) -> float:
        return SIZES[self.size]


@dataclass(frozen=True)
class Camera:
    position: tuple[float, float, float]
    target: tuple[float, float, float]
    fov_deg: float = 50.0


@dataclass(frozen=True)
class Scene:
    objects: tuple[SceneObject, ...]
    camera: Camera
    light_dir: tuple[float, float, float]          # unit vector towards the light


def sample_scene(rng: np.random.Generator, min_objects: int = 1, max_objects: int = 5,
                 jitter: float = 0.3) -> Scene:
    """A random scene: 1-5 non-colliding objects, a jittered camera, a key light."""
    n = int(rng.integers(min_objects, max_objects + 1))
    objects: list[SceneObject] = []
    while len(objects) < n:
        size = str(rng.choice(list(SIZES)))
        x, z = float(rng.uniform(-2.6, 2.6)), float(rng.uniform(-1.8, 2.6))
        half = SIZES[size]
        # bounding circles (radius half * sqrt 2 covers a rotated cube) must not touch
        if any(math.hypot(x - o.x, z - o.z) < (half + o.half) * 1.45 + 0.1 for o in objects):
            continue
        objects.append(SceneObject(shape=str(rng.choice(SHAPES)),
                                   colour=str(rng.choice(list(COLOURS))), size=size,
                                   material=str(rng.choice(MATERIALS)), x=x, z=z,
                                   angle=float(rng.uniform(0, math.pi / 2))))
    j = rng.uniform(-jitter, jitter, size=3)
    camera = Camera(position=(0.0 + j[0], 4.2 + j[1], -7.5 + j[2]), target=(0.0, 0.3, 0.6))
    light = np.array([-0.5 + rng.uniform(-0.2, 0.2), 1.0, -0.6 + rng.uniform(-0.2, 0.2)])
    light /= np.linalg.norm(light)
    return Scene(objects=tuple(objects), camera=camera, light_dir=tuple(light.tolist()))
