"""course_lib.gradients: per-layer gradient norms are taken in float64, so a tiny float32 gradient is not
reported as 0; only a gradient whose every entry is 0 gives a norm of 0."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib import DeepMLP, layer_gradient_norms


@pytest.fixture(scope="module")
def digits():
    from course_lib.classify import digits_flat

    x, y = digits_flat()
    return x[:256], y[:256]


def test_norm_is_exact_for_a_known_gradient():
    """A loss linear in the first layer's weights, L = sum_b W h_b (h_b the stem's output for input b), has
    dL/dW = outer(ones, sum_b h_b), whose Frobenius norm is sqrt(rows) * ||sum_b h_b||."""
    torch.manual_seed(0)
    net = DeepMLP(in_features=4, out_features=3, depth=1, width=5, activation="relu")
    x = torch.randn(2, 4)

    def first_layer_sum(out, _):
        return net.layers[0].linear(net.stem(x)).sum()

    (norm,) = layer_gradient_norms(net, x, torch.zeros(2, dtype=torch.long), loss_fn=first_layer_sum)
    h = net.stem(x).detach().double().sum(0)
    assert norm == pytest.approx(5 ** 0.5 * h.norm().item(), rel=1e-6)


def norms_and_grads(depth: int, activation: str, x, y):
    """``layer_gradient_norms`` of a seed-0 ``DeepMLP`` and the float32 weight gradients of the same batch."""
    torch.manual_seed(0)
    net = DeepMLP(depth=depth, activation=activation)
    norms = layer_gradient_norms(net, x, y)
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    return norms, [layer.linear.weight.grad for layer in net.layers]


def test_tiny_float32_gradients_keep_a_positive_float64_norm(digits):
    """Depth 30, sigmoid, default init, seed 0: the first layers' entries are ~1e-28, nonzero, and a float32
    .norm() of them underflows to 0 (their squares, ~1e-56, are below float32's smallest number 1.4e-45)."""
    norms, grads = norms_and_grads(30, "sigmoid", *digits)
    float32_norms = np.array([g.norm().item() for g in grads])
    assert (float32_norms[:6] == 0).all()  # the artifact the float64 norm avoids
    assert (norms > 0).all() and norms[0] < 1e-20
    for g, n in zip(grads[:6], norms[:6]):
        assert (g != 0).all()  # every entry is nonzero
        assert n == pytest.approx(np.linalg.norm(g.numpy().astype(np.float64)), rel=1e-12)
        assert n >= np.abs(g.numpy().astype(np.float64)).max()  # a norm is at least its largest entry
    assert float32_norms[-1] == pytest.approx(norms[-1], rel=1e-5)  # where float32 is fine, both agree


def test_zero_only_where_the_float32_gradient_is_all_zero(digits):
    """Depth 128, ReLU, default init: the float32 backward pass itself underflows; those layers' norms are 0
    exactly when every entry of their gradient is 0."""
    norms, grads = norms_and_grads(128, "relu", *digits)
    all_zero = np.array([bool((g == 0).all()) for g in grads])
    assert all_zero.any() and not all_zero.all()
    np.testing.assert_array_equal(norms == 0, all_zero)
