import math

import pytest
import torch
from conftest import SHARED
from PIL import Image

from gscsim.data.datasets import ImageFolder, SamplePhotos
from gscsim.metrics.pixel import MSSSIM, PSNR, SSIM


def test_samples_are_real_photos_with_captions():
    ds = SamplePhotos(SamplePhotos.Options(size=128))
    assert len(ds) == 9
    frame = ds[0]
    assert frame.image.shape == (3, 128, 128) and frame.caption and frame.id == "astronaut"
    assert 0 <= frame.image.min() and frame.image.max() <= 1
    assert frame.image.std() > 0.1                     # a photograph, not a flat image


def test_folder_reads_images_and_captions(tmp_path):
    for name, colour in [("b.png", (255, 0, 0)), ("a.jpg", (0, 255, 0))]:
        Image.new("RGB", (50, 40), colour).save(tmp_path / name)
    (tmp_path / "captions.csv").write_text("file,caption\nb.png,a red square\n")
    ds = ImageFolder(ImageFolder.Options(path=tmp_path, size=32))
    assert [ds[i].id for i in range(len(ds))] == ["a", "b"]
    assert ds[1].caption == "a red square" and ds[0].caption == ""
    assert torch.allclose(ds[1].image[0], torch.ones(32, 32))


def test_folder_without_images_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no images"):
        len(ImageFolder(ImageFolder.Options(path=tmp_path)))


@pytest.mark.skipif(not (SHARED / "data" / "photos").is_dir(), reason="../shared not present")
def test_folder_reads_the_shared_photos_with_their_captions():
    ds = ImageFolder(ImageFolder.Options(path=SHARED / "data" / "photos", size=64, limit=5))
    assert len(ds) == 5 and all(ds[i].caption for i in range(5))


def test_psnr_on_8bit_values():
    ref = torch.zeros(1, 3, 8, 8)
    dist = torch.full((1, 3, 8, 8), 10 / 255)
    assert PSNR()(ref, dist).item() == pytest.approx(10 * math.log10(255 ** 2 / 100))
    assert PSNR()(ref, ref + 0.001).item() == math.inf      # below half an 8-bit step


def test_ssim_is_one_for_identical_and_falls_with_noise():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(2, 3, 192, 192, generator=g)
    noisy = (img + 0.1 * torch.randn(img.shape, generator=g)).clamp(0, 1)
    noisier = (img + 0.3 * torch.randn(img.shape, generator=g)).clamp(0, 1)
    for metric in (SSIM(), MSSSIM()):
        assert torch.allclose(metric(img, img), torch.ones(2, dtype=torch.float64))
        assert (metric(img, noisy) > metric(img, noisier)).all()


def test_ms_ssim_rejects_small_images():
    with pytest.raises(ValueError, match="ms_ssim needs images of at least"):
        MSSSIM()(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))


def test_ssim_and_ms_ssim_equal_the_reference_computations():
    """The channels-last path gives pytorch-msssim's NCHW values and scikit-image's SSIM."""
    import numpy as np
    from pytorch_msssim import ms_ssim, ssim
    from skimage.metrics import structural_similarity

    from gscsim.metrics.pixel import to_8bit

    g = torch.Generator().manual_seed(3)
    ref = torch.rand(3, 3, 192, 192, generator=g)
    ref = torch.nn.functional.avg_pool2d(ref, 5, 1, 2)                 # some structure
    rec = (ref + 0.08 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
    a, b = to_8bit(ref), to_8bit(rec)
    ours = SSIM()(ref, rec)
    assert torch.allclose(ours, ssim(a, b, data_range=255.0, size_average=False).double(),
                          atol=1e-5, rtol=0)
    assert torch.allclose(MSSSIM()(ref, rec),
                          ms_ssim(a, b, data_range=255.0, size_average=False).double(),
                          atol=1e-5, rtol=0)
    for i in range(3):
        sk = structural_similarity(a[i].permute(1, 2, 0).numpy().astype(np.float64),
                                   b[i].permute(1, 2, 0).numpy().astype(np.float64),
                                   data_range=255.0, channel_axis=2, gaussian_weights=True,
                                   sigma=1.5, use_sample_covariance=False)
        assert abs(float(ours[i]) - sk) < 1e-5
