"""Serializers: how each parameter type is stored in a vtkMRMLScriptedModuleNode, as Slicer's
parameterNodeWrapper/serializers.py stores it (same parameter names, strings and node references, same
default validators, same refusals). Unions are in union.py, containers in containers.py."""
from __future__ import annotations

import abc
import enum
import logging
import pathlib
import typing

import slicer

from .util import splitAnnotations
from .validators import IsInstance, NotNone, extractValidators

__all__ = ["parameterNodeSerializer", "Serializer", "ValidatedSerializer", "NumberSerializer", "StringSerializer",
           "PathSerializer", "BoolSerializer", "NodeSerializer"]

PATH_TYPES = (pathlib.Path, pathlib.PosixPath, pathlib.WindowsPath,
              pathlib.PurePath, pathlib.PurePosixPath, pathlib.PureWindowsPath)


class Serializer(abc.ABC):
    """Reads and writes one type under a parameter name; `create` returns None for types it does not take."""

    @staticmethod
    @abc.abstractmethod
    def canSerialize(type_) -> bool: ...

    @staticmethod
    @abc.abstractmethod
    def create(type_): ...

    @abc.abstractmethod
    def default(self): ...

    @abc.abstractmethod
    def isIn(self, parameterNode, name: str) -> bool: ...

    @abc.abstractmethod
    def write(self, parameterNode, name: str, value) -> None: ...

    @abc.abstractmethod
    def read(self, parameterNode, name: str): ...

    @abc.abstractmethod
    def remove(self, parameterNode, name: str) -> None: ...

    def supportsCaching(self) -> bool:
        """Whether a wrapper may keep the value read (true for values that cannot change behind its back)."""
        return False


class ValidatedSerializer(Serializer):
    """Runs validators before writing; nesting flattens, the inner (type) validators first."""

    @staticmethod
    def canSerialize(type_) -> bool:
        return False

    @staticmethod
    def create(type_):
        raise Exception("ValidatedSerializer does not support create!")

    def __init__(self, serializer: Serializer, validators: list) -> None:
        if isinstance(serializer, ValidatedSerializer):
            self.serializer, self.validators = serializer.serializer, serializer.validators + (validators or [])
        else:
            self.serializer, self.validators = serializer, validators

    def default(self):
        return self.serializer.default()

    def validate(self, value) -> None:
        for validator in self.validators:
            validator.validate(value)

    def isIn(self, parameterNode, name: str) -> bool:
        return self.serializer.isIn(parameterNode, name)

    def write(self, parameterNode, name: str, value) -> None:
        self.validate(value)
        self.serializer.write(parameterNode, name, value)

    def read(self, parameterNode, name: str):
        return self.serializer.read(parameterNode, name)

    def remove(self, parameterNode, name: str) -> None:
        self.serializer.remove(parameterNode, name)

    def supportsCaching(self) -> bool:
        return self.serializer.supportsCaching()


_registeredSerializers: list[type[Serializer]] = []


def parameterNodeSerializer(classtype=None):
    """Class decorator (with or without parentheses) registering a Serializer; first registered, first asked."""
    def wrap(cls):
        if not issubclass(cls, Serializer):
            raise Exception("Must be a serializer type.")
        _registeredSerializers.append(cls)
        return cls
    return wrap if classtype is None else wrap(classtype)


def _extractSerializer(annotations) -> tuple:
    def isSerializer(a) -> bool:
        return isinstance(a, Serializer) or (isinstance(a, type) and issubclass(a, Serializer))
    found = [a for a in annotations if isSerializer(a)]
    if len(found) > 1:
        raise Exception("Multiple serializers found")
    return (found[0] if found else None), [a for a in annotations if not isSerializer(a)]


def _makeAppropriateSerializer(type_) -> Serializer:
    for factory in _registeredSerializers:
        if factory.canSerialize(type_):
            return factory.create(type_)
    raise Exception(f"Unable to create serializer for type: {type_}")


def createSerializer(type_, annotations) -> tuple[ValidatedSerializer, list]:
    """(serializer with the annotated validators, annotations left over); a Serializer annotation wins."""
    validators, annotations = extractValidators(annotations)
    serializer, annotations = _extractSerializer(annotations)
    return ValidatedSerializer(serializer or _makeAppropriateSerializer(type_), validators), annotations


def createSerializerFromAnnotatedType(annotatedType) -> ValidatedSerializer:
    serializer, annotations = createSerializer(*splitAnnotations(annotatedType))
    if annotations:
        logging.warning(f"Unused annotations: {annotations}")
    return serializer


class _SingleParameterSerializer(Serializer):
    """A value stored as one string parameter (numbers, strings, paths, bools, enums)."""

    def isIn(self, parameterNode, name: str) -> bool:
        return parameterNode.HasParameter(name)

    def remove(self, parameterNode, name: str) -> None:
        parameterNode.UnsetParameter(name)

    def supportsCaching(self) -> bool:
        return True


@parameterNodeSerializer
class NumberSerializer(_SingleParameterSerializer):
    """int and float as str(value); a float field also takes an int. The default is 0 (an int) for both."""

    @staticmethod
    def canSerialize(type_) -> bool:
        return type_ in (int, float)

    @staticmethod
    def create(type_):
        if not NumberSerializer.canSerialize(type_):
            return None
        accepted = (int, float) if type_ is float else int
        return ValidatedSerializer(NumberSerializer(type_), [NotNone(), IsInstance(accepted)])

    def __init__(self, type_) -> None:
        self.type = type_

    def default(self):
        return 0

    def write(self, parameterNode, name: str, value) -> None:
        parameterNode.SetParameter(name, str(value))

    def read(self, parameterNode, name: str):
        return self.type(parameterNode.GetParameter(name))


@parameterNodeSerializer
class StringSerializer(_SingleParameterSerializer):
    @staticmethod
    def canSerialize(type_) -> bool:
        return type_ is str

    @staticmethod
    def create(type_):
        if not StringSerializer.canSerialize(type_):
            return None
        return ValidatedSerializer(StringSerializer(), [NotNone(), IsInstance(type_)])

    def default(self):
        return ""

    def write(self, parameterNode, name: str, value) -> None:
        parameterNode.SetParameter(name, str(value))

    def read(self, parameterNode, name: str):
        return parameterNode.GetParameter(name)


@parameterNodeSerializer
class PathSerializer(_SingleParameterSerializer):
    """pathlib types as str(path); the default is the empty path of the type (stored ".")."""

    @staticmethod
    def canSerialize(type_) -> bool:
        return type_ in PATH_TYPES

    @staticmethod
    def create(type_):
        if not PathSerializer.canSerialize(type_):
            return None
        return ValidatedSerializer(PathSerializer(type_), [NotNone(), IsInstance(type_)])

    def __init__(self, pathtype) -> None:
        self.type = pathtype

    def default(self):
        return self.type()

    def write(self, parameterNode, name: str, value) -> None:
        parameterNode.SetParameter(name, str(value))

    def read(self, parameterNode, name: str):
        return self.type(parameterNode.GetParameter(name))


@parameterNodeSerializer
class BoolSerializer(_SingleParameterSerializer):
    """"True" / "False"."""

    @staticmethod
    def canSerialize(type_) -> bool:
        return type_ is bool

    @staticmethod
    def create(type_):
        if not BoolSerializer.canSerialize(type_):
            return None
        return ValidatedSerializer(BoolSerializer(), [NotNone(), IsInstance(type_)])

    def default(self):
        return False

    def write(self, parameterNode, name: str, value) -> None:
        parameterNode.SetParameter(name, "True" if value else "False")

    def read(self, parameterNode, name: str) -> bool:
        return parameterNode.GetParameter(name) == "True"


@parameterNodeSerializer
class NodeSerializer(Serializer):
    """A node as the reference role `name`, plus an empty parameter `name` that marks it present (None is a
    value). Only IsInstance guards it, which lets None through: a bare node class field accepts None."""

    @staticmethod
    def canSerialize(type_) -> bool:
        return isinstance(type_, type) and issubclass(type_, slicer.vtkMRMLNode)

    @staticmethod
    def create(type_):
        if not NodeSerializer.canSerialize(type_):
            return None
        return ValidatedSerializer(NodeSerializer(), [IsInstance(type_)])

    def default(self):
        return None

    def isIn(self, parameterNode, name: str) -> bool:
        return parameterNode.HasParameter(name)

    def write(self, parameterNode, name: str, value) -> None:
        parameterNode.SetParameter(name, "")
        parameterNode.SetNodeReferenceID(name, value.GetID() if value is not None else None)

    def read(self, parameterNode, name: str):
        return parameterNode.GetNodeReference(name)

    def remove(self, parameterNode, name: str) -> None:
        parameterNode.UnsetParameter(name)
        parameterNode.RemoveNodeReferenceIDs(name)

    def supportsCaching(self) -> bool:
        return True


@parameterNodeSerializer
class EnumSerializer(_SingleParameterSerializer):
    """An Enum member by name; the default is the first member. Not in __all__, as in Slicer."""

    @staticmethod
    def canSerialize(type_) -> bool:
        return isinstance(type_, type) and issubclass(type_, enum.Enum)

    @staticmethod
    def create(type_):
        if not EnumSerializer.canSerialize(type_):
            return None
        return ValidatedSerializer(EnumSerializer(type_), [IsInstance(type_)])

    def __init__(self, enumType) -> None:
        if len(enumType) == 0:
            raise ValueError("Cannot serialize empty Enum.")
        self.enum = enumType

    def default(self):
        return next(iter(self.enum))

    def write(self, parameterNode, name: str, value) -> None:
        parameterNode.SetParameter(name, value.name)

    def read(self, parameterNode, name: str):
        key = parameterNode.GetParameter(name)
        try:
            return self.enum[key]
        except KeyError as e:
            raise ValueError(f"Found {key!r} in parameter node but it is not a name in {self.enum!r}") from e


@parameterNodeSerializer
class _NotInDouble(Serializer):
    """qt.QColor and typing.Any, which Slicer serializes (QColorSerializer, AnySerializer) and this double
    does not: refused with NotImplementedError rather than stored in some other way."""

    @staticmethod
    def canSerialize(type_) -> bool:
        from PySide6.QtGui import QColor
        return type_ is typing.Any or type_ is QColor

    @staticmethod
    def create(type_):
        raise NotImplementedError(f"Slicer serializes {type_}; the test double does not")
