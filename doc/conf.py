"""Sphinx configuration for the sknets documentation.

Build (warnings are errors)::

    pip install -e ".[docs]"
    sphinx-build -W -b html doc doc/_build/html                   # runs the gallery
    sphinx-build -W -b html -D plot_gallery=0 doc doc/_build/html # fast: no example run
"""

import os
import sys
import warnings
from datetime import date

# Import sknets from this checkout even when it is not installed.
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

import sknets  # noqa: E402

# Examples draw with matplotlib; never open a window while the gallery runs.
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")

project = "sknets"
author = "the sknets developers"
copyright = f"{date.today().year}, {author}"
version = release = sknets.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
# No intersphinx: the build must not need the network. References to scikit-learn,
# NumPy and Python objects render as code without links (nitpicky is off).

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip"]
root_doc = "index"
default_role = "literal"

# -- API reference ---------------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
# numpydoc renders the Parameters/Attributes/... sections; the class template lists the
# methods itself, so numpydoc must not add a second, stub-generating member table.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False
# Types such as "ndarray of shape (n_features_in_,)" are cross-referenced token by
# token: English words stay text, every other token becomes an :obj: reference
# (rendered as code, linked when it resolves). A bare "n_features_in_" would otherwise
# be read as a reST hyperlink reference and fail the build.
numpydoc_xref_param_type = True
numpydoc_xref_ignore = {
    "of", "or", "and", "shape", "default", "optional", "the", "a", "an", "in", "to",
    "with", "if", "is", "instance", "not", "for", "per", "each", "any", "type",
}
# numpydoc's default aliases point at the Python and NumPy docs through intersphinx,
# which needs the network at build time; the build must work offline, so the few terms
# that are not plain classes point at this site's glossary instead.
numpydoc_xref_aliases = {
    "estimator": "sklearn.base.BaseEstimator",
    "Generator": "numpy.random.Generator",
    "RandomState": "numpy.random.RandomState",
    "bool": ":class:`bool`",
    "int": ":class:`int`",
    "float": ":class:`float`",
    "str": ":class:`str`",
    "list": ":class:`list`",
    "tuple": ":class:`tuple`",
    "dict": ":class:`dict`",
    "callable": ":func:`callable`",
    "None": ":data:`None`",
    "True": ":data:`True`",
    "False": ":data:`False`",
    "boolean": ":class:`bool`",
    "array-like": ":term:`array-like`",
    "array_like": ":term:`array-like`",
    "iterable": ":term:`iterable`",
    "sequence": ":term:`sequence`",
    "generator": ":term:`generator`",
    "scalar": ":term:`scalar`",
}

# -- Gallery ---------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": os.path.join(ROOT, "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "doc_module": ("sknets",),
    "backreferences_dir": "gen_modules/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 0,
    "capture_repr": ("_repr_html_", "__repr__"),
    "matplotlib_animations": False,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}

# -- HTML ------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sknets {version}"
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_static_path = []
html_show_sourcelink = False


# -- Docstring hygiene ----------------------------------------------------------------
# In a numpydoc entry such as ``feature_names_in_ : ndarray of shape (n_features_in_,)``
# the bare ``n_features_in_`` in the *type* is a reST hyperlink reference ("Unknown
# target name" under -W). scikit-learn writes such names in backticks; we quote them
# here for any docstring that does not, before numpydoc parses it.
import re  # noqa: E402

_ENTRY = re.compile(r"^(\s*[\w*][\w*, ]* : )(.*)$")
_BARE_ATTR = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?![`\w])")


def _quote_trailing_underscores(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        match = _ENTRY.match(line)
        if match:
            lines[i] = match.group(1) + _BARE_ATTR.sub(r"`\1`", match.group(2))


def setup(app):
    app.connect("autodoc-process-docstring", _quote_trailing_underscores, priority=100)
