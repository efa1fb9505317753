"""The root of every exception spatialmw raises on purpose.

``except spatialmw.SpatialmwError`` catches any of them (a bad scene, SOFA or model file,
unusable settings, a failed fit, a missing peer) and nothing else, so a front end can show
its message as one line and still let a genuine bug surface as a traceback. Each subclass
keeps its historical second base (``ValueError`` or ``RuntimeError``), so existing
``except ValueError`` clauses keep working.
"""


class SpatialmwError(Exception):
    """Base class of spatialmw's own exceptions; the message is meant for the user."""
