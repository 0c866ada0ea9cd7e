"""The model zoo: the classic CNNs of d2l chapters 7 and 8, one file per family, built as d2l builds them.

Every constructor takes ``num_classes`` and ``in_channels`` (Fashion-MNIST defaults: 10 and 1)
and ``width``, the one size knob: it multiplies every channel count (1.0 is the paper's
network, 1/16 a tiny copy for the tests). ``vgg11(ratio=r)`` is d2l's name for ``width=1/r``.
"""
from .alexnet import alexnet
from .cbam import CBAMBlock, CBAMResidual, ChannelAttention, cbam_resnet18
from .densenet import DenseBlock, bottleneck_layer, conv_block, densenet, densenet121, transition_block
from .dense_evaluation import dense_evaluate
from .fcn import FCN, SkipFCN, fcn8s_resnet18, fcn16s_resnet18, fcn_resnet18, load_backbone
from .googlenet import GoogLeNet, Inception, aux_classifier, googlenet, googlenet_loss
from .inception_v3 import AsymmetricInception, FactorizedInception, GridReduction, inception_v3
from .init_xavier import init_xavier_
from .lenet import lenet, lenet_bn
from .nin import nin, nin_block
from .resnet_d2l import Residual, resnet, resnet18, resnet34, resnet_block
from .resnet_torchvision import BasicBlock, Bottleneck, resnet18_backbone, resnet50, torchvision_resnet
from .senet import SEBlock, SEResidual, se_resnet18
from .vgg import fully_convolutional, vgg, vgg11, vgg16, vgg_block
