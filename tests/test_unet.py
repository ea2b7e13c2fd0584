import pytest
import torch

from course_lib import UNet, count_parameters, timestep_embedding


@pytest.mark.parametrize("skip", ["concat", "add", "none"])
@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("size, mults", [(8, (1, 2)), (16, (1, 2, 2)), (16, (1,))])
def test_output_shape_equals_input_shape(skip, residual, size, mults):
    net = UNet(in_channels=3, base_channels=16, channel_mults=mults, skip=skip, residual=residual)
    x = torch.randn(2, 3, size, size)
    assert net(x, torch.tensor([0, 999])).shape == x.shape


def test_concat_has_more_parameters_than_add_and_add_as_many_as_none():
    n = {s: count_parameters(UNet(skip=s)) for s in ("concat", "add", "none")}
    assert n["concat"] > n["add"] == n["none"]


def test_long_skips_carry_encoder_features():
    """With skips off, zeroing the encoder's full-resolution features can only act through the bottleneck;
    with skips on, the decoder sees them directly."""
    torch.manual_seed(0)
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([10, 20])
    for skip in ["concat", "add"]:
        net = UNet(base_channels=32, skip=skip)
        seen: list[int] = []
        net.up[-1][0].register_forward_hook(lambda m, inp, out, seen=seen: seen.append(inp[0].shape[1]))
        net(x, t)
        assert seen[0] == (64 if skip == "concat" else 32)


def test_residual_unet_starts_near_its_shortcuts():
    """Zero-initialised last convolutions: a residual ResBlock is its shortcut at init."""
    net = UNet(base_channels=32, residual=True)
    block = net.mid[0]
    h = torch.randn(2, 64, 4, 4)
    assert torch.allclose(block(h, torch.randn(2, 128)), h)


def test_timestep_embedding_layout_matches_diffusers():
    diffusers = pytest.importorskip("diffusers")
    from diffusers.models.embeddings import get_timestep_embedding

    t = torch.tensor([0, 1, 17, 999])
    ref = get_timestep_embedding(t, 32, flip_sin_to_cos=True, downscale_freq_shift=0)
    assert torch.allclose(timestep_embedding(t, 32), ref, atol=1e-5)
    assert diffusers is not None


def test_unet_learns_to_denoise_a_little():
    """A loss that falls: 30 Adam steps on a fixed batch reduce the eps-MSE."""
    from course_lib import NoiseSchedule, diffusion_loss

    torch.manual_seed(0)
    net, s = UNet(base_channels=16), NoiseSchedule.make("linear", 1000)
    x0 = torch.sign(torch.randn(32, 1, 8, 8)) * 0.8
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(30):
        loss = diffusion_loss(net, x0, s, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


def test_zero_init_control_keeps_shortcut_without_zero_init():
    """residual=True, zero_init=False: the shortcut stays, the last conv keeps its random init."""
    torch.manual_seed(0)
    on, control = UNet(residual=True), UNet(residual=True, zero_init=False)
    off = UNet(residual=False)
    for model in (on, control, off):
        first = model.down[0][0]
        if model is on:
            assert first.residual and float(first.conv2.weight.abs().sum()) == 0.0
        elif model is control:
            assert first.residual and float(first.conv2.weight.abs().sum()) > 0.0
        else:
            assert not first.residual and float(first.conv2.weight.abs().sum()) > 0.0
    assert control.config.zero_init is False and on.config.zero_init is None
    assert sum(p.numel() for p in on.parameters()) == sum(p.numel() for p in control.parameters())


def test_zero_init_without_residual_is_refused():
    with pytest.raises(ValueError, match="zero_init=True needs residual=True"):
        UNet(residual=False, zero_init=True)


def test_config_dataclass_builds_the_same_model_and_round_trips_through_a_dict():
    from dataclasses import asdict

    from course_lib.unet import UNetConfig

    config = UNetConfig(base_channels=8, channel_mults=[1, 2], skip="add", residual=False)
    assert config.channel_mults == (1, 2) and config.depth == 1
    a, b = UNet(config), UNet(**asdict(config))
    assert a.config == b.config == UNetConfig(**config.to_dict())
    assert [p.shape for p in a.parameters()] == [p.shape for p in b.parameters()]
    assert UNet(config, skip="concat").config.skip == "concat"  # a keyword overrides the given config
    with pytest.raises(TypeError, match="config must be a UNetConfig, got dict"):
        UNet({"skip": "add"})
    with pytest.raises(TypeError, match="unexpected keyword argument 'skips'"):
        UNet(skips="add")
    with pytest.raises(ValueError, match="channel_mults=\\(1, 0\\) is not allowed"):
        UNetConfig(channel_mults=(1, 0))


def test_an_old_checkpoint_config_without_zero_init_still_builds():
    from course_lib.checkpoints import build_model

    old = {"in_channels": 1, "base_channels": 8, "channel_mults": [1, 2], "num_res_blocks": 1, "skip": "concat",
           "residual": True, "dropout": 0.0}
    model = build_model({"kind": "unet", "config": old})
    assert model.config.zero_init is None and model.config.channel_mults == (1, 2)


def test_forward_compiles_as_one_graph_and_keeps_its_checks_outside():
    """torch.compile(fullgraph=True) fails on any host read of a tensor value: the U-Net's forward has none
    while compiling, and still refuses bad input when run eagerly."""
    from course_lib._checks import trusted_values

    torch.manual_seed(0)
    model = UNet(base_channels=8)
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    x, t = torch.randn(4, 1, 8, 8), torch.randint(0, 1000, (4,))
    assert torch.equal(compiled(x, t), model(x, t))
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(bad, t)
    with trusted_values():  # the trainer's steps: data checked once, no per-step value reads
        assert torch.isnan(model(bad, t)).any()
    with pytest.raises(ValueError, match="NaN"):  # and the check is back after the block
        model(bad, t)


def test_scale_shift_scales_and_shifts_the_normalised_activations():
    """``scale_shift=True``: the embedding gives (s, b) per channel and the block computes norm(h) (1 + s) + b where
    the default adds the embedding before the norm. With the embedding projection at zero both are norm(h); the
    flag doubles that projection's outputs, reaches every ResBlock, round-trips through the config's dict, and is
    left out of the dict when off (older checkpoints read as before)."""
    from course_lib.unet import ResBlock, UNetConfig

    torch.manual_seed(0)
    add, film = ResBlock(8, 8, 16, zero_init=False), ResBlock(8, 8, 16, zero_init=False, scale_shift=True)
    film.load_state_dict({k: v for k, v in add.state_dict().items() if not k.startswith("t_proj")}, strict=False)
    for proj in (add.t_proj, film.t_proj):
        torch.nn.init.zeros_(proj.weight), torch.nn.init.zeros_(proj.bias)
    x, emb = torch.randn(3, 8, 4, 4), torch.randn(3, 16)
    assert torch.allclose(add(x, emb), film(x, emb), atol=1e-6)
    film.t_proj.bias.data[:8] = 1.0  # scale s = 1 doubles the normalised activations before SiLU and conv2
    h = film.norm2(film.conv1(torch.nn.functional.silu(film.norm1(x))))
    want = x + film.conv2(torch.nn.functional.silu(2 * h))
    assert torch.allclose(film(x, emb), want, atol=1e-5)

    model = UNet(base_channels=8, num_classes=10, scale_shift=True)
    blocks = [m for m in model.modules() if isinstance(m, ResBlock)]
    assert blocks and all(b.scale_shift and b.t_proj.out_features == 2 * b.conv2.out_channels for b in blocks)
    assert model.config.to_dict()["scale_shift"] is True
    assert UNet(UNetConfig(**model.config.to_dict())).config == model.config
    assert "scale_shift" not in UNet().config.to_dict()
    with pytest.raises(ValueError, match=r"scale_shift='yes' is not allowed"):
        UNet(scale_shift="yes")
