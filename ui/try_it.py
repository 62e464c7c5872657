"""After a run: the trained network on a picture of one's own, or on a random test image."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import streamlit as st
import torch
from plotly.colors import sample_colorscale

from explorer import SpecError, plan_network, spec_from_dict
from explorer.arch import diagram
from explorer.hall.budget import check_build
from explorer.inspect.feature_maps import tile
from explorer.inspect.predict import (
    PictureError,
    Predictor,
    can_predict,
    image_as_dataset_item,
    looks_inverted,
    open_picture,
)
from explorer.training.data import DATASETS, DatasetError, DatasetInfo, load_dataset
from explorer.training.run_record import RunRecord
from ui import access, chart_text, charts, uploads
from ui.admission import heavy, plan_bytes
from ui.text import plain

PICTURE_MB = 12  # a phone's photo
PICTURE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif"]  # the name only: the content is checked too
SHOWN_SIDE = 168  # px: the image as the network sees it, scaled up by whole pixels
MAPS_SHOWN, MAPS_COLUMNS, MAPS_WIDTH = 16, 8, 760  # channels of a stage drawn, per row, px across
FILTERS = "first filters"
# viridis: bright is strong and reads on a projector in colour or grey; the gaps are the page's white
VIRIDIS = np.array(
    [[int(v) for v in c[4:-1].split(",")] for c in sample_colorscale("Viridis", list(np.linspace(0, 1, 256)))],
    dtype=np.uint8,
)


def run_predictor(run: RunRecord) -> Predictor:
    """The run's trained network, loaded once (see can_predict)."""
    return _predictor(run.weights, run.weights.stat().st_mtime, run)


@st.cache_resource(max_entries=2, show_spinner=False)
def _predictor(weights: Path, modified: float, _run: RunRecord) -> Predictor:
    """Cached by the weights file and its time (`modified`), which stand for the run: a rerun does
    not reload them. Sessions share it: the predictor locks its model for each call."""
    return Predictor.from_run(_run)


@st.cache_resource(max_entries=1, show_spinner="Loading the test images…")
def test_split(dataset: str) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_dataset(dataset, download=False)  # the run had it: no download
    return data.x_test, data.y_test


@st.cache_data(max_entries=4, show_spinner=False)
def _read_picture(data: bytes, dataset: str) -> tuple[bool, torch.Tensor, torch.Tensor]:
    """Whether the picture looks inverted, and it as one of the dataset's images, as it is and
    inverted: decoding a phone's photo takes a moment, and every rerun of the page shows it."""
    picture = open_picture(io.BytesIO(data))
    info = DATASETS[dataset]
    return (
        looks_inverted(picture, info),
        image_as_dataset_item(picture, info, invert=False),
        image_as_dataset_item(picture, info, invert=True),
    )


def try_it(run: RunRecord) -> None:
    """Upload a picture or draw a random test image; see it as the network does and what it says."""
    if not can_predict(run):
        return  # nothing to rebuild the network from (a run from an older version, or a failed one)
    dataset = DATASETS[run.recipe["dataset"]]
    try:  # the server builds it for this: only if it fits (a lecturer's run may be larger)
        check_build(plan_network(spec_from_dict(run.spec)), access.limits())
    except SpecError as exc:
        st.caption(f"Try it is not offered for this run: {plain(exc)}")
        return
    st.markdown("**Try it on an image**")
    # the sources in a row of their own and the answer below: at lecture size on a 1024-px
    # projector a third of the width cuts the uploader's file types and the button's label
    source, choices = st.columns([3, 2], vertical_alignment="center")
    upload = source.file_uploader(
        "A picture of your own", type=PICTURE_TYPES, key=f"try_upload_{run.id}", max_upload_size=PICTURE_MB
    )
    if why := uploads.refusal(upload, PICTURE_MB):  # the browser's limit is the browser's: checked here
        source.error(plain(why))
        upload = None
    # the picture shown is the one asked for last: a new upload, or a click for a test image
    index_key, shown_key = f"try_index_{run.id}", f"try_shown_{run.id}"
    if upload is not None and st.session_state.get(f"try_seen_{run.id}") != upload.file_id:
        st.session_state[f"try_seen_{run.id}"] = upload.file_id
        st.session_state[shown_key] = "upload"
    if choices.button("A random test image", key=f"try_random_{run.id}", icon=":material/shuffle:"):
        st.session_state[index_key] = random.randrange(dataset.test_size)
        st.session_state[shown_key] = "test"
    truth = None
    if upload is not None and st.session_state.get(shown_key) == "upload":
        try:
            inverted, as_is, negative = _read_picture(upload.getvalue(), dataset.name)
        except PictureError as exc:
            st.error(f"{plain(upload.name)} cannot be tried: {plain(exc)}.")
            return
        invert = dataset.light_on_dark and choices.toggle(
            "Invert it",
            value=inverted,
            key=f"try_invert_{run.id}_{upload.file_id}",  # a new picture gets its own guess
            help=f"{dataset.title}'s images are light on black: dark ink on white paper must be inverted.",
        )
        item = negative if invert else as_is
    elif index_key in st.session_state:
        try:
            x_test, y_test = test_split(dataset.name)
        except DatasetError as exc:
            st.error(plain(exc))
            return
        index = st.session_state[index_key] % len(y_test)
        item, truth = x_test[index : index + 1], int(y_test[index])
    else:
        st.caption("Upload a picture, or draw one of the test images.")
        return
    with heavy(plan_bytes(plan_network(spec_from_dict(run.spec))), "Try it"):  # forward and backward passes
        _answer(run, dataset, item, truth)


def _answer(run: RunRecord, dataset: DatasetInfo, item: torch.Tensor, truth: int | None) -> None:
    """The picture as the network gets it, its Grad-CAM, the probabilities and a look inside."""
    left, right = st.columns([1, 2])
    predictor = run_predictor(run)
    probabilities = predictor.probabilities(item)[0].tolist()
    pixels = item[0].numpy()
    pixels = pixels[0] if pixels.shape[0] == 1 else np.transpose(pixels, (1, 2, 0))
    scale = max(1, SHOWN_SIDE // pixels.shape[0])
    shown = pixels.repeat(scale, 0).repeat(scale, 1)
    side = predictor.spec.input.height
    resized = f", resized to {side}" if side != dataset.size else ""
    # widths given: an image otherwise stretches to a caption wider than itself
    left.image(
        shown,
        caption=f"As the network gets it: {dataset.size} px{resized}",
        width=shown.shape[1],
        alt=f"The picture, {dataset.size} px, as the network gets it",
    )
    best = int(np.argmax(probabilities))
    cam = predictor.grad_cam(item, best)
    left.image(
        _overlay(shown, cam),
        caption=f"Bright: where it found {dataset.classes[best]} (Grad-CAM, {cam.shape[0]}×{cam.shape[1]})",
        width=shown.shape[1],
        alt=f"The image with a heat map over where the network found {dataset.classes[best]}",
    )
    said = f"It says **{dataset.classes[best]}** ({probabilities[best]:.0%})"
    if truth is not None:
        said += f"; the test set says **{dataset.classes[truth]}**" + (" ✓" if truth == best else " ✗")
    right.markdown(said + ".")
    chart_text.plot(right, charts.class_probabilities(probabilities, dataset.classes, truth), f"try_{run.id}")
    inside(run, predictor, item)


def _overlay(picture: np.ndarray, cam: torch.Tensor) -> np.ndarray:
    """A 0..1 map, enlarged smoothly to the picture's size, in VIRIDIS over the picture in grey."""
    size = picture.shape[:2]
    smooth = torch.nn.functional.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)
    heat = VIRIDIS[np.round(smooth[0, 0].clamp(0, 1).numpy() * 255).astype(int)].astype(np.float32)
    grey = picture if picture.ndim == 2 else picture.mean(axis=2)
    return np.round(0.4 * grey[..., None].astype(np.float32) + 0.6 * heat).astype(np.uint8)


def maps_picture(grid: np.ndarray) -> np.ndarray:
    """A tile() grid as an RGB picture about MAPS_WIDTH px across, enlarged by whole pixels: one
    value a colour of VIRIDIS (colour grids keep their own colours), the gaps white."""
    gaps = np.isnan(grid if grid.ndim == 2 else grid[..., 0])
    if grid.ndim == 2:
        rgb = VIRIDIS[np.round(np.nan_to_num(grid) * 255).astype(int)]
    else:
        rgb = np.round(np.nan_to_num(grid) * 255).astype(np.uint8)
    rgb[gaps] = 255
    scale = max(1, MAPS_WIDTH // rgb.shape[1])
    return rgb.repeat(scale, 0).repeat(scale, 1)


def inside(run: RunRecord, predictor: Predictor, item: torch.Tensor) -> None:
    """The image's activations after the stem and each stage (the Design page's shapes, as
    pictures), or the trained filters of the first convolution."""
    st.markdown("**Inside the network**")
    maps = predictor.stage_maps(item)
    names = [m.name for m in maps] + [FILTERS]
    chosen = st.radio(
        "Part",
        names,
        horizontal=True,
        key=f"try_part_{run.id}",
        label_visibility="collapsed",
        help="What this image makes of each part's output channels, stage by stage: the resolution "
        "halves where a stage has stride 2 and the channels grow.",
    )
    if chosen == FILTERS:
        filters = predictor.first_filters()
        count, channels, k = filters.shape[0], filters.shape[1], filters.shape[-1]
        columns = MAPS_COLUMNS if count <= MAPS_SHOWN else 2 * MAPS_COLUMNS  # 64 filters: 4 rows
        grid = tile(filters[:, 0] if channels == 1 else filters[:, :3], columns=columns)
        st.image(maps_picture(grid), alt=f"The first convolution's {count} filters, {k}×{k} each, as a grid")
        st.caption(
            f"The {count} trained {k}×{k} filters of the first convolution"
            + ("" if channels in (1, 3) else " (their first three input channels)")
            + ", each on its own scale: the first layer learns edge, stroke and blob detectors."
        )
        return
    shown = next(m for m in maps if m.name == chosen)
    channels, height, width = shown.shape
    strongest = shown.strongest(MAPS_SHOWN)
    st.image(
        maps_picture(tile(shown.maps[strongest], columns=MAPS_COLUMNS)),
        alt=f"Feature maps of {chosen}: {len(strongest)} channels of {height}×{width} as a grid",
    )
    stem = "; ".join(diagram.stem_steps(predictor.plan.stem, predictor.plan.spec))
    where = f"after {stem}" if chosen == "stem" else "after its last block"
    st.caption(
        f"**{chosen}**: {channels} channels of {height}×{width}, {where}. "
        + (f"The {len(strongest)} this image drives hardest" if channels > MAPS_SHOWN else "All of them")
        + ", strongest first, each on its own scale (bright: strong)."
    )
