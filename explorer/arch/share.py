"""Specs in URLs and in words: query-parameter encoding, the stage-list shorthand, diffs.

A shared link names a preset and only what differs from it, e.g.
`?preset=resnet50&stages=3x64s1,4x128s2,8x256s2,3x512s2&shortcut=D`, so links stay short and
readable. Anything that does not parse is reported, never half-applied.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from ..links import whole_number
from .presets import DEFAULT_PRESET, PRESETS, preset
from .spec import SHORTCUTS, ResNetSpec, SpecError, StageSpec, StemSpec, input_from_text

MAX_PARAM_CHARS = 2000
_STAGE = re.compile(r"^([0-9]{1,4})x([0-9]{1,5})s([0-9])(?:-(identity|[ABCD]))?$")  # ASCII digits: int() reads them
_FLAGS = {
    "residual": "residual",
    "bias": "conv_bias",
    "bn": "batch_norm",
    "projbn": "shortcut_bn",
    "zeroinit": "zero_init_residual",
}
# The family's options: URL key -> spec field, each written as its JSON value ("none" for null).
_OPTIONS = {
    "norm": "norm",
    "act": "activation",
    "attn": "attention",
    "se": "se_reduction",
    "aa": "anti_alias",
    "strideon": "stride_on",
    "os": "output_stride",
    "reduce": "reduce_first",
    "skipk": "shortcut_kernel",
    "droppath": "drop_path",
    "dropout": "dropout",
}
_INT_OPTIONS = ("se_reduction", "output_stride", "reduce_first", "shortcut_kernel")
_FLOAT_OPTIONS = ("drop_path", "dropout")
QUERY_KEYS = (
    "preset", "input", "classes", "stem", "block", "groups", "wpg", "stages", "shortcut", *_FLAGS, *_OPTIONS,
)  # fmt: skip


def stages_to_text(stages: tuple[StageSpec, ...]) -> str:
    """(StageSpec(3, 64, 1), StageSpec(4, 128, 2, "A")) -> '3x64s1,4x128s2-A'."""
    return ",".join(f"{s.blocks}x{s.channels}s{s.stride}" + (f"-{s.shortcut}" if s.shortcut else "") for s in stages)


def stages_from_text(text: str) -> tuple[StageSpec, ...]:
    """'3x64s1,4x128s2-A' -> stages; SpecError naming the part that does not parse."""
    if len(text) > MAX_PARAM_CHARS:
        raise SpecError("stages", f"{len(text)} characters; at most {MAX_PARAM_CHARS}")
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise SpecError("stages", "empty; write stages as BLOCKSxCHANNELSsSTRIDE, e.g. 2x64s1,2x128s2")
    stages = []
    for i, part in enumerate(parts):
        match = _STAGE.match(part)
        if not match:
            raise SpecError(
                f"stages[{i}]",
                f"{part!r} is not BLOCKSxCHANNELSsSTRIDE[-SHORTCUT] (e.g. 2x128s2 or 2x128s2-A); "
                f"shortcuts: {', '.join(SHORTCUTS)}",
            )
        blocks, channels, stride, shortcut = match.groups()
        stage = StageSpec(int(blocks), int(channels), int(stride), shortcut)
        stage.validate(i)
        stages.append(stage)
    return tuple(stages)


def _flag(text: str, name: str) -> bool:
    if text not in ("0", "1"):
        raise SpecError(name, f"expected 0 or 1, got {text!r}")
    return text == "1"


def _int(text: str, name: str) -> int:
    return whole_number(text, name)


def to_query(spec: ResNetSpec, base: str = DEFAULT_PRESET) -> dict[str, str]:
    """Query parameters that rebuild `spec` from preset `base`: the preset and what differs."""
    ref = preset(base)
    query = {"preset": base}
    if spec.input != ref.input:
        query["input"] = f"{spec.input.channels},{spec.input.height},{spec.input.width}"
    if spec.num_classes != ref.num_classes:
        query["classes"] = str(spec.num_classes)
    if spec.stem != ref.stem:
        query["stem"] = stem_to_text(spec.stem)
    if spec.block != ref.block:
        query["block"] = spec.block
    if spec.groups != ref.groups:
        query["groups"] = str(spec.groups)
    if spec.width_per_group != ref.width_per_group:
        query["wpg"] = str(spec.width_per_group)
    if spec.stages != ref.stages:
        query["stages"] = stages_to_text(spec.stages)
    if spec.shortcut != ref.shortcut:
        query["shortcut"] = spec.shortcut
    for key, field in _FLAGS.items():
        if getattr(spec, field) != getattr(ref, field):
            query[key] = "1" if getattr(spec, field) else "0"
    for key, field in _OPTIONS.items():
        if getattr(spec, field) != getattr(ref, field):
            value = getattr(spec, field)
            query[key] = "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
    return query


def stem_to_text(stem: StemSpec) -> str:
    """StemSpec('deep', 64, 'conv', False) -> 'deep:64:conv:nonorm'; defaults left out."""
    parts = [stem.kind, str(stem.width)] + ([stem.pool] if stem.pool else []) + ([] if stem.norm else ["nonorm"])
    return ":".join(parts)


def stem_from_text(text: str) -> StemSpec:
    kind, _, rest = text.partition(":")
    width, *extra = rest.split(":")
    norm = "nonorm" not in extra
    pools = [part for part in extra if part != "nonorm"]
    if len(pools) > 1:
        raise SpecError("stem", f"expected KIND:WIDTH[:POOL][:nonorm], got {text!r}")
    return StemSpec(kind, _int(width, "stem"), pools[0] if pools else None, norm)


def _option(key: str, field: str, text: str) -> Any:
    if field in _INT_OPTIONS:
        return None if field == "output_stride" and text == "none" else _int(text, key)
    if field in _FLOAT_OPTIONS:
        if not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,6})?", text):
            raise SpecError(key, f"expected a number such as 0.1, got {text!r}")
        return float(text)
    return text


def from_query(params: Mapping[str, Any]) -> tuple[ResNetSpec, str]:
    """The spec a URL describes and the preset it starts from; SpecError if anything is off."""
    get = {k: str(v) for k, v in params.items() if k in QUERY_KEYS}
    for key, value in get.items():
        if len(value) > MAX_PARAM_CHARS:
            raise SpecError(key, f"{len(value)} characters; at most {MAX_PARAM_CHARS}")
    base = get.get("preset", DEFAULT_PRESET)
    start = preset(base)  # a preset or any verified timm ResNet name
    changes: dict[str, Any] = {}
    if "input" in get:
        changes["input"] = input_from_text(get["input"])
    if "classes" in get:
        changes["num_classes"] = _int(get["classes"], "classes")
    if "stem" in get:
        changes["stem"] = stem_from_text(get["stem"])
    for key, field in (("block", "block"), ("shortcut", "shortcut")):
        if key in get:
            changes[field] = get[key]
    for key, field in (("groups", "groups"), ("wpg", "width_per_group")):
        if key in get:
            changes[field] = _int(get[key], key)
    if "stages" in get:
        changes["stages"] = stages_from_text(get["stages"])
    for key, field in _FLAGS.items():
        if key in get:
            changes[field] = _flag(get[key], key)
    for key, field in _OPTIONS.items():
        if key in get:
            changes[field] = _option(key, field, get[key])
    return dataclasses.replace(start, **changes), base


def spec_diff(base: ResNetSpec, spec: ResNetSpec) -> list[str]:
    """What changed, in words: ['num_classes: 1000 -> 10', 'stages[2].blocks: 6 -> 8', ...]."""
    a, b = _full(base), _full(spec)
    out = []
    for key in a:
        if key == "stages":
            continue
        if isinstance(a[key], dict):
            out += [f"{key}.{k}: {a[key][k]} -> {b[key][k]}" for k in a[key] if a[key][k] != b[key][k]]
        elif a[key] != b[key]:
            out.append(f"{key}: {a[key]} -> {b[key]}")
    sa, sb = a["stages"], b["stages"]
    for i in range(max(len(sa), len(sb))):
        if i >= len(sa):
            out.append(f"stages[{i}]: added {stages_to_text((spec.stages[i],))}")
        elif i >= len(sb):
            out.append(f"stages[{i}]: removed")
        else:
            keys = sorted(set(sa[i]) | set(sb[i]))
            out += [
                f"stages[{i}].{k}: {sa[i].get(k, 'default')} -> {sb[i].get(k, 'default')}"
                for k in keys
                if sa[i].get(k) != sb[i].get(k)
            ]
    return out


def _full(spec: ResNetSpec) -> dict[str, Any]:
    """Every field, defaults included (to_dict leaves the family's options out at their defaults)."""
    data = dataclasses.asdict(spec)
    data["stages"] = [{k: v for k, v in stage.items() if v is not None} for stage in data["stages"]]
    return data


def closest_preset(spec: ResNetSpec) -> str:
    """The preset this spec differs least from (the base of its URL and of its diff)."""
    return min(PRESETS, key=lambda name: len(spec_diff(PRESETS[name], spec)))
