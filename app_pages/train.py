"""Train: train the designed network in a worker process and watch the curves stream in."""

from functools import partial

import streamlit as st

from ui import follow, run_view, state, train_setup, training
from ui.lecture import lecture_requested

lecture = lecture_requested()  # the router drew the switch
design = state.current_spec()
st.title("Train")
state.url_warning()
jobs = training.registry()
if jobs is None:  # the run history cannot be opened: said above, with what to do
    st.stop()
train_setup.restore()

# ----- which run this session follows -----------------------------------------------------------
job_id = run_view.followed_run(jobs)
snap = jobs.snapshot(job_id) if job_id is not None else None
running = snap is not None and not snap.finished

# ----- the form: on a projector, a run's curves take the first screen, so it folds away then; a ----
# following student watches the lecturer's run first ----------------------------------------------
fold = (lecture and running) or (follow.following() and job_id is not None)
with st.expander("Network and recipe", expanded=False) if fold else st.container():
    setup = train_setup.form(design, running, lecture)
    if setup.recipe:
        train_setup.estimate(jobs, setup)
asked = setup.recipe and (setup.start or setup.find_lr or setup.with_twin)
if asked and (submitted := train_setup.submit(jobs, setup)):
    run_view.follow(submitted[0])
    st.rerun()

# ----- the run: live while it trains ------------------------------------------------------------
if job_id is not None:
    st.divider()
    run_view.live_run(jobs, job_id, running, partial(train_setup.train_again, jobs), train_setup.use_offline_data)
run_view.queue(jobs)

# ----- history -------------------------------------------------------------------------------------
st.divider()
run_view.history(jobs, job_id)
