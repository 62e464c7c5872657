"""Follow the lecturer, with several sessions on one server: AppTest instances in one process share
the server's cached objects (the broadcast), as browser sessions of one server do."""

import pytest
from streamlit.testing.v1 import AppTest

from explorer.arch.presets import preset
from explorer.hall.broadcast import Broadcast

from .apptest import metric, open_app


@pytest.fixture
def sessions(fresh):
    """New browser sessions of one fresh server, each opened at a link's query."""
    return lambda **query: open_app(query)


def params(at: AppTest) -> str:
    return metric(at, "Parameters")


def test_broadcast_versions_only_changes():
    hub = Broadcast()
    assert hub.latest() is None
    first = hub.publish(preset("resnet18"), "resnet18", "")
    assert hub.publish(preset("resnet18"), "resnet18", "") is first  # nothing changed: no new version
    second = hub.publish(preset("resnet18"), "resnet18", "train")
    assert (first.version, second.version, hub.latest().page) == (1, 2, "train")
    assert second.spec == preset("resnet18")


def test_a_new_lecture_wakes_each_follower_at_once_and_forgets_the_gone():
    hub = Broadcast()
    woken = {"a": 0, "b": 0}

    def wake(name: str, alive: bool = True):
        def call() -> bool:
            woken[name] += 1
            return alive

        return call

    hub.subscribe("a", wake("a"))
    hub.subscribe("b", wake("b", alive=False))  # its tab is closed
    hub.publish(preset("resnet18"), "resnet18", "")
    hub.publish(preset("resnet18"), "resnet18", "")  # no change: nobody woken
    hub.publish(preset("resnet18"), "resnet18", "train", run=7)  # the lecturer's run is news too
    assert woken == {"a": 2, "b": 1} and hub.latest().run == 7
    hub.unsubscribe("a")
    hub.publish(preset("resnet50"), "resnet50", "")
    assert woken == {"a": 2, "b": 1}


def test_a_follower_keeps_follow_in_its_address_and_watches_the_lecturers_run(sessions):
    lecturer = sessions()
    student = sessions(follow="1")
    lecturer.selectbox(key="d_preset").set_value("resnet50").run()
    student.run()
    assert student.query_params["follow"] == "1"  # the Design page writes the design and keeps following
    lecturer.session_state["t_job"] = 3  # the run the lecturer's Train page shows
    lecturer.run()
    student.run()
    assert student.session_state["t_job"] == 3


def test_students_follow_the_lecturers_design_and_page_and_fork_it(sessions):
    lecturer = sessions()  # a one-user server (127.0.0.1, no key): its user is the lecturer
    student = sessions(follow="1")
    other = sessions()  # not following: keeps its own design
    assert params(student) == params(lecturer) == "11,178,378"
    assert any("Following the lecturer" in i.value for i in student.info)

    lecturer.selectbox(key="d_preset").set_value("resnet50").run()
    student.run()  # a browser's one-second poll does this
    assert params(student) == "25,557,032" and student.selectbox(key="d_preset").value == "resnet50"
    assert params(other.run()) == "11,178,378"

    lecturer.number_input(key="d_classes").set_value(37).run()  # an edit, not only a preset
    assert student.run().number_input(key="d_classes").value == 37

    lecturer.switch_page("app_pages/compare.py").run()
    student.run()
    assert not student.exception and any(t.value == "Compare two networks" for t in student.title)

    student.button(key="follow_fork").click().run()  # their own copy from here on
    assert not student.session_state["following"]
    lecturer.switch_page("app_pages/design.py").run()
    lecturer.selectbox(key="d_preset").set_value("resnet18").run()
    student.switch_page("app_pages/design.py").run()
    assert params(student) == "23,583,845"  # resnet50 with 37 classes, kept
    assert not any("Following the lecturer" in i.value for i in student.info)


def test_a_follower_before_the_lecturer_is_told_and_never_publishes(sessions):
    student = sessions(follow="1")
    assert any("has not opened the app yet" in c.value for c in student.sidebar.caption)
    student.selectbox(key="d_preset").set_value("resnet34").run()
    lecturer_view = sessions()
    assert params(lecturer_view) == "11,178,378"  # the follower's edit was not broadcast
