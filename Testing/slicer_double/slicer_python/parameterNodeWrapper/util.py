"""Annotation helpers, as in Slicer's parameterNodeWrapper/util.py."""
from __future__ import annotations

import typing

import slicer

__all__ = ["findFirstAnnotation", "getNodeTypes", "isNodeOrUnionOfNodes", "splitAnnotations", "unannotatedType"]


_MARKER = "splitAnnotations"


def splitAnnotations(possiblyAnnotatedType) -> tuple:
    """(type, annotations). Like Slicer, this goes through Annotated[type, marker], whose construction typing
    caches by equality: a Union equal to one split before (same members, any order) comes back with the
    member order seen first, and that order decides where a Union value is stored (`name.<index>`)."""
    actualType, *annotations, _marker = typing.get_args(typing.Annotated[possiblyAnnotatedType, _MARKER])
    return actualType, tuple(annotations)



def unannotatedType(possiblyAnnotatedType):
    return splitAnnotations(possiblyAnnotatedType)[0]


def findFirstAnnotation(annotationsList, annotationType):
    """The first annotation that is an instance of annotationType, or None."""
    return next((a for a in annotationsList if isinstance(a, annotationType)), None)


def splitPossiblyDottedName(name: str) -> tuple[str, str | None]:
    """"x.y.z" -> ("x", "y.z"); "x" -> ("x", None)."""
    top, _, rest = name.partition(".")
    return top, rest or None


def _isNodeClass(type_) -> bool:
    return isinstance(type_, type) and issubclass(type_, slicer.vtkMRMLNode)


def isNodeOrUnionOfNodes(datatype) -> bool:
    """A node class, or a Union whose members are all node classes or None (None is not required)."""
    underlying = unannotatedType(datatype)
    if _isNodeClass(underlying):
        return True
    if typing.get_origin(underlying) is typing.Union:
        return all(arg is type(None) or _isNodeClass(arg)
                   for arg in map(unannotatedType, typing.get_args(underlying)))
    return False


def getNodeTypes(datatype) -> tuple[str, ...]:
    """The MRML class names of a node class or of the node classes of a Union (a node combobox's nodeTypes).
    Slicer asks an instance for its class name (GetClassName), so do we."""
    underlying = unannotatedType(datatype)
    if _isNodeClass(underlying):
        return (underlying().GetClassName(),)
    if typing.get_origin(underlying) is typing.Union:
        return tuple(arg().GetClassName() for arg in map(unannotatedType, typing.get_args(underlying))
                     if _isNodeClass(arg))
    raise TypeError(f"Cannot handle type {datatype}")
