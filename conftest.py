"""pytest set-up for the whole repository.

The full suite runs on two xdist workers (the CI machine has two cores), but a run
that names what to test (``pytest tests/test_nn.py::test_dense``) runs in-process,
without starting workers. An explicit ``-n``/``-p no:xdist`` always wins.
"""

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    if not config.pluginmanager.hasplugin("xdist"):
        return
    if hasattr(config, "workerinput"):              # an xdist worker: never start more
        return
    if config.option.numprocesses is not None:     # -n given on the command line
        return
    if config.args and config.args != list(config.getini("testpaths")) and \
            config.args != [str(config.rootpath)]:
        return                                      # a selection: stay in-process
    config.option.numprocesses = 2
    config.option.dist = "load"
