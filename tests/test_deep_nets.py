import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from course_lib import DeepCNN, DeepMLP, layer_gradient_norms, neighbour_gradient_correlation, shattered_gradients


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x = torch.tensor(d.data[:256], dtype=torch.float32) / 8 - 1
    return x, torch.tensor(d.target[:256])


def test_plain_sigmoid_50_layers_vanishes_residual_stays_flat(digits):
    x, y = digits
    plain = layer_gradient_norms(DeepMLP(depth=50, activation="sigmoid"), x, y)
    resid = layer_gradient_norms(DeepMLP(depth=50, activation="sigmoid", residual=True), x, y)
    assert plain.shape == resid.shape == (50,)
    assert plain[0] < 1e-6 * plain[-1], "plain: orders of magnitude from last layer to first"
    assert 0.1 < resid[0] / resid[-1] < 10, "residual: within a small factor"


def test_unscaled_residual_explodes_and_fixes_tame_it(digits):
    x, y = digits
    unscaled = layer_gradient_norms(DeepMLP(depth=64, residual=True, scale_branch=False), x, y)
    scaled = layer_gradient_norms(DeepMLP(depth=64, residual=True, scale_branch=True), x, y)
    normed = layer_gradient_norms(DeepMLP(depth=64, residual=True, scale_branch=False, norm="layer"), x, y)
    assert unscaled[0] > 1e3
    assert scaled[0] < 10 and normed[0] < 100
    assert scaled.max() / scaled.min() < 10


def test_only_the_shortcut_differs():
    torch.manual_seed(0)
    plain = DeepMLP(depth=4, residual=False)
    torch.manual_seed(0)
    resid = DeepMLP(depth=4, residual=True)
    for p, q in zip(plain.parameters(), resid.parameters()):
        assert torch.equal(p, q)
    assert not torch.allclose(plain(torch.ones(2, 64)), resid(torch.ones(2, 64)))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "gelu"])
@pytest.mark.parametrize("init", ["default", "xavier", "kaiming", "orthogonal"])
def test_every_activation_and_init_builds_and_runs(activation, init):
    out = DeepCNN(depth=3, activation=activation, init=init, residual=True)(torch.randn(2, 1, 8, 8))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_cnn_plain_vanishes_too():
    x, y = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))
    plain = layer_gradient_norms(DeepCNN(depth=30, activation="sigmoid"), x, y)
    resid = layer_gradient_norms(DeepCNN(depth=30, activation="sigmoid", residual=True), x, y)
    assert plain[0] / plain[-1] < 1e-4 < resid[0] / resid[-1]


def test_shattered_gradients_plain_decorrelates_residual_does_not():
    plain, resid = [], []
    for seed in range(3):
        torch.manual_seed(seed)
        kw = dict(in_features=1, out_features=1, depth=32, width=128, norm="batch", scale_branch=False)
        plain.append(shattered_gradients(DeepMLP(**kw))[2])
        resid.append(shattered_gradients(DeepMLP(residual=True, **kw))[2])
    assert np.median(plain) < 0.3 < 0.7 < np.median(resid)


def test_neighbour_correlation_of_smooth_and_white_noise():
    s = np.linspace(0, 3, 200)
    assert neighbour_gradient_correlation(np.sin(s)) > 0.99
    noise = np.random.default_rng(0).standard_normal(5000)
    assert abs(neighbour_gradient_correlation(noise)) < 0.05
