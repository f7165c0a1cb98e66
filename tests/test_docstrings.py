"""Every public estimator and function has a complete numpydoc docstring.

The Examples sections themselves run as doctests (pytest is configured with
``--doctest-modules`` over ``sknets/``); here we check that the sections exist, that
the Examples contain doctest lines, that every documented parameter exists (and every
constructor parameter is documented), and that the API reference lists every public
name. The code blocks of the documentation pages that are written as doctests run here
too.
"""

import doctest
import inspect
import re
from pathlib import Path

import pytest

import sknets

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "doc"

REQUIRED_CLASS_SECTIONS = (
    "Parameters", "Attributes", "See Also", "References", "Examples")
REQUIRED_FUNCTION_SECTIONS = (
    "Parameters", "Returns", "See Also", "References", "Examples")


def _public_objects():
    """(qualified name, object) for every public class and function of sknets."""
    found = {}
    modules = [sknets]
    try:
        import sknets.cluster as cluster_module

        modules.append(cluster_module)
    except ImportError:  # the cluster subpackage is not merged yet
        pass
    for module in modules:
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found.setdefault(obj, f"{module.__name__}.{name}")
    return sorted(((qual, obj) for obj, qual in found.items()), key=lambda t: t[0])


PUBLIC = _public_objects()


def _sections(docstring):
    """Map numpydoc section title -> section text (underlined with dashes)."""
    text = inspect.cleandoc(docstring or "")
    lines = text.splitlines()
    starts = [
        i for i in range(len(lines) - 1)
        if lines[i].strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip())
        and len(lines[i + 1].strip()) >= len(lines[i].strip())
    ]
    sections = {}
    for k, i in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        sections[lines[i].strip()] = "\n".join(lines[i + 2:end])
    return sections


def _documented_names(section_text):
    """Names of the entries ``name : type`` of a Parameters/Attributes section."""
    names = []
    for line in section_text.splitlines():
        if line and not line[0].isspace():
            head = line.split(":")[0].strip()
            names.extend(part.strip().lstrip("*") for part in head.split(","))
    return [n for n in names if n]


def test_section_parser_finds_sections():
    doc = """Summary.

    Parameters
    ----------
    a : int
        First.
    b, c : float
        Others.

    Examples
    --------
    >>> 1 + 1
    2
    """
    sections = _sections(doc)
    assert list(sections) == ["Parameters", "Examples"]
    assert _documented_names(sections["Parameters"]) == ["a", "b", "c"]
    assert ">>> 1 + 1" in sections["Examples"]


def test_public_api_is_not_empty():
    # Once estimators are merged the public namespace lists them; an empty __all__
    # would make every test below vacuous.
    assert len(sknets.__all__) > 0
    assert PUBLIC, "no public class or function found in sknets.__all__"


@pytest.mark.parametrize("qualname, obj", PUBLIC, ids=[q for q, _ in PUBLIC])
def test_numpydoc_sections(qualname, obj):
    sections = _sections(obj.__doc__)
    required = (REQUIRED_CLASS_SECTIONS if inspect.isclass(obj)
                else REQUIRED_FUNCTION_SECTIONS)
    missing = [s for s in required if not sections.get(s, "").strip()]
    assert not missing, f"{qualname}: docstring lacks numpydoc sections {missing}"
    assert ">>>" in sections["Examples"], f"{qualname}: Examples has no doctest"


@pytest.mark.parametrize("qualname, obj", PUBLIC, ids=[q for q, _ in PUBLIC])
def test_parameters_match_signature(qualname, obj):
    func = obj.__init__ if inspect.isclass(obj) else obj
    signature = inspect.signature(func)
    expected = [
        p.name for p in signature.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    documented = _documented_names(_sections(obj.__doc__).get("Parameters", ""))
    undocumented = [p for p in expected if p not in documented]
    unknown = [p for p in documented if p not in expected]
    assert not undocumented, f"{qualname}: parameters not documented: {undocumented}"
    assert not unknown, f"{qualname}: documented parameters not in signature: {unknown}"


@pytest.mark.parametrize("qualname, obj", PUBLIC, ids=[q for q, _ in PUBLIC])
def test_public_methods_have_docstrings(qualname, obj):
    if not inspect.isclass(obj):
        pytest.skip("functions have no methods")
    undocumented = [
        name for name, member in vars(obj).items()
        if not name.startswith("_") and callable(member)
        and not (member.__doc__ or "").strip()
    ]
    assert not undocumented, (
        f"{qualname}: public methods without docstring {undocumented}")


def test_api_reference_lists_every_public_name():
    api = (DOC / "api.rst").read_text()
    listed = set(re.findall(r"^\s{3}(\w+)\s*$", api, flags=re.M))
    missing = [qual for qual, _ in PUBLIC if qual.rsplit(".", 1)[1] not in listed]
    assert not missing, f"doc/api.rst does not list {missing}"


def test_user_guide_has_a_page_per_estimator():
    titled = set()
    for page in (DOC / "user_guide").glob("*.rst"):
        # a title ends with the estimators it covers: "... (``A``)" or "(``A``, ``B``)"
        for names in re.findall(r"^[^\n]*\(((?:``\w+``(?:, )?)+)\)\s*$",
                                page.read_text(), flags=re.M):
            titled.update(re.findall(r"``(\w+)``", names))
    missing = [qual for qual, obj in PUBLIC
               if inspect.isclass(obj) and qual.rsplit(".", 1)[1] not in titled]
    assert not missing, f"no user-guide page for {missing}"


@pytest.mark.parametrize("page", ["getting_started.rst"])
def test_doc_page_doctests_run(page):
    """The doctest code of a documentation page runs and gives what the page shows."""
    result = doctest.testfile(
        str(DOC / page), module_relative=False, verbose=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} doctest(s) of doc/{page} failed"
