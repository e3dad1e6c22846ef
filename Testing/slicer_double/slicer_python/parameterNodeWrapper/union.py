"""Union / Optional / X | Y parameters, stored as Slicer's parameterNodeWrapper/serializers.py stores them:
the value goes to the first member type that takes it, under `name.<index of that member>`."""
from __future__ import annotations

import types
import typing

import slicer

from .serializers import (
    Serializer,
    ValidatedSerializer,
    _SingleParameterSerializer,
    createSerializerFromAnnotatedType,
    parameterNodeSerializer,
)
from .validators import IsNone

__all__ = ["UnionSerializer"]


@parameterNodeSerializer
class NoneSerializer(_SingleParameterSerializer):
    """The None member of a Union: a parameter "True" marks it. Not in __all__, as in Slicer."""

    @staticmethod
    def canSerialize(type_) -> bool:
        return isinstance(type_, type) and isinstance(None, type_)

    @staticmethod
    def create(type_):
        if not NoneSerializer.canSerialize(type_):
            return None
        return ValidatedSerializer(NoneSerializer(), [IsNone()])

    def default(self):
        return {}  # Slicer's value: it only matters for a Union whose first member is None

    def write(self, parameterNode, name: str, value) -> None:
        parameterNode.SetParameter(name, "True")

    def read(self, parameterNode, name: str):
        return None


@parameterNodeSerializer
class UnionSerializer(Serializer):
    """Union / Optional / X | Y: the value is stored by the first member serializer that takes its type and
    validates it, under `name.<index of that member>`. A value no member takes (None when None is not a
    member) raises TypeError."""

    @staticmethod
    def canSerialize(type_) -> bool:
        return typing.get_origin(type_) is typing.Union or isinstance(type_, types.UnionType)

    @staticmethod
    def create(type_):
        if not UnionSerializer.canSerialize(type_):
            return None
        return UnionSerializer([createSerializerFromAnnotatedType(arg) for arg in typing.get_args(type_)])

    def __init__(self, serializers: list) -> None:
        self._serializers = [ValidatedSerializer(s, []) for s in serializers]

    def default(self):
        # Optional[X] (exactly two members, the second None) defaults to None; otherwise the first member's
        if len(self._serializers) == 2 and isinstance(self._serializers[1].serializer, NoneSerializer):
            return None
        return self._serializers[0].default()

    @staticmethod
    def _paramName(name: str, index: int) -> str:
        return f"{name}.{index}"

    def isIn(self, parameterNode, name: str) -> bool:
        return any(s.isIn(parameterNode, self._paramName(name, i)) for i, s in enumerate(self._serializers))

    def _findBestSerializer(self, value) -> tuple[int, ValidatedSerializer]:
        raised = None
        for index, serializer in enumerate(self._serializers):
            if serializer.serializer.canSerialize(type(value)):
                try:
                    serializer.validate(value)
                    return index, serializer
                except Exception as e:  # e.g. the other node class of a Union of nodes
                    raised = e
        if raised is not None:
            raise raised
        raise TypeError(f"Unable to write value '{value}' of type '{type(value)}'")

    def write(self, parameterNode, name: str, value) -> None:
        with slicer.util.NodeModify(parameterNode):
            index, serializer = self._findBestSerializer(value)
            wasIn = self.isIn(parameterNode, name)
            oldValue = self.read(parameterNode, name) if wasIn else None
            try:
                self.remove(parameterNode, name)
                serializer.write(parameterNode, self._paramName(name, index), value)
            except Exception:
                if wasIn:
                    self.write(parameterNode, name, oldValue)
                else:
                    self.remove(parameterNode, name)
                raise

    def read(self, parameterNode, name: str):
        for index, serializer in enumerate(self._serializers):
            if serializer.isIn(parameterNode, self._paramName(name, index)):
                return serializer.read(parameterNode, self._paramName(name, index))
        raise KeyError(f"Unable to find value for name: {name}")

    def remove(self, parameterNode, name: str) -> None:
        with slicer.util.NodeModify(parameterNode):
            for index, serializer in enumerate(self._serializers):
                serializer.remove(parameterNode, self._paramName(name, index))

    def supportsCaching(self) -> bool:
        return all(s.supportsCaching() for s in self._serializers)
