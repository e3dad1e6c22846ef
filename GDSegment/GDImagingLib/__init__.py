"""Slicer glue shared by the GDSegment and GDRegister modules: nodes <-> gdbackend files and objects,
background jobs (one at a time per panel section, or a batch over volumes), loss charts, dependency checks,
model choice and download, results shown in the views, settings kept across sessions. The modules whose
names say so are Qt-free (modelchoice: plain values; views, nodes, results: MRML only).

Shipped by GDSegment's CMakeLists; both modules install into the same qt-scripted-modules
folder, so GDRegister imports it too.
"""
