"""Validators (invariants on one parameter) and Default, as in Slicer's parameterNodeWrapper/validators.py and
default.py. Messages and exception types are Slicer's: ValueError, except IsInstance which raises TypeError."""
from __future__ import annotations

import abc

__all__ = ["Default", "Validator", "NotNone", "IsInstance", "WithinRange", "Minimum", "Maximum", "Choice", "Exclude",
           "RangeBounds"]


class Default:
    """A parameter's default: a value, or a generator called each time the default is asked for."""

    def __init__(self, value=None, *, generator=None) -> None:
        self._value = value
        self._generator = generator

    @property
    def value(self):
        return self._generator() if self._generator else self._value

    def __repr__(self) -> str:
        return f"Default(value={self._value}, generator={self._generator})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Default) and (self._value, self._generator) == (other._value, other._generator)


def extractDefault(annotations) -> tuple[Default | None, list]:
    """(the Default annotation or None, the other annotations); two Defaults is an error."""
    defaults = [a for a in annotations if isinstance(a, Default)]
    if len(defaults) > 1:
        raise Exception("Multiple defaults found")
    return (defaults[0] if defaults else None), [a for a in annotations if not isinstance(a, Default)]


class Validator(abc.ABC):
    """Base of all validators; validate raises (ValueError recommended) when a value is not allowed."""

    @abc.abstractmethod
    def validate(self, value) -> None:
        raise NotImplementedError("validate is not implemented")


def extractValidators(annotations) -> tuple[list, list]:
    """(validators, other annotations); a Validator class counts as a validator too."""
    def isValidator(a) -> bool:
        return isinstance(a, Validator) or (isinstance(a, type) and issubclass(a, Validator))
    return [a for a in annotations if isValidator(a)], [a for a in annotations if not isValidator(a)]


class IsNone(Validator):
    """Only None (the None member of a Union); not exported, as in Slicer."""

    def __repr__(self) -> str:
        return "IsNone()"

    def validate(self, value) -> None:
        if value is not None:
            raise ValueError("Value must be None")


class NotNone(Validator):
    def __repr__(self) -> str:
        return "NotNone()"

    def validate(self, value) -> None:
        if value is None:
            raise ValueError("Value must not be None")


class IsInstance(Validator):
    """isinstance(value, classtype), None passing: node fields accept None through this."""

    def __init__(self, classtype) -> None:
        self.classtype = classtype

    def __repr__(self) -> str:
        return f"IsInstance({self.classtype})"

    def validate(self, value) -> None:
        if value is not None and not isinstance(value, self.classtype):
            raise TypeError(f"Value must be of type '{self.classtype}', is type '{type(value)}' value '{value}'")


class WithinRange(Validator):
    """minimum <= value <= maximum."""

    def __init__(self, minimum, maximum) -> None:
        self.minimum, self.maximum = minimum, maximum

    def __repr__(self) -> str:
        return f"WithinRange({self.minimum}, {self.maximum})"

    def validate(self, value) -> None:
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"Value must be within range [{self.minimum}, {self.maximum}], is {value}")


class Minimum(Validator):
    def __init__(self, minimum) -> None:
        self.minimum = minimum

    def __repr__(self) -> str:
        return f"Minimum({self.minimum})"

    def validate(self, value) -> None:
        if value < self.minimum:
            raise ValueError(f"Value must be greater than {self.minimum}, is {value}")


class Maximum(Validator):
    def __init__(self, maximum) -> None:
        self.maximum = maximum

    def __repr__(self) -> str:
        return f"Maximum({self.maximum})"

    def validate(self, value) -> None:
        if value > self.maximum:
            # Slicer's wording, "greater" included
            raise ValueError(f"Value must be greater than {self.maximum}, is {value}")


class Choice(Validator):
    def __init__(self, choices) -> None:
        self.choices = choices

    def __repr__(self) -> str:
        return f"Choice({self.choices})"

    def validate(self, value) -> None:
        if value not in self.choices:
            raise ValueError(f"Value is {value}, but must be in one of the following: {self.choices}")


class Exclude(Validator):
    def __init__(self, excludedValues) -> None:
        self.excludedValues = excludedValues

    def __repr__(self) -> str:
        return f"Exclude({self.excludedValues})"

    def validate(self, value) -> None:
        if value in self.excludedValues:
            raise ValueError(f"Value is {value}, but must not be an excluded value: excluded values "
                             f"{self.excludedValues}")


class RangeBounds(Validator):
    """For range values (with .minimum and .maximum)."""

    def __init__(self, minimum, maximum) -> None:
        self.minimum, self.maximum = minimum, maximum

    def __repr__(self) -> str:
        return f"RangeBounds({self.minimum}, {self.maximum})"

    def validate(self, value) -> None:
        # Slicer's condition, precedence included: raises only when the lower bound fails and the upper holds
        if not self.minimum <= value.minimum and value.maximum <= self.maximum:
            raise ValueError(f"Range must be within the bound of [{self.minimum}, {self.maximum}], "
                             f"is [{value.minimum}, {value.maximum}]")
