"""Open any ResNet checkpoint: infer the network from tensor names and shapes, load it strictly.

Three key layouts are read: torchvision's and timm's `ResNet` (this app's own names are the same:
conv1, bn1, layer1.0.conv1, layer1.0.se.fc1, layer1.0.downsample.0, fc) and timm's `ResNetV2`
(stem.conv, stages.0.blocks.0.norm1, norm, head.fc as a 1x1 conv), which `explorer_keys` renames.
What weights cannot say (activation, anti-aliasing, dilation, input size) takes the usual value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .layers import NetworkPlan
from .plan import eca_kernel, plan_network, se_width
from .spec import MAX_BLOCKS_PER_STAGE, InputSpec, ResNetSpec, SpecError, StageSpec, StemSpec

StateDict = Mapping[str, Any]  # name -> tensor (or anything with .shape, e.g. safetensors' slices)

_V2_RENAMES = (  # timm ResNetV2 -> torchvision/timm ResNet names
    (r"^stem\.conv\.", "conv1."),
    (r"^stem\.conv1\.", "conv1.0."),
    (r"^stem\.norm1\.", "conv1.1."),
    (r"^stem\.conv2\.", "conv1.3."),
    (r"^stem\.norm2\.", "conv1.4."),
    (r"^stem\.conv3\.", "conv1.6."),
    (r"^stages\.(\d+)\.blocks\.", lambda m: f"layer{int(m.group(1)) + 1}."),
    (r"\.downsample\.conv\.", ".downsample.0."),
    (r"\.norm(\d)\.", r".bn\1."),
    (r"^norm\.", "bn_final."),
    (r"^head\.fc\.", "fc."),
)
_TENSOR_NAMES = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
_WRAPPERS = ("module.", "model.", "_orig_mod.")  # DataParallel, Lightning, torch.compile


def unwrap(checkpoint: Any) -> dict[str, Any]:
    """The state_dict inside a checkpoint: itself, or under 'state_dict' / 'model' (training
    scripts' habit), with DataParallel's, Lightning's and torch.compile's prefixes removed."""
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get(key), Mapping):
            checkpoint = checkpoint[key]
    if not isinstance(checkpoint, Mapping) or not checkpoint:
        raise SpecError("weights", "the file holds no state_dict (a mapping of tensor names to tensors)")
    out = {}
    for name, value in checkpoint.items():
        if not isinstance(name, str) or not hasattr(value, "shape"):
            raise SpecError("weights", f"entry {str(name)[:60]!r} is not a tensor; a state_dict maps names to tensors")
        for prefix in _WRAPPERS:
            while name.startswith(prefix):
                name = name[len(prefix) :]
        out[name] = value
    return out


def explorer_keys(state_dict: StateDict) -> dict[str, Any]:
    """The same tensors under this app's names (timm's ResNetV2 renamed; other layouts as they are)."""
    if not any(k.startswith(("stages.", "stem.")) for k in state_dict):
        return dict(state_dict)
    out = {}
    for name, value in state_dict.items():
        for pattern, repl in _V2_RENAMES:
            name = re.sub(pattern, repl, name)
        out[name] = value
    return out


def _shape(sd: StateDict, key: str) -> tuple[int, ...] | None:
    value = sd.get(key)
    return None if value is None else tuple(value.shape)


def _stem(sd: StateDict) -> tuple[StemSpec, int, bool]:
    """The stem, the input channels and whether convs carry a bias."""
    if (deep := _shape(sd, "conv1.0.weight")) is not None:
        last, middle = _shape(sd, "conv1.6.weight"), _shape(sd, "conv1.3.weight")
        if last is None or middle is None:
            raise SpecError("weights", "conv1.0 is there but not conv1.3 and conv1.6: not a deep ResNet stem")
        width = last[0]
        kind = "deep" if deep[0] == middle[0] == width // 2 else "tiered"
        channels, bias = deep[1], "conv1.0.bias" in sd
    elif (single := _shape(sd, "conv1.weight")) is not None and len(single) == 4:
        width, channels, kernel = single[0], single[1], single[2]
        kind = {7: "imagenet", 3: "cifar"}.get(kernel)
        if kind is None:
            raise SpecError("weights", f"conv1 is {kernel}x{kernel}; a ResNet stem is 7x7 (ImageNet) or 3x3 (CIFAR)")
        bias = "conv1.bias" in sd
    else:
        raise SpecError("weights", "no stem convolution (conv1 or stem.conv): this is not a ResNet state_dict")
    pool = "conv" if "maxpool.0.weight" in sd else None
    return StemSpec(kind, width, pool, norm="bn1.weight" in sd or "bn1.running_mean" in sd), channels, bias


def _blocks(sd: StateDict) -> list[int]:
    counts: dict[int, int] = {}
    for key in sd:
        if m := re.match(r"layer(\d+)\.(\d+)\.", key):
            stage, block = int(m.group(1)), int(m.group(2))
            counts[stage] = max(counts.get(stage, 0), block + 1)
    if not counts or sorted(counts) != list(range(1, len(counts) + 1)):
        raise SpecError("weights", "no layer1, layer2, ... blocks in order: this is not a ResNet state_dict")
    if max(counts.values()) > MAX_BLOCKS_PER_STAGE:
        raise SpecError("weights", f"a stage with more than {MAX_BLOCKS_PER_STAGE} blocks")
    return [counts[s] for s in sorted(counts)]


def _se_reduction(sd: StateDict, blocks: list[int]) -> int:
    """The reduction whose rounding gives every block's squeezed width (16 SENet, 4 ResNet-RS)."""
    seen = {_shape(sd, f"layer{s + 1}.{b}.se.fc1.weight")[:2] for s, n in enumerate(blocks) for b in range(n)}
    for r in (16, 4, 8, 2, 32, *range(1, 1025)):
        if all(se_width(c, r) == squeezed for squeezed, c in seen):
            return r
    raise SpecError("weights", "squeeze-and-excitation widths that no single reduction ratio gives")


def _shortcut(sd: StateDict, blocks: list[int]) -> tuple[str, int, bool]:
    """The network's shortcut (B, C, D, or A where no stage has a projection), the projection's
    kernel and whether a norm follows it, from each stage's first block."""
    shortcuts, kernel, shortcut_bn = [], 1, True
    for s, n in enumerate(blocks):
        name = f"layer{s + 1}.0"
        if (proj := _shape(sd, f"{name}.downsample.0.weight")) is not None and len(proj) == 4:
            kernel = max(kernel, proj[2])
            shortcuts.append("C" if f"layer{s + 1}.{n - 1}.downsample.0.weight" in sd and n > 1 else "B")
            shortcut_bn = f"{name}.downsample.1.weight" in sd or f"{name}.downsample.1.running_mean" in sd
        elif f"{name}.downsample.1.weight" in sd:
            shortcuts.append("D")
            shortcut_bn = f"{name}.downsample.2.weight" in sd or f"{name}.downsample.2.running_mean" in sd
    kinds = set(shortcuts)
    if len(kinds) > 1 and kinds != {"B", "C"}:
        raise SpecError("weights", f"stages with different shortcut kinds ({', '.join(sorted(kinds))})")
    return ("D" if "D" in kinds else "C" if "C" in kinds else "B" if kinds else "A"), kernel, shortcut_bn


def spec_from_state_dict(state_dict: StateDict, input_size: tuple[int, int] | None = None) -> ResNetSpec:
    """The network a state_dict belongs to, from its tensor names and shapes (torchvision, timm
    ResNet and ResNetV2, or this app's). Stages take the usual strides (1, then 2); `input_size`
    (H, W) defaults to 224 px, 32 px for a CIFAR stem. SpecError where it is not a ResNet."""
    sd = explorer_keys(unwrap(state_dict))
    odd = next((k for k in sd if k.rsplit(".", 1)[-1] not in _TENSOR_NAMES), None)
    if odd is not None:
        raise SpecError(
            "weights", f"tensor {odd!r} belongs to no layer kind here (convs, linear, batch and group norm); "
            "EvoNorm, FilterResponseNorm and other layers are not expressed",
        )  # fmt: skip
    stem, channels, bias = _stem(sd)
    blocks = _blocks(sd)
    bottleneck = "layer1.0.conv3.weight" in sd
    if any((f"layer{s + 1}.0.conv3.weight" in sd) != bottleneck for s in range(len(blocks))):
        raise SpecError("weights", "the stages mix basic and bottleneck blocks; a spec has one kind of block")
    preact = "bn_final.weight" in sd or "bn_final.running_mean" in sd
    block = ("preact_bottleneck" if bottleneck else "preact") if preact else ("bottleneck" if bottleneck else "basic")
    expansion = 4 if bottleneck else 1
    last_conv = "conv3" if bottleneck else "conv2"
    stages = []
    for s, n in enumerate(blocks):
        name = f"layer{s + 1}.0"
        out = _shape(sd, f"{name}.{last_conv}.weight")
        if out is None:
            raise SpecError("weights", f"{name} has no {last_conv}: blocks of different kinds are not supported")
        if out[0] % expansion:
            raise SpecError(
                "weights", f"{name} outputs {out[0]} channels, not a multiple of the bottleneck's 4 "
                "(a pruned network? widths that vary block by block are not expressed)",
            )  # fmt: skip
        stages.append(StageSpec(n, out[0] // expansion, 1 if s == 0 else 2))
    shortcut, kernel, shortcut_bn = _shortcut(sd, blocks)
    conv2 = _shape(sd, "layer1.0.conv2.weight")
    first = _shape(sd, "layer1.0.conv1.weight")
    groups, width_per_group, reduce_first = 1, 64, 1
    if bottleneck:  # conv2 is (width, first / groups, 3, 3); first = width / reduce_first
        width = conv2[0]
        groups = max(1, first[0] // conv2[1])
        width_per_group = max(1, width * 64 // (stages[0].channels * groups))
        reduce_first = max(1, width // first[0])
    else:
        reduce_first = max(1, conv2[0] // first[0])
    attention, reduction = "none", 16
    if "layer1.0.se.fc1.weight" in sd:
        attention, reduction = "se", _se_reduction(sd, blocks)
    elif (eca := _shape(sd, "layer1.0.se.conv.weight")) is not None:
        attention = "eca"
        if eca[-1] != eca_kernel(stages[0].channels * expansion):
            raise SpecError("weights", f"an ECA kernel of {eca[-1]} where Wang et al.'s rule gives another")
    norm = re.compile(r"(^|\.)(bn\d|bn_final|conv1\.[14]|downsample\.[12])\.weight$")
    batch_norm = any(norm.search(k) and len(v.shape) == 1 for k, v in sd.items()) or "bn1.running_mean" in sd
    group_norm = batch_norm and not any(k.endswith("running_mean") for k in sd)
    fc = _shape(sd, "fc.weight")
    if fc is None:
        raise SpecError("weights", "no classifier (fc.weight or head.fc.weight)")
    side = input_size or ((32, 32) if stem.kind == "cifar" else (224, 224))
    spec = ResNetSpec(
        input=InputSpec(channels, *side),
        num_classes=fc[0],
        stem=stem,
        block=block,
        groups=groups,
        width_per_group=width_per_group,
        stages=tuple(stages),
        shortcut=shortcut,
        conv_bias=bias,
        batch_norm=batch_norm,
        shortcut_bn=shortcut_bn and batch_norm,
        norm="group" if group_norm else "batch",
        attention=attention,
        se_reduction=reduction,
        reduce_first=reduce_first,
        shortcut_kernel=kernel,
    )
    return _exact(spec, sd)


def tensor_shapes(plan: NetworkPlan) -> dict[str, tuple[int, ...]]:
    """The state_dict build_model(plan.spec) has, name -> shape, by arithmetic on the plan (a
    test holds it to the built model): checking a file against it takes a millisecond where
    building even on the meta device takes 0.15 s for ResNet-152."""
    spec, shapes = plan.spec, {}
    for layer in plan.layers:
        cin, cout, k, name = layer.in_shape[0], layer.out_shape[0], layer.kernel, layer.name
        if layer.kind == "conv":
            shapes[f"{name}.weight"] = (cout, cin // layer.groups, k, k)
            if layer.bias:
                shapes[f"{name}.bias"] = (cout,)
        elif layer.kind == "norm":
            shapes |= {f"{name}.weight": (cin,), f"{name}.bias": (cin,)}
            if spec.norm != "group":
                shapes |= {f"{name}.running_mean": (cin,), f"{name}.running_var": (cin,)}
            if spec.norm == "batch":
                shapes[f"{name}.num_batches_tracked"] = ()
        elif layer.kind == "se":
            squeezed = layer.groups
            shapes |= {f"{name}.fc1.weight": (squeezed, cin, 1, 1), f"{name}.fc1.bias": (squeezed,)}
            shapes |= {f"{name}.fc2.weight": (cin, squeezed, 1, 1), f"{name}.fc2.bias": (cin,)}
        elif layer.kind == "eca":
            shapes[f"{name}.conv.weight"] = (1, 1, k)
        elif layer.kind == "fc":
            shapes |= {f"{name}.weight": (cout, cin), f"{name}.bias": (cout,)}
    return shapes


def _exact(spec: ResNetSpec, sd: StateDict) -> ResNetSpec:
    """The inferred spec, checked: its model's tensors have exactly the file's names and shapes."""
    ours = tensor_shapes(plan_network(spec))
    mapped = _match(ours, sd)
    wrong = [k for k, v in ours.items() if k in mapped and tuple(mapped[k].shape) != v]
    missing = [k for k in ours if k not in mapped]
    extra = [k for k in mapped if k not in ours]
    if missing or wrong or extra:
        first = (missing or wrong or extra)[0]
        what = (
            "has no tensor"
            if missing
            else "has a tensor the inferred network lacks:"
            if extra
            else (f"has shape {tuple(mapped[first].shape)} at")
        )
        raise SpecError("weights", f"not a ResNet this app can express: the file {what} {first!r}")
    return spec


def _match(target: Mapping[str, Any], source: StateDict) -> dict[str, Any]:
    """`source` under `target`'s names: ResNetV2 renamed, a projection's conv and norm moved one
    place on where the target has ResNet-D's pool first (weights cannot tell the two apart),
    1x1-conv classifiers flattened, buffers the target does not keep (num_batches_tracked of
    frozen norms) dropped."""
    out = {}
    for name, value in explorer_keys(source).items():
        if name not in target:  # a 1x1 projection's conv and norm, one place later behind D's pool
            moved = re.sub(r"\.downsample\.(\d)\.", lambda m: f".downsample.{int(m.group(1)) + 1}.", name)
            if moved not in target:
                out[name] = value  # reported by the strict load
                continue
            name = moved
        if name == "fc.weight" and len(value.shape) == 4 and len(_dims(target[name])) == 2:
            value = value.reshape(value.shape[0], -1)
        out[name] = value
    for name in [k for k in out if k.endswith("num_batches_tracked") and k not in target]:
        del out[name]
    return out


def _dims(value: Any) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, tuple) else tuple(value.shape)


def load_state_dict(model: nn.Module, state_dict: StateDict) -> nn.Module:
    """Load a torchvision, timm (ResNet or ResNetV2) or ResNet Explorer state_dict into `model`,
    strictly: every tensor found a place and every place a tensor."""
    mapped = _match(model.state_dict(), unwrap(state_dict))
    model.load_state_dict(mapped, strict=True)
    return model


def _weights_layout(spec: ResNetSpec) -> dict[str, Any]:
    """What a state_dict shows of a spec: no input size, class count or weight-free options."""
    data = spec.to_dict()
    for key in ("input", "num_classes", "activation", "anti_alias", "output_stride", "dropout", "drop_path"):
        data.pop(key, None)
    return data


def matching_names(spec: ResNetSpec, known: Mapping[str, ResNetSpec]) -> list[str]:
    """Names in `known` whose weights have the layout of `spec`'s, those equal in every field the
    weights show first (resnet50 before resnetaa50, whose weights are the same)."""
    layout = _weights_layout(spec)
    same = [name for name, other in known.items() if _weights_layout(other) == layout]
    return sorted(same, key=lambda name: (known[name].anti_alias != "none", known[name].activation != "relu", name))


def load_for_fine_tuning(model: nn.Module, state_dict: StateDict) -> list[str]:
    """Start `model` from a checkpoint of the same network trained on other classes or colours
    (transfer learning: every layer but the head, Yosinski et al. 2014). The classifier keeps its
    initialisation where the class count differs; the first conv's filters are summed over the
    checkpoint's colour channels where the model sees grey images, or spread over more channels
    (timm's adapt_input_conv). Every other tensor must fit exactly: SpecError naming the first
    that does not. Returns what was adapted, in words."""
    target = model.state_dict()
    mapped, notes = _match(target, unwrap(state_dict)), []
    fc = mapped.get("fc.weight")
    if fc is not None and tuple(fc.shape) != tuple(target["fc.weight"].shape):
        del mapped["fc.weight"], mapped["fc.bias"]
        notes.append(f"classifier: {fc.shape[0]:,} classes in the checkpoint, {target['fc.weight'].shape[0]} here, "
                     "so it starts fresh")  # fmt: skip
    first = next(k for k in target if k.endswith(".weight") and target[k].dim() == 4)  # the stem's first conv
    theirs, ours = mapped.get(first), target[first]
    if (
        theirs is not None
        and theirs.shape[1] != ours.shape[1]
        and theirs.shape[:1] + theirs.shape[2:] == ours.shape[:1] + ours.shape[2:]
    ):
        mapped[first] = _adapt_input_conv(theirs, ours.shape[1])
        notes.append(f"first conv: the checkpoint's {theirs.shape[1]} colour channels made {ours.shape[1]}")
    wrong = [k for k in target if k in mapped and tuple(mapped[k].shape) != tuple(target[k].shape)]
    missing = [k for k in target if k not in mapped and not k.startswith("fc.")]
    extra = [k for k in mapped if k not in target]
    if wrong or missing or extra:
        name = (wrong or missing or extra)[0]
        what = "has another shape" if wrong else "is missing" if missing else "has no place in this network"
        raise SpecError("weights", f"the checkpoint does not fit this network: {name!r} {what}")
    model.load_state_dict(mapped, strict=False)
    return notes


def _adapt_input_conv(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """(out, 3, k, k) filters for `channels` inputs: summed for one (a grey pixel is R = G = B),
    else repeated and scaled so the response to a uniform input stays the same."""
    weight = weight.float()
    if channels == 1:
        return weight.sum(dim=1, keepdim=True)
    repeats = -(-channels // weight.shape[1])
    return weight.repeat(1, repeats, 1, 1)[:, :channels] * (weight.shape[1] / channels)
