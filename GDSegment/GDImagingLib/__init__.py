"""Slicer glue shared by the GDSegment and GDRegister modules (no Qt): nodes <-> gdbackend files
and objects, background jobs, loss charts, dependency checks.

Shipped by GDSegment's CMakeLists; both modules install into the same qt-scripted-modules
folder, so GDRegister imports it too.
"""
