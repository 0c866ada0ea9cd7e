"""``init_xavier_``: d2l's ``init_cnn``, Xavier-uniform weights for every convolution and dense layer (d2l §7.6.2)."""
from .. import nn


def init_xavier_(model):
    """Re-draw every Linear and Conv2d weight with Xavier-uniform (Glorot & Bengio, 2010); biases untouched.

    Returns ``model``. d2l initialises every network it trains in chapters 7 and 8 this way.
    """
    for module in model.modules():
        if type(module) in (nn.Linear, nn.Conv2d):
            nn.init.xavier_uniform_(module.weight)
    return model
