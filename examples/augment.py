"""The training-time augmentations the example scripts switch on (d2l §14.1).

``--augment`` (AlexNet, ResNet): a random horizontal flip, a random crop of the image
zero-padded by an eighth of its side, and random brightness and contrast, plus saturation,
hue and AlexNet's PCA lighting noise when the images have three channels (Krizhevsky et
al. 2012, §4.1). ``--multi-scale`` (VGG): scale jittering (Simonyan & Zisserman 2015, §3.1).
"""
from minicnn import data


def augmentation(side, channels=1, colour=True):
    """Resize to ``side``, then flip, crop and (unless ``colour=False``) colour: AlexNet's augmentation."""
    steps = [data.Resize(side), data.RandomHorizontalFlip(), data.RandomCrop(side, padding=max(1, side // 8))]
    if colour:
        jitter = dict(brightness=0.4, contrast=0.4)
        if channels == 3:
            jitter.update(saturation=0.4, hue=0.1)
        steps.append(data.ColorJitter(**jitter))
    if colour and channels == 3:
        steps.append(data.PCALighting())
    return data.Compose(steps)


def multi_scale(side):
    """VGG's scale jittering for ``side``×``side`` crops: shorter side S ~ U{S_min..2·S_min}, S_min = side·256/224."""
    smallest = round(side * 256 / 224)
    return data.ScaleJitter(side, min_side=smallest, max_side=2 * smallest)
