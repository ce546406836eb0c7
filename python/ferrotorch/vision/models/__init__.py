"""torchvision.models: architectures built from ferrotorch.nn layers (no pretrained weights are shipped)."""

from .resnet import BasicBlock, ResNet, ResNet18_Weights, ResNet34_Weights, resnet18, resnet34
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
