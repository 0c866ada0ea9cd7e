"""Channel scaling shared by the model constructors' ``width`` argument."""


def scaled(channels, width):
    """``channels`` times ``width``, rounded, at least 1 (``width`` < 1 makes the tiny copies the tests check)."""
    return max(1, int(round(channels * width)))
