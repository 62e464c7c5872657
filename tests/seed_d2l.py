"""The network of d2l.ai's ResNet chapter (Zhang, Lipton, Li and Smola, "Dive into Deep Learning",
"Residual Networks (ResNet) and ResNeXt"): its `Residual` block, `resnet_block` and ResNet-18 for
Fashion-MNIST at 96 px, with the `d2l` import removed.

Kept verbatim apart from formatting so that tests compare our builder with what d2l's code computes.
"""

import torch
from torch import nn
from torch.nn import functional as F


class Residual(nn.Module):  # @save
    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        if use_1x1conv:
            self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
        else:
            blk.append(Residual(num_channels, num_channels))
    return blk


def seed_net() -> nn.Sequential:
    b1 = nn.Sequential(
        nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    b2 = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(64, 128, 2))
    b4 = nn.Sequential(*resnet_block(128, 256, 2))
    b5 = nn.Sequential(*resnet_block(256, 512, 2))
    return nn.Sequential(b1, b2, b3, b4, b5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 10))


def seed_to_explorer_names(seed_state: dict) -> dict:
    """Rename d2l's state_dict keys to build_model's torchvision-style names."""
    renamed = {}
    for key, value in seed_state.items():
        parts = key.split(".")
        if parts[0] == "0":  # stem: conv, bn
            new = {"0": "conv1", "1": "bn1"}[parts[1]] + "." + ".".join(parts[2:])
        elif parts[0] == "7":
            new = "fc." + parts[1]
        else:  # b2..b5 -> layer1..layer4
            layer = f"layer{int(parts[0])}.{parts[1]}"
            module = {"conv3": "downsample.0"}.get(parts[2], parts[2])
            new = f"{layer}.{module}.{'.'.join(parts[3:])}"
        renamed[new] = value
    return renamed


if __name__ == "__main__":
    X = torch.rand(size=(1, 1, 224, 224))
    for layer in seed_net():
        X = layer(X)
        print(layer.__class__.__name__, "output shape:\t", X.shape)
