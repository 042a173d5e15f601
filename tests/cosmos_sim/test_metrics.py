import numpy as np
import pytest
import torch

from cosmos_sim.eval.metrics import gaussian_window, psnr, ssim


def test_psnr_known_values():
    a = np.zeros((1, 3, 8, 8))
    b = np.full((1, 3, 8, 8), 0.1)  # MSE 0.01 -> 20 dB on range 1
    assert psnr(a, b) == pytest.approx([20.0])
    assert psnr(a * 255, b * 255, data_range=255) == pytest.approx([20.0])
    t = psnr(torch.zeros(2, 4, 3, 8, 8), torch.full((2, 4, 3, 8, 8), 0.01))
    assert isinstance(t, torch.Tensor) and t.shape == (2, 4) and torch.allclose(t, torch.full((2, 4), 40.0))
    assert np.isinf(psnr(b, b)).all()


def test_ssim_known_values():
    x = np.random.default_rng(0).random((2, 3, 32, 32))
    assert ssim(x, x) == pytest.approx([1.0, 1.0])
    # A constant offset c on flat images: luminance term only, (2 m (m+c) + C1) / (m^2 + (m+c)^2 + C1).
    m, c, c1 = 0.5, 0.1, 0.01**2
    flat = np.full((1, 1, 16, 16), m)
    expect = (2 * m * (m + c) + c1) / (m**2 + (m + c) ** 2 + c1)
    assert ssim(flat, flat + c) == pytest.approx([expect])
    assert ssim(x, 1 - x).max() < 0  # anti-correlated structure
    w = gaussian_window()
    assert w.shape == (11,) and float(w.sum()) == pytest.approx(1.0) and int(w.argmax()) == 5


def test_ssim_and_psnr_match_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(1)
    a = rng.random((3, 3, 40, 48))
    b = np.clip(a + 0.08 * rng.standard_normal(a.shape), 0, 1)
    ours = ssim(a, b)
    ref = [
        metrics.structural_similarity(
            a[i],
            b[i],
            channel_axis=0,
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        for i in range(3)
    ]
    assert ours == pytest.approx(ref, abs=1e-9)
    assert psnr(a, b) == pytest.approx(
        [metrics.peak_signal_noise_ratio(a[i], b[i], data_range=1.0) for i in range(3)]
    )
    # torch float32 agrees with the float64 numpy path
    assert ssim(torch.from_numpy(a).float(), torch.from_numpy(b).float()).numpy() == pytest.approx(
        ref, abs=1e-4
    )


def test_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        psnr(np.zeros((3, 8, 8)), np.zeros((3, 8, 9)))
    with pytest.raises(ValueError, match="channels-first"):
        ssim(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(np.zeros((1, 3, 8, 8)), np.zeros((1, 3, 8, 8)))
