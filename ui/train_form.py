"""The Train page's form <-> a Recipe: one widget per Recipe field, keyed t_<field>; and the form
in the page's URL (?recipe=...), so a reload or a shared link brings the same settings back."""

from __future__ import annotations

import json
from dataclasses import asdict

import streamlit as st

from explorer import PRESETS, SpecError
from explorer.training.recipe import Recipe, recipe_from_link
from ui.text import plain

URL_KEY = "recipe"
MAX_URL_CHARS = 2000
CURRENT = "Current design"
DEFAULTS = asdict(Recipe())


def apply_recipe(recipe: Recipe) -> None:
    """Put a recipe into the form (before the form's widgets are drawn in a run)."""
    for field, value in recipe.__dict__.items():
        st.session_state[f"t_{field}"] = value if value is not None else 0


def recipe_from_form() -> Recipe:
    """The recipe the form describes; RecipeError naming the field if it describes none."""
    s = st.session_state
    return Recipe(
        dataset=s.t_dataset,
        epochs=int(s.t_epochs),
        batch_size=int(s.t_batch_size),
        lr=float(s.t_lr),
        optimizer=s.t_optimizer,
        weight_decay=float(s.t_weight_decay),
        schedule=s.t_schedule,
        label_smoothing=float(s.t_label_smoothing),
        resize=int(s.t_resize) or None,
        augment=bool(s.t_augment),
        compile=bool(s.t_compile),
        limit=int(s.t_limit) or None,
        test_limit=int(s.get("t_test_limit") or 0) or None,
        seed=int(s.t_seed),
        init=s.t_init,
        device=s.t_device,
        precision=s.t_precision,
    )


def write_url(network: str, recipe: Recipe) -> None:
    """The form in the address bar: the network and the settings that differ from Recipe's
    defaults. A checkpoint's path never goes into a link."""
    changed = {k: v for k, v in asdict(recipe).items() if k != "weights" and v != DEFAULTS[k]}
    text = json.dumps({"network": network, **changed}, separators=(",", ":"))
    if st.query_params.get(URL_KEY) != text:
        st.query_params[URL_KEY] = text


def read_url() -> tuple[str, Recipe] | None:
    """The network and recipe a link carries, or None; a bad one is said in a sentence (and the
    form keeps the recipe suited to the network)."""
    text = st.query_params.get(URL_KEY)
    if not text:
        return None
    try:
        return recipe_from_link(text, PRESETS, CURRENT, MAX_URL_CHARS)
    except SpecError as exc:
        st.warning(f"The link's training settings could not be used ({plain(exc)}); the form has the suggested ones.")
        return None
