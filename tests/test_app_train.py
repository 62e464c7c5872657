"""The Train page through Streamlit's AppTest: runs start, stream, finish and are listed;
experiments, the learning-rate finder, the form in the URL, the plain twin."""

import json
import time

from streamlit.testing.v1 import AppTest

import explorer
from ui.charts import COLORS

from .apptest import APP, figure, figures, metric, shown, title
from .waits import SETTLE_SECONDS, wait_until


def test_train_page_runs_a_tiny_job_and_lists_it(app):
    app.run()
    app.switch_page("app_pages/train.py").run()
    assert not app.exception
    app.selectbox(key="t_network").set_value("resnet-mini").run()
    assert app.number_input(key="t_limit").value == 20_000  # the CPU recipe came with it
    app.selectbox(key="t_dataset").set_value("digits")
    app.number_input(key="t_epochs").set_value(1)
    app.number_input(key="t_batch_size").set_value(64)
    app.button(key="t_start").click().run()
    assert not app.exception
    job = app.session_state["t_job"]
    assert app.query_params["job"] == str(job)
    from ui.training import registry

    assert registry().wait(job, SETTLE_SECONDS)
    time.sleep(0.2)
    app.run()
    assert any("Completed" in m.value for m in app.markdown)
    frame = app.dataframe[-1].value
    assert list(frame["status"]) == ["completed"] and list(frame["id"]) == [job]
    assert app.dataframe[-1].proto.placeholder == "—"  # a missing value reads as a dash, not "None"
    assert json.loads(app.dataframe[-1].proto.columns)["status"]["width"] == "medium"  # "completed", not cut
    assert "started" in frame and "experiment" not in frame  # no experiment among these runs
    assert frame["duration"].dtype.kind == "f" and frame["duration"][0] > 0  # seconds: the column sorts
    labels = [b.proto.label for b in app.get("download_button")]
    assert labels[0].startswith("Weights (") and labels[1] == "Network (spec.json)"
    app.number_input(key="t_epochs").set_value(7)
    app.selectbox(key="t_network").set_value("resnet18")
    app.button(key="t_again").click().run()  # this run's network and recipe back into the form
    assert not app.exception
    assert app.number_input(key="t_epochs").value == 1 and app.number_input(key="t_batch_size").value == 64
    assert app.selectbox(key="t_network").value == "Current design" and app.selectbox(key="t_dataset").value == "digits"
    trained = registry().store.get(job).spec
    assert app.session_state["spec"] == explorer.spec_from_dict(trained)  # the Design page shows it too
    app.button(key=f"try_random_{job}").click().run()  # the trained network on one of the test images
    assert not app.exception
    said = next(m.value for m in app.markdown if m.value.startswith("It says **"))
    assert "the test set says **" in said and said.endswith(("✓.", "✗."))
    assert figure(app, "What the network says")
    captions = [i.caption for e in app.get("image") for i in e.proto.imgs]
    assert "As the network gets it: 8 px" in captions
    assert any(c.startswith("Bright: where it found ") and c.endswith("(Grad-CAM, 2×2)") for c in captions)
    part = app.radio(key=f"try_part_{job}")  # inside the network: the maps of each stage, then the filters
    assert part.options == ["stem", "layer1", "layer2", "layer3", "first filters"] and part.value == "stem"
    assert any(c.value.startswith("**stem**: 16 channels of 8×8, after 3×3 conv, 16, BN, ReLU.") for c in app.caption)
    part.set_value("layer3").run()
    assert any(
        c.value.startswith("**layer3**: 64 channels of 2×2") and "16 this image drives" in c.value for c in app.caption
    )
    part.set_value("first filters").run()
    assert not app.exception and any("16 trained 3×3 filters" in c.value for c in app.caption)
    app.switch_page("app_pages/design.py").run()  # "train again" made the trained network the design
    assert metric(app, "Parameters") == f"{explorer.analyze(explorer.spec_from_dict(trained)).total_params:,}"
    # looking inside a block of this design: with the random initial weights, then with the run's
    app.selectbox(key="d_look").set_value("layer2.0")
    app.toggle(key="d_look_run").set_value(True).run()
    weights = app.selectbox(key="d_look_weights")
    assert weights.options[0] == "at initialisation" and weights.options[1].endswith(f"(run #{job}), trained")
    assert any(
        c.value.startswith("What layer2.0 gives for a digit, at initialisation: 32 channels of 4×4")
        for c in app.caption
    )
    weights.set_value(job).run()
    assert not app.exception
    assert any(
        c.value.startswith(f"What layer2.0 gives for the first digits test image, run #{job}'s trained weights")
        for c in app.caption
    )
    app.selectbox(key="d_look_layer_layer2.0").set_value("layer2.0.conv1").run()  # one layer of the block
    assert any(c.value.startswith("What layer2.0.conv1 gives for the first digits test image") for c in app.caption)


def _wait_for_experiment(prefix: str, timeout: float = 240) -> list:
    from ui.training import registry

    jobs = registry()
    assert wait_until(lambda: not jobs.active(), timeout, poll=0.2)
    return jobs.store.list(experiment=jobs.store.experiments(prefix)[0])


def test_degradation_and_lr_sweep_run_from_the_page(app, monkeypatch):
    import dataclasses

    from explorer.inspect import teaching

    # The page's version on the digits, shrunk to seconds: the page reads its depths from its runs.
    small = dataclasses.replace(teaching.CPU_DEGRADATION, epochs=1, limit=512, test_limit=256, depths=(8, 14))
    monkeypatch.setattr(teaching, "CPU_DEGRADATION", small)
    monkeypatch.setattr("ui.why_residuals.SWEEP_LRS", (0.1, 3.0))  # a third of the page's sweep: 4 runs, not 12
    app.run()
    app.switch_page("app_pages/why_residuals.py").run()
    app.selectbox(key="w_deg_data").set_value("digits")
    app.button(key="w_deg_start").click().run()
    runs = _wait_for_experiment("degradation")
    assert sorted(r.name for r in runs) == ["plain-14", "plain-8", "resnet-14", "resnet-8"]
    assert {r.status for r in runs} == {"completed"}
    app.selectbox(key="w_lr_data").set_value("digits")
    app.button(key="w_lr_start").click().run()
    sweep = _wait_for_experiment("lr sweep")
    assert len(sweep) == 4 and {r.status for r in sweep} <= {"completed", "diverged"}
    app.run()
    assert not app.exception
    assert app.selectbox(key="w_deg_exp").options[0].endswith(" · Digits (offline)")  # what it trained on
    readout = next(m.value for m in app.markdown if m.value.startswith("Lowest final loss: BN **"))
    assert "(guessing scores 2.30)" in readout and "Diverged: BN " in readout  # ln 10, digits' ten classes
    assert app.subheader[3].value == "Does batch norm let you use a larger learning rate?"  # a question, not a claim
    assert any(m.value.startswith("**Here, ") for m in app.markdown)  # the answer, read off the sweep
    titles = [title(f) for f in figures(app)]
    assert any("Training loss (live)" in t for t in titles) and any(
        "Final loss against learning rate" in t for t in titles
    )
    app.selectbox(key="w_rt_data").set_value("digits")
    app.button(key="w_rt_start").click().run()  # the same question as two range tests
    tests = _wait_for_experiment("lr range tests")
    assert sorted((r.name, r.spec["batch_norm"]) for r in tests) == [
        ("BN: lr range test", True),
        ("no BN: lr range test", False),
    ]
    assert {r.status for r in tests} == {"completed"}
    app.run()
    assert not app.exception
    assert figure(app, "Range tests: smoothed loss")
    said = next(m.value for m in app.markdown if m.value.startswith("BN: falls fastest at lr **"))
    assert "; no BN: falls fastest at lr **" in said
    assert sum(m.value.startswith("**Here, ") for m in app.markdown) == 2  # the sweep's and the range tests' verdicts


def test_an_experiment_whose_runs_fail_says_why(app, monkeypatch):
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")  # the worker's downloads: refused at once
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    app.run()
    app.switch_page("app_pages/why_residuals.py").run()
    assert app.selectbox(key="w_lr_data").value == "fashion-mnist"
    app.button(key="w_lr_start").click().run()
    sweep = _wait_for_experiment("lr sweep", timeout=60)
    assert {r.status for r in sweep} == {"failed"}
    app.run()
    errors = [e.value for e in app.error]
    assert errors == [f"All 12 runs failed: {sweep[0].message}"] and "could not be downloaded" in errors[0]


def test_train_settings_survive_a_visit_to_another_page(app):
    app.run()
    app.switch_page("app_pages/train.py").run()
    assert app.toggle(key="t_compile").value is False
    app.number_input(key="t_epochs").set_value(7)
    app.toggle(key="t_compile").set_value(True).run()  # no form to submit: the estimate follows each edit
    assert app.session_state["t_saved"][1].compile is True  # the recipe a Start would train with
    estimate = next(i.value for i in app.info if i.value.startswith("Estimated here"))
    assert "for Fashion-MNIST, batch 256:" in estimate and "for 7 epochs" in estimate  # what it was timed for
    assert "a learning-rate range test at most " in estimate
    assert "Compiling adds about 30 s" in estimate
    app.number_input(key="t_batch_size").set_value(64).run()  # an edit, and nothing pressed
    again = next(i.value for i in app.info if i.value.startswith("Estimated here"))
    assert "for Fashion-MNIST, batch 64:" in again and again != estimate
    app.switch_page("app_pages/compare.py").run()
    app.switch_page("app_pages/train.py").run()
    assert app.number_input(key="t_epochs").value == 7
    assert app.toggle(key="t_compile").value is True


def test_train_this_network_takes_the_design_to_the_train_page(app):
    app.run()
    app.switch_page("app_pages/train.py").run()
    app.selectbox(key="t_network").set_value("resnet-mini").run()  # the Train page showed another network
    app.switch_page("app_pages/design.py").run()
    link = app.get("page_link")[0].proto
    assert link.label == "Train this network" and link.page.endswith("train") and "network=design" in link.query_string
    app.query_params["network"] = "design"  # what following the link does
    app.switch_page("app_pages/train.py").run()
    assert not app.exception
    assert app.selectbox(key="t_network").value == "Current design" and "network" not in app.query_params
    assert app.number_input(key="t_epochs").value == 10 and app.number_input(key="t_lr").value == 0.05  # d2l's


def test_overlay_of_runs_without_epochs_says_so_instead_of_empty_axes(home):
    def page():
        import explorer
        from explorer.training.events import EpochEvent
        from explorer.training.recipe import Recipe
        from explorer.training.runs import RunStore
        from explorer.training.train import RunResult
        from ui import training

        store = RunStore()
        spec, recipe = explorer.preset("resnet-mini").to_json(), Recipe(dataset="digits").to_json()
        lost = store.create("lost", spec, recipe)
        store.finish(lost, RunResult("diverged", "loss became non-finite at step 3 (lr 9): lower it", []))
        kept = store.create("kept", spec, recipe)
        epoch = EpochEvent(1, 0.5, 0.9, 0.6, 0.85, 1e3, 1.0, None)
        store.record_event(kept, epoch)
        training.overlay(store, [store.get(lost)], "one")  # nothing to draw
        training.overlay(store, [store.get(lost), store.get(kept)], "two")  # one curve each chart

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception
    assert [c.value for c in at.caption if c.value.startswith("No finished epoch")] == [
        "No finished epoch to plot: #1 (diverged).",
        "No finished epoch to plot: #1 (diverged).",
    ]
    assert len(at.get("plotly_chart")) == 2  # the second overlay's two charts, none from the first


def test_train_page_finds_a_learning_rate(app):
    app.run()
    app.switch_page("app_pages/train.py").run()
    app.selectbox(key="t_network").set_value("resnet-mini").run()
    app.selectbox(key="t_dataset").set_value("digits")
    app.number_input(key="t_batch_size").set_value(64)
    app.button(key="t_range").click().run()  # a range test instead of training
    assert not app.exception
    job = app.session_state["t_job"]
    from ui.training import registry

    assert registry().wait(job, SETTLE_SECONDS)
    time.sleep(0.2)
    app.run()
    run = registry().store.get(job)
    assert run.recipe["schedule"] == "range-test" and run.name == "resnet-mini: lr range test"
    assert run.status == "completed" and "suggested lr" in run.message and run.weights is None
    assert figure(app, "Loss as the learning rate grows")
    said = next(m.value for m in app.markdown if m.value.startswith("The smoothed loss falls fastest at lr"))
    use = next(b for b in app.button if b.label.startswith("Use lr "))
    suggested = float(use.label.removeprefix("Use lr "))
    from explorer.training.lr_range import range_curve

    assert suggested == float(f"{range_curve(registry().store.steps(job)).suggested_lr:.2g}")
    assert f"**{suggested:g}**" in said
    use.click().run()
    assert not app.exception and app.number_input(key="t_lr").value == suggested  # into the form
    frame = app.dataframe[-1].value
    row = frame[frame["id"] == job].iloc[0]
    assert row["lr"] is None or row["lr"] != row["lr"]  # not the form's lr: the test swept its own


def test_the_train_form_lives_in_the_url_so_a_reload_keeps_it(app):
    """The form's settings go into ?recipe=; a new session opening that link (a reload) gets them
    back; a checkpoint's path is never read from a link, and a bad recipe is said in a sentence."""
    app.run()
    app.switch_page("app_pages/train.py").run()
    app.selectbox(key="t_network").set_value("resnet-mini").run()
    app.number_input(key="t_epochs").set_value(3)
    app.number_input(key="t_lr").set_value(0.2).run()
    link = app.query_params["recipe"]
    assert json.loads(link)["network"] == "resnet-mini" and json.loads(link)["epochs"] == 3
    reloaded = AppTest.from_file(APP, default_timeout=60)
    reloaded.query_params["recipe"] = json.dumps({**json.loads(link), "weights": "/etc/passwd"})
    reloaded.switch_page("app_pages/train.py").run()
    assert not reloaded.exception
    assert reloaded.selectbox(key="t_network").value == "resnet-mini"
    assert (reloaded.number_input(key="t_epochs").value, reloaded.number_input(key="t_lr").value) == (3, 0.2)
    assert reloaded.session_state["t_saved"][1].weights is None
    broken = AppTest.from_file(APP, default_timeout=60)
    broken.query_params["recipe"] = '{"epochs": 0}'
    broken.switch_page("app_pages/train.py").run()
    assert not broken.exception
    assert any("epochs: 0 is out of range" in shown(w.value) for w in broken.warning)


def test_a_network_and_its_plain_twin_train_side_by_side_with_gradients_per_stage(app):
    from ui.training import registry

    slots = registry().start_workers("cpu")  # as the server's warm-up does: both workers up first
    assert wait_until(lambda: all(slot.ready.is_set() for slot in slots))
    app.run()
    app.switch_page("app_pages/train.py").run()
    app.selectbox(key="t_network").set_value("resnet-mini").run()
    app.selectbox(key="t_dataset").set_value("digits")
    app.number_input(key="t_epochs").set_value(200)  # they outlast the check, then are stopped
    app.number_input(key="t_limit").set_value(640)
    app.button(key="t_twin").click().run()
    assert not app.exception
    jobs = registry()
    job = app.session_state["t_job"]
    pair = jobs.store.list(experiment=jobs.store.get(job).experiment)
    assert sorted(r.name for r in pair) == ["resnet-mini", "resnet-mini, plain twin"]
    plain = next(r for r in pair if r.id != job)
    assert plain.spec == {**jobs.store.get(job).spec, "residual": False}  # the same layers without shortcuts

    def side_by_side() -> bool:  # both running at once, in two workers, each with an epoch stored
        runs = jobs.store.list(experiment=pair[0].experiment)
        return all(r.status == "running" and jobs.store.epochs(r.id) for r in runs)

    assert wait_until(side_by_side)
    assert all(jobs.stop(r.id, lecturer=True) for r in pair)
    assert all(jobs.wait(r.id, SETTLE_SECONDS) for r in pair)
    assert [r.status for r in jobs.store.list(experiment=pair[0].experiment)] == ["stopped", "stopped"]
    time.sleep(0.2)
    app.run()
    charts = {title(f): f for f in figures(app)}
    grad = charts["Gradient norm per stage"]
    stages = ["stem", "layer1", "layer2", "layer3", "head"]
    assert [t["name"] for t in grad["data"]] == stages * 2  # the network's five, then the twin's
    assert [t["showlegend"] for t in grad["data"]] == [True] * 5 + [False] * 5  # one legend entry per stage
    assert {t["line"]["dash"] for t in grad["data"][5:]} == {"dash"} and "plain twin" in grad["data"][5][
        "hovertemplate"
    ]
    assert all(len(t["y"]) > 0 and min(t["y"]) > 0 for t in grad["data"])
    ratio = charts["Update / weight per step, per stage"]
    assert ratio["layout"]["shapes"][0]["y0"] == 1e-3  # the healthy-update line
    loss = charts["Loss per step (smoothed 0.6)"]
    shown = [t for t in loss["data"] if t.get("showlegend") is not False]
    assert [t["name"] for t in shown] == ["training loss", "training loss, plain twin"]  # whole in a legend
    assert [(t["line"]["color"], t["line"]["dash"]) for t in shown] == [(COLORS[0], "solid"), (COLORS[0], "dash")]
    accuracy = charts["Accuracy per epoch"]  # train and test keep their colours; the twin is dashed, not blue
    assert [(t["name"], t["line"]["color"], t["line"]["dash"]) for t in accuracy["data"]] == [
        ("train", COLORS[0], "solid"),
        ("test", COLORS[1], "solid"),
        ("train, plain twin", COLORS[0], "dash"),
        ("test, plain twin", COLORS[1], "dash"),
    ]
    app.radio(key=f"live_{job}_x").set_value("elapsed").run()  # wall time on the x axis
    loss = figure(app, "Loss per step")
    assert loss["layout"]["xaxis"]["title"]["text"] == "wall time (s)"
