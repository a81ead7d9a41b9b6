"""The window sizes the browser tests open pages at, shared by the conftest and the test modules."""

VIEWPORT = {"width": 1600, "height": 900}  # all five columns side by side
WIDE = {"width": 1400, "height": 900}  # a laptop: seven stages must fit, Won and Lost folded
TABLET = {"width": 768, "height": 1024}
PHONE = {"width": 390, "height": 844}
