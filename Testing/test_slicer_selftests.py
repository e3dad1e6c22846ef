"""The modules' in-Slicer self-tests (GDRegisterTest, GDSegmentTest), run the two ways Slicer runs them:
ctest-style (unittest: each test_* after setUp) and Reload-and-Test (runTest), on the Slicer double with
offline stand-ins for SampleData (slicer_double/sampledata.py)."""
from __future__ import annotations

import unittest

import pytest

from slicer_double import load


@pytest.mark.slow
@pytest.mark.parametrize("name", ["GDRegister", "GDSegment"])
def test_self_tests_pass_under_unittest_like_ctest(name):
    module = load(name)
    suite = unittest.TestLoader().loadTestsFromTestCase(getattr(module, f"{name}Test"))
    assert suite.countTestCases() >= 1
    result = unittest.TextTestRunner(verbosity=0).run(suite)
    assert result.wasSuccessful(), result.failures + result.errors


def test_reload_and_test_runs_every_test_method():
    module = load("GDRegister")
    test = module.GDRegisterTest()
    ran = []
    for method in [m for m in dir(test) if m.startswith("test_")]:
        setattr(test, method, lambda m=method: ran.append(m))
    test.runTest()
    assert sorted(ran) == sorted(m for m in dir(module.GDRegisterTest) if m.startswith("test_"))
