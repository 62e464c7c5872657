"""Challenge: the lecturer sets a task; students enter their designs; the board ranks them live."""

import streamlit as st

from ui import access, challenge, training
from ui.lecture import lecture_requested
from ui.text import plain

lecture = lecture_requested()  # the router drew the switch
st.title("Class challenge")
jobs = training.registry()
if jobs is None:  # the run history cannot be opened: said above
    st.stop()
board = challenge.store(jobs)
current = board.current()
if current is None:
    if access.is_lecturer():
        challenge.lecturer_panel(board, current)
    st.info("No challenge is set yet: the lecturer sets one on this page.")
    st.stop()
st.subheader(plain(current.title) + ("" if current.open else " (closed)"))
# projected, the board is what the class watches: first; on a student's screen, the entry form first
if lecture:
    challenge.leaderboard(board, current)
st.markdown(
    f"The task: **{current.task}**. Every entry trains with the same recipe (momentum SGD, one-cycle to lr 0.1, "
    f"batch {current.recipe.batch_size}) for the same {current.steps:,} steps, however busy the server is, so "
    "the board compares designs."
)
if current.open:
    challenge.entry_panel(board, current, jobs)
if not lecture:
    challenge.leaderboard(board, current)
if access.is_lecturer():
    challenge.lecturer_panel(board, current)
