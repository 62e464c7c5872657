"""to_code(spec): a standalone PyTorch file in the style of the seed (d2l.ai's ResNet chapter).

The export mirrors d2l's code — a `Residual` class, a `resnet_block` helper that builds one
stage, the stages chained with nn.Sequential into `net` — and contains only the branches this
spec uses, so a student reads exactly their network. Tests import the file and compare it with
build_model(spec): same parameter count, same shapes.

loading_code(...): the few lines that load a trained run's downloaded weights and spec and feed it
images prepared as training prepared them (shown on the Train page; a test executes them).
"""

from __future__ import annotations

from textwrap import dedent, indent

from . import fmt
from .plan import NetworkPlan, plan_network
from .spec import ResNetSpec

_BLOCK_DOC = {
    "basic": "Two 3x3 convs and a skip connection: out = relu(F(x) + x).",
    "bottleneck": "Bottleneck: 1x1 reduces, 3x3 (grouped for ResNeXt) works, 1x1 expands 4x; then + x.",
    "preact": "Pre-activation block (He et al. 2016 v2): BN-ReLU before each conv, nothing after + x.",
}


class _Writer:
    """Turns spec flags into source fragments."""

    def __init__(self, spec: ResNetSpec) -> None:
        self.spec = spec
        self.bias = "" if spec.conv_bias else ", bias=False"

    def norm(self, channels: str) -> str:
        return f"nn.BatchNorm2d({channels})" if self.spec.batch_norm else "nn.Identity()"

    def conv(self, cin: str, cout: str, kernel: int, stride: str | int = 1, groups: str = "") -> str:
        parts = [cin, cout, f"kernel_size={kernel}"]
        if kernel > 1:
            parts.append(f"padding={kernel // 2}")
        if stride != 1:
            parts.append(f"stride={stride}")
        if groups:
            parts.append(f"groups={groups}")
        return f"nn.Conv2d({', '.join(parts)}{self.bias})"


def _shortcut_source(w: _Writer, kinds: set[str]) -> str:
    proj_bn = w.spec.shortcut_bn and w.spec.batch_norm
    projection = w.conv("input_channels", "num_channels", 1, "strides")
    if proj_bn:
        projection = f"nn.Sequential({projection}, nn.BatchNorm2d(num_channels))"
    lines = [
        "def shortcut(input_channels, num_channels, strides, kind):",
        '    """The path x takes around a block so that F(x) + x has matching shapes."""',
        '    if kind != "C" and input_channels == num_channels and strides == 1:',
        "        return None  # identity: x is added unchanged",
    ]
    if "A" in kinds:
        lines += [
            '    if kind == "A":  # zero-padding, no parameters (He et al. 2016, option A)',
            "        return ZeroPad(num_channels - input_channels, strides)",
        ]
    if "D" in kinds:
        d_conv = w.conv("input_channels", "num_channels", 1)
        d_bn = ", nn.BatchNorm2d(num_channels)" if proj_bn else ""
        lines += [
            '    if kind == "D":  # average-pool, then 1x1 (ResNet-D, He et al. 2019)',
            "        pool = nn.AvgPool2d(strides, strides, ceil_mode=True, count_include_pad=False)",
            f"        return nn.Sequential(pool if strides > 1 else nn.Identity(), {d_conv}{d_bn})",
        ]
    lines.append(f"    return {projection}  # 1x1 convolution: d2l's use_1x1conv=True")
    source = "\n".join(lines) + "\n"
    if "A" in kinds:
        source = (
            dedent('''
            class ZeroPad(nn.Module):
                """Subsample x, then append zero channels (He et al. 2016, option A)."""

                def __init__(self, extra_channels, strides):
                    super().__init__()
                    self.extra_channels, self.strides = extra_channels, strides

                def forward(self, X):
                    X = X[:, :, :: self.strides, :: self.strides]
                    return F.pad(X, (0, 0, 0, 0, 0, self.extra_channels))


            ''').lstrip()
            + source
        )
    return source


def _block_source(w: _Writer, cls: str) -> str:
    spec = w.spec
    residual = spec.residual
    head = f"class {cls}(nn.Module):  #@save\n"
    doc = _BLOCK_DOC[spec.block] if residual else "The same layers as a residual block, without the skip connection."
    body = [f'"""{doc}"""', ""]
    if spec.block == "bottleneck":
        body += [
            "expansion = 4",
            "",
            f"def __init__(self, input_channels, num_channels, strides=1, kind={spec.shortcut!r},",
            f"             groups={spec.groups}, width_per_group={spec.width_per_group}):",
            "    super().__init__()",
            "    width = num_channels * width_per_group // 64 * groups",
            "    out_channels = num_channels * self.expansion",
            f"    self.conv1 = {w.conv('input_channels', 'width', 1)}",
            f"    self.conv2 = {w.conv('width', 'width', 3, 'strides', 'groups')}",
            f"    self.conv3 = {w.conv('width', 'out_channels', 1)}",
            f"    self.bn1 = {w.norm('width')}",
            f"    self.bn2 = {w.norm('width')}",
            f"    self.bn3 = {w.norm('out_channels')}",
        ]
        shortcut_args = "input_channels, out_channels, strides, kind"
        forward = [
            "Y = F.relu(self.bn1(self.conv1(X)))",
            "Y = F.relu(self.bn2(self.conv2(Y)))",
            "Y = self.bn3(self.conv3(Y))",
        ]
    else:
        body += [
            f"def __init__(self, input_channels, num_channels, strides=1, kind={spec.shortcut!r}):",
            "    super().__init__()",
            f"    self.conv1 = {w.conv('input_channels', 'num_channels', 3, 'strides')}",
            f"    self.conv2 = {w.conv('num_channels', 'num_channels', 3)}",
            f"    self.bn1 = {w.norm('input_channels' if spec.block == 'preact' else 'num_channels')}",
            f"    self.bn2 = {w.norm('num_channels')}",
        ]
        shortcut_args = "input_channels, num_channels, strides, kind"
        if spec.block == "preact":
            forward = [
                "P = F.relu(self.bn1(X))  # pre-activation",
                "Y = self.conv1(P)",
                "Y = self.conv2(F.relu(self.bn2(Y)))",
            ]
        else:
            forward = ["Y = F.relu(self.bn1(self.conv1(X)))", "Y = self.bn2(self.conv2(Y))"]
    if residual:
        body.append(f"    self.shortcut = shortcut({shortcut_args})")
        source_of_x = "P" if spec.block == "preact" else "X"
        forward += [
            "if self.shortcut is not None:",
            f"    X = self.shortcut({source_of_x})  # change x's shape to F(x)'s",
            "Y += X  # f(x) = g(x) + x",
        ]
    forward.append("return Y" if spec.block == "preact" else "return F.relu(Y)")
    body += ["", "def forward(self, X):", *indent("\n".join(forward), "    ").split("\n")]
    return head + indent("\n".join(body), "    ", lambda line: bool(line.strip())) + "\n"


def _stem_source(w: _Writer) -> str:
    spec = w.spec
    c, width = spec.input.channels, spec.stem.width
    pool = "nn.MaxPool2d(kernel_size=3, stride=2, padding=1)"
    if spec.stem.kind == "imagenet":
        layers = [w.conv(str(c), str(width), 7, 2), w.norm(str(width)), "nn.ReLU()", pool]
    elif spec.stem.kind == "cifar":
        layers = [w.conv(str(c), str(width), 3), w.norm(str(width)), "nn.ReLU()"]
    else:
        half = str(width // 2)
        layers = [
            w.conv(str(c), half, 3, 2), w.norm(half), "nn.ReLU()",
            w.conv(half, half, 3), w.norm(half), "nn.ReLU()",
            w.conv(half, str(width), 3), w.norm(str(width)), "nn.ReLU()", pool,
        ]  # fmt: skip
    return "b1 = nn.Sequential(\n" + "".join(f"    {layer},\n" for layer in layers) + ")\n"


def _zero_init_source(spec: ResNetSpec, cls: str) -> str:
    if not (spec.zero_init_residual and spec.residual):
        return ""
    last = {"basic": "bn2", "bottleneck": "bn3", "preact": "conv2"}[spec.block]
    if not spec.batch_norm:
        last = {"basic": "conv2", "bottleneck": "conv3", "preact": "conv2"}[spec.block]
    return dedent(f"""
        # Zero the last layer of each residual branch: every block starts as the identity
        # (Goyal et al. 2017, arXiv 1706.02677).
        for m in net.modules():
            if isinstance(m, {cls}):
                nn.init.zeros_(m.{last}.weight)
        """)


def to_code(spec: ResNetSpec, title: str = "ResNet", plan: NetworkPlan | None = None) -> str:
    """Standalone PyTorch source (torch only) that defines `net`, the network `spec` describes."""
    plan = plan or plan_network(spec)  # validates: an impossible network is never exported
    w = _Writer(spec)
    cls = "Residual" if spec.residual else "PlainBlock"
    kinds = {spec.stage_shortcut(i) for i in range(len(spec.stages))}
    expansion = " * 4" if spec.block == "bottleneck" else ""
    c, h, wd = spec.input.channels, spec.input.height, spec.input.width
    parts = [
        f'"""{title}: a ResNet exported by ResNet Explorer.\n\n'
        f"Input {c}x{h}x{wd}, {spec.num_classes} classes, {plan.params:,} parameters, "
        f"{plan.macs / 1e9:.3f} GMACs per image.\n"
        'Written in the style of d2l.ai\'s "Residual Networks" chapter; run it to print the shapes.\n"""\n',
        "import torch\nfrom torch import nn\nfrom torch.nn import functional as F\n\n\n",
    ]
    if spec.residual:
        parts.append(_shortcut_source(w, kinds) + "\n\n")
    parts.append(_block_source(w, cls) + "\n\n")
    parts.append(
        dedent(f'''
        def resnet_block(input_channels, num_channels, num_residuals, strides=1, kind={spec.shortcut!r}):
            """One stage: the first block may change the shape (strides, channels); the rest keep it."""
            blk = []
            for i in range(num_residuals):
                if i == 0:
                    blk.append({cls}(input_channels, num_channels, strides=strides, kind=kind))
                else:
                    blk.append({cls}(num_channels{expansion}, num_channels, kind=kind))
            return blk
        ''').lstrip()
        + "\n\n"
    )
    parts.append(_stem_source(w))
    names = ["b1"]
    for i, stage in enumerate(spec.stages):
        name = f"b{i + 2}"
        names.append(name)
        cin = plan.stages[i].in_shape[0]
        args = f"{cin}, {stage.channels}, {stage.blocks}, strides={stage.stride}"
        kind = spec.stage_shortcut(i)
        if kind != spec.shortcut:
            args += f", kind={kind!r}"
        parts.append(f"{name} = nn.Sequential(*resnet_block({args}))  # -> {fmt.shape(plan.stages[i].out_shape)}\n")
    features = plan.head.in_shape[0]
    head = [w.norm(str(features)), "nn.ReLU()"] if spec.block == "preact" else []
    head += ["nn.AdaptiveAvgPool2d((1, 1))", "nn.Flatten()", f"nn.Linear({features}, {spec.num_classes})"]
    parts.append("net = nn.Sequential(\n    " + ", ".join(names) + ",\n" + "".join(f"    {x},\n" for x in head) + ")\n")
    parts.append(_zero_init_source(spec, cls))
    parts.append(
        dedent(f"""
        if __name__ == "__main__":
            X = torch.rand(size=(1, {c}, {h}, {wd}))
            for layer in net:
                X = layer(X)
                print(layer.__class__.__name__, "output shape:\\t", X.shape)
            print("parameters:", sum(p.numel() for p in net.parameters()))
        """)
    )
    return "".join(parts)


def loading_code(
    weights_file: str, spec_file: str, size: tuple[int, int], normalize: dict[str, list[float]] | None
) -> str:
    """The lines that rebuild a trained run from its downloaded files and feed it images prepared as
    the trainer prepared them (explorer.data.scale_and_normalise: /255, bilinear resize, per-channel mean
    and std of the training images)."""
    lines = [
        "import json",
        "import torch",
        "import torch.nn.functional as F",
        "import explorer",
        "",
        f'spec = explorer.spec_from_dict(json.load(open("{spec_file}")))',
        "net = explorer.build_model(spec).eval()",
        f'net.load_state_dict(torch.load("{weights_file}", weights_only=True))',
    ]
    if normalize:
        mean, std = (", ".join(f"{v:.6g}" for v in normalize[k]) for k in ("mean", "std"))
        lines += [
            "",
            "# images: uint8 (N, C, H, W), as the dataset stores them",
            f"mean = torch.tensor([{mean}]).view(1, -1, 1, 1)",
            f"std = torch.tensor([{std}]).view(1, -1, 1, 1)",
            f'x = F.interpolate(images.float() / 255, size={size}, mode="bilinear")',
            "with torch.no_grad():",
            "    predicted = net((x - mean) / std).argmax(1)",
        ]
    return "\n".join(lines) + "\n"
