"""course_lib: the models, losses, training loop, data, metrics, plots and widgets of the GAN course.

Nothing runs on import: import the submodule you need (``from course_lib import runtime``).
"""
__version__ = "0.1.0"
