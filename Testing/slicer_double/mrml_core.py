"""The MRML scene and the node base classes of the double, on real VTK objects and events.

Class and method names are Slicer's (checked against api.json by Testing/test_slicer_double.py);
behaviour follows the C++ sources for the parts the GD modules use.
"""
from __future__ import annotations

import itertools

import vtk


class vtkMRMLNode(vtk.vtkObject):
    """Name, ID, attributes, node references and batched Modified events."""

    def __init__(self) -> None:
        super().__init__()
        self._id = ""
        self._name = ""
        self._scene = None
        self._attributes: dict[str, str] = {}
        self._references: dict[str, list[str]] = {}
        self._singleton_tag = None
        self._hide = False
        self._disable_modified = 0
        self._pending = False

    def GetClassName(self) -> str:
        return type(self).__name__

    def IsA(self, name: str) -> int:
        return int(any(c.__name__ == name for c in type(self).__mro__) or super().IsA(name))

    def GetID(self) -> str:
        return self._id

    def GetName(self) -> str:
        return self._name

    def SetName(self, name: str) -> None:
        if name != self._name:
            self._name = name
            self.Modified()

    def GetScene(self):
        return self._scene

    def SetAttribute(self, name: str, value: str) -> None:
        self._attributes[name] = str(value)

    def GetAttribute(self, name: str):
        return self._attributes.get(name)

    def RemoveAttribute(self, name: str) -> None:
        self._attributes.pop(name, None)

    def GetAttributeNames(self) -> tuple[str, ...]:
        return tuple(self._attributes)

    def SetHideFromEditors(self, hide: int) -> None:
        self._hide = bool(hide)

    def GetHideFromEditors(self) -> int:
        return int(self._hide)

    def SetSingletonTag(self, tag: str) -> None:
        self._singleton_tag = tag

    def GetSingletonTag(self):
        return self._singleton_tag

    # node references: role -> list of node IDs
    def SetNodeReferenceID(self, role: str, node_id) -> None:
        self._references[role] = [node_id] if node_id else []
        self.Modified()

    SetAndObserveNodeReferenceID = SetNodeReferenceID

    def AddNodeReferenceID(self, role: str, node_id: str) -> None:
        self._references.setdefault(role, []).append(node_id)
        self.Modified()

    def GetNodeReferenceID(self, role: str):
        ids = self._references.get(role)
        return ids[0] if ids else None

    def GetNodeReference(self, role: str):
        node_id = self.GetNodeReferenceID(role)
        return self._scene.GetNodeByID(node_id) if node_id and self._scene else None

    def GetNumberOfNodeReferences(self, role: str) -> int:
        return len(self._references.get(role, []))

    def RemoveNodeReferenceIDs(self, role: str) -> None:
        self._references.pop(role, None)
        self.Modified()

    def HasNodeReferenceID(self, role: str, node_id: str) -> bool:
        return node_id in self._references.get(role, [])

    # StartModify/EndModify batch ModifiedEvents as in vtkMRMLNode
    def StartModify(self) -> int:
        self._disable_modified += 1
        return self._disable_modified - 1

    def EndModify(self, previous: int) -> int:
        self._disable_modified = previous
        if not previous and self._pending:
            self._pending = False
            super().Modified()
        return previous

    def Modified(self) -> None:
        if self._disable_modified:
            self._pending = True
        else:
            super().Modified()


class vtkMRMLScriptedModuleNode(vtkMRMLNode):
    """String parameters (what a parameterNodeWrapper serialises into)."""

    def __init__(self) -> None:
        super().__init__()
        self._parameters: dict[str, str] = {}
        self._module = ""

    def SetModuleName(self, name: str) -> None:
        self._module = name

    def GetModuleName(self) -> str:
        return self._module

    def SetParameter(self, name: str, value: str) -> None:
        if self._parameters.get(name) != str(value):
            self._parameters[name] = str(value)
            self.Modified()

    def GetParameter(self, name: str) -> str:
        return self._parameters.get(name, "")

    def HasParameter(self, name: str) -> bool:
        return name in self._parameters

    def UnsetParameter(self, name: str) -> None:
        if self._parameters.pop(name, None) is not None:
            self.Modified()

    def UnsetAllParameters(self) -> None:
        self._parameters.clear()
        self.Modified()

    def GetParameterNames(self) -> tuple[str, ...]:
        return tuple(self._parameters)

    def GetParameterCount(self) -> int:
        return len(self._parameters)


_SCENE_EVENTS = ("NodeAboutToBeAddedEvent", "NodeAddedEvent", "NodeAboutToBeRemovedEvent", "NodeRemovedEvent",
                 "StartCloseEvent", "EndCloseEvent")


class vtkMRMLScene(vtk.vtkObject):
    """Nodes by ID, unique names, singletons, and the add/remove/close events."""

    _classes: dict[str, type] = {}

    def __init__(self) -> None:
        super().__init__()
        self._nodes: dict[str, vtkMRMLNode] = {}
        self._counter = itertools.count(1)

    def GetClassName(self) -> str:
        return "vtkMRMLScene"

    @classmethod
    def _register(cls, node_class: type) -> type:
        cls._classes[node_class.__name__] = node_class
        return node_class

    def CreateNodeByClass(self, class_name: str):
        node_class = self._classes.get(class_name)
        return node_class() if node_class else None

    def AddNode(self, node: vtkMRMLNode):
        if node.GetSingletonTag():
            existing = self.GetSingletonNode(node.GetSingletonTag(), node.GetClassName())
            if existing is not None:
                return existing
        self.InvokeEvent(self.NodeAboutToBeAddedEvent)
        node._id = f"{node.GetClassName()}{next(self._counter)}"
        node._scene = self
        if not node.GetName():
            node.SetName(self.GenerateUniqueName(node.GetClassName().replace("vtkMRML", "").replace("Node", "")))
        self._nodes[node._id] = node
        self.InvokeEvent(self.NodeAddedEvent)
        return node

    def AddNewNodeByClass(self, class_name: str, name: str = ""):
        node = self.CreateNodeByClass(class_name)
        if node is None:
            return None
        if name:
            node.SetName(self.GenerateUniqueName(name) if self.GetFirstNodeByName(name) else name)
        return self.AddNode(node)

    def RemoveNode(self, node) -> None:
        if node is not None and node.GetID() in self._nodes:
            self.InvokeEvent(self.NodeAboutToBeRemovedEvent)
            del self._nodes[node.GetID()]
            node._scene = None
            self.InvokeEvent(self.NodeRemovedEvent)

    def GetNodeByID(self, node_id):
        return self._nodes.get(node_id)

    def _by_class(self, class_name: str) -> list:
        return [n for n in self._nodes.values() if n.IsA(class_name)]

    def GetFirstNodeByClass(self, class_name: str):
        nodes = self._by_class(class_name)
        return nodes[0] if nodes else None

    def GetNumberOfNodesByClass(self, class_name: str) -> int:
        return len(self._by_class(class_name))

    def GetNthNodeByClass(self, n: int, class_name: str):
        nodes = self._by_class(class_name)
        return nodes[n] if 0 <= n < len(nodes) else None

    def GetFirstNodeByName(self, name: str):
        return next((n for n in self._nodes.values() if n.GetName() == name), None)

    def GetNumberOfNodes(self) -> int:
        return len(self._nodes)

    def GetNthNode(self, n: int):
        nodes = list(self._nodes.values())
        return nodes[n] if 0 <= n < len(nodes) else None

    def GetSingletonNode(self, tag: str, class_name: str):
        return next((n for n in self._by_class(class_name) if n.GetSingletonTag() == tag), None)

    def GenerateUniqueName(self, base: str) -> str:
        if self.GetFirstNodeByName(base) is None:
            return base
        for i in itertools.count(1):
            if self.GetFirstNodeByName(f"{base}_{i}") is None:
                return f"{base}_{i}"

    def Clear(self, remove_singletons: int = 0) -> None:
        self.InvokeEvent(self.StartCloseEvent)
        for node in list(self._nodes.values()):
            if remove_singletons or not node.GetSingletonTag():
                self.RemoveNode(node)
        self.InvokeEvent(self.EndCloseEvent)


for _i, _event in enumerate(_SCENE_EVENTS):
    setattr(vtkMRMLScene, _event, vtk.vtkCommand.UserEvent + 0x2000 + _i)
vtkMRMLScene._register(vtkMRMLScriptedModuleNode)
