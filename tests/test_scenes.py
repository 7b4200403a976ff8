"""The procedural scene set: geometry checked against analytic ray casting, captions against
scene graphs, determinism of the splits, the shard writer."""
import math
import re

import numpy as np
import pytest
import torch

from gscsim.data.scenes.caption import MATERIAL_WORDS, caption
from gscsim.data.scenes.dataset import Scenes, scene_at
from gscsim.data.scenes.graph import SHAPES, Camera, Scene, SceneObject, sample_scene
from gscsim.data.scenes.render import camera_rays, render

CAMERA = Camera(position=(0.0, 4.2, -7.5), target=(0.0, 0.3, 0.6))
LIGHT = (-0.4, 0.8, -0.45)


def _scene(*objects):
    light = np.asarray(LIGHT) / np.linalg.norm(LIGHT)
    return Scene(objects=tuple(objects), camera=CAMERA, light_dir=tuple(light))


def test_depth_matches_analytic_distances_to_a_sphere_and_the_plane():
    ball = SceneObject("sphere", "red", "large", "matte", x=0.4, z=0.5)
    out = render(_scene(ball), 96)
    origin, dirs = camera_rays(_scene(ball), 96, 96)
    depth, mask = out.depth.reshape(-1).astype(np.float64), out.mask.reshape(-1)
    centre = np.array([0.4, 0.7, 0.5])
    on_ball = mask == 1
    assert on_ball.sum() > 100
    # |o + t d - c|^2 = r^2 with |d| = 1: t = -b - sqrt(b^2 - (|o - c|^2 - r^2)), b = d.(o - c)
    b = dirs[on_ball] @ (origin - centre)
    expected = -b - np.sqrt(b * b - ((origin - centre) @ (origin - centre) - 0.7 ** 2))
    assert np.abs(depth[on_ball] - expected).max() < 1e-4 * expected.max()
    on_plane = (mask == 0) & np.isfinite(depth)
    assert np.abs(depth[on_plane] - (-origin[1] / dirs[on_plane, 1])).max() < 1e-4 * 30


def test_mask_area_shrinks_with_distance_as_perspective_predicts():
    areas, distances = [], []
    for z in (-2.0, 1.0, 4.0):
        ball = SceneObject("sphere", "blue", "small", "matte", x=0.0, z=z)
        areas.append(int((render(_scene(ball), 128).mask == 1).sum()))
        distances.append(np.linalg.norm(np.array([0.0, 0.35, z]) - np.asarray(CAMERA.position)))
    assert areas[0] > areas[1] > areas[2] > 0
    for k in (1, 2):                 # projected area ~ 1 / distance^2 (to 20%)
        assert areas[k] / areas[0] == pytest.approx((distances[0] / distances[k]) ** 2, rel=0.2)


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_renders_with_shading_and_a_shadow(shape):
    obj = SceneObject(shape, "yellow", "large", "shiny", x=0.0, z=0.0, angle=0.3)
    out = render(_scene(obj), 64)
    assert (out.mask == 1).sum() > 50
    pixels = out.image[out.mask == 1]
    assert pixels.std() > 0.02                          # shaded, not flat
    plane = out.image[out.mask == 0].mean(axis=1)
    assert plane.min() < plane.max() - 0.2              # the object casts a shadow


def test_captions_name_exactly_the_objects_of_the_scene_graph():
    words = "|".join(w for pair in MATERIAL_WORDS.values() for w in pair)
    pattern = re.compile(rf"(small|large) (\w+) ({words}) ({'|'.join(SHAPES)})")
    for index in range(60):
        rng = np.random.default_rng(index)
        scene = sample_scene(rng)
        text = caption(scene, rng)
        named = sorted((m[0], m[1], m[3]) for m in pattern.findall(text))
        truth = sorted((o.size, o.colour, o.shape) for o in scene.objects)
        assert named == truth, text


def test_objects_never_collide():
    for index in range(100):
        objs = sample_scene(np.random.default_rng(index)).objects
        for i, a in enumerate(objs):
            for b in objs[i + 1:]:
                assert math.hypot(a.x - b.x, a.z - b.z) > (a.half + b.half) * math.sqrt(2)


def test_splits_are_deterministic_and_distinct():
    test = Scenes(Scenes.Options(count=5))
    again = Scenes(Scenes.Options(count=5))
    train = Scenes(Scenes.Options(count=5, split="train"))
    assert torch.equal(test[3].image, again[3].image) and test[3].caption == again[3].caption
    assert not torch.equal(test[3].image, train[3].image)
    frame = test[0]
    assert frame.depth.shape == (1, 64, 64) and frame.mask.shape == (64, 64)
    assert scene_at("test", 0)[1] == frame.caption


def test_shard_writer(tmp_path):
    from gscsim.cli import main

    out = tmp_path / "shard.npz"
    assert main(["scenes", "write", str(out), "--split", "val", "--count", "6", "--quiet"]) == 0
    data = np.load(out)
    assert data["images"].shape == (6, 64, 64, 3) and data["depth"].dtype == np.float16
    assert data["captions"][2] == Scenes(Scenes.Options(split="val", count=6))[2].caption


def test_scenes_feed_depth_to_transceivers(tmp_path, tiny_scenario):
    from gscsim.plugins import Transceiver
    from gscsim.run.link import build_plugins
    from gscsim.run.scenario import expand, validate
    from gscsim.run.trial import run_trial

    seen = {}

    class Spy(Transceiver):
        def encode(self, batch, ctx):
            seen["depth"] = batch.depth
            return {}

        def decode(self, received, ctx):
            return torch.full((ctx.batch_size, *ctx.image_shape), 0.5)

    tiny_scenario["dataset"] = {"name": "scenes", "options": {"count": 2}}
    scenario = validate(tiny_scenario)
    trial = expand(scenario)[0]
    plugins = build_plugins(scenario, trial)
    plugins.transceiver = Spy()
    run_trial(scenario, trial, plugins=plugins)
    assert seen["depth"].shape == (2, 1, 64, 64) and float(seen["depth"].min()) > 0


def test_projected_object_centres_fall_on_their_masks():
    from gscsim.data.scenes.attributes import project

    hits = total = 0
    for index in range(30):
        scene = sample_scene(np.random.default_rng(index))
        mask = render(scene, 64).mask
        for i, obj in enumerate(scene.objects):
            row, col = project(scene, np.array([obj.x, obj.half, obj.z]), 64)
            r, c = int(row), int(col)
            if 0 <= r < 64 and 0 <= c < 64:
                total += 1
                hits += mask[r, c] == i + 1
    assert total > 60 and hits / total > 0.85       # occluded centres are the exceptions


@pytest.fixture(scope="module")
def test_scenes_64():
    ds = Scenes(Scenes.Options(count=200))
    images = torch.stack([ds[i].image for i in range(200)])
    return ds, images


def test_shipped_recogniser_reaches_its_f1_on_clean_test_scenes(test_scenes_64):
    from gscsim.data.scenes.attributes import f1, labels, recogniser

    ds, images = test_scenes_64
    truth = torch.from_numpy(np.stack([labels(ds.scene(i)) for i in range(200)]))
    with torch.no_grad():
        predicted = (recogniser()(images) > 0).float()
    assert f1(predicted, truth).mean().item() >= 0.95


def test_semantic_acc_falls_monotonically_with_noise(test_scenes_64):
    from gscsim.metrics.semantic import SemanticAccuracy

    _, images = test_scenes_64
    images = images[:64]
    metric = SemanticAccuracy()
    assert torch.equal(metric(images, images), torch.ones(64, dtype=torch.float64))
    g = torch.Generator().manual_seed(0)
    scores = [metric(images, (images + s * torch.randn(images.shape, generator=g)).clamp(0, 1))
              .mean().item() for s in (0.05, 0.15, 0.3, 0.6)]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores


def test_semantic_acc_by_group_isolates_colour(test_scenes_64):
    """Rotating the colour channels keeps shapes, sizes and positions: only the colour-shape
    group should fall."""
    from gscsim.data.scenes.attributes import GROUPS, LABELS, f1_by_group, recognised

    _, images = test_scenes_64
    images = images[:64]
    columns = sorted(i for cols in GROUPS.values() for i in range(len(LABELS))[cols])
    assert columns == list(range(len(LABELS)))                      # the groups partition
    original = recognised(images)
    assert f1_by_group(original, original) == {name: 1.0 for name in GROUPS}
    recoloured = f1_by_group(original, recognised(images[:, [2, 0, 1]]))
    assert recoloured["colour-shape"] < 0.5
    assert recoloured["size-shape"] > 0.9 and recoloured["quadrant"] > 0.9
