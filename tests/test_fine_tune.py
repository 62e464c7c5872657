"""Training from a checkpoint: a network trained elsewhere (other classes, colour images) starts
a run on this dataset with every layer but the head, the first conv adapted to grey images."""

import pytest
import torch
import torchvision

import explorer
from explorer.arch.checkpoint import load_for_fine_tuning
from explorer.arch.spec import SpecError
from explorer.cli.common import spec_from_args
from explorer.cli.main import build_parser
from explorer.cli.train import _recipe, describe
from explorer.training.data import DATASETS, load_dataset
from explorer.training.events import StartEvent
from explorer.training.recipe import Recipe, adapt_spec
from explorer.training.train import train


def test_an_imagenet_resnet18_starts_a_fashion_mnist_model():
    reference = torchvision.models.resnet18().state_dict()
    spec, _ = adapt_spec(explorer.preset("resnet18"), DATASETS["fashion-mnist"], 28)  # 1x28x28, 10 classes
    model = explorer.build_model(spec)
    fresh_fc = model.fc.weight.detach().clone()
    notes = load_for_fine_tuning(model, reference)
    assert notes == [
        "classifier: 1,000 classes in the checkpoint, 10 here, so it starts fresh",
        "first conv: the checkpoint's 3 colour channels made 1",
    ]
    assert torch.equal(model.conv1.weight, reference["conv1.weight"].sum(1, keepdim=True))  # grey: R = G = B
    assert torch.equal(model.layer3[1].conv2.weight, reference["layer3.1.conv2.weight"])
    assert torch.equal(model.bn1.running_var, reference["bn1.running_var"])
    assert torch.equal(model.fc.weight, fresh_fc)


def test_another_network_is_refused_by_the_tensor_that_does_not_fit():
    model = explorer.build_model(explorer.preset("resnet18"))
    with pytest.raises(SpecError, match="'layer1.2.conv1.weight' has no place in this network"):
        load_for_fine_tuning(model, torchvision.models.resnet34().state_dict())


def test_a_run_starts_from_the_checkpoint_and_says_what_it_adapted(tmp_path):
    source = explorer.spec_from_dict({**explorer.preset("resnet-mini").to_dict(), "num_classes": 26})
    path = tmp_path / "letters.pt"
    torch.save(explorer.build_model(source).state_dict(), path)
    events = []
    recipe = Recipe(dataset="digits", epochs=1, batch_size=64, lr=0.05, weights=str(path))
    result = train(explorer.preset("resnet-mini"), recipe, events.append, data=load_dataset("digits"))
    assert result.status == "completed", result.message
    start = next(e for e in events if isinstance(e, StartEvent))
    assert "classifier: 26 classes in the checkpoint, 10 here, so it starts fresh" in start.adapted
    missing = train(explorer.preset("resnet-mini"), recipe.but(weights=str(tmp_path / "gone.pt")), events.append,
                    data=load_dataset("digits"))  # fmt: skip
    assert missing.status == "failed" and missing.message.startswith("weights: cannot read ")


def test_train_weights_takes_the_files_network_and_starts_from_it(tmp_path):
    """`train --weights FILE`: the file's network, and a recipe that starts from the file (the
    run itself is the test above; the command is not run here, as it sets the process's
    flush-to-zero for good)."""
    path = tmp_path / "mini.pt"
    torch.save(explorer.build_model(explorer.preset("resnet-mini")).state_dict(), path)
    args = build_parser().parse_args(["train", "--weights", str(path), "--dataset", "digits", "--epochs", "1"])
    title, spec = spec_from_args(args)
    recipe, source = _recipe(args)
    assert (title, spec) == ("resnet-mini", explorer.preset("resnet-mini").with_input(1, 32, 32))
    assert recipe.weights == str(path) and source == "defaults"
    assert describe(recipe).endswith("from the weights of mini.pt")
