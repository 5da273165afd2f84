"""One file per model family; each docstring cites its paper."""
