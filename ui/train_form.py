"""The Train page's form <-> a Recipe: one widget per Recipe field, keyed t_<field>."""

from __future__ import annotations

import streamlit as st

from explorer.recipe import Recipe


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
        seed=int(s.t_seed),
        init=s.t_init,
        device=s.t_device,
        precision=s.t_precision,
    )
