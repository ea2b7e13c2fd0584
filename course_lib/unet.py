"""A small U-Net denoiser, eps_theta(x_t, t), for ``[B, C, H, W]`` images.

Two different kinds of connection live in this model, and the course switches each off:

* **residual connections** inside every ``ResBlock``: h = x + F(x, t) (``residual=True``),
  short, additive, same resolution;
* **long skips** from each encoder level to the decoder level of the same resolution
  (``skip="concat"`` as in Ronneberger et al. 2015 and DDPM, ``"add"``, or ``"none"``).

Layout with ``channel_mults=(1, 2)`` and ``base_channels=c`` on 8x8 input::

    x -> conv_in -> [ResBlock c] ----------------- skip ----------------> [combine, ResBlock c] -> out
                    | down 8->4                                          ^ up 4->8
                    [ResBlock 2c] --- skip ---> mid ---> [combine, ResBlock 2c]

``depth = len(channel_mults) - 1`` downsamplings, so H and W must be divisible by 2**depth.

**Class-conditional** with ``num_classes > 0`` (notebook 08): a label ``y`` is embedded and added to the time
embedding, so it reaches every ``ResBlock`` the way t does (``label_at="blocks"``, as in improved-diffusion's and
the guided-diffusion U-Nets); the embedding has one more entry, ``null_label = num_classes``, "no label", which
classifier-free guidance needs (Ho & Salimans 2022, Sec. 3.2). ``label_at="input"`` adds the label once, to the
input convolution's output, and the blocks see only t: the control for "does it matter that the label goes
through the residual blocks?". With ``num_classes=0`` (the default) the model is the unconditional one, unchanged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    check_choice,
    check_finite,
    check_float_tensor,
    check_positive_int,
    check_rank,
    checking_values,
    config_with,
)

SKIP_MODES = ("concat", "add", "none")
LABEL_SITES = ("blocks", "input")


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps: ``[B] -> [B, dim]``.

    emb[:, i] = cos(t * w_i) and emb[:, half + i] = sin(t * w_i), w_i = max_period^(-i / half)
    (the layout of diffusers' ``UNet2DModel`` with ``flip_sin_to_cos=True``).
    """
    check_rank("t", t, 1, "[B]")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
        raise ValueError(f"dim={dim!r} is not allowed; the timestep embedding needs dim >= 2 (one cos and one sin; "
                         f"dim=1 would be 0 for every t)")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None, :]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, dim % 2))


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, channels), channels)


class ResBlock(nn.Module):
    """h = shortcut(x) + F(x, t) with F = conv(act(norm(conv(act(norm(x))) + W t_emb))).

    ``residual=False`` returns F(x, t) alone (the plain twin). ``[B, c_in, H, W] -> [B, c_out, H, W]``.
    ``zero_init`` (default: ``residual``) zero-initialises the last convolution so the block starts as its
    shortcut; ``residual=True, zero_init=False`` keeps the shortcut with PyTorch's default init (the control
    that separates removing the shortcut from removing the zero-init). A plain block cannot be zero-initialised:
    it would output 0 for every input.

    ``scale_shift=True`` lets the embedding scale and shift the normalised activations instead of adding to them,
    norm(h) (1 + s) + b with (s, b) = W t_emb (improved-diffusion's ``use_scale_shift_norm``; Dhariwal & Nichol
    2021, Sec. 3.1, AdaGN).
    """

    def __init__(self, c_in: int, c_out: int, t_dim: int, residual: bool = True, dropout: float = 0.0,
                 zero_init: bool | None = None, scale_shift: bool = False):
        super().__init__()
        zero_init = residual if zero_init is None else zero_init
        if zero_init and not residual:
            raise ValueError("zero_init=True needs residual=True: a plain block with a zero last layer outputs 0")
        self.residual, self.scale_shift = residual, scale_shift
        self.norm1, self.conv1 = group_norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.t_proj = nn.Linear(t_dim, 2 * c_out if scale_shift else c_out)
        self.norm2, self.conv2 = group_norm(c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        if residual:
            self.shortcut = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)
        if zero_init:
            nn.init.zeros_(self.conv2.weight)
            nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        emb = self.t_proj(t_emb)[:, :, None, None]
        if self.scale_shift:
            scale, shift = emb.chunk(2, dim=1)
            h = self.norm2(h) * (1 + scale) + shift
        else:
            h = self.norm2(h + emb)
        h = self.conv2(self.dropout(F.silu(h)))
        return self.shortcut(x) + h if self.residual else h


@dataclass(frozen=True)
class UNetConfig:
    """Everything that defines a ``UNet`` (checkpoints store it as a dict, ``asdict(config)``).

    Args:
        in_channels: image channels C.
        base_channels: channels at full resolution (also the size of the timestep embedding).
        channel_mults: channels of each level as multiples of ``base_channels``; one downsampling between
            consecutive levels, so ``depth = len(channel_mults) - 1``.
        num_res_blocks: ResBlocks per level in the encoder and in the decoder.
        skip: long encoder-decoder skips, ``"concat"``, ``"add"`` or ``"none"``.
        residual: residual connections inside the ResBlocks on or off.
        dropout: dropout inside the ResBlocks.
        zero_init: zero-initialise each ResBlock's last convolution (None: the same as ``residual``).
        num_classes: labels 0..num_classes-1 the model is conditioned on; 0 for an unconditional model.
        label_at: where a label enters, ``"blocks"`` (with the time embedding, into every ResBlock) or
            ``"input"`` (added once after the input convolution).
        scale_shift: the embedding scales and shifts each ResBlock's normalised activations instead of adding
            to them (``ResBlock``). Off by default: on notebook 08's conditional digits it did no better
            (``scripts/scale_shift.py``, 2,000 steps, 3 training seeds: FD at guidance 1.25 higher by 0.5 to 1.1,
            within the score's draw-to-draw noise; ``course_lib/results/scale_shift.json``).
    """

    in_channels: int = 1
    base_channels: int = 16
    channel_mults: tuple[int, ...] = (1, 2)
    num_res_blocks: int = 1
    skip: str = "concat"
    residual: bool = True
    dropout: float = 0.0
    zero_init: bool | None = None
    num_classes: int = 0
    label_at: str = "blocks"
    scale_shift: bool = False

    def __post_init__(self):
        check_positive_int("in_channels", self.in_channels)
        check_positive_int("base_channels", self.base_channels)
        if self.base_channels < 2:
            raise ValueError(f"base_channels={self.base_channels!r} is not allowed; base_channels must be >= 2 (it "
                             f"is also the timestep embedding's size, and a 1-dim embedding is 0 for every t)")
        check_positive_int("num_res_blocks", self.num_res_blocks)
        check_choice("skip", self.skip, SKIP_MODES)
        mults = tuple(self.channel_mults)  # a checkpoint may hold a list
        if not mults or any(isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in mults):
            raise ValueError(f"channel_mults={self.channel_mults!r} is not allowed; give positive integers, "
                             f"e.g. (1, 2)")
        object.__setattr__(self, "channel_mults", mults)
        if self.zero_init and not self.residual:
            raise ValueError("zero_init=True needs residual=True: a plain block with a zero last layer outputs 0")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 0:
            raise ValueError(f"num_classes={self.num_classes!r} is not allowed; give 0 (unconditional) or the number "
                             f"of labels, e.g. 10 for digits")
        check_choice("label_at", self.label_at, LABEL_SITES)
        if not isinstance(self.scale_shift, bool):
            raise ValueError(f"scale_shift={self.scale_shift!r} is not allowed; give True or False")

    @property
    def depth(self) -> int:
        """Downsamplings: H and W must be divisible by 2**depth."""
        return len(self.channel_mults) - 1

    def to_dict(self) -> dict:
        """The fields as a dict, less those at a default that older checkpoints lack (the conditioning fields of
        an unconditional model, ``scale_shift`` off), so that those checkpoints read exactly as before."""
        fields = asdict(self)
        if not self.num_classes:
            del fields["num_classes"], fields["label_at"]
        if not self.scale_shift:
            del fields["scale_shift"]
        return fields


class UNet(nn.Module):
    """U-Net predicting the noise eps from ``(x_t [B, C, H, W], t [B])``; output shape = input shape.

    ``UNet(config)`` with a ``UNetConfig``, or ``UNet(skip="add", residual=False, ...)`` with its fields
    (keywords override a given config).
    """

    def __init__(self, config: UNetConfig | None = None, **overrides):
        super().__init__()
        self.config = config = config_with(config, UNetConfig, overrides, "UNet(skip='add')")
        self.in_channels, self.skip, self.depth = config.in_channels, config.skip, config.depth
        # Channels per level: chs[level] = base_channels * channel_mults[level], e.g. [16, 32].
        chs = [config.base_channels * m for m in config.channel_mults]
        t_dim = 4 * config.base_channels  # the timestep MLP widens the sinusoidal embedding 4x (as in DDPM)
        self.embed_dim = config.base_channels
        self.time_mlp = nn.Sequential(nn.Linear(self.embed_dim, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))

        def blocks(c_in, c_out):  # num_res_blocks ResBlocks; the first one changes c_in -> c_out
            return nn.ModuleList(ResBlock(c_in if i == 0 else c_out, c_out, t_dim, config.residual, config.dropout,
                                          config.zero_init, config.scale_shift) for i in range(config.num_res_blocks))

        # Encoder: level l maps c (the channels arriving) to chs[l], then halves H and W (except the last level).
        # Its output at each level is kept as that level's long skip.
        self.conv_in = nn.Conv2d(config.in_channels, chs[0], 3, padding=1)
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        c = chs[0]
        for level, ch in enumerate(chs):
            self.down.append(blocks(c, ch))
            c = ch
            if level < self.depth:
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
        self.mid = blocks(c, c)  # at the lowest resolution, c = chs[-1] channels in and out
        # Decoder, from the lowest level up: upsample and project c -> chs[l], merge the skip of level l
        # (concat: chs[l] more channels come in; add: shapes must match, so chs[l]; none: nothing comes in),
        # then blocks back to chs[l].
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(chs))):
            ch = chs[level]
            if level < self.depth:
                self.upsample.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                                   nn.Conv2d(c, ch, 3, padding=1)))
                c = ch
            c_in = c + ch if config.skip == "concat" else c
            self.up.append(blocks(c_in, ch))
            c = ch
        self.norm_out, self.conv_out = group_norm(c), nn.Conv2d(c, config.in_channels, 3, padding=1)
        # Made last, so that an unconditional model's weights are drawn exactly as before conditioning existed.
        self.num_classes = config.num_classes
        if self.num_classes:
            self.null_label = self.num_classes  # "no label": the extra entry classifier-free guidance trains
            width = t_dim if config.label_at == "blocks" else chs[0]
            self.label_emb = nn.Embedding(self.num_classes + 1, width)

    def check_input(self, x: torch.Tensor, t: torch.Tensor) -> None:
        check_rank("x", x, 4, "[B, C, H, W]")
        check_float_tensor("x", x, " (the UNet's input)")
        check_finite("x", x, " (the UNet's input)")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x has {x.shape[1]} channels; this UNet expects in_channels={self.in_channels}")
        factor = 2 ** self.depth
        if x.shape[2] % factor or x.shape[3] % factor:
            raise ValueError(
                f"image size {x.shape[2]}x{x.shape[3]} is not divisible by 2**depth = {factor} "
                f"(depth = len(channel_mults) - 1 = {self.depth}); pad or resize the images, "
                f"or use fewer channel_mults")
        check_rank("t", t, 1, "[B]")
        if t.shape[0] != x.shape[0]:
            raise ValueError(f"t has {t.shape[0]} entries but x has batch size {x.shape[0]}; give one t per image")

    def check_label(self, y: torch.Tensor | None, batch: int) -> None:
        if y is None:
            return
        if not self.num_classes:
            raise ValueError("y (a label) was given, but this UNet is unconditional (num_classes=0); train one with "
                             "UNet(num_classes=10) to condition on labels")
        check_rank("y", y, 1, "[B]")
        if y.dtype not in (torch.int32, torch.int64) or y.shape[0] != batch:
            raise ValueError(f"y must be integer labels of shape [{batch}] (one per image); got {y.dtype} of shape "
                             f"{list(y.shape)}")
        if checking_values() and len(y) and not 0 <= int(y.min()) <= int(y.max()) <= self.num_classes:
            raise ValueError(f"y holds labels from {int(y.min())} to {int(y.max())}; this UNet allows 0.."
                             f"{self.num_classes - 1}, and {self.null_label} for no label")

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """eps_hat(x_t, t), or eps_hat(x_t, t, y) for a conditional model (y None: no label, ``null_label``)."""
        self.check_input(x, t)
        self.check_label(y, x.shape[0])
        t_emb = self.time_mlp(timestep_embedding(t, self.embed_dim))
        h = self.conv_in(x)
        if self.num_classes:
            if y is None:
                y = torch.full((x.shape[0],), self.null_label, dtype=torch.long, device=x.device)
            if self.config.label_at == "blocks":
                t_emb = t_emb + self.label_emb(y)  # the label travels with t into every ResBlock
            else:
                h = h + self.label_emb(y)[:, :, None, None]  # the label enters once, at the input
        skips = []
        for level, level_blocks in enumerate(self.down):
            for block in level_blocks:
                h = block(h, t_emb)
            skips.append(h)
            if level < self.depth:
                h = self.downsample[level](h)
        for block in self.mid:
            h = block(h, t_emb)
        for i, level_blocks in enumerate(self.up):
            if i > 0:
                h = self.upsample[i - 1](h)
            h = self.combine(h, skips.pop())
            for block in level_blocks:
                h = block(h, t_emb)
        return self.conv_out(F.silu(self.norm_out(h)))

    def combine(self, h: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Merge the decoder's h with the encoder's feature map of the same resolution (``combine``)."""
        return combine(h, skip, self.skip)


def combine(h: torch.Tensor, skip: torch.Tensor, mode: str) -> torch.Tensor:
    """The long skip's merge of the decoder's ``h [B, C_h, H, W]`` with the encoder's ``skip [B, C_s, H, W]``.

    ``"concat"``: ``[B, C_h + C_s, H, W]``, h's channels first (Ronneberger et al. 2015, DDPM);
    ``"add"``: h + skip, ``[B, C_h, H, W]`` (needs C_s = C_h); ``"none"``: h alone.
    """
    if mode == "concat":
        return torch.cat([h, skip], dim=1)
    if mode == "add":
        return h + skip
    return h
