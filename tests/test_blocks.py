import pytest
import torch

from course_lib import BasicBlock, BottleneckBlock, PreActBlock, SmallResNet


@pytest.mark.parametrize("cls, in_ch", [(BasicBlock, 16), (BottleneckBlock, 64), (PreActBlock, 16)])
def test_zero_init_block_is_the_identity(cls, in_ch):
    channels = in_ch // cls.expansion
    block = cls(in_ch, channels, zero_init=True).eval()
    x = torch.randn(4, in_ch, 8, 8).abs() + 0.1  # post-ReLU blocks see positive input in a ResNet
    assert torch.allclose(block(x), x, atol=1e-6)
    # dy/dx = I: the Jacobian-vector product returns the vector itself
    v = torch.randn_like(x)
    _, jvp = torch.func.jvp(block, (x,), (v,))
    assert torch.allclose(jvp, v, atol=1e-5)


@pytest.mark.parametrize("cls", [BasicBlock, BottleneckBlock, PreActBlock])
def test_without_zero_init_block_is_not_identity(cls):
    block = cls(64, 64 // cls.expansion).eval()
    x = torch.relu(torch.randn(2, 64, 8, 8))
    assert not torch.allclose(block(x), x, atol=1e-3)


@pytest.mark.parametrize("cls", [BasicBlock, BottleneckBlock, PreActBlock])
def test_projection_shortcut_when_shape_changes(cls):
    block = cls(16, 32, stride=2)
    assert isinstance(block.shortcut, torch.nn.Sequential)
    assert block(torch.randn(2, 16, 8, 8)).shape == (2, 32 * cls.expansion, 4, 4)
    assert isinstance(cls(32 * cls.expansion, 32).shortcut, torch.nn.Identity)


def test_bottleneck_has_fewer_parameters_than_basic_at_same_width():
    n = lambda m: sum(p.numel() for p in m.parameters())
    assert n(BottleneckBlock(256, 64)) < n(BasicBlock(256, 256))


def test_plain_block_has_no_shortcut():
    block = BasicBlock(16, 16, residual=False, zero_init=True).eval()
    x = torch.relu(torch.randn(2, 16, 4, 4))
    assert block.shortcut is None
    assert torch.allclose(block(x), torch.zeros_like(x))  # zeroed branch, nothing else


@pytest.mark.parametrize("block", ["basic", "bottleneck", "preact"])
@pytest.mark.parametrize("residual", [True, False])
def test_small_resnet_shapes_and_lesion(block, residual):
    net = SmallResNet(block=block, residual=residual, num_blocks=4).eval()
    x = torch.randn(3, 1, 8, 8)
    assert net(x).shape == (3, 10)
    lesionable = net.lesionable_blocks()
    assert 2 not in lesionable and lesionable
    net.skip_blocks = {lesionable[0]}
    assert net(x).shape == (3, 10)
    net.skip_blocks = {2}
    with pytest.raises(ValueError, match="skip_blocks contains 2"):
        net(x)
