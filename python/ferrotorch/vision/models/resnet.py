"""ResNet-18/34 (torchvision.models.resnet): the same modules, names, initialisation and repr as torchvision.

``weights=ResNet18_Weights.DEFAULT`` (or ``"DEFAULT"`` / ``"IMAGENET1K_V1"``) loads the checkpoint from the
hub cache, ``$TORCH_HOME/hub/checkpoints/<file name of the weights' URL>`` (``~/.cache/torch/hub`` when
TORCH_HOME is unset) — where torchvision keeps what it downloaded — with ``torch.load(weights_only=True)``.
ferrotorch downloads no weights: when the file is missing it raises ``RuntimeError`` saying where to put it.
"""

from __future__ import annotations

import enum
import os

from ... import nn

__all__ = ["BasicBlock", "ResNet", "ResNet18_Weights", "ResNet34_Weights", "resnet18", "resnet34"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut (a 1x1 projection when the shape changes)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += shortcut
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes: int = 1000, zero_init_residual: bool = False):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        # torchvision's initialisation, in the same module order (so the same random draws)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x).flatten(1)
        return self.fc(x)


class _Weights(enum.Enum):
    """A pretrained checkpoint: ``.url`` (its file name is the cache file's) and ``get_state_dict()``."""

    @property
    def url(self) -> str:
        return self.value

    @classmethod
    def verify(cls, obj):
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            name = obj.replace(cls.__name__ + ".", "")
            try:
                return cls[name]
            except KeyError:
                raise ValueError(f"Failed to find Weights {name} in {cls.__name__}.") from None
        raise TypeError(
            f"Invalid Weight class provided; expected {cls.__name__} but received {type(obj).__name__}."
        )

    def get_state_dict(self, *args, **kwargs):
        from ... import load

        home = os.environ.get("TORCH_HOME") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch"
        )
        path = os.path.join(os.path.expanduser(home), "hub", "checkpoints", os.path.basename(self.url))
        if not os.path.isfile(path):
            raise RuntimeError(
                f"{self}: ferrotorch downloads no pretrained weights; download {self.url} on another machine "
                f"and put it at {path}"
            )
        return load(path, weights_only=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class ResNet18_Weights(_Weights):
    IMAGENET1K_V1 = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    DEFAULT = "https://download.pytorch.org/models/resnet18-f37072fd.pth"  # an alias of IMAGENET1K_V1


class ResNet34_Weights(_Weights):
    IMAGENET1K_V1 = "https://download.pytorch.org/models/resnet34-b627a593.pth"
    DEFAULT = "https://download.pytorch.org/models/resnet34-b627a593.pth"


def _resnet(weights_enum, block, layers, weights, progress, **kwargs) -> ResNet:
    weights = weights_enum.verify(weights)
    if weights is not None:
        kwargs["num_classes"] = kwargs.get("num_classes", 1000)
        if kwargs["num_classes"] != 1000:
            raise ValueError(
                f"The parameter 'num_classes' expected value 1000 but got {kwargs['num_classes']} instead."
            )
    model = ResNet(block, layers, **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


def resnet18(*, weights=None, progress: bool = True, **kwargs) -> ResNet:
    """ResNet-18 (He et al., 2015); ``weights`` as in torchvision (read from the hub cache, see the module doc)."""
    return _resnet(ResNet18_Weights, BasicBlock, [2, 2, 2, 2], weights, progress, **kwargs)


def resnet34(*, weights=None, progress: bool = True, **kwargs) -> ResNet:
    """ResNet-34; ``weights`` as for resnet18."""
    return _resnet(ResNet34_Weights, BasicBlock, [3, 4, 6, 3], weights, progress, **kwargs)
