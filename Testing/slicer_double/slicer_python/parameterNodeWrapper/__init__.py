"""`slicer.parameterNodeWrapper` of the test double: typed access to a vtkMRMLScriptedModuleNode and GUI
binding, written after Slicer's Base/Python/slicer/parameterNodeWrapper/ (same storage, defaults, refusals and
exception types). Exports a subset of Slicer's names: parameterPack, FloatRange, the GUI creators, Label,
QColorSerializer and AnySerializer are not here (annotating with qt.QColor or typing.Any raises)."""
from .containers import *
from .gui import *
from .serializers import *
from .union import *
from .util import findFirstAnnotation, getNodeTypes, isNodeOrUnionOfNodes, splitAnnotations, unannotatedType
from .validators import *
from .wrapper import *
