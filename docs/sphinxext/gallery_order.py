"""Order of the gallery: the five tutorials as ``shared/TUTORIALS.md`` numbers them.

sphinx-gallery imports this class by its qualified name (``within_subsection_order``
in ``conf.py``), so the configuration stays picklable.
"""

#: Example files of tutorials T1 .. T5, in that order.
TUTORIAL_FILES = (
    "plot_echo.py",
    "plot_binary_subtraction.py",
    "plot_digits_variants.py",
    "plot_sine.py",
    "plot_rule_stream.py",
)


class TutorialOrder:
    """Sort key: the tutorials first, in their order; any other example after them, by name.

    Parameters
    ----------
    src_dir : str
        The gallery folder being sorted (unused).
    """

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        try:
            return (TUTORIAL_FILES.index(filename), filename)
        except ValueError:
            return (len(TUTORIAL_FILES), filename)

    def __repr__(self):
        return f"<{type(self).__name__}>"
