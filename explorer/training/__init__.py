"""Training a spec: the datasets, the recipe, the devices, one step, the loop and its events; the
job registry with its worker processes, and the run history (SQLite)."""
