"""Sphinx configuration of rnnkit's documentation.

Build (from the repository root, offline, warnings as errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The gallery (``../examples/plot_*.py``) is executed on every build, as
scikit-learn's is; ``-D plot_gallery=0`` skips running the examples.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: the build machine has no display
os.environ.setdefault("MPLBACKEND", "Agg")

HERE = Path(__file__).resolve().parent
# document (and run the gallery with) the rnnkit of this working tree, installed or not
sys.path.insert(0, str(HERE.parent))
# local Sphinx helpers (gallery order)
sys.path.insert(0, str(HERE / "sphinxext"))

import rnnkit  # noqa: E402

# -- project -------------------------------------------------------------------------
project = "rnnkit"
author = "rnnkit developers"
copyright = "rnnkit developers"  # noqa: A001 (Sphinx's name)
version = rnnkit.__version__
release = rnnkit.__version__

# -- general -------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
# No sphinx.ext.intersphinx: it downloads inventories, and the docs build offline.

templates_path = ["_templates"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
default_role = "literal"
pygments_style = "sphinx"
language = "en"

# -- autodoc / autosummary -----------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # numpydoc sections carry the types
autodoc_preserve_defaults = True  # show `dtype=np.float64`, not the repr of the class
autodoc_member_order = "bysource"
add_module_names = False

# -- numpydoc ------------------------------------------------------------------------
# Members are listed by our autosummary class template, not by numpydoc: showing them
# in both places documents each method twice (duplicate object warnings).
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False


def _skip_member(app, what, name, obj, skip, options):
    """Leave out private names and scikit-learn's machinery inherited by the estimators.

    ``get_metadata_routing`` and the ``set_{method}_request`` methods (generated
    by scikit-learn for methods with extra arguments) point at scikit-learn's
    own user guide, which this site does not have. ``get_params`` and
    ``set_params`` stay: they are part of every estimator's interface.
    """
    if name.startswith("_"):
        return True
    if name == "get_metadata_routing" or (name.startswith("set_") and name.endswith("_request")):
        return True
    return skip


# -- sphinx-gallery (configured as scikit-learn does) ---------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": "/plot_",
    "doc_module": ("rnnkit",),
    "backreferences_dir": os.path.join("gen_modules", "backreferences"),
    "reference_url": {"rnnkit": None},
    "remove_config_comments": True,
    "abort_on_example_error": True,
    # the five tutorials in their order (T1 .. T5); any other example after them, by name
    "within_subsection_order": "gallery_order.TutorialOrder",
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
    "min_reported_time": 0,
}

# -- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"rnnkit {release}"
html_short_title = "rnnkit"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "navbar_align": "left",
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {
    "install": [],
    "getting_started": [],
    "benchmarks": [],
    "changelog": [],
}


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
