"""Open a checkpoint and export ONNX on the Design page.

A weights file (.pt/.pth state_dict, read weights-only, or .safetensors) of a torchvision, timm or
ResNet Explorer ResNet: the page infers its design, names it, loads it into the controls, and checks
that the weights load strictly. The file's bytes stay in the uploader only; nothing is kept per
session beyond them, so a class of uploads costs the server what the files weigh.
"""

from __future__ import annotations

import streamlit as st

from explorer import PRESETS, SpecError, fmt, plan_network, spec_from_state_dict
from explorer.arch.checkpoint import matching_names
from explorer.arch.presets import FAMILY
from explorer.arch.share import closest_preset
from explorer.arch.spec import ResNetSpec
from explorer.arch.weights_file import read_weights, read_weights_file
from explorer.hall.budget import check_build
from explorer.hall.uploads import store_upload
from explorer.inspect.predict import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PictureError,
    Predictor,
    centre_square,
    imagenet_classes,
    open_picture,
)
from ui import access, state, uploads
from ui.admission import heavy, offload, plan_bytes
from ui.text import plain
from ui.try_it import PICTURE_MB, PICTURE_TYPES

WEIGHT_TYPES = ["pt", "pth", "bin", "safetensors"]
MAX_UPLOAD_MB = 512  # server.maxUploadSize in .streamlit/config.toml; the build budget may say less


def describe(spec: ResNetSpec) -> str:
    """'resnet50d with 1000 classes, 25,576,264 parameters', naming look-alikes the weights cannot tell apart."""
    names = matching_names(spec, FAMILY | PRESETS)
    params = fmt.count(plan_network(spec).params)
    if not names:
        return f"a {spec.block} ResNet of no preset or timm model, {spec.num_classes:,} classes, {params} parameters"
    same = f" (the weights of {', '.join(names[1:4])} look the same: anti-aliasing has none)" if names[1:] else ""
    return f"**{names[0]}** with {spec.num_classes:,} classes, {params} parameters{same}"


def _read(data: bytes, name: str) -> tuple[ResNetSpec, dict]:
    """The checkpoint's spec and tensors, once the server's budget admits them (about the file's
    size: the archive's unpacked size is checked against the build budget before loading)."""
    lim = access.limits()
    with heavy(len(data), "Opening the checkpoint"):
        tensors = read_weights(data, name, lim.build_bytes)
    spec = spec_from_state_dict(tensors)
    check_build(plan_network(spec), lim)
    return spec, tensors


def open_weights() -> None:
    """Uploader callback: the file's network into the Design controls, before the next run draws them."""
    file = st.session_state.get("d_weights")
    st.session_state.d_weights_note = st.session_state.d_weights_error = None
    if file is None:
        return
    if why := uploads.refusal(file, weights_limit_mb()):
        st.session_state.d_weights_error = plain(why)
        return
    try:  # every tensor's name and shape is checked against the design's own (spec_from_state_dict)
        spec, _ = _read(file.getvalue(), file.name)
    except SpecError as exc:
        st.session_state.d_weights_error = plain(f"{file.name}: {exc}")
        return
    state.load_into_widgets(spec, closest_preset(spec))
    budget = access.limits().checkpoint_bytes // 4  # a quarter of the runs' checkpoint budget
    st.session_state.d_weights_file = (str(store_upload(file.getvalue(), file.name, budget)), file.name, spec)
    st.session_state.d_weights_note = (
        f"{plain(file.name)} is {describe(spec)}. Its design is in the controls now; on the Train page, runs of "
        "this design can start from these weights (the classifier starts fresh for a dataset's own classes)."
    )


@st.cache_resource(max_entries=2, show_spinner="Loading the checkpoint…")
def _predictor(stored: str, _spec: ResNetSpec) -> Predictor:
    """Cached by the stored file (named by its content's hash). Sessions share it: the predictor
    locks its model for each call."""
    tensors = read_weights_file(stored, access.limits().build_bytes)  # memory-mapped where torch allows
    return Predictor(_spec, tensors, IMAGENET_MEAN[: _spec.input.channels], IMAGENET_STD[: _spec.input.channels])


def try_panel() -> None:
    """The opened checkpoint on a picture: its five most likely classes (ImageNet's names for a
    1000-class network; prepared as torchvision's and timm's ImageNet weights expect)."""
    opened = st.session_state.get("d_weights_file")
    if not opened:
        return
    stored, name, spec = opened
    upload = st.file_uploader(
        f"Try {name} on a picture", type=PICTURE_TYPES, key="d_weights_picture", max_upload_size=PICTURE_MB
    )
    if why := uploads.refusal(upload, PICTURE_MB):
        st.error(plain(why))
        return
    if upload is None:
        return
    try:
        image = centre_square(open_picture(upload), spec.input.channels, spec.input.height)
    except PictureError as exc:
        st.error(plain(f"{upload.name}: {exc}"))
        return
    with heavy(plan_bytes(plan_network(spec)), "Try it"):
        chances = _predictor(stored, spec).probabilities(image)[0]
    names = imagenet_classes() if spec.num_classes == 1000 else [f"class {i}" for i in range(spec.num_classes)]
    top = chances.topk(min(5, spec.num_classes))
    st.image(
        image[0].permute(1, 2, 0).squeeze(-1).numpy(),
        caption=f"As {name} gets it: {spec.input.height} px",
        width=160,
        alt="The uploaded picture, as the network gets it",
    )
    st.dataframe(
        {"class": [names[i] for i in top.indices.tolist()], "probability": top.values.tolist()},
        hide_index=True,
        column_config={"probability": st.column_config.ProgressColumn(format="%.3f", min_value=0.0, max_value=1.0)},
    )


def weights_for(design: ResNetSpec) -> tuple[str, str] | None:
    """The session's opened checkpoint (its stored path and file name) if it is this design."""
    opened = st.session_state.get("d_weights_file")
    if opened and opened[2] == design.with_input_of(opened[2]):
        return opened[0], opened[1]
    return None


def weights_limit_mb() -> int:
    """The checkpoint uploader's limit: the server's cap, or the build budget where that is less."""
    return min(MAX_UPLOAD_MB, max(1, access.limits().build_bytes // 2**20))


def weights_panel() -> None:
    limit = weights_limit_mb()
    st.file_uploader(
        "Open a checkpoint (.pt, .pth, .safetensors)",
        type=WEIGHT_TYPES,
        key="d_weights",
        on_change=open_weights,
        max_upload_size=limit,
        help="A state_dict of a torchvision, timm or ResNet Explorer ResNet; loaded weights-only, no code runs.",
    )
    if note := st.session_state.get("d_weights_note"):
        st.success(note)
    if err := st.session_state.get("d_weights_error"):
        st.error(f"Could not open {err}")


def onnx_panel(spec: ResNetSpec) -> None:
    """ONNX of the design: with the open checkpoint's weights where it is this design, else as initialised."""
    if not st.button("Build the ONNX file", key="d_onnx", help="For Netron or ONNX Runtime"):
        return
    opened = weights_for(spec)  # the open checkpoint, stored on disk, where it is this design
    source = f"the weights of {plain(opened[1])}" if opened else "initialised weights"
    try:
        plan = plan_network(spec)
        check_build(plan, access.limits())
        with heavy(plan_bytes(plan, copies=2), "The ONNX export"), st.spinner("Exporting…"):
            data = offload().onnx(spec.to_json(), opened[0] if opened else None)  # in a process of its own
    except SpecError as exc:
        st.error(f"Not exported: {plain(exc)}")
        return
    st.download_button(f"Download net.onnx ({fmt.nbytes(len(data))}, {source})", data, file_name="net.onnx",
                       mime="application/octet-stream", key="d_onnx_dl")  # fmt: skip
