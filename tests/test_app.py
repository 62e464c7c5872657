"""The app through Streamlit's AppTest: every page loads, controls change numbers, errors show."""

import json
import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import explorer
from explorer.arch.share import to_query

APP = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def app(home):
    st.cache_resource.clear()  # the job registry is per process: give each test its own
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    yield at
    st.cache_resource.clear()


def metric(at, label):
    return next(m.value for m in at.metric if m.label.startswith(label))


def test_design_default_is_the_seed_network(app):
    app.run()
    assert not app.exception
    assert metric(app, "Parameters") == "11,178,378"
    assert metric(app, "MACs") == "0.319 G"
    assert "d2l-resnet18" in app.caption[0].value or any("d2l-resnet18" in c.value for c in app.caption)
    dot = app.get("graphviz_chart")[0].proto.spec
    assert "identity" in dot and "1x1 projection (128, /2)" in dot
    stages = app.dataframe[0].value  # under a billion MACs: in millions, so the head's 5,120 is not 0.000
    analysis = explorer.analyze(explorer.preset("d2l-resnet18"))
    assert list(stages["MMACs"]) == [s.macs / 1e6 for s in analysis.stages] and stages["MMACs"].iloc[-1] == 0.00512


def test_the_diagram_pages_by_stage_and_looks_inside_the_head(app):
    app.run()
    app.selectbox(key="d_preset").set_value("resnet152").run()
    app.selectbox(key="d_page").set_value("layer3").run()
    dot = app.get("graphviz_chart")[0].proto.spec
    assert '"from layer2"' in dot and '"to layer4"' in dot and 'id="stem"' not in dot
    app.selectbox(key="d_look").set_value("head").run()
    assert not app.exception
    assert any("fc: 2048×1000 + 1000 = 2,049,000" in c.value for c in app.code)
    app.selectbox(key="d_preset").set_value("resnet20").run()  # three stages: layer3 is still there
    app.selectbox(key="d_page").set_value("layer3").run()
    app.selectbox(key="d_preset").set_value("d2l-resnet18").run()
    assert not app.exception


def test_changing_the_preset_changes_totals_and_url(app):
    app.run()
    app.selectbox(key="d_preset").set_value("resnet50").run()
    assert metric(app, "Parameters") == "25,557,032"
    assert app.query_params["preset"] == "resnet50"
    assert any("Verified" in s.value for s in app.success)
    assert app.number_input(key="d_in_c").value == 3
    assert "GMACs" in app.dataframe[0].value  # 4.1 billion MACs: counted in billions, as torchvision does


def test_bad_value_shows_error_and_keeps_last_result(app):
    app.run()
    app.number_input(key="d_in_h").set_value(5000).run()
    assert not app.exception
    assert any("input.height: 5000 is out of range; allowed 1..4096" in e.value for e in app.error)
    assert metric(app, "Parameters") == "11,178,378"
    app.number_input(key="d_in_h").set_value(64).run()
    assert not app.error


def test_edits_go_into_the_url_and_back(app):
    app.run()
    app.number_input(key="d_classes").set_value(7).run()
    app.toggle(key="d_residual").set_value(False).run()
    params = dict(app.query_params.items())
    assert params == {"preset": "d2l-resnet18", "classes": "7", "residual": "0"}
    assert any("num_classes: 10 -> 7" in i.value for i in app.info)
    fresh = AppTest.from_file(APP, default_timeout=60)  # a fresh browser opening that URL
    for key, value in params.items():
        fresh.query_params[key] = value
    fresh.run()
    expected = explorer.analyze(explorer.spec_from_dict({**explorer.preset("d2l-resnet18").to_dict(), "num_classes": 7,
                                                         "residual": False}))  # fmt: skip
    assert metric(fresh, "Parameters") == f"{expected.total_params:,}"
    assert fresh.toggle(key="d_residual").value is False


def test_url_with_an_edited_stage_table(app):
    spec = explorer.preset("resnet18").with_classes(10)
    spec = explorer.spec_from_dict({**spec.to_dict(), "stages": [{"blocks": 1, "channels": 32, "stride": 1}]})
    for key, value in to_query(spec, "resnet18").items():
        app.query_params[key] = value
    app.run()
    assert metric(app, "Parameters") == f"{explorer.analyze(spec).total_params:,}"


def test_garbage_url_warns_and_falls_back(app):
    app.query_params["preset"] = "resnet9000"
    app.query_params["stages"] = "lots"
    app.run()
    assert not app.exception
    assert any("could not be used" in w.value and "resnet9000" in w.value for w in app.warning)
    assert metric(app, "Parameters") == "11,178,378"


def test_shape_mismatch_tutor_offers_the_projection(app):
    app.run()
    app.selectbox(key="d_shortcut").set_value("identity").run()
    assert any("F(x) + x does not fit in block layer2.0" in e.value for e in app.error)
    assert any("use_1x1conv=True" in m.value for m in app.markdown)
    app.button(key="d_fix").click().run()
    assert not app.error
    assert app.selectbox(key="d_shortcut").value == "B"
    assert metric(app, "Parameters") == "11,178,378"


def test_stage_table_edits_change_the_totals(app):
    app.run()
    key = f"d_stages_{app.session_state['d_stages_ver']}"
    app.session_state[key] = {"edited_rows": {3: {"blocks": 3}}, "added_rows": [], "deleted_rows": []}
    app.run()
    expected = explorer.spec_from_dict(
        {**explorer.preset("d2l-resnet18").to_dict(), "stages": [
            {"blocks": 2, "channels": 64, "stride": 1}, {"blocks": 2, "channels": 128, "stride": 2},
            {"blocks": 2, "channels": 256, "stride": 2}, {"blocks": 3, "channels": 512, "stride": 2}]}
    )  # fmt: skip
    assert metric(app, "Parameters") == f"{explorer.analyze(expected).total_params:,}"
    app.session_state[key] = {"edited_rows": {}, "added_rows": [{"blocks": None}], "deleted_rows": []}
    app.run()
    assert any("stages[4].channels: empty cell" in e.value or "stages[4]" in e.value for e in app.error)


def test_compare_page(app):
    app.run()
    app.switch_page("app_pages/compare.py").run()
    assert not app.exception
    assert metric(app, "Parameters") == "11,689,512"  # B: resnet18
    stages = app.dataframe[0].value
    assert list(stages.columns) == ["stage", "A output", "B output", "A params", "B params", "A GMACs", "B GMACs"]
    assert stages["B GMACs"][0] == explorer.analyze(explorer.preset("resnet18")).stages[0].macs / 1e9
    app.text_input(key="c_stages_B").set_value("3x64s1,4x128s2,6x256s2,3x512s2").run()
    assert metric(app, "Parameters") == "21,797,672"  # resnet34's stages
    assert len(app.get("graphviz_chart")) == 2
    app.text_input(key="c_stages_B").set_value("3x64").run()
    assert any("Network B is not valid" in e.value for e in app.error)


def test_why_residuals_page(app):
    app.run()
    app.switch_page("app_pages/why_residuals.py").run()
    assert not app.exception
    assert metric(app, "Residual block") == "0"  # the contrast, in the numbers themselves
    assert metric(app, "The same block without its shortcut") == "1.00"
    assert any("Gradient at the first layer: **plain" in m.value for m in app.markdown)
    app.toggle(key="w_bn").set_value(True).run()
    assert not app.exception
    assert app.get("graphviz_chart")  # the block built step by step
    flow = json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]
    assert flow["font"]["size"] == 16 and "tickfont" not in flow["xaxis"]  # Streamlit's own tick labels
    app.toggle(key="lecture").set_value(True).run()  # lecture mode: the charts' type grows with the page's
    flow = json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]
    assert flow["font"]["size"] == flow["xaxis"]["tickfont"]["size"] == flow["legend"]["font"]["size"] == 20


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

    assert registry().wait(job, 120)
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
    assert any("What the network says" in c.proto.spec for c in app.get("plotly_chart"))
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
    weights = app.selectbox(key="d_look_weights")
    assert weights.options[0] == "at initialisation" and weights.options[1].endswith(f"(run #{job}), trained")
    app.selectbox(key="d_look").set_value("layer2.0")
    app.toggle(key="d_look_run").set_value(True).run()
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
    deadline = time.time() + timeout
    while jobs.active() and time.time() < deadline:
        time.sleep(0.2)
    assert not jobs.active()
    return jobs.store.list(experiment=jobs.store.experiments(prefix)[0])


def test_degradation_and_lr_sweep_run_from_the_page(app):
    app.run()
    app.switch_page("app_pages/why_residuals.py").run()
    app.selectbox(key="w_deg_data").set_value("digits")
    app.button(key="w_deg_start").click().run()
    runs = _wait_for_experiment("degradation")
    assert sorted(r.name for r in runs) == ["plain-20", "plain-56", "resnet-20", "resnet-56"]
    assert {r.status for r in runs} == {"completed"}
    app.selectbox(key="w_lr_data").set_value("digits")
    app.button(key="w_lr_start").click().run()
    sweep = _wait_for_experiment("lr sweep")
    assert len(sweep) == 12 and {r.status for r in sweep} <= {"completed", "diverged"}
    app.run()
    assert not app.exception
    assert app.selectbox(key="w_deg_exp").options[0].endswith(" · Digits (offline)")  # what it trained on
    readout = next(m.value for m in app.markdown if m.value.startswith("Lowest final loss: BN **"))
    assert "(guessing scores 2.30)" in readout and "Diverged: BN " in readout  # ln 10, digits' ten classes
    assert app.subheader[3].value == "Does batch norm let you use a larger learning rate?"  # a question, not a claim
    assert any(m.value.startswith("**Here, ") for m in app.markdown)  # the answer, read off the sweep
    titles = [c.proto.spec for c in app.get("plotly_chart")]
    assert any("Training error" in t for t in titles) and any("Final loss against learning rate" in t for t in titles)
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
    assert any("Range tests: smoothed loss" in c.proto.spec for c in app.get("plotly_chart"))
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
    app.toggle(key="t_compile").set_value(True)
    app.button(key="t_estimate").click().run()  # submits the form
    assert app.session_state["t_saved"][1].compile is True  # the recipe a Start would train with
    estimate = next(i.value for i in app.info if i.value.startswith("Estimated here"))
    assert "for Fashion-MNIST, batch 256:" in estimate and "for 7 epochs" in estimate  # what it was timed for
    assert "a learning-rate range test at most " in estimate
    assert "Compiling adds about 30 s" in estimate
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
    assert app.number_input(key="t_epochs").value == 10 and app.number_input(key="t_lr").value == 0.05  # the seed's


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

    assert registry().wait(job, 120)
    time.sleep(0.2)
    app.run()
    run = registry().store.get(job)
    assert run.recipe["schedule"] == "range-test" and run.name == "resnet-mini: lr range test"
    assert run.status == "completed" and "suggested lr" in run.message and run.weights is None
    assert any("Loss as the learning rate grows" in c.proto.spec for c in app.get("plotly_chart"))
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


def test_family_options_change_the_network_the_url_and_the_timm_mark(app):
    """The ResNet family's options on the Design page: resnet50 with SE at 1/4, a strided-conv
    stem pool and ResNet-D shortcuts is timm's resnetrs50, and the page says it is verified."""
    app.run()
    app.selectbox(key="d_preset").set_value("resnet50").run()
    app.selectbox(key="d_attn").set_value("se").run()
    assert metric(app, "Parameters") == "28,088,024"  # timm's seresnet50
    assert app.query_params["attn"] == "se"
    assert any("timm's **seresnet50**" in s.value for s in app.success)
    app.number_input(key="d_se").set_value(4).run()
    app.selectbox(key="d_stem_kind").set_value("deep").run()
    app.selectbox(key="d_stem_pool").set_value("conv").run()
    app.selectbox(key="d_shortcut").set_value("D").run()
    assert not app.exception and metric(app, "Parameters") == "35,691,912"
    assert any("timm's **resnetrs50**" in s.value for s in app.success)
    assert app.query_params["stem"] == "deep:64:conv" and app.query_params["se"] == "4"
    app.selectbox(key="d_aa").set_value("blur").run()
    app.selectbox(key="d_block").set_value("preact").run()  # blur needs a post-activation block
    assert any(e.value.startswith("**Not a valid network:** anti_alias:") for e in app.error)
    assert metric(app, "Parameters") == "35,691,912"  # the last valid network stays


def test_a_timm_name_in_the_url_opens_its_network(app):
    app.query_params["preset"] = "seresnext26t_32x4d"
    app.run()
    assert not app.exception and metric(app, "Parameters") == "16,806,976"
    assert any("timm's **seresnext26t_32x4d**" in s.value for s in app.success)


def test_the_train_form_lives_in_the_url_so_a_reload_keeps_it(app):
    """The form's settings go into ?recipe=; a new session opening that link (a reload) gets them
    back; a checkpoint's path is never read from a link, and a bad recipe is said in a sentence."""
    app.run()
    app.switch_page("app_pages/train.py").run()
    app.selectbox(key="t_network").set_value("resnet-mini").run()
    app.number_input(key="t_epochs").set_value(3)
    app.number_input(key="t_lr").set_value(0.2)
    app.button(key="t_estimate").click().run()
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
    assert any("epochs: 0 is out of range" in w.value for w in broken.warning)


def test_a_network_and_its_plain_twin_train_side_by_side_with_gradients_per_stage(app):
    app.run()
    app.switch_page("app_pages/train.py").run()
    app.selectbox(key="t_network").set_value("resnet-mini").run()
    app.selectbox(key="t_dataset").set_value("digits")
    app.number_input(key="t_epochs").set_value(1)
    app.number_input(key="t_limit").set_value(640)
    app.button(key="t_twin").click().run()
    assert not app.exception
    from ui.training import registry

    jobs = registry()
    job = app.session_state["t_job"]
    pair = jobs.store.list(experiment=jobs.store.get(job).experiment)
    assert sorted(r.name for r in pair) == ["resnet-mini", "resnet-mini, plain twin"]
    plain = next(r for r in pair if r.id != job)
    assert plain.spec == {**jobs.store.get(job).spec, "residual": False}  # the same layers without shortcuts
    assert all(jobs.wait(r.id, 120) for r in pair)
    assert [r.status for r in jobs.store.list(experiment=pair[0].experiment)] == ["completed", "completed"]
    time.sleep(0.2)
    app.run()
    charts = {
        json.loads(c.proto.spec)["layout"]["title"]["text"]: json.loads(c.proto.spec) for c in app.get("plotly_chart")
    }
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
    assert [t["name"] for t in loss["data"] if t.get("showlegend") is not False] == [
        "resnet-mini",
        "resnet-mini, plain twin",
    ]
    app.radio(key=f"live_{job}_x").set_value("elapsed").run()  # wall time on the x axis
    loss = next(json.loads(c.proto.spec) for c in app.get("plotly_chart") if "Loss per step" in c.proto.spec)
    assert loss["layout"]["xaxis"]["title"]["text"] == "wall time (s)"
