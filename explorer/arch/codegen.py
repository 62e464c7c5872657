"""to_code(spec): a standalone PyTorch file in the style of d2l.ai's ResNet chapter.

The export mirrors d2l's code — a `Residual` class, a `resnet_block` helper that builds one
stage, the stages chained with nn.Sequential into `net` — and contains only the branches and
layer kinds this spec uses, so a student reads exactly their network. Its modules are created in
the order build_model creates them, so build_model's weights load into it by position and give
the same outputs (tests check every preset and every family option).

loading_code(...): the few lines that load a trained run's downloaded weights and spec and feed it
images prepared as training prepared them (shown on the Train page; a test executes them).
"""

from __future__ import annotations

import inspect
from textwrap import dedent, indent

from .. import fmt
from . import model
from .layers import LayerPlan, NetworkPlan
from .plan import plan_network
from .spec import GROUP_NORM_GROUPS, ResNetSpec

_BLOCK_DOC = {
    "basic": "Two 3x3 convs and a skip connection: out = act(F(x) + x).",
    "bottleneck": "Bottleneck: 1x1 reduces, 3x3 (grouped for ResNeXt) works, 1x1 expands 4x; then + x.",
    "preact": "Pre-activation block (He et al. 2016b): norm and activation before each conv, nothing after + x.",
    "preact_bottleneck": "Pre-activation bottleneck (He et al. 2016b, timm's ResNetV2): norm-act-conv x3, + x.",
}


class _Writer:
    """Turns spec flags into source fragments."""

    def __init__(self, spec: ResNetSpec) -> None:
        self.spec = spec
        self.dilated = spec.output_stride is not None
        self.aa = spec.anti_alias != "none"

    def conv(self, cin: str, cout: str, kernel: int, stride: str = "1", groups: str = "", dilation: str = "1") -> str:
        parts = [cin, cout, f"kernel_size={kernel}"]
        if stride != "1":
            parts.append(f"stride={stride}")
        if kernel > 1:
            parts.append(f"padding={dilation}" if kernel == 3 else f"padding={kernel // 2}")
        if dilation != "1" and kernel > 1:
            parts.append(f"dilation={dilation}")
        if groups:
            parts.append(f"groups={groups}")
        return f"nn.Conv2d({', '.join(parts)}{'' if self.spec.conv_bias else ', bias=False'})"


def _layer(w: _Writer, layer: LayerPlan) -> str:
    """The source of one stem or head layer of the plan."""
    cin, cout, k, s = layer.in_shape[0], layer.out_shape[0], layer.kernel, layer.stride
    if layer.kind == "conv":
        return w.conv(str(cin), str(cout), k, str(s))
    if layer.kind == "norm":
        return f"norm({cin})"
    if layer.kind == "act":
        return "act()"
    if layer.kind == "maxpool":
        return f"nn.MaxPool2d(kernel_size={k}, stride={s}, padding={layer.padding})"
    if layer.kind == "avgpool":
        return f"nn.AvgPool2d(kernel_size={k}, stride={s})"
    if layer.kind == "blur":
        return f"BlurPool({cin}, {s})"
    if layer.kind == "global-avgpool":
        return "nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()"
    if layer.kind == "dropout":
        return f"nn.Dropout({w.spec.dropout:g})"
    if layer.kind == "fc":
        return f"nn.Linear({cin}, {cout})"
    raise ValueError(f"no source for a {layer.kind} layer in the stem or head")


def _helpers(w: _Writer, plan: NetworkPlan) -> str:
    """norm() and act() as this spec has them, and the classes of the layer kinds it uses, copied
    from build_model's own (one definition of each)."""
    spec = w.spec
    norm = {
        "batch": "nn.BatchNorm2d(channels)",
        "group": f"nn.GroupNorm({GROUP_NORM_GROUPS}, channels)",
        "frozen": "FrozenBatchNorm2d(channels)  # statistics and scale fixed: fine-tuning",
    }[spec.norm]
    if not spec.batch_norm:
        norm = "nn.Identity()  # this network has no normalisation"
    activation = "nn.SiLU(inplace=inplace)" if spec.activation == "silu" else "nn.ReLU(inplace=inplace)"
    source = f"def norm(channels):\n    return {norm}\n\n\ndef act(inplace=True):\n    return {activation}\n"
    kinds = {layer.kind for layer in plan.layers}
    classes = [
        (model.ZeroPadShortcut, "zero-pad" in kinds),
        (model.SqueezeExcite, "se" in kinds),
        (model.EfficientChannelAttention, "eca" in kinds),
        (model.BlurPool, "blur" in kinds),
        (model.SamePadAvgPool, "avgpool-same" in kinds),
        (model.DropPath, any(block.drop_path > 0 for block in plan.blocks)),
    ]
    for cls, used in classes:
        if used:
            source += "\n\n" + inspect.getsource(cls)
    if spec.attention == "se":
        r = spec.se_reduction
        source += (
            f'\n\ndef se_width(channels):\n    """channels / {r}, to a multiple of 8, at least 8 (timm)."""\n'
            f"    return max(8, int(channels * (1 / {r}) + 4) // 8 * 8)\n"
        )
    if spec.attention == "eca":
        source += (
            "\n\ndef eca_kernel(channels):\n"
            '    """Odd, at least 3, growing with log2(channels) (Wang et al. 2020)."""\n'
            "    t = int(abs(math.log(channels, 2) + 1) / 2)\n    return max(t if t % 2 else t + 1, 3)\n"
        )
    return source


def _shortcut_source(w: _Writer, kinds: set[str]) -> str:
    spec = w.spec
    norm = ", norm(num_channels)" if spec.shortcut_bn and spec.batch_norm else ""
    args = "input_channels, num_channels, strides, kind" + (", dilation=1, first_dilation=1" if w.dilated else "")
    lines = [
        f"def shortcut({args}):",
        '    """The path x takes around a block so that F(x) + x has matching shapes."""',
        '    if kind != "C" and input_channels == num_channels and strides == 1:',
        "        return None  # identity: x is added unchanged",
    ]
    if "A" in kinds:
        lines += [
            '    if kind == "A":  # zero-padding, no parameters (He et al. 2016, option A)',
            "        return ZeroPadShortcut(num_channels - input_channels, strides)",
        ]
    if "D" in kinds:
        pool = "nn.AvgPool2d(2, strides, ceil_mode=True, count_include_pad=False) if strides > 1 else nn.Identity()"
        if w.dilated:
            pool = f"SamePadAvgPool() if dilation > 1 else {pool}"
        lines += [
            '    if kind == "D":  # average-pool, then 1x1 (ResNet-D, He et al. 2019)',
            f"        pool = {pool}",
            f"        return nn.Sequential(pool, {w.conv('input_channels', 'num_channels', 1)}{norm})",
        ]
    projection = w.conv("input_channels", "num_channels", 1, "strides")
    if spec.shortcut_kernel == 3:  # SENet-154: a 3x3 projection where it subsamples
        lines.append(f"    kernel = 3 if strides > 1{' or dilation > 1' if w.dilated else ''} else 1")
        dilation = "first_dilation if kernel > 1 else 1" if w.dilated else "1"
        projection = (
            "nn.Conv2d(input_channels, num_channels, kernel_size=kernel, stride=strides, "
            f"padding={'first_dilation' if w.dilated else '1'} if kernel > 1 else 0, dilation={dilation}"
            f"{'' if spec.conv_bias else ', bias=False'})"
        )
    lines.append(f"    return nn.Sequential({projection}{norm})  # 1x1 convolution: d2l's use_1x1conv=True")
    return "\n".join(lines) + "\n"


def _branch(w: _Writer) -> tuple[list[str], list[str]]:
    """__init__ lines and forward lines of the residual branch F(x), in build_model's order."""
    spec = w.spec
    fd, d = ("first_dilation", "dilation") if w.dilated else ("1", "1")
    aa = "(1 if use_aa else strides)" if w.aa else "strides"
    on_1x1, on_3x3 = ("strides", "1") if spec.stride_on == "1x1" else ("1", aa)
    attention = {"se": "SqueezeExcite({c}, se_width({c}))", "eca": "EfficientChannelAttention(eca_kernel({c}))"}
    aa_layer = "nn.AvgPool2d(strides)" if spec.anti_alias == "avg" else "BlurPool({c}, strides)"
    init, forward = [], []
    first = "first" if spec.reduce_first > 1 else None
    if spec.bottleneck:
        init.append(f"width = num_channels * {spec.width_per_group} // 64 * {spec.groups}")
        init.append("out_channels = num_channels * self.expansion")
        out, inner = "out_channels", "width"
    else:
        out, inner = "num_channels", "num_channels"
    if first:
        init.append(f"first = {inner} // {spec.reduce_first}  # SENet: the first conv at part of the width")
    first = first or inner
    if w.aa:
        init.append(f"use_aa = strides > 1{' or first_dilation != dilation' if w.dilated else ''}")
    groups = str(spec.groups) if spec.groups > 1 else ""
    if spec.block == "basic":
        init += [f"self.conv1 = {w.conv('input_channels', first, 3, aa, '', fd)}", f"self.bn1 = norm({first})",
                 "self.act1 = act()"]  # fmt: skip
        forward.append("Y = self.act1(self.bn1(self.conv1(X)))")
        if w.aa:
            init.append(f"self.aa = {aa_layer.format(c=first)} if use_aa else None")
            forward.append("if self.aa is not None:\n    Y = self.aa(Y)")
        init += [f"self.conv2 = {w.conv(first, out, 3, '1', '', d)}", f"self.bn2 = norm({out})"]
        forward.append("Y = self.bn2(self.conv2(Y))")
    elif spec.block == "bottleneck":
        init += [f"self.conv1 = {w.conv('input_channels', first, 1, on_1x1)}", f"self.bn1 = norm({first})",
                 "self.act1 = act()", f"self.conv2 = {w.conv(first, 'width', 3, on_3x3, groups, fd)}",
                 "self.bn2 = norm(width)", "self.act2 = act()"]  # fmt: skip
        forward += ["Y = self.act1(self.bn1(self.conv1(X)))", "Y = self.act2(self.bn2(self.conv2(Y)))"]
        if w.aa:
            init.append(f"self.aa = {aa_layer.format(c='width')} if use_aa else None")
            forward.append("if self.aa is not None:\n    Y = self.aa(Y)")
        init += [f"self.conv3 = {w.conv('width', out, 1)}", f"self.bn3 = norm({out})"]
        forward.append("Y = self.bn3(self.conv3(Y))")
    elif spec.block == "preact":
        init += ["self.bn1 = norm(input_channels)", "self.act1 = act(inplace=False)  # x itself may be added",
                 f"self.conv1 = {w.conv('input_channels', first, 3, 'strides', '', fd)}", f"self.bn2 = norm({first})",
                 "self.act2 = act()", f"self.conv2 = {w.conv(first, out, 3, '1', '', d)}"]  # fmt: skip
        forward += ["P = self.act1(self.bn1(X))  # pre-activation", "Y = self.conv1(P)",
                    "Y = self.conv2(self.act2(self.bn2(Y)))"]  # fmt: skip
    else:  # preact_bottleneck
        init += ["self.bn1 = norm(input_channels)", "self.act1 = act(inplace=False)  # x itself may be added",
                 f"self.conv1 = {w.conv('input_channels', first, 1, on_1x1)}", f"self.bn2 = norm({first})",
                 "self.act2 = act()", f"self.conv2 = {w.conv(first, 'width', 3, on_3x3, groups, fd)}",
                 "self.bn3 = norm(width)", "self.act3 = act()", f"self.conv3 = {w.conv('width', out, 1)}"]  # fmt: skip
        forward += ["P = self.act1(self.bn1(X))  # pre-activation", "Y = self.conv1(P)",
                    "Y = self.conv2(self.act2(self.bn2(Y)))", "Y = self.conv3(self.act3(self.bn3(Y)))"]  # fmt: skip
    if spec.attention != "none":
        init.append(f"self.se = {attention[spec.attention].format(c=out)}")
        forward.append("Y = self.se(Y)  # channel attention: each channel scaled by a learned gate")
    return init, forward


def _block_source(w: _Writer, cls: str, plan: NetworkPlan) -> str:
    spec = w.spec
    residual = spec.residual
    out = "out_channels" if spec.bottleneck else "num_channels"
    doc = _BLOCK_DOC[spec.block] if residual else "The same layers as a residual block, without the skip connection."
    args = f"input_channels, num_channels, strides=1, kind={spec.shortcut!r}"
    args += ", dilation=1, first_dilation=1" if w.dilated else ""
    drop = any(block.drop_path > 0 for block in plan.blocks)
    args += ", drop_path=0.0" if drop else ""
    init, forward = _branch(w)
    if drop:
        init.append("self.drop_path = DropPath(drop_path) if drop_path > 0 else None  # stochastic depth")
        forward.append("if self.drop_path is not None:\n    Y = self.drop_path(Y)")
    post = not spec.preact
    if residual:
        extra = ", dilation, first_dilation" if w.dilated else ""
        init.append(f"self.shortcut = shortcut(input_channels, {out}, strides, kind{extra})")
        source = "P" if spec.preact else "X"
        forward += ["if self.shortcut is not None:", f"    X = self.shortcut({source})  # change x's shape to F(x)'s",
                    "Y = Y + X  # f(x) = g(x) + x"]  # fmt: skip
    if post:
        last = "act3" if spec.bottleneck else "act2"
        init.append(f"self.{last} = act()")
        forward.append(f"return self.{last}(Y)")
    else:
        forward.append("return Y")
    body = [f'"""{doc}"""', ""]
    if spec.bottleneck:
        body += ["expansion = 4", ""]
    body += [f"def __init__(self, {args}):", "    super().__init__()", *indent("\n".join(init), "    ").split("\n")]
    body += ["", "def forward(self, X):", *indent("\n".join(forward), "    ").split("\n")]
    head = f"class {cls}(nn.Module):  #@save\n"
    return head + indent("\n".join(body), "    ", lambda line: bool(line.strip())) + "\n"


def _zero_init_source(spec: ResNetSpec, cls: str) -> str:
    if not (spec.zero_init_residual and spec.residual):
        return ""
    depth = 3 if spec.bottleneck else 2
    last = f"conv{depth}" if spec.preact or not spec.batch_norm else f"bn{depth}"
    return dedent(f"""
        # Zero the last layer of each residual branch: every block starts as the identity
        # (Goyal et al. 2017, arXiv 1706.02677).
        for m in net.modules():
            if isinstance(m, {cls}):
                nn.init.zeros_(m.{last}.weight)
        """)


def _stage_args(spec: ResNetSpec, plan: NetworkPlan, i: int) -> str:
    stage, blocks = plan.stages[i], plan.stages[i].blocks
    args = f"{stage.in_shape[0]}, {spec.stages[i].channels}, {len(blocks)}, strides={blocks[0].stride}"
    kind = spec.stage_shortcut(i)
    if kind != spec.shortcut:
        args += f", kind={kind!r}"
    if spec.output_stride is not None:
        previous = plan.stages[i - 1].blocks[-1].dilation if i else 1
        args += f", dilation={blocks[0].dilation}, first_dilation={previous}"
    if any(block.drop_path > 0 for block in plan.blocks):
        args += f", drop_rates={[round(block.drop_path, 12) for block in blocks]}"
    return args


def _resnet_block_source(spec: ResNetSpec, cls: str, plan: NetworkPlan) -> str:
    expansion = " * 4" if spec.bottleneck else ""
    dilated = spec.output_stride is not None
    drop = any(block.drop_path > 0 for block in plan.blocks)
    params = f"kind={spec.shortcut!r}" + (", dilation=1, first_dilation=1" if dilated else "")
    params += ", drop_rates=None" if drop else ""
    first = ", dilation=dilation, first_dilation=first_dilation" if dilated else ""
    rest = ", dilation=dilation, first_dilation=dilation" if dilated else ""
    rate = "drop_path=drop_rates[{i}]"
    return (
        dedent(f'''
        def resnet_block(input_channels, num_channels, num_residuals, strides=1, {params}):
            """One stage: the first block may change the shape (strides, channels); the rest keep it."""
            blk = []
            for i in range(num_residuals):
                if i == 0:
                    blk.append({cls}(input_channels, num_channels, strides=strides, kind=kind{first}{", " + rate.format(i=0) if drop else ""}))
                else:
                    blk.append({cls}(num_channels{expansion}, num_channels, kind=kind{rest}{", " + rate.format(i="i") if drop else ""}))
            return blk
        ''').lstrip()  # noqa: E501 (ruff reads it here: the generated lines are the reader's code, not ours)
        + "\n\n"
    )


def to_code(spec: ResNetSpec, title: str = "ResNet", plan: NetworkPlan | None = None) -> str:
    """Standalone PyTorch source (torch only) that defines `net`, the network `spec` describes."""
    plan = plan or plan_network(spec)  # validates: an impossible network is never exported
    w = _Writer(spec)
    cls = "Residual" if spec.residual else "PlainBlock"
    kinds = {spec.stage_shortcut(i) for i in range(len(spec.stages))}
    c, h, wd = spec.input.channels, spec.input.height, spec.input.width
    imports = "import math\n" if spec.attention == "eca" else ""
    imports += "import torch\nfrom torch import nn\nfrom torch.nn import functional as F\n"
    if spec.norm == "frozen" and spec.batch_norm:
        imports += "from torchvision.ops import FrozenBatchNorm2d\n"
    parts = [
        f'"""{title}: a ResNet exported by ResNet Explorer.\n\n'
        f"Input {c}x{h}x{wd}, {spec.num_classes} classes, {plan.params:,} parameters, "
        f"{plan.macs / 1e9:.3f} GMACs per image.\n"
        'Written in the style of d2l.ai\'s "Residual Networks" chapter; run it to print the shapes.\n"""\n',
        imports + "\n\n",
        _helpers(w, plan) + "\n\n",
    ]
    if spec.residual:
        parts.append(_shortcut_source(w, kinds) + "\n\n")
    parts.append(_block_source(w, cls, plan) + "\n\n")
    parts.append(_resnet_block_source(spec, cls, plan))
    stem = [_layer(w, layer) for layer in plan.stem.layers]
    parts.append("b1 = nn.Sequential(\n" + "".join(f"    {layer},\n" for layer in stem) + ")\n")
    names = ["b1"]
    for i in range(len(spec.stages)):
        names.append(f"b{i + 2}")
        shape = fmt.shape(plan.stages[i].out_shape)
        parts.append(f"{names[-1]} = nn.Sequential(*resnet_block({_stage_args(spec, plan, i)}))  # -> {shape}\n")
    head = [_layer(w, layer) for layer in plan.head.layers]
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
    the trainer prepared them (explorer.training.data.scale_and_normalise: /255, bilinear resize, per-channel mean
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
