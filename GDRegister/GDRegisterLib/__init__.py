"""GD Register's parts without widgets of their own, used by the module's widget and logic."""
