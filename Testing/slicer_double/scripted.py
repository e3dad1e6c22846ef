"""`slicer.ScriptedLoadableModule`, `slicer.parameterNodeWrapper` and `slicer.i18n` of the double.

The parameter node wrapper stores values exactly as Slicer's does (strings in a
vtkMRMLScriptedModuleNode, bools as "True"/"False", nodes as references named after the field).
"""
from __future__ import annotations

import os
import pathlib
import sys
import types
import typing
import unittest

from .mrml_core import vtkMRMLNode


# ------------------------------------------------------------------ slicer.i18n
def tr(text):
    return text


def translate(context, text):
    return text


# ------------------------------------------------------------------ slicer.ScriptedLoadableModule
def _resource(obj, filename: str) -> str:
    return os.path.join(os.path.dirname(sys.modules[type(obj).__module__].__file__), "Resources", filename)


class ScriptedLoadableModule:
    def __init__(self, parent) -> None:
        import slicer
        self.parent = parent
        self.moduleName = type(self).__name__
        parent.title = self.moduleName
        parent.categories = ["Examples"]
        parent.dependencies = []
        parent.contributors = ["Andras Lasso (PerkLab, Queen's University), Steve Pieper (Isomics)"]
        parent.helpText = ""
        parent.acknowledgementText = ""
        slicer.selfTests[self.moduleName] = self.runTest

    def resourcePath(self, filename):
        return _resource(self, filename)

    def runTest(self, msec=100, **kwargs):
        module = sys.modules[type(self).__module__]
        test = getattr(module, self.moduleName + "Test")()
        test.runTest(**kwargs)


class ScriptedLoadableModuleWidget:
    def __init__(self, parent=None) -> None:
        self.parent = parent
        self.moduleName = type(self).__name__[: -len("Widget")]

    def resourcePath(self, filename):
        return _resource(self, filename)


class ScriptedLoadableModuleLogic:
    def __init__(self, parent=None) -> None:
        self.moduleName = type(self).__name__[: -len("Logic")]
        self.isSingletonParameterNode = True

    def getParameterNode(self):
        import slicer
        scene = slicer.mrmlScene
        for i in range(scene.GetNumberOfNodesByClass("vtkMRMLScriptedModuleNode")):
            node = scene.GetNthNodeByClass(i, "vtkMRMLScriptedModuleNode")
            if node.GetAttribute("ModuleName") == self.moduleName:
                return node
        return scene.AddNode(self.createParameterNode())

    def createParameterNode(self):
        import slicer
        node = slicer.mrmlScene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
        node.SetName(slicer.mrmlScene.GenerateUniqueName(self.moduleName))
        node.SetAttribute("ModuleName", self.moduleName)
        if self.isSingletonParameterNode:
            node.SetSingletonTag(self.moduleName)
        return node


class ScriptedLoadableModuleTest(unittest.TestCase):
    def delayDisplay(self, message, requestedDelay=None, msec=None):
        import slicer
        slicer.util.delayDisplay(message)

    def setUp(self):
        import slicer
        slicer.mrmlScene.Clear(0)

    def runTest(self):
        for name in dir(self):
            if "test" in name and name != "runTest" and callable(getattr(self, name)):
                self.setUp()
                getattr(self, name)()


# ------------------------------------------------------------------ slicer.parameterNodeWrapper
class Default:
    def __init__(self, value=None, generator=None) -> None:
        self.value, self.generator = value, generator


class Validator:
    def validate(self, value) -> None:
        raise NotImplementedError


class WithinRange(Validator):
    def __init__(self, minimum, maximum) -> None:
        self.minimum, self.maximum = minimum, maximum

    def validate(self, value) -> None:
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"Value must be within range [{self.minimum}, {self.maximum}], is {value}")


class Minimum(Validator):
    def __init__(self, minimum) -> None:
        self.minimum = minimum

    def validate(self, value) -> None:
        if value < self.minimum:
            raise ValueError(f"Value must be at least {self.minimum}, is {value}")


class Choice(Validator):
    def __init__(self, choices) -> None:
        self.choices = tuple(choices)

    def validate(self, value) -> None:
        if value not in self.choices:
            raise ValueError(f"Value must be within {self.choices}, is {value}")


def splitAnnotations(annotation):
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        return base, list(extras)
    return annotation, []


def unannotatedType(annotation):
    return splitAnnotations(annotation)[0]


def _node_classes(datatype) -> tuple:
    """The MRML classes a node field accepts (a class, or a Union / Optional of them); () for other types."""
    args = [a for a in typing.get_args(datatype) if a is not type(None)] or [datatype]
    return tuple(a for a in args if isinstance(a, type) and issubclass(a, vtkMRMLNode))


class _Parameter:
    def __init__(self, name: str, annotation) -> None:
        self.name = name
        self.datatype, extras = splitAnnotations(annotation)
        self.validators = [e for e in extras if isinstance(e, Validator)]
        self.default = next((e for e in extras if isinstance(e, Default)), None)
        self.node_classes = _node_classes(self.datatype)

    def default_value(self, given):
        if given is not _MISSING:
            return given
        if self.default is not None:
            return self.default.generator() if self.default.generator else self.default.value
        if self.node_classes:
            return None
        return {int: 0, float: 0.0, str: "", bool: False, pathlib.Path: pathlib.Path()}[self.datatype]

    def write(self, node, value) -> None:
        if self.node_classes:
            if value is not None and not any(value.IsA(c.__name__) for c in self.node_classes):
                raise ValueError(f"{self.name} must be one of {[c.__name__ for c in self.node_classes]}, "
                                 f"got {value.GetClassName()}")
            node.SetParameter(self.name, "")
            node.SetNodeReferenceID(self.name, value.GetID() if value is not None else None)
            return
        for validator in self.validators:
            validator.validate(value)
        node.SetParameter(self.name, str(value))

    def read(self, node):
        if self.node_classes:
            return node.GetNodeReference(self.name)
        text = node.GetParameter(self.name)
        if self.datatype is bool:
            return text == "True"
        return self.datatype(text)


_MISSING = object()


def parameterNodeWrapper(classtype):
    """Typed properties over a vtkMRMLScriptedModuleNode, defaults written on wrap."""
    params = {name: _Parameter(name, annotation)
              for name, annotation in typing.get_type_hints(classtype, include_extras=True).items()}
    defaults = {name: classtype.__dict__.get(name, _MISSING) for name in params}

    def __init__(self, parameterNode, prefix=None) -> None:
        self.parameterNode = parameterNode
        for name, param in params.items():
            if not parameterNode.HasParameter(name):
                param.write(parameterNode, param.default_value(defaults[name]))

    members = {
        "__init__": __init__,
        "allParameters": params,
        "default": lambda self, name: params[name].default_value(defaults[name]),
        "getValue": lambda self, name: getattr(self, name),
        "setValue": lambda self, name, value: setattr(self, name, value),
        "StartModify": lambda self: self.parameterNode.StartModify(),
        "EndModify": lambda self, wasModified: self.parameterNode.EndModify(wasModified),
        "AddObserver": lambda self, event, callback, priority=0.0:
            self.parameterNode.AddObserver(event, callback, priority),
        "RemoveObserver": lambda self, tag: self.parameterNode.RemoveObserver(tag),
        "Modified": lambda self: self.parameterNode.Modified(),
    }
    for name, param in params.items():
        members[name] = property(lambda self, p=param: p.read(self.parameterNode),
                                 lambda self, value, p=param: p.write(self.parameterNode, value))
    return type(classtype.__name__, (), {**{k: v for k, v in vars(classtype).items() if k not in params}, **members})


def findFirstAnnotation(annotations, type_):
    return next((a for a in annotations if isinstance(a, type_)), None)


def _module(name: str, **members) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(members)
    return module


def modules() -> dict[str, types.ModuleType]:
    """The Python modules this file provides, by their Slicer names."""
    return {
        "slicer.i18n": _module("slicer.i18n", tr=tr, translate=translate),
        "slicer.ScriptedLoadableModule": _module(
            "slicer.ScriptedLoadableModule", ScriptedLoadableModule=ScriptedLoadableModule,
            ScriptedLoadableModuleWidget=ScriptedLoadableModuleWidget,
            ScriptedLoadableModuleLogic=ScriptedLoadableModuleLogic,
            ScriptedLoadableModuleTest=ScriptedLoadableModuleTest),
        "slicer.parameterNodeWrapper": _module(
            "slicer.parameterNodeWrapper", parameterNodeWrapper=parameterNodeWrapper, Default=Default,
            Validator=Validator, WithinRange=WithinRange, Minimum=Minimum, Choice=Choice,
            splitAnnotations=splitAnnotations, unannotatedType=unannotatedType,
            findFirstAnnotation=findFirstAnnotation),
    }

