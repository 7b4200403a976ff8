"""Vectorised ray casting of a scene graph (numpy; no renderer on PyPI both fits this and
installs cleanly here, so it is written out). Per pixel: one camera ray, the nearest hit among
the ground plane (y = 0) and the objects, Lambert shading with ambient light, Blinn-Phong
highlights on shiny objects, and a shadow ray towards the directional key light.

Depth is the Euclidean distance (metres) from the camera centre to the hit along the pixel's
ray (inf where the ray sees the sky); the instance mask is 0 for plane and sky, i + 1 for
object i of the scene graph.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gscsim.data.scenes.graph import COLOURS, Scene, SceneObject

EPS = 1e-6
AMBIENT = 0.25
PLANE_ALBEDO = np.array([0.62, 0.60, 0.57])


@dataclass
class Render:
    """image float32 [H, W, 3] in [0, 1]; depth float32 [H, W] (m, inf for sky); mask uint8."""

    image: np.ndarray
    depth: np.ndarray
    mask: np.ndarray


def camera_rays(scene: Scene, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Ray origin [3] and unit directions [H*W, 3] of a pinhole camera (vertical fov)."""
    cam = scene.camera
    origin = np.asarray(cam.position, dtype=np.float64)
    forward = np.asarray(cam.target) - origin
    forward /= np.linalg.norm(forward)
    right = np.cross([0.0, 1.0, 0.0], forward)
    right /= np.linalg.norm(right)
    up = np.cross(forward, right)
    half = math.tan(math.radians(cam.fov_deg) / 2)
    cols = (2 * (np.arange(width) + 0.5) / width - 1) * half * width / height
    rows = (1 - 2 * (np.arange(height) + 0.5) / height) * half
    u, v = np.meshgrid(cols, rows)
    dirs = forward + u[..., None] * right + v[..., None] * up
    dirs = dirs.reshape(-1, 3)
    return origin, dirs / np.linalg.norm(dirs, axis=1, keepdims=True)


def _solve(a, b, c, y0, dy, low, high):
    """Smallest t > EPS of a t^2 + b t + c = 0 whose height y0 + t dy lies in [low, high]."""
    disc = b * b - 4 * a * c
    ok = (disc >= 0) & (np.abs(a) > 1e-12)
    root = np.sqrt(np.where(ok, disc, 0.0))
    safe_a = np.where(ok, a, 1.0)
    best = np.full(np.shape(a), np.inf)
    for t in ((-b - root) / (2 * safe_a), (-b + root) / (2 * safe_a)):
        y = y0 + t * dy
        good = ok & (t > EPS) & (y >= low) & (y <= high) & (t < best)
        best = np.where(good, t, best)
    return best


def intersect(obj: SceneObject, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances t [N] (inf: miss) and unit normals [N, 3] of rays o + t d (o [N, 3] or [3])."""
    h = obj.half
    p = np.broadcast_to(o, d.shape) - np.array([obj.x, 0.0, obj.z])      # object frame origin
    if obj.shape == "sphere":
        oc = p - np.array([0.0, h, 0.0])
        b = np.einsum("ij,ij->i", oc, d)
        disc = b * b - (np.einsum("ij,ij->i", oc, oc) - h * h)
        root = np.sqrt(np.maximum(disc, 0))
        t = np.where(disc >= 0, np.where(-b - root > EPS, -b - root, -b + root), np.inf)
        t = np.where(t > EPS, t, np.inf)
        normal = (oc + np.where(np.isfinite(t), t, 0.0)[:, None] * d) / h
        return t, normal
    if obj.shape == "cube":
        c, s = math.cos(obj.angle), math.sin(obj.angle)
        rot = np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])             # world -> object
        po = (p - np.array([0.0, h, 0.0])) @ rot.T
        do = d @ rot.T
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / np.where(np.abs(do) < 1e-12, 1e-12, do)
        t1, t2 = (-h - po) * inv, (h - po) * inv
        near, far = np.minimum(t1, t2), np.maximum(t1, t2)
        t_near, t_far = near.max(axis=1), far.min(axis=1)
        hit = (t_near <= t_far) & (t_far > EPS)
        t = np.where(hit, np.where(t_near > EPS, t_near, t_far), np.inf)
        axis = near.argmax(axis=1)
        n_obj = np.zeros_like(po)
        n_obj[np.arange(len(po)), axis] = -np.sign(do[np.arange(len(po)), axis])
        return t, n_obj @ rot                                            # object -> world
    # vertical cylinder (radius h) or cone (base radius h, apex at 2h), standing on y = 0
    k = 0.0 if obj.shape == "cylinder" else 0.5                          # radius shrink / height
    ox, oy, oz = p[:, 0], p[:, 1], p[:, 2]
    dx, dy, dz = d[:, 0], d[:, 1], d[:, 2]
    if obj.shape == "cylinder":
        a, b, c = dx * dx + dz * dz, 2 * (ox * dx + oz * dz), ox * ox + oz * oz - h * h
    else:                                     # x^2 + z^2 = (k (2h - y))^2
        w0, wd = 2 * h - oy, -dy
        a = dx * dx + dz * dz - k * k * wd * wd
        b = 2 * (ox * dx + oz * dz - k * k * w0 * wd)
        c = ox * ox + oz * oz - k * k * w0 * w0
    t = _solve(a, b, c, oy, dy, 0.0, 2 * h)
    hit = p + np.where(np.isfinite(t), t, 0.0)[:, None] * d
    normal = np.stack([hit[:, 0], k * k * (2 * h - hit[:, 1]) * 2 if k else 0 * hit[:, 1],
                       hit[:, 2]], axis=1)
    if obj.shape == "cylinder":                                          # the top cap
        with np.errstate(divide="ignore", invalid="ignore"):
            t_cap = np.where(np.abs(dy) > 1e-12, (2 * h - oy) / dy, np.inf)
        cap = p + np.where(np.isfinite(t_cap), t_cap, 0)[:, None] * d
        on_cap = (t_cap > EPS) & (cap[:, 0] ** 2 + cap[:, 2] ** 2 <= h * h) & (t_cap < t)
        t = np.where(on_cap, t_cap, t)
        normal = np.where(on_cap[:, None], np.array([0.0, 1.0, 0.0]), normal)
    norm = np.linalg.norm(normal, axis=1, keepdims=True)
    return t, normal / np.where(norm > 0, norm, 1.0)


def _candidates(obj: SceneObject, o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Indices of the rays that meet the object's bounding sphere (a cheap pre-test)."""
    centre = np.array([obj.x, obj.half, obj.z])
    oc = np.broadcast_to(o, d.shape) - centre
    b = np.einsum("ij,ij->i", oc, d)
    c = np.einsum("ij,ij->i", oc, oc) - 3.0 * obj.half ** 2          # radius h sqrt(3)
    return np.flatnonzero((b * b - c >= 0) & ((b < 0) | (c < 0)))


def intersect_all(obj: SceneObject, o: np.ndarray, d: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`intersect` on the rays that can hit the object: (ray indices, t, normals)."""
    idx = _candidates(obj, o, d)
    origin = o if o.ndim == 1 else o[idx]
    t, normal = intersect(obj, origin, d[idx])
    return idx, t, normal


def render(scene: Scene, height: int = 64, width: int | None = None) -> Render:
    width = width or height
    origin, dirs = camera_rays(scene, height, width)
    n = len(dirs)
    depth = np.full(n, np.inf)
    normal = np.zeros((n, 3))
    mask = np.zeros(n, dtype=np.uint8)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_plane = np.where(dirs[:, 1] < -1e-12, -origin[1] / dirs[:, 1], np.inf)
    hit_plane = t_plane > EPS
    depth = np.where(hit_plane, t_plane, depth)
    normal[hit_plane] = (0.0, 1.0, 0.0)
    for i, obj in enumerate(scene.objects):
        idx, t, nrm = intersect_all(obj, origin, dirs)
        closer = t < depth[idx]
        depth[idx[closer]] = t[closer]
        normal[idx[closer]] = nrm[closer]
        mask[idx[closer]] = i + 1
    image = _shade(scene, origin, dirs, depth, normal, mask)
    return Render(image=image.reshape(height, width, 3).astype(np.float32),
                  depth=depth.reshape(height, width).astype(np.float32),
                  mask=mask.reshape(height, width))


def _shade(scene: Scene, origin, dirs, depth, normal, mask) -> np.ndarray:
    light = np.asarray(scene.light_dir)
    hit = np.isfinite(depth)
    points = origin + np.where(hit, depth, 0)[:, None] * dirs
    albedo = np.tile(PLANE_ALBEDO, (len(dirs), 1))
    shiny = np.zeros(len(dirs), dtype=bool)
    for i, obj in enumerate(scene.objects):
        mine = mask == i + 1
        albedo[mine] = COLOURS[obj.colour]
        shiny[mine] = obj.material == "shiny"
    lit = np.ones(len(dirs))                                   # shadow rays to the key light
    idx = np.flatnonzero(hit)
    starts = points[idx] + normal[idx] * 1e-4
    towards = np.broadcast_to(light, starts.shape)
    towards = np.ascontiguousarray(towards)
    for obj in scene.objects:
        sub, t, _ = intersect_all(obj, starts, towards)
        lit[idx[sub[np.isfinite(t)]]] = 0.0
    diffuse = np.clip(np.einsum("ij,j->i", normal, light), 0, None) * lit
    colour = albedo * (AMBIENT + (1 - AMBIENT) * diffuse[:, None])
    half = light - dirs
    half /= np.linalg.norm(half, axis=1, keepdims=True)
    spec = np.clip(np.einsum("ij,ij->i", normal, half), 0, None) ** 40 * 0.7 * lit * shiny
    colour = colour + spec[:, None]
    elevation = np.clip(dirs[:, 1], 0, 1)[:, None]
    sky = np.array([0.75, 0.85, 0.95]) * (1 - elevation) + np.array([0.35, 0.55, 0.85]) * elevation
    colour = np.where(hit[:, None], colour, sky)
    return np.clip(colour, 0, 1) ** (1 / 2.2)                  # linear -> display gamma
