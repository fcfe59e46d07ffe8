"""The four pixel classes: ids, names and colours (the one source of truth)."""

BACKGROUND = 0
GLOWING = 1
HOT_PIXEL = 2
CLUSTER = 3

#: Class ids in order; index == id.
CLASS_IDS = (BACKGROUND, GLOWING, HOT_PIXEL, CLUSTER)
#: Human-readable names, indexed by class id.
CLASS_NAMES = ("background", "glowing", "hot pixel", "cluster")
#: Short upper-case names for FITS keywords and table columns.
CLASS_KEYS = ("BACKGROUND", "GLOWING", "HOTPIXEL", "CLUSTER")
#: RGB colours of the thesis (background black, glowing green, hot pixel blue, cluster red).
CLASS_COLOURS = (
    (0.0, 0.0, 0.0),
    (0.35, 1.0, 0.25),
    (0.0, 0.5, 1.0),
    (1.0, 0.2, 0.2),
)
N_CLASSES = len(CLASS_IDS)

#: Where components overlap, the label is the highest priority present
#: (hot pixel > cluster > glowing > background).
PRIORITY = (HOT_PIXEL, CLUSTER, GLOWING, BACKGROUND)
