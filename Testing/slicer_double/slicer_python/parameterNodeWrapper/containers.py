"""list, tuple and dict parameters, stored as Slicer's parameterNodeWrapper/serializers.py stores them:
a list as `name.len` plus one entry per element `name.<i>`, a tuple as `name.<i>`, a dict as a list of
(key, value) tuples. Lists and dicts read back as observed containers that write themselves back when
changed in place."""
from __future__ import annotations

import collections.abc
import logging
import typing

import slicer

from .serializers import NumberSerializer, Serializer, createSerializerFromAnnotatedType, parameterNodeSerializer

__all__ = ["ListSerializer", "TupleSerializer", "DictSerializer"]


class ObservedList(collections.abc.MutableSequence):
    """A list that writes itself to the parameter node on every change; + and * are refused (their result
    would not be observed), += and *= work."""

    def __init__(self, parameterNode, serializer: ListSerializer, name: str, values: list) -> None:
        self._parameterNode, self._serializer, self._name, self._list = parameterNode, serializer, name, values

    def _save(self) -> None:
        try:
            self._serializer.write(self._parameterNode, self._name, self._list)
        finally:  # elements come back observed too (a list appended to a list of lists)
            self._list = self._serializer.read(self._parameterNode, self._name)._list

    def __repr__(self) -> str:
        return f"ObservedList({self._list})"

    def __eq__(self, other) -> bool:
        return self._list == (other._list if isinstance(other, ObservedList) else other)

    def __len__(self) -> int:
        return len(self._list)

    def __getitem__(self, index):
        return self._list[index]

    def __setitem__(self, index, item) -> None:
        self._list[index] = item
        self._save()

    def __delitem__(self, index) -> None:
        del self._list[index]
        self._save()

    def insert(self, index, item) -> None:
        self._list.insert(index, item)
        self._save()

    def __iadd__(self, other):
        self._list += other
        self._save()
        return self

    def __imul__(self, other):
        self._list *= other
        self._save()
        return self

    def __add__(self, other):
        raise NotImplementedError("Adding an ObservedList is not supported. However, += is supported.")

    __radd__ = __add__

    def __mul__(self, other):
        raise NotImplementedError("Multiplying an ObservedList is not supported. However, *= is supported.")

    __rmul__ = __mul__

    def sort(self, *args, **kwargs) -> None:
        self._list.sort(*args, **kwargs)
        self._save()


class ObservedDict(collections.abc.MutableMapping):
    """A dict that writes itself to the parameter node on every change."""

    def __init__(self, parameterNode, serializer: DictSerializer, name: str, values: dict) -> None:
        self._parameterNode, self._serializer, self._name, self._dict = parameterNode, serializer, name, values

    def _save(self) -> None:
        try:
            self._serializer.write(self._parameterNode, self._name, self._dict)
        finally:
            self._dict = self._serializer.read(self._parameterNode, self._name)._dict

    def __repr__(self) -> str:
        return f"ObservedDict({self._dict})"

    def __eq__(self, other) -> bool:
        return self._dict == (other._dict if isinstance(other, ObservedDict) else other)

    def __len__(self) -> int:
        return len(self._dict)

    def __iter__(self):
        return iter(self._dict)

    def __getitem__(self, key):
        return self._dict[key]

    def __setitem__(self, key, value) -> None:
        self._dict[key] = value
        self._save()

    def __delitem__(self, key) -> None:
        del self._dict[key]
        self._save()


@parameterNodeSerializer
class ListSerializer(Serializer):
    """list[T] (bare list is list[Any]); a failed write puts the old list back."""

    @staticmethod
    def canSerialize(type_) -> bool:
        return typing.get_origin(type_) is list or type_ is list

    @staticmethod
    def create(type_):
        if not ListSerializer.canSerialize(type_):
            return None
        args = typing.get_args(type_)
        if len(args) != 1:
            logging.warning("Unexpected list[] type arg length")
        return ListSerializer(createSerializerFromAnnotatedType(args[0] if args else typing.Any))

    def __init__(self, elementSerializer: Serializer) -> None:
        self._elementSerializer = elementSerializer
        self._lenSerializer = NumberSerializer(int)

    def default(self):
        return []

    def isIn(self, parameterNode, name: str) -> bool:
        return self._lenSerializer.isIn(parameterNode, f"{name}.len")

    def _len(self, parameterNode, name: str) -> int:
        return self._lenSerializer.read(parameterNode, f"{name}.len") if self.isIn(parameterNode, name) else 0

    def write(self, parameterNode, name: str, values) -> None:
        with slicer.util.NodeModify(parameterNode):
            oldValues = self.read(parameterNode, name) if self.isIn(parameterNode, name) else None
            oldLen, values = self._len(parameterNode, name), list(values)
            try:
                for index, value in enumerate(values):
                    self._elementSerializer.write(parameterNode, f"{name}.{index}", value)
                self._lenSerializer.write(parameterNode, f"{name}.len", len(values))
                for index in range(len(values), oldLen):
                    self._elementSerializer.remove(parameterNode, f"{name}.{index}")
            except Exception:
                if oldValues is None:
                    self.remove(parameterNode, name)
                else:
                    self.write(parameterNode, name, oldValues)
                raise

    def read(self, parameterNode, name: str) -> ObservedList:
        values = [self._elementSerializer.read(parameterNode, f"{name}.{index}")
                  for index in range(self._len(parameterNode, name))]
        return ObservedList(parameterNode, self, name, values)

    def remove(self, parameterNode, name: str) -> None:
        with slicer.util.NodeModify(parameterNode):
            for index in range(self._len(parameterNode, name)):
                self._elementSerializer.remove(parameterNode, f"{name}.{index}")
            self._lenSerializer.remove(parameterNode, f"{name}.len")

    def supportsCaching(self) -> bool:
        return self._elementSerializer.supportsCaching()


@parameterNodeSerializer
class TupleSerializer(Serializer):
    """tuple[A, B, ...] with a fixed length; read back as a plain tuple."""

    @staticmethod
    def canSerialize(type_) -> bool:
        return typing.get_origin(type_) is tuple

    @staticmethod
    def create(type_):
        if not TupleSerializer.canSerialize(type_):
            return None
        args = typing.get_args(type_)
        if not args:
            raise Exception("Unsure how to handle a typed tuple with no discernible type")
        return TupleSerializer([createSerializerFromAnnotatedType(arg) for arg in args])

    def __init__(self, serializers: list) -> None:
        self._serializers = serializers

    def default(self):
        # a generator, as Slicer's: a Default made from it is used up by the first parameter node it fills
        return (s.default() for s in self._serializers)

    def isIn(self, parameterNode, name: str) -> bool:
        return self._serializers[0].isIn(parameterNode, f"{name}.0")

    def write(self, parameterNode, name: str, values) -> None:
        values = tuple(values)
        if len(values) != len(self._serializers):
            raise ValueError("Unexpected number of tuple values")
        with slicer.util.NodeModify(parameterNode):
            for index, (value, serializer) in enumerate(zip(values, self._serializers)):
                serializer.write(parameterNode, f"{name}.{index}", value)

    def read(self, parameterNode, name: str) -> tuple:
        return tuple(s.read(parameterNode, f"{name}.{index}") for index, s in enumerate(self._serializers))

    def remove(self, parameterNode, name: str) -> None:
        with slicer.util.NodeModify(parameterNode):
            for index, serializer in enumerate(self._serializers):
                serializer.remove(parameterNode, f"{name}.{index}")

    def supportsCaching(self) -> bool:
        return all(s.supportsCaching() for s in self._serializers)


@parameterNodeSerializer
class DictSerializer(Serializer):
    """dict[K, V] (bare dict is dict[Any, Any]), in insertion order, as a list of (key, value) tuples."""

    @staticmethod
    def canSerialize(type_) -> bool:
        return typing.get_origin(type_) is dict or type_ is dict

    @staticmethod
    def create(type_):
        if not DictSerializer.canSerialize(type_):
            return None
        args = typing.get_args(type_) or (typing.Any, typing.Any)
        if len(args) != 2:
            raise Exception("Unsure how to handle a typed dictionary without exactly 0 or 2 types."
                            " Note that zero types will be dict[typing.Any, typing.Any]")
        return DictSerializer(*map(createSerializerFromAnnotatedType, args))

    def __init__(self, keySerializer: Serializer, valueSerializer: Serializer) -> None:
        self._serializer = ListSerializer(TupleSerializer([keySerializer, valueSerializer]))

    def default(self):
        return {}

    def isIn(self, parameterNode, name: str) -> bool:
        return self._serializer.isIn(parameterNode, name)

    def write(self, parameterNode, name: str, dictionary) -> None:
        self._serializer.write(parameterNode, name, dictionary.items())

    def read(self, parameterNode, name: str) -> ObservedDict:
        return ObservedDict(parameterNode, self, name, dict(self._serializer.read(parameterNode, name)))

    def remove(self, parameterNode, name: str) -> None:
        self._serializer.remove(parameterNode, name)

    def supportsCaching(self) -> bool:
        return self._serializer.supportsCaching()
